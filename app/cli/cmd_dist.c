/*
 * cmd_dist.c - distributed runs of octet commands (see dist.h).
 *
 * The report each rank prints at the end (stderr, one line per rank) gives its layers, tokens, time computing
 * and waiting, bytes sent per token and the model file's resident pages in this process (the Rss of the
 * file's mappings in /proc/self/smaps): with the model mapped, that is the weights this rank actually touched.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dist.h"

/* Resident KiB of the mappings of file path in this process (0 when unknown). */
static long long model_rss_kib(const char *path) {
    char real[PATH_MAX];
    if (!path || !realpath(path, real)) return 0;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return 0;
    char line[PATH_MAX + 256];
    int in = 0;
    long long kib = 0;
    while (fgets(line, sizeof line, f)) {
        /* a mapping header: "start-end perms offset dev inode   path" */
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = 0;
            size_t lr = strlen(real), ll = strlen(line);
            in = ll >= lr && strcmp(line + ll - lr, real) == 0;
            continue;
        }
        long long v;
        if (in && sscanf(line, "Rss: %lld kB", &v) == 1) kib += v;
    }
    fclose(f);
    return kib;
}

int cli_dist_start(cli_dist *cd) {
    memset(cd, 0, sizeof *cd);
    if (!octet_dist_launched()) {
        const char *sz = getenv("PMI_SIZE");
        if (sz && atoi(sz) > 1)
            fprintf(stderr, "octet: warning: started by mpiexec, but this octet was built without MPI: every process "
                            "runs alone (build the MPI variant with make MPI=1: build/mpi/octet)\n");
        return 0;
    }
    octet_error err;
    memset(&err, 0, sizeof err);
    if (octet_dist_open(&cd->d, &err)) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        return EXIT_ERR;
    }
    cd->rank = octet_dist_rank(cd->d);
    cd->size = octet_dist_size(cd->d);
    return 0;
}

int cli_dist_quiet(const cli_dist *cd) { return cd->d && cd->rank > 0; }

int cli_dist_pipeline(cli_dist *cd, const octet_model *m, const char *path, const char *split,
                      const octet_session_params *sp, int n_seq) {
    if (!cd->d) return 0;
    octet_error err;
    memset(&err, 0, sizeof err);
    octet_pipeline_params pp = octet_pipeline_default_params();
    pp.session = *sp;
    pp.split = split;
    pp.n_seq = n_seq;
    const char *to = getenv("OCTET_DIST_TIMEOUT");
    if (to && atof(to) > 0) /* at least 3 heartbeat periods (one a second), or a live rank may look dead */
        pp.timeout_s = atof(to) < 3.0 ? 3.0 : atof(to);
    cd->model_path = path;
    if (octet_pipeline_new(&cd->pl, cd->d, m, path, &pp, &err)) {
        fprintf(stderr, "octet: error: rank %d: %s\n", cd->rank, err.msg);
        return -1;
    }
    octet_pipeline_stats st;
    octet_pipeline_get_stats(cd->pl, &st);
    if (cd->rank == 0)
        fprintf(stderr, "octet: pipeline of %d stages over MPI, %d sequence%s in flight\n", cd->size, n_seq,
                n_seq == 1 ? "" : "s");
    if (cd->rank == 0) return 0;
    if (octet_pipeline_serve(cd->pl, &err)) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        return -1;
    }
    return 1;
}

int cli_decode(cli_dist *cd, octet_session *s, const int32_t *tokens, int n, int64_t pos, octet_error *err) {
    return cd->pl ? octet_pipeline_decode(cd->pl, 0, tokens, n, pos, err) : octet_session_decode(s, tokens, n, pos, err);
}
const float *cli_logits(const cli_dist *cd, const octet_session *s, int i) {
    return cd->pl ? octet_pipeline_logits(cd->pl, 0, i) : octet_session_logits(s, i);
}
int cli_n_past(const cli_dist *cd, const octet_session *s) {
    return cd->pl ? octet_pipeline_n_past(cd->pl, 0) : octet_session_n_past(s);
}
int cli_n_ctx(const cli_dist *cd, const octet_session *s) {
    return cd->pl ? octet_pipeline_n_ctx(cd->pl) : octet_session_n_ctx(s);
}

/* Submit seq's next piece of bench work: a prompt batch, or one generated token. */
static int bench_submit(octet_pipeline *pl, int seq, int *next, const int32_t *toks, int n_prompt, int n_batch,
                        octet_error *err) {
    int i = next[seq];
    int n = i < n_prompt ? (n_prompt - i < n_batch ? n_prompt - i : n_batch) : 1;
    next[seq] = i + n;
    return octet_pipeline_submit(pl, seq, toks + i, n, i, i == 0, err);
}

double cli_pipeline_bench(octet_pipeline *pl, const int32_t *toks, int n_prompt, int n_gen, int n_batch) {
    const int n_seq = octet_pipeline_n_seq(pl), total = n_prompt + n_gen;
    int *next = calloc((size_t)n_seq, sizeof *next);
    if (!next) {
        fprintf(stderr, "octet bench: out of memory\n");
        return -1;
    }
    octet_error err;
    memset(&err, 0, sizeof err);
    int rc = 0, busy = 0;
    double t0 = cli_now_ms();
    for (int s = 0; s < n_seq && total > 0 && !rc; s++, busy++)
        rc = bench_submit(pl, s, next, toks, n_prompt, n_batch, &err);
    while (!rc && busy > 0) {
        int s = 0;
        rc = octet_pipeline_wait(pl, &s, &err);
        busy--;
        if (!rc && next[s] < total) {
            rc = bench_submit(pl, s, next, toks, n_prompt, n_batch, &err);
            busy++;
        }
    }
    double sec = (cli_now_ms() - t0) / 1e3;
    free(next);
    if (rc) {
        fprintf(stderr, "octet bench: pipeline: %s\n", err.msg[0] ? err.msg : octet_strerror(rc));
        return -1;
    }
    return sec;
}

static void report(const cli_dist *cd) {
    octet_pipeline_stats st;
    octet_pipeline_get_stats(cd->pl, &st);
    /* tokens that crossed this rank's outgoing link: its own (the last stage sends logits rows) */
    double per_tok = st.n_tokens ? (double)st.bytes_sent / (double)st.n_tokens : 0.0;
    fprintf(stderr,
            "octet: stage %d/%d layers %d-%d: %lld tokens, compute %.1f ms, waiting %.1f ms, sent %llu bytes in %llu "
            "messages (%.0f bytes/token), model resident %lld KiB\n",
            st.rank, st.n_stages, st.layer_begin, st.layer_end - 1, (long long)st.n_tokens, st.compute_ms, st.wait_ms,
            (unsigned long long)st.bytes_sent, (unsigned long long)st.n_msgs, per_tok, model_rss_kib(cd->model_path));
}

int cli_dist_end(cli_dist *cd, int status) {
    if (!cd->d) return status;
    octet_error err;
    memset(&err, 0, sizeof err);
    if (status == EXIT_OK && cd->pl && cd->rank == 0 && octet_pipeline_finish(cd->pl, &err)) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        status = EXIT_ERR;
    }
    if (status != EXIT_OK) {
        fflush(stdout);
        fprintf(stderr, "octet: rank %d failed: ending the job\n", cd->rank);
        fflush(stderr);
        octet_dist_abort(cd->d, status);
    }
    if (cd->pl) report(cd);
    octet_pipeline_free(cd->pl);
    octet_dist_close(cd->d);
    cd->pl = NULL;
    cd->d = NULL;
    return status;
}
