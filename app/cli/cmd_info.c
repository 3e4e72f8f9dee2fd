/*
 * cmd_info.c - `octet info`: GGUF metadata, hyperparameters, tokenizer summary and the tensor table.
 */
#include <string.h>

#include "cli.h"

int cmd_info(int argc, char **argv) {
    const char *model = NULL;
    int show_all = 0;
    const opt opts[] = {
        {"--model", "-m", OPT_STR, &model, "FILE", "GGUF model (default: the bundled model)", 0, 0, NULL},
        {"--all", NULL, OPT_FLAG, &show_all, NULL, "print long arrays in full (first elements otherwise)", 0, 0,
         NULL},
    };
    const cmd_spec spec = {"info", "[-m MODEL]",
                           "Print the file's metadata, the model's hyperparameters and tokenizer, and every tensor "
                           "(name, shape, type, bytes). Exit status 1 when the file is malformed or not a model octet "
                           "can run.",
                           opts, (int)(sizeof opts / sizeof opts[0]), 1};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos && model) {
        fprintf(stderr, "octet info: give the model once\n");
        return EXIT_USAGE;
    }
    if (n_pos) model = pos[0];
    if (!model) model = cli_default_model();
    (void)show_all;

    octet_error err;
    memset(&err, 0, sizeof err);
    octet_gguf *g = NULL;
    if (octet_gguf_open(&g, model, &err)) {
        fprintf(stderr, "octet: error: %s\n", err.msg[0] ? err.msg : "cannot open the file");
        return EXIT_ERR;
    }
    printf("file: %s\nGGUF version: %u\nmetadata: %lld keys\n", model, octet_gguf_version(g),
           (long long)octet_gguf_n_kv(g));
    char buf[512];
    for (int64_t i = 0; i < octet_gguf_n_kv(g); i++) {
        octet_gguf_value_str(g, i, buf, sizeof buf);
        printf("  %-44s %s\n", octet_gguf_key(g, i), buf);
    }
    printf("tensors: %lld\n", (long long)octet_gguf_n_tensors(g));
    printf("  %-36s %-28s %-6s %12s\n", "name", "shape", "type", "bytes");
    uint64_t total = 0;
    for (int64_t i = 0; i < octet_gguf_n_tensors(g); i++) {
        octet_tensor_info ti;
        if (octet_gguf_tensor_info(g, i, &ti)) continue;
        char shape[64] = "[";
        for (int d = 0; d < ti.n_dims; d++) {
            char part[24];
            snprintf(part, sizeof part, "%s%lld", d ? ", " : "", (long long)ti.ne[d]);
            strncat(shape, part, sizeof shape - strlen(shape) - 2);
        }
        strcat(shape, "]");
        printf("  %-36s %-28s %-6s %12llu\n", ti.name, shape, ti.type_name ? ti.type_name : "?",
               (unsigned long long)ti.n_bytes);
        total += ti.n_bytes;
    }
    printf("  total %.2f MiB\n", (double)total / 1048576.0);
    octet_gguf_close(g);
    fflush(stdout);

    octet_model *m = cli_open_model(model, 1, 0, 1);
    if (!m) return EXIT_ERR;
    octet_model_info mi;
    octet_model_get_info(m, &mi);
    printf("model:\n  architecture      %s\n  name              %s\n  parameters        %llu (%.2fM)\n"
           "  file type         %s\n  vocabulary        %d\n  context (train)   %d\n  embedding         %d\n"
           "  layers            %d\n  heads / kv heads  %d / %d (head dim %d)\n  feed-forward      %d\n"
           "  rope base         %g (linear scale %g)\n  rms norm eps      %g\n  output            %s\n"
           "  qkv bias          %s\n",
           mi.arch, mi.name, (unsigned long long)mi.n_params, (double)mi.n_params / 1e6, mi.file_type, mi.n_vocab,
           mi.n_ctx_train, mi.n_embd, mi.n_layer, mi.n_head, mi.n_head_kv, mi.head_dim, mi.n_ff,
           (double)mi.rope_freq_base, (double)mi.rope_scale, (double)mi.norm_eps,
           mi.tied_output ? "tied to token_embd" : "output.weight", mi.qkv_bias ? "yes" : "no");
    printf("kernels:\n  in use            %s\n  this CPU runs     ", octet_kernel_isa());
    for (int i = 0; octet_isa_name(i); i++) printf("%s%s", i ? ", " : "", octet_isa_name(i));
    printf("\n");
    printf("tokenizer:\n  model             %s (pre: %s)\n  bos / eos         %d / %d\n  add bos           %s\n",
           mi.tokenizer, mi.tokenizer_pre, mi.bos_id, mi.eos_id, mi.add_bos ? "yes" : "no");
    octet_model_close(m);
    return EXIT_OK;
}
