#!/usr/bin/env bash
# Golden logits for the integer-only mode (--exec int, src/model/int/): octet against the float64 reference
# (tests/ref/llama_ref.py) on small random GGUF models (tests/ref/make_random_model.py): Q8_0 weights read in
# place and other types (F32, Q4_K) requantized at load; llama (adjacent-pair RoPE), mistral and qwen2 (q/k/v
# biases, half-split RoPE), multi-head and grouped-query attention, tied output, RoPE base 1e4 / 5e5.
# Checks (issue 4):
#   max|int - ref| <= 0.25 * std(ref) at --pos0 0, 1000000 and 10000000
#   int logits at --pos0 1e6 and 1e7 equal int logits at --pos0 0 within 2e-2 * std (they are in fact identical:
#     the scores see RoPE only through m - n)
#   byte-identical logits for -t 1 / -t 2, OCTET_PORTABLE=1 / SIMD kernels, OCTET_NO_REPACK=1 (no q8_0x16 copies for
#     the AVX-512 VNNI kernels) and the `make intonly` program
#     (build/intonly/octet, skipped when not built); byte-identical greedy `run` text across the same variants,
#     decoding in small batches so later tokens attend to the cache
# One line per case; exit status non-zero on any failure. Env: OCTET (default ./octet), PY (default /usr/bin/python3),
# OCTET_INTONLY (default build/intonly/octet).
set -u
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
INTONLY=${OCTET_INTONLY:-build/intonly/octet}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
TOKS=1,29,301,4,77,258,260,12,300,5,64,270
TOL=0.25
if [ ! -x "$OCTET" ]; then echo "FAIL $OCTET not built"; exit 1; fi
if [ -x "$INTONLY" ] && [ -n "$(find src app include -name '*.[ch]' -newer "$INTONLY" 2>/dev/null | head -n 1)" ]; then
    echo "SKIP intonly comparisons: $INTONLY is older than the sources (run make intonly)"; INTONLY=/nonexistent
fi

logits() { # logits OUT MODEL POS0 PROGRAM [options...]
    local out=$1 m=$2 p=$3 prog=$4; shift 4
    rm -f "$out"
    timeout 30 "$prog" logits -m "$m" --tokens "$TOKS" --pos0 "$p" --exec int -o "$out" "$@" >"$W/octet.log" 2>&1
}

# case NAME VOCAB -- make_random_model args...
case_() {
    local name=$1 nv=$2; shift 3
    local m="$W/$name.gguf"
    if ! nice -n 10 "$PY" tests/ref/make_random_model.py -o "$m" --vocab "$nv" "$@" >"$W/gen.log" 2>&1; then
        echo "FAIL $name: model generation"; cat "$W/gen.log"; fail=1; return
    fi
    local p
    for p in 0 1000000 10000000; do
        nice -n 10 "$PY" tests/ref/llama_ref.py "$m" --tokens "$TOKS" --pos0 "$p" -o "$W/ref.bin" || { echo "FAIL $name: reference"; fail=1; continue; }
        if ! logits "$W/$name.pos$p.bin" "$m" "$p" "$OCTET" -t 1; then
            echo "FAIL $name pos0=$p: octet logits --exec int exited non-zero"; tail -n 5 "$W/octet.log"; fail=1; continue
        fi
        "$PY" tests/ref/compare_logits.py "$W/ref.bin" "$W/$name.pos$p.bin" "$nv" "$TOL" "$name int pos0=$p" || fail=1
    done
    for p in 1000000 10000000; do
        [ -f "$W/$name.pos0.bin" ] && [ -f "$W/$name.pos$p.bin" ] || continue
        "$PY" tests/ref/compare_logits.py "$W/$name.pos0.bin" "$W/$name.pos$p.bin" "$nv" 2e-2 \
            "$name int pos0=$p vs pos0=0" || fail=1
    done
    # exactness across threads, kernels and the integer-only build (pos0 1000)
    logits "$W/a.bin" "$m" 1000 "$OCTET" -t 1 || { echo "FAIL $name: -t 1 run"; fail=1; return; }
    local label
    for label in "-t 2" "OCTET_PORTABLE=1" "OCTET_NO_REPACK=1" "intonly"; do
        case $label in
            "-t 2") logits "$W/b.bin" "$m" 1000 "$OCTET" -t 2 ;;
            OCTET_NO_REPACK=1) OCTET_NO_REPACK=1 logits "$W/b.bin" "$m" 1000 "$OCTET" -t 2 ;;
            OCTET_PORTABLE=1) OCTET_PORTABLE=1 logits "$W/b.bin" "$m" 1000 "$OCTET" -t 2 ;;
            intonly)
                if [ ! -x "$INTONLY" ]; then echo "SKIP $name intonly: $INTONLY not built (make intonly)"; continue; fi
                logits "$W/b.bin" "$m" 1000 "$INTONLY" -t 2 ;;
        esac
        if [ $? = 0 ] && cmp -s "$W/a.bin" "$W/b.bin"; then
            echo "PASS $name int logits identical bytes: -t 1 vs $label"
        else
            echo "FAIL $name int logits: -t 1 vs $label differ (or the run failed)"; fail=1
        fi
    done
}

#     name               vocab    make_random_model options
case_ q8_0-mha            320  -- --type Q8_0 --dim 128 --heads 4 --ff 256 --seed 7
case_ q8_0-qwen2-tied     320  -- --arch qwen2 --type Q8_0 --dim 128 --heads 8 --kv-heads 2 --ff 256 --tied --rope-base 500000 --seed 8
case_ q8_0-mistral-gqa    310  -- --arch mistral --type Q8_0 --dim 128 --heads 4 --kv-heads 1 --ff 192 --seed 5
case_ f32-gqa-5e5         384  -- --type F32 --dim 128 --heads 8 --kv-heads 2 --ff 256 --rope-base 500000 --seed 2
case_ q4_k-gqa            320  -- --type Q4_K --dim 256 --heads 4 --kv-heads 2 --ff 512 --seed 10

# generation through the cache: greedy text identical across threads, kernels and the integer-only build
m="$W/q8_0-mha.gguf"
gen() { # gen PROGRAM [options...]
    local prog=$1; shift
    timeout 30 "$prog" run -m "$m" -p "hello world" -n 24 --temp 0 --exec int -b 3 --no-display-prompt "$@" 2>/dev/null
}
if [ -f "$m" ]; then
    gen "$OCTET" -t 1 >"$W/g1.txt"
    gen "$OCTET" -t 2 >"$W/g2.txt"
    OCTET_PORTABLE=1 gen "$OCTET" -t 2 >"$W/g3.txt"
    if [ -s "$W/g1.txt" ] && cmp -s "$W/g1.txt" "$W/g2.txt" && cmp -s "$W/g1.txt" "$W/g3.txt"; then
        echo "PASS run --exec int: identical text for -t 1, -t 2, OCTET_PORTABLE=1"
    else
        echo "FAIL run --exec int: text differs across -t / kernels (or is empty)"; fail=1
    fi
    if [ -x "$INTONLY" ]; then
        gen "$INTONLY" -t 2 >"$W/g4.txt"
        if cmp -s "$W/g1.txt" "$W/g4.txt"; then echo "PASS run --exec int: intonly build gives identical text"
        else echo "FAIL run --exec int: intonly build text differs"; fail=1; fi
    fi
fi

if [ $fail -ne 0 ]; then echo "golden int logits: FAILED"; exit 1; fi
echo "golden int logits: all passed"
