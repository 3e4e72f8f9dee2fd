#!/usr/bin/python3
"""test_gguflib.py - checks of tools/gguflib.py against hand-computed bytes and loop-by-loop transcriptions of
the published ggml reference algorithms (scalar float32 arithmetic, one weight at a time), which the vectorised
numpy code must match bit for bit. Exit status 0 when all pass.
"""
import os
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import gguflib as G  # noqa: E402

F = np.float32
fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print("FAIL", what)
    else:
        print("ok  ", what)


def h16(v):
    return int(np.array(v, np.float32).astype(np.float16).view(np.uint16))


# ---- scalar transcriptions of ggml's quantize_row_*_ref (C semantics: float32 ops, truncating casts) ----------
def c_trunc(v):
    return int(v)  # python int() truncates toward zero like C's float->int conversion


def c_roundf(v):
    v = float(v)
    return int(np.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)


def ref_q8_0(x):
    out = b""
    for blk in x.reshape(-1, 32):
        amax = F(0)
        for v in blk:
            amax = max(amax, abs(F(v)))
        d = F(amax / F(127))
        idv = F(F(1) / d) if d != 0 else F(0)
        out += struct.pack("<H", h16(d)) + bytes((c_roundf(F(F(v) * idv)) & 0xFF) for v in blk)
    return out


def _absmax_signed(blk):
    amax, mx = F(0), F(0)
    for v in blk:
        if amax < abs(F(v)):
            amax, mx = abs(F(v)), F(v)
    return mx


def ref_q4_0(x):
    out = b""
    for blk in x.reshape(-1, 32):
        d = F(_absmax_signed(blk) / F(-8))
        idv = F(F(1) / d) if d != 0 else F(0)
        qs = []
        for j in range(16):
            a = min(15, c_trunc(F(F(F(blk[j]) * idv) + F(8.5))))
            b = min(15, c_trunc(F(F(F(blk[j + 16]) * idv) + F(8.5))))
            qs.append(a | (b << 4))
        out += struct.pack("<H", h16(d)) + bytes(qs)
    return out


def ref_q4_1(x):
    out = b""
    for blk in x.reshape(-1, 32):
        mn, mx = F(min(blk)), F(max(blk))
        d = F(F(mx - mn) / F(15))
        idv = F(F(1) / d) if d != 0 else F(0)
        qs = []
        for j in range(16):
            a = min(15, c_trunc(F(F(F(F(blk[j]) - mn) * idv) + F(0.5))))
            b = min(15, c_trunc(F(F(F(F(blk[j + 16]) - mn) * idv) + F(0.5))))
            qs.append(a | (b << 4))
        out += struct.pack("<HH", h16(d), h16(mn)) + bytes(qs)
    return out


def ref_q5_0(x):
    out = b""
    for blk in x.reshape(-1, 32):
        d = F(_absmax_signed(blk) / F(-16))
        idv = F(F(1) / d) if d != 0 else F(0)
        qs, qh = [], 0
        for j in range(16):
            a = min(31, c_trunc(F(F(F(blk[j]) * idv) + F(16.5))))
            b = min(31, c_trunc(F(F(F(blk[j + 16]) * idv) + F(16.5))))
            qs.append((a & 15) | ((b & 15) << 4))
            qh |= ((a & 0x10) >> 4) << j
            qh |= ((b & 0x10) >> 4) << (j + 16)
        out += struct.pack("<HI", h16(d), qh) + bytes(qs)
    return out


def ref_q5_1(x):
    out = b""
    for blk in x.reshape(-1, 32):
        mn, mx = F(min(blk)), F(max(blk))
        d = F(F(mx - mn) / F(31))
        idv = F(F(1) / d) if d != 0 else F(0)
        qs, qh = [], 0
        for j in range(16):
            a = c_trunc(F(F(F(F(blk[j]) - mn) * idv) + F(0.5))) & 0xFF
            b = c_trunc(F(F(F(F(blk[j + 16]) - mn) * idv) + F(0.5))) & 0xFF
            qs.append((a & 15) | ((b & 15) << 4))
            qh |= ((a & 0x10) >> 4) << j
            qh |= ((b & 0x10) >> 4) << (j + 16)
        out += struct.pack("<HHI", h16(d), h16(mn), qh) + bytes(qs)
    return out


# ---- scalar transcriptions of the published K-quant dequantizers (dequantize_row_q4_K / _q6_K) -------------
def f16(b, o):
    return float(np.frombuffer(b[o:o + 2], "<f2")[0])


