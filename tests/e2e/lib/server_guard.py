"""Hostile and odd clients against `octet serve` (issue 19 item 6), over raw sockets with timeouts on everything.

usage: server_guard.py PORT PID PHASE
  PHASE main: the server runs with --read-timeout 2 --max-conn-per-addr 8 (no --cors)
  PHASE cors: the server runs with --cors https://app.example
Each case prints one line. A "normal client" is a plain completion request from 127.0.0.1 that must be answered
within 1 s while the attack goes on; attackers use other loopback source addresses (127.0.0.2, 127.0.0.3, ...), as
separate machines would.
"""
import json
import os
import socket
import sys
import threading
import time

PORT, PID, PHASE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
SCALE = float(os.environ.get("GUARD_TIME_SCALE", "1"))  # > 1 only for sanitizer runs (memory checks, not speed)
n_checks = 0


def check(cond, what):
    global n_checks
    n_checks += 1
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def connect(src="127.0.0.1", timeout=10):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", PORT))
    return s


def read_all(s, limit=1 << 22):
    out = b""
    try:
        while len(out) < limit:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def http(method, path, body=b"", headers=(), src="127.0.0.1", timeout=10, ctype="application/json"):
    s = connect(src, timeout)
    h = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    if ctype:
        h += f"Content-Type: {ctype}\r\n"
    for x in headers:
        h += x + "\r\n"
    if body or method == "POST":
        h += f"Content-Length: {len(body)}\r\n"
    s.sendall(h.encode() + b"\r\n" + body)
    raw = read_all(s)
    s.close()
    return parse(raw)


def parse(raw):
    """(status, headers dict lower-case, body bytes), skipping interim 1xx answers."""
    while raw.startswith(b"HTTP/1.1 1"):
        raw = raw[raw.index(b"\r\n\r\n") + 4:]
    if not raw:
        return 0, {}, b""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    st = int(lines[0].split()[1])
    hd = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hd[k.strip().lower()] = v.strip()
    if hd.get("transfer-encoding") == "chunked":
        dec = b""
        while body:
            n, _, rest = body.partition(b"\r\n")
            n = int(n, 16)
            if n == 0:
                break
            dec += rest[:n]
            body = rest[n + 2:]
        body = dec
    return st, hd, body


def normal(what, limit=1.0):
    t0 = time.time()
    st, _, body = http("POST", "/v1/completions", json.dumps({"prompt": "And God said", "max_tokens": 2}).encode(),
                       timeout=10)
    dt = time.time() - t0
    check(st == 200 and b'"choices"' in body, f"{what}: the normal client got {st} {body[:200]!r}")
    check(dt < limit * SCALE, f"{what}: the normal client waited {dt:.2f} s")
    return dt


def rss_kb():
    with open(f"/proc/{PID}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])


def is_error(body, code=None):
    try:
        e = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(e.get("message"), str) and (code is None or e.get("code") == code)


if PHASE == "cors":
    st, hd, _ = http("OPTIONS", "/v1/chat/completions", ctype=None, headers=(
        "Origin: https://app.example", "Access-Control-Request-Method: POST",
        "Access-Control-Request-Headers: authorization, content-type, x-stainless-os"))
    check(st == 204, f"preflight: {st}")
    check(hd.get("access-control-allow-origin") == "https://app.example", f"preflight origin: {hd}")
    check("POST" in hd.get("access-control-allow-methods", ""), "preflight methods")
    check("x-stainless-os" in hd.get("access-control-allow-headers", ""), "preflight headers echo the request's")
    st, hd, _ = http("GET", "/v1/models", headers=("Origin: https://app.example",), ctype=None)
    check(st == 200 and hd.get("access-control-allow-origin") == "https://app.example", "CORS header on answers")
    st, hd, _ = http("POST", "/v1/completions", b"{}", ctype="text/plain", headers=("Origin: https://evil.example",))
    check(st == 415, "a text/plain POST (a 'simple' cross-site request) is refused")
    print(f"--cors: preflight 204 with origin, methods, headers; answers carry the origin ({n_checks} checks)")
    sys.exit(0)

# ---- methods, media types, CORS off ----------------------------------------------------------------------------
st, hd, body = http("GET", "/v1/completions", ctype=None)
check(st == 405 and hd.get("allow") == "POST" and is_error(body, "method_not_allowed"), f"405 Allow: {st} {hd}")
st, hd, body = http("DELETE", "/v1/models", ctype=None)
check(st == 405 and hd.get("allow") == "GET, HEAD", f"405 Allow on /v1/models: {hd}")
st, hd, body = http("POST", "/v1/completions", b'{"prompt": "x"}', ctype="text/plain")
check(st == 415 and is_error(body, "unsupported_media_type"), f"text/plain POST: {st} {body!r}")
st, hd, body = http("POST", "/v1/completions", b'{"prompt": "x"}', ctype="application/x-www-form-urlencoded")
check(st == 415, "form POST: 415")
st, hd, body = http("POST", "/v1/completions", b'{"prompt": "x", "max_tokens": 1}', ctype="application/json; charset=utf-8")
check(st == 200, f"application/json with a charset is JSON: {st}")
st, hd, body = http("OPTIONS", "/v1/completions", ctype=None, headers=("Origin: https://app.example",))
check(st == 405 and "access-control-allow-origin" not in hd, f"CORS off: OPTIONS is 405, no CORS headers: {st} {hd}")
print("methods: 405 with Allow; POSTs must be application/json (415); CORS off by default")

# ---- prompts refused by size before tokenizing: 16 clients with ~1 MiB each ------------------------------------
rss0 = rss_kb()
peak = [rss0]
stop = threading.Event()


def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], rss_kb())
        time.sleep(0.005)


