"""Prompt caching, logprobs, echo, embeddings and GET /v1/models/{id} of `octet serve` (issue 19 items 3 and 4).

usage: server_features.py URL OCTET MODEL WORKDIR

Independent references:
  - logprobs: `octet logits` (the CLI evaluating the token ids from scratch) and a log-softmax in float64 with numpy;
    the greedy tokens are the argmax of those logits, found one call at a time (no server involved);
  - prompt caching: the same 10-turn conversation with cache_prompt false (everything evaluated again) must give the
    same replies and the same logprobs, printed to 17 digits: equal logits give equal numbers, so any difference in
    the logits of a reused cache shows (tests/unit/test_prefix_cache.c compares the logits themselves, memcmp);
  - embeddings: `octet embed` (the CLI's own loop over the public API), compared as float32 values, exactly.
Every request has a timeout.
"""
import base64
import json
import struct
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np

URL, OCTET, MODEL, WORK = sys.argv[1:5]
n_checks = 0


def check(cond, what):
    global n_checks
    n_checks += 1
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def req(path, body=None, method=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(URL + path, data=data, method=method,
                               headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def sse(path, body, timeout=60):
    r = urllib.request.Request(URL + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=timeout) as resp:
        text = resp.read().decode()
    ev = text.split("\n\n")
    check(ev[-1] == "" and ev[-2] == "data: [DONE]", "stream ends with [DONE]")
    return [json.loads(e[6:]) for e in ev[:-2]]


def logits_of(ids):
    out = f"{WORK}/logits.bin"
    subprocess.run([OCTET, "logits", "-m", MODEL, "-t", "2", "--tokens", ",".join(map(str, ids)), "-o", out],
                   check=True, stderr=subprocess.DEVNULL, timeout=60)
    V = np.fromfile(out, dtype="<f4").size // len(ids)
    return np.fromfile(out, dtype="<f4").reshape(len(ids), V).astype(np.float64)


def log_softmax(row):
    m = row.max()
    return row - (m + np.log(np.exp(row - m).sum()))


def piece(i):
    return req("/detokenize", {"tokens": [i]})[1]["content"]


# ---- GET /v1/models/{id} ---------------------------------------------------------------------------------------
st, lst = req("/v1/models")
mid = lst["data"][0]["id"]
st, one = req("/v1/models/" + mid)
check(st == 200 and one["id"] == mid and one["object"] == "model" and one == lst["data"][0], f"retrieve: {st} {one}")
st, e = req("/v1/models/no-such-model")
check(st == 404 and e["error"]["code"] == "model_not_found", f"unknown model id: {st} {e}")

# ---- logprobs against octet logits + numpy ---------------------------------------------------------------------
prompt = "And God said"
K, TOP = 6, 5
st, r = req("/v1/completions", {"prompt": prompt, "max_tokens": K, "temperature": 0, "logprobs": TOP, "echo": True,
                                "ignore_eos": True})
check(st == 200, f"completion with logprobs: {st} {r}")
lp = r["choices"][0]["logprobs"]
ids = req("/tokenize", {"content": prompt, "add_special": True})[1]["tokens"]
n_p = len(ids)
check(len(lp["tokens"]) == n_p + K and len(lp["token_logprobs"]) == n_p + K, f"echo: {n_p}+{K} entries")
check(lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None, "the first prompt token has no logprob")
check(r["choices"][0]["text"].startswith(prompt), "echo: the text starts with the prompt")
# greedy continuation found independently, one `octet logits` call per token
for k in range(K):
    L = logits_of(ids)
    ids.append(int(np.argmax(L[-1])))
L = logits_of(ids)
max_err = 0.0
for i in range(1, n_p + K):
    ref = log_softmax(L[i - 1])
    got = lp["token_logprobs"][i]
    max_err = max(max_err, abs(got - ref[ids[i]]))
    check(abs(got - ref[ids[i]]) < 2e-6, f"token {i}: logprob {got} vs numpy {ref[ids[i]]}")
    top = lp["top_logprobs"][i]
    ref_top = np.argsort(-ref, kind="stable")[:TOP]
    check(len(top) == len({piece(int(t)) for t in ref_top}), f"token {i}: {len(top)} alternatives")
    for t in ref_top:
        check(abs(top[piece(int(t))] - ref[t]) < 2e-6, f"token {i}: alternative {t}")
    if i >= n_p:
        check(lp["tokens"][i] == piece(ids[i]), f"token {i}: {lp['tokens'][i]!r} is the argmax {piece(ids[i])!r}")
gen = r["choices"][0]["text"][len(prompt):]
check(lp["text_offset"][n_p] == len(prompt.encode()), "text_offset of the first generated token")
check("".join(lp["tokens"][n_p:]) == gen, "the generated tokens spell the text")
print(f"logprobs: {n_p + K - 1} positions (prompt and generated) and their top {TOP} equal numpy's log-softmax of "
      f"`octet logits` (max error {max_err:.2g})")

# streamed: the same entries, split over the chunks (completions and chat)
body = {"prompt": prompt, "max_tokens": K, "temperature": 0, "logprobs": TOP, "ignore_eos": True}
st, plain = req("/v1/completions", body)
ev = sse("/v1/completions", dict(body, stream=True))
cat = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
for e in ev:
    l = e["choices"][0]["logprobs"]
    if l:
        for k in cat:
            cat[k] += l[k]
check(cat == plain["choices"][0]["logprobs"], "streamed legacy logprobs equal the non-streamed ones")
msgs = [{"role": "user", "content": "Who made the heaven and the earth?"}]
body = {"messages": msgs, "max_tokens": K, "temperature": 0, "logprobs": True, "top_logprobs": 3}
st, cr = req("/v1/chat/completions", body)
check(st == 200, f"chat logprobs: {cr}")
content = cr["choices"][0]["logprobs"]["content"]
check(len(content) == cr["usage"]["completion_tokens"] or cr["choices"][0]["finish_reason"] == "stop", "one entry per token")
check("".join(c["token"] for c in content) == cr["choices"][0]["message"]["content"], "chat: tokens spell the reply")
for c in content:
    check(bytes(c["bytes"]).decode("utf-8", "replace") == c["token"], "bytes are the token's")
    check(len(c["top_logprobs"]) == 3 and c["top_logprobs"][0]["logprob"] >= c["logprob"], "top_logprobs")
    check(all(a["logprob"] >= b["logprob"] for a, b in zip(c["top_logprobs"], c["top_logprobs"][1:])), "sorted")
ev = sse("/v1/chat/completions", dict(body, stream=True))
sc = [x for e in ev if e["choices"] and e["choices"][0].get("logprobs") for x in e["choices"][0]["logprobs"]["content"]]
check(sc == content, "streamed chat logprobs equal the non-streamed ones")
st, e = req("/v1/chat/completions", {"messages": msgs, "top_logprobs": 3})
check(st == 400 and e["error"]["param"] == "top_logprobs", "top_logprobs without logprobs is 400")
st, e = req("/v1/completions", {"prompt": "x", "logprobs": 6})
check(st == 400 and e["error"]["param"] == "logprobs", "legacy logprobs above 5 is 400")

# ---- prompt caching: a 10-turn chat ---------------------------------------------------------------------------
questions = ["Who made the heaven?", "And the earth?", "What was upon the deep?", "What said God?",
             "And was it good?", "What divided he?", "What called he the light?", "And the darkness?",
             "What was the evening?", "And the morning?"]


def converse(cache, replies=None):
    msgs, out = [{"role": "system", "content": "Answer briefly."}], []
    for i, q in enumerate(questions):
        msgs.append({"role": "user", "content": q})
        st, r = req("/v1/chat/completions", {"messages": msgs, "max_tokens": 5, "temperature": 0, "logprobs": True,
                                             "top_logprobs": 2, "cache_prompt": cache})
        check(st == 200, f"turn {i}: {st} {r}")
        out.append(r)
        msgs.append({"role": "assistant",
                     "content": replies[i] if replies else r["choices"][0]["message"]["content"]})
        if cache is True:  # another client in between: it must not take this conversation's slot (-np 2)
            req("/v1/completions", {"prompt": "Blessed are the meek", "max_tokens": 2})
    return out


on = converse(True)
off = converse(False, [r["choices"][0]["message"]["content"] for r in on])
cached = [r["usage"]["prompt_tokens_details"]["cached_tokens"] for r in on]
prompts = [r["usage"]["prompt_tokens"] for r in on]
check(all(r["usage"]["prompt_tokens_details"]["cached_tokens"] == 0 for r in off), "cache_prompt false: nothing reused")
check(all(b > a for a, b in zip(cached[1:], cached[2:])), f"cached_tokens grows: {cached}")
for i in range(1, len(on)):
    check(cached[i] >= prompts[i - 1], f"turn {i}: the whole previous prompt is reused ({cached[i]} < {prompts[i - 1]})")
for i, (a, b) in enumerate(zip(on, off)):
    check(a["choices"][0]["message"]["content"] == b["choices"][0]["message"]["content"], f"turn {i}: same reply")
    check(json.dumps(a["choices"][0]["logprobs"]) == json.dumps(b["choices"][0]["logprobs"]),
          f"turn {i}: logprobs with the cache equal those of a fresh evaluation")
print("10-turn chat: cached_tokens " + " ".join(map(str, cached)) + " of prompt_tokens " +
      " ".join(map(str, prompts)) + "; replies and logprobs equal those of cache_prompt false")

# ---- embeddings ------------------------------------------------------------------------------------------------
texts = ["In the beginning God created the heaven and the earth.", "Blessed are the meek", "hello"]
st, em = req("/v1/embeddings", {"input": texts, "model": mid})
check(st == 200 and em["object"] == "list" and len(em["data"]) == 3, f"embeddings: {st}")
check([d["index"] for d in em["data"]] == [0, 1, 2] and em["data"][0]["object"] == "embedding", "indices")
st, em64 = req("/v1/embeddings", {"input": texts, "encoding_format": "base64"})
for i, t in enumerate(texts):
    v = np.array(em["data"][i]["embedding"], dtype=np.float32)
    cli = np.array(json.loads(subprocess.run([OCTET, "embed", "-m", MODEL, "-t", "2", "-p", t], check=True,
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                             timeout=60).stdout), dtype=np.float32)
    check(v.shape == (one["meta"]["n_embd"],), "n_embd values")
    check(np.array_equal(v, cli), f"input {i}: server embedding equals `octet embed` (float32, exactly)")
    b = np.frombuffer(base64.b64decode(em64["data"][i]["embedding"]), dtype="<f4")
    check(np.array_equal(b, v), f"input {i}: base64 equals float")
    check(abs(np.linalg.norm(v.astype(np.float64)) - 1) < 1e-6, "L2-normalised")
check(not np.array_equal(em["data"][0]["embedding"], em["data"][1]["embedding"]), "different texts differ")
st, one_str = req("/v1/embeddings", {"input": texts[1]})
check(one_str["data"][0]["embedding"] == em["data"][1]["embedding"], "a string input equals the same array element")
tok = req("/tokenize", {"content": texts[1], "add_special": True})[1]["tokens"]
st, by_ids = req("/v1/embeddings", {"input": tok})
check(st == 200 and by_ids["data"][0]["embedding"] == em["data"][1]["embedding"], "token ids input")
check(one_str["usage"]["prompt_tokens"] == len(tok), "usage.prompt_tokens")
for bad, param in (({"input": ""}, "input"), ({"input": []}, "input"), ({}, "input"),
                   ({"input": "x", "dimensions": 8}, "dimensions"), ({"input": "x", "encoding_format": "hex"},
                                                                     "encoding_format")):
    st, e = req("/v1/embeddings", bad)
    check(st == 400 and e["error"]["param"] == param, f"embeddings {bad}: 400 on {param}: {st} {e}")
print("embeddings: equal `octet embed` exactly, float and base64, unit norm")
print(f"server features: {n_checks} checks passed")
