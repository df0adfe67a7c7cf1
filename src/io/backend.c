/*
 * backend.c - cio_loop_new: a loop with its I/O backend.
 *
 * The loop layer makes the loop; this layer gives it a poller, because
 * only the I/O layer knows the backends.  Which one: CIO_BACKEND in the
 * environment ("epoll" or "io_uring"), else the best that works on this
 * kernel.  Today that is epoll, the only backend built in; asking for one
 * that is not available logs why and falls back to epoll, so a program
 * written for one backend runs on every kernel.
 */
#include <stdlib.h>
#include <string.h>

#include "io.h"

/* The backend named by CIO_BACKEND, or the default. */
static const struct cio__io_backend *choose(void)
{
    const char *want = getenv("CIO_BACKEND");
    if (!want || !*want || strcmp(want, "epoll") == 0)
        return &cio__io_epoll;
    static int warned;
    if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
        cio_log(CIO_LOG_WARNING, "CIO_BACKEND=%s: not available in this build; using epoll",
                want);
    return &cio__io_epoll;
}

int cio_loop_new(cio_loop **out)
{
    if (!out)
        return cio__bad_arg(NULL, __func__, "out is NULL");
    *out = NULL;
    cio_loop *loop;
    int rc = cio__loop_create(&loop);
    if (rc < 0)
        return rc;
    struct cio__io *io = cio__calloc(1, sizeof *io);
    if (!io) {
        cio__loop_destroy(loop);
        return -ENOMEM;
    }
    io->backend = choose();
    loop->io = io;
    rc = io->backend->init(loop);
    if (rc < 0) {
        cio__free(io);
        loop->io = NULL;
        cio__loop_destroy(loop);
        return rc;
    }
    loop->poller = &io->backend->poller;
    *out = loop;
    return 0;
}
