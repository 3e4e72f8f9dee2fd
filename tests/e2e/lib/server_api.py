"""Checks of `octet serve`'s HTTP API, every request made with curl over loopback.

usage: server_api.py URL OCTET MODEL

Independent references: greedy completions must equal `octet run --temp 0` (the CLI's own generation loop),
/tokenize must equal `octet tokenize`, SSE framing is checked against the event-stream format (each event
"data: ...\\n\\n", the last one "data: [DONE]"), response shapes against OpenAI's documented fields.
"""
import json
import subprocess
import sys

URL, OCTET, MODEL = sys.argv[1], sys.argv[2], sys.argv[3]
n_checks = 0


def check(cond, what):
    global n_checks
    n_checks += 1
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def curl(path, body=None, method=None, headers=(), raw=None, timeout=30):
    """Returns (status, body bytes)."""
    cmd = ["curl", "-s", "-N", "--max-time", str(timeout), "-w", "\n%{http_code}", URL + path]
    if method:
        cmd += ["-X", method]
    for h in headers:
        cmd += ["-H", h]
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    out = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, check=True).stdout
    text, _, code = out.rpartition(b"\n")
    return int(code), text


def jcurl(path, body=None, **kw):
    st, text = curl(path, body, **kw)
    try:
        return st, json.loads(text)
    except ValueError:
        check(False, f"{path}: body is not JSON: {text[:200]!r}")


def sse(path, body):
    """Stream a request; returns the list of decoded events (the last one must be [DONE])."""
    st, text = curl(path, body)
    check(st == 200, f"{path} stream: status {st}")
    s = text.decode()
    check(s.endswith("data: [DONE]\n\n"), f"{path} stream ends with data: [DONE]: {s[-80:]!r}")
    events = s.split("\n\n")
    check(events[-1] == "", "stream ends with a blank line")
    events = events[:-1]
    for e in events:
        check(e.startswith("data: ") and "\n" not in e, f"SSE event framing: {e[:80]!r}")
    check(events[-1] == "data: [DONE]", "last event is [DONE]")
    return [json.loads(e[6:]) for e in events[:-1]]


def error_shape(obj, what):
    check(isinstance(obj, dict) and isinstance(obj.get("error"), dict), f"{what}: error object")
    e = obj["error"]
    check(isinstance(e.get("message"), str) and e["message"], f"{what}: error.message")
    check(isinstance(e.get("type"), str), f"{what}: error.type")
    check("code" in e, f"{what}: error.code")


