/*
 * transport_pipe.c - asyncio's pipe transports (unix_events'
 * _UnixReadPipeTransport and _UnixWritePipeTransport): loop.connect_read_pipe
 * and loop.connect_write_pipe over a pipe, FIFO, socket or character
 * device, with ops of the I/O layer and waiters embedded in the transport,
 * as the socket transport (transport.c) does.
 *
 * Read pipe: one read op at a time; a read that completes at once is
 * handled and the next one scheduled with call_soon, so a fast writer
 * cannot starve the loop.  End of file calls eof_received (its answer is
 * ignored: a pipe has no other direction), then connection_lost(0).
 *
 * Write pipe: write() tries writev itself when nothing is queued; the rest
 * goes to the write buffer (transport_buf.c), flushed with one writev per
 * writability edge (a POLL_OUT op).  Writes never raise SIGPIPE
 * (cio__pipe_writev).  A pipe's write end is never readable, but it
 * reports an error once the reader has gone, so a POLL_IN op watches for
 * that on FIFOs and sockets, as asyncio watches their write end's
 * readability (not a terminal's, which is readable when a key is hit):
 * the transport learns the reader left even when it writes nothing
 * (connection_lost(0), or -EPIPE if bytes were still queued).
 *
 * Both directions (a terminal, a FIFO opened for reading and writing, as
 * cio_stream_from_fd meets them): reading and writing as above on the
 * one descriptor; end of file is eof_received, and unless that asks to
 * keep the transport open (as a socket's does) it closes, writing what
 * is buffered first.  No hang-up watch: reading sees the end.
 *
 * Closing: connection_lost runs from a call_soon callback, once; the
 * descriptor is closed after it.
 *
 * Divided into: lifetime and closing, reading, writing, the methods, opening.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../exec/exec.h"
#include "../util/internal.h"
#include "transport.h"

#define DEFAULT_READ (64 * 1024)

/* A pipe transport of either direction. */
struct pipe_tr {
    struct cio_transport b;    /* first: what protocols see */
    int fd;                    /* the pipe, -1 once closed */
    uint8_t writer;            /* it writes (CIO__PIPE_WRITE or _BOTH) */
    uint8_t reader;            /* it reads (CIO__PIPE_READ or _BOTH) */
    uint8_t watch_hup;         /* write pipe over a FIFO or socket: watch
                                  for the reader leaving (not a terminal,
                                  readable whenever someone types) */
    /* reading (read pipes) */
    struct cio__op rop;        /* the read in flight */
    struct cio__waiter rwait;  /* woken when it ends */
    char *rbuf;                /* read buffer, made at the first read */
    uint8_t reading;           /* rop is pending */
    uint8_t read_scheduled;    /* a read step is queued (call_soon) */
    uint8_t reof;              /* both directions: end of file was read,
                                  writing goes on */
    /* writing (write pipes) */
    struct cio__op wop;        /* POLL_OUT: waiting for room in the pipe */
    struct cio__waiter wwait;
    struct cio__op hop;        /* POLL_IN: waiting for the reader to leave */
    struct cio__waiter hwait;
    struct iovec wiov[CIO__TRANSPORT_IOV]; /* one writev's pieces */
    struct cio__tbuf wbuf;     /* bytes queued */
    struct cio__tflow fl;      /* watermarks, paused writing and reading */
    uint8_t wwaiting;          /* wop is pending */
    uint8_t hwatching;         /* hop is pending */
    /* closing */
    uint8_t closing;           /* close/abort/EOF/failure began */
    uint8_t lost_scheduled;    /* connection_lost is queued or done */
    int error;                 /* what connection_lost will report */
};

static const struct cio__transport_vt read_vt, write_vt, duplex_vt;
static void pipe_close(cio_transport *bt);
static void schedule_read(struct pipe_tr *t);
static void flush(struct pipe_tr *t);

/* ---- lifetime and closing ------------------------------------------------------ */

static void unref(struct pipe_tr *t) { cio__transport_unref(&t->b); }

