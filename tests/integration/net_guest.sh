#!/usr/bin/env bash
# net_guest.sh: the guest's network over real networks (issue 7, Done-when 1, 2, 3 and 5;
# docs/testing.md, "The guest on the network"). Prepares the host side, then runs
# tests/integration/net_guest.exp, which boots SABOS with init and tsh on the serial console,
# QEMU user networking on eth0 (DNS forwarded to scripts/usernet.sh's 127.0.0.1:53 through
# `qemu.sh --host-dns 127.0.0.1`) and the TAP network of scripts/netns.sh on eth1, and drives
# tsh: DHCP, SLAAC, DNS, ping, selftest_net, TCP transfers against Linux (tcpsink in the
# namespace, tcpxfer in the guest, with and without injected faults), 200 concurrent
# connections, two listeners accepting while a third connection goes out.
#
# Needs root and /dev/net/tun (network namespace, TAP device): without them every part fails
# with the reason, nothing is skipped. The whole run holds /tmp/sabos-tap.lock (only one QEMU
# can own the TAP device). The TAP network and the user-network servers are left as they
# were found: what this script had to start, it stops again. Every process it or the expect
# script starts (tcpsink in the namespace, QEMU) is ended on every exit path.
#
# Prints "[PASS] net_guest.NAME" / "[FAIL] net_guest.NAME: why" lines, "net_guest: time ..."
# lines (how long each step took; figures, never assertions) and, last,
# "net_guest: N passed, M failed". Exit status 0 only when everything passed. The serial
# transcript is build/test/net-guest.transcript, the tcpsink logs are in build/test/net-guest/.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

# A failure before the guest boots: one FAIL line with the reason and the summary.
early_fail() {
    echo "[FAIL] net_guest.$1: $2"
    echo "net_guest: 0 passed, 1 failed"
    exit 1
}

[ "$(id -u)" -eq 0 ] || early_fail preflight "needs root (network namespace, TAP device, ip netns exec); run as root"
[ -c /dev/net/tun ] || early_fail preflight "/dev/net/tun is missing: no TUN/TAP support here (modprobe tun, or give the container --device /dev/net/tun)"
work="$root/build/test/net-guest"
rm -rf "$work"
mkdir -p "$work"
for c in ip dnsmasq busybox expect flock unshare ss; do
    command -v "$c" >/dev/null || early_fail preflight "$c is missing (run scripts/deps.sh)"
done
for f in build/tcpsink build/user/bin/tcpxfer build/user/bin/selftest_net build/disk0.img; do
    [ -e "$f" ] || early_fail preflight "$f is missing (run make images)"
done

pidfile="$work/pids"      # processes net_guest.exp started on the host (tcpsink)
: > "$pidfile"
netns_was_up=0 usernet_was_up=0
cleanup() {
    local pid
    while read -r pid; do
        [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -q tcpsink "/proc/$pid/comm" 2>/dev/null && kill "$pid" 2>/dev/null
    done < "$pidfile"
    [ "$usernet_was_up" = 1 ] || bash scripts/usernet.sh down >/dev/null 2>&1
    [ "$netns_was_up" = 1 ] || bash scripts/netns.sh down >/dev/null 2>&1
}

# Everything below runs under the TAP lock: the network's state, the boot, the servers.
exec 8> /tmp/sabos-tap.lock
if ! flock -n 8; then
    echo "net_guest.sh: waiting for /tmp/sabos-tap.lock (another QEMU uses the TAP network)" >&2
    flock -w 1800 8 || early_fail preflight "/tmp/sabos-tap.lock still held after 30 minutes"
fi
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
bash scripts/netns.sh status >/dev/null 2>&1 && netns_was_up=1
bash scripts/usernet.sh status >/dev/null 2>&1 && usernet_was_up=1
msg=$(bash scripts/netns.sh up 2>&1) || early_fail tap_network "scripts/netns.sh up failed: $msg"
msg=$(bash scripts/usernet.sh up 2>&1) || early_fail user_network "scripts/usernet.sh up failed: $msg"
grep -q "127.0.0.1:53" <<<"$msg" || early_fail user_network "no DNS server on 127.0.0.1:53 for QEMU's forwarder: $msg"

NET_GUEST_DIR="$work" NET_GUEST_PIDS="$pidfile" expect -f tests/integration/net_guest.exp
