#!/usr/bin/env bash
# Golden logits for the architectures beyond the Llama-2 family (issue 18): octet against the float64 reference
# (tests/ref/llama_ref.py, written from Hugging Face's model definitions) on small random GGUF models written at
# test time (tests/ref/make_random_model.py):
#   llama with Llama 3 frequency factors (rope_freqs.weight from HF's llama3 rope_scaling; the reference checks the
#     file's divisors against the formula), YaRN scaling (with and without rope.scaling.attn_factor), qwen3 (per-head
#     q/k RMSNorm, half-split RoPE, head_dim != n_embd / n_head), Mixtral-layout MoE in a llama file and qwen3moe
#     (softmax over all experts, top-k, renormalised; expert_feed_forward_length), phi3 (fused qkv and gate+up,
#     half-split RoPE), a fused attn_qkv (+ bias) in a qwen2 file, gemma2 (embedding scale, post-norms, GELU-tanh,
#     attention and final soft-capping, sliding window on alternate layers) and gemma3 (q/k norms, window pattern,
#     local RoPE base, linear scaling on the global layers only); F32 / F16 / Q8_0 weights.
# Checks:
#   float mode: max|octet - ref| <= 1e-3 * std(ref) (F32 / F16), <= 8e-2 * std(ref) (Q8_0) at --pos0 0 and 1000
#   integer mode (rope_freqs, YaRN, qwen3, phi3, fused qkv): <= 0.25 * std(ref) (the integer-mode tolerance of int_logits.sh)
#   integer mode refuses MoE / gemma files naming the router tensor or the architecture; an
#     unknown RoPE scaling type is refused naming it (both modes); a gemma2 file with an output.weight is refused
#     naming it (llama.cpp refuses it too)
#   phi3 LongRoPE: the short factors at --ctx 12, the long ones at --ctx 2048 (original context 1024), cos/sin times
#     rope.scaling.attn_factor; integer mode refuses the long-context case naming rope_factors_long
#   -t 1 and -t 2 write identical logits (MoE, qwen3)
# One line per case; exit status non-zero on any failure. Env: OCTET (default ./octet), PY (default /usr/bin/python3).
set -u
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
TOKS=1,29,301,4,77,258,260,12,300,5,64,270
NV=320
if [ ! -x "$OCTET" ]; then echo "FAIL $OCTET not built"; exit 1; fi

F=1e-3; Q=8e-2; I=0.25

gen() { # gen NAME make_random_model args...
    local name=$1; shift
    if ! nice -n 10 "$PY" tests/ref/make_random_model.py -o "$W/$name.gguf" --vocab $NV "$@" >"$W/gen.log" 2>&1; then
        echo "FAIL $name: model generation"; cat "$W/gen.log"; fail=1; return 1
    fi
}

