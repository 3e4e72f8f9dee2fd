/*
 * pipeline.c - pipeline parallelism over a transport: a model's layers cut into contiguous stages, one per
 * rank, with several sequences in flight as micro-batches.
 *
 * Roles. Rank 0 drives: it runs stage 0 (the token embedding and the first layers) for a submission, sends the
 * n x n_embd float32 hidden states to rank 1 and returns, so it can start the next micro-batch while rank 1
 * works on this one. Rank r > 0 loops in serve: receive from r-1, run its layers, send to r+1; the last rank
 * applies the output norm and matrix and sends the logits rows to rank 0, which collects them in submission
 * order (wait). With several sequences in flight (perplexity chunks) every stage is busy at once.
 *
 * Invariants. Messages between two ranks arrive in order (transport.h), and every stage processes messages in
 * arrival order, so a sequence's decodes reach each stage in the order rank 0 submitted them and each stage's
 * KV cache for that sequence evolves exactly as in one process: octet_session_decode_stage over a layer range
 * computes the same bits as the whole model, so the logits equal a single process's bit for bit.
 *
 * Wire format (DATA tag): a 32-byte header {magic "OCTP", op, seq, n, pos, flags, n_rows} and a payload:
 *   OP_DECODE  rank r -> r+1: n x n_embd float32 hidden states; flags bit 0: reset seq's cache first
 *   OP_LOGITS  last -> 0:     n_rows x n_vocab float32 logits
 *   OP_STOP    0 -> 1 -> ... -> last -> 0: finish; no payload
 * Start (CTRL tag): every rank r > 0 sends rank 0 a hello {fingerprint, file size, parameters, layer bounds};
 * rank 0 compares each with its own and answers every rank with a verdict (empty: agreed, else the reason), so
 * mismatched model files or options fail on every rank at start rather than as wrong numbers later.
 * Both peers are native-endian: ranks of one job are assumed to share a byte order (x86-64 / arm64 are
 * little-endian); the hello's magic would differ otherwise and fail the check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "dist/pipeline.h"

#define HDR_MAGIC 0x5043544fu /* "OCTP" little-endian */
#define HELLO_MAGIC UINT64_C(0x4f43544845484c4f)
#define HDR_BYTES 32

enum { OP_DECODE = 1, OP_LOGITS = 2, OP_STOP = 3 };

typedef struct hdr {
    uint32_t magic;
    int32_t op, seq, n;
    int64_t pos;
    int32_t flags, n_rows;
} hdr;
_Static_assert(sizeof(hdr) == HDR_BYTES, "pipeline header is 32 bytes");

/* What every rank must agree on. */
typedef struct hello {
    uint64_t magic, fingerprint, file_bytes;
    int32_t rank, size, n_layer, n_embd, n_vocab, n_ctx, n_batch, logits_all, exec, n_seq;
} hello;

struct octet_pipeline {
    octet_dist *d;
    octet__transport *t;
    const octet_model *m;
    int rank, size, n_seq, n_embd, n_vocab, n_layer, n_ctx, logits_all;
    double timeout_s;
    int *bounds;            /* [size + 1] */
    octet_session **sess;   /* [n_seq]: this rank's layers */
    /* rank 0 */
    int *fifo, fifo_head, fifo_len; /* submissions in flight: seq ids, capacity n_seq */
    int *in_flight;         /* [n_seq] */
    void **res;             /* [n_seq] last LOGITS message of each sequence (size > 1) */
    int *res_rows;          /* [n_seq] */
    /* scratch for outgoing hidden states: header + n x n_embd floats */
    unsigned char *out;
    size_t out_cap;
    octet_pipeline_stats st;
    int finished;
};

/* ---- partition ------------------------------------------------------------------------------------------ */

