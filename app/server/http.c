/*
 * http.c - the HTTP side of `octet serve` on libmicrohttpd (one thread per connection, so a connection may
 * block while its request is generated) with jansson for JSON.
 *
 * Routes: GET / (chat page), GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions
 * (also without the /v1 prefix), POST /tokenize, POST /detokenize. Errors are OpenAI error objects
 * {"error": {"message", "type", "param", "code"}} with a 4xx/5xx status. Streaming answers are server-sent
 * events (https://html.spec.whatwg.org/multipage/server-sent-events.html): "data: JSON\n\n" per chunk and
 * "data: [DONE]\n\n" at the end, as OpenAI's API sends them.
 *
 * Disconnects: a connection waiting for tokens polls its socket for a hang-up every SRV_POLL_MS and sets
 * job->cancel, so the scheduler frees the slot at its next step; MHD's free callback of a streamed response
 * does the same when MHD itself notices the peer is gone.
 */
#include <arpa/inet.h>
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

struct srv_server {
    struct MHD_Daemon *d;
    srv_config cfg;
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
    int too_big;
} conn;

/* ---- responses ---------------------------------------------------------------------------------------------- */
static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned status, const char *type, const char *data,
                                  size_t len, enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, mode);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
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

/* A JSON string of valid UTF-8 bytes. */
static json_t *jstr(const char *s, size_t n) { return json_stringn(s ? s : "", s ? n : 0); }

/* ---- helpers -------------------------------------------------------------------------------------------------- */
static int peer_gone(int fd) {
    if (fd < 0) return 0;
    struct pollfd p = {fd, POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return 0;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
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

/* ---- generation ------------------------------------------------------------------------------------------ */
typedef struct stream {
    srv_server *h;
    srv_job *job;
    int fd;
    int chat;
    int include_usage;
    int phase; /* 0: role chunk due (chat), 1: content, 2: all sent */
    size_t sent;
    char id[48];
    long created;
    srv_buf out;
    size_t off;
} stream;

static json_t *usage_obj(int n_prompt, int n_gen) {
    return json_pack("{s:i,s:i,s:i}", "prompt_tokens", n_prompt, "completion_tokens", n_gen, "total_tokens",
                     n_prompt + n_gen);
}

/* One SSE chunk. text may be NULL (no content), finish NULL (not final). */
static void sse_chunk(stream *st, const char *text, size_t n, const char *finish, int role) {
    srv_server *h = st->h;
    json_t *choice;
    if (st->chat) {
        json_t *delta = json_object();
        if (role) json_object_set_new(delta, "role", json_string("assistant"));
        if (text) json_object_set_new(delta, "content", jstr(text, n));
        choice = json_pack("{s:i,s:o,s:O,s:o}", "index", 0, "delta", delta, "logprobs", json_null(), "finish_reason",
                           finish ? json_string(finish) : json_null());
    } else {
        choice = json_pack("{s:o,s:i,s:O,s:o}", "text", jstr(text, text ? n : 0), "index", 0, "logprobs",
                           json_null(), "finish_reason", finish ? json_string(finish) : json_null());
    }
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", st->id, "object",
                          st->chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)st->created,
                          "model", h->model_id, "choices", choice);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return;
    srv_buf_puts(&st->out, "data: ");
    srv_buf_puts(&st->out, s);
    srv_buf_puts(&st->out, "\n\n");
    free(s);
}

static void sse_usage(stream *st, int n_prompt, int n_gen) {
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", st->id, "object",
                          st->chat ? "chat.completion.chunk" : "text_completion", "created",
                          (json_int_t)st->created, "model", st->h->model_id, "choices", "usage",
                          usage_obj(n_prompt, n_gen));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return;
    srv_buf_puts(&st->out, "data: ");
    srv_buf_puts(&st->out, s);
    srv_buf_puts(&st->out, "\n\n");
    free(s);
}

