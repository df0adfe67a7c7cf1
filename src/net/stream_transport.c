/*
 * stream_transport.c - how a plain stream moves its bytes: the socket
 * transport (the op layer's recv/send, and sendmsg for what the kernel
 * takes at once) and the pipe transport (read/write on pipes, FIFOs and
 * terminals, never raising SIGPIPE).  The TLS transport is in
 * stream_tls.c; the table they fill is in stream.h.
 */
#define _GNU_SOURCE
#include <sys/socket.h>

#include "../task/task.h"
#include "stream.h"
#include "../exec/exec.h"

static int plain_recv(cio_stream *s, void *buf, size_t len)
{
    return cio__op_recv(s->fd, buf, len, 0);
}

static int plain_send(cio_stream *s, const void *buf, size_t len)
{
    return cio__op_send(s->fd, buf, len, 0);
}

/* Sends what the kernel takes now, without waiting; -errno on a hard error. */
static ssize_t plain_send_now(cio_stream *s, const struct iovec *iov, int iovcnt)
{
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t n;
    do
        n = sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? 0 : -errno;
    return n;
}

static void plain_write_eof(cio_stream *s) { shutdown(s->fd, SHUT_WR); }

static void plain_close(cio_stream *s, int graceful)
{
    (void)s;
    (void)graceful;
}

const struct cio__stream_transport cio__stream_plain = {
    .name = "socket",
    .recv = plain_recv,
    .send = plain_send,
    .send_now = plain_send_now,
    .write_eof = plain_write_eof,
    .close = plain_close,
};

/* Pipes (a child's stdin/stdout): read/write, never SIGPIPE (pipe.c). */
static int pipe_recv(cio_stream *s, void *buf, size_t len)
{
    int rc = cio__checkpoint(cio__current());
    return rc ? rc : cio__pipe_read(s->loop, s->fd, buf, len);
}

/* Writes in pieces of at most 64 KiB so the flusher reports progress to
 * drain as the reader takes the data. */
static int pipe_send(cio_stream *s, const void *buf, size_t len)
{
    if (len > 65536)
        len = 65536;
    int rc = cio__checkpoint(cio__current());
    if (!rc)
        rc = cio__pipe_write_all(s->loop, s->fd, buf, len);
    return rc < 0 ? rc : (int)len;
}

/* A pipe has no half-close: the write end is closed as a whole (the
 * queue is empty by now, so nothing is dropped). */
static void pipe_write_eof(cio_stream *s) { cio_stream_abort(s); }

const struct cio__stream_transport cio__stream_pipe = {
    .name = "pipe",
    .recv = pipe_recv,
    .send = pipe_send,
    .send_now = NULL,
    .write_eof = pipe_write_eof,
    .close = plain_close,
};

