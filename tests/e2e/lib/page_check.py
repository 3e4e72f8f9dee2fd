"""Drive the chat page in headless Chromium through chromedriver (W3C WebDriver over HTTP on loopback, with
urllib: no selenium). Opens the page, types a prompt, clicks Send, and waits for the reply: it must arrive in
several updates (a MutationObserver counts the changes of the reply's text, so a reply written at once fails)
and end with data-done="1" and non-empty text, with no error shown. Then the conversation goes on for more
turns than the server's context holds (the page must drop its oldest exchanges and say so, never show an
error), and a long reply is stopped with the Stop button (partial text kept, no error, the server free again).

usage: page_check.py SERVER_URL CHROMEDRIVER_PORT
"""
import json
import sys
import tempfile
import time
import urllib.request

server, wd_port = sys.argv[1], int(sys.argv[2])
WD = "http://127.0.0.1:%d" % wd_port


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(WD + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())["value"]


profile = tempfile.mkdtemp()
caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
    "binary": "/usr/bin/chromium",
    "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--user-data-dir=" + profile]}}}}
sid = call("POST", "/session", caps)["sessionId"]
S = "/session/" + sid
ELEM = "element-6066-11e4-a52e-4f735466cecf"
try:
    call("POST", S + "/url", {"url": server + "/"})
    title = call("GET", S + "/title")
    assert "octet" in title, title
    # the model name arrives from /v1/models
    for _ in range(100):
        if call("POST", S + "/execute/sync", {"script": "return document.getElementById('model').textContent",
                                              "args": []}) != "...":
            break
        time.sleep(0.05)
    call("POST", S + "/execute/sync", {"script": """
        window.__changes = 0;
        new MutationObserver(() => { window.__changes++; })
            .observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true});
        document.getElementById('maxtok').value = '48';
        return 0;""", "args": []})
    found = call("POST", S + "/element", {"using": "css selector", "value": "#prompt"})
    assert ELEM in found, found
    box = found[ELEM]
    call("POST", S + "/element/%s/value" % box, {"text": "Who made the heaven and the earth?"})
    send = call("POST", S + "/element", {"using": "css selector", "value": "#send"})[ELEM]
    call("POST", S + "/element/%s/click" % send, {})
    state = None
    t0 = time.time()
    while time.time() - t0 < 30:
        state = call("POST", S + "/execute/sync", {"script": """
            const a = document.querySelectorAll('.assistant'), u = document.querySelectorAll('.user');
            const last = a[a.length - 1];
            return {n_user: u.length, user: u.length ? u[0].textContent : null,
                    done: last ? last.dataset.done : null, text: last ? last.textContent : null,
                    error: last ? last.classList.contains('error') : null, changes: window.__changes};""",
                                                   "args": []})
        if state["done"] == "1":
            break
        time.sleep(0.05)
    print("page state:", json.dumps(state))
    assert state and state["done"] == "1", "no finished reply within 30 s"
    assert state["user"] == "Who made the heaven and the earth?", state
    assert not state["error"], "the page shows an error"
    assert state["text"].strip(), "empty reply"
    # user message + reply element + at least two text updates of the reply
    assert state["changes"] >= 4, "the reply did not stream (only %d DOM changes)" % state["changes"]
    print("chat page: streamed reply of %d characters in %d DOM updates" % (len(state["text"]), state["changes"]))
    label = call("POST", S + "/execute/sync", {"script": "return document.getElementById('model').textContent",
                                               "args": []})
    assert "context" in label, label

    def turn(text, stop_after=None):
        box = call("POST", S + "/element", {"using": "css selector", "value": "#prompt"})[ELEM]
        call("POST", S + "/element/%s/value" % box, {"text": text})
        n0 = call("POST", S + "/execute/sync", {"script": "return document.querySelectorAll('.assistant').length",
                                               "args": []})
        call("POST", S + "/element/%s/click" % send, {})
        t0 = time.time()
        clicked = False
        st = None
        while time.time() - t0 < 40:
            st = call("POST", S + "/execute/sync", {"script": """
                const a = document.querySelectorAll('.assistant'), last = a[a.length - 1];
                return {n: a.length, done: last ? last.dataset.done : null, stopped: last ? last.dataset.stopped || null : null,
                        text: last ? last.textContent : '', error: last ? last.classList.contains('error') : null,
                        button: document.getElementById('send').textContent,
                        notes: document.querySelectorAll('.note').length};""", "args": []})
            if st["n"] > n0 and st["done"] == "1":
                return st
            if stop_after is not None and not clicked and st["n"] > n0 and len(st["text"]) >= stop_after:
                assert st["button"] == "Stop", st
                call("POST", S + "/element/%s/click" % send, {})
                clicked = True
            time.sleep(0.03)
        raise AssertionError("turn %r did not finish: %s" % (text, st))

    # more turns than a 256-token context holds, 48 tokens per reply and long questions
    question = ("Tell me again about the waters, the firmament, the light and the darkness, "
                "and the evening and the morning.")
    for i in range(6):
        st = turn(question)
        assert not st["error"], ("turn %d shows an error" % (i + 2), st)
    assert st["notes"] >= 1, "the page never said it dropped old turns"
    print("chat page: 6 more turns in a 256-token context, %d notes about dropped turns, no error" % st["notes"])
    # the Stop button: a long reply stopped after its first characters
    call("POST", S + "/execute/sync", {"script": "document.getElementById('maxtok').value = '200'; "
                                                 "document.getElementById('temp').value = '1.5'; return 0;",
                                       "args": []})
    clear = call("POST", S + "/element", {"using": "css selector", "value": "#clear"})[ELEM]
    call("POST", S + "/element/%s/click" % clear, {})
    st = turn("Say a long thing.", stop_after=1)
    assert not st["error"] and st["stopped"] == "1" and st["button"] == "Send", st
    stopped_len = len(st["text"])
    # and the server serves the next turn (the stopped request freed its slot)
    st = turn("And then?")
    assert not st["error"] and st["text"].strip(), st
    print("chat page: Stop kept %d characters, the next turn answered" % stopped_len)
finally:
    call("DELETE", S)
