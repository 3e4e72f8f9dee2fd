"""tok_common.py - helpers for the tokenizer end-to-end checks: a tiny random llama model around a tokenizer
(so `octet tokenize` can open the file like any model), running `octet tokenize`, and shared test strings."""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from gguflib import GGMLType, GGUFValueType as V, GGUFWriter  # noqa: E402

# the first 399,827 bytes of the bundled model's KJV training text (tests/data/README.md)
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "kjv-train-head.txt")


def corpus_text(n_bytes=300_000):
    """The first n_bytes (at most 400,000) of the KJV training text, cut at a line end."""
    with open(CORPUS, "rb") as f:
        raw = f.read(n_bytes)
    raw = raw[: raw.rfind(b"\n") + 1]
    return raw.decode("utf-8")


def write_model(path, tok_kv, n_vocab, seed=0):
    """A 1-layer llama (dim 32, 2 heads, ffn 64) with random F32 weights and the given tokenizer.* keys."""
    rng = np.random.default_rng(seed)
    dim, ff, heads = 32, 64, 2
    w = GGUFWriter(path)
    w.add_kv("general.architecture", "llama")
    w.add_kv("general.name", "tok-test")
    w.add_kv("llama.context_length", 128, V.UINT32)
    w.add_kv("llama.embedding_length", dim, V.UINT32)
    w.add_kv("llama.block_count", 1, V.UINT32)
    w.add_kv("llama.feed_forward_length", ff, V.UINT32)
    w.add_kv("llama.rope.dimension_count", dim // heads, V.UINT32)
    w.add_kv("llama.attention.head_count", heads, V.UINT32)
    w.add_kv("llama.attention.head_count_kv", heads, V.UINT32)
    w.add_kv("llama.attention.layer_norm_rms_epsilon", 1e-5, V.FLOAT32)
    w.add_kv("llama.rope.freq_base", 10000.0, V.FLOAT32)
    w.add_kv("llama.vocab_size", n_vocab, V.UINT32)
    for k, v in tok_kv:
        if isinstance(v, tuple):
            w.add_kv(k, v[0], *v[1:])
        else:
            w.add_kv(k, v)

    def r(*shape):
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    w.add_tensor("token_embd.weight", r(n_vocab, dim))
    w.add_tensor("blk.0.attn_norm.weight", np.ones(dim, np.float32))
    for n in ("attn_q", "attn_k", "attn_v", "attn_output"):
        w.add_tensor(f"blk.0.{n}.weight", r(dim, dim))
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(dim, np.float32))
    w.add_tensor("blk.0.ffn_gate.weight", r(ff, dim))
    w.add_tensor("blk.0.ffn_up.weight", r(ff, dim))
    w.add_tensor("blk.0.ffn_down.weight", r(dim, ff))
    w.add_tensor("output_norm.weight", np.ones(dim, np.float32))
    w.add_tensor("output.weight", r(n_vocab, dim))
    w.write()


def octet_ids(octet, model, text, extra=()):
    """Token ids from `octet tokenize -m model -f FILE` (text is str or bytes). Control-token text is plain text
    unless extra asks for --parse-special (the oracles treat all input as text)."""
    if "--parse-special" not in extra:
        extra = ("--no-parse-special", *extra)
    data = text.encode("utf-8") if isinstance(text, str) else text
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
        name = f.name
    try:
        p = subprocess.run([octet, "tokenize", "-m", model, "-f", name, *extra], capture_output=True)
    finally:
        os.unlink(name)
    if p.returncode != 0:
        raise RuntimeError("octet tokenize failed (%d): %s" % (p.returncode, p.stderr.decode(errors="replace")))
    line = p.stdout.decode().strip()
    return [int(x) for x in line.split(",")] if line else []


def edge_strings():
    """Hand-picked cases: spaces, newlines, digits, punctuation, characters outside a KJV vocabulary."""
    return [
        "And God said, Let there be light: and there was light.",
        "In the beginning God created the heaven and the earth.",
        " leading space", "  two leading spaces", "trailing space ", "trailing spaces   ",
        "multiple   inner    spaces", "a\nb", "line one\nline two\n", "\n\nstarts with newlines",
        "ends with newlines\n\n", " \n \n ", "tab\tseparated\twords", "\r\nwindows\r\nlines",
        "1:1 2:3 10:12 123 4567 1234567890", "Genesis 1:1-3, 5; 7.", "3.14159 and 2,718",
        "it's IT'S they're WE'LL I'd you've", "don't won't can't", "'quoted' \"double\" (paren) [bracket]",
        "!!! ??? ... ;;; ---", "e-mail: someone@example.com", "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
        "\u00c9lan \u00e0 la fran\u00e7aise", "\u4e2d\u6587\u5b57\u7b26", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
        "emoji \U0001F600 and \U0001F680!", "\U0001F44D\U0001F3FD", "mixed \u4e2dEnglish\u6587 text",
        "Greek \u0391\u03b2\u03b3 and Cyrillic \u0416\u0436", "arabic \u0661\u0662\u0663 digits",
        "nbsp\u00a0here", "ideographic\u3000space", "zero\u200bwidth", "a", " ", "", "\n", "  ",
        "<s> not special </s>", "x" * 300, "the " * 50,
    ]
