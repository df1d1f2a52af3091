#!/usr/bin/env bash
# qemu.sh: the one QEMU launcher used by `make run`, `make test` and `make bench`.
#
#   scripts/qemu.sh [--cmdline STR] [--smp N] [--mem SIZE] [--forward] [--timeout SEC]
#                   [--no-reboot] [--display] [--esp IMAGE] [-- EXTRA QEMU ARGS...]
#
# Boots build/esp.img on q35 + OVMF (read-only firmware code, a private writable copy of the
# variables) with the serial console on stdio and the isa-debug-exit device (the guest's
# selftest verdict becomes QEMU's exit status: 33 = pass, 35 = fail). --forward forwards
# 127.0.0.1:2323 -> guest 23 (telnet) and 127.0.0.1:8080 -> guest 80 (HTTP). --esp boots
# another EFI system partition image. Everything after `--` goes to QEMU unchanged, so any
# configuration can be booted by hand, for example
#   scripts/qemu.sh --smp 4 --mem 2G -- -machine q35,i8042=off
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmdline="" smp=2 mem=512M forward=0 timeout_s=0 noreboot=0 display=0 esp="$root/build/esp.img"
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    --cmdline) cmdline=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --forward) forward=1; shift ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --no-reboot) noreboot=1; shift ;;
    --display) display=1; shift ;;
    --esp) esp=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print } /^set /{ exit }' "$0"; exit 0 ;;
    *) echo "qemu.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done

[ -f "$esp" ] || { echo "qemu.sh: $esp is missing; run make esp first" >&2; exit 2; }
code=/usr/share/OVMF/OVMF_CODE_4M.fd
vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$code" ] || { echo "qemu.sh: OVMF not found at $code (apt-get install ovmf)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sabos-qemu.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$esp" "$work/esp.img"
cp "$vars" "$work/vars.fd"
printf '%s\n' "$cmdline" > "$work/cmdline.txt"
MTOOLS_SKIP_CHECK=1 mcopy -o -i "$work/esp.img" "$work/cmdline.txt" ::/sabos/cmdline.txt

netdev="user,id=net0"
if [ "$forward" = 1 ]; then
    # A host port already in use would make QEMU refuse to start: skip that forward instead.
    for pair in 2323:23 8080:80; do
        host=${pair%%:*} guest=${pair##*:}
        if (exec 3<>"/dev/tcp/127.0.0.1/$host") 2>/dev/null; then
            echo "qemu.sh: 127.0.0.1:$host is in use on this host; not forwarding it to guest port $guest" >&2
        else
            netdev="$netdev,hostfwd=tcp:127.0.0.1:$host-:$guest"
            echo "qemu.sh: host 127.0.0.1:$host is forwarded to guest port $guest" >&2
        fi
    done
    echo "qemu.sh: serial console here; Ctrl-A X quits QEMU, Ctrl-A C toggles the QEMU monitor" >&2
fi

args=(
    -machine q35 -cpu max -smp "$smp" -m "$mem"
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$code"
    -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd"
    -drive "if=none,id=esp,format=raw,file=$work/esp.img"
    -device ide-hd,drive=esp,bus=ide.0,bootindex=0
    -device isa-debug-exit,iobase=0xf4,iosize=0x04
    -netdev "$netdev" -device virtio-net-pci,netdev=net0,disable-legacy=on
    -device pci-bridge,id=bridge1,chassis_nr=1
    -device virtio-rng-pci,bus=bridge1,addr=0x3,disable-legacy=on
    -serial mon:stdio -no-user-config -nodefaults -vga std
)
[ "$display" = 1 ] || args+=(-display none)
[ "$noreboot" = 1 ] && args+=(-no-reboot)

rc=0
if [ "$timeout_s" != 0 ]; then
    timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 "${args[@]}" "${extra[@]}" || rc=$?
else
    qemu-system-x86_64 "${args[@]}" "${extra[@]}" || rc=$?
fi
exit $rc
