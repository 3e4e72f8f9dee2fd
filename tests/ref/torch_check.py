#!/usr/bin/python3
"""torch_check.py - sanity check of the reference itself: llama_ref.py against a second, differently written
forward pass in PyTorch (float64), on random models from make_random_model.py.

The torch version is formulated the way the original papers' code is, not like llama_ref.py:
  - adjacent-pair RoPE as a complex multiplication (pairs viewed as complex numbers times e^{i p theta}, the
    formulation of Meta's Llama reference code); half-split RoPE for qwen2 with rotate_half (Hugging Face's);
    angles in float64 (no long double reduction);
  - GQA by repeat_interleave of the kv heads, attention with a boolean tril mask and torch.softmax (this torch
    predates scaled_dot_product_attention); SiLU from torch.nn.functional.silu;
  - weights read through gguflib (shared: the GGUF decoding is tested separately, against hand-made bytes).
Exit status 0 when every case agrees to 1e-9 relative to the logits' std (both are float64 end to end).
Run: /usr/bin/python3 tests/ref/torch_check.py
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as Fn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ref  # noqa: E402


def torch_forward(m, tokens, pos0):
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(torch.float64)  # noqa: E731
    T = len(tokens)
    hd, nh, nkv = m.head_dim, m.n_head, m.n_head_kv
    pos = torch.arange(pos0, pos0 + T, dtype=torch.float64)
    inv = 1.0 / (m.rope_base ** (torch.arange(0, m.n_rot, 2, dtype=torch.float64) / m.n_rot))
    ang = torch.outer(pos / m.rope_scale, inv)                                    # (T, n_rot/2)

    def rope(x):  # x: (T, heads, hd)
        r, rest = x[..., : m.n_rot], x[..., m.n_rot:]
        if m.rope_style == llama_ref.ROPE_NORM:
            z = torch.view_as_complex(r.reshape(T, x.shape[1], m.n_rot // 2, 2).contiguous())
            z = z * torch.polar(torch.ones_like(ang), ang)[:, None, :]
            r = torch.view_as_real(z).reshape(T, x.shape[1], m.n_rot)
        else:
            c = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :]
            s = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :]
            h = m.n_rot // 2
            rot = torch.cat([-r[..., h:], r[..., :h]], -1)
            r = r * c + rot * s
        return torch.cat([r, rest], -1)

    def norm(x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + m.eps) * t(g)

    x = t(m.tok_embd)[torch.tensor(tokens)]
    for L in m.layers:
        h = norm(x, L["attn_norm"])
        q = Fn.linear(h, t(L["wq"]), None if L["bq"] is None else t(L["bq"]))
        k = Fn.linear(h, t(L["wk"]), None if L["bk"] is None else t(L["bk"]))
        v = Fn.linear(h, t(L["wv"]), None if L["bv"] is None else t(L["bv"]))
        q = rope(q.view(T, nh, hd)).transpose(0, 1)                               # (nh, T, hd)
        k = rope(k.view(T, nkv, hd)).transpose(0, 1).repeat_interleave(nh // nkv, dim=0)
        v = v.view(T, nkv, hd).transpose(0, 1).repeat_interleave(nh // nkv, dim=0)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        sc = (q @ k.transpose(1, 2) / hd ** 0.5).masked_fill(~causal, float("-inf"))
        a = torch.softmax(sc, dim=-1) @ v                                         # (nh, T, hd)
        x = x + Fn.linear(a.transpose(0, 1).reshape(T, nh * hd), t(L["wo"]))
        h = norm(x, L["ffn_norm"])
        x = x + Fn.linear(Fn.silu(Fn.linear(h, t(L["w_gate"]))) * Fn.linear(h, t(L["w_up"])), t(L["w_down"]))
    return Fn.linear(norm(x, m.output_norm), t(m.output)).numpy()


CASES = [
    # (make_random_model args, tokens, pos0)
    (["--dim", "64", "--heads", "4", "--ff", "128", "--type", "F32"], [1, 5, 9, 30, 200, 7], 0),
    (["--dim", "128", "--heads", "8", "--kv-heads", "2", "--type", "Q8_0", "--tied"], [3, 4, 5, 6, 7, 8, 9], 1000),
    (["--arch", "qwen2", "--dim", "128", "--heads", "4", "--kv-heads", "2", "--type", "F16",
      "--rope-base", "1000000"], [11, 12, 13, 14, 15], 1000000),
    (["--dim", "256", "--heads", "4", "--ff", "512", "--type", "Q4_K", "--rope-base", "500000",
      "--rope-scale", "4"], list(range(260, 272)), 12345),
]


def main():
    torch.set_num_threads(1)
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        for i, (args, toks, pos0) in enumerate(CASES):
            path = os.path.join(d, "m%d.gguf" % i)
            subprocess.check_call([sys.executable, os.path.join(HERE, "make_random_model.py"), "-o", path,
                                   "--seed", str(i)] + args)
            m = llama_ref.Model(path)
            ref = llama_ref.forward(m, toks, pos0)
            tt = torch_forward(m, toks, pos0)
            r = np.abs(ref - tt).max() / ref.std()
            ok = r < 1e-9
            bad += not ok
            print("%s torch-vs-ref %-60s pos0=%-8d max|diff|/std = %.2e" % ("ok  " if ok else "FAIL", " ".join(args),
                                                                          pos0, r))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
