#!/usr/bin/python3
"""tok_spm_check.py - end-to-end check of the SPM ("llama") tokenizer against SentencePiece itself.

Trains a small SentencePiece BPE model (byte fallback, ~1000 pieces) on the start of the KJV corpus, writes it
into a tiny llama GGUF, and compares `octet tokenize` with SentencePiece's encode (plus BOS) on corpus lines and
hand-picked edge cases. SentencePiece is trained with the identity normalizer and without whitespace
collapsing, so its input is the raw text, as in llama.cpp (llama.cpp does not normalize).
Usage: tok_spm_check.py OCTET WORKDIR
"""
import io
import os
import sys

import sentencepiece as spm

from tok_common import corpus_text, edge_strings, octet_ids, write_model


def main():
    octet, work = sys.argv[1], sys.argv[2]
    text = corpus_text()
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text.splitlines()), model_writer=model, model_type="bpe", vocab_size=1000,
        byte_fallback=True, character_coverage=1.0, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=True, allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    n = sp.get_piece_size()
    tokens, scores, types = [], [], []
    for i in range(n):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 5 if sp.is_unused(i)
                     else 6 if sp.is_byte(i) else 1)
    path = os.path.join(work, "spm.gguf")
    from gguflib import GGUFValueType as V
    write_model(path, [
        ("tokenizer.ggml.model", "llama"),
        ("tokenizer.ggml.tokens", (tokens, V.ARRAY, V.STRING)),
        ("tokenizer.ggml.scores", (scores, V.ARRAY, V.FLOAT32)),
        ("tokenizer.ggml.token_type", (types, V.ARRAY, V.INT32)),
        ("tokenizer.ggml.bos_token_id", (1, V.UINT32)),
        ("tokenizer.ggml.eos_token_id", (2, V.UINT32)),
        ("tokenizer.ggml.unknown_token_id", (0, V.UINT32)),
        ("tokenizer.ggml.add_bos_token", True),
        ("tokenizer.ggml.add_eos_token", False),
    ], n)

    lines = text.splitlines()
    cases = edge_strings() + lines[:: max(1, len(lines) // 40)][:40] + ["\n".join(lines[100:110])]
    fails = 0
    for s in cases:
        want = [1] + sp.encode(s)
        got = octet_ids(octet, path, s)
        if got != want:
            fails += 1
            if fails <= 5:
                print("MISMATCH %r\n  octet:         %s\n  sentencepiece: %s" % (s[:80], got[:40], want[:40]))
    # without BOS, and with parse-special: "<s>" becomes the control token, the text after it gets "▁"
    if octet_ids(octet, path, "hello", ["--no-bos"]) != sp.encode("hello"):
        fails += 1
        print("MISMATCH --no-bos")
    got = octet_ids(octet, path, "<s>And God", ["--parse-special"])
    if got != [1, 1] + sp.encode("And God"):
        fails += 1
        print("MISMATCH --parse-special: %s" % got)
    print("spm: %d cases, %d mismatches (vocab %d)" % (len(cases) + 2, fails, n))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
