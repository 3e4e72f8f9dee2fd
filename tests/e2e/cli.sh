#!/usr/bin/env bash
# The octet command line: --help everywhere (exit 0), usage errors (exit 2), runtime/model errors (exit 1 with a
# message), generation on the bundled model (English text, same greedy text for -t 1 and -t 2, same seed same
# text), timings on stderr, logits file contract (size n_tokens * n_vocab * 4, no partial file on failure).
set -uo pipefail
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
MODEL=${MODEL:-models/octet-kjv.gguf}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "PASS $1"; }
bad() { echo "FAIL $1"; fails=$((fails+1)); }
expect() { # name expected_status cmd...
    local name=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; local got=$?
    if [ "$got" -eq "$want" ]; then ok "$name (exit $got)"; else bad "$name: exit $got, wanted $want"; sed 's/^/    /' "$T/err" | head -5; fi
}

expect "octet --help" 0 "$OCTET" --help
expect "octet without a command" 2 "$OCTET"
expect "unknown command" 2 "$OCTET" frobnicate
# kernel sets: every set the CPU runs can be chosen by flag and by environment (and says so); others are usage errors
sets=$("$OCTET" info 2>/dev/null | awk -F'  +' '/this CPU runs/ {print $3}' | tr -d ',')
[ -n "$sets" ] && [ "${sets%% *}" = ref ] || bad "octet info lists the kernel sets, ref first (got '$sets')"
for set in $sets; do
    expect "--isa $set" 0 timeout 20 "$OCTET" info --isa "$set"
    grep -q "in use *$set\$" "$T/out" || bad "--isa $set: info does not say the set is in use"
    expect "OCTET_ISA=$set" 0 timeout 20 env OCTET_ISA="$set" "$OCTET" run -n 2 -p x --isa "$set"
    grep -q "kernels: $set\$" "$T/err" || bad "OCTET_ISA=$set: run does not name the set"
done
expect "--isa unknown" 2 timeout 20 "$OCTET" run --isa nosuchset -p x
grep -q "nosuchset.*does not exist" "$T/err" || bad "--isa unknown: message does not name the set"
expect "OCTET_ISA unknown" 2 timeout 20 env OCTET_ISA=nosuchset "$OCTET" info
expect "--isa without a value" 2 timeout 20 "$OCTET" run --isa
for c in run info tokenize logits perplexity; do
    expect "$c --help" 0 "$OCTET" $c --help
    grep -q "usage: octet $c" "$T/out" || bad "$c --help prints its usage"
done
expect "unknown flag" 2 "$OCTET" run --no-such-flag
expect "flag missing its value" 2 "$OCTET" run -n
expect "non-numeric value" 2 "$OCTET" run -n many -p x
expect "out-of-range value" 2 "$OCTET" run -t 0 -p x
expect "bad --exec" 2 "$OCTET" run --exec fpga -p x
expect "bad token list" 2 "$OCTET" logits --tokens 1,,2 -o "$T/x.bin"
expect "logits without -o" 2 "$OCTET" logits --tokens 1,2
expect "missing model file" 1 "$OCTET" run -m "$T/nope.gguf" -p x
grep -q "nope.gguf" "$T/err" || bad "missing model message names the file"
printf 'not a gguf file at all, just some text that is long enough' > "$T/junk.gguf"
expect "junk model file" 1 "$OCTET" info -m "$T/junk.gguf"
grep -qi "magic" "$T/err" || bad "junk file message mentions the magic"

if [ ! -f "$MODEL" ]; then echo "FAIL bundled model $MODEL is missing"; exit 1; fi
expect "run greedy -t 1" 0 "$OCTET" run -m "$MODEL" -p "And God said" -n 24 --temp 0 -t 1
cp "$T/out" "$T/g1"; cp "$T/err" "$T/g1.err"
expect "run greedy -t 2" 0 "$OCTET" run -m "$MODEL" -p "And God said" -n 24 --temp 0 -t 2
cmp -s "$T/g1" "$T/out" && ok "greedy text identical for -t 1 and -t 2" || bad "greedy text differs between -t 1 and -t 2"
grep -q "^And God said" "$T/g1" && ok "the prompt is echoed" || bad "prompt echo"
words=$(sed 's/^And God said//' "$T/g1" | tr -cs 'A-Za-z' '\n' | grep -c -x -E 'the|and|of|unto|LORD|God|he|that|to|in|said|his|them|I|shall|is|a|be|for|not|they|him|all|thou|thy|was')
[ "$words" -ge 4 ] && ok "continuation contains common English words ($words)" || { bad "continuation is not English-like"; cat "$T/g1"; }
grep -q "prompt eval time" "$T/g1.err" && grep -q "tokens per second" "$T/g1.err" && ok "timings on stderr" || bad "timings on stderr"
"$OCTET" run -m "$MODEL" -p "In the beginning" -n 20 --temp 0.9 -s 1234 > "$T/s1" 2>/dev/null
"$OCTET" run -m "$MODEL" -p "In the beginning" -n 20 --temp 0.9 -s 1234 > "$T/s2" 2>/dev/null
"$OCTET" run -m "$MODEL" -p "In the beginning" -n 20 --temp 0.9 -s 99 > "$T/s3" 2>/dev/null
cmp -s "$T/s1" "$T/s2" && ok "same seed, same text" || bad "same seed gave different text"
cmp -s "$T/s1" "$T/s3" && bad "different seeds gave the same text" || ok "different seed, different text"
expect "run with the default model (no -m)" 0 "$OCTET" run -p "And" -n 4 --temp 0
# logits contract
nv=$("$OCTET" info -m "$MODEL" 2>/dev/null | awk '/vocabulary/ {print $2; exit}')
expect "logits" 0 "$OCTET" logits -m "$MODEL" --tokens 1,2,3,4 --pos0 1000000 -o "$T/l.bin"
sz=$(stat -c %s "$T/l.bin")
[ "$sz" -eq $((4 * 4 * nv)) ] && ok "logits file is 4 x n_vocab floats ($sz bytes)" || bad "logits size $sz, wanted $((16 * nv))"
expect "logits with a token outside the vocabulary" 1 "$OCTET" logits -m "$MODEL" --tokens 1,$nv -o "$T/l2.bin"
[ ! -e "$T/l2.bin" ] && ! ls "$T"/l2.bin.tmp* >/dev/null 2>&1 && ok "no partial logits file" || bad "partial logits file left behind"
expect "tokenize" 0 "$OCTET" tokenize -m "$MODEL" -p "And God said"
grep -qE '^[0-9]+(,[0-9]+)+$' "$T/out" && ok "tokenize prints comma-separated ids" || bad "tokenize output format"
expect "info" 0 "$OCTET" info -m "$MODEL"
grep -q "token_embd.weight" "$T/out" && ok "info lists tensors" || bad "info tensor table"
[ $fails -eq 0 ] && echo "cli: all passed" || { echo "cli: $fails failed"; exit 1; }