int octet__pipeline_partition(const uint64_t *layer_bytes, int n_layer, uint64_t last_extra, int n_stages,
                              int *bounds, octet_error *err) {
    if (!layer_bytes || !bounds || n_layer < 1 || n_stages < 1)
        return octet__err(err, OCTET_EINVAL, "partition: bad arguments");
    if (n_stages > n_layer)
        return octet__err(err, OCTET_EINVAL, "partition: %d stages but the model has only %d layers", n_stages,
                          n_layer);
    /* prefix sums (saturating: a 2^64-byte model is not a concern, but no overflow either way) */
    uint64_t *pre = octet__calloc((size_t)n_layer + 1, sizeof *pre);
    /* best[k][i]: smallest max cost splitting layers [0, i) into k stages; cut[k][i]: start of the k-th stage */
    size_t cells = ((size_t)n_stages + 1) * ((size_t)n_layer + 1);
    uint64_t *best = octet__malloc(cells * sizeof *best);
    int *cut = octet__malloc(cells * sizeof *cut);
    if (!pre || !best || !cut) {
        octet__free(pre);
        octet__free(best);
        octet__free(cut);
        return octet__err(err, OCTET_ENOMEM, "partition: out of memory");
    }
    for (int i = 0; i < n_layer; i++)
        if (!octet__add_u64(pre[i], layer_bytes[i], &pre[i + 1])) pre[i + 1] = UINT64_MAX;
#define AT(k, i) ((size_t)(k) * ((size_t)n_layer + 1) + (size_t)(i))
    for (size_t c = 0; c < cells; c++) best[c] = UINT64_MAX;
    best[AT(0, 0)] = 0;
    for (int k = 1; k <= n_stages; k++) {
        for (int i = k; i <= n_layer - (n_stages - k); i++) {
            for (int j = k - 1; j < i; j++) {
                uint64_t prev = best[AT(k - 1, j)];
                if (prev == UINT64_MAX) continue;
                uint64_t c = pre[i] - pre[j];
                if (k == n_stages && !octet__add_u64(c, last_extra, &c)) c = UINT64_MAX;
                uint64_t v = prev > c ? prev : c;
                if (v < best[AT(k, i)]) {
                    best[AT(k, i)] = v;
                    cut[AT(k, i)] = j;
                }
            }
        }
    }
    bounds[n_stages] = n_layer;
    for (int k = n_stages, i = n_layer; k >= 1; k--) {
        i = cut[AT(k, i)];
        bounds[k - 1] = i;
    }
#undef AT
    octet__free(pre);
    octet__free(best);
    octet__free(cut);
    return 0;
}

int octet__pipeline_parse_split(const char *split, int n_layer, int n_stages, int *bounds, octet_error *err) {
    if (!split || !bounds || n_stages < 1) return octet__err(err, OCTET_EINVAL, "split: bad arguments");
    const char *p = split;
    int k = 0;
    int64_t sum = 0;
    bounds[0] = 0;
    for (;;) {
        while (*p == ' ') p++;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > n_layer)
            return octet__err(err, OCTET_EINVAL, "--split %s: expected positive layer counts separated by commas",
                              split);
        if (k == n_stages)
            return octet__err(err, OCTET_EINVAL, "--split %s: more than %d stages (one per rank)", split, n_stages);
        sum += v;
        if (sum > n_layer)
            return octet__err(err, OCTET_EINVAL, "--split %s: the counts exceed the model's %d layers", split,
                              n_layer);
        bounds[++k] = (int)sum;
        p = end;
        while (*p == ' ') p++;
        if (*p == 0) break;
        if (*p != ',')
            return octet__err(err, OCTET_EINVAL, "--split %s: unexpected character '%c'", split, *p);
        p++;
    }
    if (k != n_stages)
        return octet__err(err, OCTET_EINVAL, "--split %s: %d stages given, but there are %d ranks", split, k,
                          n_stages);
    if (sum != n_layer)
        return octet__err(err, OCTET_EINVAL, "--split %s: the counts sum to %lld, but the model has %d layers", split,
                          (long long)sum, n_layer);
    return 0;
}

/* ---- model facts: per-layer bytes and the fingerprint ---------------------------------------------------- */

/* The layer a tensor belongs to ("blk.N.*"), or -1. */
static int tensor_layer(const char *name) {
    if (strncmp(name, "blk.", 4) != 0) return -1;
    char *end;
    long v = strtol(name + 4, &end, 10);
    if (end == name + 4 || *end != '.' || v < 0 || v > 1000000) return -1;
    return (int)v;
}

