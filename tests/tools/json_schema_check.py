#!/usr/bin/python3
"""json_schema_check.py SCHEMA_FILE [DOC_FILE]: validate a JSON document (stdin or DOC_FILE) against a JSON
Schema, independently of octet's converter: json.loads for the syntax, then a small validator written from the
JSON Schema 2020-12 validation spec for the keywords the converter supports (type, properties, required,
additionalProperties, enum, const, anyOf, oneOf, allOf, items, minItems, maxItems, minLength, maxLength, format
date/time/date-time/uuid, $ref within the document). Exit 0 and print "valid", or exit 1 with the reason."""
import json, re, sys

def resolve(root, ref):
    assert ref.startswith("#"), ref
    v = root
    for seg in [s for s in ref[1:].split("/") if s != ""]:
        seg = seg.replace("~1", "/").replace("~0", "~")
        v = v[int(seg)] if isinstance(v, list) else v[seg]
    return v

def is_type(x, t):
    return {"string": lambda: isinstance(x, str), "object": lambda: isinstance(x, dict),
            "array": lambda: isinstance(x, list), "boolean": lambda: isinstance(x, bool), "null": lambda: x is None,
            "number": lambda: isinstance(x, (int, float)) and not isinstance(x, bool),
            "integer": lambda: (isinstance(x, int) and not isinstance(x, bool)) or
                               (isinstance(x, float) and x.is_integer())}[t]()

FORMATS = {
    "date": r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])",
    "time": r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?",
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}
FORMATS["date-time"] = FORMATS["date"] + "T" + FORMATS["time"]

def check(root, s, x, path="$"):
    """None when x is valid under s, else a reason"""
    if s is True or s == {}: return None
    if s is False: return f"{path}: schema false"
    if "$ref" in s: return check(root, resolve(root, s["$ref"]), x, path)
    if "type" in s:
        ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(is_type(x, t) for t in ts): return f"{path}: not of type {ts}"
    if "enum" in s and not any(x == e and type(x) == type(e) or (x == e and not isinstance(x, bool) and
                                                                   not isinstance(e, bool)) for e in s["enum"]):
        return f"{path}: not in enum"
    if "const" in s and x != s["const"]: return f"{path}: not the const"
    for kw in ("anyOf", "oneOf"):
        if kw in s:
            ok = [check(root, b, x, path) is None for b in s[kw]]
            if kw == "anyOf" and not any(ok): return f"{path}: no anyOf branch"
            if kw == "oneOf" and sum(ok) != 1: return f"{path}: {sum(ok)} oneOf branches"
    for b in s.get("allOf", []):
        r = check(root, b, x, path)
        if r: return r
    if isinstance(x, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in x: return f"{path}: required '{k}' missing"
        for k, v in x.items():
            if k in props:
                r = check(root, props[k], v, f"{path}.{k}")
                if r: return r
            elif s.get("additionalProperties") is False: return f"{path}: additional property '{k}'"
            elif isinstance(s.get("additionalProperties"), dict):
                r = check(root, s["additionalProperties"], v, f"{path}.{k}")
                if r: return r
    if isinstance(x, list):
        if len(x) < s.get("minItems", 0): return f"{path}: fewer than minItems"
        if "maxItems" in s and len(x) > s["maxItems"]: return f"{path}: more than maxItems"
        if isinstance(s.get("items"), dict):
            for i, v in enumerate(x):
                r = check(root, s["items"], v, f"{path}[{i}]")
                if r: return r
    if isinstance(x, str):
        if len(x) < s.get("minLength", 0): return f"{path}: shorter than minLength"
        if "maxLength" in s and len(x) > s["maxLength"]: return f"{path}: longer than maxLength"
        if "format" in s and not re.fullmatch(FORMATS[s["format"]], x): return f"{path}: not a {s['format']}"
    return None

if __name__ == "__main__":
    schema = json.load(open(sys.argv[1]))
    text = open(sys.argv[2]).read() if len(sys.argv) > 2 else sys.stdin.read()
    try:
        doc = json.loads(text)
    except ValueError as e:
        print(f"not JSON: {e}: {text!r}")
        sys.exit(1)
    r = check(schema, schema, doc)
    if r:
        print(f"invalid: {r}: {text!r}")
        sys.exit(1)
    print("valid")
