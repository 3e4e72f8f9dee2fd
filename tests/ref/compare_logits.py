#!/usr/bin/python3
"""compare_logits.py REF.bin GOT.bin N_VOCAB TOL LABEL [SIM.bin] - compare two float32 LE logits files (rows of
N_VOCAB).

Prints one line: PASS/FAIL, the label, max|diff| / std(ref) and the tolerance. Exit 0 when the ratio is
<= TOL and the shapes match and every value is finite. With SIM.bin (the reference run with --act-quant ggml),
also prints max|GOT - SIM| / std(ref) for information: how much of the error is not explained by quantizing
activations to 8 bits (not checked: see docs/testing.md).
"""
import sys

import numpy as np


def main():
    ref_p, got_p, nv, tol, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    ref = np.fromfile(ref_p, dtype="<f4").astype(np.float64)
    try:
        got = np.fromfile(got_p, dtype="<f4").astype(np.float64)
    except OSError:
        got = np.zeros(0)
    if ref.size == 0 or ref.size % nv or got.size != ref.size or not np.all(np.isfinite(got)):
        print("FAIL %-44s shape/finite mismatch: ref %d values, got %d (n_vocab %d)" % (label, ref.size, got.size,
                                                                                    nv))
        return 1
    ratio = np.abs(ref - got).max() / ref.std()
    ok = ratio <= tol
    extra = ""
    if len(sys.argv) > 6:
        sim = np.fromfile(sys.argv[6], dtype="<f4").astype(np.float64)
        if sim.size == got.size:
            extra = "  [vs act-quant sim %.1e]" % (np.abs(sim - got).max() / ref.std())
    print("%s %-44s max|diff|/std = %.3e  (tol %.0e)%s" % ("PASS" if ok else "FAIL", label, ratio, tol, extra))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
