#!/usr/bin/env bash
# mkdisks.sh OUTDIR LOADER KERNEL: builds every disk image the launcher attaches, without
# root (mkfs.fat, mtools, sfdisk on plain files):
#   disk0.img     64 MiB, FAT32 in the first 56 MiB: the boot disk (loader, kernel, test
#                 files) and the future root; the last 8 MiB hold the storage test region
#   ahci.img      64 MiB, the same layout (AHCI disk)
#   nvme.img      64 MiB, the same layout (NVMe namespace 1)
#   part-mbr.img  16 MiB with an MBR: 2 partitions
#   part-gpt.img  16 MiB with a GPT: 3 named partitions
#   cd.iso        a small CD image for the "CD inserted" boot test
set -euo pipefail
out=$1 loader=$2 kernel=$3
blktool="$out/blktool"
export MTOOLS_SKIP_CHECK=1

fat_disk() { # IMAGE LABEL
    local img=$1 tmp="$1.tmp"
    rm -f "$tmp"
    truncate -s 64M "$tmp"
    mkfs.fat -F 32 -s 1 -n "$2" "$tmp" 57344 >/dev/null 2>&1
    printf 'Hello from SABOS on %s\n' "$2" > "$tmp.hello"
    mcopy -i "$tmp" "$tmp.hello" ::/HELLO.TXT
    rm -f "$tmp.hello"
    "$blktool" fill "$tmp" >/dev/null
    mv "$tmp" "$img"
}

fat_disk "$out/disk0.img" SABOS
mmd -i "$out/disk0.img" ::/EFI ::/EFI/BOOT ::/sabos ::/tmp ::/dev ::/proc ::/ahci ::/nvme ::/9p
mcopy -i "$out/disk0.img" "$loader" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$out/disk0.img" "$kernel" ::/sabos/kernel.elf
fat_disk "$out/ahci.img" SABOSAHCI
fat_disk "$out/nvme.img" SABOSNVME

rm -f "$out/part-mbr.img" "$out/part-gpt.img"
truncate -s 16M "$out/part-mbr.img"
sfdisk -q "$out/part-mbr.img" <<'PARTS'
label: dos
start=2048, size=8192, type=c
start=10240, size=16384, type=83
PARTS
truncate -s 16M "$out/part-gpt.img"
sfdisk -q "$out/part-gpt.img" <<'PARTS'
label: gpt
start=2048, size=4096, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="alpha"
start=6144, size=8192, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="beta"
start=14336, size=2048, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="gamma"
PARTS

rm -f "$out/cd.iso"
truncate -s 1M "$out/cd.iso"
printf '\001CD001\001' | dd of="$out/cd.iso" bs=1 seek=32768 conv=notrunc status=none
