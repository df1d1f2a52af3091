#!/usr/bin/env bash
# bench.sh: `make bench`. Boots SABOS a few times and prints a table of
#   - time from QEMU start to "kernel ready" on the serial console (host clock),
#   - time from kernel entry to ready, as the kernel measured it with the TSC,
#   - the kernel image size (file and loaded sections),
#   - from one more boot with `bench` on the command line (kernel/test/bench.c): task switch
#     time, wake-up latency (average and maximum) and timer interrupts per second when idle,
#   - from one more boot with the default command line, driven over the serial console by
#     scripts/netbench.exp: ping round trip, TCP throughput both ways and TCP connections per
#     second over QEMU user networking and over the TAP network of scripts/netns.sh; then,
#     from the host through the ports qemu.sh --forward forwards, the services: httpd
#     requests per second for a 1 KiB file with 1 and 32 connections (wrk), a 32 MiB download
#     from /9p (curl, SHA-256 checked) and the telnet command round trip (telnet + expect).
# Figures are measured, never asserted: nothing here fails on a timing.
# BENCH_NET_BYTES (default 32M) is what each TCP transfer moves; BENCH_NET_CONNS (default 200)
# the connections made one after the other.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${BENCH_RUNS:-3}
out=build/bench
mkdir -p "$out"
host_ms=() kern_ms=()
for i in $(seq 1 "$runs"); do
    log="$out/boot-$i.log"
    start=$(date +%s%N)
    # Stop QEMU as soon as the ready line appears; record when it did.
    ready_ns=""
    : > "$log"
    while IFS= read -r line; do
        line=${line%$'\r'}
        echo "$line" >> "$log"
        line=$(sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' <<<"$line")
        if [[ "$line" == "kernel ready in "* ]]; then
            ready_ns=$(date +%s%N)
            kern=$(sed -nE 's/^kernel ready in ([0-9.]+) ms.*/\1/p' <<<"$line")
            break
        fi
    done < <(bash scripts/qemu.sh --cmdline "poweroff" --no-reboot --timeout 300 2>&1)
    wait 2>/dev/null
    if [ -z "$ready_ns" ]; then
        echo "bench: run $i never reached 'kernel ready' (see $log)" >&2
        continue
    fi
    host_ms+=($(( (ready_ns - start) / 1000000 )))
    kern_ms+=("$kern")
done
# One more boot in the kernel's `bench` mode (kernel/test/bench.c): it prints
# "BENCH name value" lines (scheduler figures) and powers off.
bench_log="$out/bench-mode.log"
bash scripts/qemu.sh --cmdline "bench" --no-reboot --timeout 240 > "$bench_log" 2>&1
bench_rc=$?
[ "$bench_rc" = 33 ] || echo "bench: the bench-mode boot ended with status $bench_rc (33 expected; see $bench_log)" >&2
bench_value() { # the value of one BENCH line, or "-"
    local v
    v=$(tr -d '\r' < "$bench_log" | sed -nE "s/^(\[ *[0-9]+\.[0-9]+\] )?BENCH $1 ([0-9]+)\$/\2/p" | tail -1)
    echo "${v:--}"
}
ns_to_us() { # integer nanoseconds to microseconds with 3 decimals
    [ "$1" = - ] && { echo -; return; }
    awk -v n="$1" 'BEGIN { printf "%.3f", n / 1000 }'
}
switch_ns=$(bench_value task_switch_ns)
wake_avg_us=$(ns_to_us "$(bench_value wake_latency_ns_avg)")
wake_max_us=$(ns_to_us "$(bench_value wake_latency_ns_max)")
idle_irqs=$(bench_value idle_timer_irqs_per_s)
idle_permille=$(bench_value idle_permille)
idle_pct=-
[ "$idle_permille" != - ] && idle_pct=$(awk -v p="$idle_permille" 'BEGIN { printf "%.1f", p / 10 }')

stats() { # min median max of the arguments
    printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "-", "-", "-"; exit} printf "%s %s %s\n", a[1], a[int((NR+1)/2)], a[NR]}'
}
read -r hmin hmed hmax <<<"$(stats "${host_ms[@]}")"
read -r kmin kmed kmax <<<"$(stats "${kern_ms[@]}")"
file_kib=$(( $(stat -c %s build/kernel.elf) / 1024 ))
loaded_kib=$(size -A build/kernel.elf | awk '$1 ~ /^\.(text|rodata|data|bss)$/ {s += $2} END {printf "%d", s / 1024}')
text_kib=$(size -A build/kernel.elf | awk '$1 == ".text" {printf "%d", $2 / 1024}')
printf '\n%-44s %10s %10s %10s\n' "measure ($runs boots, TCG)" min median max
printf '%-44s %10s %10s %10s\n' "QEMU start to kernel ready (ms, host clock)" "$hmin" "$hmed" "$hmax"
printf '%-44s %10s %10s %10s\n' "kernel entry to ready (ms, TSC)" "$kmin" "$kmed" "$kmax"
printf '%-44s %10s\n' "kernel image loaded size (KiB)" "$loaded_kib"
printf '%-44s %10s\n' "kernel .text (KiB)" "$text_kib"
printf '%-44s %10s\n' "kernel.elf file size with symbols (KiB)" "$file_kib"
printf '\n%-44s %21s\n' "scheduler (one boot in bench mode, TCG)" value
printf '%-44s %21s\n' "task switch (ns)" "$switch_ns"
printf '%-45s %21s\n' "wake-up latency avg / max (µs)" "$wake_avg_us / $wake_max_us" # µs is 2 bytes, 1 column
printf '%-44s %21s\n' "idle timer interrupts per second" "$idle_irqs"
printf '%-44s %21s\n' "idle task share of that second (%)" "$idle_pct"

