/*
 * cmd_quantize.c - `octet quantize IN.gguf OUT.gguf --type TYPE` (also llama.cpp's positional form
 * `octet quantize IN OUT TYPE [THREADS]`): convert a float model's weights with octet_model_quantize.
 * Progress on stderr: one updating line when stderr is a terminal, otherwise one plain line per tensor; then a
 * summary. Ctrl-C cancels cleanly: the library removes its temporary file and OUT is never partial.
 * Exit status: 0 written, 1 error (nothing written), 2 usage.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

typedef struct progress_state {
    int tty, quiet;
} progress_state;

/* Progress lines, and the cancellation point for SIGINT/SIGTERM (so it runs in quiet mode too). */
static int on_progress(const octet_quantize_progress *p, void *ud) {
    const progress_state *ps = ud;
    if (ps->quiet) return g_interrupted != 0;
    const double mb = (double)p->bytes_written / 1e6;
    if (ps->tty) {
        const double frac = p->n_rows ? (double)p->rows_done / (double)p->n_rows : 1.0;
        fprintf(stderr, "\r\033[K[%4lld/%4lld] %-32s %5s -> %-5s %3.0f%%  %8.1f MB written",
                (long long)p->i_tensor + 1, (long long)p->n_tensors, p->name, p->type_in, p->type_out, 100.0 * frac,
                mb);
        if (p->tensor_done && p->i_tensor + 1 == p->n_tensors) fputc('\n', stderr);
        fflush(stderr);
    } else if (p->tensor_done) {
        fprintf(stderr, "[%4lld/%4lld] %-32s %5s -> %-5s %8.1f MB written\n", (long long)p->i_tensor + 1,
                (long long)p->n_tensors, p->name, p->type_in, p->type_out, mb);
    }
    return g_interrupted != 0;
}

static const char *types_summary(void) {
    static char buf[1024];
    size_t off = (size_t)snprintf(buf, sizeof buf,
                                  "Write a copy of a float (F32/F16/BF16) GGUF model with its weights quantized. "
                                  "Norms stay F32, the output matrix gets Q6_K (llama.cpp's policy, see "
                                  "docs/quantize.md); metadata is copied. TYPE is one of:");
    for (int i = 0; off < sizeof buf; i++) {
        const char *desc, *name = octet_quantize_type_name(i, &desc);
        if (!name) break;
        off += (size_t)snprintf(buf + off, sizeof buf - off, "\n    %-7s %s", name, desc);
    }
    return buf;
}

int cmd_quantize(int argc, char **argv) {
    const char *type = NULL;
    int n_threads = 0, allow_requantize = 0, quiet = 0;
    const opt opts[] = {
        {"--type", NULL, OPT_STR, &type, "TYPE", "target type, e.g. Q4_K_M (or give it as the third argument)", 0,
         0, NULL},
        {"--threads", "-t", OPT_INT, &n_threads, "N", "threads (default: all CPUs)", 1, 256, NULL},
        {"--allow-requantize", NULL, OPT_FLAG, &allow_requantize, NULL,
         "accept an already-quantized input (dequantized, then quantized again: quality suffers twice)", 0, 0,
         NULL},
        {"--quiet", "-q", OPT_FLAG, &quiet, NULL, "no progress, only errors and the summary", 0, 0, NULL},
    };
    const cmd_spec spec = {"quantize", "IN.gguf OUT.gguf --type TYPE [-t N]   (or: IN.gguf OUT.gguf TYPE [N])",
                           types_summary(), opts, (int)(sizeof opts / sizeof opts[0]), 4};
    const char *pos[4];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos < 2) {
        fprintf(stderr, "octet quantize: give IN.gguf and OUT.gguf (see --help)\n");
        return EXIT_USAGE;
    }
    if (n_pos >= 3) {
        if (type && strcasecmp(type, pos[2]) != 0) {
            fprintf(stderr, "octet quantize: --type %s and the positional type %s disagree\n", type, pos[2]);
            return EXIT_USAGE;
        }
        type = pos[2];
    }
    if (n_pos == 4) {
        char *end;
        long v = strtol(pos[3], &end, 10);
        if (*end || v < 1 || v > 256) {
            fprintf(stderr, "octet quantize: thread count '%s' is not a number in 1..256\n", pos[3]);
            return EXIT_USAGE;
        }
        n_threads = (int)v;
    }
    if (!type) {
        fprintf(stderr, "octet quantize: --type TYPE is required (see --help for the list)\n");
        return EXIT_USAGE;
    }
    int known = 0;
    for (int i = 0; octet_quantize_type_name(i, NULL); i++) known |= strcasecmp(type, octet_quantize_type_name(i, NULL)) == 0;
    if (!known) {
        fprintf(stderr, "octet quantize: unknown type '%s'; one of:", type);
        for (int i = 0; octet_quantize_type_name(i, NULL); i++) fprintf(stderr, " %s", octet_quantize_type_name(i, NULL));
        fputc('\n', stderr);
        return EXIT_USAGE;
    }

    progress_state ps = {isatty(STDERR_FILENO), quiet};
    octet_quantize_params qp = octet_quantize_default_params();
    qp.type = type;
    qp.n_threads = n_threads;
    qp.allow_requantize = allow_requantize;
    qp.progress = on_progress;
    qp.progress_ud = &ps;
    if (quiet) ps.tty = 0;

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (!quiet) fprintf(stderr, "octet: quantizing %s to %s as %s\n", pos[0], pos[1], type);
    octet_quantize_stats st;
    octet_error err;
    memset(&err, 0, sizeof err);
    rc = octet_model_quantize(pos[0], pos[1], &qp, &st, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc) {
        if (ps.tty) fputc('\n', stderr);
        fprintf(stderr, "octet: error: %s%s\n", g_interrupted ? "interrupted, nothing written: " : "", err.msg);
        return EXIT_ERR;
    }
    const double bpw = st.n_elements ? 8.0 * (double)st.tensor_bytes_out / (double)st.n_elements : 0.0;
    fprintf(stderr,
            "octet: %s: %.2f MB -> %s: %.2f MB (%s, general.file_type %d), %.3f bits per weight, "
            "%lld of %lld tensors converted%s, %.2f s\n",
            pos[0], (double)st.file_bytes_in / 1e6, pos[1], (double)st.file_bytes_out / 1e6, type, st.ftype, bpw,
            (long long)st.n_converted, (long long)st.n_tensors,
            st.n_fallback ? " (some rows not a multiple of 256: fallback types)" : "", st.seconds);
    return EXIT_OK;
}