big = json.dumps({"prompt": "And God said " * 80000, "max_tokens": 4}).encode()  # 1,040,000 bytes of prompt
check(len(big) < (1 << 20), "under the body cap, so the prompt limit is what refuses it")
res = []


def big_client(i):
    t0 = time.time()
    st, _, body = http("POST", "/v1/completions", big, timeout=30, src="127.0.1.%d" % (i + 1))
    res.append((st, is_error(body, "prompt_too_large"), time.time() - t0))


th = threading.Thread(target=sample)
th.start()
cl = [threading.Thread(target=big_client, args=(i,)) for i in range(16)]
for t in cl:
    t.start()
dt = normal("16 clients sending 1 MiB prompts", limit=2.0)
for t in cl:
    t.join(60)
stop.set()
th.join()
check(len(res) == 16 and all(r[0] == 413 and r[1] for r in res), f"1 MiB prompts: 413 with a JSON error: {res[:3]}")
if "asan" not in os.environ.get("OCTET", ""):  # sanitizer builds keep freed memory in quarantine
    check((peak[0] - rss0) < 100 * 1024, f"peak RSS {peak[0] - rss0} kB above idle")
print(f"16 x 1 MiB prompts: all 413 in at most {max(r[2] for r in res):.2f} s; peak RSS +{(peak[0] - rss0) / 1024:.1f} MB "
      f"above idle; a normal client meanwhile in {dt * 1e3:.0f} ms")

# chunked body: refused once over the cap, while the client is still sending
s = connect("127.0.0.5", timeout=10)
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
chunk = b"a" * 65536
sent, got = 0, b""
s.settimeout(0.01)
try:
    while sent < (8 << 20):
        s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        sent += len(chunk)
        try:
            got += s.recv(65536)
            if got:
                break
        except socket.timeout:
            pass
except (BrokenPipeError, ConnectionResetError):
    pass
s.settimeout(5)
got += read_all(s)
s.close()
st, hd, body = parse(got)
check(st == 413 and is_error(body, "body_too_large"), f"chunked body over the cap: {st} {got[:200]!r}")
check(sent < (8 << 20), f"refused while sending: {sent} bytes sent")
print(f"chunked body: 413 seen after {sent >> 10} KiB were sent (cap 1024 KiB; the rest sat in socket buffers), "
      "before its end (8 MiB)")

# ---- half-closed clients still get their answer ----------------------------------------------------------------
for stream in (False, True):
    s = connect()
    body = json.dumps({"prompt": "And God said", "max_tokens": 8, "stream": stream}).encode()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
              % len(body) + body)
    s.shutdown(socket.SHUT_WR)
    st, hd, b = parse(read_all(s))
    s.close()
    check(st == 200 and (b"data: [DONE]" in b if stream else b'"choices"' in b), f"half-closed (stream {stream}): {st} {b[:200]!r}")
print("half-closed clients: answered (streamed and not)")

# ---- the total read deadline (2 s here): slow senders are cut, others served meanwhile -------------------------
slow = []
for i in range(4):
    s = connect("127.0.0.3")
    s.sendall(b"POST /v1/completions HTTP/1.1\r\n")
    slow.append(s)
t0 = time.time()
cut = [None] * len(slow)
while time.time() - t0 < 6 and None in cut:
    for i, s in enumerate(slow):
        if cut[i] is not None:
            continue
        try:
            s.sendall(b"X")  # one byte of a header line every 0.25 s: never inactive
            s.settimeout(0.001)
            if s.recv(1) == b"":
                cut[i] = time.time() - t0
        except socket.timeout:
            pass
        except OSError:
            cut[i] = time.time() - t0
    if time.time() - t0 > 0.5 and time.time() - t0 < 0.8:
        normal("4 slow senders")
    time.sleep(0.25)
for s in slow:
    s.close()
check(all(c is not None and 1.5 < c < 4 for c in cut), f"slow senders cut near the 2 s deadline: {cut}")
print("slow senders (a byte every 0.25 s): cut after " + ", ".join(f"{c:.1f}" for c in cut) + " s (deadline 2 s)")

# ---- idle sockets: 600 from one address; the cap (8 here) answers the rest 503 + Retry-After --------------------
socks, answers = [], []
for i in range(600):
    try:
        socks.append(connect("127.0.0.2", timeout=5))
    except OSError as e:
        answers.append(("connect", str(e)))
dt = normal("600 idle sockets")
n503 = n_ra = 0
for s in socks[8:]:
    s.settimeout(2)
    raw = read_all(s, 4096)
    st, hd, body = parse(raw)
    if st == 503 and is_error(body, "too_many_connections"):
        n503 += 1
        n_ra += hd.get("retry-after") == "1"
for s in socks:
    s.close()
check(n503 >= 550 and n_ra == n503, f"idle sockets over the cap: {n503} of {len(socks) - 8} answered 503 + Retry-After")
print(f"600 idle sockets from one address: {n503} answered 503 with Retry-After; a normal client served in "
      f"{dt * 1e3:.0f} ms")
normal("after the attacks")
print(f"server guard: {n_checks} checks passed")
