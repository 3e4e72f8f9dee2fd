/*
 * server.h - internals of `octet serve`, an OpenAI-compatible HTTP server built on the public API
 * (include/octet.h), libmicrohttpd and jansson. Modules:
 *
 *   request.c        JSON request body -> srv_request (pure: no model, no HTTP; fuzzed by
 *                    fuzz/fuzz_server_request.c)
 *   chat_template.c  chat template family detection and prompt formatting; UTF-8 buffer helpers
 *   sched.c          slots (one octet_session each), the bounded queue and the scheduler thread that batches
 *                    the decode steps of all active slots into one forward pass
 *   http.c           libmicrohttpd daemon: routing, auth, bodies, JSON and SSE responses
 *   serve.c          the `octet serve` command: options, model loading, signals and draining
 *   page.c           the chat page served at GET /
 *
 * Ownership: a srv_job is shared by the connection thread that submitted it and the scheduler; it is
 * reference counted and freed by whichever releases it last. The connection sets job->cancel when its
 * client goes away; the scheduler frees the slot at its next step.
 */
#ifndef OCTET_SERVER_H
#define OCTET_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"
#include "octet.h"

/* ---- growable byte buffer with a hard cap ------------------------------------------------------------- */
typedef struct srv_buf {
    char *p;
    size_t len, cap;
    size_t max; /* 0: no cap beyond SIZE_MAX/2 */
    int oom;    /* an append failed (out of memory or over max); content is truncated */
} srv_buf;
void srv_buf_put(srv_buf *b, const char *s, size_t n);
void srv_buf_puts(srv_buf *b, const char *s);
void srv_buf_free(srv_buf *b);

/* Incremental UTF-8 sanitiser: complete valid sequences go to b, invalid bytes become U+FFFD, an incomplete
 * sequence at the end waits in pend until more bytes come (or srv_utf8_flush turns it into U+FFFD). */
typedef struct srv_utf8 {
    unsigned char pend[4];
    int n_pend;
} srv_utf8;
void srv_utf8_put(srv_utf8 *u, srv_buf *b, const char *s, size_t n);
void srv_utf8_flush(srv_utf8 *u, srv_buf *b);

/* ---- requests ---------------------------------------------------------------------------------------------- */
typedef enum { SRV_REQ_COMPLETION = 0, SRV_REQ_CHAT = 1 } srv_req_kind;

typedef struct srv_message {
    char *role;    /* "system", "user", "assistant", ... (any string) */
    char *content; /* parts of an array content are concatenated */
} srv_message;

typedef struct srv_request {
    srv_req_kind kind;
    char *model;                 /* echoed only; NULL when absent */
    char *prompt;                /* completion with a text prompt */
    size_t prompt_len;
    int32_t *prompt_tokens;      /* completion with a token-id prompt */
    int n_prompt_tokens;
    srv_message *msgs;           /* chat */
    int n_msgs;
    int max_tokens;              /* -1: not given */
    int ignore_eos;              /* llama.cpp server extension: keep generating past end-of-generation tokens */
    float temperature;           /* default 1 (OpenAI) */
    float top_p;                 /* default 1 */
    uint64_t seed;
    int seed_given;
    char *stop[SRV_MAX_STOP];
    int n_stop;
    int stream;
    int include_usage;           /* stream_options.include_usage */
    /* issue 19 items 3-4 (parse_cache_logprobs in request.c) */
    int cache_prompt;            /* llama.cpp's field: reuse the slot's cached prefix (default 1) */
    int logprobs;                /* return log-probabilities of the chosen tokens */
    int top_logprobs;            /* and of this many most likely tokens per position (0..SRV_MAX_TOP_LOGPROBS) */
    int echo;                    /* completions: the prompt precedes the generated text (and its logprobs) */
    octet_grammar *grammar;      /* from `grammar` (GBNF), `json_schema` or `response_format`; NULL: none */
} srv_request;

/* /v1/embeddings {"input": str | [str...] | [int...] | [[int...]...], "encoding_format": "float"|"base64"}.
 * Each input is a string (texts) or a token array (toks/n_toks); free with srv_embed_request_free. */
typedef struct srv_embed_request {
    char *model;
    int n;
    char **texts;       /* [n]: NULL for a token input */
    size_t *lens;
    int32_t **toks;     /* [n]: NULL for a text input */
    int *n_toks;
    int base64;
} srv_embed_request;
int srv_parse_embeddings(srv_embed_request *r, const char *body, size_t len, char *msg, size_t msg_size,
                         const char **param);
