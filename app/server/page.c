/*
 * page.c - the chat page served at GET / : one self-contained HTML file (no CDN, works offline) that keeps
 * the conversation in the browser and streams replies from /v1/chat/completions (stream: true), reading the
 * server-sent events with fetch and a stream reader. Kept as an array of lines because ISO C bounds the
 * length of a single string literal; joined once on first use.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const char *const LINES[] = {
    "<!doctype html>\n",
    "<html lang=\"en\">\n",
    "<head>\n",
    "<meta charset=\"utf-8\">\n",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    "<title>octet chat</title>\n",
    "<style>\n",
    "body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f6f6f4; color: #222; }\n",
    "main { max-width: 760px; margin: 0 auto; padding: 12px; display: flex; flex-direction: column; height: 100vh; box-sizing: border-box; }\n",
    "header { display: flex; gap: 8px; align-items: center; font-size: 13px; color: #666; flex-wrap: wrap; }\n",
    "header b { color: #222; font-size: 16px; }\n",
    "#log { flex: 1; overflow-y: auto; padding: 8px 0; }\n",
    ".msg { white-space: pre-wrap; padding: 8px 12px; margin: 6px 0; border-radius: 8px; }\n",
    ".user { background: #dde8f7; margin-left: 15%; }\n",
    ".assistant { background: #fff; border: 1px solid #ddd; margin-right: 15%; }\n",
    ".note { color: #777; font-size: 12px; text-align: center; }\n",
    ".error { background: #fbe3e3; }\n",
    "form { display: flex; gap: 8px; }\n",
    "textarea { flex: 1; font: inherit; padding: 8px; min-height: 3em; resize: vertical; }\n",
    "button { font: inherit; padding: 0 16px; }\n",
    "input { font: inherit; font-size: 12px; }\n",
    "</style>\n",
    "</head>\n",
    "<body>\n",
    "<main>\n",
    "<header><b>octet</b><span id=\"model\">...</span><span style=\"flex:1\"></span>\n",
    "<label>temperature <input id=\"temp\" type=\"number\" value=\"0.7\" min=\"0\" max=\"2\" step=\"0.1\" style=\"width:4em\"></label>\n",
    "<label>max tokens <input id=\"maxtok\" type=\"number\" value=\"256\" min=\"1\" style=\"width:5em\"></label>\n",
    "<label title=\"response_format: json_object (the reply is constrained to a JSON object)\"><input id=\"json\" type=\"checkbox\"> JSON</label>\n",
    "<label>API key <input id=\"key\" type=\"password\" style=\"width:8em\"></label>\n",
    "<button id=\"clear\" type=\"button\">clear</button></header>\n",
    "<div id=\"log\"></div>\n",
    "<form id=\"form\"><textarea id=\"prompt\" placeholder=\"Say something (Enter sends, Shift+Enter: new line)\"></textarea><button id=\"send\" type=\"submit\">Send</button></form>\n",
    "</main>\n",
    "<script>\n",
    "\"use strict\";\n",
    "const $ = id => document.getElementById(id);\n",
    "const log = $(\"log\"), form = $(\"form\"), input = $(\"prompt\"), send = $(\"send\");\n",
    "let history = [], busy = false, ctrl = null, maxtokTouched = false;\n",
    "function headers() {\n",
    "  const h = {\"Content-Type\": \"application/json\"}, k = $(\"key\").value;\n",
    "  if (k) h[\"Authorization\"] = \"Bearer \" + k;\n",
    "  return h;\n",
    "}\n",
    "function add(cls, text) {\n",
    "  const d = document.createElement(\"div\");\n",
    "  d.className = \"msg \" + cls; d.textContent = text; log.appendChild(d);\n",
    "  log.scrollTop = log.scrollHeight; return d;\n",
    "}\n",
    "/* the model's name; with a key required, again once one is typed. The default reply length leaves most of\n",
    "   the context to the conversation: a quarter of it, at most 256 tokens. */\n",
    "function loadModel() {\n",
    "  fetch(\"/v1/models\", {headers: headers()}).then(async r => {\n",
    "    if (r.status === 401) { $(\"model\").textContent = \"(type the API key)\"; return; }\n",
    "    const j = await r.json(), m = j.data[0];\n",
    "    $(\"model\").textContent = m.id + \" (\" + m.meta.chat_template + \" format, context \" + m.meta.n_ctx + \")\";\n",
    "    if (!maxtokTouched && m.meta.n_ctx) $(\"maxtok\").value = Math.max(16, Math.min(256, Math.floor(m.meta.n_ctx / 4)));\n",
    "  }).catch(() => {});\n",
    "}\n",
    "loadModel();\n",
    "$(\"key\").addEventListener(\"change\", loadModel);\n",
    "$(\"maxtok\").addEventListener(\"input\", () => { maxtokTouched = true; });\n",
    "$(\"clear\").onclick = () => { if (ctrl) ctrl.abort(); history = []; log.textContent = \"\"; };\n",
    "input.addEventListener(\"keydown\", e => {\n",
    "  if (e.key === \"Enter\" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }\n",
    "});\n",
    "/* one request; resolves to {reply, stopped}; throws {status, code, message} on an error answer */\n",
    "async function complete(out) {\n",
    "  const body = {messages: history, stream: true,\n",
    "    temperature: parseFloat($(\"temp\").value) || 0, max_tokens: parseInt($(\"maxtok\").value) || 256};\n",
    "  if ($(\"json\").checked) body.response_format = {type: \"json_object\"};\n",
    "  ctrl = new AbortController();\n",
    "  let reply = \"\";\n",
    "  try {\n",
    "    const r = await fetch(\"/v1/chat/completions\", {method: \"POST\", headers: headers(), body: JSON.stringify(body), signal: ctrl.signal});\n",
    "    if (!r.ok) {\n",
    "      let j = {}; try { j = await r.json(); } catch (e) {}\n",
    "      throw {status: r.status, code: j.error && j.error.code, message: j.error ? j.error.message : r.statusText};\n",
    "    }\n",
    "    const reader = r.body.getReader(), dec = new TextDecoder();\n",
    "    let buf = \"\";\n",
    "    for (;;) {\n",
    "      const {value, done} = await reader.read();\n",
    "      if (done) return {reply, stopped: false};\n",
    "      buf += dec.decode(value, {stream: true});\n",
    "      let i;\n",
    "      while ((i = buf.indexOf(\"\\n\\n\")) >= 0) {\n",
    "        const ev = buf.slice(0, i); buf = buf.slice(i + 2);\n",
    "        if (!ev.startsWith(\"data: \")) continue;\n",
    "        const data = ev.slice(6);\n",
    "        if (data === \"[DONE]\") return {reply, stopped: false};\n",
    "        const j = JSON.parse(data);\n",
    "        if (j.error) throw {message: j.error.message};\n",
    "        const c = j.choices && j.choices[0];\n",
    "        if (c && c.delta && c.delta.content) { reply += c.delta.content; out.textContent = reply; log.scrollTop = log.scrollHeight; }\n",
    "      }\n",
    "    }\n",
    "  } catch (e) {\n",
    "    if (e && e.name === \"AbortError\") return {reply, stopped: true};\n",
    "    throw e;\n",
    "  } finally { ctrl = null; }\n",
    "}\n",
    "form.addEventListener(\"submit\", async e => {\n",
    "  e.preventDefault();\n",
    "  if (busy) { if (ctrl) ctrl.abort(); return; } /* the button is Stop while a reply streams */\n",
    "  const text = input.value.trim();\n",
    "  if (!text) return;\n",
    "  busy = true; send.textContent = \"Stop\"; input.value = \"\";\n",
    "  add(\"user\", text);\n",
    "  history.push({role: \"user\", content: text});\n",
    "  const out = add(\"assistant\", \"\");\n",
    "  out.dataset.done = \"0\";\n",
    "  for (;;) {\n",
    "    try {\n",
    "      const {reply, stopped} = await complete(out);\n",
    "      history.push({role: \"assistant\", content: reply});\n",
    "      if (stopped) { out.dataset.stopped = \"1\"; add(\"note\", \"(stopped)\"); }\n",
    "      break;\n",
    "    } catch (err) {\n",
    "      /* the conversation outgrew the context: drop the oldest exchange and say so, as long as one is left */\n",
    "      if (err.code === \"context_length_exceeded\" && history.length > 1) {\n",
    "        const n = history.length > 2 ? 2 : 1;\n",
    "        history.splice(0, n);\n",
    "        const note = add(\"note\", \"(the oldest \" + (n === 2 ? \"exchange\" : \"message\") + \" no longer fits the context and was left out)\");\n",
    "        log.insertBefore(note, out.previousSibling);\n",
    "        continue;\n",
    "      }\n",
    "      out.classList.add(\"error\"); out.textContent = (out.textContent ? out.textContent + \"\\n\" : \"\") + \"[error: \" + (err.message || err) + \"]\";\n",
    "      history.pop();\n",
    "      break;\n",
    "    }\n",
    "  }\n",
    "  out.dataset.done = \"1\";\n",
    "  busy = false; send.textContent = \"Send\"; input.focus();\n",
    "});\n",
    "</script>\n",
    "</body>\n",
    "</html>\n",
};

static char *page;
static size_t page_len;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void join(void) {
    size_t n = 0;
    for (size_t i = 0; i < sizeof LINES / sizeof LINES[0]; i++) n += strlen(LINES[i]);
    page = malloc(n + 1);
    if (!page) return;
    for (size_t i = 0; i < sizeof LINES / sizeof LINES[0]; i++) {
        size_t l = strlen(LINES[i]);
        memcpy(page + page_len, LINES[i], l);
        page_len += l;
    }
    page[page_len] = 0;
}

const char *srv_page_html(size_t *len) {
    pthread_once(&once, join);
    *len = page ? page_len : 0;
    return page ? page : "";
}
