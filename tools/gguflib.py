#!/usr/bin/python3
"""gguflib.py - an independent GGUF writer and reader with numpy quantizers (numpy only, no ggml code).

This is octet's test oracle for the file format: it is written from the published GGUF specification
(ggml/docs/gguf.md) and the published ggml block layouts (ggml-common.h, the *_ref quantizers in ggml-quants.c),
never from octet's C code, so the two can check each other.

GGUF byte layout (all little-endian), version 3 (version 2 is identical; version 1 had 32-bit counts and is not
written or read here):
    u32 magic "GGUF" (bytes 47 47 55 46), u32 version, u64 n_tensors, u64 n_kv
    n_kv times:      string key, u32 value_type, value
    n_tensors times: string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset (relative to data start)
    zero padding to `alignment` (general.alignment, UINT32, default 32)
    tensor data: each tensor at its offset, every offset a multiple of alignment
  string = u64 length + bytes (UTF-8, no terminator); ARRAY value = u32 element type, u64 count, elements
  (elements of an ARRAY of ARRAY are themselves full ARRAY values: type, count, elements).
  ne[0] is the fastest-varying (contiguous) dimension: a numpy array of shape (rows, cols) has ne = [cols, rows].

Block layouts (weights per block: bytes), "d"/"m" are IEEE fp16:
  Q4_0 32:18   d, qs[16]; weight j in low nibble of qs[j], weight j+16 in high nibble; w = d*(q-8)
  Q4_1 32:20   d, m, qs[16]; w = d*q + m
  Q5_0 32:22   d, qh[4] (u32 LE, bit j = 5th bit of weight j), qs[16]; w = d*(q-16)
  Q5_1 32:24   d, m, qh[4], qs[16]; w = d*q + m
  Q8_0 32:34   d, qs[32] int8; w = d*q
  Q4_K 256:144 d, dmin, scales[12] (8 x (6-bit scale, 6-bit min)), qs[128]; sub-block s = weights 32s..32s+31,
               in 64-weight chunks c: weights 64c..64c+31 are the low nibbles of qs[32c..32c+31], the next 32
               the high nibbles; w = d*sc[s]*q - dmin*m[s]
  Q6_K 256:210 ql[128], qh[64], scales[16] int8, d; sub-block s = weights 16s..16s+15; in 128-weight halves h:
               weight 128h+l+32k (l<32, k<4) has low 4 bits in ql[64h + l + 32*(k&1)] (nibble k>>1) and high
               2 bits in qh[32h + l] bits 2k..2k+1; w = d*scales[s]*(q-32)

Quantizers: Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 follow ggml's reference quantizers (quantize_row_*_ref) exactly,
including float32 rounding at every step, so the bytes are bit-identical to ggml's (and to any faithful port).
Q4_K and Q6_K use a simple min/max (Q4_K) or absmax (Q6_K) per sub-block quantizer: valid bytes, not ggml's
search-based quantizer.

Python API (see the docstrings):
    w = GGUFWriter(path, alignment=32, version=3)
    w.add_kv(key, value, vtype=None, arr_type=None)
    w.add_tensor(name, array, qtype=GGMLType.F32)
    w.add_tensor_raw(name, ne_list, qtype, raw_bytes)
    w.write()
    r = GGUFReader(path); r.kv[key]; r.kv_types[key]; r.tensors[name] = (ne, qtype, raw)
    r.tensor(name) -> float64 array shaped like numpy (ne reversed)
    dequantize(raw, qtype, n) -> float64 array; quantize(array, qtype) -> bytes
"""
import enum
import mmap
import os
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"


class GGMLType(enum.IntEnum):
    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q4_1 = 3
    Q5_0 = 6
    Q5_1 = 7
    Q8_0 = 8
    Q4_K = 12
    Q6_K = 14
    BF16 = 30


class GGUFValueType(enum.IntEnum):
    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


# (weights per block, bytes per block)
BLOCK = {
    GGMLType.F32: (1, 4),
    GGMLType.F16: (1, 2),
    GGMLType.BF16: (1, 2),
    GGMLType.Q4_0: (32, 18),
    GGMLType.Q4_1: (32, 20),
    GGMLType.Q5_0: (32, 22),
    GGMLType.Q5_1: (32, 24),
    GGMLType.Q8_0: (32, 34),
    GGMLType.Q4_K: (256, 144),
    GGMLType.Q6_K: (256, 210),
}