static void call_connection_lost(void *arg)
{
    struct pipe_tr *t = arg;
    if (t->b.proto->connection_lost)
        t->b.proto->connection_lost(&t->b, t->error, t->b.ud);
    if (t->b.on_lost)
        t->b.on_lost(&t->b, t->b.on_lost_arg);
    int fd = t->fd;
    t->fd = -1;
    if (fd >= 0)
        cio__io_close(t->b.loop, fd); /* ends the pending ops with -EBADF */
    cio__tbuf_free(&t->wbuf);
    cio__free(t->rbuf);
    t->rbuf = NULL;
    unref(t); /* the "alive until connection_lost" reference */
}

/* Queues connection_lost (once). */
static void schedule_lost(struct pipe_tr *t)
{
    if (t->lost_scheduled)
        return;
    t->lost_scheduled = 1;
    if (cio_call_soon(t->b.loop, call_connection_lost, t, NULL) < 0)
        call_connection_lost(t); /* loop closed or no memory: now, not never */
}

/* asyncio's _close(exc): drop the buffer, stop everything, lost(err). */
static void force_close(struct pipe_tr *t, int err)
{
    if (t->lost_scheduled)
        return;
    if (!t->closing || !t->error)
        t->error = err;
    t->closing = 1;
    t->b.refs++; /* schedule_lost may run connection_lost at once */
    schedule_lost(t);
    if (t->reading)
        cio__io_cancel(t->b.loop, &t->rop, -ECANCELED);
    if (t->wwaiting)
        cio__io_cancel(t->b.loop, &t->wop, -ECANCELED);
    if (t->hwatching)
        cio__io_cancel(t->b.loop, &t->hop, -ECANCELED);
    cio__tbuf_free(&t->wbuf); /* no op points into it: writes are ours */
    unref(t);
}

static void fail(struct pipe_tr *t, int err)
{
    cio_log(CIO_LOG_DEBUG, "pipe transport: fd %d failed: %s", t->fd, cio_strerror(err));
    force_close(t, err);
}

/* ---- reading ---------------------------------------------------------------------- */

static void on_read(struct pipe_tr *t, int res)
{
    if (t->lost_scheduled || t->closing)
        return;
    if (res > 0) {
        if (t->b.proto->data_received)
            t->b.proto->data_received(&t->b, t->rbuf, (size_t)res, t->b.ud);
        return;
    }
    if (res == 0 && t->writer) {
        /* Both directions: as a socket, the answer may keep writing. */
        t->reof = 1;
        int keep = t->b.proto->eof_received ? t->b.proto->eof_received(&t->b, t->b.ud) : 0;
        if (!keep)
            pipe_close(&t->b);
        return;
    }
    if (res == 0) {
        /* asyncio: eof_received (its answer does not matter), then lost. */
        t->closing = 1;
        if (t->b.proto->eof_received)
            t->b.proto->eof_received(&t->b, t->b.ud);
        schedule_lost(t);
        return;
    }
    if (res == -ECANCELED || res == -EAGAIN)
        return; /* pause_reading or close cancelled it */
    fail(t, res);
}

static int want_read(const struct pipe_tr *t)
{
    return t->reader && !t->closing && !t->fl.rpaused && !t->reof && !t->reading && t->fd >= 0;
}

/* Starts one read; handles it if it completed at once. */
static void read_step(struct pipe_tr *t)
{
    if (!want_read(t))
        return;
    if (!t->rbuf && !(t->rbuf = cio__malloc(DEFAULT_READ))) {
        fail(t, -ENOMEM);
        return;
    }
    t->rop = (struct cio__op){.kind = CIO__OP_READ, .fd = t->fd, .buf = t->rbuf,
                              .len = DEFAULT_READ, .waiter = &t->rwait,
                              .cancel_code = -ECANCELED};
    t->b.refs++;
    if (cio__io_submit(t->b.loop, &t->rop) == 1) {
        t->reading = 1;
        return; /* the op holds the reference */
    }
    on_read(t, t->rop.res);
    schedule_read(t);
    unref(t);
}

static void read_scheduled(void *arg)
{
    struct pipe_tr *t = arg;
    t->read_scheduled = 0;
    read_step(t);
    unref(t);
}

static void schedule_read(struct pipe_tr *t)
{
    if (t->read_scheduled || !want_read(t))
        return;
    if (cio_call_soon(t->b.loop, read_scheduled, t, NULL) < 0) {
        fail(t, -ENOMEM);
        return;
    }
    t->read_scheduled = 1;
    t->b.refs++;
}

