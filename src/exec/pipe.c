/*
 * pipe.c - pipe I/O for tasks: read and write-all on non-blocking pipe
 * ends, going through the I/O layer (a read op; a write waits with
 * cio__fd_wait) when it would block.
 * Shared by subprocesses, the process pool and the pipe transports
 * (which use cio__pipe_writev alone, waiting with ops of their own).
 *
 * Writing to a pipe whose reader is gone raises SIGPIPE, which kills the
 * process by default.  A library must not change the process-wide
 * disposition, so the write blocks SIGPIPE in the calling thread and, on
 * EPIPE, consumes the signal it just generated (unless one was already
 * pending), as OpenSSL and libcurl do.  The signal is thread-directed, so
 * no other thread sees it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "exec.h"

int cio__pipe_make(int fds[2], int nonblock_end)
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    int fl = fcntl(fds[nonblock_end], F_GETFL);
    if (fl < 0 || fcntl(fds[nonblock_end], F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = -errno;
        close(fds[0]);
        close(fds[1]);
        return e;
    }
    return 0;
}

int cio__pipe_read(cio_loop *loop, int fd, void *buf, size_t len)
{
    (void)loop;
    if (len > INT_MAX)
        len = INT_MAX;
    struct cio__op op = {.kind = CIO__OP_READ, .fd = fd, .buf = buf, .len = len};
    return cio__op_run(&op);
}

/* writev(2) that never raises SIGPIPE (see the file comment). */
static ssize_t writev_nosigpipe(int fd, const struct iovec *iov, int iovcnt)
{
    sigset_t pipeset, old, pending;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &old);
    ssize_t n = writev(fd, iov, iovcnt);
    int e = errno;
    if (n < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return n;
}

static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    return writev_nosigpipe(fd, &iov, 1);
}

ssize_t cio__pipe_writev(int fd, const struct iovec *iov, int iovcnt)
{
    ssize_t n;
    do
        n = writev_nosigpipe(fd, iov, iovcnt);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int cio__pipe_write_all(cio_loop *loop, int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write_nosigpipe(fd, p, len);
        if (n >= 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        int rc = cio__fd_wait(fd, 1);
        if (rc)
            return rc;
    }
    return 0;
}
