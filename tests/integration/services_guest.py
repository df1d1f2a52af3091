#!/usr/bin/env python3
# services_guest.py: the raw-socket parts of tests/integration/services_guest.sh, against the
# booted guest's httpd and telnetd through QEMU's host forwards (HTTP/1.1 per RFC 9110/9112,
# telnet per RFC 854/855; docs/userland.md "httpd" and "telnetd" say what each answer must be).
#
#   services_guest.py head-no-body HTTP_PORT
#       HEAD /test/1m.bin on a connection the server closes: the head, and not one byte after it.
#   services_guest.py hostile HTTP_PORT TELNET_PORT
#       malformed request lines, limits (414, a 1 MiB header, too many fields), NUL bytes,
#       traversal (plain, %2e%2e, double-encoded, backslash, through the /9p prefix), binary
#       garbage, 500 connections that send nothing (slowloris: others are served meanwhile,
#       each ends with 408 or a close by httpd's 10 s head timeout, waited for up to 30 s
#       after the last connect), invalid telnet IAC sequences and binary garbage on telnet
#       sessions; then both services still serve.
#   services_guest.py serve-check NAME HTTP_PORT TELNET_PORT
#       check NAME: GET /hello.txt gives 200 and a new telnet session runs `echo`.
#   services_guest.py wait http|telnet PORT T0_NS LIMIT_S
#       polls the service until it answers (HTTP: GET /hello.txt gives 200; telnet: the
#       server's opening negotiation arrives); prints "back after MS ms" counted from T0_NS
#       (nanoseconds since the epoch) and exits 0, or prints "not back after LIMIT_S s", exit 1.
#
# Prints "[PASS] services_guest.NAME" / "[FAIL] services_guest.NAME: why" lines (the shell
# script counts them) and "services_guest: ..." information lines. Every wait is bounded.
# Through QEMU user networking a host connect always succeeds at once (slirp accepts it and
# only then connects to the guest), so "answered" always means bytes from the guest.
import random
import selectors
import socket
import sys
import threading
import time

# Files outside the document root /www whose contents must never come back: /etc/init.conf
# and /ahci/HELLO.TXT ("Hello from SABOS on SABOSAHCI"; not /HELLO.TXT: FAT names are
# case-insensitive and /www/hello.txt exists, so /9p/../HELLO.TXT is rightly that file).
OUTSIDE_MARKERS = (b"Hello from SABOS on SABOS", b"respawn")
HOST = "127.0.0.1"


def ok(name):
    print(f"[PASS] services_guest.{name}", flush=True)


def bad(name, why):
    print(f"[FAIL] services_guest.{name}: {why}", flush=True)


def info(text):
    print(f"services_guest: {text}", flush=True)


_connect_lock = threading.Lock()


def connect(port, timeout=10):
    """A TCP connection to HOST:port (socket timeout `timeout`). QEMU's slirp listens on a
    forwarded port with a backlog of 1: a SYN that comes while another connection waits for
    slirp's accept is dropped, and the host would send it again only 1 s later (then 3 s,
    7 s ...). So connections are opened one at a time by every thread, and an attempt that has
    no answer after 0.25 s (on loopback: a dropped SYN) is given up and made again."""
    end = time.time() + timeout
    with _connect_lock:
        while True:
            try:
                s = socket.create_connection((HOST, port), timeout=0.25)
                break
            except socket.timeout:
                if time.time() > end:
                    raise
        time.sleep(0.002)
    s.settimeout(timeout)
    return s


def read_head(s, buf=b""):
    """Reads one response head; returns (status, {field: value}, bytes after the head)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError(f"closed after {buf[:60]!r}")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        fields[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), fields, rest


def read_all(s, limit_s):
    """Reads until the peer closes (or limit_s passes); returns what came and whether it closed."""
    s.settimeout(limit_s)
    data = b""
    end = time.time() + limit_s
    try:
        while time.time() < end:
            d = s.recv(65536)
            if not d:
                return data, True
            data += d
    except (socket.timeout, OSError):
        pass
    return data, False


def exchange(port, data, wait=10):
    """Sends raw bytes; returns the answer's status (int), 'closed', 'reset' or 'timeout'."""
    try:
        s = connect(port, wait)
        s.settimeout(wait)
        try:
            s.sendall(data)
        except OSError:
            pass
        st, _, _ = read_head(s)
        s.close()
        return st
    except EOFError:
        return "closed"
    except socket.timeout:
        return "timeout"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"


