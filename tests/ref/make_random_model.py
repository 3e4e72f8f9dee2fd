#!/usr/bin/python3
"""make_random_model.py - write a small random Llama-family GGUF model (for golden tests of octet).

Weights are drawn so that activations and logits are well conditioned: every matrix ~ N(0, 1/n_in) (entries
of std 1/sqrt(n_in), so a projection of an RMS-normalised vector has entries of std ~1 and attention scores
q.k/sqrt(head_dim) have std ~1), norm gains ~ 1 + N(0, 0.1^2), qwen2 biases ~ N(0, 0.25^2), token embeddings
~ N(0, 1). Norm gains and biases are always F32; the matrices (and token_embd, unless --embd-type says
otherwise) use --type. K-quant types need n_embd and n_ff multiples of 256; the 32-blocks need multiples of 32.

Includes a minimal SentencePiece-style ("llama") vocabulary: <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF>,
single letters and some words with the U+2581 word-start marker, then filler pieces up to --vocab.

Architectures beyond the Llama-2 family (llama.cpp's GGUF names): qwen3 (per-head q/k RMSNorm gains
blk.N.attn_q_norm / attn_k_norm ~ 1 + N(0, 0.1^2)), qwen3moe and Mixtral-style llama files with --experts (router
blk.N.ffn_gate_inp [n_expert x n_embd] ~ N(0, 1/n_embd), expert stacks blk.N.ffn_{gate,up,down}_exps of shape
(n_expert, rows, cols)), Llama 3 frequency factors (--llama3-rope: rope_freqs.weight computed as llama.cpp's
converter does from Hugging Face's rope_scaling {factor, low_freq_factor, high_freq_factor,
original_max_position_embeddings}), YaRN scaling keys (--rope-scaling yarn).

Example: make_random_model.py -o m.gguf --arch llama --dim 256 --layers 2 --heads 8 --kv-heads 2 --ff 512 \
             --vocab 320 --type Q4_K --rope-base 500000 --seed 1
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from gguflib import BLOCK, GGMLType, GGUFValueType, GGUFWriter  # noqa: E402

# tokenizer.ggml.token_type values (llama.cpp): 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte
TT_NORMAL, TT_UNKNOWN, TT_CONTROL, TT_BYTE = 1, 2, 3, 6

WORDS = ("the of and to in is was that for it with as on be at by this had not are but from or have an they "
         "which one you were her all she there would their we him been has when who will more no if out so said "
         "what up its about into than them can only other new some could time these two may then do first any my "
         "now such like our over man me even most made after also did many before must through back years where "
         "much your way well down should because each just those people how too little state good very make world "
         "still own see men work long get here between both life being under never day same another know while "
         "last might us great old year off come since against go came right used take three hello octet model "
         "token llama").split()


def spm_vocab(n_vocab):
    """(tokens, scores, types) of a toy SentencePiece vocabulary of exactly n_vocab pieces (n_vocab >= 259)."""
    if n_vocab < 259:
        raise ValueError("the toy vocabulary needs at least 259 tokens (3 specials + 256 bytes)")
    toks = ["<unk>", "<s>", "</s>"]
    types = [TT_UNKNOWN, TT_CONTROL, TT_CONTROL]
    toks += ["<0x%02X>" % b for b in range(256)]
    types += [TT_BYTE] * 256
    normal = ["\u2581"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    normal += ["\u2581" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    normal += ["\u2581" + w for w in WORDS] + [w for w in WORDS if len(w) > 2]
    seen = set(toks)
    uniq = []
    for p in normal:
        if p not in seen:
            seen.add(p)
            uniq.append(p)
    i = 0
    while len(toks) + len(uniq) < n_vocab:
        p = "\u2581x%d" % i
        i += 1
        if p not in seen:
            seen.add(p)
            uniq.append(p)
    uniq = uniq[: n_vocab - len(toks)]
    toks += uniq
    types += [TT_NORMAL] * len(uniq)
    # scores: specials and bytes 0, normal pieces by decreasing preference (longer pieces preferred)
    scores = [0.0] * 259 + [-float(k) - 1.0 / (1 + len(p)) for k, p in enumerate(uniq)]
    return toks, scores, types


def llama3_rope_freqs(base, dim, spec):
    """rope_freqs.weight as llama.cpp's converter writes it for a Hugging Face rope_scaling of type llama3: per
    pair the divisor of the frequency (1 for short wavelengths, factor for long ones, a smooth blend between).
    spec: "factor,low_freq_factor,high_freq_factor,original_max_position_embeddings"."""
    factor, low, high, orig = [float(v) for v in spec.split(",")]
    freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    out = []
    for f in freqs:
        wavelen = 2 * np.pi / f
        if wavelen < orig / high:
            out.append(1.0)
        elif wavelen > orig / low:
            out.append(factor)
        else:
            smooth = (orig / wavelen - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def build(args):
    rng = np.random.default_rng(args.seed)
    arch = args.arch
    E, F, V = args.dim, args.ff, args.vocab
    nh, nkv = args.heads, args.kv_heads or args.heads
    hd = args.head_dim or E // nh
    if (not args.head_dim and E % nh) or nh % nkv:
        raise ValueError("dim must be a multiple of heads, heads a multiple of kv-heads")
    qt = GGMLType[args.type]
    et = GGMLType[args.embd_type] if args.embd_type else qt
    for t in (qt, et):
        bw = BLOCK[t][0]
        if E % bw or F % bw or (nh * hd) % bw:
            raise ValueError("%s needs dim and ff multiples of %d" % (t.name, bw))

    w = GGUFWriter(args.output)
    w.add_kv("general.architecture", arch)
    # (llama.cpp's vocabulary loader gives names containing "phi3" Phi-3's special tokens, absent here)
    w.add_kv("general.name", "random-%s-%s-seed%d" % (arch.replace("phi3", "phi-three"), qt.name, args.seed))
    w.add_kv("general.file_type", 0)
    w.add_kv("%s.context_length" % arch, args.ctx)
    w.add_kv("%s.embedding_length" % arch, E)
    w.add_kv("%s.block_count" % arch, args.layers)
    w.add_kv("%s.feed_forward_length" % arch, F)
    w.add_kv("%s.attention.head_count" % arch, nh)
    w.add_kv("%s.attention.head_count_kv" % arch, nkv)
    w.add_kv("%s.rope.dimension_count" % arch, hd)
    if args.head_dim:
        w.add_kv("%s.attention.key_length" % arch, hd)
        w.add_kv("%s.attention.value_length" % arch, hd)
    n_exp = args.experts
    if arch == "qwen3moe" and not n_exp:
        raise ValueError("qwen3moe needs --experts")
    FE = args.ff_exp or F
    if n_exp:
        w.add_kv("%s.expert_count" % arch, n_exp)
        w.add_kv("%s.expert_used_count" % arch, args.experts_used)
        if arch == "qwen3moe":
            w.add_kv("%s.expert_feed_forward_length" % arch, FE)
    w.add_kv("%s.attention.layer_norm_rms_epsilon" % arch, args.eps)
    w.add_kv("%s.rope.freq_base" % arch, args.rope_base)
    if args.rope_scaling == "yarn":
        w.add_kv("%s.rope.scaling.type" % arch, "yarn")
        w.add_kv("%s.rope.scaling.factor" % arch, args.rope_scale)
        w.add_kv("%s.rope.scaling.original_context_length" % arch, args.yarn_orig_ctx)
    elif args.rope_scaling != "linear":
        w.add_kv("%s.rope.scaling.type" % arch, args.rope_scaling)
        w.add_kv("%s.rope.scaling.factor" % arch, args.rope_scale)
    elif args.rope_scale != 1.0:
        w.add_kv("%s.rope.scaling.type" % arch, "linear")
        w.add_kv("%s.rope.scaling.factor" % arch, args.rope_scale)
    if args.swa:
        w.add_kv("%s.attention.sliding_window" % arch, args.swa)
    if args.swa_pattern:
        w.add_kv("%s.attention.sliding_window_pattern" % arch, args.swa_pattern)
    if args.rope_base_swa:
        w.add_kv("%s.rope.freq_base_swa" % arch, args.rope_base_swa)
    if args.attn_softcap:
        w.add_kv("%s.attn_logit_softcapping" % arch, args.attn_softcap)
    if args.final_softcap:
        w.add_kv("%s.final_logit_softcapping" % arch, args.final_softcap)
    if args.attn_factor != 1.0:
        w.add_kv("%s.rope.scaling.attn_factor" % arch, args.attn_factor)

    toks, scores, types = spm_vocab(V)
    w.add_kv("tokenizer.ggml.model", "llama")
    w.add_kv("tokenizer.ggml.tokens", toks)
    w.add_kv("tokenizer.ggml.scores", scores, GGUFValueType.ARRAY, arr_type=GGUFValueType.FLOAT32)
    w.add_kv("tokenizer.ggml.token_type", types, GGUFValueType.ARRAY, arr_type=GGUFValueType.INT32)
    w.add_kv("tokenizer.ggml.unknown_token_id", 0)
    w.add_kv("tokenizer.ggml.bos_token_id", 1)
    w.add_kv("tokenizer.ggml.eos_token_id", 2)
    w.add_kv("tokenizer.ggml.add_bos_token", True)
    w.add_kv("tokenizer.ggml.add_eos_token", False)

    def mat(n_out, n_in):
        return (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32)

    def gain(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w.add_tensor("token_embd.weight", rng.standard_normal((V, E)).astype(np.float32), et)
    w.add_tensor("output_norm.weight", gain(E), GGMLType.F32)
    if not args.tied:
        w.add_tensor("output.weight", mat(V, E), qt)
    if args.longrope:  # Phi-3.5-like factors: short ones near 1, long ones growing with the pair index
        half = hd // 2
        short = (1.0 + 0.5 * rng.random(half)).astype(np.float32)
        long_ = np.exp(np.linspace(0.0, np.log(40.0), half) + 0.1 * rng.standard_normal(half)).astype(np.float32)
        long_ = np.maximum(long_, 1.0).astype(np.float32)
        w.add_tensor("rope_factors_long.weight", long_, GGMLType.F32)
        w.add_tensor("rope_factors_short.weight", short, GGMLType.F32)
        scale = args.ctx / args.longrope
        w.add_kv("%s.rope.scaling.original_context_length" % arch, args.longrope)
        w.add_kv("%s.rope.scaling.attn_factor" % arch,
                 float(np.sqrt(1 + np.log(scale) / np.log(args.longrope))) if scale > 1 else 1.0)
    if args.llama3_rope:
        w.add_tensor("rope_freqs.weight", llama3_rope_freqs(args.rope_base, hd, args.llama3_rope), GGMLType.F32)
    biases = arch == "qwen2" if args.biases is None else args.biases
    for l in range(args.layers):
        p = "blk.%d." % l
        w.add_tensor(p + "attn_norm.weight", gain(E), GGMLType.F32)
        if args.fused_qkv or arch == "phi3":  # rows of q, then k, then v
            w.add_tensor(p + "attn_qkv.weight", np.concatenate([mat(nh * hd, E), mat(nkv * hd, E), mat(nkv * hd, E)]), qt)
            if biases:
                w.add_tensor(p + "attn_qkv.bias", (0.25 * rng.standard_normal((nh + 2 * nkv) * hd)).astype(np.float32))
        else:
            w.add_tensor(p + "attn_q.weight", mat(nh * hd, E), qt)
            w.add_tensor(p + "attn_k.weight", mat(nkv * hd, E), qt)
            w.add_tensor(p + "attn_v.weight", mat(nkv * hd, E), qt)
            if biases:
                w.add_tensor(p + "attn_q.bias", (0.25 * rng.standard_normal(nh * hd)).astype(np.float32))
                w.add_tensor(p + "attn_k.bias", (0.25 * rng.standard_normal(nkv * hd)).astype(np.float32))
                w.add_tensor(p + "attn_v.bias", (0.25 * rng.standard_normal(nkv * hd)).astype(np.float32))
        w.add_tensor(p + "attn_output.weight", mat(E, nh * hd), qt)
        if arch in ("qwen3", "qwen3moe", "gemma3"):
            w.add_tensor(p + "attn_q_norm.weight", gain(hd), GGMLType.F32)
            w.add_tensor(p + "attn_k_norm.weight", gain(hd), GGMLType.F32)
        if arch.startswith("gemma"):  # norms as llama.cpp's converter writes them: Gemma's (1 + w)
            w.add_tensor(p + "post_attention_norm.weight", gain(E), GGMLType.F32)
            w.add_tensor(p + "post_ffw_norm.weight", gain(E), GGMLType.F32)
        w.add_tensor(p + "ffn_norm.weight", gain(E), GGMLType.F32)
        if n_exp:
            w.add_tensor(p + "ffn_gate_inp.weight", mat(n_exp, E), GGMLType.F32 if args.router_f32 else qt)
            w.add_tensor(p + "ffn_gate_exps.weight", np.stack([mat(FE, E) for _ in range(n_exp)]), qt)
            w.add_tensor(p + "ffn_up_exps.weight", np.stack([mat(FE, E) for _ in range(n_exp)]), qt)
            w.add_tensor(p + "ffn_down_exps.weight", np.stack([mat(E, FE) for _ in range(n_exp)]), qt)
            continue
        if arch == "phi3":  # Phi-3's gate_up_proj: the gate's rows, then up's
            w.add_tensor(p + "ffn_up.weight", np.concatenate([mat(F, E), mat(F, E)]), qt)
            w.add_tensor(p + "ffn_down.weight", mat(E, F), qt)
            continue
        w.add_tensor(p + "ffn_gate.weight", mat(F, E), qt)
        w.add_tensor(p + "ffn_up.weight", mat(F, E), qt)
        w.add_tensor(p + "ffn_down.weight", mat(E, F), qt)
    w.write()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--arch", default="llama",
                    choices=["llama", "mistral", "qwen2", "qwen3", "qwen3moe", "phi3", "gemma2", "gemma3"])
    ap.add_argument("--longrope", type=int, default=0,
                    help="phi3: LongRoPE with this original context: rope_factors_long/short.weight, "
                    "rope.scaling.original_context_length, rope.scaling.attn_factor (as llama.cpp's converter)")
    ap.add_argument("--swa", type=int, default=0, help="gemma: attention.sliding_window (0: key absent)")
    ap.add_argument("--swa-pattern", type=int, default=0, help="gemma: attention.sliding_window_pattern (0: absent)")
    ap.add_argument("--rope-base-swa", type=float, default=0.0, help="gemma: rope.freq_base_swa (0: absent)")
    ap.add_argument("--attn-softcap", type=float, default=0.0, help="gemma2: attn_logit_softcapping (0: absent)")
    ap.add_argument("--final-softcap", type=float, default=0.0, help="gemma: final_logit_softcapping (0: absent)")
    ap.add_argument("--fused-qkv", action="store_true", help="one attn_qkv.weight (default for phi3)")
    ap.add_argument("--head-dim", type=int, default=0, help="attention.key_length (default dim / heads)")
    ap.add_argument("--experts", type=int, default=0, help="mixture of experts: expert_count (llama: Mixtral layout)")
    ap.add_argument("--experts-used", type=int, default=2, help="expert_used_count")
    ap.add_argument("--ff-exp", type=int, default=0, help="qwen3moe expert_feed_forward_length (default --ff)")
    ap.add_argument("--router-f32", action="store_true", help="router (ffn_gate_inp) in F32 whatever --type")
    ap.add_argument("--llama3-rope", default=None,
                    help="factor,low_freq_factor,high_freq_factor,original_max_position_embeddings: rope_freqs.weight")
    ap.add_argument("--rope-scaling", default="linear",
                    help="linear, yarn, or any other name, written as rope.scaling.type (for refusal tests)")
    ap.add_argument("--yarn-orig-ctx", type=int, default=256, help="rope.scaling.original_context_length (yarn)")
    ap.add_argument("--attn-factor", type=float, default=1.0, help="rope.scaling.attn_factor")
    ap.add_argument("--vocab", type=int, default=320)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=0, help="default: --heads (multi-head attention)")
    ap.add_argument("--ff", type=int, default=256)
    ap.add_argument("--tied", action="store_true", help="no output.weight: logits use token_embd.weight")
    ap.add_argument("--type", default="F32", choices=[t.name for t in GGMLType], help="matrix weight type")
    ap.add_argument("--embd-type", default=None, choices=[t.name for t in GGMLType], help="default: --type")
    ap.add_argument("--biases", type=int, default=None, help="q/k/v biases (default: 1 for qwen2, else 0)")
    ap.add_argument("--rope-base", type=float, default=10000.0)
    ap.add_argument("--rope-scale", type=float, default=1.0, help="linear RoPE scaling factor (1 = none)")
    ap.add_argument("--eps", type=float, default=1e-5)
    ap.add_argument("--ctx", type=int, default=4096, help="context_length key")
    ap.add_argument("--seed", type=int, default=0)
    build(ap.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