static int layer_costs(const char *path, int n_layer, uint64_t *layer_bytes, uint64_t *last_extra,
                       octet_error *err) {
    octet_gguf *g;
    int rc = octet_gguf_open(&g, path, err);
    if (rc) return rc;
    uint64_t out_b = 0, embd_b = 0;
    int has_out = 0;
    for (int64_t i = 0; i < octet_gguf_n_tensors(g); i++) {
        octet_tensor_info ti;
        if (octet_gguf_tensor_info(g, i, &ti)) continue;
        int l = tensor_layer(ti.name);
        if (l >= 0 && l < n_layer) {
            if (!octet__add_u64(layer_bytes[l], ti.n_bytes, &layer_bytes[l])) layer_bytes[l] = UINT64_MAX;
        } else if (!strcmp(ti.name, "output.weight")) {
            out_b = ti.n_bytes;
            has_out = 1;
        } else if (!strcmp(ti.name, "token_embd.weight")) {
            embd_b = ti.n_bytes;
        }
    }
    *last_extra = has_out ? out_b : embd_b; /* tied models multiply by the embedding matrix */
    octet_gguf_close(g);
    return 0;
}

int octet__model_fingerprint(const char *path, uint64_t *hash, uint64_t *file_bytes, octet_error *err) {
    octet_gguf *g;
    int rc = octet_gguf_open(&g, path, err);
    if (rc) return rc;
    FILE *f = fopen(path, "rb");
    if (!f) {
        octet_gguf_close(g);
        return octet__err(err, OCTET_EIO, "%s: cannot open to fingerprint it", path);
    }
    uint64_t size = 0;
    if (fseeko(f, 0, SEEK_END) == 0) {
        off_t e = ftello(f);
        size = e > 0 ? (uint64_t)e : 0;
    }
    /* the header ends where the first tensor's data starts */
    uint64_t hdr_end = size;
    int64_t n_t = octet_gguf_n_tensors(g);
    for (int64_t i = 0; i < n_t; i++) {
        octet_tensor_info ti;
        if (octet_gguf_tensor_info(g, i, &ti) == 0 && ti.offset < hdr_end) hdr_end = ti.offset;
    }
    uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a 64 (Fowler, Noll, Vo; offset basis and prime) */
    unsigned char buf[65536];
    rc = 0;
    /* the first 64 bytes of every tensor too, so files of one shape with other weights (two fine-tunes) differ;
     * read with stdio, not through the mapping, so this rank's resident weights stay its own layers' */
    for (int64_t i = 0; i < n_t && !rc; i++) {
        octet_tensor_info ti;
        if (octet_gguf_tensor_info(g, i, &ti)) continue;
        size_t want = ti.n_bytes < 64 ? (size_t)ti.n_bytes : 64;
        if (ti.offset > size || fseeko(f, (off_t)ti.offset, SEEK_SET) != 0 || fread(buf, 1, want, f) != want) {
            rc = octet__err(err, OCTET_EIO, "%s: cannot read tensor %s to fingerprint it", path, ti.name);
            break;
        }
        for (size_t k = 0; k < want; k++) h = (h ^ buf[k]) * UINT64_C(0x100000001b3);
    }
    octet_gguf_close(g);
    if (!rc && fseeko(f, 0, SEEK_SET) != 0) rc = octet__err(err, OCTET_EIO, "%s: seek failed", path);
    for (uint64_t done = 0; !rc && done < hdr_end;) {
        size_t want = hdr_end - done < sizeof buf ? (size_t)(hdr_end - done) : sizeof buf;
        size_t got = fread(buf, 1, want, f);
        if (got != want) rc = octet__err(err, OCTET_EIO, "%s: short read while fingerprinting", path);
        for (size_t i = 0; i < got; i++) h = (h ^ buf[i]) * UINT64_C(0x100000001b3);
        done += got;
    }
    fclose(f);
    for (int i = 0; i < 8; i++) h = (h ^ ((size >> (8 * i)) & 0xff)) * UINT64_C(0x100000001b3);
    *hash = h;
    *file_bytes = size;
    return rc;
}

/* ---- creation and the start-up check -------------------------------------------------------------------- */

octet_pipeline_params octet_pipeline_default_params(void) {
    octet_pipeline_params p;
    memset(&p, 0, sizeof p);
    p.session = octet_session_default_params();
    p.n_seq = 1;
    p.timeout_s = 30.0;
    return p;
}

