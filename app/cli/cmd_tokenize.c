/*
 * cmd_tokenize.c - `octet tokenize`: token ids of a text, comma-separated (or one "id 'piece'" per line).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* --jsonl: each line of the file is a JSON string; one line of comma-separated ids per input line (an empty line
 * for an empty string). For comparing with other tokenizers on many strings without reloading the model. */
static int tokenize_jsonl(octet_model *m, const char *text, size_t len, int add_bos, int parse_special) {
    size_t cap = 1024;
    int32_t *toks = malloc(cap * sizeof *toks);
    int status = EXIT_OK;
    for (size_t at = 0, lineno = 1; at < len && toks && status == EXIT_OK; lineno++) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        json_error_t je;
        json_t *j = json_loadb(text + at, end - at, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        at = end + 1;
        if (!j || !json_is_string(j)) {
            fprintf(stderr, "octet tokenize: line %zu: expected a JSON string\n", lineno);
            json_decref(j);
            status = EXIT_ERR;
            break;
        }
        octet_error err;
        memset(&err, 0, sizeof err);
        int n = 0;
        const char *s = json_string_value(j);
        size_t sl = json_string_length(j);
        int rc = octet_tokenize(m, s, sl, add_bos, parse_special, toks, (int)cap, &n, &err);
        if (rc == OCTET_ERANGE && n > (int)cap) {
            int32_t *nt = realloc(toks, (size_t)n * sizeof *toks);
            if (!nt) {
                json_decref(j);
                break;
            }
            toks = nt, cap = (size_t)n;
            rc = octet_tokenize(m, s, sl, add_bos, parse_special, toks, (int)cap, &n, &err);
        }
        json_decref(j);
        if (rc) {
            fprintf(stderr, "octet: error: line %zu: %s\n", lineno, err.msg);
            status = EXIT_ERR;
            break;
        }
        for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", toks[i]);
        printf("\n");
    }
    if (!toks) {
        fprintf(stderr, "octet tokenize: out of memory\n");
        status = EXIT_ERR;
    }
    free(toks);
    return status;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL;
    int no_bos = 0, show_pieces = 0, no_parse_special = 0, parse_special = 0, jsonl = 0;
    const opt opts[] = {
        {"--model", "-m", OPT_STR, &model, "FILE", "GGUF model (default: the bundled model)", 0, 0, NULL},
        {"--prompt", "-p", OPT_STR, &prompt, "TEXT", "text to tokenize", 0, 0, NULL},
        {"--file", "-f", OPT_STR, &file, "FILE", "read the text from a file", 0, 0, NULL},
        {"--no-bos", NULL, OPT_FLAG, &no_bos, NULL, "do not add the BOS token", 0, 0, NULL},
        {"--no-parse-special", NULL, OPT_FLAG, &no_parse_special, NULL,
         "treat control-token text like <s> as plain text (default: recognise it, as llama-tokenize)", 0, 0, NULL},
        {"--parse-special", NULL, OPT_FLAG, &parse_special, NULL, "recognise control-token text (the default)", 0, 0,
         NULL},
        {"--show-pieces", NULL, OPT_FLAG, &show_pieces, NULL, "print one 'id -> piece' line per token", 0, 0, NULL},
        {"--jsonl", NULL, OPT_FLAG, &jsonl, NULL,
         "with -f: every line is a JSON string, tokenized alone; prints one line of ids per line", 0, 0, NULL},
    };
    const cmd_spec spec = {"tokenize", "[-m MODEL] -p TEXT [--no-bos]",
                           "Print the token ids of TEXT, comma-separated, using the model's tokenizer.", opts,
                           (int)(sizeof opts / sizeof opts[0]), 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (parse_special && no_parse_special) {
        fprintf(stderr, "octet tokenize: --parse-special and --no-parse-special contradict each other\n");
        return EXIT_USAGE;
    }
    if ((prompt != NULL) == (file != NULL)) {
        fprintf(stderr, "octet tokenize: give the text with -p TEXT or -f FILE\n");
        return EXIT_USAGE;
    }
    char *text = NULL;
    size_t len;
    if (file) {
        text = cli_read_file(file, &len);
        if (!text) return EXIT_ERR;
    } else {
        len = strlen(prompt);
    }
    if (!model) model = cli_default_model();
    int status = EXIT_ERR;
    int32_t *toks = NULL;
    octet_model *m = cli_open_model(model, 1, 0, 1);
    if (!m) goto out;
    octet_error err;
    memset(&err, 0, sizeof err);
    const char *t = text ? text : prompt;
    if (jsonl) {
        status = tokenize_jsonl(m, t, len, !no_bos, !no_parse_special);
        goto out;
    }
    int n = 0;
    rc = octet_tokenize(m, t, len, !no_bos, !no_parse_special, NULL, 0, &n, &err);
    if (rc && rc != OCTET_ERANGE) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        goto out;
    }
    toks = malloc(((size_t)n + 1) * sizeof *toks);
    if (!toks || octet_tokenize(m, t, len, !no_bos, !no_parse_special, toks, n + 1, &n, &err)) {
        fprintf(stderr, "octet: error: %s\n", toks ? err.msg : "out of memory");
        goto out;
    }
    if (show_pieces) {
        char piece[512];
        for (int i = 0; i < n; i++) {
            int k = octet_token_to_piece(m, toks[i], 1, piece, sizeof piece);
            if (k < 0) k = 0;
            if (k > (int)sizeof piece) k = (int)sizeof piece;
            printf("%6d -> '", toks[i]);
            utf8_out u = {stdout, {0}, 0};
            utf8_write(&u, piece, (size_t)k);
            utf8_flush(&u);
            printf("'\n");
        }
    } else {
        for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", toks[i]);
        printf("\n");
    }
    status = EXIT_OK;
out:
    free(toks);
    free(text);
    octet_model_close(m);
    return status;
}
