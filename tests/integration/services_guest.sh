#!/usr/bin/env bash
# services_guest.sh: telnetd and httpd on the real guest, started by init at boot, checked with
# Debian's clients on the host (issue 8, "Done when" 1-3; docs/userland.md "httpd", "telnetd",
# "init"). Boots build/disk0.img once with the default command line and the forwards of
# scripts/qemu.sh (127.0.0.1:2323 -> guest 23, 127.0.0.1:8080 -> guest 80; when another QEMU
# holds those, --forward-base with two free ports), the serial console on a pipe this script
# writes to and a log it reads (build/test/services-guest.console.log). Parts:
#   boot       init starts telnetd and httpd ("init: starting httpd", their listening lines).
#   telnet     the original's five through `telnet` driven by expect (services_guest.exp):
#              mkdir t / rmdir t, ls shows HELLO.TXT, cat HELLO.TXT, /9p/user/bin/selftest_net
#              against scripts/usernet.sh's servers (the DNS lookup -d only when port 53 is
#              served and qemu.sh has --host-dns; else left out, and said so), /9p hellostd;
#              the guest listens on 23, 2323, 80 and 8080.
#   concurrent 10 telnet sessions at once, each seeing only its own output, while curl
#              downloads 1 MiB files (3 loops) and the 32 MiB file, all checked by SHA-256.
#   http       curl: /test/1k.bin and /test/1m.bin from /www and build/test-data/32m.bin
#              through the 9P share (/9p/test-data/32m.bin), SHA-256 equal to the host's
#              copies; HEAD (headers, no body), Range (206 + Content-Range; 416),
#              If-Modified-Since (304), 404, 405 with Allow, a directory listing.
#   wrk        wrk -t 2 -c 32 -d 20s --timeout 10s on /test/1k.bin: no socket errors, no non-2xx,
#              then a normal answer. Over the TAP network (the guest's second NIC, 10.0.9.157 from
#              scripts/netns.sh's DHCP): QEMU's user networking accepts a forwarded connection
#              with a listen backlog of 1, so a burst of 32 connects waits out the host's SYN
#              retries (1, 3, 7, 15 s), which is slirp's limit, not the guest's. Needs root and
#              /dev/net/tun, like the network test; holds /tmp/sabos-tap.lock for the whole run.
#   hostile    services_guest.py hostile: malformed requests, a 1 MiB header, NUL bytes,
#              traversal, binary garbage, 500 silent connections (httpd's 10 s head timeout),
#              invalid telnet IAC sequences; both services still serve.
#   kill       on the console: ps (pids of telnetd and httpd; no telnet session left
#              behind), kill -9 of each: init reports it and the service answers on its
#              forwarded port again within 2 s (measured from the kill to the first answer).
# In the end: no service exit other than the two kills on the console, no kernel panic.
#
#   tests/integration/services_guest.sh [QEMU.SH OPTION...]   (e.g. --boot-disk COPY.img)
#
# Prints one "[PASS] services_guest.NAME" / "[FAIL] services_guest.NAME: why" line per check,
# the time of each part, and "services_guest: N passed, M failed"; exits 0 only when nothing
# failed. Logs in build/test/: services-guest.console.log (serial console),
# services-guest.transcript (telnet sessions), services-guest.wrk.txt. About 3 minutes.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
here=tests/integration
out=build/test
mkdir -p "$out"
console=$out/services-guest.console.log
: > "$out/services-guest.transcript"
npass=0 nfail=0
pass() { echo "[PASS] services_guest.$1"; npass=$((npass + 1)); }
fail() { echo "[FAIL] services_guest.$1: $2"; nfail=$((nfail + 1)); }
check() { if [ "$2" = 0 ]; then pass "$1"; else fail "$1" "$3"; fi; }
# tally TEXT: prints the [PASS]/[FAIL] lines of a helper and counts them.
tally() {
    [ -n "$1" ] && echo "$1"
    npass=$((npass + $(grep -c '^\[PASS\] ' <<<"$1")))
    nfail=$((nfail + $(grep -c '^\[FAIL\] ' <<<"$1")))
}
times=""
part_t0=0
part() { part_t0=$(date +%s); echo "services_guest: part $1"; }
part_done() {
    local dt=$(($(date +%s) - part_t0))
    times="$times $1 ${dt}s,"
    echo "services_guest: part $1 took ${dt} s"
}
finish() {
    echo "services_guest: part times:${times%,}"
    echo "services_guest: $npass passed, $nfail failed"
    exit $((nfail > 0))
}

