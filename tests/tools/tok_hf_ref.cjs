// tok_hf_ref.cjs - token ids from transformers.js (npm @lenml/tokenizers, the JS port of Hugging Face's
// tokenizers) for each line of a JSONL file of strings: one line of comma-separated ids per input line.
// Usage: node tok_hf_ref.cjs NODE_MODULES_DIR TOKENIZER_DIR CORPUS.jsonl [FLAGS_OUT] > ids.txt
// FLAGS_OUT gets one line per string: "cn" when the string holds a codepoint this node's Unicode tables call
// unassigned (\p{Cn}: a node older than the UCD octet's tables come from), else "-"; the first line is
// "unicode X" (process.versions.unicode).
// No special tokens are added (add_special_tokens: false): the comparison is of the tokenization itself;
// special-token text in the strings is still recognised, as octet does by default.
"use strict";
const fs = require("fs");
const path = require("path");
const [nm, tokdir, corpus, flagsOut] = process.argv.slice(2);
const { TokenizerLoader } = require(path.join(path.resolve(nm), "@lenml/tokenizers"));
const tok = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(fs.readFileSync(path.join(tokdir, "tokenizer.json"), "utf8")),
  tokenizerConfig: JSON.parse(fs.readFileSync(path.join(tokdir, "tokenizer_config.json"), "utf8")),
});
const out = [];
const flags = ["unicode " + process.versions.unicode];
for (const line of fs.readFileSync(corpus, "utf8").split("\n")) {
  if (line === "") continue;
  const s = JSON.parse(line);
  out.push(tok.encode(s, { add_special_tokens: false }).join(","));
  flags.push(/\p{Cn}/u.test(s) ? "cn" : "-");
}
if (flagsOut) fs.writeFileSync(flagsOut, flags.join("\n") + "\n");
process.stdout.write(out.join("\n") + "\n");