printf '\n%-44s %10s %10s %10s\n' "storage (same boot; 1 MiB requests)" "read MB/s" "write MB/s" "4K rd IOPS"
for dev in vda sda nvme0n1; do
    printf '%-44s %10s %10s %10s\n' "$dev" "$(bench_value "blk_${dev}_seq_read_mbps")" \
        "$(bench_value "blk_${dev}_seq_write_mbps")" "$(bench_value "blk_${dev}_rand_read_iops")"
done

printf '\n%-44s %10s %10s %10s %10s\n' "files (same boot; 32 MiB file, 4 KiB files)" "read MB/s" "write MB/s" "create/s" "delete/s"
for fs in fs_fat32_vda fs_9p; do
    label=$([ "$fs" = fs_9p ] && echo "/9p (virtio-9p share)" || echo "/ (FAT32 on virtio-blk)")
    printf '%-44s %10s %10s %10s %10s\n' "$label" "$(bench_value "${fs}_read_mbps")" "$(bench_value "${fs}_write_mbps")" \
        "$(bench_value "${fs}_small_create_per_s")" "$(bench_value "${fs}_small_delete_per_s")"
done

# User space: the same /bin/ubench binary in the guest (bench boot above) and on this host.
host_ubench=$(build/user/bin/ubench build/user/bin/hellostd 2>/dev/null || true)
host_value() { # the value of one BENCH line of the host run, or "-"
    local v
    v=$(sed -nE "s/^BENCH $1 ([0-9]+)\$/\1/p" <<<"$host_ubench" | tail -1)
    echo "${v:--}"
}
printf '\n%-44s %10s %10s\n' "user space (musl programs; same boot)" SABOS "host Linux"
printf '%-44s %10s %10s\n' "getpid round trip (ns)" "$(bench_value getpid_ns)" "$(host_value getpid_ns)"
printf '%-44s %10s %10s\n' "fork + exit + wait (us)" "$(bench_value fork_exit_wait_us)" "$(host_value fork_exit_wait_us)"
printf '%-44s %10s %10s\n' "execve of hellostd (us)" "$(bench_value execve_hellostd_us)" "$(host_value execve_hellostd_us)"
printf '%-44s %10s %10s\n' "fork + execve hellostd + wait (us)" "$(bench_value fork_execve_wait_us)" "$(host_value fork_execve_wait_us)"
printf '%-44s %10s %10s\n' "pipe throughput, 64 KiB writes (MB/s)" "$(bench_value pipe_mbps)" "$(host_value pipe_mbps)"
printf '%-44s %10s %10s\n' "IPC round trip (us)" "$(bench_value ipc_rtt_us)" "-"

