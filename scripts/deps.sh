#!/usr/bin/env bash
# deps.sh: installs the Debian packages SABOS needs to build, boot and test. Idempotent and
# quiet when everything is present. Needs root (or sudo) only when something is missing.
set -euo pipefail
PKGS=(clang lld make gcc binutils gnu-efi ovmf qemu-system-x86 mtools dosfstools
      libcmocka-dev console-setup-linux expect procps fdisk qemu-utils musl-tools
      iproute2 dnsmasq-base busybox bind9-host iputils-ping python3 curl wrk telnet)
# The network tests (docs/network.md, "Test network"): ip netns/tuntap (iproute2), dnsmasq-base
# (DHCP, DNS, router advertisements; the -base package starts no system service), busybox
# (httpd), bind9-host (host), iputils-ping, python3 (tests/tools/tapprobe.py).
# tests/integration/net_guest.sh also uses unshare and flock (util-linux, always installed) and
# ss (iproute2). The services'
# tests (docs/userland.md): curl and wrk against httpd, Debian's telnet client against telnetd.
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