static void read_wake(struct cio__waiter *w, int res)
{
    struct pipe_tr *t = CIO_CONTAINER_OF(w, struct pipe_tr, rwait);
    t->reading = 0;
    on_read(t, res);
    read_step(t);
    unref(t); /* the pending op's reference */
}

/* ---- writing ---------------------------------------------------------------------- */

static void maybe_pause(struct pipe_tr *t)
{
    cio__tflow_check_pause(&t->fl, &t->b, t->wbuf.size, t->closing);
}

static void maybe_resume(struct pipe_tr *t)
{
    cio__tflow_check_resume(&t->fl, &t->b, t->wbuf.size);
}

/* Waits for room in the pipe (the caller just met EAGAIN); 1 if waiting,
 * 0 if the pipe is writable already. */
static int wait_writable(struct pipe_tr *t)
{
    t->wop = (struct cio__op){.kind = CIO__OP_POLL_OUT, .fd = t->fd, .waiter = &t->wwait,
                              .opflags = CIO__OPF_AFTER_EAGAIN, .cancel_code = -ECANCELED};
    if (cio__io_submit(t->b.loop, &t->wop) == 1) {
        t->wwaiting = 1;
        t->b.refs++;
        return 1;
    }
    if (t->wop.res < 0) {
        fail(t, t->wop.res);
        return 1; /* nothing more to do */
    }
    return 0;
}

/* Writes what is queued, one writev after another, until the pipe is
 * full (then waits for room) or the buffer is empty. */
static void flush(struct pipe_tr *t)
{
    while (t->wbuf.size && !t->wwaiting && !t->lost_scheduled && t->fd >= 0) {
        int n = cio__tbuf_iov(&t->wbuf, t->wiov, CIO__TRANSPORT_IOV);
        ssize_t r = cio__pipe_writev(t->fd, t->wiov, n);
        if (r == -EAGAIN) {
            if (wait_writable(t))
                return;
            continue;
        }
        if (r < 0) {
            fail(t, (int)r);
            return;
        }
        cio__tbuf_consume(&t->wbuf, (size_t)r);
    }
    if (t->wbuf.size || t->wwaiting || t->lost_scheduled)
        return;
    maybe_resume(t);
    if (t->closing)
        schedule_lost(t);
}

static void write_wake(struct cio__waiter *w, int res)
{
    struct pipe_tr *t = CIO_CONTAINER_OF(w, struct pipe_tr, wwait);
    t->wwaiting = 0;
    if (!t->lost_scheduled) {
        if (res < 0 && res != -ECANCELED)
            fail(t, res);
        else if (res >= 0)
            flush(t);
    }
    unref(t);
}

/* The write end became "readable": the reader is gone (an error on the
 * pipe), or, for a socket, the peer sent something or closed. */
static void hangup_wake(struct cio__waiter *w, int res)
{
    struct pipe_tr *t = CIO_CONTAINER_OF(w, struct pipe_tr, hwait);
    t->hwatching = 0;
    if (res == 0 && !t->lost_scheduled)
        force_close(t, t->wbuf.size ? -EPIPE : 0);
    /* res < 0: cancelled, closed, or a descriptor epoll cannot watch
     * (/dev/null): nothing to watch then. */
    unref(t);
}

static void watch_hangup(struct pipe_tr *t)
{
    t->hop = (struct cio__op){.kind = CIO__OP_POLL_IN, .fd = t->fd, .waiter = &t->hwait,
                              .cancel_code = -ECANCELED};
    t->b.refs++;
    if (cio__io_submit(t->b.loop, &t->hop) == 1) {
        t->hwatching = 1;
        return;
    }
    t->hwatching = 0;
    hangup_wake(&t->hwait, t->hop.res);
}

/* ---- the methods ------------------------------------------------------------------- */