static int hello_diff(const hello *a, const hello *b, const int *ba, const int *bb, int size, char *why,
                      size_t why_n) {
    if (a->magic != b->magic) return snprintf(why, why_n, "a different octet version or byte order"), 1;
    if (a->fingerprint != b->fingerprint || a->file_bytes != b->file_bytes)
        return snprintf(why, why_n,
                        "a different model file (fingerprint %016llx, %llu bytes; rank 0 has %016llx, %llu bytes)",
                        (unsigned long long)b->fingerprint, (unsigned long long)b->file_bytes,
                        (unsigned long long)a->fingerprint, (unsigned long long)a->file_bytes),
               1;
    if (a->n_ctx != b->n_ctx || a->n_batch != b->n_batch || a->logits_all != b->logits_all || a->exec != b->exec ||
        a->n_seq != b->n_seq || a->size != b->size)
        return snprintf(why, why_n, "different parameters (context, batch, execution mode or sequences)"), 1;
    for (int i = 0; i <= size; i++)
        if (ba[i] != bb[i]) return snprintf(why, why_n, "a different layer split"), 1;
    return 0;
}

/* Rank 0 gathers hellos and answers with verdicts; others send theirs and read the verdict. */
static int agree(octet_pipeline *pl, const hello *mine, octet_error *err) {
    size_t n_b = ((size_t)pl->size + 1) * sizeof(int);
    size_t msg_n = sizeof(hello) + n_b;
    int rc = 0;
    if (pl->rank != 0) {
        unsigned char *msg = octet__malloc(msg_n);
        if (!msg) return octet__err(err, OCTET_ENOMEM, "pipeline: out of memory");
        memcpy(msg, mine, sizeof *mine);
        memcpy(msg + sizeof *mine, pl->bounds, n_b);
        rc = octet__send(pl->t, 0, OCTET__TAG_CTRL, msg, msg_n, err);
        octet__free(msg);
        if (rc) return rc;
        void *v;
        size_t vn;
        rc = octet__recv(pl->t, 0, OCTET__TAG_CTRL, &v, &vn, pl->timeout_s, err);
        if (rc) {
            octet__err_prefix(err, "pipeline start");
            return rc;
        }
        if (vn > 0) {
            rc = octet__err(err, OCTET_EINVAL, "pipeline start: rank 0 refused: %.*s", (int)(vn < 300 ? vn : 300),
                            (const char *)v);
        }
        octet__free(v);
        return rc;
    }
    char why[400] = "";
    for (int r = 1; r < pl->size; r++) {
        void *v;
        size_t vn;
        rc = octet__recv(pl->t, r, OCTET__TAG_CTRL, &v, &vn, pl->timeout_s, err);
        if (rc) {
            octet__err_prefix(err, "pipeline start");
            return rc;
        }
        char w[300];
        if (vn != msg_n) {
            if (!why[0]) snprintf(why, sizeof why, "rank %d sent a malformed hello (%zu bytes)", r, vn);
        } else {
            hello h;
            memcpy(&h, v, sizeof h);
            if (!why[0] && hello_diff(mine, &h, pl->bounds, (const int *)((const unsigned char *)v + sizeof h),
                                      pl->size, w, sizeof w))
                snprintf(why, sizeof why, "rank %d has %s", r, w);
        }
        octet__free(v);
    }
    size_t wn = strlen(why);
    for (int r = 1; r < pl->size; r++) {
        rc = octet__send(pl->t, r, OCTET__TAG_CTRL, why, wn, err);
        if (rc) return rc;
    }
    if (wn) return octet__err(err, OCTET_EINVAL, "pipeline start: %s", why);
    return 0;
}