# ---- prerequisites ----
for c in telnet curl wrk expect python3 sha256sum; do
    command -v "$c" >/dev/null || { fail prerequisites "$c is missing (scripts/deps.sh)"; finish; }
done
for f in build/disk0.img build/user/bin/selftest_net build/user/bin/hellostd build/user/www/test/1k.bin \
         build/user/www/test/1m.bin; do
    [ -f "$f" ] || { fail prerequisites "$f is missing (run make images)"; finish; }
done
sha() { sha256sum < "$1" | cut -d' ' -f1; }
# The 32 MiB file, in build/ (the 9P share, /9p in the guest).
big=build/test-data/32m.bin
if [ "$(stat -c %s "$big" 2>/dev/null)" != 33554432 ]; then
    mkdir -p build/test-data
    head -c 33554432 /dev/urandom > "$big.tmp" && mv "$big.tmp" "$big"
fi
sha_1k=$(sha build/user/www/test/1k.bin) sha_1m=$(sha build/user/www/test/1m.bin) sha_32m=$(sha "$big")

# ---- the servers selftest_net talks to (scripts/usernet.sh), stopped again only if started here ----
usernet_started=0
if ! bash scripts/usernet.sh status >/dev/null 2>&1; then
    bash scripts/usernet.sh up || { fail prerequisites "scripts/usernet.sh up failed"; finish; }
    usernet_started=1
