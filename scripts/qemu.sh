#!/usr/bin/env bash
# qemu.sh: the one QEMU launcher used by `make run`, `make test` and `make bench`.
#
#   scripts/qemu.sh [--cmdline STR] [--smp N] [--mem SIZE] [--forward] [--forward-base PORT]
#                   [--timeout SEC] [--no-reboot] [--display] [--boot-disk IMAGE] [--disk-dir DIR]
#                   [--cdrom IMAGE] [--no-nvme] [--no-ahci] [--share DIR]
#                   [--tap NAME [--nic-model virtio|e1000e]] [--host-dns ADDR]
#                   [-- EXTRA QEMU ARGS...]
#
# Boots q35 + OVMF (read-only firmware code, a private writable copy of the variables) with
# the serial console on stdio and the isa-debug-exit device (the guest's selftest verdict
# becomes QEMU's exit status: 33 = pass, 35 = fail). The kernel command line travels as the
# fw_cfg file opt/sabos/cmdline. The disks, in every mode (docs/storage.md):
#   virtio-blk  vda = build/disk0.img (boot disk and future root), vdb = build/part-mbr.img,
#               vdc = build/part-gpt.img
#   AHCI        port 1 = build/ahci.img (sda), port 2 = the CD-ROM drive (empty, or --cdrom)
#   NVMe        namespace 1 = build/nvme.img (nvme0n1)
# Each run writes to copy-on-write overlays, so the images in build/ never change; with
# --disk-dir DIR the disks are raw copies kept in DIR (made on first use), so a test can read
# what the guest wrote. --no-ahci leaves every AHCI port empty (the CD-ROM drive too),
# --no-nvme attaches no NVMe controller. --boot-disk boots another image as vda.
# A host directory is shared over virtio-9p with the mount tag "sabos" (9P2000.L): by default
# the repository's build/ directory, so new programs run without rebuilding an image;
# --share DIR shares another one.
# --forward forwards 127.0.0.1:2323 -> guest 23 (telnet) and 127.0.0.1:8080 -> guest 80
# (HTTP); --forward-base PORT forwards 127.0.0.1:PORT -> 23 and 127.0.0.1:PORT+1 -> 80
# instead (for a test that must not meet another QEMU's forwards). The first NIC is always
# virtio-net on QEMU user networking (guest 10.0.2.15, the host's loopback is 10.0.2.2; MAC
# 52:54:00:12:34:56). --tap NAME adds a second NIC on an existing TAP device (scripts/netns.sh
# up makes sabostap0; docs/network.md), MAC 52:54:00:12:34:57, virtio-net unless --nic-model
# e1000e. --host-dns ADDR (root only) makes QEMU's DNS forwarder (guest 10.0.2.3:53, which
# asks the first nameserver of the host's /etc/resolv.conf) ask ADDR instead: QEMU runs in a
# private mount namespace (unshare -m) where a resolv.conf naming ADDR is bind-mounted over
# /etc/resolv.conf; the host's file is not touched (scripts/usernet.sh serves the test names
# on 127.0.0.1:53). Everything after `--` goes to QEMU unchanged, so any configuration can be
# booted by hand, for example
#   scripts/qemu.sh --smp 4 --mem 2G -- -machine q35,i8042=off
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmdline="" smp=2 mem=512M forward=0 forward_base="" timeout_s=0 noreboot=0 display=0
boot_disk="$root/build/disk0.img" disk_dir="" cdrom="" nvme=1 ahci=1 share="$root/build"
tap="" nic_model=virtio host_dns=""
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    --cmdline) cmdline=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --forward) forward=1; shift ;;
    --forward-base) forward=1 forward_base=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --no-reboot) noreboot=1; shift ;;
    --display) display=1; shift ;;
    --boot-disk|--esp) boot_disk=$2; shift 2 ;;
    --disk-dir) disk_dir=$2; shift 2 ;;
    --cdrom) cdrom=$2; shift 2 ;;
    --no-nvme) nvme=0; shift ;;
    --no-ahci) ahci=0; shift ;;
    --share) share=$2; shift 2 ;;
    --tap) tap=$2; shift 2 ;;
    --nic-model) nic_model=$2; shift 2 ;;
    --host-dns) host_dns=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print } /^set /{ exit }' "$0"; exit 0 ;;
    *) echo "qemu.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done

for img in "$boot_disk" "$root/build/part-mbr.img" "$root/build/part-gpt.img" "$root/build/ahci.img" "$root/build/nvme.img"; do
    [ -f "$img" ] || { echo "qemu.sh: $img is missing; run make images first" >&2; exit 2; }
done
case "$nic_model" in
virtio) nic_dev="virtio-net-pci,netdev=net1,disable-legacy=on" ;;
e1000e) nic_dev="e1000e,netdev=net1" ;;
*) echo "qemu.sh: --nic-model must be virtio or e1000e, not $nic_model" >&2; exit 2 ;;
esac
if [ -n "$tap" ]; then
    [ -e "/sys/class/net/$tap/tun_flags" ] || {
        echo "qemu.sh: no TAP device $tap on this host (run: sudo scripts/netns.sh up)" >&2; exit 2; }
