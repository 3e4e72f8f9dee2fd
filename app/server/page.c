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
    "header { display: flex; gap: 8px; align-items: center; font-size: 13px; color: #666; }\n",
    "header b { color: #222; font-size: 16px; }\n",
    "#log { flex: 1; overflow-y: auto; padding: 8px 0; }\n",
    ".msg { white-space: pre-wrap; padding: 8px 12px; margin: 6px 0; border-radius: 8px; }\n",
    ".user { background: #dde8f7; margin-left: 15%; }\n",
    ".assistant { background: #fff; border: 1px solid #ddd; margin-right: 15%; }\n",
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
    "<label>API key <input id=\"key\" type=\"password\" style=\"width:8em\"></label>\n",
    "<button id=\"clear\" type=\"button\">clear</button></header>\n",
    "<div id=\"log\"></div>\n",
    "<form id=\"form\"><textarea id=\"prompt\" placeholder=\"Say something (Enter sends, Shift+Enter: new line)\"></textarea><button id=\"send\" type=\"submit\">Send</button></form>\n",
    "</main>\n",
    "<script>\n",
    "\"use strict\";\n",
    "const log = document.getElementById(\"log\"), form = document.getElementById(\"form\");\n",
    "const input = document.getElementById(\"prompt\"), send = document.getElementById(\"send\");\n",
    "let history = [], busy = false;\n",
    "function headers() {\n",
    "  const h = {\"Content-Type\": \"application/json\"}, k = document.getElementById(\"key\").value;\n",
    "  if (k) h[\"Authorization\"] = \"Bearer \" + k;\n",
    "  return h;\n",
    "}\n",
    "function add(cls, text) {\n",
    "  const d = document.createElement(\"div\");\n",
    "  d.className = \"msg \" + cls; d.textContent = text; log.appendChild(d);\n",
    "  log.scrollTop = log.scrollHeight; return d;\n",
    "}\n",
    "fetch(\"/v1/models\", {headers: headers()}).then(r => r.json()).then(j => {\n",
    "  document.getElementById(\"model\").textContent = j.data[0].id + \" (\" + j.data[0].meta.chat_template + \" format)\";\n",
    "}).catch(() => {});\n",
    "document.getElementById(\"clear\").onclick = () => { history = []; log.textContent = \"\"; };\n",
    "input.addEventListener(\"keydown\", e => {\n",
    "  if (e.key === \"Enter\" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }\n",
    "});\n",
    "form.addEventListener(\"submit\", async e => {\n",
    "  e.preventDefault();\n",
    "  const text = input.value.trim();\n",
    "  if (!text || busy) return;\n",
    "  busy = true; send.disabled = true; input.value = \"\";\n",
    "  add(\"user\", text);\n",
    "  history.push({role: \"user\", content: text});\n",
    "  const out = add(\"assistant\", \"\");\n",
    "  out.dataset.done = \"0\";\n",
    "  let reply = \"\";\n",
    "  try {\n",
    "    const r = await fetch(\"/v1/chat/completions\", {method: \"POST\", headers: headers(), body: JSON.stringify({\n",
    "      messages: history, stream: true,\n",
    "      temperature: parseFloat(document.getElementById(\"temp\").value) || 0,\n",
    "      max_tokens: parseInt(document.getElementById(\"maxtok\").value) || 256})});\n",
    "    if (!r.ok) { const j = await r.json(); throw new Error(j.error ? j.error.message : r.statusText); }\n",
    "    const reader = r.body.getReader(), dec = new TextDecoder();\n",
    "    let buf = \"\", finished = false;\n",
    "    while (!finished) {\n",
    "      const {value, done} = await reader.read();\n",
    "      if (done) break;\n",
    "      buf += dec.decode(value, {stream: true});\n",
    "      let i;\n",
    "      while ((i = buf.indexOf(\"\\n\\n\")) >= 0) {\n",
    "        const ev = buf.slice(0, i); buf = buf.slice(i + 2);\n",
    "        if (!ev.startsWith(\"data: \")) continue;\n",
    "        const data = ev.slice(6);\n",
    "        if (data === \"[DONE]\") { finished = true; break; }\n",
    "        const j = JSON.parse(data);\n",
    "        if (j.error) throw new Error(j.error.message);\n",
    "        const c = j.choices && j.choices[0];\n",
    "        if (c && c.delta && c.delta.content) { reply += c.delta.content; out.textContent = reply; log.scrollTop = log.scrollHeight; }\n",
    "      }\n",
    "    }\n",
    "    history.push({role: \"assistant\", content: reply});\n",
    "  } catch (err) {\n",
    "    out.classList.add(\"error\"); out.textContent = reply + \"\\n[error: \" + err.message + \"]\";\n",
    "    history.pop();\n",
    "  }\n",
    "  out.dataset.done = \"1\";\n",
    "  busy = false; send.disabled = false; input.focus();\n",
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
