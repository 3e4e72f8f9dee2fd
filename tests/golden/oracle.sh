#!/usr/bin/env bash
# Self-tests of the test oracle: tools/gguflib.py against hand-made bytes and scalar transcriptions of ggml's
# reference quantizers (tests/ref/test_gguflib.py), and the float64 reference forward pass against a second,
# differently written PyTorch implementation (tests/ref/torch_check.py). See docs/testing.md.
set -eu
cd "$(dirname "$0")/../.."
PY=${PY:-/usr/bin/python3}
nice -n 10 "$PY" tests/ref/test_gguflib.py
nice -n 10 "$PY" tests/ref/torch_check.py