fi
selftest_args=(-u http://10.0.2.2:8000/hello.txt -s '10.0.2.2#5353' -q test.sabos -p6 fec0::2)
qemu_dns=()
usernet_status=$(bash scripts/usernet.sh status)
if grep -q '^  up .*127\.0\.0\.1:53 ' <<<"$usernet_status" && grep -q -- '--host-dns' scripts/qemu.sh; then
    qemu_dns=(--host-dns 127.0.0.1)
    selftest_args+=(-d test.sabos)
else
    echo "services_guest: no DNS server on the host's port 53 for QEMU's forwarder (or no qemu.sh --host-dns):" \
        "selftest_net runs without its getaddrinfo check -d"
fi

# ---- ports: 2323 and 8080 when free, else two free ones ----
port_busy() { grep -qiE ":$(printf %04X "$1") [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
tport=2323 hport=8080 fwd=(--forward)
if port_busy $tport || port_busy $hport; then
    tport=$((30000 + $$ % 20000))
    while port_busy $tport || port_busy $((tport + 1)); do tport=$((tport + 2)); done
    hport=$((tport + 1)) fwd=(--forward-base "$tport")
    echo "services_guest: 127.0.0.1:2323 or :8080 is in use (another QEMU?): using $tport (telnet) and $hport (HTTP)"
fi
url="http://127.0.0.1:$hport"

# ---- the TAP network for wrk (scripts/netns.sh; stopped again only if started here) ----
tap=() netns_started=0 tap_url=http://10.0.9.157
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
    tap_why="the TAP network needs root and /dev/net/tun"
else
    exec 9> /tmp/sabos-tap.lock
    if ! flock -w 1800 9; then
        tap_why="/tmp/sabos-tap.lock still held after 30 minutes"
    elif ! bash scripts/netns.sh status >/dev/null 2>&1 && ! { bash scripts/netns.sh up >/dev/null && netns_started=1; }; then
        tap_why="scripts/netns.sh up failed"
    else
        tap=(--tap sabostap0) tap_why=""
    fi
fi

# ---- boot ----
qpid="" loadpids=() scratch=$(mktemp -d /tmp/services-guest.XXXXXX)
mkfifo "$scratch/console.in"
exec 7<>"$scratch/console.in" # the console's input: kept open here, written with console_send
stop_qemu() {
    [ -n "$qpid" ] || return 0
    printf '\001x' >&7 # QEMU's monitor escape: quit
    for _ in $(seq 100); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$qpid" 2>/dev/null; then
        local c
        for c in $(pgrep -P "$qpid"); do kill "$c" 2>/dev/null; done # timeout(1), which ends QEMU
    fi
    wait "$qpid" 2>/dev/null
    qpid=""
}
cleanup() {
    local p
    for p in "${loadpids[@]}"; do kill "$p" 2>/dev/null; done
    stop_qemu
    exec 7>&-
    [ "$usernet_started" = 1 ] && bash scripts/usernet.sh down >/dev/null 2>&1
    [ "$netns_started" = 1 ] && bash scripts/netns.sh down >/dev/null 2>&1
    rm -rf "$scratch"
}
trap cleanup EXIT
# The console log from byte offset $1 on, without CRs and kernel timestamps.
console_since() { tail -c +"$(($1 + 1))" "$console" | tr -d '\r' | sed -E 's/^\[ *[0-9]+\.[0-9]+\] //'; }
console_size() { stat -c %s "$console"; }
console_send() { printf '%s\r' "$1" >&7; }
# wait_console OFFSET LIMIT_S STRING...: waits until every fixed STRING is in the console after
# OFFSET; prints the first one missing at the deadline (or when QEMU has ended).
wait_console() {
    local off=$1 end=$(($(date +%s) + $2)) text s missing
    shift 2
    while :; do
        text=$(console_since "$off") missing=""
        for s in "$@"; do grep -qF -- "$s" <<<"$text" || { missing=$s; break; }; done
        [ -z "$missing" ] && return 0
        if [ "$(date +%s)" -ge $end ] || ! kill -0 "$qpid" 2>/dev/null; then echo "$missing"; return 1; fi
        sleep 0.1
    done
}

part boot
: > "$console"
bash scripts/qemu.sh "${fwd[@]}" "${qemu_dns[@]}" "${tap[@]}" --timeout 900 "$@" <&7 > "$console" 2>&1 &
qpid=$!
missing=$(wait_console 0 300 "qemu.sh: host 127.0.0.1:$tport is forwarded to guest port 23" \
    "qemu.sh: host 127.0.0.1:$hport is forwarded to guest port 80" "init: started" \
    "init: starting telnetd (pid" "init: starting httpd (pid" "telnetd: listening on port 23 (" \
    "telnetd: listening on port 2323 (" "httpd: serving /www on port 80 8080")
if [ -z "$missing" ]; then
    pass boot_init_starts_services
else
    fail boot_init_starts_services "never printed '$missing' (console: $console)"
    console_since 0 | tail -15 | sed 's/^/    /'
    part_done boot
    finish
fi
part_done boot

# ---- telnet: the original's five ----
part telnet
tally "$(expect -f $here/services_guest.exp "$tport" five "${selftest_args[@]}" 2>&1)"
part_done telnet

# ---- 10 concurrent telnet sessions while curl downloads ----
part concurrent
for k in 1 2 3; do
    (
        while [ ! -e "$scratch/stop" ]; do
            code=$(curl -s --max-time 60 -o "$scratch/dl.$k" -w '%{http_code}' "$url/test/1m.bin")
            echo "$code $(sha "$scratch/dl.$k")" >> "$scratch/res.$k"
        done
    ) &
    loadpids+=($!)
done
curl -s --max-time 120 -o "$scratch/dl.big" "$url/9p/test-data/32m.bin" &
bigpid=$!
tally "$(expect -f $here/services_guest.exp "$tport" concurrent 10 2>&1)"
touch "$scratch/stop"
wait "${loadpids[@]}" "$bigpid" 2>/dev/null
loadpids=()
n=$(cat "$scratch"/res.* 2>/dev/null | wc -l)
badl=$(cat "$scratch"/res.* 2>/dev/null | grep -v "^200 $sha_1m\$" | head -3 | tr '\n' ' ')
if [ -z "$badl" ] && [ "$n" -ge 3 ]; then pass downloads_during_sessions
else fail downloads_during_sessions "$n downloads of 1 MiB; wrong: '$badl'"; fi
echo "services_guest: $n downloads of /test/1m.bin during the sessions"
got=$(sha "$scratch/dl.big" 2>/dev/null)
[ "$got" = "$sha_32m" ]; check download_32m_during_sessions $? "sha256 '$got', want $sha_32m"
part_done concurrent

# ---- curl: files, HEAD, Range, 304, 404, 405, listing ----
part http
C=(curl -s --max-time 60)
for f in 1k 1m; do
    got=$("${C[@]}" "$url/test/$f.bin" | sha256sum | cut -d' ' -f1)
    want=$([ $f = 1k ] && echo "$sha_1k" || echo "$sha_1m")
    [ "$got" = "$want" ]; check "get_$f" $? "sha256 $got, want $want"
done
t=$(date +%s%N)
got=$("${C[@]}" --max-time 120 "$url/9p/test-data/32m.bin" | sha256sum | cut -d' ' -f1)
ms=$((($(date +%s%N) - t) / 1000000))
[ "$got" = "$sha_32m" ]; check get_32m_9p $? "sha256 $got, want $sha_32m"
echo "services_guest: /9p/test-data/32m.bin took $ms ms"

hdr=$("${C[@]}" -I "$url/test/1m.bin" | tr -d '\r')
[[ $hdr == "HTTP/1.1 200 OK"* ]] && grep -q '^Content-Length: 1048576$' <<<"$hdr" && grep -q '^Last-Modified: ' <<<"$hdr" \
    && grep -q '^Date: ' <<<"$hdr"
check head_headers $? "$(tr '\n' '|' <<<"$hdr")"
tally "$(python3 $here/services_guest.py head-no-body "$hport" 2>&1)"

h=$("${C[@]}" -D - -o "$scratch/range" -r 1000-1999 "$url/test/1m.bin" | tr -d '\r')
[[ $h == "HTTP/1.1 206"* ]] && grep -q '^Content-Range: bytes 1000-1999/1048576$' <<<"$h" \
    && cmp -s "$scratch/range" <(tail -c +1001 build/user/www/test/1m.bin | head -c 1000)
check range_206 $? "$(tr '\n' '|' <<<"$h"), $(stat -c %s "$scratch/range" 2>/dev/null) bytes"
h=$("${C[@]}" -D - -o /dev/null -r 2000000- "$url/test/1m.bin" | tr -d '\r')
[[ $h == "HTTP/1.1 416"* ]] && grep -q '^Content-Range: bytes \*/1048576$' <<<"$h"
check range_416 $? "$(tr '\n' '|' <<<"$h")"

lm=$(sed -n 's/^Last-Modified: //p' <<<"$hdr")
code=$("${C[@]}" -o "$scratch/b304" -w '%{http_code}' -H "If-Modified-Since: $lm" "$url/test/1m.bin")
[ "$code" = 304 ] && [ ! -s "$scratch/b304" ]; check if_modified_since_304 $? "status $code for '$lm'"
code=$("${C[@]}" -o "$scratch/b404" -w '%{http_code}' "$url/no/such/file")
[ "$code" = 404 ] && grep -q '404' "$scratch/b404"; check not_found_404 $? "status $code"
h=$("${C[@]}" -D - -o /dev/null -X POST -d x=1 "$url/test/1k.bin" | tr -d '\r')
[[ $h == "HTTP/1.1 405"* ]] && grep -q '^Allow: GET, HEAD$' <<<"$h"; check method_405_allow $? "$(tr '\n' '|' <<<"$h")"
body=$("${C[@]}" -w '\n%{http_code}' "$url/test/")
[[ $body == *'<a href="1k.bin">1k.bin</a>'* && $body == *'<a href="1m.bin">1m.bin</a>'* && $body == *$'\n200' ]]
check directory_listing $? "$(tail -c 300 <<<"$body" | tr '\n' ' ')"
part_done http

# ---- wrk ----
part wrk
if [ -n "$tap_why" ]; then
    wout="not run: $tap_why" rc=1
else
    for _ in $(seq 60); do   # the guest's DHCP lease on eth1
        curl -s -m 2 -o /dev/null "$tap_url/test/1k.bin" && break
        sleep 1
    done
    wout=$(timeout 60 wrk -t 2 -c 32 -d 20s --timeout 10s "$tap_url/test/1k.bin" 2>&1); rc=$?
fi
echo "$wout" > "$out/services-guest.wrk.txt"
reqs=$(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' <<<"$wout")
[ $rc = 0 ] && [ "${reqs:-0}" -gt 0 ] && ! grep -q 'Socket errors' <<<"$wout" && ! grep -q 'Non-2xx' <<<"$wout"
check wrk_c32_no_errors $? "rc $rc: $(tr '\n' ' ' <<<"$wout")"
echo "services_guest: wrk: ${reqs:-0} requests, $(sed -nE 's/^Requests\/sec: *//p' <<<"$wout") requests/s"
got=$("${C[@]}" "$url/test/1k.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$sha_1k" ]; check answers_after_wrk $? "sha256 $got after wrk"
part_done wrk

# ---- hostile input ----
part hostile
tally "$(python3 $here/services_guest.py hostile "$hport" "$tport" 2>&1)"
# The guest's TCP counters after it (information: SYNs dropped for a full accept queue, resets).
off=$(console_size)
console_send "cat /proc/net/stats"
sleep 2
echo "services_guest: guest $(console_since "$off" | grep -A1 '^Tcp: ActiveOpens' | tr '\n' ' ')"
part_done hostile

# ---- kill -9 through the console, init restarts within 2 s ----
part kill
# ps_rows N: runs ps on the console; prints its rows (without the heading).
ps_rows() {
    local off
    off=$(console_size)
    console_send "echo PS-BEGIN-$1; ps; echo PS-END-$1"
    for _ in $(seq 200); do
        grep -qx "PS-END-$1" <(console_since "$off") && break
        sleep 0.1
    done
    console_since "$off" | sed -n "/^PS-BEGIN-$1\$/,/^PS-END-$1\$/p" | grep -E '^ *[0-9]+ '
}
# service_pid ROWS NAME: the pid of init's child NAME in ps rows.
service_pid() { awk -v n="$2" '$2 == 1 && ($6 == n || $6 ~ ("/" n "$")) { print $1; exit }' <<<"$1"; }
# The P of init's last "init: starting NAME (pid P)" (a line may start with the shell's prompt).
init_pid() { console_since 0 | sed -nE "s/.*init: starting $1 \\(pid ([0-9]+)\\).*/\\1/p" | tail -1; }

# The telnet sessions of the earlier parts have all ended: tsh runs once (the console's).
rows=""
for i in 1 2 3 4 5; do
    rows=$(ps_rows "$i") || true
    [ "$(awk '$6 ~ /(^|\/)tsh$/' <<<"$rows" | wc -l)" = 1 ] && ! awk '$4 ~ /Z/' <<<"$rows" | grep -q . && break
    sleep 1
done
[ "$(awk '$6 ~ /(^|\/)tsh$/' <<<"$rows" | wc -l)" = 1 ] && ! awk '$4 ~ /Z/' <<<"$rows" | grep -q .
check sessions_left_nothing $? "ps: $(tr '\n' '|' <<<"$rows")"
for svc in httpd telnetd; do
    pid=$(service_pid "$rows" $svc) want=$(init_pid $svc)
    if [ -z "$pid" ] || [ "$pid" != "$want" ]; then
        fail "kill9_${svc}_back_within_2s" "ps shows $svc as pid '${pid}', init started it as pid '${want}': $(tr '\n' '|' <<<"$rows")"
        continue
    fi
    [ $svc = httpd ] && kind=http port=$hport || kind=telnet port=$tport
    off=$(console_size)
    t0=$(date +%s%N)
    console_send "kill -9 $pid"
    missing=$(wait_console "$off" 10 "init: $svc killed by signal 9 (SIGKILL), restarting in")
    if [ -n "$missing" ]; then
        fail "kill9_${svc}_back_within_2s" "no '$missing' on the console within 10 s of kill -9 $pid"
        continue
    fi
    back=$(python3 $here/services_guest.py wait "$kind" "$port" "$t0" 10 2>&1)
    ms=$(sed -nE 's/^back after ([0-9]+) ms$/\1/p' <<<"$back")
    newpid=$(init_pid $svc)
    echo "services_guest: $svc (pid $pid) killed: $(console_since "$off" | grep -m1 "init: $svc killed"); new pid $newpid; $back"
    [ -n "$ms" ] && [ "$ms" -lt 2000 ] && [ -n "$newpid" ] && [ "$newpid" != "$pid" ]
    check "kill9_${svc}_back_within_2s" $? "$back (new pid '$newpid', old $pid)"
done
tally "$(python3 $here/services_guest.py serve-check both_serve_after_kills "$hport" "$tport" 2>&1)"
part_done kill

# ---- the whole run on the console ----
exits=$(console_since 0 | grep -E 'init: (telnetd|httpd) (exited|killed)')
[ "$(wc -l <<<"$exits")" = 2 ] && ! console_since 0 | grep -q 'KERNEL PANIC'
check no_unexpected_exits $? "service exits on the console besides the two kills, or a panic: $(tr '\n' '|' <<<"$exits")"
stop_qemu
finish
