/*
 * backend.c - cio_loop_new: a loop with its I/O backend.
 *
 * The loop layer makes the loop; this layer gives it a poller, because
 * only the I/O layer knows the backends.  Which one: CIO_BACKEND in the
 * environment ("epoll" or "io_uring"), else io_uring when the library was
 * built with it (CIO_HAVE_URING), else epoll.  A backend that cannot
 * start (io_uring_setup fails with ENOSYS on old kernels, EPERM under
 * kernel.io_uring_disabled or a seccomp filter) logs why, once per
 * process, and the loop gets epoll: a program runs the same on every
 * kernel.  The fallback is logged as a warning when io_uring was asked
 * for by name, as information when it was only the default.
 */
#include <stdlib.h>
#include <string.h>

#include "io.h"

static int warned_unbuilt, warned_failed;

/* A loop's provided buffers for multishot receives (io.h): 256 of 16 KiB
 * (4 MiB per loop, shared by all its connections, where plain receives
 * take a 64 KiB buffer per connection). */
unsigned cio__io_ring_bufs = 256;
unsigned cio__io_ring_buf_size = 16 * 1024;

/* The backend named by CIO_BACKEND, or the default; *asked is set when
 * the environment named it. */
static const struct cio__io_backend *choose(int *asked)
{
    const char *want = getenv("CIO_BACKEND");
    *asked = want && *want;
    if (*asked && strcmp(want, "epoll") == 0)
        return &cio__io_epoll;
#ifdef CIO_HAVE_URING
    if (!*asked || strcmp(want, "io_uring") == 0)
        return &cio__io_uring;
#else
    if (!*asked)
        return &cio__io_epoll;
#endif
    if (!__atomic_exchange_n(&warned_unbuilt, 1, __ATOMIC_RELAXED))
        cio_log(CIO_LOG_WARNING, "CIO_BACKEND=%s: not available in this build; using epoll",
                want);
    return &cio__io_epoll;
}

/* Installs backend be on loop; 0 or what its init failed with. */
static int install(cio_loop *loop, const struct cio__io_backend *be)
{
    struct cio__io *io = cio__calloc(1, sizeof *io);
    if (!io)
        return -ENOMEM;
    io->backend = be;
    loop->io = io;
    int rc = be->init(loop);
    if (rc < 0) {
        cio__free(io);
        loop->io = NULL;
        return rc;
    }
    loop->poller = &be->poller;
    return 0;
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
    int asked;
    const struct cio__io_backend *be = choose(&asked);
    rc = install(loop, be);
    if (rc < 0 && be != &cio__io_epoll && rc != -ENOMEM) {
        if (!__atomic_exchange_n(&warned_failed, 1, __ATOMIC_RELAXED))
            cio_log(asked ? CIO_LOG_WARNING : CIO_LOG_INFO,
                    "%s backend unavailable (%s); using epoll", be->poller.name,
                    cio_strerror(rc));
        rc = install(loop, &cio__io_epoll);
    }
    if (rc < 0) {
        cio__loop_destroy(loop);
        return rc;
    }
    *out = loop;
    return 0;
}

const char *cio_loop_backend_name(const cio_loop *loop)
{
    if (!loop || loop->closed || !loop->poller)
        return NULL;
    return loop->poller->name;
}
