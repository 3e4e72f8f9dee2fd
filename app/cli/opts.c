/*
 * opts.c - option parsing driven by a table, default model lookup, file reading, token lists, UTF-8 output.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

void cli_help(const cmd_spec *spec, FILE *f) {
    fprintf(f, "usage: octet %s %s\n\n%s\n\noptions:\n", spec->name, spec->usage, spec->summary);
    for (int i = 0; i < spec->n_opts; i++) {
        const opt *o = &spec->opts[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s%s%s", o->shrt ? o->shrt : "", o->shrt ? ", " : "", o->lng,
                 o->metavar ? " " : "", o->metavar ? o->metavar : "");
        fprintf(f, "  %-28s %s\n", left, o->help);
    }
    char sets[96] = "";
    for (int i = 0; octet_isa_name(i); i++)
        snprintf(sets + strlen(sets), sizeof sets - strlen(sets), "%s%s", i ? ", " : "", octet_isa_name(i));
    char isa_help[192];
    snprintf(isa_help, sizeof isa_help, "kernel set: %s on this CPU (default: the best; also OCTET_ISA=NAME)", sets);
    fprintf(f, "  %-28s %s\n", "--isa NAME", isa_help);
    fprintf(f, "  %-28s %s\n", "-h, --help", "show this help");
}

static int parse_num(const opt *o, const char *name, const char *v) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case OPT_INT:
    case OPT_I64: {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end) {
            fprintf(stderr, "octet: %s: '%s' is not an integer\n", name, v);
            return EXIT_USAGE;
        }
        if (o->lo < o->hi && (x < o->lo || x > o->hi)) {
            fprintf(stderr, "octet: %s: %lld is outside %.0f..%.0f\n", name, x, o->lo, o->hi);
            return EXIT_USAGE;
        }
        if (o->kind == OPT_INT) {
            if (x < INT_MIN || x > INT_MAX) {
                fprintf(stderr, "octet: %s: %lld is out of range\n", name, x);
                return EXIT_USAGE;
            }
            *(int *)o->dst = (int)x;
        } else {
            *(int64_t *)o->dst = x;
        }
        return 0;
    }
    case OPT_U64: {
        if (*v == '-') {
            fprintf(stderr, "octet: %s: '%s' must not be negative\n", name, v);
            return EXIT_USAGE;
        }
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || end == v || *end) {
            fprintf(stderr, "octet: %s: '%s' is not an unsigned integer\n", name, v);
            return EXIT_USAGE;
        }
        *(uint64_t *)o->dst = x;
        return 0;
    }
    case OPT_FLOAT: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x)) {
            fprintf(stderr, "octet: %s: '%s' is not a number\n", name, v);
            return EXIT_USAGE;
        }
        if (o->lo < o->hi && (x < o->lo || x > o->hi)) {
            fprintf(stderr, "octet: %s: %g is outside %g..%g\n", name, x, o->lo, o->hi);
            return EXIT_USAGE;
        }
        *(float *)o->dst = (float)x;
        return 0;
    }
    default:
        return EXIT_USAGE;
    }
}

int cli_parse(const cmd_spec *spec, int argc, char **argv, const char **pos, int *n_pos) {
    *n_pos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            cli_help(spec, stdout);
            return -1;
        }
        if (only_pos || a[0] != '-' || a[1] == 0) {
            if (*n_pos >= spec->max_positional) {
                fprintf(stderr, "octet %s: unexpected argument '%s' (see --help)\n", spec->name, a);
                return EXIT_USAGE;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        const opt *o = NULL;
        for (int j = 0; j < spec->n_opts && !o; j++) {
            const opt *c = &spec->opts[j];
            if ((strlen(c->lng) == name_len && strncmp(c->lng, a, name_len) == 0) ||
                (!eq && c->shrt && strcmp(c->shrt, a) == 0))
                o = c;
        }
        if (!o) {
            fprintf(stderr, "octet %s: unknown option '%.*s' (see --help)\n", spec->name, (int)name_len, a);
            return EXIT_USAGE;
        }
        if (o->seen) *o->seen = 1;
        if (o->kind == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "octet %s: option '%s' takes no value\n", spec->name, o->lng);
                return EXIT_USAGE;
            }
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) {
                fprintf(stderr, "octet %s: option '%s' needs a value\n", spec->name, a);
                return EXIT_USAGE;
            }
            v = argv[++i];
        }
        if (o->kind == OPT_STR) {
            *(const char **)o->dst = v;
        } else {
            int rc = parse_num(o, o->lng, v);
            if (rc) return rc;
        }
    }
    return 0;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *cli_default_model(void) {
    static char buf[4096];
    const char *env = getenv("OCTET_MODEL");
    if (env && *env) return env;
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 64);
    if (n > 0) {
        buf[n] = 0;
        char *slash = strrchr(buf, '/');
        if (slash) {
            strcpy(slash + 1, "models/octet-kjv.gguf");
            if (file_exists(buf)) return buf;
            /* build/rel/octet -> ../../models */
            strcpy(slash + 1, "../../models/octet-kjv.gguf");
            if (file_exists(buf)) return buf;
        }
    }
    return "models/octet-kjv.gguf";
}