def ref_deq_q4_k(raw):
    y = []
    for o in range(0, len(raw), 144):
        b = raw[o:o + 144]
        d, dmin, sc, q = f16(b, 0), f16(b, 2), b[4:16], b[16:144]

        def scale_min(j):
            if j < 4:
                return sc[j] & 63, sc[j + 4] & 63
            return (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4), (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4)
        is_, qo = 0, 0
        for _ in range(4):
            s1, m1 = scale_min(is_)
            s2, m2 = scale_min(is_ + 1)
            y += [d * s1 * (q[qo + l] & 0xF) - dmin * m1 for l in range(32)]
            y += [d * s2 * (q[qo + l] >> 4) - dmin * m2 for l in range(32)]
            qo += 32
            is_ += 2
    return np.array(y)


def ref_deq_q6_k(raw):
    y = []
    for o in range(0, len(raw), 210):
        b = raw[o:o + 210]
        ql, qh, sc, d = b[0:128], b[128:192], np.frombuffer(b[192:208], np.int8), f16(b, 208)
        blk = [0.0] * 256
        for n in range(2):
            for l in range(32):
                i = l // 16
                L, H, S = 64 * n, 32 * n, 8 * n
                q1 = ((ql[L + l] & 0xF) | (((qh[H + l] >> 0) & 3) << 4)) - 32
                q2 = ((ql[L + l + 32] & 0xF) | (((qh[H + l] >> 2) & 3) << 4)) - 32
                q3 = ((ql[L + l] >> 4) | (((qh[H + l] >> 4) & 3) << 4)) - 32
                q4 = ((ql[L + l + 32] >> 4) | (((qh[H + l] >> 6) & 3) << 4)) - 32
                blk[128 * n + l] = d * sc[S + i] * q1
                blk[128 * n + l + 32] = d * sc[S + i + 2] * q2
                blk[128 * n + l + 64] = d * sc[S + i + 4] * q3
                blk[128 * n + l + 96] = d * sc[S + i + 6] * q4
        y += blk
    return np.array(y)


