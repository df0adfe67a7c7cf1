/*
 * cfuture.h - internals of cio_cfuture (cfuture.c) for the bridges to
 * loops (threads.c): done callbacks in nodes the caller embeds, so that
 * a bridge needs no allocation once it is set up and can take its
 * callback back (cio__cfuture_remove_cb) when its loop side goes away.
 */
#ifndef CIO_CFUTURE_INTERNAL_H
#define CIO_CFUTURE_INTERNAL_H

#include "../loop/loop.h"
#include "cio/cfuture.h"

/* A done callback registration. */
struct cio__cfuture_cb {
    struct cio__cfuture_cb *next; /* next registration, in order added */
    cio_cfuture_done_fn *fn;      /* what to call, and its argument */
    void *arg;
    int allocated;                /* made by cio_cfuture_add_done_callback:
                                     freed after it ran */
};

/* Registers cb (fn and arg set by the caller): 0, or 1 if cf was already
 * done and cb->fn ran at once on this thread. */
int cio__cfuture_add_cb(cio_cfuture *cf, struct cio__cfuture_cb *cb);
/* Takes cb back: 1 if it was registered and now never runs, 0 if it ran
 * or is running (the completing thread owns it until it returns). */
int cio__cfuture_remove_cb(cio_cfuture *cf, struct cio__cfuture_cb *cb);
/* Completes cf (status -ECANCELED: cancelled) with message (owned, may be
 * NULL): 0, or CIO_EINVALSTATE if already done (message is freed). */
int cio__cfuture_complete(cio_cfuture *cf, int status, void *result, char *message);

#endif
