/*
 * http.c - the HTTP side of `octet serve` on libmicrohttpd (one thread per connection, so a connection may
 * block while its request is generated) with jansson for JSON.
 *
 * Routes: GET / (chat page), GET /health, GET /v1/models, GET /v1/models/{id}, POST /v1/completions,
 * POST /v1/chat/completions, POST /v1/embeddings (also without the /v1 prefix), POST /tokenize, POST /detokenize.
 * Method, API key, Content-Type and Content-Length are decided on the headers, before any body is read; a
 * connection guard (on_connection, guard_main) caps connections per client address and bounds the total time a
 * request's headers and body may take. Errors are OpenAI error objects
 * {"error": {"message", "type", "param", "code"}} with a 4xx/5xx status. Streaming answers are server-sent
 * events (https://html.spec.whatwg.org/multipage/server-sent-events.html): "data: JSON\n\n" per chunk and
 * "data: [DONE]\n\n" at the end, as OpenAI's API sends them.
 *
 * Disconnects: a connection waiting for tokens polls its socket for a hang-up every SRV_POLL_MS and sets
 * job->cancel, so the scheduler frees the slot at its next step; MHD's free callback of a streamed response
 * does the same when MHD itself notices the peer is gone.
 */
#include <arpa/inet.h>
#include <math.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

/* A connection as the guard sees it (issue 19 item 6): its address for the per-address cap, and when the request
 * now being read began, for the total deadline on headers and body. fd is a dup of the socket, so shutdown()
 * through it can never hit a descriptor MHD closed and the system reused. */
typedef struct conn_rec {
    struct conn_rec *prev, *next;
    int fd;
    int family;
    unsigned char addr[16];
    double t_read;  /* the current request's first byte was awaited from then on */
    int reading;    /* headers or body still arriving: the deadline applies */
    int rejected;   /* over the per-address cap: answered 503 at accept */
    int killed;
} conn_rec;

struct srv_server {
    struct MHD_Daemon *d;
    srv_config cfg;
    pthread_mutex_t cmu; /* conns */
    conn_rec *conns;
    pthread_t guard;
    int guard_started;
    atomic_int guard_stop;
    size_t max_prompt_bytes; /* longer prompts cannot fit the context (see srv_http_set_ready) */
    atomic_int ready;
    atomic_int inflight;
    atomic_uint id_seq;
    const octet_model *m;
    srv_sched *sched;
    char model_id[256];
    srv_tmpl tmpl;
    char eos[64];
    const char *jinja;  /* the model's chat template (srv_http_set_template), or NULL: the family format above */
    size_t jinja_len;
    char bos[64];
    int log_prompts;
    int port;
    long created;
};

/* Per-connection state: the request body being received. */
typedef struct conn {
    srv_buf body;
    int route;    /* from find_route */
    int answered; /* 1: a response was queued with the headers (405, 413, 415, preflight); 2: a 413 was written to
                   * the socket while the body came */
    int http11;   /* the request is HTTP/1.1 (may be sent an interim 1xx answer) */
    size_t drained; /* body bytes discarded after a 413 */
} conn;

/* ---- responses ---------------------------------------------------------------------------------------------- */
static const char *g_cors; /* --cors ORIGIN (one server per process) */
static _Thread_local const char *t_hdr_name, *t_hdr_value; /* one extra header for the next response */

static void add_common_headers(struct MHD_Response *r) {
    if (g_cors) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", g_cors);
        if (strcmp(g_cors, "*") != 0) MHD_add_response_header(r, "Vary", "Origin");
    }
    if (t_hdr_name) MHD_add_response_header(r, t_hdr_name, t_hdr_value);
}

static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned status, const char *type, const char *data,
                                  size_t len, enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, mode);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    add_common_headers(r);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    t_hdr_name = t_hdr_value = NULL;
    return ret;
}

/* Send a JSON value (consumed). */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *v) {
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s) return send_bytes(c, 500, "application/json", "{\"error\":{\"message\":\"out of memory\"}}", 37,
                              MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = send_bytes(c, status, "application/json", s, strlen(s), MHD_RESPMEM_MUST_FREE);
    return ret;
}

