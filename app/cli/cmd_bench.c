/*
 * cmd_bench.c - `octet bench`: llama-bench-style speed rows plus the memory roofline and an energy estimate.
 *
 * Tests (as llama-bench): ppN decodes N prompt tokens from an empty cache in batches of at most n_batch
 * (default min(N, 512)) and tgN generates N tokens one at a time from an empty cache. Each test runs once to
 * warm up and then -r times; a repetition's speed is tokens / seconds, and the row shows the mean and the
 * sample standard deviation of those speeds (llama-bench's avg_ts and stddev_ts). Comma lists (-p 128,512
 * -n 32,128 -t 1,2 --exec float,int) run every combination. Token ids are random (fixed seed) in the vocabulary.
 *
 * Memory roofline: a probe measures this machine's memory bandwidth with the test's thread count over buffers of
 * --probe-mb MiB each (much larger than the caches): a read-only stream (every thread sums its share of one
 * buffer, with and without software prefetch; the best run), the bandwidth generation is held against, and
 * STREAM's copy (c=a) and triad (a=b+s*c) for reference (STREAM's byte counting: 2 and 3 words per element;
 * medians of 5 runs). Bytes per token are
 * what a token must bring from memory: for tg, every matrix weight byte once per token, one token_embd row, the
 * norms, and the K and V cache rows it attends to (f32, at the mean position n/2 of the run); for pp the weights
 * are read once per batch, so they are divided by the batch size. GB/s = bytes/token x tokens/s, and roofline%
 * = GB/s / probe read GB/s (the column bandwidth_gbs).
 *
 * Energy, measured: where Linux exposes RAPL energy counters (powercap.c: the package zones under
 * /sys/class/powercap, or under $OCTET_SYSFS_ROOT/class/powercap for tests) and they are readable, the package
 * counters are read before and after every timed repetition (and by a watcher thread at least once a second, so
 * that a long repetition cannot hide a second wrap of a counter) and J/token = the joules of the repetitions /
 * their tokens, labelled "measured (RAPL package)". That is the whole package's energy (every core, the uncore, and
 * whatever else runs on it), not this process's. Elsewhere (no powercap, counters readable by root only, under
 * mpiexec, or a read failing during the test) the row gives the estimate below, labelled "estimated"; the
 * estimate is printed beside a measurement too.
 *
 * Energy, estimated (docs/energy.md, Horowitz ISSCC 2014 table, replaceable with --energy-table FILE of
 * "name picojoules" lines): per token, every matrix product is n_in x n_out multiply-accumulates; with block
 * weights and 8-bit activations (both modes) a MAC is an 8-bit multiply and a 32-bit add, and each 32-element
 * block adds the scale combination: float mode 2 f32 multiplies and 1 f32 add, integer mode 1 32-bit multiply
 * and 1 32-bit add (fixed-point rescale). F32/F16 weights in float mode: f32 multiply + add per MAC.
 * Attention: 2 x n_head x head_dim x n_past MACs (f32 in float mode, 8-bit in integer mode). Element-wise work
 * (norms, RoPE, softmax, SiLU, residuals) is counted as f32 (float) or 32-bit integer (int) operations per
 * element, listed in count_ops(). Memory energy = bytes/token / 8 x the 64-bit DRAM access energy.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dist.h"
#include "energy.h"
#include "powercap.h"

/* ---- bandwidth probe: read-only stream (the reference), STREAM copy and triad ----------------------------------
 * Token generation only reads (the weights, once per token), so the bandwidth it is held against is the best
 * read-only rate this process can reach: every thread sums its contiguous share of one large buffer (8 independent
 * 64-bit accumulators over 64-byte lines, plain loads the compiler may vectorize), in two variants - the hardware
 * prefetchers alone, and with a software prefetch 2 KiB ahead of each thread's stream as octet's kernels issue -
 * and the best run of either is reported (a peer, or octet, reading faster than the probe would mean the probe is
 * wrong). The buffer is 2 MiB-aligned with transparent huge pages requested where Linux offers them (the
 * repacked weights live in such memory too). STREAM's copy (c = a) and triad (a = b + 3c) are kept for reference
 * (STREAM's byte counting: 2 and 3 words per element; median of the runs). */
