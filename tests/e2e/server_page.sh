#!/usr/bin/env bash
# The chat page at GET / in headless Chromium (Debian's chromium + chromium-driver), driven over WebDriver on
# loopback: type a prompt, click Send, see a streamed reply. Skips when chromium or chromedriver is absent.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib/server_common.sh
for b in chromium chromedriver; do
    command -v $b >/dev/null || { echo "SKIP: $b is not installed (apt-get install chromium chromium-driver)"; exit 0; }
done

start_server -np 1 -c 256
# the page is self-contained: no external URL in it
curl -s "$URL/" > "$work/page.html"
grep -q '<textarea id="prompt"' "$work/page.html" || { echo "GET / is not the chat page"; exit 1; }
if grep -Eq '(src|href)="(https?:)?//' "$work/page.html"; then echo "the page loads something external"; exit 1; fi

WD_PORT=$(free_port)
chromedriver --port="$WD_PORT" --allowed-ips=127.0.0.1 >"$work/chromedriver.log" 2>&1 &
WD_PID=$!
trap 'kill $WD_PID 2>/dev/null || true; wait $WD_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do
    curl -s "http://127.0.0.1:$WD_PORT/status" 2>/dev/null | grep -q '"ready": *true' && break
    sleep 0.1
done
timeout 50 "$PY" tests/e2e/lib/page_check.py "$URL" "$WD_PORT"
stop_server
echo "chat page: ok"