static const char *error_type(unsigned status) {
    switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 429: case 503: return "server_busy";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static json_t *error_obj(unsigned status, const char *msg, const char *param, const char *code) {
    srv_buf b = {0};
    srv_utf8 u = {{0}, 0};
    srv_utf8_put(&u, &b, msg, strlen(msg)); /* messages may quote the client's bytes */
    srv_utf8_flush(&u, &b);
    json_t *e = json_pack("{s:{s:s,s:s,s:o,s:o}}", "error", "message", b.p ? b.p : "", "type", error_type(status),
                          "param", param ? json_string(param) : json_null(), "code",
                          code ? json_string(code) : json_null());
    srv_buf_free(&b);
    return e;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg, const char *param,
                                  const char *code) {
    return send_json(c, status, error_obj(status, msg, param, code));
}

/* An error with one extra header (Allow for 405, Retry-After for 503). */
static enum MHD_Result send_error_hdr(struct MHD_Connection *c, unsigned status, const char *msg, const char *param,
                                      const char *code, const char *hname, const char *hvalue) {
    t_hdr_name = hname;
    t_hdr_value = hvalue;
    return send_json(c, status, error_obj(status, msg, param, code));
}

/* A JSON string of valid UTF-8 bytes. */
static json_t *jstr(const char *s, size_t n) { return json_stringn(s ? s : "", s ? n : 0); }

/* ---- helpers -------------------------------------------------------------------------------------------------- */
/* Has the client gone? A client that only half-closed (shutdown(SHUT_WR) after sending its request) still
 * wants the answer, and TCP shows it exactly as a closed one (a FIN) until something is sent. So on the first
 * FIN, a waiting non-streamed request probes: it sends an interim "100 Continue", which HTTP/1.1 clients must
 * accept before the final response (RFC 9110 section 15.2); a closed socket answers with a reset, seen on a
 * later poll as POLLHUP/POLLERR. Streams need no probe: their own events are the probe. An HTTP/1.0 client may
 * not be sent 1xx, so its FIN counts as gone. *probed: state of the probe (NULL: a stream, never probe). */
static int peer_gone(int fd, int *probed, int http11) {
    if (fd < 0) return 0;
    struct pollfd p = {fd, POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return 1;
    if (!(p.revents & POLLRDHUP) || !probed) return 0;
    if (*probed) return 0;
    if (!http11) return 1;
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    *probed = 1;
    return send(fd, cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)(sizeof cont - 1);
}

static int conn_fd(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* Constant-time comparison of the bearer token. */
static int auth_ok(srv_server *h, struct MHD_Connection *c) {
    if (!h->cfg.api_key) return 1;
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!v || strncmp(v, "Bearer ", 7) != 0) return 0;
    v += 7;
    size_t a = strlen(v), b = strlen(h->cfg.api_key);
    unsigned diff = (unsigned)(a != b);
    for (size_t i = 0; i < a; i++) diff |= (unsigned char)v[i] ^ (unsigned char)h->cfg.api_key[i < b ? i : 0];
    return diff == 0;
}

static void make_id(srv_server *h, const char *prefix, char *out, size_t n) {
    unsigned seq = atomic_fetch_add(&h->id_seq, 1u);
    snprintf(out, n, "%s-%lx%08x", prefix, (unsigned long)h->created, seq);
}

/* Tokenize into a malloc'd array; returns the count or -1. */
static int tokenize(const octet_model *m, const char *text, size_t len, int add_bos, int special, int32_t **out) {
    octet_error err;
    int n = 0;
    *out = NULL;
    if (octet_tokenize(m, text, len, add_bos, special, NULL, 0, &n, &err) && err.code != OCTET_ERANGE) return -1;
    int32_t *t = malloc(((size_t)n + 1) * sizeof *t);
    if (!t) return -1;
    if (octet_tokenize(m, text, len, add_bos, special, t, n + 1, &n, &err)) {
        free(t);
        return -1;
    }
    *out = t;
    return n;
}

/* ---- logprobs (issue 19 item 4): OpenAI's chat format (choices[].logprobs.content[] of {token, logprob, bytes,
 * top_logprobs}) and the legacy completions format ({tokens, token_logprobs, top_logprobs, text_offset}) ------ */
/* A token's bytes (its piece, possibly a partial UTF-8 sequence); returns the count. */
static int tok_piece(srv_server *h, int32_t id, char *buf, size_t cap) {
    int n = octet_token_to_piece(h->m, id, 0, buf, cap);
    if (n < 0) n = 0;
    if (n > (int)cap) n = (int)cap;
    return n;
}

/* The piece as a JSON string (invalid UTF-8 replaced by U+FFFD). */
static json_t *piece_str(const char *b, int n) {
    srv_buf sb = {0};
    srv_utf8 u = {{0}, 0};
    srv_utf8_put(&u, &sb, b, (size_t)n);
    srv_utf8_flush(&u, &sb);
    json_t *v = jstr(sb.p, sb.len);
    srv_buf_free(&sb);
    return v;
}

static json_t *lp_value(float lp) { return isnan(lp) ? json_null() : json_real((double)lp); }

/* {token, logprob, bytes} (+ top_logprobs when top is set) */
static json_t *chat_lp_one(srv_server *h, int32_t id, float lp, const srv_tokinfo *top) {
    char buf[512];
    int n = tok_piece(h, id, buf, sizeof buf);
    json_t *bytes = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(bytes, json_integer((unsigned char)buf[i]));
    json_t *o = json_pack("{s:o,s:o,s:o}", "token", piece_str(buf, n), "logprob", lp_value(lp), "bytes", bytes);
    if (o && top) {
        json_t *a = json_array();
        for (int k = 0; k < top->n_top; k++) json_array_append_new(a, chat_lp_one(h, top->top_id[k], top->top_lp[k], NULL));
        json_object_set_new(o, "top_logprobs", a);
    }
    return o;
}

static json_t *chat_logprobs(srv_server *h, const srv_tokinfo *t, int from, int to) {
    json_t *a = json_array();
    for (int i = from; i < to; i++) json_array_append_new(a, chat_lp_one(h, t[i].id, t[i].logprob, &t[i]));
    return json_pack("{s:o,s:n}", "content", a, "refusal");
}

typedef struct legacy_lp {
    json_t *tokens, *token_logprobs, *top_logprobs, *text_offset;
} legacy_lp;

static void legacy_init(legacy_lp *L) {
    L->tokens = json_array();
    L->token_logprobs = json_array();
    L->top_logprobs = json_array();
    L->text_offset = json_array();
}

/* One token; with_top 0: the first prompt token, which has no logprob and no alternatives (null). */
static void legacy_add(srv_server *h, legacy_lp *L, const srv_tokinfo *ti, size_t off, int with_top) {
    char buf[512];
    int n = tok_piece(h, ti->id, buf, sizeof buf);
    json_array_append_new(L->tokens, piece_str(buf, n));
    json_array_append_new(L->token_logprobs, lp_value(ti->logprob));
    json_t *top = with_top ? json_object() : json_null();
    for (int k = 0; with_top && k < ti->n_top; k++) {
        n = tok_piece(h, ti->top_id[k], buf, sizeof buf);
        json_t *key = piece_str(buf, n);
        json_object_set_new(top, json_string_value(key), json_real((double)ti->top_lp[k]));
        json_decref(key);
    }
    json_array_append_new(L->top_logprobs, top);
    json_array_append_new(L->text_offset, json_integer((json_int_t)off));
}

static json_t *legacy_obj(legacy_lp *L) {
    return json_pack("{s:o,s:o,s:o,s:o}", "tokens", L->tokens, "token_logprobs", L->token_logprobs, "top_logprobs",
                     L->top_logprobs, "text_offset", L->text_offset);
}

/* The prompt's tokens (echo with logprobs): offsets are the running sum of their pieces, capped at the prompt. */
static void legacy_add_prompt(srv_server *h, legacy_lp *L, const srv_job *j, size_t prompt_len) {
    size_t off = 0;
    char buf[512];
    for (int i = 0; i < j->n_ptoks; i++) {
        legacy_add(h, L, &j->ptoks[i], off < prompt_len ? off : prompt_len, i > 0);
        off += (size_t)tok_piece(h, j->ptoks[i].id, buf, sizeof buf);
    }
}
/* ---- end of logprobs ---------------------------------------------------------------------------------------- */

/* ---- generation ------------------------------------------------------------------------------------------ */
typedef struct stream {
    srv_server *h;
    srv_job *job;
    int fd;
    int chat;
    int include_usage;
    int phase; /* 0: role chunk (chat) or echoed prompt (completions with echo) due, 1: content, 2: all sent */
    size_t sent;
    int tok_sent;  /* logprobs: srv_tokinfo entries sent */
    int logprobs;
    char *echo;    /* completions with echo: the prompt text */
    size_t echo_len;
    char id[48];
    long created;
    srv_buf out;
    size_t off;
} stream;

static json_t *usage_obj(int n_prompt, int n_gen, int n_cached) {
    return json_pack("{s:i,s:i,s:i,s:{s:i}}", "prompt_tokens", n_prompt, "completion_tokens", n_gen, "total_tokens",
                     n_prompt + n_gen, "prompt_tokens_details", "cached_tokens", n_cached);
}

static void sse_put(stream *st, json_t *o) {
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) {
        st->out.oom = 1;
        return;
    }
    srv_buf_puts(&st->out, "data: ");
    srv_buf_puts(&st->out, s);
    srv_buf_puts(&st->out, "\n\n");
    free(s);
}

/* One SSE chunk. text may be NULL (no content), finish NULL (not final), lp NULL (logprobs: null; consumed). */
static void sse_chunk(stream *st, const char *text, size_t n, const char *finish, int role, json_t *lp) {
    srv_server *h = st->h;
    json_t *choice;
    if (!lp) lp = json_null();
    if (st->chat) {
        json_t *delta = json_object();
        if (role) json_object_set_new(delta, "role", json_string("assistant"));
        if (text) json_object_set_new(delta, "content", jstr(text, n));
        choice = json_pack("{s:i,s:o,s:o,s:o}", "index", 0, "delta", delta, "logprobs", lp, "finish_reason",
                           finish ? json_string(finish) : json_null());
    } else {
        choice = json_pack("{s:o,s:i,s:o,s:o}", "text", jstr(text, text ? n : 0), "index", 0, "logprobs", lp,
                           "finish_reason", finish ? json_string(finish) : json_null());
    }
    sse_put(st, json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", st->id, "object",
                          st->chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)st->created,
                          "model", h->model_id, "choices", choice));
}