int octet_pipeline_new(octet_pipeline **out, octet_dist *d, const octet_model *m, const char *model_path,
                       const octet_pipeline_params *params, octet_error *err) {
    if (!out || !d || !m || !model_path) return octet__err(err, OCTET_EINVAL, "octet_pipeline_new: NULL argument");
    *out = NULL;
    octet_pipeline_params p = params ? *params : octet_pipeline_default_params();
    if (p.n_seq < 1 || p.n_seq > 4096)
        return octet__err(err, OCTET_EINVAL, "pipeline: %d sequences is outside 1..4096", p.n_seq);
    if (!(p.timeout_s > 0)) p.timeout_s = 30.0;
    if (p.session.exec != OCTET_EXEC_FLOAT)
        return octet__err(err, OCTET_EUNSUPPORTED,
                          "pipeline: only float execution can be split into stages (integer stages are not "
                          "available yet)");
    octet_model_info mi;
    octet_model_get_info(m, &mi);
    octet_pipeline *pl = octet__calloc(1, sizeof *pl);
    if (!pl) return octet__err(err, OCTET_ENOMEM, "pipeline: out of memory");
    pl->d = d;
    pl->t = d->t;
    pl->m = m;
    pl->rank = d->t->rank;
    pl->size = d->t->size;
    pl->n_seq = p.n_seq;
    pl->n_embd = mi.n_embd;
    pl->n_vocab = mi.n_vocab;
    pl->n_layer = mi.n_layer;
    pl->logits_all = p.session.logits_all != 0;
    pl->timeout_s = p.timeout_s;
    int rc = 0;
    pl->bounds = octet__calloc((size_t)pl->size + 1, sizeof *pl->bounds);
    pl->sess = octet__calloc((size_t)pl->n_seq, sizeof *pl->sess);
    pl->fifo = octet__calloc((size_t)pl->n_seq, sizeof *pl->fifo);
    pl->in_flight = octet__calloc((size_t)pl->n_seq, sizeof *pl->in_flight);
    pl->res = octet__calloc((size_t)pl->n_seq, sizeof *pl->res);
    pl->res_rows = octet__calloc((size_t)pl->n_seq, sizeof *pl->res_rows);
    uint64_t *lb = octet__calloc((size_t)mi.n_layer, sizeof *lb);
    if (!pl->bounds || !pl->sess || !pl->fifo || !pl->in_flight || !pl->res || !pl->res_rows || !lb) {
        rc = octet__err(err, OCTET_ENOMEM, "pipeline: out of memory");
        goto fail;
    }
    if (pl->size > mi.n_layer) {
        rc = octet__err(err, OCTET_EINVAL, "pipeline: %d ranks but the model has only %d layers", pl->size,
                        mi.n_layer);
        goto fail;
    }
    uint64_t last_extra = 0;
    if (p.split) rc = octet__pipeline_parse_split(p.split, mi.n_layer, pl->size, pl->bounds, err);
    else if (!(rc = layer_costs(model_path, mi.n_layer, lb, &last_extra, err)))
        rc = octet__pipeline_partition(lb, mi.n_layer, last_extra, pl->size, pl->bounds, err);
    if (rc) goto fail;
    hello mine;
    memset(&mine, 0, sizeof mine);
    mine.magic = HELLO_MAGIC;
    if ((rc = octet__model_fingerprint(model_path, &mine.fingerprint, &mine.file_bytes, err))) goto fail;
    mine.rank = pl->rank;
    mine.size = pl->size;
    mine.n_layer = mi.n_layer;
    mine.n_embd = mi.n_embd;
    mine.n_vocab = mi.n_vocab;
    mine.n_ctx = p.session.n_ctx;
    mine.n_batch = p.session.n_batch;
    mine.logits_all = pl->logits_all;
    mine.exec = p.session.exec;
    mine.n_seq = p.n_seq;
    if ((rc = agree(pl, &mine, err))) goto fail;
    octet_session_params sp = p.session;
    sp.layer_begin = pl->bounds[pl->rank];
    sp.layer_end = pl->bounds[pl->rank + 1];
    for (int i = 0; i < pl->n_seq; i++)
        if ((rc = octet_session_new(&pl->sess[i], m, &sp, err))) goto fail;
    pl->n_ctx = octet_session_n_ctx(pl->sess[0]);
    pl->st.rank = pl->rank;
    pl->st.n_stages = pl->size;
    pl->st.layer_begin = sp.layer_begin;
    pl->st.layer_end = sp.layer_end;
    octet__free(lb);
    *out = pl;
    return 0;
fail:
    octet__free(lb);
    pl->finished = 1;
    octet_pipeline_free(pl);
    return rc;
}

