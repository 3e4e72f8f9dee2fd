/*
 * spec.c - speculative generation for `octet run` (--draft-model FILE or --lookup): a drafter guesses the next
 * tokens, the target model evaluates the pending token and the guesses in one forward pass (weights read once
 * for all of them), and each guess is kept with octet_sampler_sample_draft while it agrees. The first token that
 * disagrees is the target's own pick and becomes the pending token; the cache keeps only what was accepted. The
 * text is distributed exactly as without drafting, and at temperature 0 it is the same text: the logits of a
 * token are the same bits whether it is evaluated alone or in a batch (tests/e2e/spec.sh checks the text).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* emit one token; 1 when generation ends with it (end of text, or the budget) */
static int emit(const octet_model *m, octet_sampler *smp, int32_t tok, int ignore_eos, utf8_out *out,
                cli_spec_stats *st, int n_predict, int *stop) {
    if (!ignore_eos && octet_token_is_eog(m, tok)) return *stop = 1;
    octet_sampler_accept(smp, tok);
    char piece[256];
    int n = octet_token_to_piece(m, tok, 0, piece, sizeof piece);
    if (n > 0) utf8_write(out, piece, (size_t)(n < (int)sizeof piece ? n : (int)sizeof piece));
    fflush(stdout);
    st->n_gen++;
    if (n_predict >= 0 && st->n_gen >= n_predict) *stop = 1;
    return *stop;
}

int cli_spec_generate(const octet_model *m, octet_session *s, octet_sampler *smp, octet_drafter *dr, int n_draft,
                      const int32_t *prompt, int n_prompt, int n_predict, int ignore_eos, utf8_out *out,
                      cli_spec_stats *st, octet_error *err) {
    const int ctx = octet_session_n_ctx(s);
    size_t cap = (size_t)ctx + 1;
    int32_t *hist = malloc(cap * sizeof *hist), *batch = malloc(((size_t)n_draft + 1) * sizeof *batch);
    if (!hist || !batch) {
        free(hist);
        free(batch);
        fprintf(stderr, "\noctet: error: out of memory\n");
        return 1;
    }
    memcpy(hist, prompt, (size_t)n_prompt * sizeof *hist);
    int n_hist = n_prompt, stop = 0, rc = 0;
    memset(st, 0, sizeof *st);
    /* the first token from the prompt's logits; then it is the pending token (in hist, not yet in the cache) */
    int32_t t = octet_sampler_sample(smp, octet_session_logits(s, n_prompt - 1));
    if (emit(m, smp, t, ignore_eos, out, st, n_predict, &stop)) goto done;
    hist[n_hist++] = t;
    while (!stop) {
        const int base = octet_session_n_past(s); /* == n_hist - 1 */
        int room = ctx - base - 1;                /* cache slots left after the pending token */
        if (room < 0) {
            fprintf(stderr, "\noctet: context full (%d tokens)\n", ctx);
            break;
        }
        int k = octet_drafter_draft(dr, hist, n_hist, batch + 1, n_draft < room ? n_draft : room, err);
        if (k < 0) {
            fprintf(stderr, "\noctet: error: draft: %s\n", err->msg);
            rc = 1;
            break;
        }
        batch[0] = t;
        if (octet_session_decode(s, batch, k + 1, base, err)) {
            fprintf(stderr, "\noctet: error: %s\n", err->msg);
            rc = 1;
            break;
        }
        st->n_passes++;
        st->n_drafted += k;
        int j = 0;
        for (;; j++) { /* row j: the logits after batch[j] */
            int acc = 0;
            const float *l = octet_session_logits(s, j);
            int32_t x = j < k ? octet_sampler_sample_draft(smp, l, batch[j + 1], &acc) : octet_sampler_sample(smp, l);
            if (emit(m, smp, x, ignore_eos, out, st, n_predict, &stop)) break;
            hist[n_hist++] = x;
            if (acc) {
                st->n_accepted++;
                continue;
            }
            t = x; /* the new pending token; the cache keeps batch[0 .. j] */
            break;
        }
        if (stop) break;
        octet_session_truncate(s, base + 1 + j);
        if (n_hist > ctx) {
            fprintf(stderr, "\noctet: context full (%d tokens)\n", ctx);
            break;
        }
    }
done:
    free(hist);
    free(batch);
    return rc;
}