static void sse_usage(stream *st, int n_prompt, int n_gen, int n_cached) {
    sse_put(st, json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", st->id, "object",
                          st->chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)st->created,
                          "model", st->h->model_id, "choices", "usage", usage_obj(n_prompt, n_gen, n_cached)));
}

/* The logprobs of entries [tok_sent, to) in the stream's format (under j->mu); NULL when not asked for. */
static json_t *stream_lp(stream *st, int to) {
    srv_job *j = st->job;
    if (!st->logprobs) return NULL;
    json_t *lp;
    if (st->chat) {
        lp = chat_logprobs(st->h, j->toks, st->tok_sent, to);
    } else {
        legacy_lp L;
        legacy_init(&L);
        for (int i = st->tok_sent; i < to; i++)
            legacy_add(st->h, &L, &j->toks[i], j->toks[i].text_off + st->echo_len, 1);
        lp = legacy_obj(&L);
    }
    st->tok_sent = to;
    return lp;
}

/* Fill st->out with the next events; returns 0 when there is nothing more to send. */
static int stream_fill(stream *st) {
    srv_job *j = st->job;
    if (st->phase == 2) return 0;
    if (st->phase == 0 && st->chat) {
        sse_chunk(st, "", 0, NULL, 1, NULL);
        st->phase = 1;
        return 1;
    }
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int done = j->done, err_status = j->err_status;
        size_t ready = j->ready;
        int prompt_in = !j->prompt_logprobs || j->n_ptoks >= j->n_prompt || j->n_gen > 0;
        pthread_mutex_unlock(&j->mu);
        if (st->phase == 0 && (prompt_in || done)) { /* the echoed prompt, with its logprobs once known */
            json_t *lp = NULL;
            pthread_mutex_lock(&j->mu);
            if (st->logprobs) {
                legacy_lp L;
                legacy_init(&L);
                legacy_add_prompt(st->h, &L, j, st->echo_len);
                lp = legacy_obj(&L);
            }
            pthread_mutex_unlock(&j->mu);
            sse_chunk(st, st->echo, st->echo_len, NULL, 0, lp);
            st->phase = 1;
            return 1;
        }
        if (st->phase == 1 && ready > st->sent) {
            /* text[sent..ready) is stable: only the scheduler appends, after ready; so are the entries whose
             * text starts before ready */
            pthread_mutex_lock(&j->mu);
            int to = st->tok_sent;
            while (to < j->n_toks && j->toks[to].text_off < ready) to++;
            sse_chunk(st, j->text.p + st->sent, ready - st->sent, NULL, 0, stream_lp(st, to));
            pthread_mutex_unlock(&j->mu);
            st->sent = ready;
            return 1;
        }
        if (done) {
            if (err_status) {
                sse_put(st, error_obj((unsigned)err_status, j->err, NULL, NULL));
            } else {
                pthread_mutex_lock(&j->mu);
                json_t *lp = st->tok_sent < j->n_toks_keep ? stream_lp(st, j->n_toks_keep) : NULL;
                pthread_mutex_unlock(&j->mu);
                sse_chunk(st, st->chat ? NULL : "", 0, j->finish, 0, lp);
                if (st->include_usage) sse_usage(st, j->n_prompt, j->n_gen, j->n_cached);
            }
            srv_buf_puts(&st->out, "data: [DONE]\n\n");
            st->phase = 2;
            return 1;
        }
        if (peer_gone(st->fd, NULL, 1)) {
            j->cancel = 1;
            return -1;
        }
        srv_job_wait(j, st->sent, SRV_POLL_MS);
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    stream *st = cls;
    (void)pos;
    while (st->off >= st->out.len) {
        st->out.len = 0;
        st->off = 0;
        int r = stream_fill(st);
        if (r < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (r == 0) return MHD_CONTENT_READER_END_OF_STREAM;
        if (st->out.oom) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = st->out.len - st->off;
    if (n > max) n = max;
    memcpy(buf, st->out.p + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    stream *st = cls;
    if (!st->job->done) st->job->cancel = 1; /* the client went away before the end */
    srv_job_release(st->job);
    srv_buf_free(&st->out);
    free(st->echo);
    atomic_fetch_sub(&st->h->inflight, 1);
    free(st);
}


/* The bytes of a prompt that cannot fit the context whatever its tokens (issue 19 item 6): a 413 before any
 * tokenizing. 0: it may fit. */
static int prompt_too_big(srv_server *h, struct MHD_Connection *c, size_t bytes, const char *param,
                          enum MHD_Result *ret) {
    if (bytes <= h->max_prompt_bytes) return 0;
    char msg[256];
    snprintf(msg, sizeof msg,
             "the prompt has %zu bytes: at most %zu bytes of text fit the context of %d tokens with this vocabulary "
             "(its longest token is %zu bytes)",
             bytes, h->max_prompt_bytes, srv_sched_n_ctx(h->sched),
             h->max_prompt_bytes / (size_t)(srv_sched_n_ctx(h->sched) > 1 ? srv_sched_n_ctx(h->sched) - 1 : 1));
    *ret = send_error(c, 413, msg, param, "prompt_too_large");
    return 1;
}

static enum MHD_Result handle_generate(srv_server *h, struct MHD_Connection *c, conn *cn, srv_req_kind kind) {
    char msg[512];
    const char *param = NULL;
    srv_request rq;
    enum MHD_Result early;
    if (srv_parse_request(&rq, kind, cn->body.p, cn->body.len, msg, sizeof msg, &param))
        return send_error(c, 400, msg, param, param ? "invalid_value" : "invalid_json");
    int n_ctx = srv_sched_n_ctx(h->sched);
    int32_t *toks = NULL;
    int n = -1;
    char *echo = NULL;
    size_t echo_len = 0;
    if (kind == SRV_REQ_CHAT && h->jinja) {
        /* the model's template over the whole body (messages, tools, chat_template_kwargs), as transformers'
         * apply_chat_template; the text is tokenized without an added BOS (add_special_tokens=False there too:
         * templates write bos_token themselves) */
        char *txt = NULL;
        size_t tl = 0;
        octet_error err;
        memset(&err, 0, sizeof err);
        if (octet_chat_template_apply(h->jinja, h->jinja_len, cn->body.p, cn->body.len, h->bos, h->eos, 1, &txt, &tl,
                                      &err)) {
            srv_request_free(&rq);
            if (err.code == OCTET_ENOMEM) return send_error(c, 500, "out of memory rendering the chat template", NULL, NULL);
            return send_error(c, 400, err.msg, "messages", "invalid_value");
        }
        if (h->log_prompts) fprintf(stderr, "octet serve: prompt (%zu bytes):\n%s\n", tl, txt);
        if (prompt_too_big(h, c, tl, "messages", &early)) {
            octet_chat_template_free(txt);
            srv_request_free(&rq);
            return early;
        }
        n = tokenize(h->m, txt, tl, 0, 1, &toks);
        octet_chat_template_free(txt);
    } else if (kind == SRV_REQ_CHAT) {
        srv_buf p = {0};
        srv_tmpl_apply(h->tmpl, rq.msgs, rq.n_msgs, h->eos, &p);
        if (!p.oom && prompt_too_big(h, c, p.len, "messages", &early)) {
            srv_buf_free(&p);
            srv_request_free(&rq);
            return early;
        }
        if (!p.oom) n = tokenize(h->m, p.p ? p.p : "", p.len, 1, 1, &toks);
        srv_buf_free(&p);
    } else if (rq.prompt_tokens) {
        int V = octet_n_vocab(h->m);
        for (int i = 0; i < rq.n_prompt_tokens; i++)
            if (rq.prompt_tokens[i] >= V) {
                srv_request_free(&rq);
                return send_error(c, 400, "a prompt token id is outside the vocabulary", "prompt", "invalid_value");
            }
        toks = rq.prompt_tokens;
        n = rq.n_prompt_tokens;
        rq.prompt_tokens = NULL;
        if (rq.echo) { /* the prompt's text, as the tokens spell it */
            srv_buf b = {0};
            srv_utf8 u = {{0}, 0};
            char piece[512];
            for (int i = 0; i < n; i++) srv_utf8_put(&u, &b, piece, (size_t)tok_piece(h, toks[i], piece, sizeof piece));
            srv_utf8_flush(&u, &b);
            echo = b.p ? b.p : strdup("");
            echo_len = b.len;
        }
    } else {
        if (prompt_too_big(h, c, rq.prompt_len, "prompt", &early)) {
            srv_request_free(&rq);
            return early;
        }
        n = tokenize(h->m, rq.prompt, rq.prompt_len, 1, 1, &toks);
        if (rq.echo) {
            srv_buf b = {0};
            srv_utf8 u = {{0}, 0};
            srv_utf8_put(&u, &b, rq.prompt, rq.prompt_len);
            srv_utf8_flush(&u, &b);
            echo = b.p ? b.p : strdup("");
            echo_len = b.len;
        }
    }
    if (n < 0 || (rq.echo && !echo)) {
        srv_request_free(&rq);
        free(toks);
        free(echo);
        return send_error(c, 500, "tokenization failed", NULL, NULL);
    }
    if (n == 0) {
        srv_request_free(&rq);
        free(toks);
        free(echo);
        return send_error(c, 400, "the prompt is empty", kind == SRV_REQ_CHAT ? "messages" : "prompt",
                          "invalid_value");
    }
    if (n >= n_ctx) {
        snprintf(msg, sizeof msg, "the prompt has %d tokens but the context holds %d (start the server with -c)", n,
                 n_ctx);
        srv_request_free(&rq);
        free(toks);
        free(echo);
        return send_error(c, 400, msg, kind == SRV_REQ_CHAT ? "messages" : "prompt", "context_length_exceeded");
    }
    srv_job *j = srv_job_new(toks, n);
    if (!j) {
        srv_request_free(&rq);
        free(toks);
        free(echo);
        return send_error(c, 500, "out of memory", NULL, NULL);
    }
    int room = n_ctx - n;
    int max_tokens = rq.max_tokens >= 0 ? rq.max_tokens
                                        : (kind == SRV_REQ_CHAT ? room : SRV_DEFAULT_MAX_TOKENS_COMPLETION);
    j->max_tokens = max_tokens < room ? max_tokens : room;
    j->ignore_eos = rq.ignore_eos;
    j->stream = rq.stream;
    j->cache_prompt = rq.cache_prompt;
    j->logprobs = rq.logprobs;
    j->n_top = rq.top_logprobs;
    j->prompt_logprobs = rq.echo && rq.logprobs;
    j->grammar = rq.grammar; /* the job owns it now */
    rq.grammar = NULL;
    octet_sampler_params sp = octet_sampler_default_params();
    sp.temp = rq.temperature;
    sp.top_p = rq.top_p;
    sp.top_k = 0;
    sp.min_p = 0;
    sp.repeat_penalty = 1;
    static atomic_uint seed_seq;
    sp.seed = rq.seed_given ? rq.seed
                            : (uint64_t)time(NULL) * 6364136223846793005ull + atomic_fetch_add(&seed_seq, 1u);
    j->sp = sp;
    for (int i = 0; i < rq.n_stop; i++) {
        j->stop[j->n_stop++] = rq.stop[i];
        rq.stop[i] = NULL;
    }
    rq.n_stop = 0;
    const char *implied = kind == SRV_REQ_CHAT && !h->jinja ? srv_tmpl_stop(h->tmpl) : NULL;
    if (implied && (j->stop[j->n_stop] = strdup(implied))) j->n_stop++;
    j->text.max = (size_t)64 << 20;
    int stream_it = rq.stream, include_usage = rq.include_usage, want_lp = rq.logprobs;
    srv_request_free(&rq);

    if (srv_sched_submit(h->sched, j)) {
        srv_job_release(j);
        free(echo);
        return send_error_hdr(c, 503, "all slots are busy and the queue is full; retry later", NULL, "queue_full",
                              "Retry-After", "1");
    }
    atomic_fetch_add(&h->inflight, 1);
    char id[48];
    make_id(h, kind == SRV_REQ_CHAT ? "chatcmpl" : "cmpl", id, sizeof id);
    int fd = conn_fd(c);

    if (stream_it) {
        stream *st = calloc(1, sizeof *st);
        struct MHD_Response *r = NULL;
        if (st) {
            st->h = h;
            st->job = j;
            st->fd = fd;
            st->chat = kind == SRV_REQ_CHAT;
            st->phase = st->chat || echo ? 0 : 1;
            st->include_usage = include_usage;
            st->logprobs = want_lp;
            st->echo = echo;
            st->echo_len = echo_len;
            echo = NULL;
            snprintf(st->id, sizeof st->id, "%s", id);
            st->created = (long)time(NULL);
            r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
        }
        if (!r) {
            j->cancel = 1;
            srv_job_release(j);
            if (st) free(st->echo);
            free(st);
            free(echo);
            atomic_fetch_sub(&h->inflight, 1);
            return send_error(c, 500, "out of memory", NULL, NULL);
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        add_common_headers(r);
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }

    /* not streamed: wait for the end, watching for the client going away (a half-closed one stays) */
    int probed = 0, http11 = cn->http11;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int done = j->done;
        pthread_mutex_unlock(&j->mu);
        if (done) break;
        if (peer_gone(fd, &probed, http11)) {
            j->cancel = 1;
            srv_job_release(j);
            free(echo);
            atomic_fetch_sub(&h->inflight, 1);
            return MHD_NO; /* close the connection */
        }
        srv_job_wait(j, (size_t)-1, SRV_POLL_MS);
    }
    enum MHD_Result ret;
    if (j->err_status) {
        ret = send_error(c, (unsigned)j->err_status, j->err, NULL, NULL);
    } else {
        json_t *choice, *lp = json_null();
        if (kind == SRV_REQ_CHAT) {
            if (want_lp) lp = chat_logprobs(h, j->toks, 0, j->n_toks_keep);
            choice = json_pack("{s:i,s:{s:s,s:o},s:o,s:s}", "index", 0, "message", "role", "assistant", "content",
                               jstr(j->text.p, j->text.len), "logprobs", lp, "finish_reason", j->finish);
        } else {
            if (want_lp) {
                legacy_lp L;
                legacy_init(&L);
                if (echo) legacy_add_prompt(h, &L, j, echo_len);
                for (int i = 0; i < j->n_toks_keep; i++) legacy_add(h, &L, &j->toks[i], j->toks[i].text_off + echo_len, 1);
                lp = legacy_obj(&L);
            }
            json_t *text;
            if (echo) {
                srv_buf b = {0};
                srv_buf_put(&b, echo, echo_len);
                srv_buf_put(&b, j->text.p ? j->text.p : "", j->text.len);
                text = jstr(b.p, b.len);
                srv_buf_free(&b);
            } else {
                text = jstr(j->text.p, j->text.len);
            }
            choice = json_pack("{s:o,s:i,s:o,s:s}", "text", text, "index", 0, "logprobs", lp, "finish_reason",
                               j->finish);
        }
        json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[o],s:o}", "id", id, "object",
                              kind == SRV_REQ_CHAT ? "chat.completion" : "text_completion", "created",
                              (json_int_t)time(NULL), "model", h->model_id, "choices", choice, "usage",
                              usage_obj(j->n_prompt, j->n_gen, j->n_cached));
        ret = o ? send_json(c, 200, o) : send_error(c, 500, "out of memory", NULL, NULL);
    }
    free(echo);
    srv_job_release(j);
    atomic_fetch_sub(&h->inflight, 1);
    return ret;
}

/* ---- other endpoints ----------------------------------------------------------------------------------------- */
static enum MHD_Result handle_tokenize(srv_server *h, struct MHD_Connection *c, conn *cn) {
    char msg[512], *content;
    const char *param;
    size_t len;
    int add_special;
    if (srv_parse_tokenize(cn->body.p, cn->body.len, &content, &len, &add_special, msg, sizeof msg, &param))
        return send_error(c, 400, msg, param, param ? "invalid_value" : "invalid_json");
    int32_t *t;
    int n = tokenize(h->m, content, len, add_special, 1, &t);
    free(content);
    if (n < 0) return send_error(c, 500, "tokenization failed", NULL, NULL);
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(t[i]));
    free(t);
    return send_json(c, 200, json_pack("{s:o}", "tokens", a));
}

