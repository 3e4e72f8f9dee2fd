#!/usr/bin/env bash
# Speculative decoding in `octet run` (--draft-model, --lookup): at temperature 0 the text is byte-identical to
# decoding without drafts, in float and integer mode, with a draft model (the bundled model quantized to Q4_0 at
# test time: same vocabulary, cheaper) and with prompt-lookup drafts, for several draft lengths; drafts are
# actually accepted (the stderr report); bad combinations are usage errors (exit 2) and a draft model with
# another vocabulary is refused (exit 1, naming both sizes). The distribution under sampling is checked in
# tests/unit/test_sampler.c (octet_sampler_sample_draft).
set -uo pipefail
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "PASS $1"; }
bad() { echo "FAIL $1"; fails=$((fails+1)); }

"$OCTET" quantize models/octet-kjv.gguf "$T/draft.gguf" Q4_0 >/dev/null 2>&1 || { echo "FAIL quantizing the draft model"; exit 1; }
P1="In the beginning God created the heaven and the earth."
P2="And the LORD said unto Moses, Go in unto Pharaoh, and tell him, Thus saith the LORD God of the Hebrews,"
for ex in float int; do
    for p in "$P1" "$P2"; do
        timeout 120 "$OCTET" run -p "$p" -n 80 --temp 0 --exec $ex -t 2 >"$T/ref.txt" 2>/dev/null || bad "plain run ($ex)"
        for mode in "-md $T/draft.gguf --draft-max 4" "-md $T/draft.gguf --draft-max 8 --draft-p-min 0" \
                    "--lookup --draft-max 3" "--lookup"; do
            # shellcheck disable=SC2086
            timeout 120 "$OCTET" run -p "$p" -n 80 --temp 0 --exec $ex -t 2 $mode >"$T/spec.txt" 2>"$T/err" ||
                { bad "run $mode ($ex) failed"; sed 's/^/    /' "$T/err" | tail -3; continue; }
            if cmp -s "$T/ref.txt" "$T/spec.txt"; then ok "$ex $mode: same text as without drafts"
            else bad "$ex $mode: the text differs from the run without drafts"; fi
            acc=$(sed -n 's/.* \([0-9]*\) accepted.*/\1/p' "$T/err")
            [ -n "$acc" ] || bad "$ex $mode: no draft report on stderr"
            case "$mode" in *-md*p-min\ 0*) [ "${acc:-0}" -gt 0 ] || bad "$ex $mode: no draft accepted";; esac
        done
    done
done
# sampling runs too (same seed, same text twice)
a=$(timeout 60 "$OCTET" run -p "$P1" -n 40 --temp 0.8 -s 7 -md "$T/draft.gguf" 2>/dev/null)
b=$(timeout 60 "$OCTET" run -p "$P1" -n 40 --temp 0.8 -s 7 -md "$T/draft.gguf" 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && ok "sampling with drafts: same seed, same text" || bad "sampling with drafts"

"$OCTET" run -p x -n 2 -md "$T/draft.gguf" --lookup >/dev/null 2>&1; [ $? -eq 2 ] && ok "--draft-model with --lookup: usage error" || bad "--draft-model with --lookup"
"$OCTET" run -p x -n 2 --lookup --draft-max 20 -b 8 >/dev/null 2>&1; [ $? -eq 2 ] && ok "--draft-max above the batch: usage error" || bad "--draft-max above the batch"
"$OCTET" run -p x -n 2 --lookup --draft-max 0 >/dev/null 2>&1; [ $? -eq 2 ] && ok "--draft-max 0: usage error" || bad "--draft-max 0"
"$OCTET" synth --shape test-tiny -o "$T/other.gguf" >/dev/null 2>&1
if [ -f "$T/other.gguf" ]; then
    "$OCTET" run -p x -n 2 -md "$T/other.gguf" >/dev/null 2>"$T/err"; rc=$?
    if [ $rc -eq 1 ] && grep -q "vocabulary" "$T/err"; then ok "a draft model with another vocabulary is refused"
    else bad "draft model with another vocabulary: exit $rc: $(head -1 "$T/err")"; fi
fi
"$OCTET" run -p x -n 2 -md "$T/missing.gguf" >/dev/null 2>&1; [ $? -eq 1 ] && ok "missing draft model: exit 1" || bad "missing draft model"
[ $fails -eq 0 ] && echo "speculative decoding: all passed" || { echo "speculative decoding: $fails failed"; exit 1; }
