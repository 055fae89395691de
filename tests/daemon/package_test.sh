#!/bin/sh
# Builds the Debian package, installs it with dpkg, checks what it put where, runs the installed
# emberd as its unit would and queries it, then purges it. Run by ctest
# (label package):
#   package_test.sh BUILD_DIR
# Needs root and dpkg; skipped (77) without them, and when an ember package is already
# installed: this test never touches an installation it did not make.
set -eu
build=$1
if [ "$(id -u)" -ne 0 ]; then echo "debian_package: skipped: needs root (dpkg -i)"; exit 77; fi
if ! command -v dpkg >/dev/null 2>&1; then echo "debian_package: skipped: no dpkg"; exit 77; fi
if dpkg-query -W -f='${Status}' ember 2>/dev/null | grep -q "installed"; then
  echo "debian_package: skipped: a package named ember is already installed"
  exit 77
fi
if [ -e /etc/ember ]; then echo "debian_package: skipped: /etc/ember exists"; exit 77; fi

cleanup() { dpkg --purge ember >/dev/null 2>&1 || true; }
trap cleanup EXIT

rm -f "$build"/ember_*.deb
cmake --build "$build" --target package >"$build/package.log" 2>&1 || { cat "$build/package.log"; exit 1; }
deb=$(ls "$build"/ember_*.deb)
echo "package: $deb"
dpkg-deb --info "$deb" | grep -E "Package: ember|Depends:"
# libdebuginfod is loaded at run time, so the dependency is declared, not found by shlibdeps.
dpkg-deb --field "$deb" Depends | grep -q "libdebuginfod1" || { echo "FAIL: the package does not depend on libdebuginfod1"; exit 1; }
dpkg-deb --contents "$deb" >"$build/package.contents"

dpkg -i "$deb"
fail() { echo "FAIL: $*"; exit 1; }
for f in /usr/bin/ember /usr/sbin/emberd; do [ -x "$f" ] || fail "$f is missing or not executable"; done
for f in /usr/lib/systemd/system/emberd.service /etc/ember/emberd.toml /usr/share/doc/ember/copyright \
         /usr/share/doc/ember/README.emberd.md /usr/share/doc/ember/README.systemd.md; do
  [ -f "$f" ] || fail "$f is missing"
done
dpkg-query -W -f='${Conffiles}\n' ember | grep -q "/etc/ember/emberd.toml" || fail "emberd.toml is not a conffile"
/usr/sbin/emberd --check-config /etc/ember/emberd.toml >"$build/package.check" || fail "emberd --check-config /etc/ember/emberd.toml"
grep -q 'listen = "127.0.0.1:7070"' "$build/package.check" || fail "the installed configuration is not the default"
/usr/bin/ember --version | grep -q "ember" || fail "ember --version"
/usr/sbin/emberd --version | grep -q "emberd" || fail "emberd --version"

# The installed emberd, started as the unit starts it (ExecStart, the installed configuration), on
# an ephemeral port and a temporary store (PID 1 is not always systemd where tests run): it
# serves, writes snapshots, answers with a flamegraph and a pprof file that the installed ember
# reads, and SIGTERM stops it cleanly.
exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/emberd.service)
[ "$exec_start" = "/usr/sbin/emberd --config /etc/ember/emberd.toml" ] || fail "unexpected ExecStart: $exec_start"
store=$(mktemp -d)
$exec_start --listen 127.0.0.1:0 --data-dir "$store" --interval 1s >"$store.out" 2>"$store.err" &
emberd_pid=$!
cleanup() { kill -9 "$emberd_pid" 2>/dev/null || true; rm -rf "$store" "$store.out" "$store.err"; dpkg --purge ember >/dev/null 2>&1 || true; }
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^emberd: serving \(http:[^ ]*\)$/\1/p' "$store.out")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$store.err"; fail "the installed emberd did not announce its URL"; }
echo "installed emberd serving $url"
snapshots=0
for _ in $(seq 1 100); do
  snapshots=$(ls "$store" | grep -c '\.pb\.gz$' || true)
  [ "$snapshots" -ge 2 ] && break
  sleep 0.1
done
[ "$snapshots" -ge 2 ] || { cat "$store.err"; fail "the installed emberd wrote no snapshots"; }
curl -fsS "${url}healthz" | grep -q '"status"' || fail "/healthz"
curl -fsS -o "$store.svg" "${url}api/v1/flamegraph.svg?from=-5m" || fail "/api/v1/flamegraph.svg"
grep -q '<svg' "$store.svg" || fail "the flamegraph is not an SVG"
curl -fsS -o "$store.pb.gz" "${url}api/v1/profile.pb.gz?from=-5m" || fail "/api/v1/profile.pb.gz"
/usr/bin/ember report "$store.pb.gz" >"$store.report" || fail "the installed ember cannot read the installed emberd's pprof"
rm -f "$store.svg" "$store.pb.gz" "$store.report"
kill -TERM "$emberd_pid"
wait "$emberd_pid" || fail "the installed emberd did not exit cleanly on SIGTERM"
grep -q "emberd stopped" "$store.err" || fail "no 'emberd stopped' log line"
rm -rf "$store" "$store.out" "$store.err"
cleanup() { dpkg --purge ember >/dev/null 2>&1 || true; }

# A conffile outlives "remove" when edited, and goes with "purge".
echo "# edited by the administrator" >>/etc/ember/emberd.toml
dpkg -r ember
[ ! -e /usr/sbin/emberd ] || fail "emberd still installed after dpkg -r"
grep -q "edited by the administrator" /etc/ember/emberd.toml || fail "the edited conffile did not survive dpkg -r"
dpkg --purge ember
[ ! -e /etc/ember/emberd.toml ] || fail "the conffile survived dpkg --purge"
[ ! -e /usr/lib/systemd/system/emberd.service ] || fail "the unit survived dpkg --purge"
trap - EXIT
echo "debian_package: installed, checked, removed and purged"
