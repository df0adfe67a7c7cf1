/*
 * cfuture.c - cio_cfuture, the thread-safe future (concurrent.futures.
 * Future): a mutex guards its state, a condition variable wakes the
 * threads blocked in cio_cfuture_result(), and done callbacks run on the
 * completing thread after the lock is released.
 *
 * Divided into: lifetime, completion (set_result, set_error, cancel, and
 * the internal complete that the bridges use), queries and the blocking
 * wait, and done callbacks.
 *
 * Knows nothing of loops: the bridges to loops are in threads.c.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <time.h>

#include "cfuture.h"

struct cio_cfuture {
    pthread_mutex_t lock;        /* guards every field below but refs */
    pthread_cond_t cond;         /* cio_cfuture_result waiters (monotonic) */
    int refs;                    /* atomic */
    int done;                    /* completed (or cancelled) */
    int status;                  /* 0, a negative code, -ECANCELED */
    void *result;                /* stored, not owned */
    char *message;               /* owned; fixed once done */
    int nwaiters;                /* threads in cio_cfuture_result */
    struct cio__cfuture_cb *cbs; /* pending registrations, in order */
    struct cio__cfuture_cb **cbs_tailp;
};

/* ---- lifetime ------------------------------------------------------------- */

int cio_cfuture_new(cio_cfuture **out)
{
    if (!out)
        return cio__bad_arg(NULL, __func__, "out is NULL");
    *out = NULL;
    cio_cfuture *cf = cio__calloc(1, sizeof *cf);
    if (!cf)
        return -ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&cf->lock, NULL);
    pthread_cond_init(&cf->cond, &ca);
    pthread_condattr_destroy(&ca);
    cf->refs = 1;
    cf->cbs_tailp = &cf->cbs;
    *out = cf;
    return 0;
}

cio_cfuture *cio_cfuture_ref(cio_cfuture *cf)
{
    if (cf)
        __atomic_add_fetch(&cf->refs, 1, __ATOMIC_RELAXED);
    return cf;
}

void cio_cfuture_unref(cio_cfuture *cf)
{
    if (!cf || __atomic_sub_fetch(&cf->refs, 1, __ATOMIC_ACQ_REL))
        return;
    /* Registrations still pending never run: free the ones we made.
     * (Embedded ones belong to bridges, which hold a reference while
     * registered, so none can be left here.) */
    for (struct cio__cfuture_cb *cb = cf->cbs, *next; cb; cb = next) {
        next = cb->next;
        if (cb->allocated)
            cio__free(cb);
    }
    cio__free(cf->message);
    pthread_cond_destroy(&cf->cond);
    pthread_mutex_destroy(&cf->lock);
    cio__free(cf);
}

/* ---- completion ------------------------------------------------------------ */

static void run_cb(cio_cfuture *cf, struct cio__cfuture_cb *cb)
{
    int allocated = cb->allocated;
    cb->fn(cf, cb->arg); /* an embedded cb may be freed by its fn */
    if (allocated)
        cio__free(cb);
}

int cio__cfuture_complete(cio_cfuture *cf, int status, void *result, char *message)
{
    pthread_mutex_lock(&cf->lock);
    if (cf->done) {
        pthread_mutex_unlock(&cf->lock);
        cio__free(message);
        return CIO_EINVALSTATE;
    }
    cf->done = 1;
    cf->status = status;
    cf->result = status == 0 ? result : NULL;
    cf->message = message;
    struct cio__cfuture_cb *cbs = cf->cbs;
    cf->cbs = NULL;
    cf->cbs_tailp = &cf->cbs;
    if (cf->nwaiters)
        pthread_cond_broadcast(&cf->cond);
    /* A callback may drop the last reference its owner held. */
    cio_cfuture_ref(cf);
    pthread_mutex_unlock(&cf->lock);
    while (cbs) {
        struct cio__cfuture_cb *next = cbs->next;
        run_cb(cf, cbs);
        cbs = next;
    }
    cio_cfuture_unref(cf);
    return 0;
}

int cio_cfuture_set_result(cio_cfuture *cf, int status, void *result)
{
    if (!cf)
        return cio__bad_arg(NULL, __func__, "cf is NULL");
    if (status > 0 || status == -ECANCELED)
        return cio__bad_arg(NULL, __func__, "status must be 0 or negative, not -ECANCELED");
    return cio__cfuture_complete(cf, status, result, NULL);
}

int cio_cfuture_set_error(cio_cfuture *cf, int code, const char *message)
{
    if (!cf)
        return cio__bad_arg(NULL, __func__, "cf is NULL");
    if (code >= 0 || code == -ECANCELED)
        return cio__bad_arg(NULL, __func__, "code must be negative and not -ECANCELED");
    char *m = NULL;
    if (message && !(m = cio__strdup(message)))
        return -ENOMEM;
    return cio__cfuture_complete(cf, code, NULL, m);
}

