#!/usr/bin/python3
"""Export a checkpoint of tools/train_model.py and its SentencePiece tokenizer as a GGUF "llama" model.

Follows the conventions of llama.cpp's converter for architecture "llama":
  - hyperparameters under llama.* (context_length, embedding_length, block_count, feed_forward_length,
    rope.dimension_count = head_dim, attention.head_count, attention.head_count_kv,
    attention.layer_norm_rms_epsilon, rope.freq_base, vocab_size), all integers UINT32, floats FLOAT32;
  - the tokenizer as tokenizer.ggml.model = "llama" (SentencePiece): tokens (strings, with U+2581 for
    space), scores (float32), token_type (int32: 1 normal, 2 unknown, 3 control, 5 unused, 6 byte);
  - tensors token_embd, blk.N.{attn_norm,attn_q,attn_k,attn_v,attn_output,ffn_norm,ffn_gate,ffn_up,ffn_down},
    output_norm; no output.weight (the output projection is tied to token_embd);
  - a PyTorch Linear weight (out, in) is stored as is: ne[0] = in, ne[1] = out;
  - 1-D tensors (norm weights) are always F32; matrices take the requested type.
The model was trained with adjacent-pair (GGML "normal" mode) RoPE, so q/k rows are written unpermuted.

Usage: /usr/bin/python3 tools/export_gguf.py --ckpt /work/train/ckpt.pt \\
           --tokenizer /work/train/tokenizer.model --out models/octet-kjv.gguf [--type f32|f16|q8_0]
"""
import argparse
import hashlib
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguflib import GGUFWriter, GGUFReader, GGMLType, GGUFValueType  # noqa: E402

V = GGUFValueType
FILE_TYPE = {"f32": (GGMLType.F32, 0), "f16": (GGMLType.F16, 1), "q8_0": (GGMLType.Q8_0, 7)}  # llama_ftype


def tensor_map(n_layers):
    """PyTorch state_dict name -> GGUF tensor name."""
    m = {"tok.weight": "token_embd.weight", "norm.weight": "output_norm.weight"}
    for i in range(n_layers):
        for ours, theirs in (("attn_norm.weight", "attn_norm.weight"), ("wq.weight", "attn_q.weight"),
                             ("wk.weight", "attn_k.weight"), ("wv.weight", "attn_v.weight"),
                             ("wo.weight", "attn_output.weight"), ("ffn_norm.weight", "ffn_norm.weight"),
                             ("w1.weight", "ffn_gate.weight"), ("w3.weight", "ffn_up.weight"),
                             ("w2.weight", "ffn_down.weight")):
            m[f"layers.{i}.{ours}"] = f"blk.{i}.{theirs}"
    return m


