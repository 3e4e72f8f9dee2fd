/*
 * main.c - the octet command: dispatches to a subcommand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} subcmd;

static const subcmd SUBCMDS[] = {
    {"run", cmd_run, "generate text from a prompt (default: the bundled model)"},
    {"info", cmd_info, "show a model's metadata, hyperparameters, tokenizer and tensors"},
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"chat-template", cmd_chat_template, "print the prompt the model's chat template makes of a conversation"},
    {"perplexity", cmd_perplexity, "perplexity of a text; KL divergence against a saved base model"},
    {"serve", cmd_serve, "serve the model over HTTP: OpenAI-compatible API and a chat page"},
    {"bench", cmd_bench, "speed: prompt and generation tokens/s, GB/s against the measured bandwidth, J/token"},
    {"synth", cmd_synth, "write a random-weight GGUF model of a real shape (for speed work)"},
    {"report", cmd_report, "quantize a float model to every type and tabulate quality, size, speed and energy"},
    {"logits", cmd_logits, "write the logits of a token sequence to a file (float32, one row per token)"},
    {"embed", cmd_embed, "print the embedding of a text (mean-pooled final hidden states, as /v1/embeddings)"},
    {"quantize", cmd_quantize, "write a copy of a float model with quantized weights (Q8_0 ... Q4_K_M)"},
    {"convert", cmd_convert, "convert a Hugging Face checkpoint (safetensors) to a float GGUF file"},
};
#define N_SUBCMDS (int)(sizeof SUBCMDS / sizeof SUBCMDS[0])

static void usage(FILE *f) {
    fprintf(f, "octet %s - Llama-family inference on 8-bit integer compute\n\nusage: octet COMMAND [options]\n\n"
               "commands:\n", OCTET_VERSION);
    for (int i = 0; i < N_SUBCMDS; i++) fprintf(f, "  %-13s %s\n", SUBCMDS[i].name, SUBCMDS[i].summary);
    fprintf(f, "\n'octet COMMAND --help' shows the options of a command.\n"
               "Exit status: 0 success, 1 runtime or model error, 2 usage error.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("octet %s\n", OCTET_VERSION);
        return EXIT_OK;
    }
    /* OCTET_ISA=NAME in the environment: a set this CPU cannot run is a usage error, as for --isa */
    const char *env_isa = getenv("OCTET_ISA");
    if (env_isa && *env_isa) {
        octet_error err;
        memset(&err, 0, sizeof err);
        if (octet_set_isa(env_isa, &err)) {
            fprintf(stderr, "octet: OCTET_ISA: %s\n", err.msg);
            return EXIT_USAGE;
        }
    }
    /* --isa NAME (or --isa=NAME), accepted by every command: taken out before the command parses its options */
    for (int i = 2; i < argc; i++) {
        const char *name = NULL;
        int used = 0;
        if (strcmp(argv[i], "--isa") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "octet: --isa: flag missing its value\n");
                return EXIT_USAGE;
            }
            name = argv[i + 1], used = 2;
        } else if (strncmp(argv[i], "--isa=", 6) == 0) {
            name = argv[i] + 6, used = 1;
        } else if (strcmp(argv[i], "--") == 0) {
            break;
        }
        if (!name) continue;
        octet_error err;
        memset(&err, 0, sizeof err);
        if (octet_set_isa(name, &err)) {
            fprintf(stderr, "octet: --isa: %s\n", err.msg);
            return EXIT_USAGE;
        }
        memmove(&argv[i], &argv[i + used], (size_t)(argc - i - used + 1) * sizeof *argv);
        argc -= used;
        i--;
    }
    for (int i = 0; i < N_SUBCMDS; i++)
        if (strcmp(argv[1], SUBCMDS[i].name) == 0) return SUBCMDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "octet: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