# Network: one boot with eth0 on user networking and, when this host can, eth1 on the TAP
# network (root, /dev/net/tun, scripts/netns.sh). Only one QEMU may hold the TAP device, so
# that boot holds /tmp/sabos-tap.lock (its QEMU and tcpsinks inherit the descriptor); the
# namespace is taken down again only when this script brought it up.
net_bytes=${BENCH_NET_BYTES:-32M}
net_conns=${BENCH_NET_CONNS:-200}
net_log="$out/net.log"
tap_reason="" netns_made=0 tap_lock=""
if [ "$(id -u)" != 0 ]; then
    tap_reason="not root (a TAP device and a network namespace need CAP_NET_ADMIN)"
elif [ ! -c /dev/net/tun ]; then
    tap_reason="/dev/net/tun is missing (no TUN/TAP support in this kernel or container)"
else
    exec {tap_lock}>/tmp/sabos-tap.lock
    if ! flock -w 900 "$tap_lock"; then
        tap_reason="/tmp/sabos-tap.lock stayed busy for 15 minutes (another TAP boot)"
    elif ! bash scripts/netns.sh status >/dev/null 2>&1; then
        # (The namespace's dnsmasq must not inherit the lock.)
        if up_msg=$(bash scripts/netns.sh up 2>&1 {tap_lock}>&-); then
            netns_made=1
        else
            tap_reason="scripts/netns.sh up failed: $(tail -1 <<<"$up_msg")"
        fi
    fi
fi
[ -n "$tap_reason" ] && echo "bench: TAP network rows not measured: $tap_reason" >&2
net_args=(--bytes "$net_bytes" --conns "$net_conns")
[ -z "$tap_reason" ] && net_args+=(--tap sabostap0)
expect scripts/netbench.exp "${net_args[@]}" > "$net_log"
net_rc=$?
[ "$net_rc" = 0 ] || echo "bench: the network boot ended with status $net_rc (see $out/net.transcript)" >&2
[ "$netns_made" = 1 ] && bash scripts/netns.sh down >/dev/null
[ -n "$tap_lock" ] && exec {tap_lock}>&-
net_value() { # the value of one BENCH line of the network boot, or "-"
    local v
    v=$(sed -nE "s/^BENCH $1 ([0-9./]+)\$/\1/p" "$net_log" | tail -1)
    echo "${v:--}"
}
net_size=$(sed -E 's/^([0-9]+)([KMG])$/\1 \2iB/; s/^([0-9]+)$/\1 bytes/' <<<"$net_bytes")
printf '\n%-44s %10s %10s %21s %8s\n' "network (one boot, TCG; $net_size per transfer)" "to host" "from host" "ping rtt min/avg/max" "conn"
printf '%-44s %10s %10s %21s %8s\n' "" "MB/s" "MB/s" "ms" "per s"
for net in user tap; do
    label=$([ "$net" = user ] && echo "user net (eth0 -> 10.0.2.2, host loopback)" || echo "TAP (eth1 -> 10.0.9.1, Linux in a netns)")
    printf '%-44s %10s %10s %21s %8s\n' "$label" "$(net_value "net_${net}_put_mbps")" "$(net_value "net_${net}_get_mbps")" \
        "$(net_value "net_${net}_ping_ms")" "$(net_value "net_${net}_conn_per_s")"
done

printf '\n%-44s %21s %8s\n' "services (same boot; wrk over TAP if present)" value errors
printf '%-44s %21s %8s\n' "httpd 1 KiB file, 1 connection (requests/s)" "$(net_value svc_http_1k_c1_rps)" \
    "$(net_value svc_http_1k_c1_errors)"
printf '%-44s %21s %8s\n' "httpd 1 KiB file, 32 connections (req/s)" "$(net_value svc_http_1k_c32_rps)" \
    "$(net_value svc_http_1k_c32_errors)"
printf '%-44s %21s\n' "httpd 32 MiB download from /9p (MB/s)" "$(net_value svc_http_32m_mbps)"
printf '%-44s %21s\n' "telnet round trip min/median/max (ms)" "$(net_value svc_telnet_rtt_ms)"
