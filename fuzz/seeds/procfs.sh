#!/bin/sh
# Seeds for the procfs target: this machine's own /proc files, each after its selector byte
# (fuzz/procfs.cpp). Usage: fuzz/seeds/procfs.sh fuzz/corpus/procfs
set -eu
out=$1
mkdir -p "$out"
seed() {  # seed NAME SELECTOR-OCTAL FILE-OR-TEXT...
  name=$1 selector=$2
  shift 2
  { printf "\\$selector"; cat "$@"; } > "$out/$name"
}
seed stat 000 /proc/self/stat
seed status 001 /proc/self/status
seed io 002 /proc/self/io
seed maps 003 /proc/self/maps
printf '0::/system.slice/nginx.service\n' > "$out/.cgroup"
seed cgroup_service 004 "$out/.cgroup"
printf '0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-x.service\n' > "$out/.cgroup"
seed cgroup_user 004 "$out/.cgroup"
rm "$out/.cgroup"
seed cpus 005 /sys/devices/system/cpu/online
