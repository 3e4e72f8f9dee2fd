#!/usr/bin/env bash
# octet chat-template: a Hugging Face checkpoint (tests/tools/make_hf_checkpoint.py) whose tokenizer_config.json
# carries the real Qwen3 / Gemma 3 chat templates, converted with `octet convert`; the template stored in the GGUF
# renders each conversation of tests/data/templates/conversations exactly as tests/data/templates/expected/ (Python
# Jinja2 as transformers runs it) when the template does not use bos_token/eos_token (Qwen3), and a conversation
# the template refuses (Gemma 3: roles must alternate) exits 1 with the template line and raise_exception's
# message. A model without a template, a missing or malformed conversation file: exit 1 with a message.
# octet serve with the converted models: a chat request with tools is rendered as expected/ (--log-prompts), a
# refused conversation is a 400 answer naming the template line.
# Env: OCTET (default ./octet), PY (default /usr/bin/python3).
set -u
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
D=tests/data/templates
if [ ! -x "$OCTET" ]; then echo "FAIL $OCTET not built"; exit 1; fi

# checkpoint_with TEMPLATE OUT.gguf
checkpoint_with() {
    local ck=$W/ck-$(basename "$1" .jinja)
    "$PY" tests/tools/make_hf_checkpoint.py -o "$ck" --tokenizer bpe-qwen2 --arch qwen2 --vocab 320 --dim 32 \
        --layers 1 --heads 2 --ff 64 >/dev/null || return 1
    "$PY" - "$ck/tokenizer_config.json" "$1" <<'PYEOF' || return 1
import json, sys
p, t = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["chat_template"] = open(t, encoding="utf-8", newline="").read()
json.dump(c, open(p, "w"), ensure_ascii=False)
PYEOF
    timeout 120 "$OCTET" convert "$ck" "$2" -q >/dev/null 2>&1
}

