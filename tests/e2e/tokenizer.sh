#!/usr/bin/env bash
# Tokenizers end to end: `octet tokenize` against independent references.
#  - SPM ("llama"): a SentencePiece BPE model trained here (byte fallback) vs SentencePiece's own encoder;
#  - byte-level BPE ("gpt2") with pre = gpt-2, llama-bpe, qwen2, default: a BPE vocabulary trained here vs the
#    Python reference in tests/tools/tok_bpe_ref.py (regexes run by Python's re, GPT-2's merge loop);
#  - arbitrary bytes (invalid UTF-8) must tokenize without error under both tokenizers.
set -euo pipefail
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PYTHONPATH=tests/tools${PYTHONPATH:+:$PYTHONPATH}

nice -n 10 "$PY" tests/tools/tok_spm_check.py "$OCTET" "$work"
nice -n 10 "$PY" tests/tools/tok_bpe_ref.py "$OCTET" "$work"

head -c 4096 /dev/urandom > "$work/random.bin"
printf 'ok \xff\xfe \xc3 \xe2\x96 \xf4\x90\x80\x80 \xed\xa0\x80 end' > "$work/bad.txt"
for m in "$work/spm.gguf" "$work/bpe-llama-bpe.gguf" "$work/bpe-default.gguf"; do
    for f in "$work/random.bin" "$work/bad.txt"; do
        out=$("$OCTET" tokenize -m "$m" -f "$f")
        [ -n "$out" ] || { echo "no tokens for $f with $m"; exit 1; }
    done
done
echo "tokenizer e2e: ok"