fi
if [ -n "$host_dns" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "qemu.sh: --host-dns needs root (a private mount namespace)" >&2; exit 2; }
    command -v unshare >/dev/null || { echo "qemu.sh: --host-dns needs unshare (util-linux)" >&2; exit 2; }
    [[ $host_dns =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ || $host_dns =~ ^[0-9a-fA-F:]+$ ]] ||
        { echo "qemu.sh: --host-dns wants a numeric IPv4 or IPv6 address, not '$host_dns'" >&2; exit 2; }
fi
code=/usr/share/OVMF/OVMF_CODE_4M.fd
vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$code" ] || { echo "qemu.sh: OVMF not found at $code (apt-get install ovmf)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sabos-qemu.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$vars" "$work/vars.fd"
printf '%s' "$cmdline" > "$work/cmdline.txt"

# disk_arg NAME IMAGE: the -drive value for a disk: an overlay in $work, or a raw copy kept in
# --disk-dir.
disk_arg() {
    local name=$1 img=$2
    if [ -n "$disk_dir" ]; then
        mkdir -p "$disk_dir"
        [ -f "$disk_dir/$name.img" ] || cp --sparse=always "$img" "$disk_dir/$name.img"
        echo "if=none,id=$name,format=raw,file=$disk_dir/$name.img"
    else
        qemu-img create -q -f qcow2 -F raw -b "$(readlink -f "$img")" "$work/$name.qcow2"
        echo "if=none,id=$name,format=qcow2,file=$work/$name.qcow2"
    fi
}

netdev="user,id=net0"
if [ "$forward" = 1 ]; then
    # A host port already in use would make QEMU refuse to start: skip that forward instead.
    pairs="2323:23 8080:80"
    if [ -n "$forward_base" ]; then
        if ! [[ $forward_base =~ ^[0-9]{1,5}$ ]] || [ "$forward_base" -lt 1 ] || [ "$forward_base" -gt 65534 ]; then
            echo "qemu.sh: --forward-base wants a port number 1-65534, not '$forward_base'" >&2; exit 2
        fi
        pairs="$forward_base:23 $((forward_base + 1)):80"
    fi
    for pair in $pairs; do
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
    -fw_cfg "name=opt/sabos/cmdline,file=$work/cmdline.txt"
    -drive "$(disk_arg disk0 "$boot_disk")"
    -device virtio-blk-pci,drive=disk0,disable-legacy=on,ioeventfd=off,bootindex=0
    -drive "$(disk_arg partmbr "$root/build/part-mbr.img")"
    -device virtio-blk-pci,drive=partmbr,disable-legacy=on,ioeventfd=off
    -drive "$(disk_arg partgpt "$root/build/part-gpt.img")"
    -device virtio-blk-pci,drive=partgpt,disable-legacy=on,ioeventfd=off
    -device isa-debug-exit,iobase=0xf4,iosize=0x04
    -netdev "$netdev" -device virtio-net-pci,netdev=net0,disable-legacy=on
    -device pci-bridge,id=bridge1,chassis_nr=1
    -device virtio-rng-pci,bus=bridge1,addr=0x3,disable-legacy=on
    -serial mon:stdio -no-user-config -nodefaults -vga std
)
[ -d "$share" ] || { echo "qemu.sh: the shared directory $share does not exist" >&2; exit 2; }
args+=(-fsdev "local,id=share0,path=$share,security_model=none"
       -device virtio-9p-pci,fsdev=share0,mount_tag=sabos,disable-legacy=on)
if [ "$ahci" = 1 ]; then
    args+=(-drive "$(disk_arg ahci "$root/build/ahci.img")" -device ide-hd,drive=ahci,bus=ide.1)
    if [ -n "$cdrom" ]; then
        args+=(-drive "if=none,id=cd,media=cdrom,readonly=on,format=raw,file=$cdrom")
    else
        args+=(-drive "if=none,id=cd,media=cdrom")
    fi
    args+=(-device ide-cd,drive=cd,bus=ide.2)
fi
if [ "$nvme" = 1 ]; then
    args+=(-drive "$(disk_arg nvme "$root/build/nvme.img")" -device nvme,serial=SABOSNVME,drive=nvme)
fi
# Last, so that --tap shifts no other device's PCI address.
if [ -n "$tap" ]; then
    args+=(-netdev "tap,id=net1,ifname=$tap,script=no,downscript=no"
           -device "$nic_dev,mac=52:54:00:12:34:57")
fi
[ "$display" = 1 ] || args+=(-display none)
[ "$noreboot" = 1 ] && args+=(-no-reboot)

# The command that starts QEMU: directly, or (--host-dns) in its own mount namespace with its
# own resolv.conf; unshare and sh exec, so QEMU keeps the process id timeout watches.
launch=(qemu-system-x86_64)
if [ -n "$host_dns" ]; then
    printf '# scripts/qemu.sh --host-dns: what QEMU user networking forwards DNS to\nnameserver %s\n' \
        "$host_dns" > "$work/resolv.conf"
    launch=(unshare --mount --propagation private sh -c \
        'mount --bind "$0" /etc/resolv.conf && exec qemu-system-x86_64 "$@"' "$work/resolv.conf")
fi
rc=0
if [ "$timeout_s" != 0 ]; then
    timeout --foreground -k 5 "$timeout_s" "${launch[@]}" "${args[@]}" "${extra[@]}" || rc=$?
else
    "${launch[@]}" "${args[@]}" "${extra[@]}" || rc=$?
fi
exit $rc
