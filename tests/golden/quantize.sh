#!/usr/bin/env bash
# Golden tests for `octet quantize` (src/tensor/quantize.c, src/format/gguf_write.c). See docs/quantize.md.
#   1. Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 (from F32 and from F16 input): every tensor written at that type has the same
#      bytes as tools/gguflib.py's independent numpy port of ggml's reference quantizers; acceptance is >= 99%
#      of blocks bit-identical (ties in float rounding may differ), and we print the measured share.
#   2. Metadata: every input key is in the output with the same type and value (general.file_type aside),
#      general.file_type = llama.cpp's LLAMA_FTYPE value, general.quantization_version = 2 (UINT32); tensor
#      names, order and shapes preserved; 1-D tensors F32 and byte-identical.
#   3. Policy: per-tensor types of Q8_0, Q4_0, Q4_K, Q4_K_S, Q4_K_M, Q5_K_M, Q6_K, F16 and a tied model against a
#      table written by hand from llama.cpp's rules (8 layers: use_more_bits layers are 0, 3, 6, 7; ff = 288 is
#      not a multiple of 256, so ffn_down falls back: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0).
#   4. Logits (2-layer model): octet on the quantized file against the float64 reference (tests/ref/llama_ref.py)
#      on the same file, max|diff| <= 8e-2 * std (the tolerance of tests/golden/logits.sh for quantized
#      weights); and against the reference on the original F32 model, rms|diff| / std(ref) <= Q8_0 0.03,
#      Q6_K 0.07, Q5_K_M 0.12, Q5_0 0.15, Q4_K_M 0.22, Q4_0 0.28 (about 1.5x the values measured; random
#      Gaussian weights are much harder to quantize than trained ones: a wrong block layout gives ~1).
#   5. Never a partial output: missing folder, truncated input, quantized input, usage errors and SIGINT leave
#      no OUT and no temporary file; an existing OUT survives a failure. Determinism: -t 1 and -t 2 write the
#      same bytes; the positional form `IN OUT TYPE N` equals `--type TYPE -t N`.
# One line per check; exit status non-zero on any failure. Env: OCTET (default ./octet), PY (/usr/bin/python3).
set -u
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
ok() { echo "PASS $*"; }
bad() { echo "FAIL $*"; fail=1; }
TOKS=1,29,301,4,77,258,260,12,300,5,64,270

if [ ! -x "$OCTET" ]; then echo "FAIL $OCTET not built"; exit 1; fi

gen() { nice -n 10 "$PY" tests/ref/make_random_model.py "$@" >"$W/gen.log" 2>&1 || { bad "model generation: $*"; cat "$W/gen.log"; }; }
# 8 layers, dim 256, ff 288 (rows of ffn_down not a multiple of 256), GQA, untied
gen -o "$W/m.gguf" --type F32 --vocab 320 --dim 256 --layers 8 --heads 4 --kv-heads 2 --ff 288 --seed 21
gen -o "$W/h.gguf" --type F16 --vocab 320 --dim 128 --layers 2 --heads 4 --ff 256 --seed 22
gen -o "$W/tied.gguf" --type F32 --vocab 320 --dim 256 --layers 2 --heads 4 --ff 256 --tied --seed 23

q() { # q IN OUT TYPE [extra args]: quantize, quietly
    local in=$1 out=$2 ty=$3; shift 3
    nice -n 10 "$OCTET" quantize "$in" "$out" --type "$ty" -q "$@" >"$W/q.log" 2>&1 || { bad "quantize $ty $(basename "$in"): exit $?"; tail -3 "$W/q.log"; return 1; }
}

# ---- 1 + 2 + 3: bytes, metadata, policy -------------------------------------------------------------------------
for t in Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q4_K_S Q4_K_M Q6_K F16 BF16 F32; do q "$W/m.gguf" "$W/m-$t.gguf" $t; done
for t in Q8_0 Q4_0 Q5_1; do q "$W/h.gguf" "$W/h-$t.gguf" $t; done
q "$W/tied.gguf" "$W/tied-Q4_K_M.gguf" Q4_K_M
q "$W/tied.gguf" "$W/tied-Q8_0.gguf" Q8_0