static enum MHD_Result handle_detokenize(srv_server *h, struct MHD_Connection *c, conn *cn) {
    char msg[512], piece[512];
    const char *param;
    int32_t *t;
    int n;
    if (srv_parse_detokenize(cn->body.p, cn->body.len, &t, &n, msg, sizeof msg, &param))
        return send_error(c, 400, msg, param, param ? "invalid_value" : "invalid_json");
    srv_buf b = {0};
    srv_utf8 u = {{0}, 0};
    int V = octet_n_vocab(h->m);
    for (int i = 0; i < n; i++) {
        if (t[i] >= V) {
            snprintf(msg, sizeof msg, "tokens[%d] = %d is outside the vocabulary (%d)", i, (int)t[i], V);
            free(t);
            srv_buf_free(&b);
            return send_error(c, 400, msg, "tokens", "invalid_value");
        }
        int k = octet_token_to_piece(h->m, t[i], 0, piece, sizeof piece);
        if (k > 0) srv_utf8_put(&u, &b, piece, (size_t)(k < (int)sizeof piece ? k : (int)sizeof piece));
    }
    srv_utf8_flush(&u, &b);
    free(t);
    json_t *o = b.oom ? NULL : json_pack("{s:o}", "content", jstr(b.p, b.len));
    srv_buf_free(&b);
    return o ? send_json(c, 200, o) : send_error(c, 500, "out of memory", NULL, NULL);
}