def cli_greedy(prompt, n):
    out = subprocess.run([OCTET, "run", "-m", MODEL, "-p", prompt, "-n", str(n), "--temp", "0",
                          "--no-display-prompt"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
    s = out.stdout.decode()
    return s[:-1] if s.endswith("\n") else s


# ---- /health, /v1/models -------------------------------------------------------------------------------------
st, h = jcurl("/health")
check(st == 200 and h.get("status") == "ok", f"/health 200 ok: {st} {h}")
st, m = jcurl("/v1/models")
check(st == 200 and m["object"] == "list" and len(m["data"]) == 1, "/v1/models list")
model_id = m["data"][0]["id"]
check(isinstance(model_id, str) and m["data"][0]["object"] == "model", "/v1/models entry")

# ---- completions: greedy text equals the CLI's -----------------------------------------------------------------
prompt = "And God said"
N = 16
st, r = jcurl("/v1/completions", {"model": "x", "prompt": prompt, "max_tokens": N, "temperature": 0})
check(st == 200, f"/v1/completions status {st}: {r}")
check(r["object"] == "text_completion" and r["id"].startswith("cmpl") and isinstance(r["created"], int), "shape")
check(r["model"] == model_id, "model id echoed")
c = r["choices"][0]
check(c["index"] == 0 and isinstance(c["text"], str), "choice shape")
u = r["usage"]
text = c["text"]
ref = cli_greedy(prompt, N)
check(text == ref[:len(text)] and (c["finish_reason"] == "stop" or text == ref),
      f"greedy text equals `octet run --temp 0`:\n server {text!r}\n cli    {ref!r}")
if c["finish_reason"] == "length":
    check(u["completion_tokens"] == N, "completion_tokens == max_tokens when finish_reason is length")
check(c["finish_reason"] in ("stop", "length"), "finish_reason")
st, t = jcurl("/tokenize", {"content": prompt, "add_special": True})
check(u["prompt_tokens"] == len(t["tokens"]), f"usage.prompt_tokens {u['prompt_tokens']} == tokens with BOS")
check(u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], "usage.total_tokens")

# prompt as ["text"] and as token ids give the same text
st, r2 = jcurl("/v1/completions", {"prompt": [prompt], "max_tokens": N, "temperature": 0})
check(st == 200 and r2["choices"][0]["text"] == text, "prompt as [string]")
st, r3 = jcurl("/v1/completions", {"prompt": t["tokens"], "max_tokens": N, "temperature": 0})
check(st == 200 and r3["choices"][0]["text"] == text, "prompt as token ids")

# max_tokens 0 and 1
st, r0 = jcurl("/v1/completions", {"prompt": prompt, "max_tokens": 0})
check(st == 200 and r0["choices"][0]["text"] == "" and r0["usage"]["completion_tokens"] == 0, "max_tokens 0")
check(r0["choices"][0]["finish_reason"] == "length", "max_tokens 0: length")

# ignore_eos: end-of-generation tokens do not end the reply; exactly max_tokens tokens come back. Checked over
# several seeds at a high temperature, so some draw an end-of-generation token early (counted, not assumed).
n_early = 0
for seed in range(6):
    body = {"prompt": "And it came to pass", "max_tokens": 48, "temperature": 1.5, "seed": seed}
    st, plain = jcurl("/v1/completions", body)
    check(st == 200, "sampled completion")
    n_early += plain["choices"][0]["finish_reason"] == "stop"
    st, ie = jcurl("/v1/completions", dict(body, ignore_eos=True))
    check(st == 200 and ie["usage"]["completion_tokens"] == 48 and ie["choices"][0]["finish_reason"] == "length",
          f"ignore_eos: {ie['usage']} {ie['choices'][0]['finish_reason']}")
print(f"ignore_eos: 6 replies of exactly 48 tokens ({n_early} of the same requests without it stopped early)")

# stop strings: cut before the first occurrence, finish_reason stop
long_ref = cli_greedy(prompt, 32)
cut = None
for k in range(3, len(long_ref) - 3):
    s = long_ref[k:k + 3]
    if long_ref.find(s) == k and s.strip():
        cut = (k, s)
        break
if cut:
    k, s = cut
    st, rs = jcurl("/v1/completions", {"prompt": prompt, "max_tokens": 32, "temperature": 0, "stop": [s, "\u00e9\u00e9\u00e9"]})
    check(st == 200, "stop request")
    check(rs["choices"][0]["text"] == long_ref[:k], f"stop {s!r}: {rs['choices'][0]['text']!r} vs {long_ref[:k]!r}")
    check(rs["choices"][0]["finish_reason"] == "stop", "stop: finish_reason stop")
    # streamed with the same stop string: same text, and the stop string never leaks out
    ev = sse("/v1/completions", {"prompt": prompt, "max_tokens": 32, "temperature": 0, "stop": s, "stream": True})
    check("".join(e["choices"][0]["text"] for e in ev) == long_ref[:k], "streamed stop text")
    check(ev[-1]["choices"][0]["finish_reason"] == "stop", "streamed stop finish_reason")

# seeds: equal seeds give equal text; sampling at temperature 1 differs between seeds (over a few tries)
req = {"prompt": prompt, "max_tokens": 24, "temperature": 1.0, "top_p": 0.95}
a = jcurl("/v1/completions", dict(req, seed=42))[1]["choices"][0]["text"]
b = jcurl("/v1/completions", dict(req, seed=42))[1]["choices"][0]["text"]
check(a == b, f"same seed, same text: {a!r} vs {b!r}")
others = [jcurl("/v1/completions", dict(req, seed=s))[1]["choices"][0]["text"] for s in (1, 2, 3)]
check(any(o != a for o in others), "different seeds give different text")

# ---- streaming completion -------------------------------------------------------------------------------------
ev = sse("/v1/completions", {"prompt": prompt, "max_tokens": N, "temperature": 0, "stream": True,
                             "stream_options": {"include_usage": True}})
check(all(e["object"] == "text_completion" for e in ev), "stream chunk object")
check(len({e["id"] for e in ev}) == 1, "one id per stream")
usage_ev = ev[-1]
check(usage_ev["choices"] == [] and usage_ev["usage"]["completion_tokens"] == u["completion_tokens"], "usage chunk")
ev = ev[:-1]
check(len(ev) >= 2, "several chunks")
check(all(e["choices"][0]["finish_reason"] is None for e in ev[:-1]), "finish_reason null until the end")
check(ev[-1]["choices"][0]["finish_reason"] == c["finish_reason"], "final finish_reason")
check("".join(e["choices"][0]["text"] for e in ev) == text, "streamed text equals the non-streamed text")

# ---- chat -------------------------------------------------------------------------------------------------------
msgs = [{"role": "system", "content": "You answer in the words of the King James Bible."},
        {"role": "user", "content": "Who made the heaven and the earth?"}]
st, r = jcurl("/v1/chat/completions", {"messages": msgs, "max_tokens": N, "temperature": 0})
check(st == 200, f"chat status {st}: {r}")
check(r["object"] == "chat.completion" and r["id"].startswith("chatcmpl"), "chat shape")
msg = r["choices"][0]["message"]
check(msg["role"] == "assistant" and isinstance(msg["content"], str), "chat message")
check(r["choices"][0]["finish_reason"] in ("stop", "length"), "chat finish_reason")
check(r["usage"]["completion_tokens"] <= N and r["usage"]["prompt_tokens"] > 10, "chat usage")
# content as an array of text parts is the same conversation
msgs_parts = [msgs[0], {"role": "user", "content": [{"type": "text", "text": "Who made the heaven "},
                                                    {"type": "text", "text": "and the earth?"}]}]
st, rp = jcurl("/v1/chat/completions", {"messages": msgs_parts, "max_tokens": N, "temperature": 0})
check(st == 200 and rp["choices"][0]["message"]["content"] == msg["content"], "content parts")
ev = sse("/v1/chat/completions", {"messages": msgs, "max_tokens": N, "temperature": 0, "stream": True})
check(all(e["object"] == "chat.completion.chunk" for e in ev), "chat chunk object")
check(ev[0]["choices"][0]["delta"].get("role") == "assistant", "first delta has the role")
check("".join(e["choices"][0]["delta"].get("content", "") for e in ev) == msg["content"], "chat stream text")
check(ev[-1]["choices"][0]["finish_reason"] == r["choices"][0]["finish_reason"], "chat stream finish_reason")

# ---- tokenize / detokenize --------------------------------------------------------------------------------------
text2 = "In the beginning God created the heaven and the earth. \u00e9\u4e2d"
st, t = jcurl("/tokenize", {"content": text2})
cli = subprocess.run([OCTET, "tokenize", "-m", MODEL, "-p", text2, "--no-bos"], stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL, check=True).stdout.decode()
cli_ids = [int(x) for x in cli.strip().split(",")]
check(st == 200 and t["tokens"] == cli_ids, f"/tokenize equals octet tokenize --no-bos: {t['tokens']} vs {cli_ids}")
st, tb = jcurl("/tokenize", {"content": text2, "add_special": True})
check(tb["tokens"] == [1] + cli_ids or tb["tokens"][1:] == cli_ids, "add_special adds BOS")
st, d = jcurl("/detokenize", {"tokens": t["tokens"]})
check(st == 200 and d["content"].lstrip(" ") == text2, f"detokenize round trip: {d!r}")
st, e = jcurl("/detokenize", {"tokens": [10 ** 9]})
check(st == 400, "detokenize: id outside the vocabulary is 400")
error_shape(e, "detokenize bad id")

# ---- errors -------------------------------------------------------------------------------------------------------
def expect_error(path, status, what, body=None, **kw):
    st, obj = jcurl(path, body, **kw)
    check(st == status, f"{what}: status {st}, expected {status}: {obj}")
    error_shape(obj, what)
    return obj


expect_error("/v1/completions", 400, "malformed JSON", raw=b'{"prompt": "x",')
expect_error("/v1/completions", 400, "not an object", raw=b'[1,2]')
expect_error("/v1/completions", 400, "empty body", raw=b'')
expect_error("/v1/chat/completions", 400, "invalid UTF-8", raw=b'{"messages":[{"role":"user","content":"\xff"}]}')
o = expect_error("/v1/completions", 400, "max_tokens wrong type", {"prompt": "x", "max_tokens": "16"})
check(o["error"]["param"] == "max_tokens", "param names the field")
expect_error("/v1/completions", 400, "temperature wrong type", {"prompt": "x", "temperature": "hot"})
expect_error("/v1/completions", 400, "temperature negative", {"prompt": "x", "temperature": -1})
expect_error("/v1/completions", 400, "top_p above 1", {"prompt": "x", "top_p": 1.5})
expect_error("/v1/completions", 400, "stream wrong type", {"prompt": "x", "stream": "yes"})
expect_error("/v1/completions", 400, "ignore_eos wrong type", {"prompt": "x", "ignore_eos": 1})
expect_error("/v1/completions", 400, "stop wrong type", {"prompt": "x", "stop": 5})
expect_error("/v1/completions", 400, "too many stops", {"prompt": "x", "stop": ["a", "b", "c", "d", "e"]})
expect_error("/v1/completions", 400, "seed wrong type", {"prompt": "x", "seed": 1.5})
expect_error("/v1/completions", 400, "missing prompt", {"max_tokens": 3})
expect_error("/v1/completions", 400, "negative max_tokens", {"prompt": "x", "max_tokens": -5})
expect_error("/v1/completions", 400, "n > 1", {"prompt": "x", "n": 2})
expect_error("/v1/chat/completions", 400, "messages missing", {"prompt": "x"})
expect_error("/v1/chat/completions", 400, "messages empty", {"messages": []})
expect_error("/v1/chat/completions", 400, "message without role", {"messages": [{"content": "x"}]})
expect_error("/v1/chat/completions", 400, "content wrong type", {"messages": [{"role": "user", "content": 3}]})
expect_error("/tokenize", 400, "tokenize without content", {"text": "x"})
expect_error("/detokenize", 400, "detokenize with strings", {"tokens": ["a"]})
o = expect_error("/v1/completions", 400, "prompt longer than the context",
                 {"prompt": "And the LORD spake unto Moses, saying, " * 40, "max_tokens": 1})
check(o["error"]["code"] == "context_length_exceeded", "code context_length_exceeded")
# so long in bytes that no tokenization could fit the context: refused by size, before tokenizing
o = expect_error("/v1/completions", 413, "prompt far longer than the context",
                 {"prompt": "And the LORD spake unto Moses, saying, " * 2000, "max_tokens": 1})
check(o["error"]["code"] == "prompt_too_large", "code prompt_too_large")
expect_error("/v1/completions", 413, "body over the cap", raw=b'{"prompt": "' + b"a" * (2 << 20) + b'"}')
expect_error("/v1/nothing", 404, "unknown route")
expect_error("/v1/completions", 405, "wrong method", method="GET")
expect_error("/health", 405, "wrong method on /health", method="POST", raw=b"{}")

# still alive and serving after all that
st, h = jcurl("/health")
check(st == 200, "alive after the error cases")
print(f"server_api: {n_checks} checks passed")