nice -n 10 "$PY" - "$W" <<'EOF' || fail=1
import sys
sys.path.insert(0, "tools")
import numpy as np
import enum
import gguflib as G

# gguflib predates Q5_K: extend its type enum and block table so its reader can list Q5_K tensors (their bytes
# are not decoded here; the Q5_K kernels have their own tests in tests/kernels/test_q5k.c)
G.GGMLType = enum.IntEnum("GGMLType", [(m.name, int(m)) for m in G.GGMLType] + [("Q5_K", 13)])
G.BLOCK[G.GGMLType.Q5_K] = (256, 176)
W = sys.argv[1]
T = G.GGMLType
FTYPE = {"Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9, "Q4_K": 14, "Q4_K_S": 14, "Q4_K_M": 15,
         "Q5_K_M": 17, "Q6_K": 18, "F16": 1, "BF16": 32, "F32": 0}
fails = 0

def report(ok, msg):
    global fails
    print(("PASS " if ok else "FAIL ") + msg)
    fails += not ok

def use_more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2

def expected(mix, name, ne, n_layer, tied=False):
    """Hand-written table of llama.cpp's rules for the shapes used here."""
    if len(ne) == 1 or name.endswith("_norm.weight"):
        return "F32"
    if mix in ("F16", "BF16", "F32"):
        return mix
    base = {"Q4_K": "Q4_K", "Q4_K_S": "Q4_K", "Q4_K_M": "Q4_K", "Q5_K_M": "Q5_K"}.get(mix, mix)
    ty = base
    layer = int(name.split(".")[1]) if name.startswith("blk.") else -1
    if name == "output.weight" or (tied and name == "token_embd.weight"):
        ty = "Q8_0" if base == "Q8_0" else "Q6_K"
    elif "attn_v" in name:
        if mix in ("Q4_K_M", "Q5_K_M") and use_more_bits(layer, n_layer): ty = "Q6_K"
        elif mix == "Q4_K_S" and layer < 4: ty = "Q5_K"
    elif "ffn_down" in name:
        if mix in ("Q4_K_M", "Q5_K_M") and use_more_bits(layer, n_layer): ty = "Q6_K"
        elif mix == "Q4_K_S" and layer < n_layer // 8: ty = "Q5_K"
    if ne[0] % 256 and ty in ("Q4_K", "Q5_K", "Q6_K"):
        ty = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}[ty]
    return ty

def check_file(src_path, out_path, mix, n_layer, tied=False, bytes_check=False):
    src, out = G.GGUFReader(src_path), G.GGUFReader(out_path)
    label = "%s %s" % (src_path.split("/")[-1], mix)
    # metadata
    miss = [k for k in src.kv if k != "general.file_type" and (k not in out.kv or out.kv[k] != src.kv[k]
                                                              or out.kv_types[k] != src.kv_types[k])]
    ft = out.kv.get("general.file_type"), out.kv_types.get("general.file_type", (None,))[0]
    qv = out.kv.get("general.quantization_version"), out.kv_types.get("general.quantization_version", (None,))[0]
    report(not miss and ft == (FTYPE[mix], G.GGUFValueType.UINT32) and qv == (2, G.GGUFValueType.UINT32),
           "%-22s metadata: %d keys copied, file_type %s, quantization_version %s%s" % (
               label, len(src.kv), ft[0], qv[0], (" MISSING/CHANGED %s" % miss[:5]) if miss else ""))
    report(out.tensor_order == src.tensor_order and all(out.tensors[n][0] == src.tensors[n][0] for n in src.tensors),
           "%-22s tensor names, order and shapes preserved (%d)" % (label, len(src.tensor_order)))
    # policy
    wrong = []
    for n in src.tensor_order:
        ne = src.tensors[n][0]
        want, got = expected(mix, n, ne, n_layer, tied=tied), out.tensors[n][1].name
        if want != got: wrong.append("%s: %s, expected %s" % (n, got, want))
    report(not wrong, "%-22s per-tensor types as the hand table%s" % (label, (": " + "; ".join(wrong[:4])) if wrong else ""))
    # 1-D tensors verbatim
    same1d = all(bytes(out.tensors[n][2]) == bytes(src.tensors[n][2]) for n in src.tensors
                 if len(src.tensors[n][0]) == 1 and src.tensors[n][1] == T.F32)
    report(same1d, "%-22s 1-D F32 tensors byte-identical" % label)
    if not bytes_check:
        return
    # bytes of every tensor at the mix's type against gguflib's reference quantizer
    qt = T[mix]
    bw, bb = G.BLOCK[qt]
    nblk = nsame = 0
    for n in src.tensor_order:
        ne, ty, raw = out.tensors[n]
        if ty != qt: continue
        x = src.tensor(n).astype(np.float32)  # exact: F32, or F16 decoded
        want = np.frombuffer(G.quantize(x, qt), np.uint8).reshape(-1, bb)
        got = np.frombuffer(bytes(raw), np.uint8).reshape(-1, bb)
        nblk += got.shape[0]
        nsame += int(np.all(want == got, axis=1).sum())
    share = nsame / max(nblk, 1)
    report(nblk > 0 and share >= 0.99, "%-22s %d of %d blocks bit-identical to gguflib's reference quantizer (%.4f%%, need >= 99%%)"
           % (label, nsame, nblk, 100 * share))

