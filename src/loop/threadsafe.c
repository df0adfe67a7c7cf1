/*
 * threadsafe.c - cio_call_soon_threadsafe: the one door into a loop from
 * other threads.
 *
 * Callers append a handle to a mutex-protected list and, if the list was
 * empty (ts_pending went 0 -> 1), write the loop's eventfd so a sleeping
 * epoll_wait returns.  The loop reads the eventfd first, then takes the
 * whole list under the lock and clears ts_pending: a handle appended after
 * that sets ts_pending again and writes again, so no wake-up is lost, and
 * a burst of calls costs one write.
 *
 * Closing stops the door under the same lock (ts_tailp NULL), so a call
 * racing with cio_loop_close() either gets in before the queue is dropped
 * or fails with CIO_ECLOSED; it is never appended to a dead queue.  A
 * struct cio__ts_call (loop.h) that the close drops, from this queue or
 * from the ready queue, has its drop() run instead of being lost.
 */
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop.h"

int cio__threadsafe_init(cio_loop *loop)
{
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0)
        return -errno;
    return 0;
}

static void ts_call_trampoline(void *arg)
{
    struct cio__ts_call *c = arg;
    c->run(c);
}

void cio__threadsafe_dropped(cio_handle *h)
{
    if (h->flags & CIO__H_TS_CALL) {
        h->flags &= ~(uint32_t)CIO__H_TS_CALL;
        struct cio__ts_call *c = h->arg;
        c->drop(c);
    }
}

void cio__threadsafe_fini(cio_loop *loop)
{
    pthread_mutex_lock(&loop->ts_lock);
    cio_handle *h = loop->ts_head;
    loop->ts_head = NULL;
    loop->ts_tailp = NULL; /* closed: later calls get CIO_ECLOSED */
    pthread_mutex_unlock(&loop->ts_lock);
    while (h) {
        cio_handle *next = (cio_handle *)(void *)h->node.next;
        cio__threadsafe_dropped(h);
        cio__free(h);
        h = next;
    }
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    loop->wakefd = -1;
}

static int ts_add(cio_loop *loop, cio_callback_fn *cb, void *arg, uint32_t flags)
{
    /* Not from the loop's pool: that belongs to the loop's thread. */
    cio_handle *h = cio__malloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    memset(h, 0, sizeof *h);
    h->loop = loop;
    h->cb = cb;
    h->arg = arg;
    h->flags = flags;
    pthread_mutex_lock(&loop->ts_lock);
    if (!loop->ts_tailp) { /* closing or closed (loop->closed is the loop
                              thread's, not read here) */
        pthread_mutex_unlock(&loop->ts_lock);
        cio__free(h);
        return CIO_ECLOSED;
    }
    *loop->ts_tailp = h;
    loop->ts_tailp = (cio_handle **)(void *)&h->node.next;
    /* Written under the lock: close shuts wakefd only after taking it, so
     * this never writes to a closed (or reused) descriptor. */
    if (!__atomic_exchange_n(&loop->ts_pending, 1, __ATOMIC_ACQ_REL)) {
        uint64_t one = 1;
        ssize_t n = write(loop->wakefd, &one, sizeof one);
        (void)n; /* EAGAIN: the counter is full, so the loop wakes anyway */
    }
    pthread_mutex_unlock(&loop->ts_lock);
    return 0;
}

int cio_call_soon_threadsafe(cio_loop *loop, cio_callback_fn *cb, void *arg)
{
    if (!loop)
        loop = cio__running_loop; /* a thread of the loop's own */
    if (!loop)
        return CIO_ENOLOOP;
    if (!cb)
        return cio__bad_arg(loop, __func__, "callback is NULL");
    return ts_add(loop, cb, arg, 0);
}

int cio__call_soon_threadsafe_call(cio_loop *loop, struct cio__ts_call *c)
{
    return ts_add(loop, ts_call_trampoline, c, CIO__H_TS_CALL);
}

void cio__threadsafe_drain(cio_loop *loop)
{
    if (!__atomic_load_n(&loop->ts_pending, __ATOMIC_ACQUIRE))
        return;
    uint64_t count;
    ssize_t n = read(loop->wakefd, &count, sizeof count);
    (void)n;
    pthread_mutex_lock(&loop->ts_lock);
    cio_handle *h = loop->ts_head;
    loop->ts_head = NULL;
    loop->ts_tailp = &loop->ts_head;
    __atomic_store_n(&loop->ts_pending, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&loop->ts_lock);
    while (h) {
        cio_handle *next = (cio_handle *)(void *)h->node.next;
        cio_callback_fn *cb = h->cb;
        void *arg = h->arg;
        uint32_t call = h->flags & CIO__H_TS_CALL;
        cio__handle_init(loop, h);
        h->cb = cb;
        h->arg = arg;
        h->flags |= call; /* cio_loop_close may still drop it */
        h->seq = loop->seq++;
        cio__handle_schedule(h);
        h = next;
    }
}

