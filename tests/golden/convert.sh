#!/usr/bin/env bash
# octet convert: Hugging Face checkpoints (tests/tools/make_hf_checkpoint.py: random weights in HF layout over
# two safetensors shards, a SentencePiece tokenizer.model or a byte-level BPE tokenizer.json) converted with
# `octet convert`, checked against the same model written directly in GGUF layout by the generator (q/k
# permuted there with numpy, independently of the C code):
#   - tensors: every tensor of the reference is in the converted file with the same shape, and its values are
#     equal (bit-exact when no rounding happens: F32 -> f32, F16 -> f16, BF16 -> bf16; within half an f16/bf16
#     ulp otherwise), 1-D tensors are F32; the tokenizer keys are equal;
#   - logits: `octet logits` of the converted file against the float64 reference tests/ref/llama_ref.py run on
#     the directly-written GGUF: max|diff| <= 3e-3 * std (the F32/F16 bound of tests/golden/logits.sh);
#   - tokens: `octet tokenize` gives the same ids with both files for a few strings;
#   - malformed checkpoints (truncated header, header length beyond the file, bad JSON, unknown or integer dtype,
#     offsets out of range / overlapping / reversed, shape vs size, duplicate key, config.json missing keys /
#     wrong types / invalid JSON / unknown architecture / shapes that disagree, a missing or escaping shard, a
#     stray tensor, a damaged tokenizer.model, no tokenizer): exit status 1, a message naming the file and the
#     problem, no crash (also with $OCTET_ASAN when built), and no output file or temporary left behind.
# Env: OCTET (default ./octet), OCTET_ASAN (optional ASan build), PY (default /usr/bin/python3).
set -u
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
ASAN=${OCTET_ASAN:-build/asan/octet}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
TOKS=1,29,301,4,77,258,260,12,300,5,64,270
GEN=tests/tools/make_hf_checkpoint.py
if [ ! -x "$OCTET" ]; then echo "FAIL $OCTET not built"; exit 1; fi

# compare_tensors CONVERTED REF OUTTYPE SRC_DTYPE
compare_tensors() {
    "$PY" - "$@" <<'PYEOF'
import sys, os
import numpy as np
sys.path.insert(0, "tools")
from gguflib import GGUFReader
got, ref, outtype, src = GGUFReader(sys.argv[1]), GGUFReader(sys.argv[2]), sys.argv[3], sys.argv[4]
# tokenizer.json has merge ranks, not SentencePiece scores: the converter derives its own (docs/convert.md),
# so scores are compared by the tokenize check instead
skip = set(sys.argv[5].split(",")) if len(sys.argv) > 5 else set()
bad = []
if set(got.tensors) != set(ref.tensors):
    bad.append("tensor names differ: %s" % sorted(set(got.tensors) ^ set(ref.tensors)))
exact = (outtype, src) in (("f32", "F32"), ("f32", "F16"), ("f32", "BF16"), ("f16", "F16"), ("bf16", "BF16"))
for n in sorted(set(got.tensors) & set(ref.tensors)):
    a, b = got.tensor(n).astype(np.float64), ref.tensor(n).astype(np.float64)
    if a.shape != b.shape:
        bad.append("%s: shape %s vs %s" % (n, a.shape, b.shape)); continue
    is1d = a.ndim == 1
    qtype = int(got.tensors[n][1])
    want_type = 0 if is1d else {"f32": 0, "f16": 1, "bf16": 30}[outtype]
    if qtype != want_type:
        bad.append("%s: GGML type %d, expected %d" % (n, qtype, want_type))
    # round to nearest: at most half an ulp (f16 keeps 11 significant bits, bf16 8), plus half the smallest
    # f16 subnormal (2^-25) for values that underflow
    if exact or is1d:
        allowed = np.zeros_like(b)
    elif outtype == "f16":
        allowed = 2.0 ** -11 * np.abs(b) + 2.0 ** -25
    else:
        allowed = 2.0 ** -8 * np.abs(b)
    if np.any(np.abs(a - b) > allowed):
        bad.append("%s: max|diff| %.3g (allowed: %s)" % (n, np.abs(a - b).max(), "exact" if exact or is1d else "half ulp"))
for k in ref.kv:
    if k.startswith("tokenizer.") and k not in skip and got.kv.get(k) != ref.kv[k]:
        bad.append("key %s differs" % k)
for k in ("general.architecture", "general.file_type"):
    want = {"f32": 0, "f16": 1, "bf16": 32}[outtype] if k == "general.file_type" else ref.kv[k]
    if got.kv.get(k) != want:
        bad.append("key %s: %r, expected %r" % (k, got.kv.get(k), want))
arch = ref.kv["general.architecture"]
for k in ("context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
          "attention.head_count_kv", "rope.dimension_count", "rope.freq_base", "attention.layer_norm_rms_epsilon",
          "rope.scaling.factor"):
    k = arch + "." + k
    if got.kv.get(k) != ref.kv.get(k):
        bad.append("key %s: %r vs %r" % (k, got.kv.get(k), ref.kv.get(k)))
for b in bad[:8]:
    print("   ", b)
sys.exit(1 if bad else 0)
PYEOF
}

