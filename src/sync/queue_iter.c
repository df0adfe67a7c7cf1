/*
 * queue_iter.c - a queue as an asynchronous iterator (cio/iter.h), so
 * that `CIO_FOR` consumes a queue the way it consumes a generator or the
 * lines of a stream: next is cio_queue_get, and a queue that was shut
 * down and drained is the iterator's end.
 */
#include "../loop/loop.h"
#include "cio/queue.h"

static int queue_next(void *self, void **value)
{
    int rc = cio_queue_get(self, value);
    return rc == CIO_ESHUTDOWN ? CIO_ITER_END : rc;
}

/* Nothing to release: the queue belongs to its creator, and closing one
 * consumer's iteration must not shut it down for the others. */
static const cio_aiter_ops queue_iter_ops = {.next = queue_next, .aclose = NULL};

int cio_queue_aiter(cio_queue *q, cio_aiter *out)
{
    if (!q || !out)
        return cio__bad_arg(NULL, __func__, "q or out is NULL");
    return cio_aiter_init(out, &queue_iter_ops, q);
}
