// The official OpenAI Node.js SDK (npm `openai`) against `octet serve`: the real client, not our reading of the API.
// usage: node server_sdk.mjs URL API_KEY  (NODE_PATH / import from the npm cache folder set by server_sdk.sh)
import OpenAI from "openai";

const [url, key] = process.argv.slice(2);
const client = new OpenAI({ baseURL: url + "/v1", apiKey: key, timeout: 60000, maxRetries: 0 });
let checks = 0;
function check(cond, what) {
  checks++;
  if (!cond) {
    console.log("FAIL: " + what);
    process.exit(1);
  }
}

// models.list / models.retrieve, and a 404 for an unknown id
const list = await client.models.list();
const id = list.data[0].id;
const m = await client.models.retrieve(id);
check(m.id === id && m.object === "model", "models.retrieve: " + JSON.stringify(m));
let status = 0;
try {
  await client.models.retrieve("no-such-model");
} catch (e) {
  status = e.status;
  check(e instanceof OpenAI.NotFoundError, "an unknown model is NotFoundError");
}
check(status === 404, "models.retrieve of an unknown id: 404");

// chat with logprobs, streamed and not
const msgs = [{ role: "user", content: "Who made the heaven and the earth?" }];
const chat = await client.chat.completions.create({ model: id, messages: msgs, max_tokens: 6, temperature: 0,
                                                    logprobs: true, top_logprobs: 3 });
const lp = chat.choices[0].logprobs.content;
check(lp.length > 0 && lp.map((t) => t.token).join("") === chat.choices[0].message.content, "chat logprobs spell the reply");
check(lp.every((t) => t.top_logprobs.length === 3 && t.logprob <= 0 && Array.isArray(t.bytes)), "chat top_logprobs");
const stream = await client.chat.completions.create({ model: id, messages: msgs, max_tokens: 6, temperature: 0,
                                                      logprobs: true, top_logprobs: 3, stream: true,
                                                      stream_options: { include_usage: true } });
let text = "", slp = [], usage = null;
for await (const ch of stream) {
  if (ch.usage) usage = ch.usage;
  if (!ch.choices.length) continue;
  text += ch.choices[0].delta.content ?? "";
  if (ch.choices[0].logprobs) slp = slp.concat(ch.choices[0].logprobs.content);
}
check(text === chat.choices[0].message.content, "streamed chat text");
check(JSON.stringify(slp) === JSON.stringify(lp), "streamed chat logprobs equal the non-streamed ones");
check(usage && usage.prompt_tokens_details.cached_tokens > 0, "the repeated prompt was served from the cache: " +
      JSON.stringify(usage));

// completions with the legacy logprobs and echo
const c = await client.completions.create({ model: id, prompt: "And God said", max_tokens: 4, temperature: 0,
                                            logprobs: 2, echo: true });
const cl = c.choices[0].logprobs;
check(c.choices[0].text.startsWith("And God said"), "echo");
check(cl.tokens.length === cl.token_logprobs.length && cl.token_logprobs[0] === null, "legacy logprobs");
check(cl.top_logprobs.slice(1).every((o) => Object.keys(o).length >= 1), "legacy top_logprobs");

// embeddings: the SDK asks for base64 by default and decodes it; equal to the float encoding
const e1 = await client.embeddings.create({ model: id, input: ["In the beginning", "Blessed are the meek"] });
const e2 = await client.embeddings.create({ model: id, input: ["In the beginning", "Blessed are the meek"],
                                            encoding_format: "float" });
check(e1.data.length === 2 && e1.data[0].embedding.length === e2.data[0].embedding.length, "embeddings shape");
for (let i = 0; i < 2; i++) {
  const a = e1.data[i].embedding, b = e2.data[i].embedding;
  check(a.every((x, k) => Math.fround(x) === Math.fround(b[k])), "base64 (SDK default) equals float, input " + i);
  const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  check(Math.abs(norm - 1) < 1e-5, "unit norm");
}
check(e1.usage.prompt_tokens > 0, "embeddings usage");
console.log(`openai SDK: models.retrieve (200 and 404), chat logprobs (streamed and not, cached_tokens), completions ` +
            `logprobs with echo, embeddings (base64 and float): ${checks} checks passed`);
