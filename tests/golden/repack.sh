#!/usr/bin/env bash
# Load-time repacked weights (src/model/packed.c, kernels over src/kernels/repack.h): float-mode logits with the
# repacked matrices must be byte-identical to OCTET_NO_REPACK=1 (the AVX2 kernels on the file's rows), on small
# random GGUF models (tests/ref/make_random_model.py) whose matrices have a repacked layout: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K, Q5_K (quantized by octet);
# output rows that are not a multiple of 16 (vocab 310, 301: the tail rows take the other path), grouped-query
# attention (16-row k/v matrices), a tied output, qwen2 biases. For each: 1, 3 and 12 tokens (generation-sized
# and prompt-sized batches), -t 1 and -t 2, and --no-mmap (no repacking) against the mapped file. Skipped when the
# CPU has no AVX-512 VNNI (only Q4_0 is repacked then, by the avx2 set, which the next comparison covers). Then, on
# every model, the logits of every kernel set this CPU runs (--isa) must equal the ref set's, in float and in
# integer mode (the avx2 set repacks Q4_0 matrices, so --isa avx2 runs its x16 kernel against the ref dots).
# Env: OCTET (default ./octet), PY (default /usr/bin/python3).
set -u
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
if [ ! -x "$OCTET" ]; then echo "FAIL $OCTET not built"; exit 1; fi
VNNI=1 # without AVX-512 VNNI nothing is repacked: only the kernel-set comparisons run
if ! grep -qw avx512_vnni /proc/cpuinfo 2>/dev/null; then echo "no AVX-512 VNNI: kernel-set comparisons only"; VNNI=0; fi

logits() { # OUT MODEL TOKENS [options...]
    local out=$1 m=$2 toks=$3; shift 3
    rm -f "$out"
    timeout 60 "$OCTET" logits -m "$m" --tokens "$toks" -o "$out" "$@" >"$W/octet.log" 2>&1 || { tail -n 5 "$W/octet.log"; return 1; }
}

# case NAME VOCAB -- make_random_model args...
case_() {
    local name=$1 nv=$2; shift 3
    local m="$W/$name.gguf"
    if [ -n "${QUANT:-}" ]; then # a float model, then octet quantize (types make_random_model does not write)
        if ! nice -n 10 "$PY" tests/ref/make_random_model.py -o "$W/$name.f32.gguf" --vocab "$nv" "$@" >"$W/gen.log" 2>&1 ||
            ! "$OCTET" quantize "$W/$name.f32.gguf" "$m" --type "$QUANT" -q >>"$W/gen.log" 2>&1; then
            echo "FAIL $name: model generation"; cat "$W/gen.log"; fail=1; return
        fi
        rm -f "$W/$name.f32.gguf"
    elif ! nice -n 10 "$PY" tests/ref/make_random_model.py -o "$m" --vocab "$nv" "$@" >"$W/gen.log" 2>&1; then
        echo "FAIL $name: model generation"; cat "$W/gen.log"; fail=1; return
    fi
    local toks t ok=1
    for toks in 7 1,29,300 1,29,300,4,77,258,260,12,299,5,64,270; do
        [ $VNNI = 1 ] || continue
        for t in 1 2; do
            if ! logits "$W/on.bin" "$m" "$toks" -t "$t" || ! OCTET_NO_REPACK=1 logits "$W/off.bin" "$m" "$toks" -t "$t"; then
                echo "FAIL $name: octet logits exited non-zero"; fail=1; ok=0; continue
            fi
            if ! cmp -s "$W/on.bin" "$W/off.bin"; then
                echo "FAIL $name tokens=$toks -t $t: repacked logits differ from OCTET_NO_REPACK=1"; fail=1; ok=0
            fi
        done
        if logits "$W/heap.bin" "$m" "$toks" -t 2 --no-mmap && ! cmp -s "$W/on.bin" "$W/heap.bin"; then
            echo "FAIL $name tokens=$toks: --no-mmap logits differ"; fail=1; ok=0
        fi
    done
    # every kernel set this CPU runs gives the ref set's bytes, float and integer mode (the same bits everywhere)
    local set ex
    for ex in float int; do
        logits "$W/ref.bin" "$m" "$toks" -t 2 --isa ref --exec $ex || { echo "FAIL $name: --isa ref --exec $ex"; fail=1; ok=0; continue; }
        for set in $SETS; do
            if ! logits "$W/set.bin" "$m" "$toks" -t 2 --isa "$set" --exec $ex || ! cmp -s "$W/ref.bin" "$W/set.bin"; then
                echo "FAIL $name --exec $ex: kernel set $set differs from ref"; fail=1; ok=0
            fi
        done
    done
    [ $ok = 1 ] && echo "ok   $name (sets: ref $SETS)"
}
SETS=$("$OCTET" info | awk -F'  +' '/this CPU runs/ {print $3}' | tr -d ',' | sed 's/^ref *//')

