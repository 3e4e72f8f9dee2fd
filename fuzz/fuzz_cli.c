/*
 * fuzz_cli.c - libFuzzer target for the command line's input parsers: the --tokens list parser
 * (cli_parse_tokens) on the input as a string, and the option-table parser (cli_parse) on the input split at
 * NUL bytes into an argv. Neither may crash, hang or leak; a parsed token list must hold only ids in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../app/cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    int32_t *ids = NULL;
    int n = 0;
    if (cli_parse_tokens(s, &ids, &n) == 0) {
        for (int i = 0; i < n; i++)
            if (ids[i] < 0) __builtin_trap();
        free(ids);
    }
    /* argv from NUL-separated pieces */
    char *argv[64];
    int argc = 0;
    argv[argc++] = "fuzz";
    for (size_t i = 0; i < size && argc < 63;) {
        argv[argc++] = s + i;
        i += strlen(s + i) + 1;
    }
    argv[argc] = NULL;
    const char *str = NULL;
    int iv = 0, flag = 0;
    int64_t i64 = 0;
    float fv = 0;
    uint64_t u64 = 0;
    const opt opts[] = {
        {"--str", "-s", OPT_STR, &str, "S", "a string", 0, 0, NULL},
        {"--int", "-i", OPT_INT, &iv, "N", "an int", -5, 1000, NULL},
        {"--i64", NULL, OPT_I64, &i64, "N", "an int64", 0, 0, NULL},
        {"--float", "-f", OPT_FLOAT, &fv, "X", "a float", 0, 2, NULL},
        {"--flag", NULL, OPT_FLAG, &flag, NULL, "a flag", 0, 0, NULL},
        {"--u64", NULL, OPT_U64, &u64, "N", "a uint64", 0, 0, NULL},
    };
    const cmd_spec spec = {"fuzz", "", "", opts, (int)(sizeof opts / sizeof opts[0]), 2};
    const char *pos[2];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc == 0 && (iv < -5 || iv > 1000 || fv < 0 || fv > 2 || n_pos > 2)) __builtin_trap();
    free(s);
    return 0;
}