/* Fill st->out with the next events; returns 0 when there is nothing more to send. */
static int stream_fill(stream *st) {
    srv_job *j = st->job;
    if (st->phase == 2) return 0;
    if (st->phase == 0) {
        sse_chunk(st, "", 0, NULL, 1);
        st->phase = 1;
        return 1;
    }
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int done = j->done, err_status = j->err_status;
        size_t ready = j->ready;
        pthread_mutex_unlock(&j->mu);
        if (ready > st->sent) {
            /* text[sent..ready) is stable: only the scheduler appends, after ready */
            pthread_mutex_lock(&j->mu);
            sse_chunk(st, j->text.p + st->sent, ready - st->sent, NULL, 0);
            pthread_mutex_unlock(&j->mu);
            st->sent = ready;
            return 1;
        }
        if (done) {
            if (err_status) {
                json_t *e = error_obj((unsigned)err_status, j->err, NULL, NULL);
                char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
                json_decref(e);
                if (s) {
                    srv_buf_puts(&st->out, "data: ");
                    srv_buf_puts(&st->out, s);
                    srv_buf_puts(&st->out, "\n\n");
                    free(s);
                }
            } else {
                sse_chunk(st, st->chat ? NULL : "", 0, j->finish, 0);
                if (st->include_usage) sse_usage(st, j->n_prompt, j->n_gen);
            }
            srv_buf_puts(&st->out, "data: [DONE]\n\n");
            st->phase = 2;
            return 1;
        }
        if (peer_gone(st->fd)) {
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
    atomic_fetch_sub(&st->h->inflight, 1);
    free(st);
}

static enum MHD_Result handle_generate(srv_server *h, struct MHD_Connection *c, conn *cn, srv_req_kind kind) {
    char msg[512];
    const char *param = NULL;
    srv_request rq;
    if (srv_parse_request(&rq, kind, cn->body.p, cn->body.len, msg, sizeof msg, &param))
        return send_error(c, 400, msg, param, param ? "invalid_value" : "invalid_json");
    int n_ctx = srv_sched_n_ctx(h->sched);
    int32_t *toks = NULL;
    int n = -1;
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
        n = tokenize(h->m, txt, tl, 0, 1, &toks);
        octet_chat_template_free(txt);
    } else if (kind == SRV_REQ_CHAT) {
        srv_buf p = {0};
        srv_tmpl_apply(h->tmpl, rq.msgs, rq.n_msgs, h->eos, &p);
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
    } else {
        n = tokenize(h->m, rq.prompt, rq.prompt_len, 1, 1, &toks);
    }
    if (n < 0) {
        srv_request_free(&rq);
        free(toks);
        return send_error(c, 500, "tokenization failed", NULL, NULL);
    }
    if (n == 0) {
        srv_request_free(&rq);
        free(toks);
        return send_error(c, 400, "the prompt is empty", kind == SRV_REQ_CHAT ? "messages" : "prompt",
                          "invalid_value");
    }
    if (n >= n_ctx) {
        snprintf(msg, sizeof msg, "the prompt has %d tokens but the context holds %d (start the server with -c)", n,
                 n_ctx);
        srv_request_free(&rq);
        free(toks);
        return send_error(c, 400, msg, kind == SRV_REQ_CHAT ? "messages" : "prompt", "context_length_exceeded");
    }
    srv_job *j = srv_job_new(toks, n);
    if (!j) {
        srv_request_free(&rq);
        free(toks);
        return send_error(c, 500, "out of memory", NULL, NULL);
    }
    int room = n_ctx - n;
    int max_tokens = rq.max_tokens >= 0 ? rq.max_tokens
                                        : (kind == SRV_REQ_CHAT ? room : SRV_DEFAULT_MAX_TOKENS_COMPLETION);
    j->max_tokens = max_tokens < room ? max_tokens : room;
    j->ignore_eos = rq.ignore_eos;
    j->stream = rq.stream;
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
    int stream_it = rq.stream, include_usage = rq.include_usage;
    srv_request_free(&rq);

    if (srv_sched_submit(h->sched, j)) {
        srv_job_release(j);
        return send_error(c, 503, "all slots are busy and the queue is full; retry later", NULL, "queue_full");
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
            st->phase = st->chat ? 0 : 1;
            st->include_usage = include_usage;
            snprintf(st->id, sizeof st->id, "%s", id);
            st->created = (long)time(NULL);
            r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
        }
        if (!r) {
            j->cancel = 1;
            srv_job_release(j);
            free(st);
            atomic_fetch_sub(&h->inflight, 1);
            return send_error(c, 500, "out of memory", NULL, NULL);
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }

    /* not streamed: wait for the end, watching for the client going away */
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int done = j->done;
        pthread_mutex_unlock(&j->mu);
        if (done) break;
        if (peer_gone(fd)) {
            j->cancel = 1;
            srv_job_release(j);
            atomic_fetch_sub(&h->inflight, 1);
            return MHD_NO; /* close the connection */
        }
        srv_job_wait(j, (size_t)-1, SRV_POLL_MS);
    }
    enum MHD_Result ret;
    if (j->err_status) {
        ret = send_error(c, (unsigned)j->err_status, j->err, NULL, NULL);
    } else {
        json_t *choice;
        if (kind == SRV_REQ_CHAT)
            choice = json_pack("{s:i,s:{s:s,s:o},s:O,s:s}", "index", 0, "message", "role", "assistant", "content",
                               jstr(j->text.p, j->text.len), "logprobs", json_null(), "finish_reason", j->finish);
        else
            choice = json_pack("{s:o,s:i,s:O,s:s}", "text", jstr(j->text.p, j->text.len), "index", 0, "logprobs",
                               json_null(), "finish_reason", j->finish);
        json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[o],s:o}", "id", id, "object",
                              kind == SRV_REQ_CHAT ? "chat.completion" : "text_completion", "created",
                              (json_int_t)time(NULL), "model", h->model_id, "choices", choice, "usage",
                              usage_obj(j->n_prompt, j->n_gen));
        ret = o ? send_json(c, 200, o) : send_error(c, 500, "out of memory", NULL, NULL);
    }
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