static int pipe_writelines(cio_transport *bt, const struct iovec *iov, int iovcnt, size_t total)
{
    struct pipe_tr *t = (struct pipe_tr *)bt;
    if (t->closing || t->lost_scheduled)
        return t->error ? t->error : CIO_ECLOSED;
    if (!total)
        return 0;
    size_t sent = 0;
    if (!t->wbuf.size && !t->wwaiting) {
        ssize_t n = cio__pipe_writev(t->fd, iov, iovcnt < 1024 ? iovcnt : 1024);
        if (n < 0 && n != -EAGAIN) {
            fail(t, (int)n);
            return (int)n;
        }
        sent = n > 0 ? (size_t)n : 0;
        if (sent == total)
            return 0;
    }
    int rc = cio__tbuf_append(&t->wbuf, iov, iovcnt, total, sent);
    if (rc < 0) {
        if (sent)
            fail(t, rc); /* the byte stream lost bytes in the middle */
        return rc;
    }
    if (!t->wwaiting && !wait_writable(t))
        flush(t); /* room appeared meanwhile */
    maybe_pause(t);
    return 0;
}

/* A pipe has no half-close: write_eof closes it once the buffer is out
 * (asyncio's _UnixWritePipeTransport.write_eof). */
static int pipe_write_eof(cio_transport *bt)
{
    struct pipe_tr *t = (struct pipe_tr *)bt;
    if (t->closing)
        return 0;
    t->closing = 1;
    if (t->reading)
        cio__io_cancel(t->b.loop, &t->rop, -ECANCELED);
    if (!t->wbuf.size && !t->wwaiting)
        schedule_lost(t);
    return 0;
}

static size_t pipe_get_write_buffer_size(const cio_transport *bt)
{
    return ((const struct pipe_tr *)bt)->wbuf.size;
}

static int pipe_set_write_buffer_limits(cio_transport *bt, size_t high, size_t low)
{
    struct pipe_tr *t = (struct pipe_tr *)bt;
    return cio__tflow_set_limits(&t->fl, &t->b, t->wbuf.size, t->closing, high, low);
}

static void pipe_pause_reading(cio_transport *bt)
{
    struct pipe_tr *t = (struct pipe_tr *)bt;
    if (cio__tflow_pause_reading(&t->fl, t->closing) && t->reading)
        cio__io_cancel(t->b.loop, &t->rop, -ECANCELED);
}

static void pipe_resume_reading(cio_transport *bt)
{
    struct pipe_tr *t = (struct pipe_tr *)bt;
    if (cio__tflow_resume_reading(&t->fl, t->closing))
        schedule_read(t);
}

static int pipe_is_reading(const cio_transport *bt)
{
    const struct pipe_tr *t = (const struct pipe_tr *)bt;
    return cio__tflow_is_reading(&t->fl, t->closing);
}

static void pipe_close(cio_transport *bt)
{
    /* Read pipe: stop now; write pipe: once the buffer is out. */
    pipe_write_eof(bt);
}

static void pipe_abort(cio_transport *bt)
{
    force_close((struct pipe_tr *)bt, 0);
}

static int pipe_is_closing(const cio_transport *bt)
{
    return ((const struct pipe_tr *)bt)->closing;
}

static int pipe_fd(const cio_transport *bt)
{
    const struct pipe_tr *t = (const struct pipe_tr *)bt;
    return t->fd >= 0 ? t->fd : CIO_ECLOSED;
}

static void pipe_destroy(cio_transport *bt)
{
    struct pipe_tr *t = (struct pipe_tr *)bt;
    if (t->fd >= 0)
        cio__io_close(t->b.loop, t->fd);
    cio__tbuf_free(&t->wbuf);
    cio__free(t->rbuf);
    cio__free(t);
}

static const struct cio__transport_vt read_vt = {
    .kind = "read pipe",
    .pause_reading = pipe_pause_reading,
    .resume_reading = pipe_resume_reading,
    .is_reading = pipe_is_reading,
    .close = pipe_close,
    .abort = pipe_abort,
    .is_closing = pipe_is_closing,
    .fd = pipe_fd,
    .destroy = pipe_destroy,
};

static const struct cio__transport_vt duplex_vt = {
    .kind = "pipe",
    .writelines = pipe_writelines,
    .write_eof = pipe_write_eof,
    .get_write_buffer_size = pipe_get_write_buffer_size,
    .set_write_buffer_limits = pipe_set_write_buffer_limits,
    .pause_reading = pipe_pause_reading,
    .resume_reading = pipe_resume_reading,
    .is_reading = pipe_is_reading,
    .close = pipe_close,
    .abort = pipe_abort,
    .is_closing = pipe_is_closing,
    .fd = pipe_fd,
    .destroy = pipe_destroy,
};

