#!/usr/bin/python3
"""make_malformed.py OUTDIR | --seeds DIR - write a small valid GGUF model and hundreds of malformed variants into OUTDIR.

The bytes are written here with struct, independently of the C reader, following the GGUF specification
(ggml docs/gguf.md): "GGUF", u32 version, u64 n_tensors, u64 n_kv, key/value pairs, tensor infos, padding to
general.alignment, tensor data. All integers little-endian.

The valid file is a complete (tiny) llama model: llama.* hyperparameters, a SentencePiece-style vocabulary
(tokens, scores, token types), F32 norms and Q8_0 matrices, plus test.* keys of every value type including
nested arrays, so `octet info` can load it end to end.

With --seeds, write the few small valid files of the fuzzer's seed corpus instead.

OUTDIR/manifest.tsv has one line per file: name, mode, code, pattern
  mode  ok       the file is valid: the GGUF reader and the model loader must accept it
        fail     the GGUF reader must reject it with error `code` (format|unsupported) and a message containing
                 one of the '|'-separated substrings of `pattern`
        gguf_ok  a well-formed GGUF that the model loader must reject (e.g. tokenizer arrays of the wrong type)
        any      random corruption: either outcome is allowed, but never a crash, hang or sanitizer report
"""
import os
import random
import re
import struct
import sys

import numpy as np

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
T_F32, T_F16, T_Q8_0 = 0, 1, 8
SCALAR_FMT = {U8: '<B', I8: '<b', U16: '<H', I16: '<h', U32: '<I', I32: '<i', F32: '<f', BOOL: '<B',
              U64: '<Q', I64: '<q', F64: '<d'}


class Arr:
    def __init__(self, et, items):
        self.et, self.items = et, items


class Raw:
    """Bytes written verbatim in place of a value (after the type tag)."""
    def __init__(self, b):
        self.b = b