static enum MHD_Result handle_models(srv_server *h, struct MHD_Connection *c) {
    octet_model_info mi;
    octet_model_get_info(h->m, &mi);
    json_t *o = json_pack("{s:s,s:[{s:s,s:s,s:I,s:s,s:{s:s,s:i,s:i,s:I,s:s}}]}", "object", "list", "data", "id",
                          h->model_id, "object", "model", "created", (json_int_t)h->created, "owned_by", "octet",
                          "meta", "arch", mi.arch, "n_ctx", srv_sched_n_ctx(h->sched), "n_vocab", mi.n_vocab,
                          "n_params", (json_int_t)mi.n_params, "chat_template",
                          h->jinja ? "jinja" : srv_tmpl_name(h->tmpl));
    return send_json(c, 200, o);
}

/* ---- routing ------------------------------------------------------------------------------------------------- */
enum { R_PAGE, R_HEALTH, R_MODELS, R_COMPL, R_CHAT, R_TOK, R_DETOK };
static const struct {
    const char *path;
    const char *method;
    int id;
} ROUTES[] = {
    {"/", "GET", R_PAGE},
    {"/index.html", "GET", R_PAGE},
    {"/health", "GET", R_HEALTH},
    {"/v1/models", "GET", R_MODELS},
    {"/models", "GET", R_MODELS},
    {"/v1/completions", "POST", R_COMPL},
    {"/completions", "POST", R_COMPL},
    {"/v1/chat/completions", "POST", R_CHAT},
    {"/chat/completions", "POST", R_CHAT},
    {"/tokenize", "POST", R_TOK},
    {"/detokenize", "POST", R_DETOK},
};
#define N_ROUTES (int)(sizeof ROUTES / sizeof ROUTES[0])

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    srv_server *h = cls;
    (void)version;
    conn *cn = *con_cls;
    if (!cn) {
        cn = calloc(1, sizeof *cn);
        if (!cn) return MHD_NO;
        cn->body.max = SRV_MAX_BODY_BYTES;
        *con_cls = cn;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > SRV_MAX_BODY_BYTES) {
            char msg[128];
            snprintf(msg, sizeof msg, "the request body is larger than %u bytes", (unsigned)SRV_MAX_BODY_BYTES);
            return send_error(c, 413, msg, NULL, "body_too_large");
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cn->too_big) {
            srv_buf_put(&cn->body, upload, *upload_size);
            if (cn->body.oom) cn->too_big = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cn->too_big) {
        char msg[128];
        snprintf(msg, sizeof msg, "the request body is larger than %u bytes", (unsigned)SRV_MAX_BODY_BYTES);
        return send_error(c, 413, msg, NULL, "body_too_large");
    }

    int route = -1, path_known = 0;
    for (int i = 0; i < N_ROUTES; i++) {
        if (strcmp(url, ROUTES[i].path) != 0) continue;
        path_known = 1;
        if (strcmp(method, ROUTES[i].method) == 0 || (strcmp(method, "HEAD") == 0 && !strcmp(ROUTES[i].method, "GET")))
            route = ROUTES[i].id;
    }
    if (route < 0) {
        if (!path_known) return send_error(c, 404, "no such endpoint", NULL, "not_found");
        char msg[160];
        snprintf(msg, sizeof msg, "method %.16s is not allowed on %.100s", method, url);
        return send_error(c, 405, msg, NULL, "method_not_allowed");
    }
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
    if (!auth_ok(h, c)) return send_error(c, 401, "missing or wrong API key (Authorization: Bearer KEY)", NULL,
                                          "invalid_api_key");
    if (ready != 1)
        return send_error(c, 503, ready == 2 ? "the server is shutting down" : "loading the model", NULL,
                          ready == 2 ? "shutting_down" : "loading");
    switch (route) {
    case R_MODELS: return handle_models(h, c);
    case R_COMPL: return handle_generate(h, c, cn, SRV_REQ_COMPLETION);
    case R_CHAT: return handle_generate(h, c, cn, SRV_REQ_CHAT);
    case R_TOK: return handle_tokenize(h, c, cn);
    default: return handle_detokenize(h, c, cn);
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode tc) {
    (void)cls;
    (void)c;
    (void)tc;
    conn *cn = *con_cls;
    if (!cn) return;
    srv_buf_free(&cn->body);
    free(cn);
    *con_cls = NULL;
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
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)SRV_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SRV_CONN_TIMEOUT,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024), MHD_OPTION_END);
    if (!h->d) {
        snprintf(msg, msg_size, "cannot listen on %s port %d (in use, or not permitted)", host, cfg->port);
        free(h);
        return -1;
    }
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
    if (h->d) MHD_stop_daemon(h->d);
    free(h);
}