typedef struct probe_arg {
    double *a, *b, *c;
    size_t lo, hi;
    int kind;       /* 0 copy, 1 triad, 2 read, 3 read with software prefetch */
    uint64_t sum;   /* read: the checksum */
} probe_arg;

static volatile uint64_t probe_sink; /* the read checksums go here, so the loads are kept */

static uint64_t probe_read(const uint64_t *p, size_t n, int pf) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if (pf) __builtin_prefetch(p + i + 256, 0, 3); /* 2 KiB ahead (32 lines) */
        s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
        s4 += p[i + 4], s5 += p[i + 5], s6 += p[i + 6], s7 += p[i + 7];
    }
    for (; i < n; i++) s0 += p[i];
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
}

static void *probe_worker(void *p) {
    probe_arg *t = p;
    double *restrict a = t->a, *restrict b = t->b, *restrict c = t->c;
    if (t->kind == 0)
        for (size_t i = t->lo; i < t->hi; i++) c[i] = a[i];
    else if (t->kind == 1)
        for (size_t i = t->lo; i < t->hi; i++) a[i] = b[i] + 3.0 * c[i];
    else
        t->sum = probe_read((const uint64_t *)(const void *)a + t->lo, t->hi - t->lo, t->kind == 3);
    return NULL;
}

static int cmp_dbl(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double *probe_alloc(size_t bytes) {
    const size_t align = (size_t)2 << 20;
    void *p = aligned_alloc(align, (bytes + align - 1) / align * align);
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, (bytes + align - 1) / align * align, MADV_HUGEPAGE); /* a hint; failure is harmless */
#endif
    return p;
}

/* GB/s with nth threads over three buffers of mb MiB: the best read-only run (kinds 2 and 3), and the medians of
 * copy and triad. Returns -1 on failure. */
