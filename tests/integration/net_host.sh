#!/usr/bin/env bash
# net_host.sh: runs SABOS's network programs (build/user/bin/{nc,wget,ping,host,ifconfig,
# netstat,selftest_net,tcpxfer,sha256sum}, musl-static, `make user`) on the host Linux against
# servers this script starts on 127.0.0.1 and ::1 only: nc pairs (TCP v4/v6, UDP), a real HTTP
# server (python3 -m http.server, else busybox httpd), a canned HTTP server that sends malformed
# responses (python3), a tiny DNS responder (python3), build/tcpsink for tcpxfer (and our own nc
# as a misbehaving tcpsink). sha256sum is compared with the host's. No network beyond loopback
# is used.
# Prints one "[PASS] net_host.NAME" / "[FAIL] net_host.NAME: why" / "[SKIP] net_host.NAME: why"
# line per check and exits 0 only when nothing failed. Every command runs under `timeout`.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/build/user/bin"
for p in nc wget ping host ifconfig netstat selftest_net tcpxfer sha256sum; do
    [ -x "$bin/$p" ] || { echo "[FAIL] net_host.build: $bin/$p missing (run make user)"; exit 1; }
done
scratch=$(mktemp -d /tmp/net-host.XXXXXX) || { echo "[FAIL] net_host: mktemp"; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$scratch"; }
trap cleanup EXIT
failed=0
pass() { echo "[PASS] net_host.$1"; }
fail() { echo "[FAIL] net_host.$1: $2"; failed=1; }
skip() { echo "[SKIP] net_host.$1: $2"; }
base=$((20000 + $$ % 20000))
PY=$(command -v python3 || true)

# Waits (at most 5 s) until something listens on TCP port $1.
wait_tcp() { for _ in $(seq 50); do grep -qi ":$(printf %04X "$1") .* 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# Waits (at most 5 s) until something is bound on UDP port $1.
wait_udp() { for _ in $(seq 50); do grep -qi ":$(printf %04X "$1") " /proc/net/udp /proc/net/udp6 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# ---- nc ----
nc_pair() { # name family-flag listen-extra connect-host port
    local name=$1 fam=$2 host=$3 port=$4 out="$scratch/$1.out"
    timeout 10 "$bin/nc" $fam -l -p "$port" > "$out" 2>"$scratch/$name.err" & local sp=$!; pids+=($sp)
    wait_tcp "$port" || { fail "$name" "listener did not start: $(cat "$scratch/$name.err")"; return; }
    printf 'hello over %s\n' "$name" | timeout 10 "$bin/nc" -N "$host" "$port" > "$scratch/$name.back"
    local rc=$?
    wait $sp; local src=$?
    if [ $rc != 0 ] || [ $src != 0 ]; then fail "$name" "exit status client $rc server $src"
    elif [ "$(cat "$out")" != "hello over $name" ]; then fail "$name" "server got '$(cat "$out")'"
    else pass "$name"; fi
}
nc_pair nc_tcp4 -4 127.0.0.1 $base
nc_pair nc_tcp6 -6 ::1 $((base + 1))

# Server to client direction too: the server sends, the client reads until close.
port=$((base + 2))
printf 'from server\n' | timeout 10 "$bin/nc" -N -l -p $port >/dev/null & sp=$!; pids+=($sp)
wait_tcp $port
got=$(timeout 10 "$bin/nc" 127.0.0.1 $port < /dev/null); rc=$?
wait $sp
[ $rc = 0 ] && [ "$got" = "from server" ] && pass nc_server_to_client || fail nc_server_to_client "rc $rc got '$got'"

port=$((base + 3))
timeout 10 "$bin/nc" -u -l -w 2 -p $port > "$scratch/udp.out" & sp=$!; pids+=($sp)
wait_udp $port
printf 'udp datagram\n' | timeout 10 "$bin/nc" -u -w 1 127.0.0.1 $port; rc=$?
wait $sp
[ $rc = 0 ] && [ "$(cat "$scratch/udp.out")" = "udp datagram" ] && pass nc_udp4 \
    || fail nc_udp4 "rc $rc got '$(cat "$scratch/udp.out")'"

# Errors: a refused connection, bad ports, a bad host, a connect timeout bound.
msg=$(timeout 10 "$bin/nc" 127.0.0.1 $((base + 4)) 2>&1 < /dev/null); rc=$?
[ $rc = 1 ] && [[ $msg == *"Connection refused"* ]] && pass nc_refused || fail nc_refused "rc $rc msg '$msg'"
why=""
for bad in 0 65536 99999 -1 abc 80x ""; do
    msg=$(timeout 5 "$bin/nc" 127.0.0.1 "$bad" 2>&1 < /dev/null); rc=$?
    [ $rc = 1 ] && [[ $msg == *"port"* ]] || { why="port '$bad': rc $rc msg '$msg'"; break; }
done
[ -z "$why" ] && pass nc_bad_port || fail nc_bad_port "$why"
msg=$(timeout 10 "$bin/nc" no.such.host.invalid 80 2>&1 < /dev/null); rc=$?
[ $rc = 1 ] && [[ $msg == nc:* ]] && pass nc_bad_host || fail nc_bad_host "rc $rc msg '$msg'"
msg=$(timeout 10 "$bin/nc" -w abc 127.0.0.1 80 2>&1 < /dev/null); rc=$?
[ $rc = 1 ] && pass nc_bad_timeout || fail nc_bad_timeout "rc $rc msg '$msg'"

# ---- wget against a real HTTP server ----
www="$scratch/www"; mkdir -p "$www"; head -c 100000 /dev/urandom > "$www/blob.bin"; echo "index page" > "$www/index.html"
hport=$((base + 5))
if [ -n "$PY" ]; then
    (cd "$www" && exec "$PY" -m http.server --bind 127.0.0.1 $hport) >/dev/null 2>&1 & pids+=($!)
elif command -v busybox >/dev/null; then
    busybox httpd -f -p 127.0.0.1:$hport -h "$www" & pids+=($!)
fi
if wait_tcp $hport; then
    (cd "$scratch" && timeout 20 "$bin/wget" -q "http://127.0.0.1:$hport/blob.bin"); rc=$?
    [ $rc = 0 ] && cmp -s "$www/blob.bin" "$scratch/blob.bin" && pass wget_file || fail wget_file "rc $rc or content differs"
    got=$(timeout 20 "$bin/wget" -q -O - "http://127.0.0.1:$hport/"); rc=$?
    [ $rc = 0 ] && [ "$got" = "index page" ] && pass wget_stdout || fail wget_stdout "rc $rc got '$got'"
    timeout 20 "$bin/wget" -q -O "$scratch/nf" "http://127.0.0.1:$hport/nope" 2>/dev/null; rc=$?
    [ $rc = 8 ] && [ ! -e "$scratch/nf" ] && pass wget_404_exit8 || fail wget_404_exit8 "rc $rc"
else
    skip wget_file "no python3 or busybox httpd"
fi
if [ -n "$PY" ]; then
    h6=$((base + 6))
    (cd "$www" && exec "$PY" -m http.server --bind ::1 $h6) >/dev/null 2>&1 & pids+=($!)
    if wait_tcp $h6; then
        got=$(timeout 20 "$bin/wget" -q -O - "http://[::1]:$h6/"); rc=$?
        [ $rc = 0 ] && [ "$got" = "index page" ] && pass wget_ipv6 || fail wget_ipv6 "rc $rc got '$got'"
    else fail wget_ipv6 "python3 http.server on ::1 did not start"; fi
fi
timeout 10 "$bin/wget" -q -O - "http://127.0.0.1:$((base + 4))/" 2>/dev/null; rc=$?
[ $rc = 1 ] && pass wget_refused_exit1 || fail wget_refused_exit1 "rc $rc"
for u in "ftp://127.0.0.1/" "http://127.0.0.1:99999/" "http://127.0.0.1:/" "http://[::1/" "http:///x" "http://a b/"; do
    timeout 5 "$bin/wget" -q -O - "$u" >/dev/null 2>&1; rc=$?
    [ $rc = 1 ] || { fail wget_bad_url "'$u': rc $rc"; break; }
done
[ $rc = 1 ] && pass wget_bad_url

# ---- wget against canned, partly malformed responses ----
if [ -n "$PY" ]; then
cat > "$scratch/canned.py" <<'EOF'
import socket, sys, threading, time
R = {
 '/ok': b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
 '/chunked': b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-T: 1\r\n\r\n',
 '/nolen': b'HTTP/1.1 200 OK\r\n\r\nuntil close',
 '/badchunk': b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
 '/hugechunk': b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nhello\r\n',
 '/chunknocrlf': b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n',
 '/chunkeof': b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
 '/noend': b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n',
 '/short': b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b',
 '/badlen': b'HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\nhello',
 '/hugelen': b'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nhello',
 '/badstatus': b'HTTP/1.1 2x0 OK\r\n\r\n',
 '/garbage': b'garbage\r\n\r\n',
 '/empty': b'',
 '/longhdr': b'HTTP/1.1 200 OK\r\nX: ' + b'a' * 40000 + b'\r\n\r\n',
 '/manyhdr': b'HTTP/1.1 200 OK\r\n' + b'X: y\r\n' * 5000 + b'\r\n',
 '/err500': b'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n',
 '/hang': None,
}
def serve(c):
    try:
        data = b''
        while b'\r\n\r\n' not in data and len(data) < 65536:
            d = c.recv(4096)
            if not d: break
            data += d
        parts = data.split(b' ')
        r = R.get(parts[1].decode() if len(parts) > 2 else '/', b'HTTP/1.1 404 Not Found\r\n\r\n')
        if r is None:
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe'); time.sleep(8)
        else:
            c.sendall(r)
    except Exception: pass
    c.close()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
    cport=$((base + 7))
    "$PY" "$scratch/canned.py" $cport & pids+=($!)
    if wait_tcp $cport; then
        want() { # name path expected-rc expected-stdout message-substring
            local out err rc
            out=$(timeout 20 "$bin/wget" -q -T 2 -O - "http://127.0.0.1:$cport$2" 2>"$scratch/err"); rc=$?
            err=$(cat "$scratch/err")
            if [ $rc != "$3" ]; then fail "$1" "rc $rc (want $3), stderr '$err'"
            elif [ -n "$4" ] && [ "$out" != "$4" ]; then fail "$1" "body '$out' (want '$4')"
            elif [ -n "$5" ] && [[ $err != *"$5"* ]]; then fail "$1" "stderr '$err' lacks '$5'"
            else pass "$1"; fi
        }
        want wget_content_length /ok 0 hello ""
        want wget_chunked /chunked 0 "hello, world" ""
        want wget_no_length /nolen 0 "until close" ""
        want wget_bad_chunk_size /badchunk 1 "" "bad chunk size"
        want wget_huge_chunk_size /hugechunk 1 "" "chunk size too large"
        want wget_chunk_without_crlf /chunknocrlf 1 "" "chunk data not followed"
        want wget_chunked_early_eof /chunkeof 1 "" "before the last chunk"
        want wget_header_without_end /noend 1 "" "inside the header"
        want wget_short_body /short 1 "" "closed early"
        want wget_bad_content_length /badlen 1 "" "bad Content-Length"
        want wget_huge_content_length /hugelen 1 "" "too large"
        want wget_bad_status /badstatus 1 "" "malformed status line"
        want wget_garbage /garbage 1 "" "malformed status line"
        want wget_empty_response /empty 1 "" "no response"
        want wget_long_header /longhdr 1 "" "longer than"
        want wget_many_headers /manyhdr 1 "" "header longer than"
        want wget_500_exit8 /err500 8 "" "HTTP 500"
        want wget_stalled_timeout /hang 1 "" "timed out"
    else fail wget_canned "canned server did not start"; fi
else
    skip wget_canned "no python3"
fi

# ---- ping ----
if [ "$(id -u)" = 0 ] || awk -v g="$(id -g)" '{exit !(g >= $1 && g <= $2)}' /proc/sys/net/ipv4/ping_group_range 2>/dev/null; then
    for t in 127.0.0.1 ::1; do
        out=$(timeout 20 "$bin/ping" -c 3 -i 0.2 -W 2 $t 2>&1); rc=$?
        if [ $rc = 0 ] && [[ $out == *"64 bytes from $t: icmp_seq=1 ttl="*" time="*" ms"* ]] \
            && [[ $out == *"3 packets transmitted, 3 received, 0% packet loss"* ]] && [[ $out == *"rtt min/avg/max/mdev = "* ]]; then
            pass "ping_$t"
        else fail "ping_$t" "rc $rc output: $out"; fi
    done
else
    skip ping "ping sockets not allowed for this group and not root"
fi
for a in "-c 0" "-c x" "-i 0" "-i abc" "-W -1" "-s 1"; do
    timeout 5 "$bin/ping" $a 127.0.0.1 >/dev/null 2>&1; rc=$?
    [ $rc = 2 ] || { fail ping_bad_args "'$a': rc $rc"; break; }
done
[ $rc = 2 ] && pass ping_bad_args
timeout 10 "$bin/ping" -c 1 no.such.host.invalid >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && pass ping_bad_host || fail ping_bad_host "rc $rc"

# ---- host ----
out=$(timeout 10 "$bin/host" localhost); rc=$?
[ $rc = 0 ] && [[ $out == *"localhost has address 127.0.0.1"* ]] && pass host_localhost || fail host_localhost "rc $rc out '$out'"
out=$(timeout 10 "$bin/host" 127.0.0.1); rc=$?
[ $rc = 0 ] && [[ $out == "1.0.0.127.in-addr.arpa domain name pointer "* ]] && pass host_reverse || fail host_reverse "rc $rc out '$out'"
out=$(timeout 20 "$bin/host" no.such.host.invalid); rc=$?
[ $rc = 1 ] && [[ $out == *"not found"* || $out == *"timed out"* ]] && pass host_not_found || fail host_not_found "rc $rc out '$out'"
out=$(timeout 10 "$bin/host" "$(head -c 300 /dev/zero | tr '\0' a)" 2>&1); rc=$?
[ $rc = 1 ] && pass host_name_too_long || fail host_name_too_long "rc $rc"

# ---- ifconfig / netstat ----
out=$(timeout 10 "$bin/ifconfig" lo); rc=$?
[ $rc = 0 ] && [[ $out == "lo: "* ]] && [[ $out == *"RX packets "* ]] && pass ifconfig_lo || fail ifconfig_lo "rc $rc out '$out'"
# the addresses come from the SIOCGIF* ioctls and /proc/net/if_inet6, as net-tools reads them
[[ $out == *"inet 127.0.0.1  netmask 255.0.0.0"* ]] && [[ $out == *"flags=73<UP,LOOPBACK,RUNNING>"* ]] &&
    pass ifconfig_lo_address || fail ifconfig_lo_address "out '$out'"
timeout 10 "$bin/ifconfig" nosuch0 >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && pass ifconfig_missing || fail ifconfig_missing "rc $rc"
lport=$((base + 8))
timeout 10 "$bin/nc" -l -p $lport >/dev/null < /dev/null & sp=$!; pids+=($sp)
wait_tcp $lport
out=$(timeout 10 "$bin/netstat" -tln); rc=$?
[ $rc = 0 ] && echo "$out" | grep -Eq "^tcp +0 +0 0\.0\.0\.0:$lport +0\.0\.0\.0:\* +LISTEN" && pass netstat_listen \
    || fail netstat_listen "rc $rc, no LISTEN line for $lport in: $out"
out=$(timeout 10 "$bin/netstat" -tn); rc=$?
[ $rc = 0 ] && ! echo "$out" | grep -q LISTEN && pass netstat_no_listen_by_default || fail netstat_no_listen_by_default "rc $rc"
kill $sp 2>/dev/null

# ---- tcpxfer against build/tcpsink (same pattern, same SHA-256) ----
sink="$root/build/tcpsink"
if [ -x "$sink" ]; then
    sink_sha() { "$sink" -g "$1" | sha256sum | cut -d' ' -f1; }
    # xfer NAME PORT 'SERVER ARGS' 'TCPXFER ARGS' EXPECTED-RC LINE-REGEX: starts tcpsink on PORT,
    # runs tcpxfer, checks its exit status and last stdout line, and that tcpsink agreed (rc 0).
    xfer() {
        local name=$1 port=$2 srv=$3 cli=$4 want_rc=$5 re=$6
        timeout 60 "$sink" -p "$port" $srv -t 50 -q > "$scratch/$name.sink" 2>&1 & local sp=$!; pids+=($sp)
        wait_tcp "$port" || { fail "$name" "tcpsink did not start: $(cat "$scratch/$name.sink")"; return; }
        local out rc last src
        out=$(timeout 60 "$bin/tcpxfer" -t 50 $cli 2>"$scratch/$name.err"); rc=$?
        last=$(printf '%s\n' "$out" | tail -n 1)
        wait $sp; src=$?
        if [ $rc != "$want_rc" ]; then fail "$name" "rc $rc (want $want_rc): '$last' $(cat "$scratch/$name.err")"
        elif ! [[ $last =~ $re ]]; then fail "$name" "last line '$last' does not match '$re'"
        elif [ "$want_rc" = 0 ] && [ $src != 0 ]; then fail "$name" "tcpsink rc $src: $(cat "$scratch/$name.sink")"
        else pass "$name"; fi
    }
    ms='[0-9]+ ms'; mbps='[0-9]+\.[0-9] MB/s'
    sha1m=$(sink_sha 1M); sha3m=$(sink_sha 3M)
    xfer tcpxfer_get4 $((base + 11)) "-b 127.0.0.1 -s 1M -n 1" "get 127.0.0.1 $((base + 11)) 1M" 0 \
        "^tcpxfer: get ok 1048576 bytes $ms $mbps sha256 $sha1m\$"
    xfer tcpxfer_get6_any_length $((base + 12)) "-b ::1 -s 3M -n 1" "-6 get ::1 $((base + 12))" 0 \
        "^tcpxfer: get ok 3145728 bytes $ms $mbps sha256 $sha3m\$"
    xfer tcpxfer_put4 $((base + 13)) "-b 127.0.0.1 -x 3M -n 1" "put 127.0.0.1 $((base + 13)) 3M" 0 \
        "^tcpxfer: put ok 3145728 bytes $ms $mbps sha256 $sha3m\$"
    xfer tcpxfer_put6 $((base + 14)) "-6 -x 1M -n 1" "put ::1 $((base + 14)) 1024K" 0 \
        "^tcpxfer: put ok 1048576 bytes $ms $mbps sha256 $sha1m\$"
    xfer tcpxfer_echo_50x64k $((base + 15)) "-b 127.0.0.1 -e -n 50" "echo 127.0.0.1 $((base + 15)) 50 64K" 0 \
        "^tcpxfer: echo ok 50 connections 3276800 bytes $ms\$"
    xfer tcpxfer_echo6 $((base + 16)) "-b ::1 -e -n 8" "echo ::1 $((base + 16)) 8 300000" 0 \
        "^tcpxfer: echo ok 8 connections 2400000 bytes $ms\$"
    xfer tcpxfer_conn $((base + 17)) "-e -n 30" "conn localhost $((base + 17)) 30" 0 \
        "^tcpxfer: conn ok 30 connections $ms [0-9]+\.[0-9] per s\$"
    # hostile and failing cases
    xfer tcpxfer_short_transfer $((base + 18)) "-b 127.0.0.1 -s 1000 -n 1" "get 127.0.0.1 $((base + 18)) 2000" 1 \
        '^tcpxfer: get FAIL short transfer: 1000 of 2000 bytes$'
    xfer tcpxfer_long_transfer $((base + 18)) "-b 127.0.0.1 -s 3000 -n 1" "get 127.0.0.1 $((base + 18)) 2000" 1 \
        '^tcpxfer: get FAIL long transfer: more than 2000 bytes$'
    xfer tcpxfer_echo_wrong_server $((base + 19)) "-b 127.0.0.1 -s 100K -n 1" "echo 127.0.0.1 $((base + 19)) 1 1K" 1 \
        '^tcpxfer: echo FAIL (pattern-bad@|server disagreed|short transfer)'
    out=$(timeout 10 "$bin/tcpxfer" get 127.0.0.1 $((base + 4)) 2>&1); rc=$?
    [ $rc = 1 ] && [ "$(printf '%s\n' "$out" | tail -n 1)" = "tcpxfer: get FAIL connection refused" ] \
        && pass tcpxfer_refused || fail tcpxfer_refused "rc $rc out '$out'"
    out=$(timeout 20 "$bin/tcpxfer" conn no.such.host.invalid 80 1 2>&1); rc=$?
    [ $rc = 1 ] && [[ $out == "tcpxfer: conn FAIL cannot resolve no.such.host.invalid"* ]] \
        && pass tcpxfer_bad_host || fail tcpxfer_bad_host "rc $rc out '$out'"
    why=""
    for a in "" "get" "get 127.0.0.1" "get 127.0.0.1 0" "get 127.0.0.1 65536" "get 127.0.0.1 8x" \
             "get 127.0.0.1 80 1X" "get 127.0.0.1 80 -5" "get 127.0.0.1 80 99999999999G" "get 127.0.0.1 80 1 2" \
             "put 127.0.0.1 80" "echo 127.0.0.1 80 0 1K" "echo 127.0.0.1 80 5" "echo 127.0.0.1 80 99999 1K" \
             "conn 127.0.0.1 80 0" "conn 127.0.0.1 80" "frob 127.0.0.1 80" "-t 0 get 127.0.0.1 80" \
             "-t x get 127.0.0.1 80" "-z get 127.0.0.1 80"; do
        out=$(timeout 5 "$bin/tcpxfer" $a 2>"$scratch/args.err"); rc=$?
        [ $rc = 2 ] && [ -z "$out" ] && grep -q usage "$scratch/args.err" || { why="'$a': rc $rc out '$out'"; break; }
    done
    [ -z "$why" ] && pass tcpxfer_bad_args || fail tcpxfer_bad_args "$why"
    # A server whose byte 1000 is wrong (our nc serving a doctored pattern file).
    "$sink" -g 4000 > "$scratch/bad.pat"
    b=$(od -An -tu1 -j1000 -N1 "$scratch/bad.pat" | tr -d ' ')
    printf "\\$(printf %03o $(((b + 1) & 255)))" | dd of="$scratch/bad.pat" bs=1 seek=1000 conv=notrunc 2>/dev/null
    port=$((base + 20))
    timeout 10 "$bin/nc" -N -l -p $port < "$scratch/bad.pat" > /dev/null & sp=$!; pids+=($sp)
    wait_tcp $port
    out=$(timeout 10 "$bin/tcpxfer" get 127.0.0.1 $port 4000); rc=$?
    kill $sp 2>/dev/null
    [ $rc = 1 ] && [ "$out" = "tcpxfer: get FAIL pattern-bad@1000" ] && pass tcpxfer_pattern_bad \
        || fail tcpxfer_pattern_bad "rc $rc out '$out'"
    # A server that answers a put with the wrong line.
    port=$((base + 21))
    printf '100 0000 pattern-ok\n' | timeout 10 "$bin/nc" -N -l -p $port > /dev/null & sp=$!; pids+=($sp)
    wait_tcp $port
    out=$(timeout 10 "$bin/tcpxfer" put 127.0.0.1 $port 100); rc=$?
    kill $sp 2>/dev/null
    [ $rc = 1 ] && [[ $out == "tcpxfer: put FAIL server disagreed: "* ]] && pass tcpxfer_server_disagreed \
        || fail tcpxfer_server_disagreed "rc $rc out '$out'"
    # A server that accepts and stays silent: -t bounds the run.
    port=$((base + 22))
    sleep 8 | timeout 10 "$bin/nc" -l -p $port > /dev/null & sp=$!; pids+=($sp)
    wait_tcp $port
    t0=$(date +%s%N)
    out=$(timeout 10 "$bin/tcpxfer" -t 1 get 127.0.0.1 $port); rc=$?
    took=$(( ($(date +%s%N) - t0) / 1000000 ))
    kill $sp 2>/dev/null
    [ $rc = 1 ] && [ "$out" = "tcpxfer: get FAIL timed out" ] && [ $took -lt 5000 ] && pass tcpxfer_time_limit \
        || fail tcpxfer_time_limit "rc $rc after $took ms, out '$out'"
else
    skip tcpxfer "build/tcpsink missing (make images)"
fi

# ---- sha256sum against the host's ----
sd="$scratch/sums"; mkdir -p "$sd"
: > "$sd/empty"; printf a > "$sd/one"
for n in 55 56 63 64 65 1048576; do head -c $n /dev/urandom > "$sd/r$n"; done
why=""
for f in "$sd"/*; do
    got=$(timeout 10 "$bin/sha256sum" "$f"); want=$(sha256sum "$f")
    [ "$got" = "$want" ] || { why="$f: '$got' want '$want'"; break; }
done
[ -z "$why" ] && pass sha256sum_files || fail sha256sum_files "$why"
got=$(timeout 10 "$bin/sha256sum" < "$sd/r1048576"); want=$(sha256sum < "$sd/r1048576")
got2=$(timeout 10 "$bin/sha256sum" - < "$sd/one"); want2=$(sha256sum - < "$sd/one")
[ "$got" = "$want" ] && [ "$got2" = "$want2" ] && pass sha256sum_stdin || fail sha256sum_stdin "'$got' / '$got2'"
got=$(cd "$sd" && timeout 10 "$bin/sha256sum" one nosuch empty 2>"$scratch/sum.err"); rc=$?
want=$(cd "$sd" && sha256sum one empty)
[ $rc = 1 ] && [ "$got" = "$want" ] && grep -q "^sha256sum: nosuch: No such file or directory" "$scratch/sum.err" \
    && pass sha256sum_missing_file || fail sha256sum_missing_file "rc $rc out '$got' err '$(cat "$scratch/sum.err")'"
timeout 10 "$bin/sha256sum" "$sd" >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && pass sha256sum_directory || fail sha256sum_directory "rc $rc"

# ---- selftest_net ----
if [ -n "$PY" ]; then
cat > "$scratch/dns.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', int(sys.argv[1])))
while True:
    q, a = s.recvfrom(512)
    if len(q) < 12: continue
    end = 12
    while end < len(q) and q[end] != 0: end += 1 + q[end]
    end += 5
    hdr = q[:2] + b'\x81\x80' + b'\x00\x01\x00\x02\x00\x00\x00\x00'
    cname = b'\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02\xc0\x0c'
    a_rr = b'\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04' + bytes([10, 0, 2, 3])
    s.sendto(hdr + q[12:end] + cname + a_rr, a)
EOF
    dport=$((base + 9))
    "$PY" "$scratch/dns.py" $dport & pids+=($!)
    wait_udp $dport
    args=(-d localhost -s "127.0.0.1#$dport" -q test.sabos -T 3)
    [ -n "${cport:-}" ] && args+=(-u "http://127.0.0.1:$cport/ok")
    [ "$(id -u)" = 0 ] && args+=(-p6 ::1)
    out=$(timeout 60 "$bin/selftest_net" "${args[@]}" 2>&1); rc=$?
    if [ $rc = 0 ] && [[ $out == *"selftest_net: PASS" ]] && [[ $out == *"PASS dnsraw"* ]] && ! [[ $out == *FAIL* ]]; then
        pass selftest_net
    else fail selftest_net "rc $rc: $out"; fi
    # Its failure paths: a silent DNS server, a 404 URL, a bad ping6 address.
    out=$(timeout 60 "$bin/selftest_net" -s "127.0.0.1#$((base + 10))" -u "http://127.0.0.1:${cport:-1}/missing" -p6 fe80::zz -T 1 2>&1); rc=$?
    n=$(echo "$out" | grep -c '^FAIL')
    [ $rc = 1 ] && [ "$n" = 3 ] && [[ $out == *"selftest_net: FAIL" ]] && pass selftest_net_failures \
        || fail selftest_net_failures "rc $rc, $n FAIL lines: $out"
else
    skip selftest_net "no python3 for the DNS responder"
fi
exit $failed
