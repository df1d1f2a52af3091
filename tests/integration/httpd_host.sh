#!/usr/bin/env bash
# httpd_host.sh: runs SABOS's /sbin/httpd (build/user/sbin/httpd, musl-static, `make user`) on
# the host Linux on high ports of 127.0.0.1 and ::1 with a temporary document root, and checks
# it with real clients: curl (downloads of 1 KiB, 1 MiB and 32 MiB compared by SHA-256, HEAD,
# Range 206/416, If-Modified-Since 304, 404, 405, 501, directory listing, index.html, -a
# prefix, IPv6, the Common Log Format), raw sockets from python3 (keep-alive and pipelining,
# HTTP/1.0, 505, malformed request lines, a 1 MiB header, too many fields, NUL bytes, binary
# garbage, traversal plain/encoded/double-encoded/backslash/symlink, 500 silent connections
# (slowloris: the server still answers others and closes them with 408 after -T), the idle
# timeout, the connection limit) and wrk (-c 32 -d 5s: no socket errors, no non-2xx answers,
# then a normal answer). Timeouts are set short (-t 2 -T 2) so the run takes about 30 s.
# Prints one "[PASS] httpd_host.NAME" / "[FAIL] httpd_host.NAME: why" / "[SKIP] ..." line per
# check, then "httpd_host: N passed, M failed"; exits 0 only when nothing failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
httpd=${HTTPD:-$root/build/user/sbin/httpd} # HTTPD=PATH tests another build (e.g. with sanitizers)
[ -x "$httpd" ] || { echo "[FAIL] httpd_host.build: $httpd missing (run make user)"; exit 1; }
PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "[FAIL] httpd_host.python3: python3 missing (scripts/deps.sh)"; exit 1; }
command -v curl >/dev/null || { echo "[FAIL] httpd_host.curl: curl missing (scripts/deps.sh)"; exit 1; }
scratch=$(mktemp -d /tmp/httpd-host.XXXXXX) || { echo "[FAIL] httpd_host: mktemp"; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$scratch"; }
trap cleanup EXIT
npass=0 nfail=0
pass() { echo "[PASS] httpd_host.$1"; npass=$((npass + 1)); }
fail() { echo "[FAIL] httpd_host.$1: $2"; nfail=$((nfail + 1)); }
skip() { echo "[SKIP] httpd_host.$1: $2"; }
base=$((20000 + $$ % 20000))
port=$base port2=$((base + 1)) port3=$((base + 2))

# Waits (at most 5 s) until something listens on TCP port $1.
wait_tcp() { for _ in $(seq 50); do grep -qi ":$(printf %04X "$1") .* 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# ---- the document root ----
www="$scratch/www"
mkdir -p "$www/list/sub" "$www/withindex" "$scratch/alias"
head -c 1024 /dev/urandom > "$www/small.txt"
head -c 1048576 /dev/urandom > "$www/1m.bin"
head -c 33554432 /dev/urandom > "$www/32m.bin"
echo '<h1>SABOS index</h1>' > "$www/index.html"
echo 'sub index' > "$www/withindex/index.html"
echo 'x' > "$www/list/a<b>&\"c'.txt"
echo 'plain' > "$www/list/plain.txt"
echo 'secret outside the root' > "$scratch/secret.txt"
ln -s ../secret.txt "$www/escape"
ln -s small.txt "$www/inside"
echo 'from the alias' > "$scratch/alias/alias.txt"
: > "$www/empty.txt"
log="$scratch/access.log"

# ---- the command line ----
"$httpd" -p 0 >/dev/null 2>&1; rc=$?
"$httpd" -x >/dev/null 2>&1; rc2=$?
"$httpd" -a noslash=/tmp >/dev/null 2>&1; rc3=$?
[ $rc = 2 ] && [ $rc2 = 2 ] && [ $rc3 = 2 ] && pass usage_errors || fail usage_errors "exit statuses $rc $rc2 $rc3 (want 2)"

"$httpd" -p $port -p $port2 -r "$www" -a "/9p=$scratch/alias" -l "$log" -t 2 -T 2 2>"$scratch/httpd.err" &
hpid=$!; pids+=($hpid)
wait_tcp $port && wait_tcp $port2 || { fail start "httpd did not listen: $(cat "$scratch/httpd.err")"; echo "httpd_host: $npass passed, $((nfail)) failed"; exit 1; }
"$httpd" -p $port -q -r "$www" >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && pass no_port_exit1 || fail no_port_exit1 "a second server on a busy port exited with $rc (want 1)"
url="http://127.0.0.1:$port"
C=(curl -s --max-time 20)

# ---- downloads ----
for f in small.txt 1m.bin 32m.bin; do
    want=$(sha256sum < "$www/$f" | cut -d' ' -f1)
    got=$("${C[@]}" "$url/$f" | sha256sum | cut -d' ' -f1)
    [ "$want" = "$got" ] && pass "get_$f" || fail "get_$f" "sha256 $got, want $want"
done
hwm=$(awk '/^VmHWM/ {print $2}' /proc/$hpid/status)
[ -n "$hwm" ] && [ "$hwm" -lt 16384 ] && pass bounded_memory || fail bounded_memory "peak RSS ${hwm:-?} KiB after a 32 MiB download"
got=$("${C[@]}" -g "http://[::1]:$port/small.txt" | cmp - "$www/small.txt" 2>&1) && pass ipv6 || fail ipv6 "$got"
got=$("${C[@]}" "http://127.0.0.1:$port2/small.txt" | cmp - "$www/small.txt" 2>&1) && pass second_port || fail second_port "$got"

# ---- HEAD, Range, conditionals ----
hdr=$("${C[@]}" -I "$url/1m.bin" | tr -d '\r')
[[ $hdr == "HTTP/1.1 200 OK"* ]] && grep -q '^Content-Length: 1048576$' <<<"$hdr" && grep -q '^Last-Modified: ' <<<"$hdr" \
    && grep -q '^Date: ' <<<"$hdr" && grep -q '^Content-Type: application/octet-stream$' <<<"$hdr" \
    && pass head || fail head "$hdr"
ctype=$("${C[@]}" -o /dev/null -w '%{content_type}' "$url/index.html")
[ "$ctype" = "text/html; charset=utf-8" ] && pass content_type || fail content_type "'$ctype'"

range_check() { # NAME RANGE FIRST LAST (inclusive)
    local name=$1 r=$2 first=$3 last=$4
    local out="$scratch/range" h
    h=$("${C[@]}" -D - -o "$out" -r "$r" "$url/1m.bin" | tr -d '\r')
    if ! [[ $h == "HTTP/1.1 206"* ]]; then fail "$name" "status: $(head -1 <<<"$h")"; return; fi
    grep -q "^Content-Range: bytes $first-$last/1048576$" <<<"$h" || { fail "$name" "$(grep -i content-range <<<"$h")"; return; }
    if cmp -s <(tail -c +$((first + 1)) "$www/1m.bin" | head -c $((last - first + 1))) "$out"; then pass "$name"
    else fail "$name" "body differs from bytes $first-$last"; fi
}
range_check range_206 1000-1999 1000 1999
range_check range_open 1048000- 1048000 1048575
range_check range_suffix -100 1048476 1048575
range_check range_clamped 1048570-2000000 1048570 1048575
h=$("${C[@]}" -D - -o /dev/null -r 2000000- "$url/1m.bin" | tr -d '\r')
[[ $h == "HTTP/1.1 416"* ]] && grep -q '^Content-Range: bytes \*/1048576$' <<<"$h" && pass range_416 || fail range_416 "$h"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -r 0-0 "$url/empty.txt")
[ "$code" = 416 ] && pass range_empty_file_416 || fail range_empty_file_416 "status $code"
code=$("${C[@]}" -o "$scratch/r" -w '%{http_code}' -H 'Range: bytes=5-1' "$url/small.txt")
[ "$code" = 200 ] && cmp -s "$scratch/r" "$www/small.txt" && pass range_invalid_ignored || fail range_invalid_ignored "status $code"
code=$("${C[@]}" -o "$scratch/r" -w '%{http_code}' -H 'Range: bytes=0-1,5-6' "$url/small.txt")
[ "$code" = 200 ] && cmp -s "$scratch/r" "$www/small.txt" && pass range_multi_ignored || fail range_multi_ignored "status $code"

lm=$("${C[@]}" -I "$url/small.txt" | tr -d '\r' | sed -n 's/^Last-Modified: //p')
code=$("${C[@]}" -o "$scratch/b" -w '%{http_code}' -H "If-Modified-Since: $lm" "$url/small.txt")
[ "$code" = 304 ] && [ ! -s "$scratch/b" ] && pass if_modified_since_304 || fail if_modified_since_304 "status $code for '$lm'"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT" "$url/small.txt")
code2=$("${C[@]}" -o /dev/null -w '%{http_code}' -H "If-Modified-Since: yesterday" "$url/small.txt")
code3=$("${C[@]}" -o /dev/null -w '%{http_code}' -H "If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT" "$url/small.txt")
code4=$("${C[@]}" -o /dev/null -w '%{http_code}' -H "If-Modified-Since: Sun Nov  6 08:49:37 2094" "$url/small.txt")
[ "$code" = 200 ] && [ "$code2" = 200 ] && [ "$code3" = 200 ] && [ "$code4" = 304 ] && pass if_modified_since_older \
    || fail if_modified_since_older "statuses $code $code2 $code3 $code4 (want 200 200 200 304)"

# ---- errors ----
code=$("${C[@]}" -o "$scratch/b" -w '%{http_code}' "$url/no/such/file")
[ "$code" = 404 ] && grep -q '404 Not Found' "$scratch/b" && pass not_found_404 || fail not_found_404 "status $code"
h=$("${C[@]}" -D - -o /dev/null -X POST -d x=1 "$url/small.txt" | tr -d '\r')
[[ $h == "HTTP/1.1 405"* ]] && grep -q '^Allow: GET, HEAD$' <<<"$h" && pass method_405 || fail method_405 "$h"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -X BREW "$url/small.txt")
[ "$code" = 501 ] && pass method_501 || fail method_501 "status $code"

