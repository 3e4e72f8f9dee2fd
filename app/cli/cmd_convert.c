/*
 * cmd_convert.c - `octet convert HF_DIR OUT.gguf [--outtype f32|f16|bf16]`: a Hugging Face Llama-family
 * checkpoint to GGUF (octet_convert_hf). Progress lines (tensor k of n) on stderr unless --quiet. The output is
 * written to a temporary file and renamed by the library, so a failed conversion leaves nothing at OUT.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static void log_line(int level, const char *msg, void *ud) {
    int quiet = *(const int *)ud;
    if (level <= OCTET_LOG_WARN || (!quiet && level == OCTET_LOG_INFO)) fprintf(stderr, "octet: %s\n", msg);
}

int cmd_convert(int argc, char **argv) {
    const char *outtype = "f16";
    int quiet = 0;
    const opt opts[] = {
        {"--outtype", NULL, OPT_STR, &outtype, "TYPE", "f32, f16 (default) or bf16: type of the matrices (norms "
                                                       "and biases stay f32)", 0, 0, NULL},
        {"--quiet", "-q", OPT_FLAG, &quiet, NULL, "no progress lines", 0, 0, NULL},
    };
    const cmd_spec spec = {"convert", "HF_DIR OUT.gguf [--outtype f32|f16|bf16]",
                           "Convert a Hugging Face checkpoint (LlamaForCausalLM, MistralForCausalLM, "
                           "Qwen2ForCausalLM: config.json, *.safetensors, tokenizer.json or tokenizer.model) to GGUF.",
                           opts, (int)(sizeof opts / sizeof opts[0]), 2};
    const char *pos[2];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 2) {
        fprintf(stderr, "octet convert: give HF_DIR and OUT.gguf\n");
        return EXIT_USAGE;
    }
    int type;
    if (strcasecmp(outtype, "f32") == 0) type = 0;
    else if (strcasecmp(outtype, "f16") == 0) type = 1;
    else if (strcasecmp(outtype, "bf16") == 0) type = 30;
    else {
        fprintf(stderr, "octet convert: --outtype: '%s' is not f32, f16 or bf16\n", outtype);
        return EXIT_USAGE;
    }
    octet_set_log(log_line, &quiet);
    octet_error err;
    memset(&err, 0, sizeof err);
    double t0 = cli_now_ms();
    rc = octet_convert_hf(pos[0], pos[1], type, &err);
    octet_set_log(NULL, NULL);
    if (rc) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        return EXIT_ERR;
    }
    fprintf(stderr, "octet: wrote %s (%s) in %.1f s\n", pos[1], outtype, (cli_now_ms() - t0) / 1000.0);
    return EXIT_OK;
}
