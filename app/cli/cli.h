/*
 * cli.h - shared pieces of the octet command: the option table parser (one table drives both parsing and
 * --help), default model lookup, UTF-8 safe output, timing, and the subcommand entry points.
 * Exit status: 0 success, 1 runtime or model error, 2 usage error.
 */
#ifndef OCTET_CLI_H
#define OCTET_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "octet.h"

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2 };

typedef enum { OPT_STR, OPT_INT, OPT_I64, OPT_FLOAT, OPT_FLAG, OPT_U64 } opt_kind;

typedef struct opt {
    const char *lng;   /* "--temp" */
    const char *shrt;  /* "-t" or NULL */
    opt_kind kind;
    void *dst;         /* const char **, int *, int64_t *, float *, int * (flag: set to 1), uint64_t * */
    const char *metavar;
    const char *help;
    double lo, hi;     /* numeric range (inclusive) when lo < hi */
    int *seen;         /* optional: set to 1 when given */
} opt;

typedef struct cmd_spec {
    const char *name;
    const char *usage;    /* after "octet NAME " */
    const char *summary;
    const opt *opts;
    int n_opts;
    int max_positional;
} cmd_spec;

/* Parse argv[1..] (argv[0] is the subcommand). Positionals go to pos (at most spec->max_positional).
 * Returns 0, EXIT_USAGE after printing a message, or -1 when --help was printed (caller exits 0). */
int cli_parse(const cmd_spec *spec, int argc, char **argv, const char **pos, int *n_pos);
void cli_help(const cmd_spec *spec, FILE *f);

/* The model to use when -m is not given: $OCTET_MODEL, else models/octet-kjv.gguf next to the executable,
 * else in the current directory. */
const char *cli_default_model(void);

/* Read a whole file (for -f). Returns NULL with a message on stderr on failure. Caller frees. */
char *cli_read_file(const char *path, size_t *len);

/* Parse "1,2,3" (spaces allowed) into a malloc'd array. Returns 0 or prints a message and returns -1. */
int cli_parse_tokens(const char *s, int32_t **out, int *n);

/* Streaming UTF-8 writer: buffers partial sequences between pieces, replaces invalid bytes with U+FFFD. */
typedef struct utf8_out {
    FILE *f;
    unsigned char pend[8];
    int n_pend;
} utf8_out;
void utf8_write(utf8_out *u, const char *s, size_t n);
void utf8_flush(utf8_out *u);

double cli_now_ms(void);
/* "float"/NULL -> OCTET_EXEC_FLOAT, "int" -> OCTET_EXEC_INT; anything else: message and -1. */
int cli_exec_mode(const char *s);
/* Open a model with a load line on stderr; returns NULL after printing the error. */
octet_model *cli_open_model(const char *path, int use_mmap, int use_mlock, int quiet);

int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_chat_template(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_serve(int argc, char **argv); /* app/server/serve.c */
int cmd_perplexity(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_convert(int argc, char **argv);


/* speculative generation (spec.c) */
typedef struct cli_spec_stats {
    int n_gen, n_passes, n_drafted, n_accepted;
} cli_spec_stats;
/* Generate after the prompt (already decoded in s, its last row's logits available) with drafts of up to n_draft
 * tokens; s must keep n_draft + 1 rows of logits. 0 on success. */
int cli_spec_generate(const octet_model *m, octet_session *s, octet_sampler *smp, octet_drafter *dr, int n_draft,
                      const int32_t *prompt, int n_prompt, int n_predict, int ignore_eos, utf8_out *out,
                      cli_spec_stats *st, octet_error *err);

#endif
