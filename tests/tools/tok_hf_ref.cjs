// tok_hf_ref.cjs - token ids from transformers.js (npm @lenml/tokenizers, the JS port of Hugging Face's
// tokenizers) for each line of a JSONL file of strings: one line of comma-separated ids per input line.
// Usage: node tok_hf_ref.cjs NODE_MODULES_DIR TOKENIZER_DIR CORPUS.jsonl > ids.txt
// No special tokens are added (add_special_tokens: false): the comparison is of the tokenization itself;
// special-token text in the strings is still recognised, as octet does by default.
"use strict";
const fs = require("fs");
const path = require("path");
const [nm, tokdir, corpus] = process.argv.slice(2);
const { TokenizerLoader } = require(path.join(path.resolve(nm), "@lenml/tokenizers"));
const tok = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(fs.readFileSync(path.join(tokdir, "tokenizer.json"), "utf8")),
  tokenizerConfig: JSON.parse(fs.readFileSync(path.join(tokdir, "tokenizer_config.json"), "utf8")),
});
const out = [];
for (const line of fs.readFileSync(corpus, "utf8").split("\n")) {
  if (line === "") continue;
  const s = JSON.parse(line);
  out.push(tok.encode(s, { add_special_tokens: false }).join(","));
}
process.stdout.write(out.join("\n") + "\n");
