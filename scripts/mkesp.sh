#!/usr/bin/env bash
# mkesp.sh OUT LOADER KERNEL: builds the EFI system partition image without root (mtools).
# Layout: \EFI\BOOT\BOOTX64.EFI (the loader, found by OVMF as removable media),
# \sabos\kernel.elf, \sabos\cmdline.txt (empty; the launcher writes its own copy per boot).
set -euo pipefail
out=$1 loader=$2 kernel=$3
tmp="$out.tmp"
rm -f "$tmp"
mkfs.fat -C -n SABOSESP "$tmp" 16384 >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$tmp" ::/EFI ::/EFI/BOOT ::/sabos
mcopy -i "$tmp" "$loader" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$tmp" "$kernel" ::/sabos/kernel.elf
printf '\n' > "$tmp.cmdline"
mcopy -i "$tmp" "$tmp.cmdline" ::/sabos/cmdline.txt
rm -f "$tmp.cmdline"
mv "$tmp" "$out"
