/*
 * lock.h - the lock's struct, shared with condition.c, which waits with
 * the lock released and must know who holds it.
 */
#ifndef CIO_SYNC_LOCK_H
#define CIO_SYNC_LOCK_H

#include "waitq.h"

struct cio_lock {
    cio_loop *loop;            /* bound loop, NULL until first use */
    cio_task *owner;           /* the holder, NULL when free; set to the
                                  first waiter at release (handoff) */
    struct cio__waitq waiters; /* tasks waiting to acquire, FIFO */
};

/* Releases l held by its owner: hands it to the first waiter, if any. */
void cio__lock_pass(cio_lock *l);

#endif
