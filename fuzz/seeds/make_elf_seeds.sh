#!/usr/bin/env bash
# Writes the seed inputs of the ELF and DWARF fuzz targets from tiny.c (no libc, a few KiB each):
#   fuzz/seeds/make_elf_seeds.sh fuzz/corpus
set -euo pipefail
cd "$(dirname "$0")"
out=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(-O1 -nostdlib -static -fno-pie -no-pie -Wl,--build-id -Wl,-z,norelro -Wl,-n -fno-stack-protector)
gcc "${common[@]}" -g -gdwarf-5 tiny.c -o "$tmp/dwarf5"
gcc "${common[@]}" -g -gdwarf-4 -fno-asynchronous-unwind-tables tiny.c -o "$tmp/dwarf4"
gcc "${common[@]}" tiny.c -o "$tmp/symtab"
gcc -O1 -nostdlib -shared -fPIC -Wl,--build-id -Wl,-z,max-page-size=16 -Wl,-z,norelro -Wl,--hash-style=gnu tiny.c -o "$tmp/libtiny.so"
strip --strip-all "$tmp/libtiny.so" -o "$tmp/dynsym"
objcopy --only-keep-debug "$tmp/dwarf5" "$tmp/dwarf5.debug"
objcopy --only-keep-debug "$tmp/dwarf4" "$tmp/dwarf4.debug"
objcopy --compress-debug-sections=zlib "$tmp/dwarf5.debug" "$tmp/dwarf5z.debug"
mkdir -p "$out/elf_symbols" "$out/dwarf_info" "$out/line_table"
cp "$tmp/dwarf5" "$out/elf_symbols/dwarf5.elf"
cp "$tmp/symtab" "$out/elf_symbols/symtab.elf"
cp "$tmp/dynsym" "$out/elf_symbols/dynsym.so"
cp "$tmp/dwarf5.debug" "$tmp/dwarf4.debug" "$tmp/dwarf5z.debug" "$out/dwarf_info/"
# line_table: .debug_line, .debug_line_str, .debug_str, each after its 4-byte length.
for v in dwarf5 dwarf4; do
  for s in debug_line debug_line_str debug_str; do
    objcopy --dump-section ".$s=$tmp/$v.$s" "$tmp/$v" "$tmp/scratch" 2>/dev/null || :
    [[ -f "$tmp/$v.$s" ]] || : >"$tmp/$v.$s"  # DWARF 4 has no .debug_line_str
  done
  python3 - "$tmp/$v" "$out/line_table/$v.bin" <<'PY'
import struct, sys
base, out = sys.argv[1], sys.argv[2]
data = b""
for s in ("debug_line", "debug_line_str", "debug_str"):
    b = open(f"{base}.{s}", "rb").read()
    data += struct.pack("<I", len(b)) + b
open(out, "wb").write(data)
PY
done
ls -l "$out/elf_symbols" "$out/dwarf_info" "$out/line_table"