_SCALAR_FMT = {
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b",
    GGUFValueType.UINT16: "<H", GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q", GGUFValueType.INT64: "<q",
    GGUFValueType.FLOAT64: "<d",
}
_NP_DTYPE = {
    GGUFValueType.UINT8: "<u1", GGUFValueType.INT8: "<i1",
    GGUFValueType.UINT16: "<u2", GGUFValueType.INT16: "<i2",
    GGUFValueType.UINT32: "<u4", GGUFValueType.INT32: "<i4",
    GGUFValueType.FLOAT32: "<f4", GGUFValueType.BOOL: "<u1",
    GGUFValueType.UINT64: "<u8", GGUFValueType.INT64: "<i8",
    GGUFValueType.FLOAT64: "<f8",
}


def tensor_nbytes(ne, qtype):
    """Bytes of a tensor of shape ne (ne[0] contiguous) and type qtype; ne[0] must be a multiple of the block."""
    qtype = GGMLType(qtype)
    bw, bb = BLOCK[qtype]
    if ne[0] % bw:
        raise ValueError("ne[0]=%d is not a multiple of the %s block size %d" % (ne[0], qtype.name, bw))
    n = 1
    for d in ne:
        n *= int(d)
    return n // bw * bb


# ---------------------------------------------------------------------------------------------------------------
# Value inference and encoding


def _infer_scalar_type(v):
    if isinstance(v, (bool, np.bool_)):
        return GGUFValueType.BOOL
    if isinstance(v, str):
        return GGUFValueType.STRING
    if isinstance(v, (int, np.integer)):
        v = int(v)
        if 0 <= v < 2**32:
            return GGUFValueType.UINT32
        if 2**63 <= v < 2**64:
            return GGUFValueType.UINT64
        if -2**63 <= v < 2**63:
            return GGUFValueType.INT64
        raise ValueError("integer %d does not fit 64 bits" % v)
    if isinstance(v, (float, np.floating)):
        return GGUFValueType.FLOAT32
    if isinstance(v, (list, tuple, np.ndarray)):
        return GGUFValueType.ARRAY
    raise TypeError("cannot infer a GGUF type for %r" % (type(v),))


def _infer_elem_type(values):
    """Element type of an array: STRING, BOOL, INT32 (INT64 if a value does not fit), FLOAT32, or ARRAY."""
    if isinstance(values, np.ndarray):
        if values.dtype == np.bool_:
            return GGUFValueType.BOOL
        if np.issubdtype(values.dtype, np.integer):
            if values.size == 0 or (values.min() >= -2**31 and values.max() < 2**31):
                return GGUFValueType.INT32
            return GGUFValueType.INT64
        if np.issubdtype(values.dtype, np.floating):
            return GGUFValueType.FLOAT32
        values = values.tolist()
    if len(values) == 0:
        return GGUFValueType.INT32
    kinds = set(_infer_scalar_type(v) for v in values)
    if kinds == {GGUFValueType.STRING}:
        return GGUFValueType.STRING
    if kinds == {GGUFValueType.BOOL}:
        return GGUFValueType.BOOL
    if kinds == {GGUFValueType.ARRAY}:
        return GGUFValueType.ARRAY
    if kinds <= {GGUFValueType.UINT32, GGUFValueType.UINT64, GGUFValueType.INT64}:
        if all(-2**31 <= int(v) < 2**31 for v in values):
            return GGUFValueType.INT32
        return GGUFValueType.INT64
    if kinds <= {GGUFValueType.UINT32, GGUFValueType.UINT64, GGUFValueType.INT64, GGUFValueType.FLOAT32}:
        return GGUFValueType.FLOAT32
    raise TypeError("array mixes element kinds %s" % sorted(k.name for k in kinds))


def _enc_str(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(b)) + b