# ---- directories, index.html, prefixes ----
body=$("${C[@]}" "$url/list/")
[[ $body == *'<a href="a%3Cb%3E%26%22c%27.txt">a&lt;b&gt;&amp;&quot;c&#39;.txt</a>'* ]] && [[ $body == *'<a href="sub/">sub/</a>'* ]] \
    && [[ $body == *'plain.txt'* ]] && pass directory_listing || fail directory_listing "$body"
h=$("${C[@]}" -D - -o /dev/null "$url/list" | tr -d '\r')
[[ $h == "HTTP/1.1 301"* ]] && grep -q '^Location: /list/$' <<<"$h" && pass directory_redirect || fail directory_redirect "$h"
[ "$("${C[@]}" "$url/")" = '<h1>SABOS index</h1>' ] && [ "$("${C[@]}" "$url/withindex/")" = 'sub index' ] \
    && pass index_html || fail index_html "root or /withindex/ did not give index.html"
[ "$("${C[@]}" "$url/9p/alias.txt")" = 'from the alias' ] && [ "$("${C[@]}" -o /dev/null -w '%{http_code}' "$url/9p/small.txt")" = 404 ] \
    && pass prefix_mapping || fail prefix_mapping "/9p/alias.txt or /9p/small.txt"
"${C[@]}" "$url/inside" | cmp -s - "$www/small.txt" && pass symlink_inside_root || fail symlink_inside_root "a link to a file inside the root was refused"