static json_t *model_obj(srv_server *h) {
    octet_model_info mi;
    octet_model_get_info(h->m, &mi);
    return json_pack("{s:s,s:s,s:I,s:s,s:{s:s,s:i,s:i,s:i,s:I,s:s}}", "id", h->model_id, "object", "model", "created",
                     (json_int_t)h->created, "owned_by", "octet", "meta", "arch", mi.arch, "n_ctx",
                     srv_sched_n_ctx(h->sched), "n_vocab", mi.n_vocab, "n_embd", mi.n_embd, "n_params",
                     (json_int_t)mi.n_params, "chat_template", h->jinja ? "jinja" : srv_tmpl_name(h->tmpl));
}

static enum MHD_Result handle_models(srv_server *h, struct MHD_Connection *c) {
    return send_json(c, 200, json_pack("{s:s,s:[o]}", "object", "list", "data", model_obj(h)));
}

/* GET /v1/models/{id} (OpenAI's "retrieve model"): the model object, or 404 for another id. */
static enum MHD_Result handle_model_one(srv_server *h, struct MHD_Connection *c, const char *id) {
    if (strcmp(id, h->model_id) == 0) return send_json(c, 200, model_obj(h));
    char msg[400];
    snprintf(msg, sizeof msg, "the model '%.200s' does not exist (this server has '%.100s')", id, h->model_id);
    return send_error(c, 404, msg, "model", "model_not_found");
}

/* Standard base64 (RFC 4648 section 4) of n bytes, NUL-terminated, malloc'd. */
static char *base64(const unsigned char *p, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((n + 2) / 3 * 4 + 1), *q = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *q++ = A[v >> 18 & 63];
        *q++ = A[v >> 12 & 63];
        *q++ = i + 1 < n ? A[v >> 6 & 63] : '=';
        *q++ = i + 2 < n ? A[v & 63] : '=';
    }
    *q = 0;
    return o;
}

/* POST /v1/embeddings: each input runs as a job in a slot (its prompt evaluated from an empty cache, the final
 * hidden states after the output norm mean-pooled over the tokens and L2-normalised: see docs/server.md). */