char *cli_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "octet: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        if (cap > ((size_t)1 << 30)) {
            fprintf(stderr, "octet: %s: larger than 1 GiB\n", path);
            free(buf);
            fclose(f);
            return NULL;
        }
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "octet: %s: read failed\n", path);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

int cli_parse_tokens(const char *s, int32_t **out, int *n) {
    *out = NULL;
    *n = 0;
    size_t cap = 16;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return -1;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!isdigit((unsigned char)*p)) {
            fprintf(stderr, "octet: --tokens: expected a token id at offset %d of '%s'\n", (int)(p - s), s);
            free(v);
            return -1;
        }
        errno = 0;
        char *end;
        long long x = strtoll(p, &end, 10);
        if (errno || x < 0 || x > INT32_MAX) {
            fprintf(stderr, "octet: --tokens: id at offset %d is out of range\n", (int)(p - s));
            free(v);
            return -1;
        }
        if ((size_t)*n == cap) {
            if (cap > (1u << 24)) {
                fprintf(stderr, "octet: --tokens: too many tokens\n");
                free(v);
                return -1;
            }
            int32_t *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
            cap *= 2;
        }
        v[(*n)++] = (int32_t)x;
        p = end;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == 0) break;
        if (*p != ',') {
            fprintf(stderr, "octet: --tokens: unexpected '%c' at offset %d\n", *p, (int)(p - s));
            free(v);
            return -1;
        }
        p++;
    }
    *out = v;
    return 0;
}

/* Length of the UTF-8 sequence starting with byte c, 0 if c cannot start one. */
static int seq_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return 2;
    if (c >= 0xe0 && c <= 0xef) return 3;
    if (c >= 0xf0 && c <= 0xf4) return 4;
    return 0;
}

/* Is s[0..n) (n == seq_len(s[0])) a valid sequence (no overlong, no surrogate, <= U+10FFFF)? A prefix check
 * when partial is set. */
static int seq_ok(const unsigned char *s, int n, int partial) {
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n >= 2 || partial) {
        if (s[0] == 0xe0 && n >= 2 && s[1] < 0xa0) return 0;
        if (s[0] == 0xed && n >= 2 && s[1] > 0x9f) return 0;
        if (s[0] == 0xf0 && n >= 2 && s[1] < 0x90) return 0;
        if (s[0] == 0xf4 && n >= 2 && s[1] > 0x8f) return 0;
    }
    return 1;
}

void utf8_write(utf8_out *u, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (u->n_pend == 0) {
            int need = seq_len(c);
            if (need == 1) {
                fputc(c, u->f);
                continue;
            }
            if (need == 0) {
                fputs("\xef\xbf\xbd", u->f);
                continue;
            }
            u->pend[u->n_pend++] = c;
            continue;
        }
        int need = seq_len(u->pend[0]);
        u->pend[u->n_pend] = c;
        if (!seq_ok(u->pend, u->n_pend + 1, 1)) {
            /* the pending prefix is invalid: replace it, then reconsider c on its own */
            fputs("\xef\xbf\xbd", u->f);
            u->n_pend = 0;
            i--;
            continue;
        }
        u->n_pend++;
        if (u->n_pend == need) {
            fwrite(u->pend, 1, (size_t)need, u->f);
            u->n_pend = 0;
        }
    }
}

void utf8_flush(utf8_out *u) {
    if (u->n_pend) fputs("\xef\xbf\xbd", u->f);
    u->n_pend = 0;
    fflush(u->f);
}

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void log_to_stderr(int level, const char *msg, void *ud) {
    int verbose = ud ? *(int *)ud : 0;
    if (level <= OCTET_LOG_WARN || verbose) fprintf(stderr, "octet: %s\n", msg);
}

octet_model *cli_open_model(const char *path, int use_mmap, int use_mlock, int quiet) {
    static int verbose = 0;
    octet_set_log(log_to_stderr, &verbose);
    octet_model_params mp = octet_model_default_params();
    mp.use_mmap = use_mmap;
    mp.use_mlock = use_mlock;
    octet_error err;
    memset(&err, 0, sizeof err);
    octet_model *m = NULL;
    double t0 = cli_now_ms();
    int rc = octet_model_open(&m, path, &mp, &err);
    if (rc) {
        fprintf(stderr, "octet: error: %s\n", err.msg[0] ? err.msg : octet_strerror(rc));
        return NULL;
    }
    if (!quiet) {
        octet_model_info mi;
        octet_model_get_info(m, &mi);
        fprintf(stderr,
                "octet: loaded %s (%s, %.2fM params, %s, %.1f MiB, %d layers, ctx %d) in %.0f ms; kernels: %s\n",
                path, mi.arch, (double)mi.n_params / 1e6, mi.file_type, (double)mi.weight_bytes / 1048576.0,
                mi.n_layer, mi.n_ctx_train, cli_now_ms() - t0, octet_kernel_isa());
    }
    return m;
}

int cli_exec_mode(const char *s) {
    if (!s || strcmp(s, "float") == 0) return OCTET_EXEC_FLOAT;
    if (strcmp(s, "int") == 0) return OCTET_EXEC_INT;
    fprintf(stderr, "octet: --exec: '%s' is not float or int\n", s);
    return -1;
}
