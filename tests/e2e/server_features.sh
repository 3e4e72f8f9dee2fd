#!/usr/bin/env bash
# octet serve, issue 19 items 3-4: prompt caching (a 10-turn chat reuses its history, and gives the replies and
# logprobs of cache_prompt false), logprobs checked against `octet logits` + numpy, echo, streamed logprobs,
# /v1/embeddings against `octet embed`, GET /v1/models/{id}. See tests/e2e/lib/server_features.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib/server_common.sh
"$PY" -c 'import numpy' 2>/dev/null || { echo "SKIP: numpy is missing for $PY"; exit 0; }
start_server -np 2 -c 256 -t 2
timeout 300 nice -n 10 "$PY" tests/e2e/lib/server_features.py "$URL" "$OCTET" "$MODEL" "$work"
stop_server
echo "server features: ok"