static const struct cio__transport_vt write_vt = {
    .kind = "write pipe",
    .writelines = pipe_writelines,
    .write_eof = pipe_write_eof,
    .get_write_buffer_size = pipe_get_write_buffer_size,
    .set_write_buffer_limits = pipe_set_write_buffer_limits,
    .close = pipe_close,
    .abort = pipe_abort,
    .is_closing = pipe_is_closing,
    .fd = pipe_fd,
    .destroy = pipe_destroy,
};

/* ---- opening ------------------------------------------------------------------------ */

int cio__pipe_transport_new(cio_loop *loop, int fd, int mode, cio_transport **out)
{
    if (!loop || fd < 0 || mode < CIO__PIPE_READ || mode > CIO__PIPE_BOTH)
        return -EINVAL;
    struct pipe_tr *t = cio__calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->b.vt = mode == CIO__PIPE_WRITE ? &write_vt
            : mode == CIO__PIPE_BOTH  ? &duplex_vt
                                      : &read_vt;
    t->b.loop = loop;
    t->b.refs = 1; /* alive until connection_lost */
    t->b.proto = &cio__no_protocol;
    t->fd = fd;
    t->writer = mode != CIO__PIPE_READ;
    t->reader = mode != CIO__PIPE_WRITE;
    struct stat st;
    t->watch_hup = mode == CIO__PIPE_WRITE && fstat(fd, &st) == 0 &&
                   (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    t->rwait.wake = read_wake;
    t->wwait.wake = write_wake;
    t->hwait.wake = hangup_wake;
    cio__tflow_init(&t->fl, NULL);
    *out = &t->b;
    return 0;
}

void cio__pipe_transport_start(cio_transport *bt, const cio_protocol *proto, void *ud)
{
    struct pipe_tr *t = (struct pipe_tr *)bt;
    t->b.proto = proto ? proto : &cio__no_protocol;
    t->b.ud = ud;
    t->b.refs++; /* connection_made may close and lose the transport */
    if (t->b.proto->connection_made)
        t->b.proto->connection_made(&t->b, t->b.ud);
    if (!t->closing && t->reader)
        schedule_read(t);
    else if (!t->closing && t->watch_hup)
        watch_hangup(t);
    unref(t);
}

void cio__pipe_transport_discard(cio_transport *t) { cio__transport_unref(t); }

/* Checks fd is a pipe, socket or character device and makes it
 * non-blocking (asyncio's checks in the pipe transports); *oldfl gets
 * its flags from before, to put back if opening fails. */
static int prepare(int fd, int *oldfl)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !S_ISCHR(st.st_mode))
        return -EINVAL;
    int fl = *oldfl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
        return -errno;
    return 0;
}

static int connect_pipe(const cio_protocol *proto, void *ud, int fd, int write,
                        cio_transport **out, const char *fn)
{
    cio_loop *loop = cio__running_loop;
    if (!out || !proto || fd < 0)
        return cio__bad_arg(loop, fn, "proto/out NULL or fd negative");
    *out = NULL;
    if (!loop)
        return CIO_ENOLOOP;
    int fl = 0;
    int rc = prepare(fd, &fl);
    if (rc < 0)
        return rc == -EINVAL ? cio__bad_arg(loop, fn, "fd is not a pipe, socket or tty") : rc;
    rc = cio__pipe_transport_new(loop, fd, write, out);
    if (rc < 0) {
        fcntl(fd, F_SETFL, fl); /* the caller's descriptor, as it was */
        return rc;
    }
    (*out)->refs++; /* the caller's */
    cio__pipe_transport_start(*out, proto, ud);
    return 0;
}

int cio_connect_read_pipe(const cio_protocol *proto, void *ud, int fd, cio_transport **out)
{
    return connect_pipe(proto, ud, fd, 0, out, __func__);
}

int cio_connect_write_pipe(const cio_protocol *proto, void *ud, int fd, cio_transport **out)
{
    return connect_pipe(proto, ud, fd, 1, out, __func__);
}