def http_alive(port, wait=10):
    return exchange(port, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", wait) == 200


# ---- telnet: a raw client that refuses TERMINAL-TYPE and NAWS ----
IAC, WILL, WONT, DO, DONT, SB, SE = 255, 251, 252, 253, 254, 250, 240


def telnet_session(port, wait=15):
    """A raw telnet session whose shell has prompted; returns the socket or raises."""
    s = connect(port, wait)
    got, end = b"", time.time() + wait
    s.settimeout(1)
    while bytes([IAC, DO, 24]) not in got and time.time() < end:
        try:
            d = s.recv(4096)
        except socket.timeout:
            continue
        if not d:
            raise EOFError("closed before its opening negotiation")
        got += d
    s.sendall(bytes([IAC, WONT, 24, IAC, WONT, 31, IAC, DO, 1, IAC, DO, 3]))
    telnet_read_until(s, b"$ ", wait)
    return s


def telnet_read_until(s, want, wait):
    """Reads until want has come; returns all of it, raises on a timeout or close."""
    got, end = b"", time.time() + wait
    s.settimeout(0.5)
    while want not in got:
        if time.time() > end:
            raise TimeoutError(f"no {want!r} within {wait} s; got {got[-120:]!r}")
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        if not d:
            raise EOFError(f"closed before {want!r}; got {got[-120:]!r}")
        got += d
    return got


def telnet_alive(port, token):
    """A new raw session runs `echo TOKEN`; returns '' or what went wrong."""
    try:
        s = telnet_session(port)
        s.sendall(f"echo {token}\r\n".encode())
        telnet_read_until(s, f"\n{token}\r\n".encode(), 15)
        s.sendall(b"exit\r\n")
        s.close()
        return ""
    except Exception as e:  # any failure is the answer
        return repr(e)


# ---- head-no-body ----
def head_no_body(port):
    try:
        s = connect(port)
        s.sendall(b"HEAD /test/1m.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        st, fields, rest = read_head(s)
        more, closed = read_all(s, 10)
        rest += more
        if st == 200 and fields.get("content-length") == "1048576" and rest == b"" and closed:
            ok("head_no_body")
        else:
            bad("head_no_body", f"status {st}, Content-Length {fields.get('content-length')}, "
                                f"{len(rest)} bytes after the head, closed {closed}")
    except Exception as e:
        bad("head_no_body", repr(e))


# ---- hostile ----
def hostile(http, telnet):
    # Binary garbage first, in the background: a blob without an empty line waits for the
    # head timeout (10 s), so the blobs run while the other checks do.
    rnd = random.Random(8)
    blobs = [bytes(rnd.getrandbits(8) for _ in range(n)) for n in (1, 100, 5000, 30000, 100, 5000, 1, 30000)]
    garbage = [None] * len(blobs)

    def send_blob(i):
        garbage[i] = str(exchange(http, blobs[i], wait=30))
    threads = [threading.Thread(target=send_blob, args=(i,), daemon=True) for i in range(len(blobs))]
    for t in threads:
        t.start()

    cases = [
        (b"GARBAGE\r\n\r\n", 400), (b"GET\r\n\r\n", 400), (b"GET /\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400), (b"GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400), (b"GET / http/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505), (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n", 413),
        (b"GET relative HTTP/1.1\r\nHost: x\r\n\r\n", 400), (b"GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n", 400), (b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
    ]
    wrong = [f"{d[:24]!r} -> {got} (want {want})" for d, want in cases if (got := exchange(http, d)) != want]
    ok("malformed_request_lines") if not wrong else bad("malformed_request_lines", "; ".join(wrong))

    st = exchange(http, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    ok("long_request_line_414") if st == 414 else bad("long_request_line_414", f"got {st}")

    # One 1 MiB header field, sent while the answer is read: 431, or the connection closed.
    try:
        s = connect(http, 20)
        data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * (1 << 20) + b"\r\n\r\n"

        def push():
            try:
                s.sendall(data)
            except OSError:
                pass
        t = threading.Thread(target=push, daemon=True)
        t.start()
        try:
            st, _, _ = read_head(s)
        except EOFError:
            st = "closed"
        except (ConnectionResetError, BrokenPipeError):
            st = "reset"
        s.close()
    except Exception as e:
        st = repr(e)
    ok("header_1mib") if st in (431, "closed", "reset") else bad("header_1mib", f"got {st} (want 431 or a close)")
    st = exchange(http, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\n")
    ok("too_many_fields_431") if st == 431 else bad("too_many_fields_431", f"got {st}")

    sts = [exchange(http, b"GET /hello.txt\x00 HTTP/1.1\r\nHost: x\r\n\r\n"),
           exchange(http, b"GET /hello.txt%00 HTTP/1.1\r\nHost: x\r\n\r\n"),
           exchange(http, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-N: a\x00b\r\n\r\n"),
           exchange(http, b"\x00\x00\x00\r\n\r\n")]
    ok("nul_bytes_400") if sts == [400, 400, 400, 400] else bad("nul_bytes_400", f"got {sts} (want 400 x4)")

    # Traversal out of /www (and out of the /9p prefix): never a file from outside.
    paths = [b"/../etc/init.conf", b"/../../ahci/HELLO.TXT", b"/%2e%2e/etc/init.conf", b"/%2E%2E/ahci/HELLO.TXT",
             b"/..%2fetc/init.conf", b"/%2e%2e%2fahci%2fHELLO.TXT", b"/test/../../etc/init.conf",
             b"/test/%2e%2e/%2e%2e/ahci/HELLO.TXT", b"/%252e%252e/etc/init.conf", b"/%252e%252e%252fetc/init.conf",
             b"/..\\etc\\init.conf", b"/test/..%5c..%5cetc/init.conf", b"//../etc/init.conf", b"/./../etc/init.conf",
             b"/9p/../etc/init.conf", b"/9p/../../etc/init.conf", b"/9p/%2e%2e/ahci/HELLO.TXT",
             b"/9p/%2e%2e/%2e%2e/etc/init.conf", b"/9p/%252e%252e/etc/init.conf", b"http://x/../etc/init.conf"]
    leaks = []
    for p in paths:
        try:
            s = connect(http)
            s.sendall(b"GET " + p + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data, _ = read_all(s, 10)
            s.close()
            st = int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else data[:20]
            if any(m in data for m in OUTSIDE_MARKERS) or st not in (400, 403, 404):
                leaks.append(f"{p!r} -> {st}")
        except Exception as e:
            leaks.append(f"{p!r}: {e!r}")
    ok("traversal") if not leaks else bad("traversal", "; ".join(leaks))

    # Slowloris: 500 connections that send nothing. Others are answered while they are held
    # (HTTP and telnet); httpd ends each with 408 or a close after its head timeout (10 s).
    socks, sel = [], selectors.DefaultSelector()
    try:
        for _ in range(500):
            s = connect(http, 10)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            socks.append(s)
        t0 = time.time()
        http_during = http_alive(http)
        telnet_during = telnet_alive(telnet, "during-slowloris")
        ended, answered = 0, 0
        while ended < len(socks) and time.time() - t0 < 30:
            for key, _ in sel.select(0.5):
                s = key.fileobj
                try:
                    d = s.recv(4096)
                except OSError:
                    d = b""
                if d.startswith(b"HTTP/1.1 408"):
                    answered += 1
                sel.unregister(s)
                ended += 1
        dt = time.time() - t0
        info(f"slowloris: {ended} of 500 silent connections ended ({answered} with 408) {dt:.1f} s after the last connect")
        if http_during and telnet_during == "" and ended == 500:
            ok("slowloris_500")
        else:
            bad("slowloris_500", f"HTTP answered meanwhile: {http_during}, telnet meanwhile: '{telnet_during or 'ok'}', "
                                 f"{ended}/500 ended ({answered} with 408) within {dt:.1f} s; the others got "
                                 f"neither an answer nor a close")
    except Exception as e:
        bad("slowloris_500", repr(e))
    finally:
        for s in socks:
            s.close()

    for t in threads:
        t.join(40)
    allowed = {"400", "408", "414", "431", "505", "closed", "reset"}
    res = set(garbage)
    ok("binary_garbage_http") if res <= allowed else bad("binary_garbage_http", f"answers {sorted(map(str, res))}")

    # Invalid telnet IAC sequences: refusals, unknown commands, a stray SE, an unfinished
    # subnegotiation for an option that is off, a short NAWS; then a command still runs.
    try:
        s = telnet_session(telnet)
        bad_iac = b"".join([
            bytes([IAC, WILL, 200, IAC, DO, 200]) + bytes([IAC, WONT, 200, IAC, DONT, 200]) * 20,
            bytes([IAC, 1, IAC, 128, IAC, SE, IAC, 241, IAC, 249, IAC, 242]),
            bytes([IAC, SB, 31, 0, 80, IAC, SE]),
            bytes([IAC, SB, 99]) + b"x" * 200 + bytes([IAC, SE]),
            bytes([IAC, SB, 24, IAC, IAC, IAC, 1]),
            bytes([IAC, DO, 1, IAC, DONT, 1, IAC, DONT, 1, IAC, DO, 1]),
        ])
        s.sendall(bad_iac)
        s.sendall(b"echo iac-ok\r\n")
        telnet_read_until(s, b"\niac-ok\r\n", 15)
        s.sendall(b"exit\r\n")
        s.close()
        ok("telnet_invalid_iac")
    except Exception as e:
        bad("telnet_invalid_iac", repr(e))
    # Binary garbage (no CR or LF: no line runs) from a client that then vanishes.
    try:
        s = telnet_session(telnet)
        junk = bytes(b for b in (rnd.getrandbits(8) for _ in range(16384)) if b not in (4, 10, 13))
        s.sendall(junk)
        s.close()
        why = telnet_alive(telnet, "after-garbage")
        ok("telnet_binary_garbage") if why == "" else bad("telnet_binary_garbage", f"next session: {why}")
    except Exception as e:
        bad("telnet_binary_garbage", repr(e))

    serve_check("both_serve_afterwards", http, telnet)


def serve_check(name, http, telnet):
    """Check NAME: GET /hello.txt gives 200 and a new telnet session runs a command."""
    why = telnet_alive(telnet, "still-serving")
    http_ok = http_alive(http)
    ok(name) if http_ok and why == "" else bad(name, f"HTTP answered: {http_ok}, telnet: '{why or 'ok'}'")


# ---- wait ----
def probe(kind, port):
    """One attempt; true when the service answered."""
    try:
        s = connect(port, 1)
        s.settimeout(0.5)
        if kind == "http":
            s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            st, _, _ = read_head(s)
            s.close()
            return st == 200
        got = b""
        while bytes([IAC, DO, 24]) not in got:
            d = s.recv(4096)
            if not d:
                return False
            got += d
        s.close()
        return True
    except (OSError, EOFError, ValueError, IndexError):
        return False


def wait(kind, port, t0_ns, limit_s):
    end = t0_ns / 1e9 + limit_s
    while time.time() < end:
        if probe(kind, port):
            print(f"back after {(time.time_ns() - t0_ns) // 1000000} ms", flush=True)
            return 0
        time.sleep(0.05)
    print(f"not back after {limit_s} s", flush=True)
    return 1


def main(argv):
    if len(argv) == 3 and argv[1] == "head-no-body":
        head_no_body(int(argv[2]))
        return 0
    if len(argv) == 4 and argv[1] == "hostile":
        hostile(int(argv[2]), int(argv[3]))
        return 0
    if len(argv) == 5 and argv[1] == "serve-check":
        serve_check(argv[2], int(argv[3]), int(argv[4]))
        return 0
    if len(argv) == 6 and argv[1] == "wait" and argv[2] in ("http", "telnet"):
        return wait(argv[2], int(argv[3]), int(argv[4]), float(argv[5]))
    print("usage: services_guest.py head-no-body HTTP_PORT | hostile HTTP_PORT TELNET_PORT | "
          "serve-check NAME HTTP_PORT TELNET_PORT | wait http|telnet PORT T0_NS LIMIT_S", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
