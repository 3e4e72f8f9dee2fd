#!/usr/bin/python3
"""make_hf_checkpoint.py - write a random Hugging Face-layout Llama-family checkpoint and the equivalent GGUF.

The checkpoint (for `octet convert`): config.json, weights in HF layout (q_proj/k_proj rows in the half-split
RoPE order HF uses) split over two safetensors shards with model.safetensors.index.json, a tokenizer
(tokenizer.model as a SentencePiece protobuf, or tokenizer.json byte-level BPE with the Llama 3, Qwen2 or GPT-2
pre-tokenizer), tokenizer_config.json. The safetensors and protobuf files are encoded here with struct/json,
independently of octet's C readers.

The GGUF (--gguf, for the reference): the same weights written directly in GGUF layout with tools/gguflib.py,
q/k permuted here with numpy (llama/mistral: reshape(n_head, 2, head_dim/2, n_in).swapaxes(1, 2), the
formula of llama.cpp's convert_hf_to_gguf.py; qwen2 unpermuted), F32, with the tokenizer keys llama.cpp's
converter would write. Weights stored as F16/BF16 in the checkpoint are rounded the same way before both files
are written, so the two models are the same function.

--malform KIND damages the checkpoint after writing it (for error tests); kinds are listed in MALFORM.

Example: make_hf_checkpoint.py -o /tmp/ck --gguf /tmp/ref.gguf --arch llama --kv-heads 2 --tokenizer spm
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
from gguflib import GGMLType, GGUFValueType, GGUFWriter, f32_to_bf16_bits, bf16_bits_to_f64  # noqa: E402
from make_random_model import WORDS, spm_vocab  # noqa: E402

RE_LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
             r"\s*[\r\n]+|\s+(?!\S)|\s+")
RE_QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
            r"\s*[\r\n]+|\s+(?!\S)|\s+")
TT_NORMAL, TT_CONTROL, TT_UNUSED = 1, 3, 5

MALFORM = ["trunc_header", "hlen_beyond", "bad_json", "unknown_dtype", "int_dtype", "offset_out_of_range",
           "overlap", "shape_size", "begin_gt_end", "dup_key", "config_missing", "config_type", "config_json",
           "missing_shard", "index_escape", "shape_config", "missing_tensor", "extra_tensor", "bad_arch",
           "spm_garbage", "no_tokenizer"]


# ---- safetensors (format: github.com/huggingface/safetensors README) ----------------------------------------
def st_encode(tensors, raw_header=None):
    """tensors: list of (name, dtype, shape, bytes). Returns the file bytes."""
    hdr, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, dt, shape, raw in tensors:
        hdr[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = (raw_header if raw_header is not None else json.dumps(hdr)).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def st_decode(data):
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def st_rewrite(path, mutate):
    """Apply mutate(header_dict) and write the header back with the same data section."""
    data = open(path, "rb").read()
    hdr, body = st_decode(data)
    mutate(hdr)
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + body)


def dtype_bytes(a, dt):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dt == "F32":
        return a.astype("<f4").tobytes()
    if dt == "F16":
        return a.astype("<f2").tobytes()
    return f32_to_bf16_bits(a).astype("<u2").tobytes()


def round_to(a, dt):
    a = np.asarray(a, dtype=np.float32)
    if dt == "F16":
        return a.astype(np.float16).astype(np.float32)
    if dt == "BF16":
        return bf16_bits_to_f64(f32_to_bf16_bits(a)).astype(np.float32)
    return a


# ---- protobuf (SentencePiece ModelProto; field numbers from sentencepiece_model.proto) ----------------------
def pb_varint(v):
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def pb_key(num, wt):
    return pb_varint((num << 3) | wt)


def pb_len(num, payload):
    return pb_key(num, 2) + pb_varint(len(payload)) + payload


def spm_model_bytes(toks, scores, types):
    out = bytearray()
    for t, s, ty in zip(toks, scores, types):
        p = pb_len(1, t.encode()) + pb_key(2, 5) + struct.pack("<f", s) + pb_key(3, 0) + pb_varint(ty)
        out += pb_len(1, p)
    # trainer_spec: model_type BPE (3 = 2), vocab_size (4), byte_fallback (35), unk/bos/eos/pad ids (40..43)
    tr = (pb_key(3, 0) + pb_varint(2) + pb_key(4, 0) + pb_varint(len(toks)) + pb_key(35, 0) + pb_varint(1) +
          pb_key(40, 0) + pb_varint(0) + pb_key(41, 0) + pb_varint(1) + pb_key(42, 0) + pb_varint(2) +
          pb_key(43, 0) + pb_varint(-1))
    out += pb_len(2, tr)
    # normalizer_spec: name (1) "identity", add_dummy_prefix (3), remove_extra_whitespaces (4), escape (5)
    ns = pb_len(1, b"identity") + pb_key(3, 0) + pb_varint(1) + pb_key(4, 0) + pb_varint(0) + pb_key(5, 0) + \
        pb_varint(1)
    out += pb_len(3, ns)
    return bytes(out)


# ---- byte-level BPE vocabulary ------------------------------------------------------------------------------
def bytes_to_unicode():
    """GPT-2's byte -> printable character map (published in openai/gpt-2 encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def bpe_vocab(n_vocab, specials):
    """Tokens (exactly n_vocab, [PAD<i>] filling the end), types, merges of a toy byte-level BPE: the 256 byte
    characters, then left-to-right merge chains building ' word' and 'word' for common words, then specials."""
    b2u = bytes_to_unicode()
    toks = [b2u[b] for b in range(256)]
    seen = set(toks)
    merges = []
    n_room = n_vocab - 256 - len(specials)
    for w in WORDS:
        for word in ("\u0120" + w, w):  # U+0120 is the byte-level character for a space
            cur = word[0]
            for ch in word[1:]:
                nxt = cur + ch
                if nxt not in seen and len(toks) - 256 < n_room:
                    merges.append("%s %s" % (cur, ch))
                    toks.append(nxt)
                    seen.add(nxt)
                if nxt not in seen:
                    break
                cur = nxt
    types = [TT_NORMAL] * len(toks)
    toks += specials
    types += [TT_CONTROL] * len(specials)
    while len(toks) < n_vocab:
        toks.append("[PAD%d]" % len(toks))
        types.append(TT_UNUSED)
    return toks, types, merges