void srv_embed_request_free(srv_embed_request *r);

/* Parse a /v1/completions or /v1/chat/completions body. Returns 0, or -1 with a message (and the offending
 * parameter's name in *param, or NULL) for a 400 answer. r is always safe to srv_request_free. */
int srv_parse_request(srv_request *r, srv_req_kind kind, const char *body, size_t len, char *msg, size_t msg_size,
                      const char **param);
void srv_request_free(srv_request *r);

/* /tokenize {"content": str, "add_special": bool}. *content is malloc'd. */
int srv_parse_tokenize(const char *body, size_t len, char **content, size_t *content_len, int *add_special,
                       char *msg, size_t msg_size, const char **param);
/* /detokenize {"tokens": [int...]}. *tokens is malloc'd. */
int srv_parse_detokenize(const char *body, size_t len, int32_t **tokens, int *n, char *msg, size_t msg_size,
                         const char **param);

/* ---- chat templates ------------------------------------------------------------------------------------ */
typedef enum {
    SRV_TMPL_PLAIN = 0, /* no template: "User: ...\nAssistant:" */
    SRV_TMPL_CHATML,    /* <|im_start|>role\n...<|im_end|> (Qwen2, many fine-tunes) */
    SRV_TMPL_LLAMA3,    /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    SRV_TMPL_LLAMA2,    /* [INST] ... [/INST] (Llama 2 chat, Mistral instruct) */
    SRV_TMPL_ZEPHYR     /* <|user|>\n...</s> (Zephyr, TinyLlama chat) */
} srv_tmpl;

/* Family of a tokenizer.chat_template text (may be NULL or truncated). has_token(ud, s) says whether s is one
 * token of the vocabulary; it decides when the template text does not (NULL: not consulted). */
srv_tmpl srv_tmpl_detect(const char *tmpl, int (*has_token)(void *ud, const char *s), void *ud);
const char *srv_tmpl_name(srv_tmpl t);
/* Render messages followed by the assistant's generation prompt into out (appended). eos is the text of the
 * end-of-sequence token (e.g. "</s>"), used by the Zephyr and Llama 2 formats. The BOS token is not written:
 * the tokenizer adds it. */
void srv_tmpl_apply(srv_tmpl t, const srv_message *msgs, int n, const char *eos, srv_buf *out);
/* A stop string implied by the format (the plain format's "\nUser:"), or NULL. */
const char *srv_tmpl_stop(srv_tmpl t);

/* ---- scheduler --------------------------------------------------------------------------------------------- */
/* One token's log-probability (log-softmax of the raw logits, temperature 1, in double) and its n_top most likely
 * alternatives, most likely first. text_off: where its text starts in the job's text. */
typedef struct srv_tokinfo {
    int32_t id;
    float logprob;
    size_t text_off;
    int n_top;
    int32_t top_id[SRV_MAX_TOP_LOGPROBS];
    float top_lp[SRV_MAX_TOP_LOGPROBS];
} srv_tokinfo;

typedef struct srv_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs; /* under mu */

    /* input: set before srv_sched_submit, then read-only */
    int32_t *prompt;
    int n_prompt;
    int max_tokens;
    int ignore_eos;
    int stream;          /* the connection sends text as it comes: wake it per token (else only when done) */
    octet_sampler_params sp;
    char *stop[SRV_MAX_STOP + 1];
    int n_stop;
    octet_grammar *grammar; /* owned; NULL: unconstrained */

    int cache_prompt;    /* reuse the slot's cached prefix */
    int logprobs;        /* record srv_tokinfo for each generated token (n_top alternatives) */
    int n_top;
    int prompt_logprobs; /* also for the prompt tokens (echo): fed one at a time, from an empty cache */
    int embed;           /* an embedding: evaluate the prompt, mean-pool the final hidden states, no generation */

    /* output, under mu */
    srv_buf text;        /* generated text, valid UTF-8, cut at a stop string */
    size_t ready;        /* text[0..ready) can be sent: it cannot become part of a stop string */
    int n_gen;
    int done;
    const char *finish;  /* "stop" or "length" when done without error */
    int err_status;      /* HTTP status of an error (0: none) */
    char err[256];
    volatile int cancel; /* set by the connection when its client went away */
    int n_cached;        /* prompt tokens reused from the slot's cache (set when the job starts) */
    struct srv_tokinfo *toks; /* logprobs: one per generated token, in order */
    int n_toks, cap_toks;
    int n_toks_keep;     /* when done: the entries that belong to the final text (a stop string cuts some) */
    struct srv_tokinfo *ptoks; /* prompt_logprobs: one per prompt token (the first has no logprob) */
    int n_ptoks;
    float *emb;          /* embed: n_embd floats, L2-normalised (when done without error) */
    int n_embd;

    /* scheduler-private */
    double *emb_acc;     /* embed: sum of the final hidden states */
    srv_utf8 u8;
    struct srv_job *next;
} srv_job;