# check NAME EXEC TOL POS0S [reference options...]
check() {
    local name=$1 ex=$2 tol=$3 pos0s=$4; shift 4
    local m="$W/$name.gguf" p
    for p in ${pos0s//,/ }; do
        nice -n 10 "$PY" tests/ref/llama_ref.py "$m" --tokens "$TOKS" --pos0 "$p" "$@" -o "$W/ref.bin" \
            || { echo "FAIL $name: reference"; fail=1; continue; }
        rm -f "$W/got.bin"
        if ! timeout 30 "$OCTET" logits -m "$m" --tokens "$TOKS" --pos0 "$p" --exec "$ex" -t 1 ${OCTX:+--ctx $OCTX} -o "$W/got.bin" \
            >"$W/octet.log" 2>&1; then
            echo "FAIL $name $ex pos0=$p: octet logits exited non-zero"; tail -n 3 "$W/octet.log"; fail=1; continue
        fi
        "$PY" tests/ref/compare_logits.py "$W/ref.bin" "$W/got.bin" $NV "$tol" "$name $ex pos0=$p${OCTX:+ ctx=$OCTX}" || fail=1
    done
}

# refuse NAME EXEC PATTERN: octet must fail and its message match PATTERN (extended regex)
refuse() {
    local name=$1 ex=$2 pat=$3
    if timeout 30 "$OCTET" logits -m "$W/$name.gguf" --tokens "$TOKS" --exec "$ex" ${OCTX:+--ctx $OCTX} -o "$W/x.bin" >"$W/octet.log" 2>&1; then
        echo "FAIL $name $ex: accepted, should be refused ($pat)"; fail=1
    elif grep -Eq "$pat" "$W/octet.log"; then
        echo "PASS $name $ex refused: $(grep -Eo "$pat" "$W/octet.log" | head -n 1)"
    else
        echo "FAIL $name $ex: refused without naming $pat:"; cat "$W/octet.log"; fail=1
    fi
}

threads() { # threads NAME [EXEC]: -t 1 and -t 2 identical bytes
    local name=$1 ex=${2:-float} t
    rm -f "$W/t1.bin" "$W/t2.bin"
    for t in 1 2; do
        timeout 30 "$OCTET" logits -m "$W/$name.gguf" --tokens "$TOKS" --pos0 1000 --exec "$ex" -t $t -o "$W/t$t.bin" \
            >/dev/null 2>&1
    done
    if [ -s "$W/t1.bin" ] && cmp -s "$W/t1.bin" "$W/t2.bin"; then echo "PASS $name $ex -t 1 vs -t 2 identical bytes"
    else echo "FAIL $name $ex -t 1 vs -t 2 differ (or failed)"; fail=1; fi
}

L3="8,1,4,64" # factor, low_freq_factor, high_freq_factor, original_max_position_embeddings (small: most pairs scaled)
gen llama3-f32 --type F32 --dim 128 --heads 4 --kv-heads 2 --ff 256 --rope-base 500000 --llama3-rope $L3 --seed 31 &&
    { check llama3-f32 float $F 0,1000 --llama3 $L3; check llama3-f32 int $I 0,1000 --llama3 $L3; }
gen llama3-q8 --type Q8_0 --dim 128 --heads 8 --kv-heads 2 --ff 256 --tied --rope-base 500000 --llama3-rope 32,1,4,128 --seed 32 &&
    { check llama3-q8 float $Q 1000 --llama3 32,1,4,128; check llama3-q8 int $I 1000 --llama3 32,1,4,128; }
gen yarn-f32 --type F32 --dim 128 --heads 4 --ff 256 --rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 128 --seed 33 &&
    { check yarn-f32 float $F 0,1000; check yarn-f32 int $I 1000; }
gen yarn-attn --type F32 --dim 64 --heads 2 --ff 128 --rope-scaling yarn --rope-scale 16 --yarn-orig-ctx 64 --attn-factor 1.5 --seed 34 &&
    { check yarn-attn float $F 1000; check yarn-attn int $I 1000; }
gen qwen3-f32 --arch qwen3 --type F32 --dim 128 --heads 4 --kv-heads 2 --head-dim 64 --ff 256 --rope-base 1000000 --seed 35 &&
    { check qwen3-f32 float $F 0,1000; check qwen3-f32 int $I 0,1000; threads qwen3-f32; threads qwen3-f32 int; }
gen qwen3-f16-tied --arch qwen3 --type F16 --dim 128 --heads 8 --kv-heads 1 --ff 256 --tied --seed 36 &&
    { check qwen3-f16-tied float $F 1000; check qwen3-f16-tied int $I 1000; }
gen mixtral-f32 --type F32 --dim 128 --heads 4 --kv-heads 2 --ff 128 --experts 4 --experts-used 2 --seed 37 &&
    { check mixtral-f32 float $F 0,1000; refuse mixtral-f32 int 'ffn_gate_inp'; threads mixtral-f32; }
gen mixtral-q8 --type Q8_0 --dim 128 --heads 4 --ff 128 --experts 8 --experts-used 2 --router-f32 --seed 38 &&
    { check mixtral-q8 float $Q 1000; threads mixtral-q8; }
gen qwen3moe-f32 --arch qwen3moe --type F32 --dim 128 --heads 4 --kv-heads 2 --head-dim 32 --ff 256 --ff-exp 64 --experts 8 --experts-used 3 --tied --seed 39 &&
    { check qwen3moe-f32 float $F 0,1000; refuse qwen3moe-f32 int 'ffn_gate_inp'; threads qwen3moe-f32; }
gen phi3-f32 --arch phi3 --type F32 --dim 128 --heads 4 --kv-heads 2 --ff 192 --seed 41 &&
    { check phi3-f32 float $F 0,1000; check phi3-f32 int $I 1000; }
gen phi3-q8-tied --arch phi3 --type Q8_0 --dim 128 --heads 4 --ff 256 --tied --seed 42 &&
    { check phi3-q8-tied float $Q 1000; threads phi3-q8-tied; }
gen qwen2-fused-qkv --arch qwen2 --fused-qkv --type F32 --dim 128 --heads 4 --kv-heads 2 --ff 256 --seed 43 &&
    { check qwen2-fused-qkv float $F 1000; check qwen2-fused-qkv int $I 1000; }
gen gemma2-f32 --arch gemma2 --type F32 --dim 128 --heads 4 --kv-heads 2 --ff 256 --swa 4 --attn-softcap 5 --final-softcap 3 --tied --seed 44 &&
    { check gemma2-f32 float $F 0,1000; refuse gemma2-f32 int 'gemma2'; threads gemma2-f32; }
gen gemma2-q8-default --arch gemma2 --type Q8_0 --dim 128 --heads 4 --ff 256 --tied --seed 45 &&
    check gemma2-q8-default float $Q 1000
gen gemma3-f32 --arch gemma3 --type F32 --dim 128 --heads 4 --kv-heads 1 --head-dim 64 --ff 256 --layers 3 --swa 5 --swa-pattern 3 --rope-base 1000000 --rope-scale 8 --rope-base-swa 10000 --tied --seed 46 &&
    { check gemma3-f32 float $F 0,1000; refuse gemma3-f32 int 'gemma3'; threads gemma3-f32; }
gen gemma3-noswa-cap --arch gemma3 --type F16 --dim 128 --heads 4 --ff 256 --final-softcap 10 --seed 47 &&
    check gemma3-noswa-cap float $F 1000
gen gemma2-untied --arch gemma2 --type F32 --dim 64 --heads 2 --ff 128 --seed 48 &&
    refuse gemma2-untied float 'output.weight'
# LongRoPE: short factors for a context up to the original (1024 here), long ones above; integer mode has the short
gen phi3-longrope --arch phi3 --type F32 --dim 128 --heads 4 --ff 192 --ctx 8192 --longrope 1024 --seed 49 && {
    OCTX=12 check phi3-longrope float $F 0,1000 --n-ctx 12; OCTX=12 check phi3-longrope int $I 1000 --n-ctx 12
    OCTX=2048 check phi3-longrope float $F 0,1000 --n-ctx 2048; OCTX=2048 refuse phi3-longrope int 'rope_factors_long'; }
gen scaling-unknown --type F32 --dim 64 --heads 2 --ff 128 --rope-scaling longrope --rope-scale 2 --seed 40 &&
    { refuse scaling-unknown float "scaling type 'longrope'"; refuse scaling-unknown int "scaling type 'longrope'"; }

if [ $fail -ne 0 ]; then echo "golden archs: FAILED"; exit 1; fi
echo "golden archs: all passed"
