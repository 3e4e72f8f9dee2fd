#!/usr/bin/env bash
# Constrained decoding end to end on the bundled model: `octet run --json-schema` output parses as JSON and
# validates against the schema (tests/tools/json_schema_check.py: json.loads plus a validator of its own, not
# octet's converter) for several seeds and sampling settings; --grammar output matches the grammar's language
# (checked with a Python regular expression); a bad grammar or an unsupported schema keyword is a usage error
# naming it. Then `octet serve`: response_format json_schema (chat) and json_object, the `grammar` field
# (completions), and a 400 naming an unsupported keyword.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib/server_common.sh
CHECK=tests/tools/json_schema_check.py

cat > "$work/schema.json" <<'JSON'
{"type": "object",
 "properties": {"name": {"type": "string", "maxLength": 20},
                "age": {"type": "integer"},
                "tags": {"type": "array", "items": {"enum": ["psalm", "proverb", 7]}, "maxItems": 3},
                "born": {"type": "string", "format": "date"},
                "kin": {"$ref": "#/$defs/kin"}},
 "required": ["name", "age", "born"],
 "additionalProperties": false,
 "$defs": {"kin": {"type": "array", "maxItems": 2,
                   "items": {"type": "object", "properties": {"who": {"type": "string", "maxLength": 8},
                                                              "alive": {"type": "boolean"}},
                             "required": ["who"]}}}}
JSON
# the checker itself must refuse a document that breaks the schema
echo '{"name": "Ann", "age": 1.5, "born": "2020-01-01"}' > "$work/bad.json"
if "$PY" $CHECK "$work/schema.json" "$work/bad.json" >/dev/null; then echo "the checker accepted a bad document"; exit 1; fi

n=0
for seed in 1 2 3 4 5 6; do
    for opts in "--temp 0.8" "--temp 1.5 --top-k 0 --top-p 1 --min-p 0" "--temp 0"; do
        # shellcheck disable=SC2086
        "$OCTET" run -m "$MODEL" -p "And God said" -n 230 -s $seed $opts -t 2 --no-display-prompt \
            --json-schema-file "$work/schema.json" > "$work/out.txt" 2>"$work/err.txt"
        "$PY" $CHECK "$work/schema.json" "$work/out.txt" >/dev/null || {
            echo "seed $seed ($opts):"; "$PY" $CHECK "$work/schema.json" "$work/out.txt"; cat "$work/err.txt"; exit 1; }
        n=$((n + 1))
        [ "$opts" = "--temp 0" ] && break
    done
done
echo "octet run --json-schema: $n outputs valid under the schema"

# a GBNF grammar: a list of small sums
"$OCTET" run -m "$MODEL" -p "And God said" -n 60 -s 3 -t 2 --no-display-prompt \
    --grammar 'root ::= "[" item ("," item){1,3} "]"
item ::= [1-9] [0-9]? " "? [+*] " "? [0-9]' > "$work/g.txt" 2>/dev/null
"$PY" -c 'import re,sys; t=open(sys.argv[1]).read().strip("\n"); assert re.fullmatch(r"\[(?:[1-9][0-9]? ?[+*] ?[0-9])(?:,[1-9][0-9]? ?[+*] ?[0-9]){1,3}\]", t), t; print("octet run --grammar:", t)' "$work/g.txt"

# errors: usage (exit 2) with the position or the keyword
set +e
"$OCTET" run -m "$MODEL" -p x -n 1 --grammar 'root ::= "a" | foo' >/dev/null 2>"$work/e1.txt"; rc1=$?
"$OCTET" run -m "$MODEL" -p x -n 1 -j '{"type":"string","pattern":"a+"}' >/dev/null 2>"$work/e2.txt"; rc2=$?
set -e
[ $rc1 = 2 ] && grep -q "line 1:16: undefined rule 'foo'" "$work/e1.txt" || { echo "bad grammar: rc $rc1"; cat "$work/e1.txt"; exit 1; }
[ $rc2 = 2 ] && grep -q "unsupported keyword 'pattern'" "$work/e2.txt" || { echo "bad schema: rc $rc2"; cat "$work/e2.txt"; exit 1; }
echo "octet run: grammar and schema errors are usage errors naming the problem"

start_server -np 2 -c 256 -t 2
"$PY" - "$URL" "$work/schema.json" <<'PYEOF'
import json, sys, urllib.request, urllib.error
sys.path.insert(0, "tests/tools")
from json_schema_check import check
url, schema = sys.argv[1], json.load(open(sys.argv[2]))
def post(path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        r = urllib.request.urlopen(req, timeout=60)
        return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
msgs = [{"role": "user", "content": "Tell me of Abraham."}]
for seed in range(1, 9):
    st, j = post("/v1/chat/completions", {"messages": msgs, "seed": seed, "max_tokens": 200, "temperature": 0.9,
        "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": schema, "strict": True}}})
    assert st == 200, (st, j)
    text = j["choices"][0]["message"]["content"]
    r = check(schema, schema, json.loads(text))
    assert r is None and j["choices"][0]["finish_reason"] == "stop", (r, text, j)
print("server: response_format json_schema valid for 8 seeds, e.g.", text)
for seed in range(1, 4):
    st, j = post("/v1/chat/completions", {"messages": msgs, "seed": seed, "max_tokens": 200,
                                           "response_format": {"type": "json_object"}})
    assert st == 200, (st, j)
    text = j["choices"][0]["message"]["content"]
    if j["choices"][0]["finish_reason"] == "stop":
        assert isinstance(json.loads(text), dict), text
    else:  # cut by max_tokens: at least a prefix of an object
        assert text.lstrip().startswith("{"), text
print("server: response_format json_object gives an object, e.g.", text)
st, j = post("/v1/completions", {"prompt": "And God said", "max_tokens": 20, "seed": 5,
                                 "grammar": "root ::= (\"yea\" | \"nay\") (\", \" (\"yea\" | \"nay\"))*"})
import re  # finish "length" may cut the last item: a prefix of the language then
assert st == 200 and re.fullmatch(r"(yea|nay)(, (yea|nay))*" + ("" if j["choices"][0]["finish_reason"] == "stop"
                                  else r"(,( (y|ye|n|na)?)?)?"), j["choices"][0]["text"]), j
print("server: grammar field:", j["choices"][0]["text"])
st, j = post("/v1/chat/completions", {"messages": msgs, "response_format": {"type": "json_schema",
    "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}}}})
assert st == 400 and "'minimum'" in j["error"]["message"] and j["error"]["param"] == "response_format", (st, j)
print("server: unsupported keyword ->", st, j["error"]["message"])
st, j = post("/v1/completions", {"prompt": "x", "grammar": "root ::= root \"a\""})
assert st == 400 and "left recursion" in j["error"]["message"], (st, j)
st, j = post("/v1/completions", {"prompt": "x", "grammar": "root ::= \"a\"", "response_format": {"type": "json_object"}})
assert st == 400, (st, j)
print("server: grammar errors and conflicting constraints are 400")
PYEOF
stop_server
echo "grammar e2e: ok"
