#!/usr/bin/python3
"""tok_bpe_ref.py - an independent byte-level BPE ("gpt2") tokenizer in Python, and an end-to-end check of
octet's against it.

The reference is written from the published definitions, not from octet's C code:
  - pre-tokenizers are the original regexes run by Python's `re` (a backtracking engine, like std::regex and
    the Rust/Oniguruma engines), with \\p{L}, \\p{N} and \\s spelled out as explicit classes from unicodedata and
    the Unicode White_Space list (Python's own \\s also matches U+001C..U+001F, which Unicode does not);
    "default" is llama.cpp's chain of four regexes, each applied to every piece the previous one left;
  - bytes map to GPT-2's bytes_to_unicode alphabet (OpenAI's encoder.py);
  - BPE is GPT-2's classic loop: merge every occurrence of the lowest-ranked adjacent pair, repeat;
  - for the llama-3 pre-tokenizer, a word that is already a token is not merged (Hugging Face's ignore_merges,
    which llama.cpp copies).
The check trains ~300 merges on the start of the KJV corpus, writes GGUFs with pre = gpt-2, llama-bpe, qwen2
and default, and compares `octet tokenize` with the reference on corpus lines and edge cases.
Usage: tok_bpe_ref.py OCTET WORKDIR
"""
import collections
import os
import re
import sys
import unicodedata

WHITE_SPACE = [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F,
               0x205F, 0x3000]


def _ranges(pred):
    out, start, prev = [], None, None
    for cp in range(0x110000):
        if pred(cp):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            out.append((start, prev))
            start = None
    if start is not None:
        out.append((start, prev))
    return "".join("\\U%08x-\\U%08x" % (a, b) if a != b else "\\U%08x" % a for a, b in out)


_cat = [unicodedata.category(chr(c))[0] for c in range(0x110000)]
_ws = set(WHITE_SPACE)
L = _ranges(lambda c: _cat[c] == "L")
N = _ranges(lambda c: _cat[c] == "N")
S = _ranges(lambda c: c in _ws)
# llama.cpp's std::regex fallback sees ASCII by value and other codepoints by category (whitespace first)
P_DEFAULT = re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_{|}~") + _ranges(lambda c: c >= 128 and c not in _ws and
                                                                      _cat[c] == "P")
N_COLLAPSED = "0-9" + _ranges(lambda c: c >= 128 and c not in _ws and _cat[c] == "N")

GPT2 = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[%s]+| ?[%s]+| ?[^%s%s%s]+|[%s]+(?![^%s])|[%s]+"
                  % (L, N, S, L, N, S, S, S))


def _llama3(digits):
    return re.compile(r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n%s%s]?[%s]+|[%s]%s"
                      r"| ?[^%s%s%s]+[\r\n]*|[%s]*[\r\n]+|[%s]+(?![^%s])|[%s]+"
                      % (L, N, L, N, digits, S, L, N, S, S, S, S))


LLAMA3 = _llama3("{1,3}")
QWEN2 = _llama3("")
PUNCT_RUNS = re.compile("[%s]+" % P_DEFAULT)
NUM_RUNS = re.compile("[%s]+" % N_COLLAPSED)
DIGIT3 = re.compile("[0-9][0-9][0-9]")

PRE = {"gpt-2": [GPT2], "llama-bpe": [LLAMA3], "qwen2": [QWEN2], "default": [PUNCT_RUNS, GPT2, NUM_RUNS, DIGIT3]}


def split(pieces, rx):
    out = []
    for p in pieces:
        pos = 0
        for m in rx.finditer(p):
            if m.start() > pos:
                out.append(p[pos:m.start()])
            out.append(m.group())
            pos = m.end()
        if pos < len(p):
            out.append(p[pos:])
    return out


def pretokenize(text, pre):
    pieces = [text] if text else []
    for rx in PRE[pre]:
        pieces = split(pieces, rx)
    return pieces


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()


def byte_encode(word):
    return "".join(B2U[b] for b in word.encode("utf-8"))


