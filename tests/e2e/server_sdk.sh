#!/usr/bin/env bash
# octet serve driven by the official OpenAI Node.js SDK (npm `openai`), the real client: models.retrieve, logprobs
# (chat, streamed and not; completions with echo), embeddings (the SDK's default base64 and float), with an API
# key. The SDK is installed with npm into $OCTET_NPM_DIR (default build/npm, outside the sources); the test skips
# with a clear line when node/npm are missing or the registry is unreachable.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib/server_common.sh
command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIP: node and npm are needed (apt-get install nodejs npm)"; exit 0; }
NPM_DIR=${OCTET_NPM_DIR:-build/npm}
mkdir -p "$NPM_DIR"
if [ ! -f "$NPM_DIR/node_modules/openai/package.json" ]; then
    if ! (cd "$NPM_DIR" && timeout 180 npm install --no-audit --no-fund --silent openai >/dev/null 2>&1); then
        echo "SKIP: npm could not install the openai package (registry unreachable?)"
        exit 0
    fi
fi
echo "openai SDK $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$NPM_DIR/node_modules/openai/package.json" | head -1)"
cp tests/e2e/lib/server_sdk.mjs "$NPM_DIR/server_sdk.mjs"  # resolves `openai` from its node_modules
start_server -np 2 -c 256 -t 2 --api-key sdk-key
timeout 120 node "$NPM_DIR/server_sdk.mjs" "$URL" sdk-key
stop_server
echo "server sdk: ok"