static int probe_bandwidth(int nth, int mb, double *read_gbs, double *copy_gbs, double *triad_gbs) {
    size_t n = (size_t)mb * 1048576 / sizeof(double);
    double *a = probe_alloc(n * sizeof *a), *b = probe_alloc(n * sizeof *b), *c = probe_alloc(n * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return -1;
    }
    for (size_t i = 0; i < n; i++) a[i] = 1.0, b[i] = 2.0, c[i] = 0.5;
    enum { RUNS = 5, KINDS = 4 };
    double res[KINDS][RUNS];
    pthread_t th[256];
    probe_arg args[256];
    for (int run = 0; run < RUNS; run++)
        for (int kind = 0; kind < KINDS; kind++) {
            double t0 = cli_now_ms();
            for (int i = 0; i < nth; i++) {
                args[i] = (probe_arg){a, b, c, n * (size_t)i / (size_t)nth, n * (size_t)(i + 1) / (size_t)nth, kind, 0};
                if (i > 0) pthread_create(&th[i], NULL, probe_worker, &args[i]);
            }
            probe_worker(&args[0]);
            for (int i = 1; i < nth; i++) pthread_join(th[i], NULL);
            double s = (cli_now_ms() - t0) / 1e3;
            for (int i = 0; i < nth; i++) probe_sink += args[i].sum;
            const int words = kind == 0 ? 2 : kind == 1 ? 3 : 1;
            res[kind][run] = (double)n * sizeof(double) * words / s / 1e9;
        }
    for (int k = 0; k < KINDS; k++) qsort(res[k], RUNS, sizeof(double), cmp_dbl);
    *copy_gbs = res[0][RUNS / 2];
    *triad_gbs = res[1][RUNS / 2];
    *read_gbs = res[2][RUNS - 1] > res[3][RUNS - 1] ? res[2][RUNS - 1] : res[3][RUNS - 1];
    free(a), free(b), free(c);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------------------------ */
typedef struct result {
    int exec, n_threads, n_prompt, n_gen, n_batch, n_par;
    double avg_ns, stddev_ns, avg_ts, stddev_ts;
    double bytes_per_tok, gbs, bw_gbs, roof_pct, triad_gbs; /* bw_gbs: the probe's read bandwidth */
    double j_compute, j_memory; /* the estimate */
    double j_measured;          /* RAPL package joules per token, when measured */
    int available, measured;
} result;

#define MEASURED_LABEL "measured (RAPL package)"
#define ESTIMATED_LABEL "estimated"


static uint64_t rng_state = 0x853c49e6748fea9bull;
static int32_t rand_tok(int n_vocab) {
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return (int32_t)((rng_state * 0x2545f4914f6cdd1dull >> 33) % (uint64_t)n_vocab);
}

/* One timed run of the test; returns seconds or < 0 on error. */
static double run_once(octet_session *s, int n_vocab, int n_prompt, int n_gen, int n_batch, int32_t *toks) {
    octet_error err;
    memset(&err, 0, sizeof err);
    octet_session_truncate(s, 0);
    for (int i = 0; i < n_prompt + n_gen; i++) toks[i] = rand_tok(n_vocab);
    double t0 = cli_now_ms();
    for (int i = 0; i < n_prompt; i += n_batch) {
        int n = n_prompt - i < n_batch ? n_prompt - i : n_batch;
        if (octet_session_decode(s, toks + i, n, i, &err)) {
            fprintf(stderr, "octet bench: decode: %s\n", err.msg);
            return -1;
        }
    }
    for (int i = 0; i < n_gen; i++)
        if (octet_session_decode(s, toks + n_prompt + i, 1, n_prompt + i, &err)) {
            fprintf(stderr, "octet bench: decode: %s\n", err.msg);
            return -1;
        }
    return (cli_now_ms() - t0) / 1e3;
}

/* One run of a test: on one session, or (under mpiexec) through the pipeline with all its sequences. */
static double bench_once(cli_dist *cd, octet_session *s, int n_vocab, int n_prompt, int n_gen, int n_batch,
                         int32_t *toks) {
    if (!cd->pl) return run_once(s, n_vocab, n_prompt, n_gen, n_batch, toks);
    for (int i = 0; i < n_prompt + n_gen; i++) toks[i] = rand_tok(n_vocab);
    return cli_pipeline_bench(cd->pl, toks, n_prompt, n_gen, n_batch);
}

static int parse_list(const char *s, int *out, int max, int lo, int hi, const char *what) {
    int n = 0;
    while (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < lo || v > hi || n == max) {
            fprintf(stderr, "octet bench: %s: expected a comma list of up to %d integers in %d..%d\n", what, max, lo,
                    hi);
            return -1;
        }
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            fprintf(stderr, "octet bench: %s: unexpected '%s'\n", what, end);
            return -1;
        }
    }
    return n;
}