# case NAME OUTTYPE -- make_hf_checkpoint options
case_() {
    local name=$1 outtype=$2; shift 3
    local ck="$W/$name" ref="$W/$name.ref.gguf" got="$W/$name.gguf" src=F32 a skip=
    for a in "$@"; do case $a in F16|BF16) src=$a;; spm-json) skip=tokenizer.ggml.scores;; esac; done
    if ! nice -n 10 "$PY" $GEN -o "$ck" --gguf "$ref" "$@" >"$W/gen.log" 2>&1; then
        echo "FAIL $name: checkpoint generation"; cat "$W/gen.log"; fail=1; return
    fi
    if ! timeout 60 "$OCTET" convert "$ck" "$got" --outtype "$outtype" -q >"$W/conv.log" 2>&1; then
        echo "FAIL $name: octet convert exited non-zero"; tail -n 5 "$W/conv.log"; fail=1; return
    fi
    if compare_tensors "$got" "$ref" "$outtype" "$src" "$skip"; then echo "PASS $name: tensors and keys"
    else echo "FAIL $name: tensors/keys differ from the directly written GGUF"; fail=1; fi
    local nv
    nv=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$ck/config.json")
    nice -n 10 "$PY" tests/ref/llama_ref.py "$ref" --tokens "$TOKS" --pos0 0 -o "$W/ref.bin" || { echo "FAIL $name: reference"; fail=1; return; }
    if ! timeout 30 "$OCTET" logits -m "$got" --tokens "$TOKS" -t 1 -o "$W/got.bin" >"$W/octet.log" 2>&1; then
        echo "FAIL $name: octet logits exited non-zero"; tail -n 3 "$W/octet.log"; fail=1; return
    fi
    "$PY" tests/ref/compare_logits.py "$W/ref.bin" "$W/got.bin" "$nv" 3e-3 "convert $name" || fail=1
    local s ok=1
    for s in "hello world" "the people of the state said" " leading  spaces and 123456 digits!" "Ünïcödé café <s> x"; do
        local x y
        x=$("$OCTET" tokenize -m "$got" -p "$s" 2>/dev/null) || x="error"
        y=$("$OCTET" tokenize -m "$ref" -p "$s" 2>/dev/null) || y="error"
        if [ "$x" != "$y" ] || [ "$x" = "error" ]; then echo "    tokenize '$s': converted [$x] reference [$y]"; ok=0; fi
    done
    if [ $ok = 1 ]; then echo "PASS $name: tokenize ids equal"; else echo "FAIL $name: tokenize"; fail=1; fi
}

#     name                 outtype    make_hf_checkpoint options
case_ llama-gqa-spm-f32     f32  -- --arch llama --heads 4 --kv-heads 2 --tokenizer spm --seed 1
case_ llama-gqa-spm-f16     f16  -- --arch llama --heads 4 --kv-heads 2 --tokenizer spm --seed 2
case_ llama3-tied-scale     f32  -- --arch llama --heads 8 --kv-heads 2 --dim 128 --tied --tokenizer bpe-llama3 --vocab 384 --rope-base 500000 --rope-scale 4 --seed 3
case_ mistral-f16-gpt2      f16  -- --arch mistral --dtype F16 --heads 4 --kv-heads 1 --tied --tokenizer bpe-gpt2 --vocab 352 --seed 4
case_ qwen2-bf16-bias       bf16 -- --arch qwen2 --dtype BF16 --heads 4 --kv-heads 2 --tokenizer bpe-qwen2 --vocab 352 --rope-base 1000000 --seed 5
case_ tinyllama-spm-json    f16  -- --arch llama --dtype BF16 --heads 4 --kv-heads 1 --tokenizer spm-json --vocab 352 --seed 7
case_ llama-single-file     f32  -- --arch llama --heads 2 --tokenizer bpe-llama3 --vocab 320 --single --seed 8
case_ qwen2-f32-to-f32      f32  -- --arch qwen2 --dtype F16 --heads 2 --tokenizer bpe-qwen2 --vocab 320 --seed 6