static enum MHD_Result handle_embeddings(srv_server *h, struct MHD_Connection *c, conn *cn) {
    char msg[512];
    const char *param = NULL;
    srv_embed_request rq;
    if (!srv_sched_can_embed(h->sched))
        return send_error(c, 501, "embeddings need float execution in one process (not --exec int, not mpiexec)",
                          NULL, "unsupported");
    if (srv_parse_embeddings(&rq, cn->body.p, cn->body.len, msg, sizeof msg, &param))
        return send_error(c, 400, msg, param, param ? "invalid_value" : "invalid_json");
    int n_ctx = srv_sched_n_ctx(h->sched), V = octet_n_vocab(h->m), fd = conn_fd(c), total = 0;
    json_t *data = json_array();
    enum MHD_Result ret = MHD_NO;
    int failed = 0, probed = 0, http11 = cn->http11;
    atomic_fetch_add(&h->inflight, 1);
    for (int i = 0; i < rq.n && !failed; i++) {
        int32_t *toks = NULL;
        int n;
        if (rq.texts[i]) {
            if (prompt_too_big(h, c, rq.lens[i], "input", &ret)) {
                failed = 1;
                break;
            }
            n = tokenize(h->m, rq.texts[i], rq.lens[i], 1, 0, &toks);
        } else {
            toks = rq.toks[i];
            rq.toks[i] = NULL;
            n = rq.n_toks[i];
            for (int k = 0; k < n; k++)
                if (toks[k] >= V) n = -2;
        }
        if (n < 0 || n > n_ctx) {
            free(toks);
            if (n == -1) ret = send_error(c, 500, "tokenization failed", NULL, NULL);
            else if (n == -2) ret = send_error(c, 400, "a token id is outside the vocabulary", "input", "invalid_value");
            else {
                snprintf(msg, sizeof msg, "input[%d] has %d tokens but the context holds %d", i, n, n_ctx);
                ret = send_error(c, 400, msg, "input", "context_length_exceeded");
            }
            failed = 1;
            break;
        }
        srv_job *j = srv_job_new(toks, n);
        if (!j) {
            free(toks);
            ret = send_error(c, 500, "out of memory", NULL, NULL);
            failed = 1;
            break;
        }
        j->embed = 1;
        j->sp = octet_sampler_default_params();
        if (srv_sched_submit(h->sched, j)) {
            srv_job_release(j);
            ret = send_error_hdr(c, 503, "all slots are busy and the queue is full; retry later", NULL, "queue_full",
                                 "Retry-After", "1");
            failed = 1;
            break;
        }
        for (;;) {
            pthread_mutex_lock(&j->mu);
            int done = j->done;
            pthread_mutex_unlock(&j->mu);
            if (done) break;
            if (peer_gone(fd, &probed, http11)) {
                j->cancel = 1;
                failed = 2;
                break;
            }
            srv_job_wait(j, (size_t)-1, SRV_POLL_MS);
        }
        if (failed) {
            srv_job_release(j);
            ret = MHD_NO;
            break;
        }
        if (j->err_status || !j->emb || j->n_embd <= 0) {
            ret = send_error(c, j->err_status ? (unsigned)j->err_status : 500, j->err[0] ? j->err : "no embedding",
                             NULL, NULL);
            srv_job_release(j);
            failed = 1;
            break;
        }
        json_t *e;
        if (rq.base64) { /* the float32 values' little-endian bytes, as OpenAI's encoding_format "base64" */
            unsigned char *bytes = malloc((size_t)j->n_embd * 4);
            char *b64 = NULL;
            if (bytes) {
                for (int k = 0; k < j->n_embd; k++) {
                    uint32_t u;
                    memcpy(&u, &j->emb[k], 4);
                    for (int q = 0; q < 4; q++) bytes[4 * k + q] = (unsigned char)(u >> (8 * q));
                }
                b64 = base64(bytes, (size_t)j->n_embd * 4);
            }
            free(bytes);
            e = b64 ? json_string(b64) : NULL;
            free(b64);
        } else {
            e = json_array();
            for (int k = 0; k < j->n_embd; k++) json_array_append_new(e, json_real((double)j->emb[k]));
        }
        total += n;
        json_array_append_new(data, json_pack("{s:s,s:i,s:o}", "object", "embedding", "index", i, "embedding", e));
        srv_job_release(j);
    }
    srv_embed_request_free(&rq);
    if (!failed)
        ret = send_json(c, 200, json_pack("{s:s,s:O,s:s,s:{s:i,s:i}}", "object", "list", "data", data, "model",
                                          h->model_id, "usage", "prompt_tokens", total, "total_tokens", total));
    json_decref(data);
    atomic_fetch_sub(&h->inflight, 1);
    return ret;
}

/* ---- routing ------------------------------------------------------------------------------------------------- */
enum { R_PAGE, R_HEALTH, R_MODELS, R_MODEL_ONE, R_COMPL, R_CHAT, R_TOK, R_DETOK, R_EMBED };
static const struct {
    const char *path; /* a trailing '/' marks a prefix ("/v1/models/" + an id) */
    const char *method;
    int id;
} ROUTES[] = {
    {"/", "GET", R_PAGE},
    {"/index.html", "GET", R_PAGE},
    {"/health", "GET", R_HEALTH},
    {"/v1/models", "GET", R_MODELS},
    {"/models", "GET", R_MODELS},
    {"/v1/models/", "GET", R_MODEL_ONE},
    {"/models/", "GET", R_MODEL_ONE},
    {"/v1/completions", "POST", R_COMPL},
    {"/completions", "POST", R_COMPL},
    {"/v1/chat/completions", "POST", R_CHAT},
    {"/chat/completions", "POST", R_CHAT},
    {"/v1/embeddings", "POST", R_EMBED},
    {"/embeddings", "POST", R_EMBED},
    {"/tokenize", "POST", R_TOK},
    {"/detokenize", "POST", R_DETOK},
};
#define N_ROUTES (int)(sizeof ROUTES / sizeof ROUTES[0])

static int path_match(const char *pat, const char *url) {
    size_t n = strlen(pat);
    if (n > 1 && pat[n - 1] == '/') return strncmp(url, pat, n) == 0 && url[n] != 0;
    return strcmp(url, pat) == 0;
}

/* Which route serves (url, method); -1 with *known set when the path exists for other methods (listed in allow). */
static int find_route(const char *url, const char *method, int *known, char *allow, size_t allow_size) {
    int route = -1, get = 0, post = 0;
    *known = 0;
    for (int i = 0; i < N_ROUTES; i++) {
        if (!path_match(ROUTES[i].path, url)) continue;
        *known = 1;
        if (!strcmp(ROUTES[i].method, "GET")) get = 1;
        else post = 1;
        if (strcmp(method, ROUTES[i].method) == 0 || (strcmp(method, "HEAD") == 0 && !strcmp(ROUTES[i].method, "GET")))
            route = ROUTES[i].id;
    }
    snprintf(allow, allow_size, "%s%s%s%s", get ? "GET, HEAD" : "", get && post ? ", " : "", post ? "POST" : "",
             g_cors ? ", OPTIONS" : "");
    return route;
}