def tokenizer_json_bpe(toks, types, merges, regex):
    vocab = {t: i for i, t in enumerate(toks) if types[i] == TT_NORMAL}
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, t in enumerate(toks) if types[i] == TT_CONTROL]
    if regex is None:
        pre = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    else:
        pre = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
            "pre_tokenizer": pre, "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "vocab": vocab, "merges": merges}}


def tokenizer_json_spm(toks, scores, types):
    """A SentencePiece-style BPE tokenizer.json (as Hugging Face's LlamaConverter writes for Llama 2): byte
    fallback, U+2581 for spaces with a prepended one, merges: every split of a piece into two pieces of the
    vocabulary, pieces in order of decreasing score."""
    vocab = {t: i for i, t in enumerate(toks)}
    merges = []
    order = sorted((i for i, t in enumerate(toks) if types[i] == TT_NORMAL and len(t) > 1), key=lambda i: -scores[i])
    for i in order:
        t = toks[i]
        for k in range(1, len(t)):
            if t[:k] in vocab and t[k:] in vocab:
                merges.append("%s %s" % (t[:k], t[k:]))
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, t in enumerate(toks) if types[i] in (2, 3)]
    return {"version": "1.0", "added_tokens": added,
            "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                               {"type": "Replace", "pattern": {"String": " "},
                                                                "content": "\u2581"}]},
            "pre_tokenizer": None, "post_processor": None,
            "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]},
            "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "vocab": vocab,
                      "merges": merges}}