def train(text, n_merges):
    """Plain BPE training on GPT-2 pre-tokenized words: merge the most frequent pair, ties by the pair."""
    words = collections.Counter(byte_encode(w) for w in pretokenize(text, "gpt-2"))
    segs = {w: list(w) for w in words}
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, c in words.items():
            s = segs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        for w in words:
            s = segs[w]
            if len(s) < 2:
                continue
            i, o = 0, []
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    o.append(s[i] + s[i + 1])
                    i += 2
                else:
                    o.append(s[i])
                    i += 1
            segs[w] = o
    return merges


class Tokenizer:
    def __init__(self, tokens, merges, pre, bos=None):
        self.ids = {t: i for i, t in enumerate(tokens)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.pre = pre
        self.bos = bos

    def bpe(self, w):
        if self.pre == "llama-bpe" and w in self.ids:
            return [w]
        s = list(w)
        while len(s) > 1:
            best = min(zip(s, s[1:]), key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            i, o = 0, []
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    o.append(s[i] + s[i + 1])
                    i += 2
                else:
                    o.append(s[i])
                    i += 1
            s = o
        return s

    def encode(self, text):
        out = [self.bos] if self.bos is not None else []
        for w in pretokenize(text, self.pre):
            for sym in self.bpe(byte_encode(w)):
                out.append(self.ids[sym])
        return out


def main():
    from tok_common import corpus_text, edge_strings, octet_ids, write_model
    from gguflib import GGUFValueType as V
    octet, work = sys.argv[1], sys.argv[2]
    text = corpus_text(60_000)
    merges = train(text, 300)
    # a few more merges the corpus may not produce: runs of spaces, newlines and digits
    for m in [(B2U[32], B2U[32]), (B2U[10], B2U[10]), ("1", "2"), ("12", "3"), (B2U[32], "1")]:
        if m not in merges:
            merges.append(m)
    tokens = [B2U[b] for b in range(256)]
    seen = set(tokens)
    for a, b in merges:
        if a + b not in seen:
            tokens.append(a + b)
            seen.add(a + b)
    bos, eos = len(tokens), len(tokens) + 1
    tokens += ["<|begin_of_text|>", "<|endoftext|>"]
    types = [1] * (len(tokens) - 2) + [3, 3]
    lines = corpus_text(400_000).splitlines()
    cases = edge_strings() + lines[:: max(1, len(lines) // 30)][:30] + ["\n".join(lines[200:210])]
    fails = total = 0
    for pre in ("gpt-2", "llama-bpe", "qwen2", "default"):
        path = os.path.join(work, "bpe-%s.gguf" % pre)
        add_bos = pre == "llama-bpe"
        write_model(path, [
            ("tokenizer.ggml.model", "gpt2"),
            ("tokenizer.ggml.pre", pre),
            ("tokenizer.ggml.tokens", (tokens, V.ARRAY, V.STRING)),
            ("tokenizer.ggml.token_type", (types, V.ARRAY, V.INT32)),
            ("tokenizer.ggml.merges", (["%s %s" % m for m in merges], V.ARRAY, V.STRING)),
            ("tokenizer.ggml.bos_token_id", (bos, V.UINT32)),
            ("tokenizer.ggml.eos_token_id", (eos, V.UINT32)),
            ("tokenizer.ggml.add_bos_token", add_bos),
        ], len(tokens))
        ref = Tokenizer(tokens, merges, pre, bos if add_bos else None)
        for s in cases:
            total += 1
            want = ref.encode(s)
            got = octet_ids(octet, path, s)
            if got != want:
                fails += 1
                if fails <= 6:
                    print("MISMATCH [%s] %r\n  octet: %s\n  ref:   %s" % (pre, s[:80], got[:40], want[:40]))
        total += 1
        got = octet_ids(octet, path, "<|endoftext|>And God", ["--parse-special"])
        if got != ref.encode("")[:1] + [eos] + ref.encode("And God")[1 if add_bos else 0:]:
            fails += 1
            print("MISMATCH [%s] --parse-special: %s" % (pre, got))
    print("bpe: %d cases over 4 pre-tokenizers, %d mismatches (%d merges, vocab %d)"
          % (total, fails, len(merges), len(tokens)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