# ---- raw sockets: keep-alive, pipelining, malformed and hostile input ----
pyout=$("$PY" - "$port" "$port3" "$httpd" "$www" 2>&1 <<'PYEOF'
import os, random, select, socket, subprocess, sys, threading, time
port, port3, httpd, www = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
small = open(os.path.join(www, "small.txt"), "rb").read()
def ok(name): print(f"[PASS] httpd_host.{name}", flush=True)
def bad(name, why): print(f"[FAIL] httpd_host.{name}: {why}", flush=True)

def conn(p=port):
    s = socket.create_connection(("127.0.0.1", p), timeout=10)
    return s

def read_response(s, buf=b""):
    """One response (head and Content-Length body); returns (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d: raise EOFError(f"closed after {buf[:80]!r}")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, v = l.split(":", 1); hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    return status, hdrs, lines[0], rest, n

def get_body(s, rest, n, head_only=False):
    if head_only: return b"", rest
    while len(rest) < n:
        d = s.recv(65536)
        if not d: raise EOFError("body cut short")
        rest += d
    return rest[:n], rest[n:]

def exchange(data, p=port, wait=5):
    """Sends raw bytes, returns the status (int), 'closed' or 'timeout'."""
    try:
        s = conn(p); s.settimeout(wait)
        s.sendall(data)
        st, _, _, _, _ = read_response(s)
        s.close()
        return st
    except EOFError: return "closed"
    except socket.timeout: return "timeout"
    except ConnectionResetError: return "reset"

def alive():
    return exchange(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 200

# keep-alive and pipelining: three requests in one send, answers in order, then one more.
try:
    s = conn()
    s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /1m.bin HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    st1, _, _, rest, n = read_response(s); b1, rest = get_body(s, rest, n)
    st2, h2, _, rest, n = read_response(s, rest); b2, rest = get_body(s, rest, n, head_only=True)
    st3, _, _, rest, n = read_response(s, rest); b3, rest = get_body(s, rest, n)
    s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    st4, _, _, rest, n = read_response(s, rest); b4, rest = get_body(s, rest, n)
    s.close()
    if (st1, st2, st3, st4) == (200, 200, 200, 200) and b1 == small and h2.get("content-length") == "1048576" \
       and b3 == b"<h1>SABOS index</h1>\n" and b4 == small and rest == b"":
        ok("keepalive_pipelining")
    else: bad("keepalive_pipelining", f"statuses {st1} {st2} {st3} {st4}, extra {rest[:40]!r}")
except Exception as e: bad("keepalive_pipelining", repr(e))

# HTTP/1.0 without Host: answered, then closed; with keep-alive: kept open.
try:
    s = conn(); s.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
    st, h, _, rest, n = read_response(s); b, rest = get_body(s, rest, n)
    closed = s.recv(10) == b""
    s = conn(); s.sendall(b"GET /small.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    st2, h2, _, rest, n = read_response(s); b2, rest = get_body(s, rest, n)
    s.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
    st3, _, _, rest, n = read_response(s, rest)
    if st == 200 and b == small and closed and st2 == 200 and h2.get("connection") == "keep-alive" and st3 == 200:
        ok("http10")
    else: bad("http10", f"{st} closed={closed} {st2} {h2.get('connection')} {st3}")
except Exception as e: bad("http10", repr(e))

# Request body with Content-Length on GET is read and dropped; the next request still works.
try:
    s = conn()
    s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    st, _, _, rest, n = read_response(s); _, rest = get_body(s, rest, n)
    st2, _, _, rest, n = read_response(s, rest); b2, rest = get_body(s, rest, n)
    ok("request_body_dropped") if (st, st2, b2) == (200, 200, b"<h1>SABOS index</h1>\n") else bad("request_body_dropped", f"{st} {st2}")
except Exception as e: bad("request_body_dropped", repr(e))

# Malformed request lines and fields: the status each must get.
cases = [
    (b"GARBAGE\r\n\r\n", 400), (b"GET\r\n\r\n", 400), (b"GET /\r\n\r\n", 400),
    (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400), (b"GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400), (b"GET / http/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505), (b"GET / HTTP/3.1\r\nHost: x\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\n\r\n", 400), (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400), (b"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n", 413),
    (b"GET relative HTTP/1.1\r\nHost: x\r\n\r\n", 400), (b"GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /a%4 HTTP/1.1\r\nHost: x\r\n\r\n", 400), (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 405), (b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET http://example.org/small.txt HTTP/1.1\r\nHost: example.org\r\n\r\n", 200),
    (b"\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n", 200),
    (b"GET /small.txt HTTP/1.1\nHost: x\n\n", 200),
]
wrong = [f"{d[:30]!r} -> {got} (want {want})" for d, want in cases if (got := exchange(d)) != want]
ok("malformed_requests") if not wrong else bad("malformed_requests", "; ".join(wrong))

# Limits: request line (414), one 1 MiB header (431, sent while the answer comes), 101 fields (431).
st = exchange(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
ok("long_request_line_414") if st == 414 else bad("long_request_line_414", st)
def big_header():
    s = conn(); s.settimeout(10)
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * (1 << 20) + b"\r\n\r\n"
    def send():
        try: s.sendall(data)
        except OSError: pass
    t = threading.Thread(target=send, daemon=True); t.start()
    try: st, _, _, _, _ = read_response(s)
    except Exception as e: st = repr(e)
    s.close(); return st
st = big_header()
ok("header_1mib_431") if st == 431 else bad("header_1mib_431", st)
st = exchange(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\n")
st2 = exchange(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(98)) + b"\r\n")
ok("too_many_fields_431") if (st, st2) == (431, 200) else bad("too_many_fields_431", f"{st} {st2} (want 431 200)")

# NUL bytes in the target (raw and %00) and in a field value.
sts = [exchange(b"GET /small.txt\x00 HTTP/1.1\r\nHost: x\r\n\r\n"), exchange(b"GET /small.txt%00 HTTP/1.1\r\nHost: x\r\n\r\n"),
       exchange(b"GET /small.txt HTTP/1.1\r\nHost: x\r\nX-N: a\x00b\r\n\r\n"), exchange(b"\x00\x00\x00\r\n\r\n")]
ok("nul_bytes_400") if sts == [400, 400, 400, 400] else bad("nul_bytes_400", sts)

# Binary garbage: an error or a close, never a crash.
rnd = random.Random(8)
res = set()
for i in range(20):
    res.add(str(exchange(bytes(rnd.getrandbits(8) for _ in range(rnd.choice([1, 100, 5000, 30000]))), wait=4)))
ok("binary_garbage") if alive() and res <= {"400", "414", "431", "408", "closed", "reset", "505"} else bad("binary_garbage", f"answers {res}, alive {alive()}")

# Traversal: never the secret outside the root.
paths = [b"/../secret.txt", b"/../../secret.txt", b"/%2e%2e/secret.txt", b"/%2E%2E/secret.txt", b"/..%2fsecret.txt",
         b"/%2e%2e%2fsecret.txt", b"/list/../../secret.txt", b"/list/%2e%2e/%2e%2e/secret.txt",
         b"/%252e%252e/secret.txt", b"/..\\secret.txt", b"/list/..%5c..%5csecret.txt", b"/escape", b"/escape/",
         b"//../secret.txt", b"/./../secret.txt", b"/9p/../../secret.txt", b"http://x/../secret.txt"]
leaks = []
for p in paths:
    try:
        s = conn(); s.sendall(b"GET " + p + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while (d := s.recv(65536)): data += d
        s.close()
        st = int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else data[:20]
        if b"secret outside" in data or st not in (400, 403, 404): leaks.append(f"{p!r} -> {st}")
    except Exception as e: leaks.append(f"{p!r}: {e!r}")
ok("traversal") if not leaks else bad("traversal", "; ".join(leaks))

# The idle timeout (-t 2): a kept-alive connection is closed about 2 s after its answer.
try:
    s = conn(); s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    st, _, _, rest, n = read_response(s); get_body(s, rest, n)
    t0 = time.time(); s.settimeout(8); eof = s.recv(10) == b""; dt = time.time() - t0
    ok("idle_timeout") if st == 200 and eof and 1 <= dt <= 5 else bad("idle_timeout", f"eof {eof} after {dt:.1f} s")
except Exception as e: bad("idle_timeout", repr(e))

# Slowloris: 500 connections, half silent, half sending a partial head byte by byte. The server
# answers others meanwhile and ends every one with 408 (or a close) after -T 2 s.
socks = []
try:
    for i in range(500):
        s = socket.socket(); s.settimeout(5); s.connect(("127.0.0.1", port)); s.setblocking(False); socks.append(s)
    for s in socks[::2]: s.send(b"GET / HTTP/1.1\r\nHo")
    t0 = time.time()
    other = alive()
    closed, answered = set(), 0
    while len(closed) < len(socks) and time.time() - t0 < 10:
        r, _, _ = select.select([s for s in socks if s not in closed][:1000], [], [], 0.5)
        for s in r:
            try: d = s.recv(4096)
            except OSError: d = b""
            if d.startswith(b"HTTP/1.1 408"): answered += 1
            if not d or d.startswith(b"HTTP/1.1 408"): closed.add(s)
    dt = time.time() - t0
    if other and len(closed) == 500 and answered >= 250 and alive():
        ok("slowloris_500")
    else: bad("slowloris_500", f"others answered {other}, {len(closed)}/500 ended ({answered} with 408) in {dt:.1f} s")
except Exception as e: bad("slowloris_500", repr(e))
finally:
    for s in socks: s.close()

# The connection limit: a server with -c 4 gives the fifth connection 503 (or closes it).
srv = subprocess.Popen([httpd, "-p", str(port3), "-r", www, "-q", "-c", "4"], stderr=subprocess.DEVNULL)
try:
    for _ in range(50):
        try: socket.create_connection(("127.0.0.1", port3), timeout=1).close(); break
        except OSError: time.sleep(0.1)
    time.sleep(0.2)
    held = [conn(port3) for _ in range(4)]
    time.sleep(0.2)
    st = exchange(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n", p=port3)
    for s in held: s.close()
    time.sleep(0.3)
    st2 = exchange(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n", p=port3)
    ok("connection_limit_503") if st in (503, "closed", "reset") and st2 == 200 and srv.poll() is None \
        else bad("connection_limit_503", f"fifth got {st}, afterwards {st2}, server {srv.poll()}")
finally:
    srv.terminate(); srv.wait()
PYEOF
)
echo "$pyout"
npass=$((npass + $(grep -c '^\[PASS\]' <<<"$pyout")))
nfail=$((nfail + $(grep -c '^\[FAIL\]' <<<"$pyout")))
grep -q '^\[PASS\]' <<<"$pyout" || fail raw_checks "the python3 checks gave no verdict"

# ---- load ----
if command -v wrk >/dev/null; then
    out=$(timeout 30 wrk -t 2 -c 32 -d 5s "$url/small.txt" 2>&1); rc=$?
    reqs=$(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' <<<"$out")
    if [ $rc = 0 ] && [ "${reqs:-0}" -gt 0 ] && ! grep -q 'Socket errors' <<<"$out" && ! grep -q 'Non-2xx' <<<"$out"; then
        pass wrk_32
    else fail wrk_32 "rc $rc: $(tr '\n' ' ' <<<"$out")"; fi
    "${C[@]}" "$url/small.txt" | cmp -s - "$www/small.txt" && pass after_load || fail after_load "no normal answer after wrk"
else
    skip wrk_32 "wrk missing (scripts/deps.sh)"
fi

# ---- the access log and the server's health ----
if grep -qE '^127\.0\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} \+0000\] "GET /small\.txt HTTP/1\.1" 200 1024$' "$log" \
    && grep -qE '^::1 - - \[.*\] "GET /small\.txt HTTP/1\.1" 200 1024$' "$log" \
    && grep -qE '"GET /no/such/file HTTP/1\.1" 404 [0-9]+$' "$log" \
    && grep -qE '"HEAD /1m\.bin HTTP/1\.1" 200 -$' "$log" \
    && grep -qF '"G\x01T / HTTP/1.1" 400' "$log"; then
    pass access_log_clf
else fail access_log_clf "missing or malformed lines in $(wc -l < "$log") lines; first: $(head -2 "$log" | tr '\n' ' ')"; fi
if kill -0 $hpid 2>/dev/null; then pass still_running; else wait $hpid; fail still_running "httpd ended with status $?: $(tail -3 "$scratch/httpd.err")"; fi
echo "httpd_host: $npass passed, $nfail failed"
[ $nfail = 0 ]
