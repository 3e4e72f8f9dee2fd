/*
 * int.c - integer-only execution mode: placeholder until the integer forward pass lands; every entry point
 * reports that the mode is unavailable.
 */
#include "model/int/int.h"

#include "core/core.h"

int octet__int_new(octet__int_state **out, const octet_model *m, int n_ctx, int n_batch, int logits_all,
                   octet__pool *pool, octet_error *err) {
    *out = NULL;
    return octet__err(err, OCTET_EUNSUPPORTED, "integer execution (--exec int) is not available in this build");
}
void octet__int_free(octet__int_state *st) { (void)st; }
void octet__int_forward(octet__int_state *st, const int32_t *tokens, int n_tok, int64_t pos, int n_past,
                        float *logits) {
    (void)st, (void)tokens, (void)n_tok, (void)pos, (void)n_past, (void)logits;
}
void octet__int_model_release(octet_model *m) { (void)m; }
