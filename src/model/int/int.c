/*
 * int.c - the integer weights cached in the model (model->int_cache): built by the first integer session of a
 * model under a process-wide mutex, shared read-only by every later session, freed by octet_model_close through
 * octet__int_model_release. The model is otherwise read-only after open; int_cache is the one field written
 * later, and only here, under the lock.
 */
#include <pthread.h>

#include "model/int/int.h"
#include "model/int/int_impl.h"
#include "model/model.h"

static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* The model's integer weights, building them on first use. */
int octet__int_weights_get(const octet__int_weights **out, const octet_model *m, octet_error *err) {
    int rc = 0;
    pthread_mutex_lock(&g_cache_lock);
    if (!m->int_cache) {
        octet__int_weights *w = NULL;
        rc = octet__int_weights_build(&w, m, err);
        if (!rc) ((octet_model *)(uintptr_t)m)->int_cache = w; /* the one late write, see the top comment */
    }
    *out = rc ? NULL : m->int_cache;
    pthread_mutex_unlock(&g_cache_lock);
    return rc;
}

void octet__int_model_release(octet_model *m) {
    if (!m) return;
    pthread_mutex_lock(&g_cache_lock);
    octet__int_weights_free(m->int_cache);
    m->int_cache = NULL;
    pthread_mutex_unlock(&g_cache_lock);
}