if ! checkpoint_with $D/qwen3.jinja "$W/qwen3.gguf"; then echo "FAIL cannot make the qwen3 checkpoint"; exit 1; fi
n=0
for c in $D/conversations/*.json; do
    b=$(basename "$c" .json)
    exp=$D/expected/qwen3__$b
    if [ -f "$exp.txt" ]; then
        if ! timeout 30 "$OCTET" chat-template -m "$W/qwen3.gguf" -f "$c" >"$W/out" 2>"$W/err"; then
            echo "FAIL qwen3 $b: exit $? $(head -c 300 "$W/err")"; fail=1
        elif ! cmp -s "$W/out" "$exp.txt"; then
            echo "FAIL qwen3 $b: differs from $exp.txt"; diff "$W/out" "$exp.txt" | head -10; fail=1
        fi
    else
        timeout 30 "$OCTET" chat-template -m "$W/qwen3.gguf" -f "$c" >"$W/out" 2>"$W/err"
        rc=$?
        if [ $rc -ne 1 ] || ! grep -q "chat template line" "$W/err"; then
            echo "FAIL qwen3 $b: the reference refuses it; octet exit $rc: $(head -c 300 "$W/err")"; fail=1
        fi
    fi
    n=$((n+1))
done
echo "qwen3: $n conversations through the converted model"

if checkpoint_with $D/gemma3.jinja "$W/gemma3.gguf"; then
    timeout 30 "$OCTET" chat-template -m "$W/gemma3.gguf" -f $D/conversations/11_not_alternating.json >"$W/out" 2>"$W/err"
    rc=$?
    if [ $rc -ne 1 ] || ! grep -q "chat template line 19: raise_exception: Conversation roles must alternate" "$W/err" || [ -s "$W/out" ]; then
        echo "FAIL gemma3 refusal: exit $rc, stderr: $(cat "$W/err")"; fail=1
    fi
    # the model's vocabulary gives bos_token: here "<|begin_of_text|>" (the checkpoint's), not Gemma's "<bos>"
    timeout 30 "$OCTET" chat-template -m "$W/gemma3.gguf" -f $D/conversations/01_system_user.json >"$W/out" 2>"$W/err"
    if ! sed 's/^<bos>/<|begin_of_text|>/' $D/expected/gemma3__01_system_user.txt | cmp -s - "$W/out"; then
        echo "FAIL gemma3 01_system_user with the model's BOS: $(head -c 300 "$W/out")"; fail=1
    fi
else
    echo "FAIL cannot make the gemma3 checkpoint"; fail=1
fi

# no template in the file; --template supplies one
printf '{"messages": [{"role": "user", "content": "hi"}]}' >"$W/c.json"
timeout 30 "$OCTET" chat-template -m models/octet-kjv.gguf -f "$W/c.json" >"$W/out" 2>"$W/err"
rc=$?
if [ $rc -ne 1 ] || ! grep -q "no tokenizer.chat_template" "$W/err"; then echo "FAIL no template: exit $rc"; fail=1; fi
timeout 30 "$OCTET" chat-template -m models/octet-kjv.gguf -f "$W/c.json" --template $D/qwen3.jinja >"$W/out" 2>"$W/err"
if [ "$(cat "$W/out")" != "$(printf '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant')" ]; then
    echo "FAIL --template: $(cat "$W/out" "$W/err")"; fail=1
fi
# bad conversation files
printf '{"messages": [' >"$W/bad.json"
for f in "$W/bad.json" "$W/missing.json"; do
    timeout 30 "$OCTET" chat-template -m "$W/qwen3.gguf" -f "$f" >"$W/out" 2>"$W/err"
    rc=$?
    if [ $rc -ne 1 ] || [ ! -s "$W/err" ]; then echo "FAIL bad conversation $f: exit $rc"; fail=1; fi
done
timeout 30 "$OCTET" chat-template -m "$W/qwen3.gguf" >/dev/null 2>&1
if [ $? -ne 2 ]; then echo "FAIL no -f: not a usage error"; fail=1; fi

# octet serve renders chat requests with the model's template (--log-prompts shows the prompt), and answers 400
# naming the template line when the template refuses a conversation
# serve_start MODEL LOG: sets SPID and PORT
serve_start() {
    "$OCTET" serve -m "$1" --port 0 --log-prompts >"$2" 2>&1 &
    SPID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$2" | grep -o '[0-9]*$')
        [ -n "$PORT" ] && grep -q "ready" "$2" && return 0
        sleep 0.1
    done
    return 1
}
if command -v curl >/dev/null; then
    if serve_start "$W/qwen3.gguf" "$W/serve.log"; then
        "$PY" -c 'import json,sys; b=json.load(open(sys.argv[1])); b["max_tokens"]=1; print(json.dumps(b))' \
            $D/conversations/05_tools.json >"$W/req.json"
        code=$(curl -s -H "Content-Type: application/json" -o "$W/resp" -w '%{http_code}' "http://127.0.0.1:$PORT/v1/chat/completions" -d @"$W/req.json")
        kill $SPID; wait $SPID 2>/dev/null
        "$PY" - "$W/serve.log" $D/expected/qwen3__05_tools.txt <<'PYEOF' || fail=1
import sys
log = open(sys.argv[1], encoding="utf-8").read()
want = open(sys.argv[2], encoding="utf-8").read()
head = "octet serve: prompt (%d bytes):\n" % len(want.encode())
if head + want + "\n" not in log:
    print("FAIL serve: the logged prompt is not the expected rendering"); sys.exit(1)
PYEOF
        [ "$code" = 200 ] || { echo "FAIL serve: chat request with tools answered $code: $(head -c 300 "$W/resp")"; fail=1; }
        grep -q "chat format jinja" "$W/serve.log" || { echo "FAIL serve: template not in use"; fail=1; }
    else
        echo "FAIL serve did not start: $(cat "$W/serve.log")"; fail=1; kill $SPID 2>/dev/null
    fi
    if serve_start "$W/gemma3.gguf" "$W/serve2.log"; then
        code=$(curl -s -H "Content-Type: application/json" -o "$W/resp" -w '%{http_code}' "http://127.0.0.1:$PORT/v1/chat/completions" \
            -d @$D/conversations/11_not_alternating.json)
        kill $SPID; wait $SPID 2>/dev/null
        if [ "$code" != 400 ] || ! grep -q 'chat template line 19: raise_exception: Conversation roles must alternate' "$W/resp"; then
            echo "FAIL serve: a refused conversation answered $code: $(head -c 300 "$W/resp")"; fail=1
        fi
    else
        echo "FAIL serve did not start: $(cat "$W/serve2.log")"; fail=1; kill $SPID 2>/dev/null
    fi
fi

[ $fail -eq 0 ] && echo "PASS chat_template"
exit $fail
