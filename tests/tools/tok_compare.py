#!/usr/bin/python3
"""tok_compare.py - compare two files of token ids (one comma-separated line per corpus string) and report the
identical-id rate. Differences explained by a documented quirk of the reference (transformers.js, see
docs/tokenizer.md) are counted apart:
  - js-nel: JavaScript's \\s does not match U+0085 (NEL), which is Unicode White_Space (PropList.txt) and
    matched by \\s in Hugging Face's Rust tokenizers (Oniguruma) and in octet; strings containing U+0085 can
    split differently.
Usage: tok_compare.py NAME CORPUS.jsonl REF_IDS GOT_IDS [--min-rate R]  (exit 1 on an unexplained difference or
a rate below R)
"""
import json
import sys


def main():
    a = sys.argv[1:]
    min_rate = 0.0
    if "--min-rate" in a:
        i = a.index("--min-rate")
        min_rate = float(a[i + 1])
        del a[i:i + 2]
    name, corpus, ref, got = a
    c = [json.loads(l) for l in open(corpus, encoding="utf-8")]
    r = open(ref).read().split("\n")[:len(c)]
    g = open(got).read().split("\n")[:len(c)]
    if len(r) != len(c) or len(g) != len(c):
        print("FAIL %s: %d strings, %d reference lines, %d octet lines" % (name, len(c), len(r), len(g)))
        return 1
    same = sum(1 for i in range(len(c)) if r[i] == g[i])
    quirk, unexplained = [], []
    for i in range(len(c)):
        if r[i] != g[i]:
            (quirk if "\u0085" in c[i] else unexplained).append(i)
    rate = same / len(c)
    print("%s: %d/%d strings identical (%.2f%%); %d differ by the js-nel quirk, %d unexplained"
          % (name, same, len(c), 100 * rate, len(quirk), len(unexplained)))
    for i in unexplained[:5]:
        print("    %s\n      ref %s\n      got %s" % (json.dumps(c[i])[:160], r[i][:160], g[i][:160]))
    return 1 if unexplained or rate < min_rate else 0


if __name__ == "__main__":
    sys.exit(main())