def main():
    rng = np.random.default_rng(7)

    # 1. hand-computed blocks
    x = np.zeros(32, F)
    x[:6] = [127, 2.5, -2.5, 0.5, -0.5, 1.5]  # d = 1: roundf ties go away from zero (np.round would not)
    want = struct.pack("<H", 0x3C00) + bytes([127, 3, 253, 1, 255, 2] + [0] * 26)
    check(G.quantize(x, G.GGMLType.Q8_0) == want, "Q8_0 hand block (roundf ties away from zero)")
    x = np.zeros(32, F)
    x[:6] = [-8, 7, 0.5, -0.5, 3.2, 7.6]  # max = -8 -> d = 1, q = min(15, trunc(x + 8.5))
    q = [0, 15, 9, 8, 11, 15] + [8] * 26
    want = struct.pack("<H", 0x3C00) + bytes(q[j] | (q[j + 16] << 4) for j in range(16))
    check(G.quantize(x, G.GGMLType.Q4_0) == want, "Q4_0 hand block")
    x = np.zeros(32, F)
    x[0], x[1] = 8, -8  # first of equal |v| wins: max = 8, d = -1
    check(G.quantize(x, G.GGMLType.Q4_0)[:4] == struct.pack("<H", 0xBC00) + bytes([0 | (8 << 4), 15 | (8 << 4)]),
          "Q4_0 absmax tie: first element wins")
    check(G.quantize(np.zeros(32, F), G.GGMLType.Q4_0)[:2] == struct.pack("<H", 0x8000),
          "Q4_0 all-zero block: d = 0/-8 = -0.0 (fp16 0x8000), as the reference computes")

    # 2. vectorised quantizers == scalar transcriptions, random and awkward inputs
    cases = [rng.standard_normal(32 * 64).astype(F),
             (rng.integers(-8, 8, 32 * 16) * 0.25).astype(F),           # many exact ties
             np.concatenate([np.zeros(32), -np.zeros(32), np.full(32, 3.0), np.full(32, -1e-30)]).astype(F),
             (rng.standard_normal(32 * 16) * 1e4).astype(F)]
    for name, ref in (("Q8_0", ref_q8_0), ("Q4_0", ref_q4_0), ("Q4_1", ref_q4_1), ("Q5_0", ref_q5_0),
                      ("Q5_1", ref_q5_1)):
        ok = all(G.quantize(c, G.GGMLType[name]) == ref(c) for c in cases)
        check(ok, "%s vectorised == scalar transcription of quantize_row_%s_ref" % (name, name.lower()))

    # 3. dequantizers: 32-blocks vs hand formula, K-quants vs scalar transcriptions
    x = rng.standard_normal(256 * 4).astype(F)
    for name, tol in (("Q8_0", 0.02), ("Q4_0", 0.35), ("Q4_1", 0.25), ("Q5_0", 0.15), ("Q5_1", 0.12),
                      ("Q4_K", 0.3), ("Q6_K", 0.08), ("F16", 2e-3), ("BF16", 1e-2)):
        raw = G.quantize(x, G.GGMLType[name])
        y = G.dequantize(raw, G.GGMLType[name], x.size)
        check(np.abs(y - x).max() < tol, "%s round trip max err %.4f < %g" % (name, np.abs(y - x).max(), tol))
    for name, ref in (("Q4_K", ref_deq_q4_k), ("Q6_K", ref_deq_q6_k)):
        raw = bytes(rng.integers(0, 256, (BL := G.BLOCK[G.GGMLType[name]][1]) * 3, dtype=np.uint8))
        raw = bytearray(raw)
        for o in range(0, len(raw), BL):  # keep the fp16 scales finite
            for off in ((0, 2) if name == "Q4_K" else (208,)):
                raw[o + off:o + off + 2] = struct.pack("<H", h16(rng.uniform(-2, 2)))
        raw = bytes(raw)
        a = G.dequantize(raw, G.GGMLType[name], 768)
        check(np.array_equal(a, ref_deq_q4_k(raw) if name == "Q4_K" else ref_deq_q6_k(raw)),
              "%s dequantize of random bytes == scalar transcription" % name)
    raw = bytes([0x00, 0x3C, 1, 2, 3, 0xFF, 0xF0] + [0x21] * 15)  # Q5_0: d=1, qh=0xFF030201
    y = G.dequantize(raw, G.GGMLType.Q5_0, 32)
    qh = 0xFF030201
    want = [(([0xF0] + [0x21] * 15)[j % 16] >> (4 * (j >= 16)) & 15 | ((qh >> j) & 1) << 4) - 16 for j in range(32)]
    check(list(y) == want, "Q5_0 hand bytes decode (qh bit j = 5th bit of weight j)")

    # 4. file bytes: a GGUF written by hand vs the writer
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t.gguf")
        w = G.GGUFWriter(p)
        w.add_kv("general.architecture", "llama")
        w.add_kv("n", 7)
        w.add_kv("l", [1, -2])
        w.add_tensor("w", np.array([[1.0, 2.0], [3.0, 4.0]], F))
        w.write()
        s = lambda t: struct.pack("<Q", len(t)) + t.encode()  # noqa: E731
        head = (b"GGUF" + struct.pack("<IQQ", 3, 1, 3)
                + s("general.architecture") + struct.pack("<I", 8) + s("llama")
                + s("n") + struct.pack("<II", 4, 7)
                + s("l") + struct.pack("<IIQii", 9, 5, 2, 1, -2)
                + s("w") + struct.pack("<IQQIQ", 2, 2, 2, 0, 0))
        want = head + b"\0" * (-len(head) % 32) + struct.pack("<4f", 1, 2, 3, 4) + b"\0" * 16
        got = open(p, "rb").read()
        check(got == want, "writer bytes == hand-assembled GGUF v3 (%d bytes)" % len(want))
        r = G.GGUFReader(p)
        check(r.kv == {"general.architecture": "llama", "n": 7, "l": [1, -2]} and r.tensors["w"][0] == [2, 2]
              and np.array_equal(r.tensor("w"), [[1, 2], [3, 4]]), "reader parses it back")
        w = G.GGUFWriter(p, alignment=64)
        w.add_kv("nested", [[1, 2], ["a", "b"], []])
        w.add_kv("u8", [1, 255], G.GGUFValueType.ARRAY, arr_type=G.GGUFValueType.UINT8)
        w.add_kv("f64", 0.1, G.GGUFValueType.FLOAT64)
        w.add_kv("big", 2**40)
        w.add_tensor("a", np.arange(32, dtype=F), G.GGMLType.Q8_0)
        w.add_tensor("b", np.ones((2, 256), F), G.GGMLType.Q6_K)
        w.write()
        r = G.GGUFReader(p)
        check(r.kv["nested"] == [[1, 2], ["a", "b"], []] and r.kv["u8"] == [1, 255] and r.kv["f64"] == 0.1
              and r.kv["big"] == 2**40 and r.kv_types["big"][0] == G.GGUFValueType.INT64
              and r.kv["general.alignment"] == 64 and r.data_offset % 64 == 0
              and np.allclose(r.tensor("b"), 1, atol=0.02), "nested arrays, forced types, alignment 64")

    print("%d failed" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
