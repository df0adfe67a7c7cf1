/*
 * uring_watch.c - the io_uring backend's readiness callbacks
 * (CIO__FD_CALLBACKS: add_reader/add_writer), level-triggered as on
 * epoll: a one-shot poll request per descriptor, re-armed as its
 * completion is handled and submitted with the next wait, after the
 * callbacks ran, so it completes at once only if the descriptor is still
 * ready.  Changing the events removes the request and re-arms it with the
 * new ones when its completion comes back; a watch taken out of the table
 * while its poll is in flight is freed by that poll's last completion.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <string.h>
#include <sys/stat.h>

#include "uring.h"

/* A descriptor's readiness callbacks' poll request. */
struct watch {
    int fd;
    uint32_t want;             /* POLL* bits the callbacks need now */
    uint32_t armed;            /* bits of the request in flight, 0: none */
    uint8_t attached;          /* still uring_state.watch[fd]: a detached
                                  one is freed by its last completion */
    uint8_t removing;          /* a poll remove is on its way */
};

static uint32_t from_poll(int32_t ev)
{
    return ((ev & POLLIN) ? (uint32_t)CIO__IO_IN : 0u) |
           ((ev & POLLOUT) ? (uint32_t)CIO__IO_OUT : 0u) |
           ((ev & POLLERR) ? (uint32_t)CIO__IO_ERR : 0u) |
           ((ev & POLLHUP) ? (uint32_t)CIO__IO_HUP : 0u) |
           ((ev & POLLRDHUP) ? (uint32_t)CIO__IO_RDHUP : 0u);
}

static void watch_arm(struct uring_state *st, struct watch *w)
{
    struct io_uring_sqe *sqe = cio__uring_get_sqe(st);
    if (!sqe)
        return; /* the callbacks stay silent; nothing better to do */
    io_uring_prep_poll_add(sqe, w->fd, w->want);
    io_uring_sqe_set_data64(sqe, cio__uring_ud(w, TAG_WATCH));
    w->armed = w->want;
    st->inflight++;
}

static void watch_remove(struct uring_state *st, struct watch *w)
{
    if (!w->armed || w->removing)
        return;
    struct io_uring_sqe *sqe = cio__uring_get_sqe(st);
    if (!sqe)
        return;
    io_uring_prep_poll_remove(sqe, cio__uring_ud(w, TAG_WATCH));
    io_uring_sqe_set_data64(sqe, UD_IGNORE);
    w->removing = 1;
}

/* Takes w out of the table: freed now, or by its last completion. */
static void watch_detach(struct uring_state *st, struct watch *w)
{
    st->watch[w->fd] = NULL;
    w->attached = 0;
    w->want = 0;
    if (w->armed)
        watch_remove(st, w);
    else
        cio__free(w);
}

/* The completion of w's poll: run the callbacks, re-arm. */
/* (uring.h) */
void cio__uring_watch_done(cio_loop *loop, struct watch *w, int res)
{
    struct uring_state *st = cio__uring_state(loop);
    st->inflight--;
    w->armed = 0;
    w->removing = 0;
    if (!w->attached) {
        cio__free(w);
        return;
    }
    if (res > 0) {
        struct cio__fd *f = cio__fd_slot(loop, w->fd, 0);
        if (f && f->mode == CIO__FD_CALLBACKS)
            cio__fd_dispatch_callbacks(loop, w->fd, f, from_poll(res));
    }
    /* A callback run at once may have removed it; dispatch only queues
     * handles, so w is still ours here. */
    if (w->attached && w->want)
        watch_arm(st, w);
}

static struct watch **watch_slot(struct uring_state *st, int fd)
{
    if ((size_t)fd >= st->nwatch_slots) {
        size_t n = st->nwatch_slots ? st->nwatch_slots : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct watch **a = cio__realloc(st->watch, n * sizeof *a);
        if (!a)
            return NULL;
        memset(a + st->nwatch_slots, 0, (n - st->nwatch_slots) * sizeof *a);
        st->watch = a;
        st->nwatch_slots = n;
    }
    return &st->watch[fd];
}

/* (uring.h) */
int cio__uring_watch_update(struct uring_state *st, int fd, struct cio__fd *f)
{
    uint32_t want = 0;
    if (f->mode == CIO__FD_CALLBACKS)
        want = (f->reader ? (uint32_t)(POLLIN | POLLRDHUP) : 0u) |
               (f->writer ? (uint32_t)POLLOUT : 0u);
    struct watch *w = (size_t)fd < st->nwatch_slots ? st->watch[fd] : NULL;
    if (!want) {
        int armed = w && w->armed != 0;
        if (w)
            watch_detach(st, w);
        f->events = 0;
        return armed;
    }
    if (!w) {
        /* epoll refuses regular files and directories (always "ready"),
         * as asyncio's selector loop does: so does this backend. */
        struct stat sb;
        if (fstat(fd, &sb) < 0)
            return -errno;
        if (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))
            return -EPERM;
        struct watch **slot = watch_slot(st, fd);
        if (!slot || !(w = cio__calloc(1, sizeof *w)))
            return -ENOMEM;
        w->fd = fd;
        w->attached = 1;
        *slot = w;
    }
    w->want = want;
    f->events = want;
    if (!w->armed)
        watch_arm(st, w);
    else if (w->armed != want)
        watch_remove(st, w); /* re-armed with want by its completion */
    return 0;
}

/* (uring.h) */
int cio__uring_watch_forget(struct uring_state *st, int fd)
{
    struct watch *w = (size_t)fd < st->nwatch_slots ? st->watch[fd] : NULL;
    if (!w)
        return 0;
    int armed = w->armed != 0;
    watch_detach(st, w);
    return armed;
}
