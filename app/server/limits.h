/*
 * limits.h - every bound the HTTP server enforces, each with its reason. The library's own bounds are in
 * src/core/limits.h; these concern what a network client may ask of the server.
 */
#ifndef OCTET_SERVER_LIMITS_H
#define OCTET_SERVER_LIMITS_H

/* Request bodies larger than this get 413. 1 MiB holds a prompt far longer than any context we serve
 * (a 32k-token context is ~150 KB of text; JSON escaping at most sextuples it) while bounding what one
 * connection can make us buffer. */
#define SRV_MAX_BODY_BYTES (1u << 20)

/* Slots (-np): one octet_session (KV cache + activations) each, all decoded in one batched forward pass.
 * 64 bounds the memory a command line can ask for and the batch width of a single pass. */
#define SRV_MAX_SLOTS 64

/* Requests waiting for a free slot. Beyond this the server answers 503 at once instead of letting latency
 * grow without bound; 256 covers the load test (32 clients) with room. */
#define SRV_MAX_QUEUE 256

/* Simultaneous connections (one thread each): queue + slots + health checks, with margin, and room for a flood
 * from one address that the per-address cap answers 503 (600 idle sockets in tests/e2e/server_guard.sh) while
 * those connections are being closed. */
#define SRV_MAX_CONNECTIONS 2048

/* max_tokens above this is rejected (400); the context bounds generation anyway, this only rejects
 * absurd values before any work. */
#define SRV_MAX_TOKENS 65536

/* Completions default to 16 tokens (as OpenAI's API does); chat defaults to the rest of the context. */
#define SRV_DEFAULT_MAX_TOKENS_COMPLETION 16

/* OpenAI allows up to 4 stop sequences; each is bounded so the hold-back buffer stays small. */
#define SRV_MAX_STOP 4
#define SRV_MAX_STOP_BYTES 256

/* Chat messages per request. */
#define SRV_MAX_MESSAGES 1024

/* Token ids in a /detokenize or token-array prompt (each id is at least 2 bytes of JSON, so the body
 * cap bounds this too). */
#define SRV_MAX_TOKEN_IDS (SRV_MAX_BODY_BYTES / 2)

/* Prompt tokens evaluated per slot per scheduler step: long prompts are fed in chunks so that slots
 * already generating keep streaming while another slot prefills. */
#define SRV_PREFILL_CHUNK 128

/* Seconds SIGTERM waits for in-flight requests before stopping anyway. */
#define SRV_DRAIN_SECONDS 30

/* Idle connection timeout (seconds), so dead keep-alive connections do not hold threads. */
#define SRV_CONN_TIMEOUT 120

/* Minimum wait quantum (ms) of a connection thread waiting for tokens; it checks for a closed socket each
 * time, so a client that goes away frees its slot within about this long. */
#define SRV_POLL_MS 20

/* Total time (seconds) a client has for the headers and body of a request, counted from the connection's start
 * or the end of the previous response: a client trickling a byte every few seconds is cut here, which the
 * inactivity timeout above never does. 30 s carries a 1 MiB body over a link of ~35 kB/s. */
#define SRV_READ_TIMEOUT 30

/* Connections one client address may hold at once; more are answered 503 with Retry-After and closed, so one
 * address cannot take every connection (SRV_MAX_CONNECTIONS) for itself. 64 covers the load test's 32 clients
 * and a browser's handful of parallel connections with room. */
#define SRV_MAX_CONN_PER_ADDR 64

/* top_logprobs: OpenAI's chat API accepts 0..20; completions' legacy logprobs accepts 0..5. */
#define SRV_MAX_TOP_LOGPROBS 20
#define SRV_MAX_LEGACY_LOGPROBS 5

/* Inputs of one /v1/embeddings request (each runs as its own job, one after another). */
#define SRV_MAX_EMBED_INPUTS 256

#endif