def _enc_value(value, vtype, arr_type=None):
    """Bytes of a value of type vtype (without the leading u32 type tag)."""
    vtype = GGUFValueType(vtype)
    if vtype == GGUFValueType.STRING:
        return _enc_str(value)
    if vtype == GGUFValueType.ARRAY:
        if arr_type is None:
            arr_type = _infer_elem_type(value)
        arr_type = GGUFValueType(arr_type)
        n = len(value)
        out = [struct.pack("<IQ", int(arr_type), n)]
        if arr_type == GGUFValueType.STRING:
            out.extend(_enc_str(s) for s in value)
        elif arr_type == GGUFValueType.ARRAY:
            for sub in value:  # each inner array carries its own element type and count
                out.append(_enc_value(sub, GGUFValueType.ARRAY, None))
        else:
            a = np.asarray(value)
            if arr_type == GGUFValueType.BOOL:
                a = a.astype(bool)
            elif np.issubdtype(np.dtype(_NP_DTYPE[arr_type]), np.integer):
                info = np.iinfo(np.dtype(_NP_DTYPE[arr_type]))
                vals = [int(v) for v in np.ravel(a).tolist()]
                if vals and (min(vals) < info.min or max(vals) > info.max):
                    raise ValueError("array value out of range for %s" % arr_type.name)
                a = np.array(vals, dtype=object) if vals else np.zeros(0)
            out.append(np.ascontiguousarray(a, dtype=_NP_DTYPE[arr_type]).tobytes())
        return b"".join(out)
    fmt = _SCALAR_FMT[vtype]
    if vtype in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return struct.pack(fmt, float(value))
    if vtype == GGUFValueType.BOOL:
        return struct.pack(fmt, bool(value))
    return struct.pack(fmt, int(value))


# ---------------------------------------------------------------------------------------------------------------
# fp16 / bf16 helpers


def f32_to_f16_bits(x):
    """IEEE binary16, round to nearest even (what F16C's vcvtps2ph with rounding mode 0 and ggml do)."""
    return np.asarray(x, dtype=np.float32).astype(np.float16).view(np.uint16)


def f16_bits_to_f64(h):
    return np.asarray(h, dtype=np.uint16).view(np.float16).astype(np.float64)


def f32_to_bf16_bits(x):
    """bfloat16 = top 16 bits of binary32, round to nearest even; NaN kept quiet."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    isnan = (u & 0x7FFFFFFF) > 0x7F800000
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    r = np.where(isnan, (u >> 16) | 0x40, r)
    return r.astype(np.uint16)


def bf16_bits_to_f64(h):
    return (np.asarray(h, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)


# ---------------------------------------------------------------------------------------------------------------
# Quantizers (input: float32 numpy array of n weights, n a multiple of the block; output: bytes)

_F = np.float32


def _trunc_to_int(v):
    """C's float -> integer conversion (truncation toward zero)."""
    return np.trunc(v).astype(np.int64)


def _roundf(v):
    """C's roundf (half away from zero), exact: computed in float64 from float32 input."""
    v = v.astype(np.float64)
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


def _signed_absmax(b):
    """Per row: the value with the largest |v|, the first one on ties; +0.0 when every |v| is 0 (as the C loop
    `if (amax < fabsf(v)) { amax = fabsf(v); max = v; }` starting from amax = max = 0 gives)."""
    a = np.abs(b)
    idx = np.argmax(a, axis=1)
    mx = b[np.arange(b.shape[0]), idx]
    return np.where(a.max(axis=1) > 0, mx, _F(0.0)).astype(_F), a.max(axis=1).astype(_F)


def _safe_recip(d):
    with np.errstate(divide="ignore"):
        return np.where(d != 0, _F(1.0) / np.where(d != 0, d, _F(1.0)), _F(0.0)).astype(_F)


def _pack_nibbles(lo, hi):
    return (lo.astype(np.uint8) & 0x0F) | ((hi.astype(np.uint8) & 0x0F) << 4)


def _pack_qh(q):
    """q: (nb, 32) 5-bit values -> (nb, 4) bytes of the little-endian u32 whose bit j is bit 4 of q[j]."""
    bits = ((q.astype(np.uint32) >> 4) & 1) << np.arange(32, dtype=np.uint32)
    return np.bitwise_or.reduce(bits, axis=1).astype("<u4").view(np.uint8).reshape(-1, 4)


