#!/usr/bin/python3
"""llama_ref.py - float64 reference forward pass of Llama-family models (llama, mistral, qwen2, qwen3, qwen3moe and
Mixtral-style llama files) read from GGUF.

The oracle octet's forward pass is tested against (tests/golden/logits.sh). Written from the published model
definitions (Llama: Touvron et al. 2023; RoPE: Su et al. 2021; GQA: Ainslie et al. 2023) and llama.cpp's GGUF
naming conventions, never from octet's C code. numpy only; every weight is dequantized to float64
(tools/gguflib.py) and every operation runs in float64, so the reference's own rounding error (~1e-13 relative)
is far below any tolerance the engine is held to.

Forward pass for tokens t_0..t_{T-1} at positions p_j = pos0 + j, with an empty KV cache:
    x = token_embd[t]                                           (T, n_embd)
    per layer l:
        h = rmsnorm(x) * attn_norm                              rmsnorm(x) = x / sqrt(mean(x^2) + eps)
        q = h Wq^T (+ bq), k = h Wk^T (+ bk), v = h Wv^T (+ bv)   biases exist for qwen2
        RoPE on q and k per head, first n_rot dims (rope.dimension_count, default head_dim):
            pairs (2i, 2i+1)        for llama / mistral  (llama.cpp's converter permutes Wq/Wk for this)
            pairs (i, i + n_rot/2)  for qwen2            (llama.cpp's "NEOX" style: HF layout kept)
            rotated by angle p * theta_i / s, theta_i = base^(-2i/n_rot), i < n_rot/2,
            s = rope.scaling.factor when the scaling type is linear (also when the type is absent but a factor
            is given, as llama.cpp does), else 1
        head h attends with kv head h // (n_head / n_head_kv); scores q.k / sqrt(head_dim), causal mask,
        softmax; x += concat(heads) Wo^T
        h = rmsnorm(x) * ffn_norm;  x += W_down (silu(W_gate h) * (W_up h)),  silu(z) = z / (1 + e^-z)
    logits = rmsnorm(x) * output_norm  output^T   (output.weight, or token_embd.weight when absent: tied)

Later architectures, written from Hugging Face transformers' model definitions (modeling_llama, modeling_qwen3,
modeling_mixtral, modeling_qwen3_moe, modeling_rope_utils) and llama.cpp's GGUF key / tensor names:
    Llama 3 RoPE (rope_type "llama3"): each inverse frequency theta_i is kept where its wavelength 2 pi / theta_i
        is below original_max_position_embeddings / high_freq_factor, divided by factor where it is above
        original / low_freq_factor, else theta_i ((1 - smooth) / factor + smooth) with
        smooth = (original / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor).
        GGUF stores the per-pair divisors as rope_freqs.weight (theta_i / rope_freqs[i]); with --llama3
        FACTOR,LOW,HIGH,ORIG the reference computes the frequencies from the formula above and checks that the file's
        divisors give the same ones (to float32 rounding), then uses the file's.
    YaRN (rope.scaling.type yarn; Peng et al. 2023, HF _compute_yarn_parameters): with factor s and original
        context L, corr(r) = n_rot ln(L / (2 pi r)) / (2 ln base), lo = max(0, floor(corr(32))),
        hi = min(n_rot - 1, ceil(corr(1))), ramp_i = clamp((i - lo) / (hi - lo), 0, 1) (hi == lo: hi += 0.001),
        theta_i' = theta_i / s * ramp_i + theta_i * (1 - ramp_i); cos and sin times 0.1 ln s + 1 (s > 1), times
        rope.scaling.attn_factor when given.
    phi3 (modeling_phi3): one qkv projection (q, k, v outputs in that order) and one gate_up projection (gate
        first, up second: up_states.chunk(2)), half-split RoPE; otherwise the Llama block.
    gemma2 (modeling_gemma2): embeddings times sqrt(n_embd); per layer x += post_attention_norm(attn(
        input_norm(x))), x += post_feedforward_norm(mlp(pre_feedforward_norm(x))) (GGUF: attn_norm,
        post_attention_norm, ffn_norm, post_ffw_norm; llama.cpp's converter stores Gemma's RMSNorm gains as 1 + w,
        so every norm here is the plain rmsnorm with the file's gains); mlp = W_down(gelu_tanh(W_gate h) * W_up h),
        gelu_tanh(z) = z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))); scores q.k * query_pre_attn_scalar^-1/2
        (taken as head_dim: GGUF has no key for it, llama.cpp uses head_dim except for the 27B models), then
        c tanh(s / c) with c = attn_logit_softcapping (default 50); layers i with (i + 1) % pattern != 0 (pattern
        attention.sliding_window_pattern, default 2) are sliding: keys at distance >= sliding_window (default
        4096) are hidden; logits -> c tanh(logits / c), c = final_logit_softcapping (default 30); half-split RoPE.
    gemma3 (modeling_gemma3): as gemma2 without attention soft-capping (final only when the key is given),
        q and k per-head RMSNorm (q_norm, k_norm) before RoPE; sliding layers (when sliding_window is given;
        pattern default 6) use RoPE base rope.freq_base_swa (HF rope_local_base_freq, default 10000) without
        scaling, the others the global base with the linear scaling factor.
    phi3 LongRoPE (HF _compute_longrope_parameters): inverse frequencies base^(-2i/n_rot) / ext_i with ext the
        long factors (rope_factors_long) when the sequence length exceeds original_max_position_embeddings
        (rope.scaling.original_context_length), else the short ones; cos and sin times the attention factor
        (rope.scaling.attn_factor, sqrt(1 + ln(s) / ln(original)) as the converter writes it). The "sequence
        length" is --n-ctx (llama.cpp decides by the context size; octet too).
    qwen3: q and k, split into heads, each head RMSNorm-ed with gains attn_q_norm / attn_k_norm ([head_dim]) before
        RoPE; half-split RoPE as qwen2; no biases.
    Mixture of experts (Mixtral in llama files, qwen3moe): p = softmax(h W_router^T) over all experts, the
        n_expert_used largest kept and renormalised to sum 1 (Mixtral always, Qwen3-MoE with norm_topk_prob, as
        llama.cpp does for both), FFN output sum_e p_e W_down_e (silu(W_gate_e h) * (W_up_e h)).

RoPE angle accuracy: theta_i and p * theta_i / s are computed in np.longdouble (x87 80-bit on x86-64: 64-bit
significand) and reduced modulo 2 pi in long double before the float64 cos/sin. For p <= 1e7 the angle's
absolute error is about p * theta * 2^-64 + |angle mod 2pi| * 2^-53 < 1e-12 rad, against ~1e-9 rad for a plain
float64 product (which would still be far below the test tolerances).

CLI: llama_ref.py MODEL.gguf --tokens 1,2,3 [--pos0 P] [--act-quant none|ggml] -o out.bin
writes float32 little-endian logits, T rows of n_vocab (the contract of `octet logits`).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from gguflib import GGMLType, GGUFReader, dequantize, quantize  # noqa: E402

ROPE_NORM = "norm"  # adjacent pairs
ROPE_NEOX = "neox"  # halves


class Model:
    """Hyperparameters and float64 weights of a GGUF Llama-family model."""

    def __init__(self, path):
        r = GGUFReader(path)
        self.reader = r
        kv = r.kv
        arch = kv["general.architecture"]
        if arch not in ("llama", "mistral", "qwen2", "qwen3", "qwen3moe", "phi3", "gemma2", "gemma3"):
            raise ValueError("architecture %r not supported" % arch)
        self.arch = arch

        def key(name, default=None):
            v = kv.get("%s.%s" % (arch, name), default)
            if v is None:
                raise KeyError("missing %s.%s" % (arch, name))
            return v

        self.n_embd = int(key("embedding_length"))
        self.n_layer = int(key("block_count"))
        self.n_ff = int(key("feed_forward_length"))
        self.n_head = int(key("attention.head_count"))
        self.n_head_kv = int(key("attention.head_count_kv", self.n_head))
        self.head_dim = int(key("attention.key_length", self.n_embd // self.n_head))
        self.n_rot = int(key("rope.dimension_count", self.head_dim))
        self.eps = float(key("attention.layer_norm_rms_epsilon", 1e-5))
        self.rope_base = float(key("rope.freq_base", 10000.0))
        stype = kv.get("%s.rope.scaling.type" % arch)
        factor = kv.get("%s.rope.scaling.factor" % arch)
        if stype not in (None, "none", "linear", "yarn"):
            raise ValueError("rope scaling type %r not supported" % stype)
        self.rope_scale = 1.0
        if factor is not None and float(factor) > 0 and stype in (None, "linear"):
            self.rope_scale = float(factor)
        self.yarn = None
        if stype == "yarn":
            self.yarn = (float(factor) if factor else 1.0,
                         int(key("rope.scaling.original_context_length", key("context_length", 2048))))
        self.rope_mag = float(key("rope.scaling.attn_factor", 1.0))
        self.rope_style = ROPE_NEOX if arch.startswith(("qwen", "gemma")) or arch == "phi3" else ROPE_NORM
        # Gemma 2 / 3 (see the module comment); Llama-family defaults otherwise
        self.gemma = arch.startswith("gemma")
        self.query_scale = self.head_dim ** -0.5
        self.attn_softcap = self.final_softcap = None
        self.window, self.pattern, self.rope_base_local, self.rope_scale_local = None, 1, None, 1.0
        if arch == "gemma2":
            self.attn_softcap = float(key("attn_logit_softcapping", 50.0))
            self.final_softcap = float(key("final_logit_softcapping", 30.0))
            self.window = int(key("attention.sliding_window", 4096))
            self.pattern = int(key("attention.sliding_window_pattern", 2))
            self.rope_base_local = float(key("rope.freq_base_swa", self.rope_base))
            self.rope_scale_local = self.rope_scale
        elif arch == "gemma3":
            fs = kv.get("%s.final_logit_softcapping" % arch)
            self.final_softcap = float(fs) if fs else None
            w = kv.get("%s.attention.sliding_window" % arch)
            if w:
                self.window = int(w)
                self.pattern = int(key("attention.sliding_window_pattern", 6))
                self.rope_base_local = float(key("rope.freq_base_swa", 10000.0))
        self.n_expert = int(key("expert_count", 0))
        self.n_expert_used = int(key("expert_used_count", 0))
        if self.n_head % self.n_head_kv:
            raise ValueError("n_head %d not a multiple of n_head_kv %d" % (self.n_head, self.n_head_kv))

        self.wtype = {}  # id(float64 array) -> GGML type it was stored as (for --act-quant)

        def w(name, optional=False):
            if name not in r.tensors:
                if optional:
                    return None
                raise KeyError("missing tensor " + name)
            a = r.tensor(name)
            self.wtype[id(a)] = r.tensors[name][1]
            return a

        self.tok_embd = w("token_embd.weight")          # (n_vocab, n_embd)
        self.n_vocab = self.tok_embd.shape[0]
        out = w("output.weight", optional=True)
        self.output = self.tok_embd if out is None else out  # (n_vocab, n_embd)
        self.output_norm = w("output_norm.weight")       # (n_embd,)
        self.rope_freqs = w("rope_freqs.weight", True)   # (n_rot/2,) Llama 3 divisors, or None
        self.rope_long = w("rope_factors_long.weight", True)    # phi3 LongRoPE, or None
        self.rope_short = w("rope_factors_short.weight", True)
        self.orig_ctx = int(key("rope.scaling.original_context_length", key("context_length", 2048)))
        self.layers = []
        for l in range(self.n_layer):
            p = "blk.%d." % l
            qd, kd = self.n_head * self.head_dim, self.n_head_kv * self.head_dim
            if p + "attn_qkv.weight" in r.tensors:
                # fused projection (Phi-3's qkv_proj): the output's first n_head*head_dim entries are q, the next
                # n_head_kv*head_dim k, the rest v
                qkv = w(p + "attn_qkv.weight")
                t = r.tensors[p + "attn_qkv.weight"][1]
                att = {"wq": qkv[:qd], "wk": qkv[qd:qd + kd], "wv": qkv[qd + kd:]}
                b = w(p + "attn_qkv.bias", True)
                att.update({"bq": None if b is None else b[:qd], "bk": None if b is None else b[qd:qd + kd],
                            "bv": None if b is None else b[qd + kd:]})
                for k in ("wq", "wk", "wv"):
                    self.wtype[id(att[k])] = t
            else:
                att = {
                    "wq": w(p + "attn_q.weight"),            # (n_head*head_dim, n_embd)
                    "wk": w(p + "attn_k.weight"),            # (n_head_kv*head_dim, n_embd)
                    "wv": w(p + "attn_v.weight"),            # (n_head_kv*head_dim, n_embd)
                    "bq": w(p + "attn_q.bias", True),
                    "bk": w(p + "attn_k.bias", True),
                    "bv": w(p + "attn_v.bias", True),
                }
            self.layers.append({
                "attn_norm": w(p + "attn_norm.weight"),  # (n_embd,)
                **att,
                "wo": w(p + "attn_output.weight"),       # (n_embd, n_head*head_dim)
                "ffn_norm": w(p + "ffn_norm.weight"),    # (n_embd,)
                "q_norm": w(p + "attn_q_norm.weight", True),  # (head_dim,) qwen3, gemma3
                "k_norm": w(p + "attn_k_norm.weight", True),
                "post_attn_norm": w(p + "post_attention_norm.weight", not self.gemma),  # gemma
                "post_ffn_norm": w(p + "post_ffw_norm.weight", not self.gemma),
            })
            L = self.layers[-1]
            if self.n_expert:
                L["router"] = w(p + "ffn_gate_inp.weight")      # (n_expert, n_embd)
                L["gate_exps"] = w(p + "ffn_gate_exps.weight")  # (n_expert, n_ff_exp, n_embd)
                L["up_exps"] = w(p + "ffn_up_exps.weight")
                L["down_exps"] = w(p + "ffn_down_exps.weight")  # (n_expert, n_embd, n_ff_exp)
            elif arch == "phi3":
                # Phi-3's gate_up_proj: up_states.chunk(2): the first n_ff outputs are the gate, the rest up
                gu = w(p + "ffn_up.weight")                 # (2 n_ff, n_embd)
                t = r.tensors[p + "ffn_up.weight"][1]
                L["w_gate"], L["w_up"] = gu[: self.n_ff], gu[self.n_ff:]
                self.wtype[id(L["w_gate"])] = self.wtype[id(L["w_up"])] = t
                L["w_down"] = w(p + "ffn_down.weight")
            else:
                L["w_gate"] = w(p + "ffn_gate.weight")      # (n_ff, n_embd)
                L["w_up"] = w(p + "ffn_up.weight")          # (n_ff, n_embd)
                L["w_down"] = w(p + "ffn_down.weight")      # (n_embd, n_ff)
            if arch.startswith("qwen3") and L["q_norm"] is None:
                raise KeyError("missing tensor %sattn_q_norm.weight" % p)


# --act-quant ggml: simulate the 8-bit activation blocks that ggml-style integer dot products use for each
# weight type (ggml's vec_dot_type convention): Q4_0/Q5_0/Q8_0 weights take Q8_0 activations (blocks of 32,
# d = absmax/127 stored as fp16, q = roundf(x/d)); Q4_1/Q5_1 take Q8_1 (same values); Q4_K/Q6_K take Q8_K
# (blocks of 256, float d = max/-127 with max the signed value of largest magnitude, q = min(127, rint(x/d))).
# Not part of the model's definition: it lets a test separate an engine's arithmetic errors from the error that
# is inherent to quantizing activations (docs/testing.md).
_ACT_Q8_0 = (GGMLType.Q4_0, GGMLType.Q5_0, GGMLType.Q8_0, GGMLType.Q4_1, GGMLType.Q5_1)
_ACT_Q8_K = (GGMLType.Q4_K, GGMLType.Q6_K)


def act_quant(x, wtype):
    """x: (T, n) float64 activations as the engine would see them before a matmul with weights of wtype."""
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    if wtype in _ACT_Q8_0:
        return dequantize(quantize(x32, GGMLType.Q8_0), GGMLType.Q8_0, x32.size).reshape(x.shape)
    if wtype in _ACT_Q8_K:
        b = x32.reshape(-1, 256)
        a = np.abs(b)
        mx = b[np.arange(b.shape[0]), np.argmax(a, axis=1)]
        with np.errstate(divide="ignore"):
            iscale = np.where(mx != 0, np.float32(-127.0) / np.where(mx != 0, mx, 1), 0).astype(np.float32)
        q = np.minimum(127, np.rint((b * iscale[:, None]).astype(np.float32)))
        d = np.where(iscale != 0, np.float32(1.0) / np.where(iscale != 0, iscale, 1), 0).astype(np.float32)
        return (q * d[:, None].astype(np.float64)).reshape(x.shape)
    return x


def matmul(m, x, w, aq):
    """x (T, n_in) times w^T, w (n_out, n_in)."""
    if aq:
        x = act_quant(x, m.wtype.get(id(w)))
    return x @ w.T


def rmsnorm(x, g, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g


def llama3_inv_freq(base, n_rot, factor, low, high, orig):
    """Hugging Face's llama3 rope_type: the inverse frequencies (n_rot/2,) in long double."""
    ld = np.longdouble
    inv = np.power(ld(base), -ld(2) * np.arange(n_rot // 2, dtype=ld) / ld(n_rot))
    two_pi = ld(8) * np.arctan(ld(1))
    wavelen = two_pi / inv
    low_wl, high_wl = ld(orig) / ld(low), ld(orig) / ld(high)
    scaled = np.where(wavelen > low_wl, inv / ld(factor), inv)
    smooth = (ld(orig) / wavelen - ld(low)) / (ld(high) - ld(low))
    smoothed = (1 - smooth) * scaled / ld(factor) + smooth * scaled
    medium = (wavelen >= high_wl) & (wavelen <= low_wl)
    return np.where(medium, smoothed, scaled)


def yarn_inv_freq(inv, n_rot, base, factor, orig):
    """Hugging Face's yarn rope_type (beta_fast 32, beta_slow 1): blended inverse frequencies and the magnitude."""
    def corr(rot):
        return n_rot * np.log(orig / (rot * 2 * np.pi)) / (2 * np.log(base))
    lo, hi = max(np.floor(corr(32.0)), 0), min(np.ceil(corr(1.0)), n_rot - 1)
    if lo == hi:
        hi += 0.001
    ramp = np.clip((np.arange(n_rot // 2, dtype=np.float64) - lo) / (hi - lo), 0, 1)
    extrap = (1 - ramp).astype(np.longdouble)   # weight of the original frequency
    out = inv / np.longdouble(factor) * (1 - extrap) + inv * extrap
    mag = 0.1 * np.log(factor) + 1.0 if factor > 1 else 1.0
    return out, mag


def rope_cos_sin(positions, n_rot, base, scale, inv=None):
    """cos and sin of the angles (T, n_rot/2), computed as described in the module comment. inv: the inverse
    frequencies (long double) when they are not plain base^(-2i/n_rot)."""
    ld = np.longdouble
    i = np.arange(n_rot // 2, dtype=ld)
    theta = np.power(ld(base), -ld(2) * i / ld(n_rot)) if inv is None else inv   # (n_rot/2,)
    ang = np.asarray(positions, dtype=np.int64).astype(ld)[:, None] * theta[None, :] / ld(scale)
    two_pi = ld(8) * np.arctan(ld(1))                                       # 2 pi in long double
    ang = np.fmod(ang, two_pi)
    ang = ang.astype(np.float64)
    return np.cos(ang), np.sin(ang)


def apply_rope(x, cos, sin, n_rot, style):
    """x: (T, n_heads, head_dim); rotates the first n_rot dims of every head in place of a copy."""
    y = x.copy()
    half = n_rot // 2
    c = cos[:, None, :]
    s = sin[:, None, :]
    if style == ROPE_NORM:
        a = x[:, :, 0:n_rot:2]
        b = x[:, :, 1:n_rot:2]
        y[:, :, 0:n_rot:2] = a * c - b * s
        y[:, :, 1:n_rot:2] = a * s + b * c
    else:
        a = x[:, :, 0:half]
        b = x[:, :, half:n_rot]
        y[:, :, 0:half] = a * c - b * s
        y[:, :, half:n_rot] = a * s + b * c
    return y


def model_inv_freq(m, llama3=None, n_ctx=None):
    """(inverse frequencies or None, cos/sin magnitude) of the model's RoPE, per the module comment."""
    ld = np.longdouble
    inv = None
    if m.rope_long is not None:  # LongRoPE: long factors when the sequence length exceeds the original context
        ext = m.rope_long if n_ctx is not None and n_ctx > m.orig_ctx else m.rope_short
        inv = np.power(ld(m.rope_base), -ld(2) * np.arange(m.n_rot // 2, dtype=ld) / ld(m.n_rot)) / ext.astype(ld)
    if m.rope_freqs is not None:
        inv = np.power(ld(m.rope_base), -ld(2) * np.arange(m.n_rot // 2, dtype=ld) / ld(m.n_rot))
        inv = inv / m.rope_freqs.astype(ld)
        if llama3 is not None:
            hf = llama3_inv_freq(m.rope_base, m.n_rot, *llama3)
            rel = np.max(np.abs(hf / inv - 1))
            if rel > 1e-6:
                raise ValueError("rope_freqs.weight disagrees with the llama3 formula: relative %.2e" % rel)
    elif llama3 is not None:
        raise ValueError("--llama3 given but the file has no rope_freqs.weight")
    mag = m.rope_mag
    if m.yarn is not None:
        if inv is None:
            inv = np.power(ld(m.rope_base), -ld(2) * np.arange(m.n_rot // 2, dtype=ld) / ld(m.n_rot))
        inv, mg = yarn_inv_freq(inv, m.n_rot, m.rope_base, m.yarn[0], m.yarn[1])
        mag *= mg
    return inv, mag


def moe_ffn(m, L, h, aq):
    """Mixture-of-experts feed-forward of the normed rows h (T, n_embd)."""
    logits = matmul(m, h, L["router"], aq)                                  # (T, n_expert)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    out = np.zeros_like(h)
    for t in range(h.shape[0]):
        top = np.argsort(-p[t], kind="stable")[: m.n_expert_used]
        wts = p[t, top] / p[t, top].sum()
        for e, wt in zip(top, wts):
            g = matmul(m, h[t:t + 1], L["gate_exps"][e], False)
            u = matmul(m, h[t:t + 1], L["up_exps"][e], False)
            out[t] += wt * matmul(m, g / (1.0 + np.exp(-g)) * u, L["down_exps"][e], False)[0]
    return out


def forward(m, tokens, pos0=0, act_quant_sim=False, llama3=None, n_ctx=None):
    """Logits (T, n_vocab) float64 of tokens at positions pos0.. with an empty cache. act_quant_sim: see
    act_quant (off: the exact model)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    T = len(tokens)
    if T == 0 or tokens.min() < 0 or tokens.max() >= m.n_vocab:
        raise ValueError("token ids must be in 0..%d" % (m.n_vocab - 1))
    positions = pos0 + np.arange(T, dtype=np.int64)
    inv, mag = model_inv_freq(m, llama3, n_ctx if n_ctx else T)
    cos, sin = rope_cos_sin(positions, m.n_rot, m.rope_base, m.rope_scale, inv)
    cos, sin = cos * mag, sin * mag
    if m.window is not None:                                               # gemma's local layers
        cos_l, sin_l = rope_cos_sin(positions, m.n_rot, m.rope_base_local, m.rope_scale_local)
    hd, nh, nkv = m.head_dim, m.n_head, m.n_head_kv
    group = nh // nkv
    mask = np.triu(np.full((T, T), -np.inf), k=1)                           # causal
    x = m.tok_embd[tokens]                                                  # (T, n_embd)
    if m.gemma:
        x = x * np.sqrt(m.n_embd)                                           # Gemma's embedding normalizer
    for il, L in enumerate(m.layers):
        local = m.window is not None and (il + 1) % m.pattern != 0          # HF layer_types: sliding_attention
        lmask = mask
        if local:                                                           # keys at distance >= window hidden
            d = np.arange(T)[:, None] - np.arange(T)[None, :]
            lmask = np.where(d >= m.window, -np.inf, mask)
        h = rmsnorm(x, L["attn_norm"], m.eps)
        q = matmul(m, h, L["wq"], act_quant_sim)
        k = matmul(m, h, L["wk"], act_quant_sim)
        v = matmul(m, h, L["wv"], act_quant_sim)
        if L["bq"] is not None:
            q = q + L["bq"]
        if L["bk"] is not None:
            k = k + L["bk"]
        if L["bv"] is not None:
            v = v + L["bv"]
        q = q.reshape(T, nh, hd)
        k = k.reshape(T, nkv, hd)
        if L["q_norm"] is not None:                                         # qwen3: per-head RMSNorm
            q = rmsnorm(q, L["q_norm"], m.eps)
            k = rmsnorm(k, L["k_norm"], m.eps)
        c, sn = (cos_l, sin_l) if local else (cos, sin)
        q = apply_rope(q, c, sn, m.n_rot, m.rope_style)
        k = apply_rope(k, c, sn, m.n_rot, m.rope_style)
        v = v.reshape(T, nkv, hd)
        att = np.empty((T, nh, hd))
        for hh in range(nh):
            kh = hh // group
            s = q[:, hh, :] @ k[:, kh, :].T * m.query_scale                  # (T, T)
            if m.attn_softcap:                                              # Gemma 2's logit soft-capping
                s = np.tanh(s / m.attn_softcap) * m.attn_softcap
            s = s + lmask
            s = s - s.max(axis=1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(axis=1, keepdims=True)
            att[:, hh, :] = p @ v[:, kh, :]
        a = matmul(m, att.reshape(T, nh * hd), L["wo"], act_quant_sim)
        if L["post_attn_norm"] is not None:
            a = rmsnorm(a, L["post_attn_norm"], m.eps)
        x = x + a
        h = rmsnorm(x, L["ffn_norm"], m.eps)
        if m.n_expert:
            x = x + moe_ffn(m, L, h, act_quant_sim)
            continue
        g = matmul(m, h, L["w_gate"], act_quant_sim)
        u = matmul(m, h, L["w_up"], act_quant_sim)
        if m.gemma:                                                         # gelu_pytorch_tanh
            act = 0.5 * g * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (g + 0.044715 * g ** 3)))
        else:
            act = g / (1.0 + np.exp(-g))
        f = matmul(m, act * u, L["w_down"], act_quant_sim)
        if L["post_ffn_norm"] is not None:
            f = rmsnorm(f, L["post_ffn_norm"], m.eps)
        x = x + f
    x = rmsnorm(x, m.output_norm, m.eps)
    logits = matmul(m, x, m.output, act_quant_sim)
    if m.final_softcap:
        logits = np.tanh(logits / m.final_softcap) * m.final_softcap
    return logits


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--pos0", type=int, default=0, help="position of the first token")
    ap.add_argument("-o", "--output", required=True, help="float32 LE logits, one row of n_vocab per token")
    ap.add_argument("--act-quant", choices=["none", "ggml"], default="none",
                    help="ggml: simulate 8-bit activation blocks before quantized matmuls (see act_quant)")
    ap.add_argument("--llama3", default=None, help="FACTOR,LOW,HIGH,ORIG: check rope_freqs.weight against Hugging "
                    "Face's llama3 formula")
    ap.add_argument("--n-ctx", type=int, default=0, help="sequence length deciding LongRoPE's factors (default: the "
                    "token count, as `octet logits`)")
    a = ap.parse_args(argv)
    tokens = [int(t) for t in a.tokens.split(",") if t.strip()]
    m = Model(a.model)
    llama3 = [float(v) for v in a.llama3.split(",")] if a.llama3 else None
    logits = forward(m, tokens, a.pos0, a.act_quant == "ggml", llama3, a.n_ctx or None)
    logits.astype("<f4").tofile(a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
