#!/usr/bin/python3
"""compare_logits.py REF.bin GOT.bin N_VOCAB TOL LABEL - compare two float32 LE logits files (rows of N_VOCAB).

Prints one line: PASS/FAIL, the label, max|diff| / std(ref) and the tolerance. Exit 0 when the ratio is
<= TOL and the shapes match and every value is finite.
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
    print("%s %-44s max|diff|/std = %.3e  (tol %.0e)" % ("PASS" if ok else "FAIL", label, ratio, tol))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