void octet_pipeline_free(octet_pipeline *pl) {
    if (!pl) return;
    for (int i = 0; pl->sess && i < pl->n_seq; i++) octet_session_free(pl->sess[i]);
    for (int i = 0; pl->res && i < pl->n_seq; i++) octet__free(pl->res[i]);
    octet__free(pl->sess);
    octet__free(pl->res);
    octet__free(pl->res_rows);
    octet__free(pl->fifo);
    octet__free(pl->in_flight);
    octet__free(pl->bounds);
    octet__free(pl->out);
    octet__free(pl);
}

void octet_pipeline_get_stats(const octet_pipeline *pl, octet_pipeline_stats *out) {
    if (!out) return;
    if (!pl) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = pl->st;
}

int octet_pipeline_n_ctx(const octet_pipeline *pl) { return pl ? pl->n_ctx : 0; }
int octet_pipeline_n_seq(const octet_pipeline *pl) { return pl ? pl->n_seq : 0; }
int octet_pipeline_n_past(const octet_pipeline *pl, int seq) {
    return pl && seq >= 0 && seq < pl->n_seq ? octet_session_n_past(pl->sess[seq]) : 0;
}

/* ---- running ---------------------------------------------------------------------------------------------- */

static int send_msg(octet_pipeline *pl, int dst, const hdr *h, size_t payload, octet_error *err) {
    memcpy(pl->out, h, sizeof *h);
    int rc = octet__send(pl->t, dst, OCTET__TAG_DATA, pl->out, HDR_BYTES + payload, err);
    if (!rc) {
        pl->st.bytes_sent += HDR_BYTES + payload;
        pl->st.n_msgs++;
    }
    return rc;
}

/* Make the outgoing buffer hold a header and rows x width floats. */
static int reserve_out(octet_pipeline *pl, int64_t rows, int64_t width, size_t *payload, octet_error *err) {
    uint64_t b, tot;
    if (rows < 0 || width < 0 || !octet__mul_u64((uint64_t)rows, (uint64_t)width, &b) ||
        !octet__mul_u64(b, sizeof(float), &b) || !octet__add_u64(b, HDR_BYTES, &tot) || tot > OCTET__DIST_MAX_MSG)
        return octet__err(err, OCTET_ERANGE, "pipeline: a message of %lld x %lld floats is too large",
                          (long long)rows, (long long)width);
    if (tot > pl->out_cap) {
        unsigned char *nb = octet__malloc((size_t)tot);
        if (!nb) return octet__err(err, OCTET_ENOMEM, "pipeline: out of memory for a %llu-byte message",
                                   (unsigned long long)tot);
        octet__free(pl->out);
        pl->out = nb;
        pl->out_cap = (size_t)tot;
    }
    *payload = (size_t)b;
    return 0;
}

static int run_stage(octet_pipeline *pl, octet_session *s, const int32_t *tokens, const float *hidden, int n,
                     int64_t pos, float *hidden_out, octet_error *err) {
    double t0 = octet__dist_now();
    int rc = octet_session_decode_stage(s, tokens, hidden, n, pos, hidden_out, err);
    pl->st.compute_ms += 1e3 * (octet__dist_now() - t0);
    if (!rc) pl->st.n_tokens += n;
    return rc;
}

int octet_pipeline_submit(octet_pipeline *pl, int seq, const int32_t *tokens, int n, int64_t pos, int reset,
                          octet_error *err) {
    if (!pl || !tokens || n <= 0 || seq < 0 || seq >= pl->n_seq)
        return octet__err(err, OCTET_EINVAL, "pipeline submit: bad arguments (sequence %d, %d tokens)", seq, n);
    if (pl->rank != 0) return octet__err(err, OCTET_EINVAL, "pipeline submit: only rank 0 drives the pipeline");
    if (pl->finished) return octet__err(err, OCTET_EINVAL, "pipeline submit: the pipeline was finished");
    if (pl->in_flight[seq])
        return octet__err(err, OCTET_EINVAL, "pipeline submit: sequence %d already has a decode in flight", seq);
    octet_session *s = pl->sess[seq];
    if (reset) octet_session_truncate(s, 0);
    int rc;
    if (pl->size == 1) {
        rc = run_stage(pl, s, tokens, NULL, n, pos, NULL, err);
    } else {
        size_t payload;
        if ((rc = reserve_out(pl, n, pl->n_embd, &payload, err))) return rc;
        rc = run_stage(pl, s, tokens, NULL, n, pos, (float *)(void *)(pl->out + HDR_BYTES), err);
        if (!rc) {
            hdr h = {HDR_MAGIC, OP_DECODE, seq, n, pos, reset ? 1 : 0, 0};
            rc = send_msg(pl, 1, &h, payload, err);
        }
    }
    if (rc) return rc;
    pl->in_flight[seq] = 1;
    pl->fifo[(pl->fifo_head + pl->fifo_len) % pl->n_seq] = seq;
    pl->fifo_len++;
    return 0;
}