/* Is the request's Content-Type application/json (parameters such as charset allowed)? */
static int is_json(struct MHD_Connection *c) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ct) return 0;
    while (*ct == ' ') ct++;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static conn_rec *conn_rec_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (conn_rec *)ci->socket_context : NULL;
}

/* The request is in (headers and body): the read deadline no longer applies until the response is done. */
static void conn_read_done(srv_server *h, struct MHD_Connection *c) {
    conn_rec *r = conn_rec_of(c);
    if (!r) return;
    pthread_mutex_lock(&h->cmu);
    r->reading = 0;
    pthread_mutex_unlock(&h->cmu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    srv_server *h = cls;
    conn *cn = *con_cls;
    if (!cn) { /* headers are in: everything that needs no body is decided now, before the body is read */
        conn_rec *rec = conn_rec_of(c);
        if (rec && rec->rejected) return MHD_NO; /* already answered 503 at accept */
        cn = calloc(1, sizeof *cn);
        if (!cn) return MHD_NO;
        cn->body.max = SRV_MAX_BODY_BYTES;
        cn->http11 = version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
        *con_cls = cn;
        char allow[64];
        int known;
        cn->route = find_route(url, method, &known, allow, sizeof allow);
        if (strcmp(method, "OPTIONS") == 0 && known && g_cors) { /* CORS preflight (fetch standard) */
            struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            if (!r) return MHD_NO;
            const char *rh = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Headers");
            MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            MHD_add_response_header(r, "Access-Control-Allow-Headers",
                                    rh && strlen(rh) < 1024 ? rh : "Authorization, Content-Type");
            MHD_add_response_header(r, "Access-Control-Max-Age", "600");
            add_common_headers(r);
            enum MHD_Result ret = MHD_queue_response(c, 204, r);
            MHD_destroy_response(r);
            cn->answered = 1;
            return ret;
        }
        if (cn->route < 0) {
            cn->answered = 1;
            if (!known) return send_error(c, 404, "no such endpoint", NULL, "not_found");
            char msg[160];
            snprintf(msg, sizeof msg, "method %.16s is not allowed on %.100s", method, url);
            return send_error_hdr(c, 405, msg, NULL, "method_not_allowed", "Allow", allow);
        }
        if (cn->route != R_PAGE && cn->route != R_HEALTH && !auth_ok(h, c)) { /* before reading any body */
            cn->answered = 1;
            return send_error(c, 401, "missing or wrong API key (Authorization: Bearer KEY)", NULL, "invalid_api_key");
        }
        if (strcmp(method, "POST") == 0 && !is_json(c)) {
            cn->answered = 1;
            return send_error(c, 415, "POST bodies must be JSON (Content-Type: application/json)", NULL,
                              "unsupported_media_type");
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > SRV_MAX_BODY_BYTES) {
            char msg[128];
            cn->answered = 1;
            snprintf(msg, sizeof msg, "the request body is larger than %u bytes", (unsigned)SRV_MAX_BODY_BYTES);
            return send_error(c, 413, msg, NULL, "body_too_large");
        }
        return MHD_YES;
    }
    if (cn->answered == 1) { /* a body after an answer queued with the headers: not read */
        *upload_size = 0;
        return MHD_YES;
    }
    if (cn->answered == 2) { /* answered 413 on the socket: drain a little so the answer is not lost to a reset */
        if (!*upload_size) return MHD_NO; /* the body's end: close */
        cn->drained += *upload_size;
        *upload_size = 0;
        return cn->drained < 4 * (size_t)SRV_MAX_BODY_BYTES ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        srv_buf_put(&cn->body, upload, *upload_size);
        *upload_size = 0;
        if (cn->body.oom) {
            /* Over the cap (a chunked body has no Content-Length to refuse it by): answered now, not at its end.
             * libmicrohttpd 0.9.75 cannot queue a response while a body is arriving, so the 413 is written to the
             * socket directly (nothing else has been sent on it), with Connection: close; the connection is closed
             * once the client stops or a few more MiB have come. */
            char body[256], head[512];
            int bn = snprintf(body, sizeof body,
                              "{\"error\":{\"message\":\"the request body is larger than %u bytes\",\"type\":"
                              "\"invalid_request_error\",\"param\":null,\"code\":\"body_too_large\"}}",
                              (unsigned)SRV_MAX_BODY_BYTES);
            int hn = snprintf(head, sizeof head,
                              "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\nContent-Length: "
                              "%d\r\nConnection: close\r\n%s%s%s\r\n",
                              bn, g_cors ? "Access-Control-Allow-Origin: " : "", g_cors ? g_cors : "",
                              g_cors ? "\r\n" : "");
            int fd = conn_fd(c);
            cn->answered = 2;
            if (fd < 0 || send(fd, head, (size_t)hn, MSG_NOSIGNAL) != hn || send(fd, body, (size_t)bn, MSG_NOSIGNAL) != bn)
                return MHD_NO;
            shutdown(fd, SHUT_WR);
        }
        return MHD_YES;
    }
    conn_read_done(h, c);

    int route = cn->route;
    if (route == R_PAGE) {
        size_t len;
        const char *page = srv_page_html(&len);
        return send_bytes(c, 200, "text/html; charset=utf-8", page, len, MHD_RESPMEM_PERSISTENT);
    }
    int ready = atomic_load(&h->ready);
    if (route == R_HEALTH) {
        if (ready == 1) {
            int n_slots, n_active, n_queued;
            srv_sched_counts(h->sched, &n_slots, &n_active, &n_queued);
            return send_json(c, 200, json_pack("{s:s,s:i,s:i,s:i}", "status", "ok", "slots_idle", n_slots - n_active,
                                               "slots_processing", n_active, "queued", n_queued));
        }
        return send_error(c, 503, ready == 2 ? "the server is shutting down" : "loading the model", NULL,
                          ready == 2 ? "shutting_down" : "loading");
    }
    if (ready != 1)
        return send_error(c, 503, ready == 2 ? "the server is shutting down" : "loading the model", NULL,
                          ready == 2 ? "shutting_down" : "loading");
    switch (route) {
    case R_MODELS: return handle_models(h, c);
    case R_MODEL_ONE: return handle_model_one(h, c, url + (strncmp(url, "/v1/", 4) == 0 ? 11 : 8));
    case R_COMPL: return handle_generate(h, c, cn, SRV_REQ_COMPLETION);
    case R_CHAT: return handle_generate(h, c, cn, SRV_REQ_CHAT);
    case R_EMBED: return handle_embeddings(h, c, cn);
    case R_TOK: return handle_tokenize(h, c, cn);
    default: return handle_detokenize(h, c, cn);
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode tc) {
    srv_server *h = cls;
    (void)tc;
    conn *cn = *con_cls;
    conn_rec *r = conn_rec_of(c);
    if (r) { /* the next request on this connection is read under a fresh deadline */
        pthread_mutex_lock(&h->cmu);
        r->reading = 1;
        r->t_read = now_s();
        pthread_mutex_unlock(&h->cmu);
    }
    if (!cn) return;
    srv_buf_free(&cn->body);
    free(cn);
    *con_cls = NULL;
}

/* ---- the connection guard (issue 19 item 6) ------------------------------------------------------------------ */
static int same_addr(const conn_rec *a, const conn_rec *b) {
    return a->family == b->family && memcmp(a->addr, b->addr, sizeof a->addr) == 0;
}

/* MHD tells of every accepted and closed connection (on its accepting thread / the connection's thread). Over the
 * per-address cap, the connection is answered 503 with Retry-After at once and closed, so one address holding many
 * idle sockets cannot lock others out, and is told why. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    srv_server *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_rec *r = *socket_context;
        if (!r) return;
        pthread_mutex_lock(&h->cmu);
        if (r->prev) r->prev->next = r->next;
        else h->conns = r->next;
        if (r->next) r->next->prev = r->prev;
        pthread_mutex_unlock(&h->cmu);
        if (r->fd >= 0) close(r->fd);
        free(r);
        *socket_context = NULL;
        return;
    }
    conn_rec *r = calloc(1, sizeof *r);
    if (!r) return;
    int fd = conn_fd(c);
    r->fd = fd >= 0 ? dup(fd) : -1;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        r->family = ci->client_addr->sa_family;
        if (r->family == AF_INET) memcpy(r->addr, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr, 4);
        else if (r->family == AF_INET6)
            memcpy(r->addr, &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr, 16);
    }
    r->t_read = now_s();
    r->reading = 1;
    int same = 0;
    pthread_mutex_lock(&h->cmu);
    for (conn_rec *o = h->conns; o; o = o->next)
        if (!o->rejected && same_addr(o, r)) same++;
    r->rejected = h->cfg.max_conn_per_addr > 0 && same >= h->cfg.max_conn_per_addr;
    r->next = h->conns;
    if (h->conns) h->conns->prev = r;
    h->conns = r;
    pthread_mutex_unlock(&h->cmu);
    *socket_context = r;
    if (r->rejected && r->fd >= 0) {
        char body[256], msg[512];
        snprintf(body, sizeof body,
                 "{\"error\":{\"message\":\"too many connections from this address (at most %d)\",\"type\":"
                 "\"server_busy\",\"param\":null,\"code\":\"too_many_connections\"}}",
                 h->cfg.max_conn_per_addr);
        int n = snprintf(msg, sizeof msg,
                         "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         strlen(body), body);
        if (send(r->fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) { /* nothing more to do */
        }
        shutdown(r->fd, SHUT_WR);
    }
}