/* A job with refs = 1 (the caller's). NULL on allocation failure. Takes ownership of prompt (malloc'd). */
srv_job *srv_job_new(int32_t *prompt, int n_prompt);
void srv_job_release(srv_job *j);
/* Wait until more text is ready than `sent`, the job is done, or ms elapse. Returns with mu unlocked. */
void srv_job_wait(srv_job *j, size_t sent, int ms);

typedef struct srv_sched srv_sched;
int srv_sched_new(srv_sched **out, const octet_model *m, int n_slots, int queue_max,
                  const octet_session_params *sp, octet_error *err);
/* Pipeline mode (under mpiexec): slot i is sequence i of pl (n_slots = its n_seq), which must have been made
 * with session parameters passed through srv_sched_session_params; pl is not owned and must stay idle until
 * srv_sched_shutdown returned. */
int srv_sched_new_pipeline(srv_sched **out, const octet_model *m, octet_pipeline *pl, int queue_max,
                           octet_error *err);
/* The session parameters the scheduler uses for n_slots slots (n_batch, logits_all set from sp). */
void srv_sched_session_params(octet_session_params *sp, int n_slots);
/* Queue a job (adds a reference). Returns 0, or -1 when the queue is full or the scheduler is stopping. */
int srv_sched_submit(srv_sched *s, srv_job *j);
/* Jobs queued or running. */
int srv_sched_busy(srv_sched *s);
int srv_sched_n_ctx(const srv_sched *s);
/* Embedding jobs can run (float mode, not a pipeline); n_embd of the model. */
int srv_sched_can_embed(const srv_sched *s);
void srv_sched_counts(srv_sched *s, int *n_slots, int *n_active, int *n_queued);
void srv_sched_set_verbose(srv_sched *s, int on);
/* Stop the scheduler thread; queued and running jobs finish with an error. */
void srv_sched_shutdown(srv_sched *s);
void srv_sched_free(srv_sched *s);

/* ---- HTTP -------------------------------------------------------------------------------------------------- */
typedef struct srv_config {
    const char *host;
    int port;
    const char *api_key; /* NULL: no auth */
    int n_slots;
    const char *cors;      /* --cors ORIGIN: Access-Control-Allow-Origin on every answer, preflights answered */
    int max_conn_per_addr; /* connections one client address may hold (more get 503 + Retry-After); 0: no cap */
    double read_timeout;   /* seconds for a request's headers and body, in total (0: SRV_READ_TIMEOUT) */
} srv_config;

typedef struct srv_server srv_server;
/* Start listening (GET /health answers 503 until srv_http_set_ready). Prints nothing; errors into msg. */
int srv_http_start(srv_server **out, const srv_config *cfg, char *msg, size_t msg_size);
int srv_http_port(const srv_server *h);
/* Hand the loaded model and scheduler over; from now on requests are served. */
void srv_http_set_ready(srv_server *h, const octet_model *m, srv_sched *sched, const char *model_id, srv_tmpl tmpl,
                        const char *eos_text);
/* Before srv_http_set_ready: render chat requests with the model's Jinja template (octet_chat_template_apply
 * over the whole request body) instead of the family format; tmpl must stay valid while the server runs. A
 * template that fails on a request is a 400 answer naming the template line. log_prompts: print every rendered
 * prompt on stderr (debugging). */
void srv_http_set_template(srv_server *h, const char *tmpl, size_t len, const char *bos_text, int log_prompts);
/* Stop accepting connections; requests in flight continue. */
void srv_http_quiesce(srv_server *h);
/* Requests currently being answered (generation requests, including open streams). */
int srv_http_inflight(srv_server *h);
void srv_http_stop(srv_server *h);

/* The chat page (NUL-terminated HTML). */
const char *srv_page_html(size_t *len);

#endif