for mix in ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]:
    check_file(W + "/m.gguf", W + "/m-%s.gguf" % mix, mix, 8, bytes_check=True)
for mix in ["Q8_0", "Q4_0", "Q5_1"]:
    check_file(W + "/h.gguf", W + "/h-%s.gguf" % mix, mix, 2, bytes_check=True)
for mix in ["Q4_K", "Q4_K_S", "Q4_K_M", "Q6_K", "F16", "BF16", "F32"]:
    check_file(W + "/m.gguf", W + "/m-%s.gguf" % mix, mix, 8)
# 2 layers: use_more_bits is true for layer 1 only (i >= 7*2/8), so attn_v / ffn_down of blk.1 get Q6_K
check_file(W + "/tied.gguf", W + "/tied-Q4_K_M.gguf", "Q4_K_M", 2, tied=True)
check_file(W + "/tied.gguf", W + "/tied-Q8_0.gguf", "Q8_0", 2, tied=True)
# F32 -> F32 is a verbatim copy of every tensor; F16 / BF16 equal gguflib's conversions
src, o32, o16 = G.GGUFReader(W + "/m.gguf"), G.GGUFReader(W + "/m-F32.gguf"), G.GGUFReader(W + "/m-F16.gguf")
report(all(bytes(o32.tensors[n][2]) == bytes(src.tensors[n][2]) for n in src.tensors), "m.gguf F32: tensors byte-identical")
report(all(bytes(o16.tensors[n][2]) == G.quantize(src.tensor(n).astype(np.float32), o16.tensors[n][1]) for n in src.tensors),
       "m.gguf F16: tensors equal gguflib's fp16 conversion")
sys.exit(1 if fails else 0)
EOF

# Q5_K_M: gguflib does not read Q5_K, so the types come from `octet info` (the raw type ids of the file)
q "$W/m.gguf" "$W/m-Q5_K_M.gguf" Q5_K_M
"$OCTET" info -m "$W/m-Q5_K_M.gguf" 2>/dev/null | awk '$1 ~ /^(blk|token_embd|output)/ {print $1, $(NF-1)}' >"$W/q5.types"
want=$(for i in 0 1 2 3 4 5 6 7; do
    case $i in 0|3|6|7) v=Q6_K; d=Q8_0;; *) v=Q5_K; d=Q5_1;; esac
    echo "blk.$i.attn_v.weight $v"; echo "blk.$i.ffn_down.weight $d"; echo "blk.$i.ffn_up.weight Q5_K"; done
    echo "token_embd.weight Q5_K"; echo "output.weight Q6_K"; echo "output_norm.weight F32")