int cio_cfuture_cancel(cio_cfuture *cf)
{
    if (!cf)
        return cio__bad_arg(NULL, __func__, "cf is NULL");
    return cio__cfuture_complete(cf, -ECANCELED, NULL, NULL) == 0;
}

/* ---- queries and the blocking wait ----------------------------------------- */

int cio_cfuture_done(cio_cfuture *cf)
{
    if (!cf)
        return 0;
    pthread_mutex_lock(&cf->lock);
    int done = cf->done;
    pthread_mutex_unlock(&cf->lock);
    return done;
}

int cio_cfuture_cancelled(cio_cfuture *cf)
{
    if (!cf)
        return 0;
    pthread_mutex_lock(&cf->lock);
    int c = cf->done && cf->status == -ECANCELED;
    pthread_mutex_unlock(&cf->lock);
    return c;
}

const char *cio_cfuture_error_message(cio_cfuture *cf)
{
    if (!cf)
        return NULL;
    pthread_mutex_lock(&cf->lock);
    const char *m = cf->done ? cf->message : NULL;
    pthread_mutex_unlock(&cf->lock);
    return m;
}

int cio_cfuture_result(cio_cfuture *cf, double timeout, void **result)
{
    if (result)
        *result = NULL;
    if (!cf)
        return cio__bad_arg(NULL, __func__, "cf is NULL");
    if (isnan(timeout))
        return cio__bad_arg(NULL, __func__, "timeout is NaN");
    /* Past a century is no limit: it also keeps the sum below from
     * overflowing. */
    int forever = timeout < 0 || timeout > 3.2e9;
    struct timespec deadline = {0, 0};
    if (!forever && timeout > 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        int64_t ns = (int64_t)deadline.tv_nsec + (int64_t)(timeout * 1e9);
        deadline.tv_sec += (time_t)(ns / CIO_NS_PER_SEC);
        deadline.tv_nsec = (long)(ns % CIO_NS_PER_SEC);
    }
    pthread_mutex_lock(&cf->lock);
    int timed_out = 0;
    if (!cf->done && (forever || timeout > 0)) {
        cf->nwaiters++;
        while (!cf->done && !timed_out) {
            if (forever)
                pthread_cond_wait(&cf->cond, &cf->lock);
            else
                timed_out = pthread_cond_timedwait(&cf->cond, &cf->lock, &deadline) == ETIMEDOUT;
        }
        cf->nwaiters--;
    }
    int rc;
    if (!cf->done) {
        rc = -ETIMEDOUT;
    } else {
        rc = cf->status;
        if (result && rc == 0)
            *result = cf->result;
    }
    pthread_mutex_unlock(&cf->lock);
    return rc;
}

/* ---- done callbacks -------------------------------------------------------- */

int cio__cfuture_add_cb(cio_cfuture *cf, struct cio__cfuture_cb *cb)
{
    pthread_mutex_lock(&cf->lock);
    if (cf->done) {
        pthread_mutex_unlock(&cf->lock);
        run_cb(cf, cb);
        return 1;
    }
    cb->next = NULL;
    *cf->cbs_tailp = cb;
    cf->cbs_tailp = &cb->next;
    pthread_mutex_unlock(&cf->lock);
    return 0;
}

int cio__cfuture_remove_cb(cio_cfuture *cf, struct cio__cfuture_cb *cb)
{
    int removed = 0;
    pthread_mutex_lock(&cf->lock);
    for (struct cio__cfuture_cb **pp = &cf->cbs; *pp; pp = &(*pp)->next) {
        if (*pp == cb) {
            *pp = cb->next;
            if (cf->cbs_tailp == &cb->next)
                cf->cbs_tailp = pp;
            cb->next = NULL;
            removed = 1;
            break;
        }
    }
    pthread_mutex_unlock(&cf->lock);
    return removed;
}

int cio_cfuture_add_done_callback(cio_cfuture *cf, cio_cfuture_done_fn *fn, void *arg)
{
    if (!cf)
        return cio__bad_arg(NULL, __func__, "cf is NULL");
    if (!fn)
        return cio__bad_arg(NULL, __func__, "fn is NULL");
    struct cio__cfuture_cb *cb = cio__calloc(1, sizeof *cb);
    if (!cb)
        return -ENOMEM;
    cb->fn = fn;
    cb->arg = arg;
    cb->allocated = 1;
    cio__cfuture_add_cb(cf, cb);
    return 0;
}