static int check_hdr(const void *buf, size_t n, hdr *h, int from, octet_error *err) {
    if (n < HDR_BYTES) return octet__err(err, OCTET_EFORMAT, "pipeline: short message (%zu bytes) from rank %d", n, from);
    memcpy(h, buf, sizeof *h);
    if (h->magic != HDR_MAGIC)
        return octet__err(err, OCTET_EFORMAT, "pipeline: message from rank %d has a bad magic", from);
    return 0;
}

int octet_pipeline_wait(octet_pipeline *pl, int *seq_out, octet_error *err) {
    if (!pl || pl->rank != 0) return octet__err(err, OCTET_EINVAL, "pipeline wait: only rank 0 waits");
    if (pl->fifo_len == 0) return octet__err(err, OCTET_EINVAL, "pipeline wait: nothing in flight");
    int seq = pl->fifo[pl->fifo_head];
    if (pl->size > 1) {
        void *buf;
        size_t n;
        double t0 = octet__dist_now();
        int rc = octet__recv(pl->t, pl->size - 1, OCTET__TAG_DATA, &buf, &n, pl->timeout_s, err);
        pl->st.wait_ms += 1e3 * (octet__dist_now() - t0);
        if (rc) return rc;
        hdr h;
        uint64_t want;
        rc = check_hdr(buf, n, &h, pl->size - 1, err);
        if (!rc && (h.op != OP_LOGITS || h.seq != seq || h.n_rows < 1 ||
                    !octet__mul_u64((uint64_t)h.n_rows, (uint64_t)pl->n_vocab * sizeof(float), &want) ||
                    want + HDR_BYTES != n))
            rc = octet__err(err, OCTET_EFORMAT,
                            "pipeline: unexpected message from rank %d (op %d, sequence %d, %zu bytes; expected "
                            "logits of sequence %d)",
                            pl->size - 1, h.op, h.seq, n, seq);
        if (rc) {
            octet__free(buf);
            return rc;
        }
        octet__free(pl->res[seq]);
        pl->res[seq] = buf;
        pl->res_rows[seq] = h.n_rows;
    }
    pl->fifo_head = (pl->fifo_head + 1) % pl->n_seq;
    pl->fifo_len--;
    pl->in_flight[seq] = 0;
    if (seq_out) *seq_out = seq;
    return 0;
}

int octet_pipeline_decode(octet_pipeline *pl, int seq, const int32_t *tokens, int n, int64_t pos, octet_error *err) {
    int rc = octet_pipeline_submit(pl, seq, tokens, n, pos, 0, err);
    while (!rc && pl->in_flight[seq]) rc = octet_pipeline_wait(pl, NULL, err);
    return rc;
}

const float *octet_pipeline_logits(const octet_pipeline *pl, int seq, int i) {
    if (!pl || seq < 0 || seq >= pl->n_seq || pl->rank != 0) return NULL;
    if (pl->size == 1) return octet_session_logits(pl->sess[seq], i);
    if (!pl->res[seq]) return NULL;
    int row = pl->logits_all ? i : 0; /* without logits_all only the last token's row exists */
    if (row < 0 || row >= pl->res_rows[seq]) return NULL;
    return (const float *)(const void *)((const unsigned char *)pl->res[seq] + HDR_BYTES) + (size_t)row * (size_t)pl->n_vocab;
}

