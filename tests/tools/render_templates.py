#!/usr/bin/env python3
"""render_templates.py - the reference renderings of tests/data/templates/*.jinja for every conversation in
tests/data/templates/conversations/*.json, made with Python's Jinja2 set up exactly as Hugging Face transformers'
apply_chat_template sets it up (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, a
{% generation %} tag, tojson = json.dumps(ensure_ascii=False, ...), raise_exception, strftime_now). Written to
tests/data/templates/expected/TEMPLATE__CONVERSATION.txt, or .error with the message when the template refuses
the conversation; tests/unit/test_jinja.c renders the same pairs with octet's engine and compares byte for byte.

The variables are built as octet_chat_template_apply builds them (include/octet.h): bos_token and eos_token (from
TEMPLATE.tokens.json), tools = None, then every top-level key of the request body, then the keys of its
chat_template_kwargs object, then add_generation_prompt = True.

Usage: PYTHONPATH=DIR python3 tests/tools/render_templates.py
  Jinja2 3.1 must be importable (Debian: apt-get download python3-jinja2 python3-markupsafe and dpkg-deb -x
  them into a folder, then PYTHONPATH=FOLDER/usr/lib/python3/dist-packages).
"""
import json
import os
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "templates")


class Generation(Extension):
    """transformers' AssistantTracker without the tracking: {% generation %} renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def variables(toks, body):
    v = {"bos_token": toks.get("bos_token") or "", "eos_token": toks.get("eos_token") or "", "tools": None}
    v.update(body)
    if isinstance(body.get("chat_template_kwargs"), dict):
        v.update(body["chat_template_kwargs"])
    v["add_generation_prompt"] = True
    return v


def main():
    env = make_env()
    conv_dir = os.path.join(DATA, "conversations")
    out_dir = os.path.join(DATA, "expected")
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        os.unlink(os.path.join(out_dir, f))
    n = errors = 0
    for t in sorted(f for f in os.listdir(DATA) if f.endswith(".jinja")):
        base = t[:-len(".jinja")]
        with open(os.path.join(DATA, t), encoding="utf-8", newline="") as fh:
            src = fh.read()
        tok_file = os.path.join(DATA, base + ".tokens.json")
        toks = json.load(open(tok_file, encoding="utf-8")) if os.path.exists(tok_file) else {}
        tmpl = env.from_string(src)
        for c in sorted(f for f in os.listdir(conv_dir) if f.endswith(".json")):
            body = json.load(open(os.path.join(conv_dir, c), encoding="utf-8"))
            stem = os.path.join(out_dir, base + "__" + c[:-len(".json")])
            try:
                out = tmpl.render(**variables(toks, body))
                with open(stem + ".txt", "w", encoding="utf-8", newline="") as fh:
                    fh.write(out)
            except Exception as e:  # the template refused the conversation
                with open(stem + ".error", "w", encoding="utf-8") as fh:
                    fh.write(f"{type(e).__name__}: {e}\n")
                errors += 1
            n += 1
    print(f"{n} renderings ({errors} refused) in {out_dir}")


if __name__ == "__main__":
    sys.exit(main())