/* Every 100 ms: a connection still sending its headers or body after the read deadline (total, not inactivity:
 * a client sending a byte every few seconds is cut too), or rejected more than 0.2 s ago (its 503 is on the wire;
 * it must not hold one of the SRV_MAX_CONNECTIONS places for long), is shut down; MHD then sees the socket fail
 * and closes it. */
static void *guard_main(void *arg) {
    srv_server *h = arg;
    while (!atomic_load(&h->guard_stop)) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        double now = now_s();
        pthread_mutex_lock(&h->cmu);
        for (conn_rec *r = h->conns; r; r = r->next) {
            if (r->killed || r->fd < 0) continue;
            if ((r->reading && now - r->t_read > h->cfg.read_timeout) || (r->rejected && now - r->t_read > 0.2)) {
                shutdown(r->fd, SHUT_RDWR);
                r->killed = 1;
            }
        }
        pthread_mutex_unlock(&h->cmu);
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------------------------ */
int srv_http_start(srv_server **out, const srv_config *cfg, char *msg, size_t msg_size) {
    *out = NULL;
    srv_server *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(msg, msg_size, "out of memory");
        return -1;
    }
    h->cfg = *cfg;
    if (h->cfg.read_timeout <= 0) h->cfg.read_timeout = SRV_READ_TIMEOUT;
    g_cors = cfg->cors && *cfg->cors ? cfg->cors : NULL;
    pthread_mutex_init(&h->cmu, NULL);
    h->created = (long)time(NULL);
    const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
    if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    const struct sockaddr *sa;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)cfg->port);
        sa = (const struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)cfg->port);
        sa = (const struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(msg, msg_size, "--host: '%s' is not an IPv4 or IPv6 address", host);
        free(h);
        return -1;
    }
    h->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
                            on_connection, h, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)SRV_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SRV_CONN_TIMEOUT,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024), MHD_OPTION_END);
    if (!h->d) {
        snprintf(msg, msg_size, "cannot listen on %s port %d (in use, or not permitted)", host, cfg->port);
        free(h);
        return -1;
    }
    if (pthread_create(&h->guard, NULL, guard_main, h) == 0) h->guard_started = 1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : cfg->port;
    *out = h;
    return 0;
}

int srv_http_port(const srv_server *h) { return h->port; }

void srv_http_set_ready(srv_server *h, const octet_model *m, srv_sched *sched, const char *model_id, srv_tmpl tmpl,
                        const char *eos_text) {
    h->m = m;
    h->sched = sched;
    srv_buf b = {0};
    srv_utf8 u = {{0}, 0};
    srv_utf8_put(&u, &b, model_id, strlen(model_id));
    srv_utf8_flush(&u, &b);
    snprintf(h->model_id, sizeof h->model_id, "%s", b.p ? b.p : "model");
    srv_buf_free(&b);
    h->tmpl = tmpl;
    snprintf(h->eos, sizeof h->eos, "%s", eos_text ? eos_text : "");
    /* A token stands for at most max_piece bytes of text, so a prompt of more than (n_ctx - 1) * max_piece bytes
     * needs at least n_ctx tokens and cannot fit whatever it says: such prompts are refused by size, before the
     * tokenizer spends time and memory on them. */
    size_t max_piece = 1;
    char piece[512];
    for (int i = 0; i < octet_n_vocab(m); i++) {
        int k = octet_token_to_piece(m, i, 1, piece, sizeof piece);
        if (k > (int)max_piece) max_piece = (size_t)k;
    }
    int n_ctx = srv_sched_n_ctx(sched);
    h->max_prompt_bytes = (size_t)(n_ctx > 1 ? n_ctx - 1 : 1) * max_piece;
    atomic_store(&h->ready, 1);
}

void srv_http_set_template(srv_server *h, const char *tmpl, size_t len, const char *bos_text, int log_prompts) {
    h->jinja = tmpl;
    h->jinja_len = len;
    snprintf(h->bos, sizeof h->bos, "%s", bos_text ? bos_text : "");
    h->log_prompts = log_prompts;
}

void srv_http_quiesce(srv_server *h) {
    atomic_store(&h->ready, 2);
    MHD_socket fd = MHD_quiesce_daemon(h->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

int srv_http_inflight(srv_server *h) { return atomic_load(&h->inflight); }

void srv_http_stop(srv_server *h) {
    if (!h) return;
    if (h->guard_started) {
        atomic_store(&h->guard_stop, 1);
        pthread_join(h->guard, NULL);
    }
    if (h->d) MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->cmu);
    free(h);
}