#     name              vocab    make_random_model options
case_ q8_0-mha          320  -- --type Q8_0 --dim 128 --heads 4 --ff 256 --seed 21
case_ q8_0-gqa-tail     310  -- --type Q8_0 --dim 128 --heads 8 --kv-heads 2 --ff 288 --seed 22
case_ q8_0-qwen2-tied   301  -- --arch qwen2 --type Q8_0 --dim 96 --heads 4 --kv-heads 2 --ff 224 --tied --seed 23
case_ q4_0-gqa-tail     310  -- --type Q4_0 --dim 128 --heads 4 --kv-heads 2 --ff 384 --seed 24
case_ q4_0-tied         320  -- --type Q4_0 --dim 64 --heads 2 --ff 160 --tied --seed 25
case_ q4_1-gqa-tail     310  -- --type Q4_1 --dim 128 --heads 4 --kv-heads 2 --ff 256 --seed 28
case_ q5_0-gqa-tail     310  -- --type Q5_0 --dim 128 --heads 4 --kv-heads 2 --ff 256 --seed 29
case_ q5_1-tied         320  -- --type Q5_1 --dim 128 --heads 4 --ff 256 --tied --seed 30
case_ q4_k-gqa-tail     310  -- --type Q4_K --dim 256 --heads 4 --kv-heads 2 --ff 512 --seed 26
case_ q4_k-mha-tied     512  -- --type Q4_K --dim 256 --heads 4 --ff 256 --tied --seed 27
case_ q6_k-gqa-tail     310  -- --type Q6_K --dim 256 --heads 4 --kv-heads 2 --ff 512 --seed 31
# Q5_K: an F32 model quantized by octet (its output matrix Q6_K, llama.cpp's policy)
QUANT=Q5_K case_ q5_k-gqa-tail 310 -- --type F32 --dim 256 --heads 4 --kv-heads 2 --ff 512 --seed 32
QUANT=Q5_K case_ q5_k-mha-tied 512 -- --type F32 --dim 256 --heads 4 --ff 256 --tied --seed 33

# the sanitizer build (packing on the thread pool, the kernels' reads of the packed groups) on one model
ASAN=${OCTET_ASAN:-build/asan/octet}
if [ -x "$ASAN" ] && [ -f "$W/q8_0-gqa-tail.gguf" ]; then
    TOKS=1,29,300,4,77,258,260,12,299,5,64,270
    if OCTET="$ASAN" logits "$W/asan.bin" "$W/q8_0-gqa-tail.gguf" "$TOKS" -t 2 &&
        OCTET_NO_REPACK=1 logits "$W/off.bin" "$W/q8_0-gqa-tail.gguf" "$TOKS" -t 2 && cmp -s "$W/asan.bin" "$W/off.bin"; then
        echo "ok   asan q8_0-gqa-tail"
    else
        echo "FAIL asan q8_0-gqa-tail"; fail=1
    fi
fi
exit $fail