miss=$(echo "$want" | while read -r n t; do grep -qx "$n $t" "$W/q5.types" || echo "$n!=$t"; done)
[ -z "$miss" ] && ok "m.gguf Q5_K_M per-tensor types (octet info): attn_v/ffn_down bumps and fallbacks" || bad "Q5_K_M types: $miss"

# ---- 4: logits ----------------------------------------------------------------------------------------------------
# A 2-layer model (deeper random models amplify the activation-quantization error past logits.sh's 8e-2).
gen -o "$W/l.gguf" --type F32 --vocab 320 --dim 256 --layers 2 --heads 4 --kv-heads 2 --ff 288 --seed 25
nice -n 10 "$PY" tests/ref/llama_ref.py "$W/l.gguf" --tokens "$TOKS" -o "$W/ref-f32.bin" || bad "reference on F32"
# bound on rms(octet on the quantized file - reference on the F32 model) / std(reference), about 1.5x measured
for spec in Q8_0:0.03 Q6_K:0.07 Q5_K_M:0.12 Q5_0:0.15 Q4_K_M:0.22 Q4_0:0.28; do
    t=${spec%%:*}; loose=${spec#*:}
    q "$W/l.gguf" "$W/l-$t.gguf" $t || continue
    if ! timeout 30 "$OCTET" logits -m "$W/l-$t.gguf" --tokens "$TOKS" -t 1 -o "$W/got-$t.bin" >"$W/l.log" 2>&1; then
        bad "octet logits on the $t file"; tail -3 "$W/l.log"; continue
    fi
    if [ "$t" != Q5_K_M ]; then  # llama_ref reads weights through gguflib, which does not decode Q5_K
        nice -n 10 "$PY" tests/ref/llama_ref.py "$W/l-$t.gguf" --tokens "$TOKS" -o "$W/ref-$t.bin" || { bad "reference on $t"; continue; }
        "$PY" tests/ref/compare_logits.py "$W/ref-$t.bin" "$W/got-$t.bin" 320 8e-2 "$t file: octet vs float64 ref" || fail=1
    fi
    "$PY" - "$W/ref-f32.bin" "$W/got-$t.bin" "$loose" "$t" <<'EOF2' || fail=1
import sys
import numpy as np
r = np.fromfile(sys.argv[1], "<f4").astype(np.float64).reshape(-1, 320)
g = np.fromfile(sys.argv[2], "<f4").astype(np.float64).reshape(-1, 320)
rms = np.sqrt(((r - g) ** 2).mean()) / r.std()
ok = g.shape == r.shape and np.isfinite(g).all() and rms <= float(sys.argv[3])
print("%s %-44s rms|diff|/std = %.3f (bound %s), max %.3f, same top-1 %.0f%%" % ("PASS" if ok else "FAIL",
      sys.argv[4] + " file vs the F32 model's ref", rms, sys.argv[3], np.abs(r - g).max() / r.std(),
      100 * (r.argmax(1) == g.argmax(1)).mean()))
sys.exit(0 if ok else 1)
EOF2
done

# ---- 5: never partial, determinism, command line ----------------------------------------------------------------
leftovers() { ls -A "$1" | grep -c '\.tmp\.' ; }
mkdir -p "$W/out"
"$OCTET" quantize "$W/m.gguf" "$W/nonexistent/x.gguf" Q8_0 >"$W/e.log" 2>&1; rc=$?
[ $rc = 1 ] && [ ! -e "$W/nonexistent" ] && grep -q "nonexistent" "$W/e.log" && ok "missing output folder: exit 1, message names it" || bad "missing folder: exit $rc"
head -c 5000 "$W/m.gguf" >"$W/trunc.gguf"
echo old >"$W/out/keep.gguf"
"$OCTET" quantize "$W/trunc.gguf" "$W/out/keep.gguf" Q4_0 >"$W/e.log" 2>&1; rc=$?
[ $rc = 1 ] && [ "$(cat "$W/out/keep.gguf")" = old ] && [ "$(leftovers "$W/out")" = 0 ] && ok "truncated input: exit 1, existing OUT untouched, no temp file" || bad "truncated input: exit $rc"
"$OCTET" quantize "$W/m-Q8_0.gguf" "$W/out/rq.gguf" Q4_0 >"$W/e.log" 2>&1; rc=$?
[ $rc = 1 ] && [ ! -e "$W/out/rq.gguf" ] && grep -q "already quantized" "$W/e.log" && [ "$(leftovers "$W/out")" = 0 ] && ok "quantized input refused without --allow-requantize" || bad "quantized input: exit $rc"
if "$OCTET" quantize "$W/m-Q8_0.gguf" "$W/out/rq.gguf" Q8_0 --allow-requantize -q >"$W/e.log" 2>&1 &&
   cmp -s "$W/m-Q8_0.gguf" "$W/out/rq.gguf"; then ok "--allow-requantize Q8_0 -> Q8_0 copies the blocks verbatim (identical file)"; else bad "requantize Q8_0 -> Q8_0"; fi
"$OCTET" quantize "$W/m.gguf" "$W/out/u.gguf" Q3_K >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && [ ! -e "$W/out/u.gguf" ] && ok "unknown type: exit 2" || bad "unknown type: exit $rc"
"$OCTET" quantize "$W/m.gguf" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "missing OUT: exit 2" || bad "missing OUT: exit $rc"
"$OCTET" quantize "$W/m.gguf" "$W/out/a.gguf" --type Q4_K_M -t 1 -q >/dev/null 2>&1
"$OCTET" quantize "$W/m.gguf" "$W/out/b.gguf" q4_k_m 2 >/dev/null 2>&1
cmp -s "$W/out/a.gguf" "$W/out/b.gguf" && cmp -s "$W/out/a.gguf" "$W/m-Q4_K_M.gguf" && ok "-t 1, positional 'q4_k_m 2' and the default thread count write identical bytes" || bad "thread-count / positional form outputs differ"
"$OCTET" quantize "$W/m.gguf" "$W/out/p.gguf" Q8_0 2>"$W/p.log" >/dev/null
n=$(grep -c '^\[ *[0-9]*/ *[0-9]*\]' "$W/p.log"); nt=$(grep -c 'general.file_type 7' "$W/p.log")
[ "$n" = 75 ] && [ "$nt" = 1 ] && ok "progress: one plain line per tensor when stderr is not a terminal, then the summary" || bad "progress lines: $n, summary $nt"
# the sanitizer build writes the same bytes (memory errors abort it)
ASAN=${OCTET_ASAN:-build/asan/octet}
if [ -x "$ASAN" ]; then
    for t in Q4_K_M Q5_K_M; do
        "$OCTET" quantize "$W/h.gguf" "$W/out/r-$t.gguf" $t -q >/dev/null 2>&1
        if "$ASAN" quantize "$W/h.gguf" "$W/out/s-$t.gguf" $t -t 2 -q >"$W/asan.log" 2>&1 && cmp -s "$W/out/r-$t.gguf" "$W/out/s-$t.gguf"; then
            ok "ASan+UBSan build: $t clean and byte-identical"
        else bad "ASan build $t"; tail -5 "$W/asan.log"; fi
    done
fi
# SIGINT in the middle of a larger model
gen -o "$W/big.gguf" --type F32 --vocab 4096 --dim 512 --layers 4 --heads 8 --ff 1024 --seed 24
"$OCTET" quantize "$W/big.gguf" "$W/out/big.gguf" Q4_K_M -t 1 >"$W/i.log" 2>&1 &
pid=$!
sleep 0.7
kill -INT $pid 2>/dev/null
wait $pid; rc=$?
if [ $rc = 0 ]; then
    echo "SKIP SIGINT: quantization finished before the signal"
else
    [ $rc = 1 ] && [ ! -e "$W/out/big.gguf" ] && [ "$(leftovers "$W/out")" = 0 ] && grep -q interrupted "$W/i.log" && ok "SIGINT: exit 1, no OUT, no temp file" || { bad "SIGINT: exit $rc"; tail -2 "$W/i.log"; ls -A "$W/out"; }
fi

if [ $fail -ne 0 ]; then echo "golden quantize: FAILED"; exit 1; fi
echo "golden quantize: all passed"