def s_enc(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack('<Q', len(b)) + b


def v_enc(t, v):
    if isinstance(v, Raw):
        return v.b
    if t == STR:
        return s_enc(v)
    if t == ARR:
        out = struct.pack('<IQ', v.et, len(v.items))
        if v.et in SCALAR_FMT:
            fmt = SCALAR_FMT[v.et]
            if v.et in (U8, I8, U16, I16, U32, I32, U64, I64, BOOL):
                return out + np.asarray(v.items, dtype=np.dtype(fmt)).tobytes()
            return out + b''.join(struct.pack(fmt, x) for x in v.items)
        return out + b''.join(v_enc(v.et, x) for x in v.items)
    return struct.pack(SCALAR_FMT[t], v)


def q8_0(rows, cols, rng):
    """Q8_0 blocks: fp16 scale + 32 int8 codes per block (ggml block_q8_0)."""
    out = bytearray()
    for _ in range(rows * cols // 32):
        out += np.float16(rng.uniform(0.001, 0.02)).tobytes()
        out += rng.integers(-127, 128, 32, dtype=np.int8).tobytes()
    return bytes(out)


def f32(vals):
    return np.asarray(vals, dtype='<f4').tobytes()


# ---- the valid model ---------------------------------------------------------------------------------------
N_EMBD, N_FF, N_HEAD, N_LAYER = 32, 64, 4, 1


def base_model():
    rng = np.random.default_rng(1234)
    tokens = ['<unk>', '<s>', '</s>'] + ['<0x%02X>' % i for i in range(256)]
    pieces = ['\u2581', '\u2581a', '\u2581the', 'e', 't', 'a', 'o', 'n', 'i', 's', 'h', 'r', 'd', 'l',
              '\u2581t', 'he', '\u2581he', 'in', 'er', 'an']
    tokens += pieces
    n_vocab = len(tokens)
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-float(i) for i in range(len(pieces))]
    ttype = [2, 3, 3] + [6] * 256 + [1] * len(pieces)
    kvs = [
        ('general.architecture', STR, 'llama'),
        ('general.name', STR, 'malformed-test'),
        ('general.alignment', U32, 32),
        ('general.file_type', U32, 7),
        ('llama.context_length', U32, 128),
        ('llama.embedding_length', U32, N_EMBD),
        ('llama.block_count', U32, N_LAYER),
        ('llama.feed_forward_length', U32, N_FF),
        ('llama.attention.head_count', U32, N_HEAD),
        ('llama.attention.head_count_kv', U32, N_HEAD),
        ('llama.rope.dimension_count', U32, N_EMBD // N_HEAD),
        ('llama.rope.freq_base', F32, 10000.0),
        ('llama.attention.layer_norm_rms_epsilon', F32, 1e-5),
        ('tokenizer.ggml.model', STR, 'llama'),
        ('tokenizer.ggml.tokens', ARR, Arr(STR, tokens)),
        ('tokenizer.ggml.scores', ARR, Arr(F32, scores)),
        ('tokenizer.ggml.token_type', ARR, Arr(I32, ttype)),
        ('tokenizer.ggml.bos_token_id', U32, 1),
        ('tokenizer.ggml.eos_token_id', U32, 2),
        ('tokenizer.ggml.unknown_token_id', U32, 0),
        ('tokenizer.ggml.add_bos_token', BOOL, 1),
        # one key of every value type, and nested arrays up to the depth limit (4)
        ('test.u8', U8, 200), ('test.i8', I8, -100), ('test.u16', U16, 60000), ('test.i16', I16, -30000),
        ('test.u32', U32, 4000000000), ('test.i32', I32, -2000000000), ('test.f32', F32, 0.5),
        ('test.bool', BOOL, 0), ('test.str', STR, 'hello "gguf"\n'), ('test.u64', U64, 2**63 + 5),
        ('test.i64', I64, -2**62), ('test.f64', F64, 2.5e300),
        ('test.nested', ARR, Arr(ARR, [Arr(I32, [1, 2, 3]), Arr(I32, []), Arr(STR, ['x', 'yz'])])),
        ('test.deep4', ARR, Arr(ARR, [Arr(ARR, [Arr(ARR, [Arr(U8, [7])])])])),
        ('test.empty', ARR, Arr(F64, [])),
    ]
    E, F = N_EMBD, N_FF
    tensors = [
        ('token_embd.weight', [E, n_vocab], T_Q8_0, q8_0(n_vocab, E, rng)),
        ('output_norm.weight', [E], T_F32, f32(np.ones(E))),
        ('output.weight', [E, n_vocab], T_Q8_0, q8_0(n_vocab, E, rng)),
    ]
    for l in range(N_LAYER):
        p = 'blk.%d.' % l
        tensors += [
            (p + 'attn_norm.weight', [E], T_F32, f32(np.ones(E))),
            (p + 'attn_q.weight', [E, E], T_Q8_0, q8_0(E, E, rng)),
            (p + 'attn_k.weight', [E, E], T_Q8_0, q8_0(E, E, rng)),
            (p + 'attn_v.weight', [E, E], T_Q8_0, q8_0(E, E, rng)),
            (p + 'attn_output.weight', [E, E], T_Q8_0, q8_0(E, E, rng)),
            (p + 'ffn_norm.weight', [E], T_F32, f32(np.ones(E))),
            (p + 'ffn_gate.weight', [E, F], T_Q8_0, q8_0(F, E, rng)),
            (p + 'ffn_up.weight', [E, F], T_Q8_0, q8_0(F, E, rng)),
            (p + 'ffn_down.weight', [F, E], T_Q8_0, q8_0(E, F, rng)),
        ]
    # tensor: name, dims, type, data, offset override (None: laid out in order)
    return kvs, [list(t) + [None] for t in tensors]


def build(kvs, tensors, version=3, magic=b'GGUF', n_kv=None, n_tensors=None, layout_align=32, tail=b''):
    """Serialise; returns (bytes, marks) where marks are offsets of every field boundary (for truncation)."""
    b = bytearray()
    marks = []

    def put(x):
        b.extend(x)
        marks.append(len(b))

    put(magic)
    put(struct.pack('<I', version))
    put(struct.pack('<Q', len(tensors) if n_tensors is None else n_tensors))
    put(struct.pack('<Q', len(kvs) if n_kv is None else n_kv))
    for kv in kvs:
        if isinstance(kv, Raw):
            put(kv.b)
            continue
        key, t, v = kv
        kb = s_enc(key)
        put(kb[:8]); put(kb[8:])
        put(struct.pack('<I', t))
        val = v_enc(t, v)
        if len(val) > 16:
            put(val[:12])
        put(val[12:] if len(val) > 16 else val)
    offs, cur = [], 0
    for name, dims, typ, data, off in tensors:
        offs.append(cur if off is None else off)
        cur = (cur + len(data) + layout_align - 1) // layout_align * layout_align
    for (name, dims, typ, data, off), o in zip(tensors, offs):
        nb = s_enc(name) if not isinstance(name, Raw) else name.b
        put(nb[:8]); put(nb[8:])
        put(struct.pack('<I', len(dims)))
        for d in dims:
            put(struct.pack('<Q', d))
        put(struct.pack('<I', typ))
        put(struct.pack('<Q', o))
    if tensors:
        pad = (-len(b)) % layout_align
        put(b'\0' * pad)
        start = len(b)
        for (name, dims, typ, data, off), o in zip(tensors, offs):
            if off is not None:
                continue
            if len(b) < start + o:
                b.extend(b'\0' * (start + o - len(b)))
            put(data)
        end = start + cur
        if len(b) < end:
            b.extend(b'\0' * (end - len(b)))
    b.extend(tail)
    return bytes(b), marks


def seeds(out):
    """Small valid files for the fuzzer's seed corpus (fuzz/corpus/gguf)."""
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    every = [('general.alignment', U32, 32), ('a.u8', U8, 1), ('a.i8', I8, -1), ('a.u16', U16, 2),
             ('a.i16', I16, -2), ('a.u32', U32, 3), ('a.i32', I32, -3), ('a.f32', F32, 1.5), ('a.bool', BOOL, 1),
             ('a.str', STR, 'str'), ('a.u64', U64, 4), ('a.i64', I64, -4), ('a.f64', F64, 2.5),
             ('a.arr', ARR, Arr(ARR, [Arr(I32, [1, 2]), Arr(STR, ['s'])])), ('a.strs', ARR, Arr(STR, ['x', '', 'yz']))]
    t2 = [['n', [8], T_F32, f32(np.ones(8)), None], ['q', [32, 2], T_Q8_0, q8_0(2, 32, rng), None]]
    files = {
        'types': build(every, t2)[0],
        'v2_align64': build([('general.alignment', U64, 64)], [['h', [16], T_F16, b'\0' * 32, None]], version=2,
                            layout_align=64)[0],
        'header_only': build([], [])[0],
        'model': build(*base_model())[0],
    }
    for name, data in files.items():
        with open(os.path.join(out, 'seed_%s.gguf' % name), 'wb') as f:
            f.write(data)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--seeds':
        return seeds(sys.argv[2])
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    manifest = []

    def emit(name, data, mode, code='', pattern=''):
        with open(os.path.join(out, name + '.gguf'), 'wb') as f:
            f.write(data)
        manifest.append('%s.gguf\t%s\t%s\t%s' % (name, mode, code, pattern))

    def fail(name, data, pattern, code='format'):
        emit(name, data, 'fail', code, pattern)

    kvs, tensors = base_model()
    valid, marks = build(kvs, tensors)
    emit('valid', valid, 'ok')
    emit('valid_v2', build(kvs, tensors, version=2)[0], 'ok')

    def with_kv(key, t, v):
        return [(k, tt, vv) if k != key else (key, t, v) for (k, tt, vv) in kvs]

    # alignment: accepted at any integer width and any power of two; data laid out to match
    emit('ok_align64_u64', build(with_kv('general.alignment', U64, 64), tensors, layout_align=64)[0], 'ok')
    emit('ok_align8_u8', build(with_kv('general.alignment', U8, 8), tensors, layout_align=8)[0], 'ok')
    emit('ok_align_default', build([kv for kv in kvs if kv[0] != 'general.alignment'], tensors)[0], 'ok')

    # ---- truncation: at every field boundary and at random offsets ----
    trunc = 'truncated|need at least|beyond|exceeds the|left in the file'
    data_start = [m for m in marks][-(len(tensors) + 1)]  # boundary before the first tensor's data
    cuts = sorted(set(m for m in marks if 0 < m < len(valid)))
    for c in cuts:
        fail('trunc_%06d' % c, valid[:c], 'smaller than' if c < 24 else trunc)
    rnd = random.Random(20240601)
    for c in sorted(set(rnd.randrange(1, len(valid)) for _ in range(40)) - set(cuts)):
        fail('trunc_rand_%06d' % c, valid[:c], 'smaller than' if c < 24 else trunc)
    fail('empty', b'', 'smaller than')
    fail('trunc_last_byte', valid[:-1], 'beyond the data section')

    # ---- header ----
    fail('magic_bad', b'GGUG' + valid[4:], 'magic')
    fail('magic_zero', b'\0\0\0\0' + valid[4:], 'magic')
    fail('magic_ggjt', b'tjgg' + valid[4:], 'legacy', 'unsupported')
    fail('version_0', build(kvs, tensors, version=0)[0], 'version')
    fail('version_1', build(kvs, tensors, version=1)[0], 'version 1', 'unsupported')
    fail('version_4', build(kvs, tensors, version=4)[0], 'version', 'unsupported')
    fail('version_big_endian', build(kvs, tensors, version=0x03000000)[0], 'big-endian', 'unsupported')
    for n in (2**63, 2**64 - 1, 65537):
        fail('n_kv_%d' % n, build(kvs, tensors, n_kv=n)[0], 'n_kv')
        fail('n_tensors_%d' % n, build(kvs, tensors, n_tensors=n)[0], 'n_tensors')
    fail('n_kv_plus1', build(kvs, tensors, n_kv=len(kvs) + 1)[0], 'is not a GGUF value type|truncated|printable|'
         'string length|empty key|duplicate')
    fail('n_kv_huge_fits_limit', build(kvs, tensors, n_kv=60000)[0], 'n_kv')
    fail('n_tensors_plus1', build(kvs, tensors, n_tensors=len(tensors) + 1)[0], 'n_tensors|truncated|string length|'
         'n_dims|dimension|type|offset|empty tensor name|NUL|overlap')

    # ---- strings ----
    for n in (2**63, 2**64 - 1, 2**62, 2**32 + 5):
        fail('key_len_%d' % n, build([Raw(struct.pack('<Q', n) + b'general.x')] + kvs[1:], tensors)[0],
             'string length')
        fail('str_len_%d' % n, build(with_kv('general.name', STR, Raw(struct.pack('<Q', n) + b'x')), tensors)[0],
             'string length')
        tn = [list(t) for t in tensors]
        tn[1][0] = Raw(struct.pack('<Q', n) + b'output_norm.weight')
        fail('tname_len_%d' % n, build(kvs, tn)[0], 'string length')
    fail('str_len_over_limit', build(with_kv('general.name', STR, 'x' * (2**20 + 1)), tensors)[0], 'limit of 1048576')
    fail('key_empty', build([('', U32, 1)] + kvs, tensors)[0], 'empty key')
    fail('key_ctrl', build([('general.\x01x', U32, 1)] + kvs, tensors)[0], 'printable')
    fail('key_dup', build(kvs + [('llama.block_count', U32, 1)], tensors)[0], 'duplicate key')
    tn = [list(t) for t in tensors]
    tn[0][0] = ''
    fail('tname_empty', build(kvs, tn)[0], 'empty tensor name')
    tn = [list(t) for t in tensors]
    tn[0][0] = 'x' * 65
    fail('tname_long', build(kvs, tn)[0], 'limit of 64')
    tn = [list(t) for t in tensors]
    tn[0][0] = 'tok\0en'
    fail('tname_nul', build(kvs, tn)[0], 'NUL')
    tn = [list(t) for t in tensors]
    tn[2][0] = tn[0][0]
    fail('tname_dup', build(kvs, tn)[0], 'duplicate tensor name')
    # a string array whose 100th element has an absurd length
    toks = kvs[14][2].items
    raw = struct.pack('<IQ', STR, len(toks)) + b''.join(s_enc(t) for t in toks[:100]) + struct.pack('<Q', 2**62)
    fail('token_len_absurd', build(with_kv('tokenizer.ggml.tokens', ARR, Raw(raw)), tensors)[0], 'element 100')

    # ---- value and array types ----
    fail('vtype_13', build(with_kv('test.u8', 13, Raw(b'\x01')), tensors)[0], 'not a GGUF value type')
    fail('vtype_huge', build(with_kv('test.u8', 0x80000000, Raw(b'\x01')), tensors)[0], 'not a GGUF value type')
    fail('arr_elem_type_13', build(with_kv('test.empty', ARR, Raw(struct.pack('<IQ', 13, 0))), tensors)[0],
         'element type 13')
    fail('bool_2', build(with_kv('test.bool', BOOL, 2), tensors)[0], 'neither 0 nor 1')
    fail('bool_arr_bad', build(with_kv('test.empty', ARR, Arr(BOOL, [0, 1, 7])), tensors)[0], 'element 2')
    for n in (2**62, 2**28 + 1, 2**64 - 1):
        fail('arr_count_u8_%d' % n, build(with_kv('test.empty', ARR, Raw(struct.pack('<IQ', U8, n))), tensors)[0],
             'limit of|left in the file')
        fail('arr_count_str_%d' % n, build(with_kv('test.empty', ARR, Raw(struct.pack('<IQ', STR, n))), tensors)[0],
             'limit of|left in the file')
        fail('arr_count_arr_%d' % n, build(with_kv('test.empty', ARR, Raw(struct.pack('<IQ', ARR, n))), tensors)[0],
             'limit of|left in the file')
    fail('arr_count_u64_fits_limit', build(with_kv('test.empty', ARR, Raw(struct.pack('<IQ', U64, 2**28))),
                                           tensors)[0], 'left in the file')
    deep5 = Arr(ARR, [Arr(ARR, [Arr(ARR, [Arr(ARR, [Arr(U8, [1])])])])])
    fail('nest_depth5', build(with_kv('test.deep4', ARR, deep5), tensors)[0], 'nested deeper')
    # a chain of 10000 nested empty arrays must stop at the depth limit, not recurse
    chain = b''.join(struct.pack('<IQ', ARR, 1) for _ in range(10000)) + struct.pack('<IQ', U8, 0)
    fail('nest_chain', build(with_kv('test.deep4', ARR, Raw(chain)), tensors)[0], 'nested deeper')

    # ---- alignment ----
    fail('align_0', build(with_kv('general.alignment', U32, 0), tensors)[0], 'power of two')
    fail('align_3', build(with_kv('general.alignment', U32, 3), tensors)[0], 'power of two')
    fail('align_48', build(with_kv('general.alignment', U32, 48), tensors)[0], 'power of two')
    fail('align_neg', build(with_kv('general.alignment', I32, -32), tensors)[0], 'negative')
    fail('align_huge', build(with_kv('general.alignment', U64, 2**40), tensors)[0], 'exceeds the limit')
    fail('align_str', build(with_kv('general.alignment', STR, '32'), tensors)[0], 'not an integer')
    fail('align_f32', build(with_kv('general.alignment', F32, 32.0), tensors)[0], 'not an integer')
    fail('align_arr', build(with_kv('general.alignment', ARR, Arr(U32, [32])), tensors)[0], 'not an integer')
    # valid power of two, but the data was laid out for 32: offsets are misaligned for 256
    fail('align_256_mislaid', build(with_kv('general.alignment', U32, 256), tensors)[0], 'multiple of the alignment')

    # ---- tensor infos ----
    def tmod(i, **kw):
        tn = [list(t) for t in tensors]
        for k, v in kw.items():
            tn[i][{'name': 0, 'dims': 1, 'type': 2, 'data': 3, 'off': 4}[k]] = v
        return build(kvs, tn)[0]

    fail('ndims_0', tmod(1, dims=[]), 'n_dims')
    fail('ndims_5', tmod(1, dims=[32, 1, 1, 1, 1]), 'n_dims')
    fail('ndims_huge', build(kvs, tensors)[0].replace(struct.pack('<Q', 18) + b'output_norm.weight' +
                                                       struct.pack('<I', 1),
                                                       struct.pack('<Q', 18) + b'output_norm.weight' +
                                                       struct.pack('<I', 0xffffffff)), 'n_dims')
    fail('dim_0', tmod(1, dims=[0]), 'dimension is 0')
    fail('dim_0_second', tmod(0, dims=[32, 0]), 'dimension is 0')
    fail('dim_2_62', tmod(1, dims=[2**62]), 'exceeds the limit')
    fail('dim_2_64m1', tmod(1, dims=[2**64 - 1]), 'exceeds the limit')
    fail('nel_overflow', tmod(1, dims=[2**40, 2**40, 2**40]), 'overflows int64')
    fail('nbytes_huge', tmod(1, dims=[2**40, 2**20]), 'beyond the data section')
    fail('type_40', tmod(1, type=40), 'not a GGML type')
    fail('type_1000', tmod(1, type=1000), 'not a GGML type')
    fail('type_u32max', tmod(1, type=0xffffffff), 'not a GGML type')
    fail('type_removed_4', tmod(1, type=4), 'not supported', 'unsupported')
    fail('row_not_block_multiple', tmod(0, dims=[48, 10]), 'not a multiple of')
    fail('row_16_q8_0', tmod(0, dims=[16, 20]), 'not a multiple of')
    fail('offset_misaligned', tmod(len(tensors) - 1, off=16), 'multiple of the alignment')
    fail('offset_odd', tmod(1, off=1), 'multiple of the alignment')
    fail('offset_2_63', tmod(1, off=2**63), 'beyond the data section')
    fail('offset_u64max_aligned', tmod(1, off=2**64 - 32), 'beyond the data section')
    fail('offset_at_end', tmod(len(tensors) - 1, off=len(valid)), 'beyond the data section')
    # the last tensor grows by one row past the end of the file
    last = tensors[-1]
    fail('overlapping_end', tmod(len(tensors) - 1, dims=[last[1][0], last[1][1] + 1]), 'beyond the data section')
    fail('overlap_tensors', tmod(2, off=0), 'overlaps')
    fail('overlap_partial', tmod(3, off=32), 'overlaps')

    # ---- well-formed GGUF, wrong types for what the model loader reads ----
    emit('tokens_as_i32', build(with_kv('tokenizer.ggml.tokens', ARR, Arr(I32, list(range(len(toks))))),
                                tensors)[0], 'gguf_ok')
    emit('scores_as_str', build(with_kv('tokenizer.ggml.scores', ARR, Arr(STR, ['0'] * len(toks))), tensors)[0],
         'gguf_ok')
    emit('token_type_as_f32', build(with_kv('tokenizer.ggml.token_type', ARR, Arr(F32, [1.0] * len(toks))),
                                    tensors)[0], 'gguf_ok')
    emit('tokens_as_scalar', build(with_kv('tokenizer.ggml.tokens', STR, 'abc'), tensors)[0], 'gguf_ok')
    emit('block_count_str', build(with_kv('llama.block_count', STR, '1'), tensors)[0], 'gguf_ok')
    emit('embd_negative', build(with_kv('llama.embedding_length', I32, -32), tensors)[0], 'gguf_ok')
    # a tensor the model does not use must be refused by name, never ignored (a Gemma 2 post-norm, an MoE router
    # in a file without expert_count, a qwen3 q norm in a llama file, a stray tensor anywhere in the list)
    E = N_EMBD
    hd = E // N_HEAD
    extra = [('blk.0.post_attention_norm.weight', [E], T_F32, f32(np.ones(E)), None),
             ('blk.0.ffn_gate_inp.weight', [E, 4], T_F32, f32(np.zeros(4 * E)), None),
             ('blk.1.attn_q_norm.weight', [hd], T_F32, f32(np.ones(hd)), None)]
    for i, t in enumerate(extra):
        at = [0, 5, len(tensors)][i]
        emit('unused_tensor_%d' % i, build(kvs, tensors[:at] + [t] + tensors[at:])[0], 'gguf_ok', 'unsupported',
             re.escape(t[0]) + '.*not used')

    # ---- random corruption of the metadata (fixed seed); any outcome but a crash ----
    meta_end = data_start
    for i in range(220):
        b = bytearray(valid)
        for _ in range(rnd.randint(1, 4)):
            pos = rnd.randrange(0, meta_end)
            b[pos] = rnd.choice([0, 0xff, 0x7f, 0x80, rnd.randrange(256), b[pos] ^ (1 << rnd.randrange(8))])
        emit('rand_%03d' % i, bytes(b), 'any')

    with open(os.path.join(out, 'manifest.tsv'), 'w') as f:
        f.write('\n'.join(manifest) + '\n')
    print('%d files in %s' % (len(manifest), out))


if __name__ == '__main__':
    main()