def quantize_q8_0(x):
    b = np.asarray(x, dtype=_F).reshape(-1, 32)
    amax = np.abs(b).max(axis=1).astype(_F)
    d = (amax / _F(127)).astype(_F)
    idv = _safe_recip(d)
    q = _roundf((b * idv[:, None]).astype(_F)).astype(np.int8)
    out = np.empty((b.shape[0], 34), np.uint8)
    out[:, 0:2] = f32_to_f16_bits(d).astype("<u2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def quantize_q4_0(x):
    b = np.asarray(x, dtype=_F).reshape(-1, 32)
    mx, _ = _signed_absmax(b)
    d = (mx / _F(-8)).astype(_F)
    idv = _safe_recip(d)
    v = ((b * idv[:, None]).astype(_F) + _F(8.5)).astype(_F)
    q = np.minimum(15, _trunc_to_int(v))
    out = np.empty((b.shape[0], 18), np.uint8)
    out[:, 0:2] = f32_to_f16_bits(d).astype("<u2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = _pack_nibbles(q[:, :16], q[:, 16:])
    return out.tobytes()


def quantize_q4_1(x):
    b = np.asarray(x, dtype=_F).reshape(-1, 32)
    mn = b.min(axis=1).astype(_F)
    mx = b.max(axis=1).astype(_F)
    d = ((mx - mn).astype(_F) / _F(15)).astype(_F)
    idv = _safe_recip(d)
    v = (((b - mn[:, None]).astype(_F) * idv[:, None]).astype(_F) + _F(0.5)).astype(_F)
    q = np.minimum(15, _trunc_to_int(v))
    out = np.empty((b.shape[0], 20), np.uint8)
    out[:, 0:2] = f32_to_f16_bits(d).astype("<u2").view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = f32_to_f16_bits(mn).astype("<u2").view(np.uint8).reshape(-1, 2)
    out[:, 4:] = _pack_nibbles(q[:, :16], q[:, 16:])
    return out.tobytes()


def quantize_q5_0(x):
    b = np.asarray(x, dtype=_F).reshape(-1, 32)
    mx, _ = _signed_absmax(b)
    d = (mx / _F(-16)).astype(_F)
    idv = _safe_recip(d)
    v = ((b * idv[:, None]).astype(_F) + _F(16.5)).astype(_F)
    q = np.minimum(31, _trunc_to_int(v))
    out = np.empty((b.shape[0], 22), np.uint8)
    out[:, 0:2] = f32_to_f16_bits(d).astype("<u2").view(np.uint8).reshape(-1, 2)
    out[:, 2:6] = _pack_qh(q)
    out[:, 6:] = _pack_nibbles(q[:, :16], q[:, 16:])
    return out.tobytes()


def quantize_q5_1(x):
    b = np.asarray(x, dtype=_F).reshape(-1, 32)
    mn = b.min(axis=1).astype(_F)
    mx = b.max(axis=1).astype(_F)
    d = ((mx - mn).astype(_F) / _F(31)).astype(_F)
    idv = _safe_recip(d)
    v = (((b - mn[:, None]).astype(_F) * idv[:, None]).astype(_F) + _F(0.5)).astype(_F)
    q = _trunc_to_int(v) & 0xFF  # the reference casts to uint8 without a clamp
    out = np.empty((b.shape[0], 24), np.uint8)
    out[:, 0:2] = f32_to_f16_bits(d).astype("<u2").view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = f32_to_f16_bits(mn).astype("<u2").view(np.uint8).reshape(-1, 2)
    out[:, 4:8] = _pack_qh(q)
    out[:, 8:] = _pack_nibbles(q[:, :16], q[:, 16:])
    return out.tobytes()


def _pack_q4_k_scales(sc, mn):
    """sc, mn: (nb, 8) 6-bit ints -> (nb, 12) bytes. Sub-blocks 0..3: scale in scales[j] bits 0..5, min in
    scales[j+4] bits 0..5. Sub-blocks 4..7: low 4 bits of scale / min in the low / high nibble of scales[j+4],
    high 2 bits of the scale in bits 6..7 of scales[j-4], of the min in bits 6..7 of scales[j]."""
    sc = sc.astype(np.uint8)
    mn = mn.astype(np.uint8)
    s = np.zeros((sc.shape[0], 12), np.uint8)
    s[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    s[:, 4:8] = mn[:, 0:4] | ((mn[:, 4:8] >> 4) << 6)
    s[:, 8:12] = (sc[:, 4:8] & 0x0F) | ((mn[:, 4:8] & 0x0F) << 4)
    return s


def _unpack_q4_k_scales(s):
    s = s.astype(np.uint8)
    sc = np.empty((s.shape[0], 8), np.uint8)
    mn = np.empty((s.shape[0], 8), np.uint8)
    sc[:, 0:4] = s[:, 0:4] & 63
    mn[:, 0:4] = s[:, 4:8] & 63
    sc[:, 4:8] = (s[:, 8:12] & 0x0F) | ((s[:, 0:4] >> 6) << 4)
    mn[:, 4:8] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc, mn


def quantize_q4_k(x):
    """Simple Q4_K: per 32-weight sub-block, offset m = -min(0, min x), scale = (max x + m) / 15; the 8 scales
    and 8 offsets are quantized to 6 bits against the super-block's d = max scale / 63, dmin = max m / 63,
    then every weight is rounded against its effective (fp16 d * 6-bit scale) step."""
    b = np.asarray(x, dtype=np.float64).reshape(-1, 8, 32)
    nb = b.shape[0]
    m = -np.minimum(0.0, b.min(axis=2))                          # (nb, 8) >= 0
    scale = (np.maximum(b.max(axis=2), 0.0) + m) / 15.0          # (nb, 8) >= 0
    d = f16_bits_to_f64(f32_to_f16_bits(scale.max(axis=1) / 63.0))
    dmin = f16_bits_to_f64(f32_to_f16_bits(m.max(axis=1) / 63.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(d[:, None] > 0, np.clip(np.ceil(scale / d[:, None]), 0, 63), 0)
        mq = np.where(dmin[:, None] > 0, np.clip(np.rint(m / dmin[:, None]), 0, 63), 0)
        step = d[:, None] * sc                                   # effective step per sub-block
        off = dmin[:, None] * mq                                 # effective offset per sub-block
        q = np.where(step[:, :, None] > 0, np.rint((b + off[:, :, None]) / step[:, :, None]), 0)
    q = np.clip(q, 0, 15).astype(np.uint8).reshape(nb, 4, 2, 32)  # (chunk, low/high, 32)
    out = np.empty((nb, 144), np.uint8)
    out[:, 0:2] = f32_to_f16_bits(d).astype("<u2").view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = f32_to_f16_bits(dmin).astype("<u2").view(np.uint8).reshape(-1, 2)
    out[:, 4:16] = _pack_q4_k_scales(sc.astype(np.uint8), mq.astype(np.uint8))
    out[:, 16:] = _pack_nibbles(q[:, :, 0, :], q[:, :, 1, :]).reshape(nb, 128)
    return out.tobytes()


def quantize_q6_k(x):
    """Simple Q6_K: per 16-weight sub-block scale = absmax / 31 quantized to int8 against d = max scale / 127,
    weights rounded against the effective step and clamped to [-32, 31]."""
    b = np.asarray(x, dtype=np.float64).reshape(-1, 16, 16)
    nb = b.shape[0]
    scale = np.abs(b).max(axis=2) / 31.0                         # (nb, 16)
    d = f16_bits_to_f64(f32_to_f16_bits(scale.max(axis=1) / 127.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(d[:, None] > 0, np.clip(np.ceil(scale / d[:, None]), -128, 127), 0)
        step = d[:, None] * sc
        q = np.where(step[:, :, None] > 0, np.rint(b / step[:, :, None]), 0)
    q = (np.clip(q, -32, 31) + 32).astype(np.uint8).reshape(nb, 2, 4, 32)  # (half, k, l)
    ql = np.empty((nb, 2, 64), np.uint8)
    ql[:, :, 0:32] = _pack_nibbles(q[:, :, 0, :], q[:, :, 2, :])
    ql[:, :, 32:64] = _pack_nibbles(q[:, :, 1, :], q[:, :, 3, :])
    qh = ((q[:, :, 0, :] >> 4) | ((q[:, :, 1, :] >> 4) << 2) | ((q[:, :, 2, :] >> 4) << 4)
          | ((q[:, :, 3, :] >> 4) << 6)).astype(np.uint8)
    out = np.empty((nb, 210), np.uint8)
    out[:, 0:128] = ql.reshape(nb, 128)
    out[:, 128:192] = qh.reshape(nb, 64)
    out[:, 192:208] = sc.astype(np.int8).view(np.uint8)
    out[:, 208:210] = f32_to_f16_bits(d).astype("<u2").view(np.uint8).reshape(-1, 2)
    return out.tobytes()


def quantize(x, qtype):
    """Encode the float weights x (any shape, flattened in C order) as qtype; returns bytes."""
    qtype = GGMLType(qtype)
    x = np.asarray(x)
    n = x.size
    bw, _ = BLOCK[qtype]
    if n % bw:
        raise ValueError("%d weights are not a multiple of the %s block size %d" % (n, qtype.name, bw))
    flat = x.reshape(-1)
    if qtype == GGMLType.F32:
        return np.ascontiguousarray(flat, dtype="<f4").tobytes()
    if qtype == GGMLType.F16:
        return f32_to_f16_bits(flat.astype(np.float32)).astype("<u2").tobytes()
    if qtype == GGMLType.BF16:
        return f32_to_bf16_bits(flat.astype(np.float32)).astype("<u2").tobytes()
    fn = {
        GGMLType.Q8_0: quantize_q8_0, GGMLType.Q4_0: quantize_q4_0, GGMLType.Q4_1: quantize_q4_1,
        GGMLType.Q5_0: quantize_q5_0, GGMLType.Q5_1: quantize_q5_1, GGMLType.Q4_K: quantize_q4_k,
        GGMLType.Q6_K: quantize_q6_k,
    }[qtype]
    return fn(flat.astype(np.float32))


# ---------------------------------------------------------------------------------------------------------------
# Dequantizers (exact in float64: every quantized weight is a product of at most three small-precision numbers)


def _blocks(raw, n, qtype):
    bw, bb = BLOCK[qtype]
    if n % bw:
        raise ValueError("n=%d not a multiple of %d" % (n, bw))
    nb = n // bw
    a = np.frombuffer(raw, dtype=np.uint8, count=nb * bb)
    return a.reshape(nb, bb)


def _f16_at(b, off):
    return f16_bits_to_f64(b[:, off:off + 2].copy().view("<u2").reshape(-1))


def _unpack_nibbles(qs):
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int64)


def _unpack_qh(qh4):
    u = qh4.copy().view("<u4").reshape(-1, 1)
    return ((u >> np.arange(32, dtype=np.uint32)) & 1).astype(np.int64) << 4


def dequantize(raw, qtype, n):
    """The first n weights encoded in raw (bytes-like) as qtype, as a float64 array of shape (n,)."""
    qtype = GGMLType(qtype)
    if qtype == GGMLType.F32:
        return np.frombuffer(raw, dtype="<f4", count=n).astype(np.float64)
    if qtype == GGMLType.F16:
        return f16_bits_to_f64(np.frombuffer(raw, dtype="<u2", count=n))
    if qtype == GGMLType.BF16:
        return bf16_bits_to_f64(np.frombuffer(raw, dtype="<u2", count=n))
    b = _blocks(raw, n, qtype)
    if qtype == GGMLType.Q8_0:
        d = _f16_at(b, 0)
        q = b[:, 2:].view(np.int8).astype(np.int64)
        return (d[:, None] * q).reshape(-1)
    if qtype == GGMLType.Q4_0:
        d = _f16_at(b, 0)
        return (d[:, None] * (_unpack_nibbles(b[:, 2:18]) - 8)).reshape(-1)
    if qtype == GGMLType.Q4_1:
        d, m = _f16_at(b, 0), _f16_at(b, 2)
        return (d[:, None] * _unpack_nibbles(b[:, 4:20]) + m[:, None]).reshape(-1)
    if qtype == GGMLType.Q5_0:
        d = _f16_at(b, 0)
        q = _unpack_nibbles(b[:, 6:22]) | _unpack_qh(b[:, 2:6])
        return (d[:, None] * (q - 16)).reshape(-1)
    if qtype == GGMLType.Q5_1:
        d, m = _f16_at(b, 0), _f16_at(b, 2)
        q = _unpack_nibbles(b[:, 8:24]) | _unpack_qh(b[:, 4:8])
        return (d[:, None] * q + m[:, None]).reshape(-1)
    if qtype == GGMLType.Q4_K:
        nb = b.shape[0]
        d, dmin = _f16_at(b, 0), _f16_at(b, 2)
        sc, mn = _unpack_q4_k_scales(b[:, 4:16])
        qs = b[:, 16:].reshape(nb, 4, 32)
        q = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(nb, 8, 32).astype(np.int64)
        w = (d[:, None, None] * sc[:, :, None].astype(np.int64) * q
             - dmin[:, None, None] * mn[:, :, None].astype(np.int64))
        return w.reshape(-1)
    if qtype == GGMLType.Q6_K:
        nb = b.shape[0]
        ql = b[:, 0:128].reshape(nb, 2, 2, 32)     # (half, first/second 32 bytes, l)
        qh = b[:, 128:192].reshape(nb, 2, 32)
        sc = b[:, 192:208].view(np.int8).astype(np.int64)
        d = _f16_at(b, 208)
        q = np.empty((nb, 2, 4, 32), np.int64)
        for k in range(4):
            lo = ql[:, :, k & 1, :]
            lo = (lo & 0x0F) if k < 2 else (lo >> 4)
            q[:, :, k, :] = lo.astype(np.int64) | (((qh >> (2 * k)) & 3).astype(np.int64) << 4)
        q = q.reshape(nb, 16, 16) - 32
        return (d[:, None, None] * sc[:, :, None] * q).reshape(-1)
    raise ValueError("unsupported type %r" % (qtype,))


# ---------------------------------------------------------------------------------------------------------------
# Writer


def _align(x, a):
    return (x + a - 1) // a * a


class GGUFWriter:
    """Collects key/values and tensors in memory, then writes one GGUF file.

    add_kv type inference (when vtype is None):
      str -> STRING; bool -> BOOL; float -> FLOAT32;
      int -> UINT32 when 0 <= v < 2**32, else INT64 (negative or large), or UINT64 when 2**63 <= v < 2**64;
      list/tuple/np.ndarray -> ARRAY whose element type is STRING (all str), BOOL (all bool), INT32 (all ints
      fitting int32, else INT64), FLOAT32 (floats, possibly mixed with ints), ARRAY (lists of lists: each inner
      array infers its own type). An empty array defaults to INT32 elements.
    Pass vtype (and arr_type for arrays) to force a type, e.g. add_kv(k, [1, 2], GGUFValueType.ARRAY,
    arr_type=GGUFValueType.UINT8); add_kv(k, 5, GGUFValueType.INT32).
    If alignment != 32, general.alignment (UINT32) is added automatically unless given.
    """

    def __init__(self, path, alignment=32, version=3):
        if version not in (2, 3):
            raise ValueError("only GGUF versions 2 and 3 are written")
        if alignment <= 0 or alignment % 8:
            raise ValueError("alignment must be a positive multiple of 8")
        self.path = path
        self.alignment = alignment
        self.version = version
        self._kv = {}       # key -> encoded bytes (type tag + value), in insertion order
        self._tensors = []  # (name, ne, qtype, raw)
        self._names = set()

    def add_kv(self, key, value, vtype=None, arr_type=None):
        if vtype is None:
            vtype = _infer_scalar_type(value)
        vtype = GGUFValueType(vtype)
        if key in self._kv:
            raise ValueError("duplicate key %r" % key)
        self._kv[key] = struct.pack("<I", int(vtype)) + _enc_value(value, vtype, arr_type)

    def add_tensor(self, name, array, qtype=GGMLType.F32):
        """Add a numpy array (1..4 dims) quantized to qtype. GGUF ne is the numpy shape reversed, so ne[0] is
        the last numpy dimension (a (rows, cols) matrix has ne = [cols, rows]) and must be a multiple of the
        block size."""
        a = np.asarray(array)
        if not 1 <= a.ndim <= 4:
            raise ValueError("tensor %s: %d dims (1..4 allowed)" % (name, a.ndim))
        ne = [int(s) for s in reversed(a.shape)]
        tensor_nbytes(ne, qtype)  # validates the block multiple
        self.add_tensor_raw(name, ne, qtype, quantize(a, qtype))

    def add_tensor_raw(self, name, ne_list, qtype, raw_bytes):
        """Add already-encoded bytes; their length must match ne and qtype."""
        if name in self._names:
            raise ValueError("duplicate tensor %r" % name)
        ne = [int(v) for v in ne_list]
        want = tensor_nbytes(ne, qtype)
        raw = bytes(raw_bytes)
        if len(raw) != want:
            raise ValueError("tensor %s: %d bytes given, %d expected" % (name, len(raw), want))
        self._names.add(name)
        self._tensors.append((name, ne, int(qtype), raw))

    def write(self):
        if self.alignment != 32 and "general.alignment" not in self._kv:
            self.add_kv("general.alignment", self.alignment, GGUFValueType.UINT32)
        out = [GGUF_MAGIC, struct.pack("<IQQ", self.version, len(self._tensors), len(self._kv))]
        for k, v in self._kv.items():
            out.append(_enc_str(k))
            out.append(v)
        offset = 0
        offsets = []
        for name, ne, qtype, raw in self._tensors:
            offsets.append(offset)
            out.append(_enc_str(name))
            out.append(struct.pack("<I", len(ne)))
            out.append(struct.pack("<%dQ" % len(ne), *ne))
            out.append(struct.pack("<IQ", qtype, offset))
            offset = _align(offset + len(raw), self.alignment)
        head = b"".join(out)
        pad = _align(len(head), self.alignment) - len(head)
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(head)
            f.write(b"\0" * pad)
            pos = 0
            for (name, ne, qtype, raw), off in zip(self._tensors, offsets):
                f.write(b"\0" * (off - pos))
                f.write(raw)
                pos = off + len(raw)
            f.write(b"\0" * (_align(pos, self.alignment) - pos))
        os.replace(tmp, self.path)


# ---------------------------------------------------------------------------------------------------------------
# Reader


class GGUFReader:
    """Parses a whole GGUF file (v2 or v3).
    .kv        key -> python value (int, float, bool, str, or list for arrays, nested for ARRAY of ARRAY)
    .kv_types  key -> (GGUFValueType, element GGUFValueType or None)
    .tensors   name -> (ne list, GGMLType, raw bytes); .tensor_order: names in file order
    .alignment, .version, .data_offset
    """

    def __init__(self, path):
        with open(path, "rb") as f:
            self._buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        buf = self._buf
        self._pos = 0
        if buf[0:4] != GGUF_MAGIC:
            raise ValueError("%s: bad magic" % path)
        self._pos = 4
        self.version = self._u("<I")
        if self.version not in (2, 3):
            raise ValueError("%s: unsupported version %d" % (path, self.version))
        n_tensors = self._u("<Q")
        n_kv = self._u("<Q")
        self.kv = {}
        self.kv_types = {}
        for _ in range(n_kv):
            key = self._str()
            vtype = GGUFValueType(self._u("<I"))
            val, arr_type = self._value(vtype)
            self.kv[key] = val
            self.kv_types[key] = (vtype, arr_type)
        self.alignment = int(self.kv.get("general.alignment", 32))
        infos = []
        for _ in range(n_tensors):
            name = self._str()
            nd = self._u("<I")
            ne = [self._u("<Q") for _ in range(nd)]
            qtype = GGMLType(self._u("<I"))
            off = self._u("<Q")
            infos.append((name, ne, qtype, off))
        self.data_offset = _align(self._pos, self.alignment)
        self.tensors = {}
        self.tensor_order = []
        for name, ne, qtype, off in infos:
            if off % self.alignment:
                raise ValueError("tensor %s: offset %d not aligned" % (name, off))
            nbytes = tensor_nbytes(ne, qtype)
            start = self.data_offset + off
            if start + nbytes > len(buf):
                raise ValueError("tensor %s: data past end of file" % name)
            self.tensors[name] = (ne, qtype, buf[start:start + nbytes])
            self.tensor_order.append(name)

    def _u(self, fmt):
        v = struct.unpack_from(fmt, self._buf, self._pos)[0]
        self._pos += struct.calcsize(fmt)
        return v

    def _str(self):
        n = self._u("<Q")
        s = self._buf[self._pos:self._pos + n]
        if len(s) != n:
            raise ValueError("string past end of file")
        self._pos += n
        return s.decode("utf-8", errors="surrogateescape")

    def _value(self, vtype):
        if vtype == GGUFValueType.STRING:
            return self._str(), None
        if vtype == GGUFValueType.ARRAY:
            at = GGUFValueType(self._u("<I"))
            n = self._u("<Q")
            if at == GGUFValueType.STRING:
                return [self._str() for _ in range(n)], at
            if at == GGUFValueType.ARRAY:
                return [self._value(GGUFValueType.ARRAY)[0] for _ in range(n)], at
            dt = np.dtype(_NP_DTYPE[at])
            a = np.frombuffer(self._buf, dtype=dt, count=n, offset=self._pos)
            self._pos += n * dt.itemsize
            if at == GGUFValueType.BOOL:
                return [bool(v) for v in a], at
            return a.tolist(), at
        v = self._u(_SCALAR_FMT[vtype])
        return v, None

    def tensor(self, name):
        """Dequantized float64 array with numpy shape = reversed ne."""
        ne, qtype, raw = self.tensors[name]
        n = 1
        for d in ne:
            n *= d
        return dequantize(raw, qtype, n).reshape(tuple(reversed(ne)))