# The sanitizer build converts to the same bytes (and finds no memory error on the good path).
if [ -x "$ASAN" ]; then
    for name in llama-gqa-spm-f16 llama3-tied-scale qwen2-bf16-bias; do
        [ -f "$W/$name.gguf" ] || continue
        ot=$("$PY" -c "import sys; sys.path.insert(0,'tools'); from gguflib import GGUFReader; print({0:'f32',1:'f16',32:'bf16'}[GGUFReader(sys.argv[1]).kv['general.file_type']])" "$W/$name.gguf")
        if timeout 120 "$ASAN" convert "$W/$name" "$W/asan.gguf" --outtype "$ot" -q >"$W/asan.log" 2>&1 &&
           cmp -s "$W/asan.gguf" "$W/$name.gguf"; then
            echo "PASS $name: ASan build writes identical bytes"
        else
            echo "FAIL $name: ASan build failed or differs"; tail -n 20 "$W/asan.log"; fail=1
        fi
    done
fi

# An output folder that does not exist: status 1 and a message, nothing written.
if [ -d "$W/llama-gqa-spm-f32" ]; then
    "$OCTET" convert "$W/llama-gqa-spm-f32" "$W/nodir/x.gguf" -q >"$W/nodir.log" 2>&1
    rc=$?
    if [ $rc -eq 1 ] && grep -q "nodir" "$W/nodir.log" && [ ! -e "$W/nodir" ]; then
        echo "PASS output folder missing: $(tail -n 1 "$W/nodir.log")"
    else
        echo "FAIL output folder missing: status $rc: $(tail -n 1 "$W/nodir.log")"; fail=1
    fi
fi

# ---- malformed checkpoints ----------------------------------------------------------------------------------
# kind | text the message must contain (besides exit status 1)
S1=model-00001-of-00002.safetensors
malformed_cases="
trunc_header|$S1: 5 bytes: too short
hlen_beyond|$S1: header length
bad_json|$S1: line 1
unknown_dtype|unknown dtype 'F33'
int_dtype|dtype I64 is not supported
offset_out_of_range|beyond the data section
overlap|overlap
shape_size|needs
begin_gt_end|begin
dup_key|duplicate
config_missing|config.json: hidden_size: missing
config_type|config.json: num_hidden_layers: expected an integer, found string
config_json|config.json: line 1
bad_arch|GPTNeoXForCausalLM' is not supported
shape_config|config.json implies
missing_shard|model-00002-of-00002.safetensors: cannot open
index_escape|model.safetensors.index.json: weight_map
missing_tensor|cover
extra_tensor|has no place
spm_garbage|tokenizer.model: malformed protobuf
no_tokenizer|neither tokenizer.model nor tokenizer.json
"
bins=("$OCTET")
[ -x "$ASAN" ] && bins+=("$ASAN")
IFS=$'\n'
for line in $malformed_cases; do
    kind=${line%%|*} want=${line#*|}
    ck="$W/bad-$kind"
    if ! "$PY" $GEN -o "$ck" --vocab 320 --malform "$kind" >"$W/gen.log" 2>&1; then
        echo "FAIL malformed $kind: generation"; cat "$W/gen.log"; fail=1; continue
    fi
    for bin in "${bins[@]}"; do
        out="$W/outdir/bad.gguf"
        mkdir -p "$W/outdir"
        timeout 60 "$bin" convert "$ck" "$out" -q >"$W/bad.log" 2>&1
        rc=$?
        msg=$(tail -n 1 "$W/bad.log")
        left=$(ls -A "$W/outdir")
        if [ $rc -ne 1 ] || ! grep -qF -- "$want" "$W/bad.log" || [ -n "$left" ]; then
            echo "FAIL malformed $kind ($bin): status $rc, files left [$left], message: $msg (expected '$want')"
            fail=1
        else
            echo "PASS malformed $kind ($(basename "$bin")): $msg"
        fi
        rm -rf "$W/outdir"
    done
done
unset IFS
exit $fail