# ---- the model ----------------------------------------------------------------------------------------------
def permute(w, n_head):
    """HF half-split RoPE rows -> adjacent pairs (llama.cpp convert_hf_to_gguf.py's permute)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def build(a):
    rng = np.random.default_rng(a.seed)
    E, F, V, L = a.dim, a.ff, a.vocab, a.layers
    nh, nkv = a.heads, a.kv_heads or a.heads
    hd = E // nh
    dt = a.dtype
    hf_arch = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}[a.arch]
    garch = "qwen2" if a.arch == "qwen2" else "llama"

    def mat(o, i):
        return round_to(rng.standard_normal((o, i)) / np.sqrt(i), dt)

    def gain(n):
        return round_to(1.0 + 0.1 * rng.standard_normal(n), dt)

    def bias(n):
        return round_to(0.25 * rng.standard_normal(n), dt)

    hf = [("model.embed_tokens.weight", round_to(rng.standard_normal((V, E)), dt))]
    for l in range(L):
        p = "model.layers.%d." % l
        hf.append((p + "input_layernorm.weight", gain(E)))
        hf.append((p + "self_attn.q_proj.weight", mat(nh * hd, E)))
        hf.append((p + "self_attn.k_proj.weight", mat(nkv * hd, E)))
        hf.append((p + "self_attn.v_proj.weight", mat(nkv * hd, E)))
        if a.arch == "qwen2":
            hf.append((p + "self_attn.q_proj.bias", bias(nh * hd)))
            hf.append((p + "self_attn.k_proj.bias", bias(nkv * hd)))
            hf.append((p + "self_attn.v_proj.bias", bias(nkv * hd)))
        hf.append((p + "self_attn.o_proj.weight", mat(E, nh * hd)))
        hf.append((p + "post_attention_layernorm.weight", gain(E)))
        hf.append((p + "mlp.gate_proj.weight", mat(F, E)))
        hf.append((p + "mlp.up_proj.weight", mat(F, E)))
        hf.append((p + "mlp.down_proj.weight", mat(E, F)))
    hf.append(("model.norm.weight", gain(E)))
    if not a.tied:
        hf.append(("lm_head.weight", mat(V, E)))

    # ---- checkpoint
    os.makedirs(a.output, exist_ok=True)
    names = sorted(n for n, _ in hf)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    if a.single:
        shards = {"model.safetensors": names}
    arrays = dict(hf)
    wmap, total = {}, 0
    for fn, ns in shards.items():
        ts = [(n, dt, arrays[n].shape, dtype_bytes(arrays[n], dt)) for n in ns]
        open(os.path.join(a.output, fn), "wb").write(st_encode(ts))
        for n, _, _, raw in ts:
            wmap[n] = fn
            total += len(raw)
    if not a.single:
        json.dump({"metadata": {"total_size": total}, "weight_map": wmap},
                  open(os.path.join(a.output, "model.safetensors.index.json"), "w"), indent=2)
    cfg = {"architectures": [hf_arch], "model_type": a.arch, "hidden_size": E, "intermediate_size": F,
           "num_attention_heads": nh, "num_hidden_layers": L, "num_key_value_heads": nkv,
           "rms_norm_eps": a.eps, "rope_theta": a.rope_base, "max_position_embeddings": a.ctx, "vocab_size": V,
           "tie_word_embeddings": bool(a.tied), "hidden_act": "silu",
           "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dt]}
    if a.rope_scale != 1.0:
        cfg["rope_scaling"] = {"type": "linear", "factor": a.rope_scale}

    # ---- tokenizer
    tok_kv = []
    chat = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}"
    if a.tokenizer_dir:  # stock tokenizer files, copied unchanged
        for fn in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "generation_config.json"):
            if os.path.exists(os.path.join(a.tokenizer_dir, fn)):
                shutil.copyfile(os.path.join(a.tokenizer_dir, fn), os.path.join(a.output, fn))
        tc = None
        cfg.update(json.loads(a.config_extra))
    elif a.tokenizer in ("spm", "spm-json"):
        toks, scores, types = spm_vocab(V)
        if a.tokenizer == "spm":
            open(os.path.join(a.output, "tokenizer.model"), "wb").write(spm_model_bytes(toks, scores, types))
        else:
            json.dump(tokenizer_json_spm(toks, scores, types), open(os.path.join(a.output, "tokenizer.json"), "w"),
                      ensure_ascii=False)
        tc = {"bos_token": "<s>", "eos_token": {"content": "</s>", "special": True}, "unk_token": "<unk>",
              "add_bos_token": True, "add_eos_token": False, "chat_template": chat}
        cfg.update(bos_token_id=1, eos_token_id=2)
        tok_kv = [("tokenizer.ggml.model", "llama"), ("tokenizer.ggml.tokens", toks),
                  ("tokenizer.ggml.scores", scores, GGUFValueType.ARRAY, GGUFValueType.FLOAT32),
                  ("tokenizer.ggml.token_type", types, GGUFValueType.ARRAY, GGUFValueType.INT32),
                  ("tokenizer.ggml.bos_token_id", 1), ("tokenizer.ggml.eos_token_id", 2),
                  ("tokenizer.ggml.unknown_token_id", 0), ("tokenizer.ggml.add_bos_token", True),
                  ("tokenizer.ggml.add_eos_token", False), ("tokenizer.ggml.add_space_prefix", True)]
    else:
        regex, pre = {"bpe-llama3": (RE_LLAMA3, "llama-bpe"), "bpe-qwen2": (RE_QWEN2, "qwen2"),
                      "bpe-gpt2": (None, "gpt-2")}[a.tokenizer]
        specials = ["<|begin_of_text|>", "<|end_of_text|>"]
        toks, types, merges = bpe_vocab(V, specials)
        bos, eos = toks.index(specials[0]), toks.index(specials[1])
        json.dump(tokenizer_json_bpe(toks, types, merges, regex), open(os.path.join(a.output, "tokenizer.json"), "w"),
                  ensure_ascii=False)
        tc = {"bos_token": specials[0], "eos_token": specials[1], "add_bos_token": True, "chat_template": chat}
        tok_kv = [("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.pre", pre), ("tokenizer.ggml.tokens", toks),
                  ("tokenizer.ggml.token_type", types, GGUFValueType.ARRAY, GGUFValueType.INT32),
                  ("tokenizer.ggml.merges", merges), ("tokenizer.ggml.bos_token_id", bos),
                  ("tokenizer.ggml.eos_token_id", eos), ("tokenizer.ggml.add_bos_token", True)]
    json.dump(cfg, open(os.path.join(a.output, "config.json"), "w"), indent=2)
    if tc is not None:
        json.dump(tc, open(os.path.join(a.output, "tokenizer_config.json"), "w"), indent=2)

    # ---- the reference GGUF, written directly
    if a.gguf:
        w = GGUFWriter(a.gguf)
        for k, v in [("general.architecture", garch), ("general.name", "ref"), ("general.file_type", 0),
                     ("%s.context_length" % garch, a.ctx), ("%s.embedding_length" % garch, E),
                     ("%s.block_count" % garch, L), ("%s.feed_forward_length" % garch, F),
                     ("%s.attention.head_count" % garch, nh), ("%s.attention.head_count_kv" % garch, nkv),
                     ("%s.rope.dimension_count" % garch, hd),
                     ("%s.attention.layer_norm_rms_epsilon" % garch, float(a.eps)),
                     ("%s.rope.freq_base" % garch, float(a.rope_base))]:
            w.add_kv(k, v)
        if a.rope_scale != 1.0:
            w.add_kv("%s.rope.scaling.type" % garch, "linear")
            w.add_kv("%s.rope.scaling.factor" % garch, float(a.rope_scale))
        for kv in tok_kv:
            if len(kv) == 2:
                w.add_kv(kv[0], kv[1])
            else:
                w.add_kv(kv[0], kv[1], kv[2], arr_type=kv[3])
        g = {}
        g["token_embd.weight"] = arrays["model.embed_tokens.weight"]
        for l in range(L):
            p, q = "model.layers.%d." % l, "blk.%d." % l
            wq, wk = arrays[p + "self_attn.q_proj.weight"], arrays[p + "self_attn.k_proj.weight"]
            if a.arch != "qwen2":
                wq, wk = permute(wq, nh), permute(wk, nkv)
            g[q + "attn_norm.weight"] = arrays[p + "input_layernorm.weight"]
            g[q + "attn_q.weight"], g[q + "attn_k.weight"] = wq, wk
            g[q + "attn_v.weight"] = arrays[p + "self_attn.v_proj.weight"]
            if a.arch == "qwen2":
                for s in "qkv":
                    g[q + "attn_%s.bias" % s] = arrays[p + "self_attn.%s_proj.bias" % s]
            g[q + "attn_output.weight"] = arrays[p + "self_attn.o_proj.weight"]
            g[q + "ffn_norm.weight"] = arrays[p + "post_attention_layernorm.weight"]
            g[q + "ffn_gate.weight"] = arrays[p + "mlp.gate_proj.weight"]
            g[q + "ffn_up.weight"] = arrays[p + "mlp.up_proj.weight"]
            g[q + "ffn_down.weight"] = arrays[p + "mlp.down_proj.weight"]
        g["output_norm.weight"] = arrays["model.norm.weight"]
        if not a.tied:
            g["output.weight"] = arrays["lm_head.weight"]
        for n, arr in g.items():
            w.add_tensor(n, np.asarray(arr, dtype=np.float32), GGMLType.F32)
        w.write()

    if a.malform:
        malform(a.output, a.malform)


def malform(d, kind):
    s1 = os.path.join(d, "model-00001-of-00002.safetensors")
    s2 = os.path.join(d, "model-00002-of-00002.safetensors")
    cfgp = os.path.join(d, "config.json")
    data = open(s1, "rb").read()
    first = lambda h: sorted((k for k in h if k != "__metadata__"), key=lambda k: h[k]["data_offsets"][0])  # noqa
    if kind == "trunc_header":
        open(s1, "wb").write(data[:5])
    elif kind == "hlen_beyond":
        open(s1, "wb").write(struct.pack("<Q", len(data) + 100) + data[8:])
    elif kind == "bad_json":
        n = struct.unpack("<Q", data[:8])[0]
        h = bytearray(data[8:8 + n])
        h[h.index(b":")] = ord(";")
        open(s1, "wb").write(data[:8] + bytes(h) + data[8 + n:])
    elif kind == "unknown_dtype":
        st_rewrite(s1, lambda h: h[first(h)[0]].update(dtype="F33"))
    elif kind == "int_dtype":
        st_rewrite(s1, lambda h: h[first(h)[0]].update(dtype="I64"))
    elif kind == "offset_out_of_range":
        def f(h):
            k = first(h)[-1]
            h[k]["data_offsets"][1] += 4096
        st_rewrite(s1, f)
    elif kind == "overlap":
        def f(h):
            ks = first(h)
            b0, e0 = h[ks[0]]["data_offsets"]
            b1, e1 = h[ks[1]]["data_offsets"]
            h[ks[1]]["data_offsets"] = [b1 - 4, e1 - 4]
        st_rewrite(s1, f)
    elif kind == "shape_size":
        st_rewrite(s1, lambda h: h[first(h)[0]].update(shape=[h[first(h)[0]]["shape"][0] + 1] +
                                                        h[first(h)[0]]["shape"][1:]))
    elif kind == "begin_gt_end":
        def f(h):
            k = first(h)[0]
            b, e = h[k]["data_offsets"]
            h[k]["data_offsets"] = [e, b]
        st_rewrite(s1, f)
    elif kind == "dup_key":
        n = struct.unpack("<Q", data[:8])[0]
        hs = data[8:8 + n].decode().rstrip(" ")
        hdr = json.loads(hs)
        k = first(hdr)[0]
        dup = hs[:-1] + ', "%s": %s}' % (k, json.dumps(hdr[k]))
        open(s1, "wb").write(st_encode([], raw_header=dup)[:0] or
                             (lambda h: struct.pack("<Q", len(h)) + h)(dup.encode() + b" " * (-len(dup) % 8)) +
                             data[8 + n:])
    elif kind in ("config_missing", "config_type", "shape_config", "bad_arch"):
        c = json.load(open(cfgp))
        if kind == "config_missing":
            del c["hidden_size"]
        elif kind == "config_type":
            c["num_hidden_layers"] = "two"
        elif kind == "shape_config":
            c["intermediate_size"] += 32
        else:
            c["architectures"] = ["GPTNeoXForCausalLM"]
        json.dump(c, open(cfgp, "w"))
    elif kind == "config_json":
        open(cfgp, "w").write('{"architectures": ["LlamaForCausalLM"], "hidden_size": 64,}')
    elif kind == "missing_shard":
        os.remove(s2)
    elif kind == "index_escape":
        ip = os.path.join(d, "model.safetensors.index.json")
        ix = json.load(open(ip))
        k = next(iter(ix["weight_map"]))
        ix["weight_map"][k] = "../" + ix["weight_map"][k]
        json.dump(ix, open(ip, "w"))
    elif kind == "missing_tensor":
        ip = os.path.join(d, "model.safetensors.index.json")
        ix = json.load(open(ip))
        st_rewrite(s1, lambda h: h.pop(first(h)[-1]) and None)
        # the data section now has bytes no tensor covers: the reader must say so
        json.dump(ix, open(ip, "w"))
    elif kind == "extra_tensor":
        hdr, body = st_decode(data)
        ts = [(k, hdr[k]["dtype"], hdr[k]["shape"], body[hdr[k]["data_offsets"][0]:hdr[k]["data_offsets"][1]])
              for k in first(hdr)]
        ts.append(("model.layers.0.self_attn.rotary_emb.extra", "F32", [4], b"\0" * 16))
        open(s1, "wb").write(st_encode(ts))
        ip = os.path.join(d, "model.safetensors.index.json")
        ix = json.load(open(ip))
        ix["weight_map"]["model.layers.0.self_attn.rotary_emb.extra"] = os.path.basename(s1)
        json.dump(ix, open(ip, "w"))
    elif kind == "spm_garbage":
        p = os.path.join(d, "tokenizer.model")
        b = open(p, "rb").read()
        open(p, "wb").write(b[:len(b) // 2] + b"\xff\xff\xff")
    elif kind == "no_tokenizer":
        for n in ("tokenizer.model", "tokenizer.json"):
            if os.path.exists(os.path.join(d, n)):
                os.remove(os.path.join(d, n))
    else:
        raise SystemExit("unknown --malform kind %r" % kind)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", required=True, help="checkpoint folder")
    ap.add_argument("--gguf", help="also write the equivalent GGUF here")
    ap.add_argument("--arch", default="llama", choices=["llama", "mistral", "qwen2"])
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"], help="safetensors dtype")
    ap.add_argument("--tokenizer", default="spm", choices=["spm", "spm-json", "bpe-llama3", "bpe-qwen2", "bpe-gpt2"],
                    help="spm: tokenizer.model; spm-json: SentencePiece-style BPE tokenizer.json; bpe-*: byte-level")
    ap.add_argument("--tokenizer-dir", help="copy tokenizer.json, tokenizer_config.json (and tokenizer.model, "
                    "generation_config.json when there) from this folder instead of generating a tokenizer; "
                    "--vocab gives the embedding rows; no --gguf")
    ap.add_argument("--config-extra", default="{}", help="JSON object merged into config.json (--tokenizer-dir)")
    ap.add_argument("--vocab", type=int, default=320)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=0)
    ap.add_argument("--ff", type=int, default=128)
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--rope-base", type=float, default=10000.0)
    ap.add_argument("--rope-scale", type=float, default=1.0)
    ap.add_argument("--eps", type=float, default=1e-5)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--single", action="store_true", help="one model.safetensors, no index")
    ap.add_argument("--malform", choices=MALFORM)
    build(ap.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