static void print_header(const char *fmt) {
    if (strcmp(fmt, "csv") == 0) {
        /* llama-bench's csv columns, in its order, then octet's additions */
        printf("build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,model_size,"
               "model_n_params,n_batch,n_ubatch,n_threads,cpu_mask,cpu_strict,poll,type_k,type_v,n_gpu_layers,"
               "n_cpu_moe,split_mode,main_gpu,no_kv_offload,flash_attn,devices,tensor_split,tensor_buft_overrides,"
               "load_mode,embeddings,no_op_offload,no_host,fit_target,fit_min_ctx,n_prompt,n_gen,n_depth,"
               "test_time,avg_ns,stddev_ns,avg_ts,stddev_ts,exec,bytes_per_token,achieved_gbs,bandwidth_gbs,"
               "roofline_pct,j_per_token,j_compute,j_memory,n_parallel,energy_source,j_estimated,triad_gbs\n");
    } else if (strcmp(fmt, "md") == 0) {
        printf("| model | size | params | exec, kernels | threads | test | t/s | MB/token | GB/s | roofline | mJ/token | "
               "energy |\n");
        printf("| --- | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    } else {
        printf("[\n");
    }
}

static void print_row(const char *fmt, const result *r, const char *model, const model_stats *ms,
                      const octet_model_info *mi, int first) {
    char test[64];
    if (r->n_prompt && !r->n_gen) snprintf(test, sizeof test, "pp%d", r->n_prompt);
    else if (!r->n_prompt) snprintf(test, sizeof test, "tg%d", r->n_gen);
    else snprintf(test, sizeof test, "pp%d+tg%d", r->n_prompt, r->n_gen);
    if (r->n_par > 1) snprintf(test + strlen(test), sizeof test - strlen(test), " x%d", r->n_par);
    const char *exec = r->exec == OCTET_EXEC_INT ? "int" : "float", *kset = octet_kernel_isa();
    char mexec[48]; /* md: the mode and the kernel set that ran it, "float avx2" */
    snprintf(mexec, sizeof mexec, "%s %s", exec, kset);
    char mtype[96];
    snprintf(mtype, sizeof mtype, "%s %s", mi->arch, mi->file_type);
    time_t now = time(NULL);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    /* j_per_token: the measurement when there is one, else the estimate; energy_source says which */
    double je = r->j_compute + r->j_memory, jt = r->measured ? r->j_measured : je;
    const char *src = r->measured ? MEASURED_LABEL : ESTIMATED_LABEL;
    if (strcmp(fmt, "csv") == 0) {
        printf("\"octet %s\",\"0\",\"\",\"\",\"CPU %s\",\"%s\",\"%s\",\"%llu\",\"%lld\",\"%d\",\"%d\",\"%d\",\"0x0\",\"0\","
               "\"0\",\"f32\",\"f32\",\"0\",\"0\",\"none\",\"0\",\"0\",\"0\",\"\",\"\",\"\",\"%s\",\"0\",\"0\",\"0\","
               "\"0\",\"0\",\"%d\",\"%d\",\"0\",\"%s\",",
               OCTET_VERSION, kset, model, mtype, (unsigned long long)ms->file_bytes, (long long)ms->n_params, r->n_batch,
               r->n_batch, r->n_threads, "mmap", r->n_prompt, r->n_gen, ts);
        if (r->available)
            printf("\"%.0f\",\"%.0f\",\"%.6f\",\"%.6f\",\"%s\",\"%.0f\",\"%.3f\",\"%.3f\",\"%.1f\",\"%.6g\",\"%.6g\","
                   "\"%.6g\",\"%d\",\"%s\",\"%.6g\",\"%.3f\"\n",
                   r->avg_ns, r->stddev_ns, r->avg_ts, r->stddev_ts, exec, r->bytes_per_tok, r->gbs, r->bw_gbs,
                   r->roof_pct, jt, r->j_compute, r->j_memory, r->n_par, src, je, r->triad_gbs);
        else
            printf("\"\",\"\",\"\",\"\",\"%s\",\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"%d\",\"\",\"\",\"\"\n", exec,
                   r->n_par);
    } else if (strcmp(fmt, "md") == 0) {
        if (r->available) {
            printf("| %s | %.2f GiB | %.2f B | %s | %d | %s | %.2f ± %.2f | %.1f | %.2f | %.1f%% | %.2f | ", mtype,
                   (double)ms->file_bytes / 1073741824.0, (double)ms->n_params / 1e9, mexec, r->n_threads, test,
                   r->avg_ts, r->stddev_ts, r->bytes_per_tok / 1e6, r->gbs, r->roof_pct, jt * 1e3);
            if (r->measured)
                printf("%s; estimate %.2f (compute %.2f + memory %.2f) |\n", src, je * 1e3, r->j_compute * 1e3,
                       r->j_memory * 1e3);
            else
                printf("%s (compute %.2f + memory %.2f) |\n", src, r->j_compute * 1e3, r->j_memory * 1e3);
        } else
            printf("| %s | %.2f GiB | %.2f B | %s | %d | %s | not available | | | | | |\n", mtype,
                   (double)ms->file_bytes / 1073741824.0, (double)ms->n_params / 1e9, mexec, r->n_threads, test);
    } else {
        printf("%s  {\"model_filename\": \"%s\", \"model_type\": \"%s\", \"model_size\": %llu, \"model_n_params\": %lld, "
               "\"exec\": \"%s\", \"kernels\": \"%s\", \"n_threads\": %d, \"n_batch\": %d, \"n_prompt\": %d, \"n_gen\": %d, "
               "\"n_parallel\": %d, \"available\": %s",
               first ? "" : ",\n", model, mtype, (unsigned long long)ms->file_bytes, (long long)ms->n_params, exec,
               kset, r->n_threads, r->n_batch, r->n_prompt, r->n_gen, r->n_par, r->available ? "true" : "false");
        if (r->available)
            printf(", \"avg_ns\": %.0f, \"stddev_ns\": %.0f, \"avg_ts\": %.6f, \"stddev_ts\": %.6f, "
                   "\"bytes_per_token\": %.0f, \"achieved_gbs\": %.3f, \"bandwidth_gbs\": %.3f, \"roofline_pct\": %.2f, "
                   "\"j_per_token\": %.6g, \"j_compute\": %.6g, \"j_memory\": %.6g, \"energy_source\": \"%s\", "
                   "\"j_estimated\": %.6g, \"triad_gbs\": %.3f",
                   r->avg_ns, r->stddev_ns, r->avg_ts, r->stddev_ts, r->bytes_per_tok, r->gbs,
                   r->bw_gbs, r->roof_pct, jt, r->j_compute, r->j_memory, src, je, r->triad_gbs);
        printf("}");
    }
    fflush(stdout);
}

int cmd_bench(int argc, char **argv) {
    const char *model = NULL, *p_list = "512", *n_list = "128", *t_list = NULL, *exec_list = "float", *fmt = "md";
    const char *etable = NULL;
    const char *split = NULL;
    int reps = 5, no_mmap = 0, use_mlock = 0, probe_mb = 512, n_batch_opt = 0, no_probe = 0, n_par = 1;
    const opt opts[] = {
        {"--model", "-m", OPT_STR, &model, "FILE", "GGUF model (default: the bundled model)", 0, 0, NULL},
        {"--n-prompt", "-p", OPT_STR, &p_list, "N[,N..]", "prompt tokens per pp test, 0 for none (default 512)", 0, 0,
         NULL},
        {"--n-gen", "-n", OPT_STR, &n_list, "N[,N..]", "generated tokens per tg test, 0 for none (default 128)", 0, 0,
         NULL},
        {"--threads", "-t", OPT_STR, &t_list, "T[,T..]", "threads (default: all CPUs)", 0, 0, NULL},
        {"--repetitions", "-r", OPT_INT, &reps, "N", "timed repetitions per test (default 5)", 1, 1000, NULL},
        {"--batch-size", "-b", OPT_INT, &n_batch_opt, "N", "prompt tokens per forward pass (default min(p, 512))", 1,
         4096, NULL},
        {"--exec", NULL, OPT_STR, &exec_list, "MODE[,MODE]", "float (default) and/or int", 0, 0, NULL},
        {"--output", "-o", OPT_STR, &fmt, "FMT", "md (default), csv (llama-bench's columns first) or json", 0, 0,
         NULL},
        {"--energy-table", NULL, OPT_STR, &etable, "FILE", "replace the energy table ('operation picojoules' lines)",
         0, 0, NULL},
        {"--probe-mb", NULL, OPT_INT, &probe_mb, "MIB", "size of each bandwidth-probe buffer (default 512)", 16,
         65536, NULL},
        {"--no-probe", NULL, OPT_FLAG, &no_probe, NULL, "skip the bandwidth probe (no GB/s or roofline)", 0, 0, NULL},
        {"--no-mmap", NULL, OPT_FLAG, &no_mmap, NULL, "read the model into memory instead of mapping it", 0, 0, NULL},
        {"--mlock", NULL, OPT_FLAG, &use_mlock, NULL, "lock the model in RAM", 0, 0, NULL},
        {"--parallel", NULL, OPT_INT, &n_par, "N",
         "under mpiexec (build/mpi/octet): N sequences in flight through the pipeline stages, each decoding the "
         "whole test, rows give aggregate tokens/s (default 1; more than 1 needs an MPI job)", 1, 256, NULL},
        {"--split", NULL, OPT_STR, &split, "N,N..", "under mpiexec: layers per rank (default: balanced by bytes)", 0,
         0, NULL},
    };
    const cmd_spec spec = {
        "bench", "[-m MODEL] [-p 512] [-n 128] [-t T] [-r 5] [--exec float|int] [-o md|csv|json]",
        "Measure prompt processing (ppN) and generation (tgN) speed like llama-bench: tokens/s mean ± sd over -r "
        "runs, plus bytes read per token, achieved GB/s against this machine's bandwidth (a STREAM-style probe) "
        "and joules per token: measured from the CPU package's RAPL energy counters where Linux exposes them "
        "readable (/sys/class/powercap), else estimated and split into compute and memory (docs/performance.md). "
        "Comma lists run "
        "every combination. Under mpiexec (docs/distributed.md) the model runs as a pipeline of stages, one per "
        "rank, with --parallel sequences in flight (one -t value, float execution); each rank prints its stage "
        "report (layers, compute and wait time, bytes sent per token) at the end.",
        opts, (int)(sizeof opts / sizeof opts[0]), 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (strcmp(fmt, "md") && strcmp(fmt, "csv") && strcmp(fmt, "json")) {
        fprintf(stderr, "octet bench: -o must be md, csv or json\n");
        return EXIT_USAGE;
    }
    if (etable && load_energy_table(etable)) return EXIT_USAGE;
    int ps[16], ns[16], ts[16], ex[2];
    int n_p = parse_list(p_list, ps, 16, 0, 1 << 16, "-p"), n_n = parse_list(n_list, ns, 16, 0, 1 << 16, "-n");
    int n_t = 1;
    if (t_list) n_t = parse_list(t_list, ts, 16, 1, 256, "-t");
    else ts[0] = 0;
    if (n_p < 0 || n_n < 0 || n_t < 0) return EXIT_USAGE;
    int n_ex = 0;
    for (const char *s = exec_list; s && *s;) {
        const char *c = strchr(s, ',');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        char buf[16];
        if (len >= sizeof buf || n_ex == 2) {
            fprintf(stderr, "octet bench: --exec: expected float, int or float,int\n");
            return EXIT_USAGE;
        }
        memcpy(buf, s, len), buf[len] = 0;
        int e = cli_exec_mode(buf);
        if (e < 0) return EXIT_USAGE;
        ex[n_ex++] = e;
        s = c ? c + 1 : s + len;
    }
    if (!model) model = cli_default_model();
    cli_dist cd; /* under mpiexec (dist.h): one pipeline, --parallel sequences in flight */
    if (cli_dist_start(&cd)) return EXIT_ERR;
    if (!cd.d && n_par > 1) {
        fprintf(stderr, "octet bench: --parallel %d needs an MPI job (mpiexec -n K build/mpi/octet bench ...); "
                        "without one, use the server's slots for batched decoding\n", n_par);
        return EXIT_USAGE;
    }
    if (cd.d && (n_t > 1 || n_ex > 1 || ex[0] != OCTET_EXEC_FLOAT)) {
        fprintf(stderr, "octet bench: under mpiexec: one -t value and --exec float only (one pipeline per job)\n");
        return cli_dist_end(&cd, EXIT_USAGE);
    }
    if (cd.d) no_probe = 1; /* the probe measures one process's bandwidth; pipeline rows have no roofline */

    model_stats ms;
    if (model_account(model, &ms)) return cli_dist_end(&cd, EXIT_ERR);
    octet_model *m = cli_open_model(model, !no_mmap, use_mlock, 1);
    if (!m) return cli_dist_end(&cd, EXIT_ERR);
    octet_model_info mi;
    octet_model_get_info(m, &mi);
    if (!cli_dist_quiet(&cd))
        fprintf(stderr, "octet bench: %s: %s %s, %.1f MiB of matrices, kernels: %s\n", model, mi.arch, mi.file_type,
            ms.mat_bytes / 1048576.0, octet_kernel_isa());
    int max_tok = 0;
    for (int i = 0; i < n_p; i++)
        for (int j = 0; j < n_n; j++) max_tok = ps[i] + ns[j] > max_tok ? ps[i] + ns[j] : max_tok;
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(max_tok > 0 ? max_tok : 1));
    if (!toks) {
        octet_model_close(m);
        return cli_dist_end(&cd, EXIT_ERR);
    }
    /* measured energy where the OS exposes readable RAPL package counters (see the top comment) */
    static powercap pc;
    int have_pc = 0;
    if (!cd.d) {
        have_pc = powercap_open(&pc, getenv("OCTET_SYSFS_ROOT")) > 0;
        if (have_pc) {
            fprintf(stderr, "octet bench: energy: measured, RAPL package counters:");
            for (int i = 0; i < pc.n_zones; i++) fprintf(stderr, " %s (%s)", pc.zone[i].dir, pc.zone[i].name);
            fprintf(stderr, "\n");
            powercap_watch(&pc, 1000); /* a reading at least every second: no counter wraps twice unseen */
        } else {
            fprintf(stderr, "octet bench: energy: estimated (no readable RAPL package counter: %s)\n", pc.why);
        }
    }
    if (!cli_dist_quiet(&cd)) print_header(fmt);
    int first = 1, status = EXIT_OK;
    double bw_cache[257] = {0}, triad_cache[257] = {0};
    for (int ie = 0; ie < n_ex; ie++)
        for (int it = 0; it < n_t; it++) {
            int nth = ts[it];
            /* tests: every pp alone, then every tg alone (llama-bench's default matrix) */
            int tests[32][2], n_tests = 0;
            for (int i = 0; i < n_p; i++)
                if (ps[i] > 0) tests[n_tests][0] = ps[i], tests[n_tests++][1] = 0;
            for (int i = 0; i < n_n; i++)
                if (ns[i] > 0) tests[n_tests][0] = 0, tests[n_tests++][1] = ns[i];
            octet_session_params sp = octet_session_default_params();
            sp.exec = ex[ie];
            sp.n_threads = nth;
            sp.n_ctx = max_tok > 0 ? max_tok : 1;
            int nb = n_batch_opt;
            if (!nb) {
                nb = 1;
                for (int i = 0; i < n_p; i++) nb = ps[i] > nb ? ps[i] : nb;
                nb = nb > 512 ? 512 : nb;
            }
            sp.n_batch = nb;
            octet_session *s = NULL;
            octet_error err;
            memset(&err, 0, sizeof err);
            int dr = cli_dist_pipeline(&cd, m, model, split, &sp, n_par);
            if (dr) { /* > 0: a later stage that served until the end */
                status = dr > 0 ? EXIT_OK : EXIT_ERR;
                break;
            }
            int src = cd.pl ? 0 : octet_session_new(&s, m, &sp, &err);
            int real_nth = nth > 0 ? nth : 0;
            if (!src && real_nth == 0) {
                /* the session picked the CPU count; report it */
                long nc = sysconf(_SC_NPROCESSORS_ONLN);
                real_nth = nc > 0 ? (int)nc : 1;
            }
            double bw = 0;
            if (!no_probe) {
                int k = real_nth > 256 ? 256 : real_nth;
                if (bw_cache[k] == 0) {
                    double rd, cp, tr;
                    if (probe_bandwidth(k > 0 ? k : 1, probe_mb, &rd, &cp, &tr) == 0) {
                        bw_cache[k] = rd;
                        triad_cache[k] = tr;
                        fprintf(stderr, "octet bench: bandwidth probe, %d thread(s), %d MiB buffers: read %.2f GB/s "
                                        "(best of 10), copy %.2f GB/s, triad %.2f GB/s (medians of 5); roofline = "
                                        "GB/s / read\n", k, probe_mb, rd, cp, tr);
                    } else {
                        bw_cache[k] = -1;
                    }
                }
                bw = bw_cache[k] > 0 ? bw_cache[k] : 0;
            }
            for (int ti = 0; ti < n_tests; ti++) {
                result r;
                memset(&r, 0, sizeof r);
                r.exec = ex[ie], r.n_threads = real_nth, r.n_prompt = tests[ti][0], r.n_gen = tests[ti][1];
                r.n_batch = nb, r.n_par = n_par;
                if (src) {
                    if (ti == 0) fprintf(stderr, "octet bench: %s\n", err.msg[0] ? err.msg : octet_strerror(src));
                    print_row(fmt, &r, model, &ms, &mi, first);
                    first = 0;
                    continue;
                }
                int ntok = (r.n_prompt + r.n_gen) * n_par;
                if (bench_once(&cd, s, mi.n_vocab, r.n_prompt, r.n_gen, nb, toks) < 0) { /* warm-up */
                    status = EXIT_ERR;
                    break;
                }
                double sum = 0, sum2 = 0, sumt = 0, sumt2 = 0;
                uint64_t uj_sum = 0, uj;
                int meas = have_pc && powercap_take(&pc, &uj) == 0; /* baseline after the warm-up */
                for (int k = 0; k < reps; k++) {
                    double sec = bench_once(&cd, s, mi.n_vocab, r.n_prompt, r.n_gen, nb, toks);
                    if (sec < 0) {
                        status = EXIT_ERR;
                        break;
                    }
                    if (meas) { /* the repetition's joules (the watcher's readings in between included) */
                        meas = powercap_take(&pc, &uj) == 0;
                        if (meas) uj_sum += uj;
                    }
                    double tps = ntok / sec;
                    sum += tps, sum2 += tps * tps, sumt += sec * 1e9, sumt2 += sec * 1e9 * sec * 1e9;
                }
                if (status) break;
                if (have_pc && !meas) {
                    fprintf(stderr, "octet bench: energy: reading the counters failed (%s); estimates from here on\n",
                            pc.why);
                    have_pc = 0;
                }
                r.measured = meas;
                r.j_measured = meas ? (double)uj_sum * 1e-6 / ((double)ntok * reps) : 0;
                r.available = 1;
                r.avg_ts = sum / reps;
                r.stddev_ts = reps > 1 ? sqrt(fmax(0, (sum2 - sum * sum / reps) / (reps - 1))) : 0;
                r.avg_ns = sumt / reps;
                r.stddev_ns = reps > 1 ? sqrt(fmax(0, (sumt2 - sumt * sumt / reps) / (reps - 1))) : 0;
                /* bytes per token: weights once per token (tg) or per batch (pp), plus the KV rows attended */
                double n_past = r.n_gen ? r.n_gen / 2.0 : r.n_prompt / 2.0;
                double kv_row = 2.0 * mi.n_head_kv * mi.head_dim * sizeof(float) * mi.n_layer;
                double wbytes = ms.mat_bytes + ms.vec_bytes;
                double per_batch = r.n_gen ? 1.0 : (double)(nb < r.n_prompt ? nb : r.n_prompt);
                r.bytes_per_tok = wbytes / per_batch + ms.embd_row_bytes + kv_row * n_past;
                r.gbs = r.bytes_per_tok * r.avg_ts / 1e9;
                r.bw_gbs = bw;
                r.triad_gbs = bw > 0 ? triad_cache[real_nth > 256 ? 256 : real_nth] : 0;
                r.roof_pct = bw > 0 ? 100.0 * r.gbs / bw : 0;
                double ops[E_N], pj = 0;
                count_ops(&ms, &mi, r.exec, n_past, ops);
                for (int k = 0; k < E_N; k++) pj += ops[k] * E_PJ[k];
                r.j_compute = pj * 1e-12;
                r.j_memory = r.bytes_per_tok / 8.0 * E_PJ[E_DRAM] * 1e-12;
                print_row(fmt, &r, model, &ms, &mi, first);
                first = 0;
            }
            octet_session_free(s);
            if (status || cli_dist_quiet(&cd)) break;
        }
    if (strcmp(fmt, "json") == 0 && !cli_dist_quiet(&cd)) printf("\n]\n");
    fflush(stdout);
    status = cli_dist_end(&cd, status);
    powercap_close(&pc); /* stops the watcher, if one runs */
    free(toks);
    octet_model_close(m);
    return status;
}
