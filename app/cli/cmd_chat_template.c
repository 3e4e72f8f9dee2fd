/*
 * cmd_chat_template.c - `octet chat-template`: the model's tokenizer.chat_template rendered for a conversation
 * (a chat-completions request body: messages, optional tools, template kwargs such as enable_thinking), as
 * Hugging Face transformers' apply_chat_template renders it (src/text/jinja.h), with add_generation_prompt true
 * and bos_token / eos_token from the model's vocabulary.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* the text of token id (control tokens included), or "" */
static char *token_text(const octet_model *m, int id) {
    char buf[512];
    int k = id >= 0 ? octet_token_to_piece(m, id, 1, buf, sizeof buf) : 0;
    if (k < 0 || k > (int)sizeof buf) k = 0;
    char *s = malloc((size_t)k + 1);
    if (s) {
        memcpy(s, buf, (size_t)k);
        s[k] = 0;
    }
    return s;
}

int cmd_chat_template(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *tmpl_file = NULL;
    int no_gen = 0;
    const opt opts[] = {
        {"--model", "-m", OPT_STR, &model, "FILE", "GGUF model whose tokenizer.chat_template is used (default: the bundled model)", 0, 0, NULL},
        {"--file", "-f", OPT_STR, &file, "FILE", "the conversation: a chat-completions request body (JSON)", 0, 0, NULL},
        {"--template", NULL, OPT_STR, &tmpl_file, "FILE", "use this Jinja template instead of the model's", 0, 0, NULL},
        {"--no-generation-prompt", NULL, OPT_FLAG, &no_gen, NULL, "render with add_generation_prompt false", 0, 0, NULL},
    };
    const cmd_spec spec = {"chat-template", "[-m MODEL] -f CONVERSATION.json [--template FILE]",
                           "Print the prompt the model's chat template makes of a conversation (a chat-completions "
                           "request body: messages, optional tools and template kwargs such as enable_thinking, at "
                           "the top level or in chat_template_kwargs), rendered as Hugging Face transformers does.",
                           opts, (int)(sizeof opts / sizeof opts[0]), 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (!file) {
        fprintf(stderr, "octet chat-template: give the conversation with -f FILE\n");
        return EXIT_USAGE;
    }
    int status = EXIT_ERR;
    size_t body_len = 0, tmpl_len = 0;
    char *body = cli_read_file(file, &body_len), *tmpl_own = NULL, *bos = NULL, *eos = NULL, *out = NULL;
    octet_model *m = NULL;
    if (!body) goto done;
    if (!model) model = cli_default_model();
    m = cli_open_model(model, 1, 0, 1);
    if (!m) goto done;
    const char *tmpl;
    if (tmpl_file) {
        tmpl = tmpl_own = cli_read_file(tmpl_file, &tmpl_len);
        if (!tmpl) goto done;
    } else {
        tmpl = octet_model_chat_template(m, &tmpl_len);
        if (!tmpl) {
            fprintf(stderr, "octet: error: %s has no tokenizer.chat_template (give one with --template FILE)\n", model);
            goto done;
        }
    }
    octet_model_info mi;
    octet_model_get_info(m, &mi);
    bos = token_text(m, mi.bos_id);
    eos = token_text(m, mi.eos_id);
    if (!bos || !eos) {
        fprintf(stderr, "octet: error: out of memory\n");
        goto done;
    }
    octet_error err;
    memset(&err, 0, sizeof err);
    size_t n = 0;
    if (octet_chat_template_apply(tmpl, tmpl_len, body, body_len, bos, eos, !no_gen, &out, &n, &err)) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        goto done;
    }
    if (fwrite(out, 1, n, stdout) != n || fflush(stdout)) {
        fprintf(stderr, "octet: error: cannot write the output\n");
        goto done;
    }
    status = EXIT_OK;
done:
    octet_chat_template_free(out);
    free(bos);
    free(eos);
    free(tmpl_own);
    free(body);
    if (m) octet_model_close(m);
    return status;
}