def vocab(tok_path):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor()
    sp.load(tok_path)
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            t = 2
        elif sp.is_control(i):
            t = 3
        elif sp.is_unused(i):
            t = 5
        elif sp.is_byte(i):
            t = 6
        else:
            t = 1
        types.append(t)
    return sp, tokens, np.array(scores, dtype=np.float32), np.array(types, dtype=np.int32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default="/work/train/ckpt.pt")
    ap.add_argument("--tokenizer", default="/work/train/tokenizer.model")
    ap.add_argument("--out", required=True)
    ap.add_argument("--type", default="f32", choices=sorted(FILE_TYPE), help="type of the matrices")
    ap.add_argument("--name", default="octet-kjv")
    a = ap.parse_args()

    ck = torch.load(a.ckpt, map_location="cpu")
    cfg, sd = ck["cfg"], ck["model"]
    sp, tokens, scores, types = vocab(a.tokenizer)
    if len(tokens) != cfg["vocab_size"]:
        sys.exit(f"tokenizer has {len(tokens)} pieces, model vocab_size {cfg['vocab_size']}")
    if (sp.unk_id(), sp.bos_id(), sp.eos_id()) != (0, 1, 2):
        sys.exit("tokenizer must have <unk>=0 <s>=1 </s>=2")
    head_dim = cfg["dim"] // cfg["n_heads"]

    w = GGUFWriter(a.out)
    qtype, ftype = FILE_TYPE[a.type]
    w.add_kv("general.architecture", "llama")
    w.add_kv("general.name", a.name)
    w.add_kv("general.file_type", ftype, V.UINT32)
    w.add_kv("llama.context_length", cfg["seq_len"], V.UINT32)
    w.add_kv("llama.embedding_length", cfg["dim"], V.UINT32)
    w.add_kv("llama.block_count", cfg["n_layers"], V.UINT32)
    w.add_kv("llama.feed_forward_length", cfg["ffn_dim"], V.UINT32)
    w.add_kv("llama.rope.dimension_count", head_dim, V.UINT32)
    w.add_kv("llama.attention.head_count", cfg["n_heads"], V.UINT32)
    w.add_kv("llama.attention.head_count_kv", cfg["n_kv_heads"], V.UINT32)
    w.add_kv("llama.attention.layer_norm_rms_epsilon", float(cfg["norm_eps"]), V.FLOAT32)
    w.add_kv("llama.rope.freq_base", float(cfg["rope_base"]), V.FLOAT32)
    w.add_kv("llama.vocab_size", cfg["vocab_size"], V.UINT32)
    w.add_kv("tokenizer.ggml.model", "llama")
    w.add_kv("tokenizer.ggml.pre", "default")
    w.add_kv("tokenizer.ggml.tokens", tokens, V.ARRAY, arr_type=V.STRING)
    w.add_kv("tokenizer.ggml.scores", scores, V.ARRAY, arr_type=V.FLOAT32)
    w.add_kv("tokenizer.ggml.token_type", types, V.ARRAY, arr_type=V.INT32)
    w.add_kv("tokenizer.ggml.bos_token_id", 1, V.UINT32)
    w.add_kv("tokenizer.ggml.eos_token_id", 2, V.UINT32)
    w.add_kv("tokenizer.ggml.unknown_token_id", 0, V.UINT32)
    w.add_kv("tokenizer.ggml.add_bos_token", True, V.BOOL)
    w.add_kv("tokenizer.ggml.add_eos_token", False, V.BOOL)
    w.add_kv("tokenizer.ggml.add_space_prefix", True, V.BOOL)

    names = tensor_map(cfg["n_layers"])
    if set(names) != set(sd):
        sys.exit(f"unexpected state_dict keys: {sorted(set(sd) ^ set(names))}")
    order = ["tok.weight"] + [k for k in names if k.startswith("layers.")] + ["norm.weight"]
    for k in order:
        arr = sd[k].detach().float().numpy()
        w.add_tensor(names[k], arr, GGMLType.F32 if arr.ndim == 1 else qtype)
    w.write()

    # read back: every tensor and the vocabulary must round-trip
    r = GGUFReader(a.out)
    for k in order:
        got = r.tensor(names[k])
        want = sd[k].detach().float().numpy()
        tol = 0 if (a.type == "f32" or want.ndim == 1) else (1e-3 if a.type == "f16" else 2e-2)
        err = float(np.max(np.abs(got - want)))
        if got.shape != want.shape or err > tol * max(1.0, float(np.max(np.abs(want)))):
            sys.exit(f"read-back mismatch in {names[k]}: shape {got.shape} vs {want.shape}, max err {err}")
    assert list(r.kv["tokenizer.ggml.tokens"]) == tokens
    h = hashlib.sha256(open(a.out, "rb").read()).hexdigest()
    n_par = sum(v.numel() for v in sd.values())
    print(f"wrote {a.out}: {os.path.getsize(a.out)} bytes, {len(order)} tensors, {n_par} parameters, "
          f"type {a.type}, step {ck['step']}, sha256 {h}")


if __name__ == "__main__":
    main()
