#!/usr/bin/python3
"""tok_compare.py - compare two files of token ids (one comma-separated line per corpus string) and report the
identical-id rate. Differences explained by a documented quirk of the reference (transformers.js, see
docs/tokenizer.md) are counted apart:
  - js-nel: JavaScript's \\s does not match U+0085 (NEL), which is Unicode White_Space (PropList.txt) and
    matched by \\s in Hugging Face's Rust tokenizers (Oniguruma) and in octet; strings containing U+0085 can
    split differently;
  - ref-unicode: the string holds a codepoint the reference's Unicode tables call unassigned (node's ICU older
    than the UCD octet's tables come from; --ref-flags, written by tok_hf_ref.cjs);
  - octet-unicode: the string holds a codepoint octet's tables (src/text/unicode_data.c) call unassigned that the
    reference knows (node's ICU newer than octet's UCD): class C in octet's table and unassigned in Python's
    unicodedata (which is older still, so every codepoint it knows is assigned in octet's tables too).
Usage: tok_compare.py NAME CORPUS.jsonl REF_IDS GOT_IDS [--min-rate R] [--ref-flags FILE]  (exit 1 on an unexplained difference or
a rate below R)
"""
import json
import os
import re
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))


def octet_unassigned():
    """A predicate: is cp unassigned in octet's generated table (class C and Cn in Python's older data)?"""
    src = open(os.path.join(HERE, "..", "..", "src", "text", "unicode_data.c")).read()
    def arr(name):
        body = re.search(r"%s\[\d+\] = \{(.*?)\};" % name, src, re.S).group(1)
        return [int(x, 16) for x in re.findall(r"0x([0-9A-F]+)", body)]
    starts, flags = arr("octet__ucp_range_start"), arr("octet__ucp_range_flags")
    import bisect
    def f(cp):
        fl = flags[bisect.bisect_right(starts, cp) - 1]
        return (fl & 0xFF) == 0x80 and unicodedata.category(chr(cp)) == "Cn"
    return f


def main():
    a = sys.argv[1:]
    min_rate = 0.0
    if "--min-rate" in a:
        i = a.index("--min-rate")
        min_rate = float(a[i + 1])
        del a[i:i + 2]
    flags = None
    if "--ref-flags" in a:
        i = a.index("--ref-flags")
        flags = open(a[i + 1]).read().split("\n")
        del a[i:i + 2]
    name, corpus, ref, got = a
    c = [json.loads(l) for l in open(corpus, encoding="utf-8")]
    r = open(ref).read().split("\n")[:len(c)]
    g = open(got).read().split("\n")[:len(c)]
    if len(r) != len(c) or len(g) != len(c):
        print("FAIL %s: %d strings, %d reference lines, %d octet lines" % (name, len(c), len(r), len(g)))
        return 1
    same = sum(1 for i in range(len(c)) if r[i] == g[i])
    quirk, old_uni, new_uni, unexplained = [], [], [], []
    unassigned = octet_unassigned()
    for i in range(len(c)):
        if r[i] == g[i]:
            continue
        if "\u0085" in c[i]:
            quirk.append(i)
        elif flags and len(flags) > i + 1 and flags[i + 1] == "cn":
            old_uni.append(i)
        elif any(unassigned(ord(ch)) for ch in c[i]):
            new_uni.append(i)
        else:
            unexplained.append(i)
    rate = same / len(c)
    extra = ", %d by the reference's older Unicode (%s)" % (len(old_uni), flags[0]) if old_uni else ""
    if new_uni:
        extra += ", %d by codepoints newer than octet's UCD%s" % (len(new_uni), " (reference " + flags[0] + ")" if flags else "")
    print("%s: %d/%d strings identical (%.2f%%); %d differ by the js-nel quirk%s, %d unexplained"
          % (name, same, len(c), 100 * rate, len(quirk), extra, len(unexplained)))
    for i in unexplained[:5]:
        print("    %s\n      ref %s\n      got %s" % (json.dumps(c[i])[:160], r[i][:160], g[i][:160]))
    return 1 if unexplained or rate < min_rate else 0


if __name__ == "__main__":
    sys.exit(main())