int octet_pipeline_serve(octet_pipeline *pl, octet_error *err) {
    if (!pl || pl->rank == 0) return octet__err(err, OCTET_EINVAL, "pipeline serve: rank 0 drives, it does not serve");
    const int last = pl->rank == pl->size - 1;
    const int from = pl->rank - 1;
    for (;;) {
        void *buf;
        size_t n;
        double t0 = octet__dist_now();
        int rc = octet__recv(pl->t, from, OCTET__TAG_DATA, &buf, &n, pl->timeout_s, err);
        pl->st.wait_ms += 1e3 * (octet__dist_now() - t0);
        if (rc) return rc;
        hdr h;
        if ((rc = check_hdr(buf, n, &h, from, err))) {
            octet__free(buf);
            return rc;
        }
        if (h.op == OP_STOP) {
            octet__free(buf);
            size_t payload;
            if ((rc = reserve_out(pl, 0, 0, &payload, err))) return rc;
            hdr s = {HDR_MAGIC, OP_STOP, 0, 0, 0, 0, 0};
            rc = send_msg(pl, last ? 0 : pl->rank + 1, &s, 0, err);
            pl->finished = 1;
            return rc;
        }
        uint64_t want;
        if (h.op != OP_DECODE || h.seq < 0 || h.seq >= pl->n_seq || h.n < 1 ||
            !octet__mul_u64((uint64_t)h.n, (uint64_t)pl->n_embd * sizeof(float), &want) || want + HDR_BYTES != n) {
            octet__free(buf);
            return octet__err(err, OCTET_EFORMAT, "pipeline: rank %d: malformed message from rank %d (op %d, %zu bytes)",
                              pl->rank, from, h.op, n);
        }
        octet_session *s = pl->sess[h.seq];
        if (h.flags & 1) octet_session_truncate(s, 0);
        const float *hid = (const float *)(const void *)((const unsigned char *)buf + HDR_BYTES);
        size_t payload;
        if (last) {
            int rows = pl->logits_all ? h.n : 1;
            rc = reserve_out(pl, rows, pl->n_vocab, &payload, err);
            if (!rc) rc = run_stage(pl, s, NULL, hid, h.n, h.pos, NULL, err);
            if (!rc) {
                float *dst = (float *)(void *)(pl->out + HDR_BYTES);
                for (int i = 0; i < rows; i++) {
                    const float *lg = octet_session_logits(s, pl->logits_all ? i : h.n - 1);
                    memcpy(dst + (size_t)i * (size_t)pl->n_vocab, lg, (size_t)pl->n_vocab * sizeof(float));
                }
                hdr o = {HDR_MAGIC, OP_LOGITS, h.seq, h.n, h.pos, 0, rows};
                rc = send_msg(pl, 0, &o, payload, err);
            }
        } else {
            rc = reserve_out(pl, h.n, pl->n_embd, &payload, err);
            if (!rc) rc = run_stage(pl, s, NULL, hid, h.n, h.pos, (float *)(void *)(pl->out + HDR_BYTES), err);
            if (!rc) {
                hdr o = {HDR_MAGIC, OP_DECODE, h.seq, h.n, h.pos, h.flags, 0};
                rc = send_msg(pl, pl->rank + 1, &o, payload, err);
            }
        }
        octet__free(buf);
        if (rc) {
            octet__err_prefix(err, "rank %d", pl->rank);
            return rc;
        }
    }
}

int octet_pipeline_finish(octet_pipeline *pl, octet_error *err) {
    if (!pl || pl->rank != 0) return octet__err(err, OCTET_EINVAL, "pipeline finish: only rank 0 finishes");
    if (pl->finished) return 0;
    int rc = 0;
    while (!rc && pl->fifo_len > 0) rc = octet_pipeline_wait(pl, NULL, err);
    if (rc) return rc;
    pl->finished = 1;
    if (pl->size == 1) return 0;
    size_t payload;
    if ((rc = reserve_out(pl, 0, 0, &payload, err))) return rc;
    hdr s = {HDR_MAGIC, OP_STOP, 0, 0, 0, 0, 0};
    if ((rc = send_msg(pl, 1, &s, 0, err))) return rc;
    void *buf;
    size_t n;
    rc = octet__recv(pl->t, pl->size - 1, OCTET__TAG_DATA, &buf, &n, pl->timeout_s, err);
    if (rc) return rc;
    hdr h;
    rc = check_hdr(buf, n, &h, pl->size - 1, err);
    if (!rc && h.op != OP_STOP)
        rc = octet__err(err, OCTET_EFORMAT, "pipeline finish: expected the stop to come back, got op %d", h.op);
    octet__free(buf);
    return rc;
}
