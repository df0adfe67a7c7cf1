/*
 * transport_datagram.c - asyncio's datagram transport (selector_events'
 * _SelectorDatagramTransport) and loop.create_datagram_endpoint, over ops
 * of the I/O layer with waiters embedded in the transport, as the socket
 * transport (transport.c) does.
 *
 * Receiving: a recvfrom op at a time; datagrams that are there already are
 * taken up to BATCH in a row, then the next read is scheduled with
 * call_soon, so a flood cannot starve the loop.  Each one goes to
 * datagram_received with its sender's address.  A receive error (ICMP
 * port unreachable shows as ECONNREFUSED on a connected socket) goes to
 * error_received and reading goes on.
 *
 * Sending: sendto() sends at once when nothing is queued and the socket
 * takes the datagram; otherwise the datagram is copied to a queue that a
 * sendto op drains, one datagram per op, in order.  A send error goes to
 * error_received (asyncio's contract), and the endpoint stays open.  The
 * queue counts each datagram's bytes plus HEADER, as asyncio does, for
 * get_write_buffer_size and the pause_writing/resume_writing watermarks.
 *
 * Closing: close stops receiving and lets the queue drain; abort drops
 * it.  connection_lost(0) then runs from a call_soon callback, once, and
 * the socket is closed after it.
 *
 * Divided into: lifetime and closing, receiving, sending, the methods,
 * opening.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../task/task.h"
#include "transport.h"

#define DEFAULT_READ 65536 /* the largest UDP payload fits */
#define BATCH 16           /* datagrams taken in one step */
#define HEADER 8           /* what asyncio counts per queued datagram */

/* A queued datagram. */
struct pkt {
    struct pkt *next;          /* the next one, in order */
    size_t len;                /* bytes of data */
    socklen_t addrlen;         /* 0: the connected peer */
    struct sockaddr_storage addr; /* where to */
    char data[];
};

/* The datagram transport: the base, then its receiving and sending state. */
struct dgram {
    struct cio_transport b;    /* first: what protocols see */
    int fd;                    /* the socket, -1 once closed */
    /* receiving */
    struct cio__op rop;        /* the recvfrom in flight */
    struct cio__waiter rwait;  /* woken when it ends */
    char *rbuf;                /* receive buffer, made at the first read */
    size_t read_size;          /* its size */
    struct sockaddr_storage raddr; /* the sender of the datagram in rbuf */
    socklen_t raddrlen;
    uint8_t reading;           /* rop is pending */
    uint8_t read_scheduled;    /* a read step is queued (call_soon) */
    /* sending */
    struct cio__op wop;        /* the sendto in flight: sends qhead */
    struct cio__waiter wwait;
    struct pkt *qhead, *qtail; /* the queue, oldest first */
    size_t wsize;              /* its bytes, HEADER each included */
    struct cio__tflow fl;      /* watermarks, paused writing and reading */
    uint8_t writing;           /* wop is pending */
    uint8_t connected;         /* made with a remote address */
    /* closing */
    uint8_t closing;           /* close/abort/failure began */
    uint8_t lost_scheduled;    /* connection_lost is queued or done */
    int error;                 /* what connection_lost will report */
};

static const struct cio__transport_vt dgram_vt;
static void schedule_read(struct dgram *t);
static void flush(struct dgram *t);

/* ---- lifetime and closing ------------------------------------------------------- */

static void unref(struct dgram *t) { cio__transport_unref(&t->b); }

static void free_queue(struct dgram *t)
{
    for (struct pkt *p = t->qhead, *n; p; p = n) {
        n = p->next;
        cio__free(p);
    }
    t->qhead = t->qtail = NULL;
    t->wsize = 0;
}

static void call_connection_lost(void *arg)
{
    struct dgram *t = arg;
    if (t->b.proto->connection_lost)
        t->b.proto->connection_lost(&t->b, t->error, t->b.ud);
    if (t->b.on_lost)
        t->b.on_lost(&t->b, t->b.on_lost_arg);
    int fd = t->fd;
    t->fd = -1;
    if (fd >= 0)
        cio__io_close(t->b.loop, fd); /* ends a pending op with -EBADF */
    if (!t->writing)
        free_queue(t);
    cio__free(t->rbuf);
    t->rbuf = NULL;
    unref(t); /* the "alive until connection_lost" reference */
}

static void schedule_lost(struct dgram *t)
{
    if (t->lost_scheduled)
        return;
    t->lost_scheduled = 1;
    if (cio_call_soon(t->b.loop, call_connection_lost, t, NULL) < 0)
        call_connection_lost(t); /* loop closed or no memory: now, not never */
}

/* Drop the queue, stop everything, connection_lost(err). */
static void force_close(struct dgram *t, int err)
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
    if (t->writing)
        cio__io_cancel(t->b.loop, &t->wop, -ECANCELED);
    if (!t->writing)
        free_queue(t); /* else the op still reads qhead: write_wake frees */
    t->wsize = 0;
    unref(t);
}

static void report_error(struct dgram *t, int err)
{
    if (t->b.proto->error_received)
        t->b.proto->error_received(&t->b, err, t->b.ud);
}

/* ---- receiving ----------------------------------------------------------------------- */

static int want_read(const struct dgram *t)
{
    return !t->closing && !t->fl.rpaused && !t->reading && t->fd >= 0;
}

/* Handles a finished recvfrom; 1 if reading may go on in this step. */
static int on_read(struct dgram *t, int res)
{
    if (t->closing)
        return 0;
    if (res >= 0) {
        if (t->b.proto->datagram_received)
            t->b.proto->datagram_received(&t->b, t->rbuf, (size_t)res,
                                          (const struct sockaddr *)&t->raddr, t->raddrlen,
                                          t->b.ud);
        return 1;
    }
    if (res == -ECANCELED || res == -EAGAIN || res == -EBADF)
        return 0; /* pause_reading, close or abort ended it */
    report_error(t, res);
    return 0; /* the next read in a later iteration: no spinning on errors */
}

/* Takes the datagrams that are there (up to BATCH), then waits for more
 * or schedules the next step. */
static void read_step(struct dgram *t)
{
    t->b.refs++;
    for (int i = 0; i < BATCH && want_read(t); i++) {
        if (!t->rbuf && !(t->rbuf = cio__malloc(t->read_size))) {
            report_error(t, -ENOMEM);
            break;
        }
        t->raddrlen = sizeof t->raddr;
        t->rop = (struct cio__op){.kind = CIO__OP_RECVFROM, .fd = t->fd, .buf = t->rbuf,
                                  .len = t->read_size, .addr = (struct sockaddr *)&t->raddr,
                                  .addrlen = &t->raddrlen, .waiter = &t->rwait,
                                  .cancel_code = -ECANCELED};
        if (cio__io_submit(t->b.loop, &t->rop) == 1) {
            t->reading = 1;
            t->b.refs++;
            unref(t);
            return;
        }
        if (!on_read(t, t->rop.res))
            break;
    }
    schedule_read(t);
    unref(t);
}

static void read_scheduled(void *arg)
{
    struct dgram *t = arg;
    t->read_scheduled = 0;
    read_step(t);
    unref(t);
}

static void schedule_read(struct dgram *t)
{
    if (t->read_scheduled || !want_read(t))
        return;
    if (cio_call_soon(t->b.loop, read_scheduled, t, NULL) < 0) {
        force_close(t, -ENOMEM);
        return;
    }
    t->read_scheduled = 1;
    t->b.refs++;
}

static void read_wake(struct cio__waiter *w, int res)
{
    struct dgram *t = CIO_CONTAINER_OF(w, struct dgram, rwait);
    t->reading = 0;
    if (on_read(t, res))
        read_step(t);
    else
        schedule_read(t);
    unref(t); /* the pending op's reference */
}

/* ---- sending ---------------------------------------------------------------------------- */

static void maybe_pause(struct dgram *t)
{
    cio__tflow_check_pause(&t->fl, &t->b, t->wsize, t->closing);
}

static void maybe_resume(struct dgram *t)
{
    cio__tflow_check_resume(&t->fl, &t->b, t->wsize);
}

/* The head datagram was sent (or failed): drop it. */
static void pop(struct dgram *t)
{
    struct pkt *p = t->qhead;
    t->qhead = p->next;
    if (!t->qhead)
        t->qtail = NULL;
    t->wsize -= p->len + HEADER;
    cio__free(p);
}

/* Sends the queue in order, one op per datagram, until the socket is
 * full (then its op waits) or the queue is empty. */
static void flush(struct dgram *t)
{
    t->b.refs++; /* error_received may close and drop the last hold */
    while (t->qhead && !t->writing && !t->lost_scheduled && t->fd >= 0) {
        struct pkt *p = t->qhead;
        t->wop = (struct cio__op){.kind = CIO__OP_SENDTO, .fd = t->fd, .buf = p->data,
                                  .len = p->len,
                                  .addr = p->addrlen ? (struct sockaddr *)&p->addr : NULL,
                                  .addrlen_in = p->addrlen, .waiter = &t->wwait,
                                  .cancel_code = -ECANCELED};
        if (cio__io_submit(t->b.loop, &t->wop) == 1) {
            t->writing = 1;
            t->b.refs++;
            break;
        }
        pop(t);
        if (t->wop.res < 0)
            report_error(t, t->wop.res);
    }
    if (!t->qhead && !t->writing && !t->lost_scheduled) {
        maybe_resume(t);
        if (t->closing)
            schedule_lost(t);
    }
    unref(t);
}

static void write_wake(struct cio__waiter *w, int res)
{
    struct dgram *t = CIO_CONTAINER_OF(w, struct dgram, wwait);
    t->writing = 0;
    if (t->lost_scheduled) {
        free_queue(t); /* abort: the queue was dropped */
    } else if (res != -ECANCELED) {
        pop(t);
        if (res < 0) {
            t->b.refs++;
            report_error(t, res);
            flush(t);
            unref(t);
        } else {
            flush(t);
        }
    }
    unref(t);
}

/* 1 if a and b name the same IPv4/IPv6 address and port (or are the same
 * bytes, for other families). */
static int same_addr(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
                     socklen_t blen)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET && alen >= sizeof(struct sockaddr_in) &&
        blen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6 && alen >= sizeof(struct sockaddr_in6) &&
        blen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
    }
    return alen == blen && !memcmp(a, b, alen);
}

/* ---- the methods ----------------------------------------------------------------------- */

static int dgram_sendto(cio_transport *bt, const void *data, size_t len,
                        const struct sockaddr *addr, socklen_t addrlen)
{
    struct dgram *t = (struct dgram *)bt;
    if (t->closing || t->lost_scheduled)
        return t->error ? t->error : CIO_ECLOSED;
    if (addr && (addrlen == 0 || addrlen > sizeof(struct sockaddr_storage)))
        return cio__bad_arg(t->b.loop, "cio_transport_sendto", "bad address length");
    if (t->connected && addr) {
        /* asyncio: an address, if given, must be the peer's. */
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        if (getpeername(t->fd, (struct sockaddr *)&peer, &plen) < 0 ||
            !same_addr(addr, addrlen, (struct sockaddr *)&peer, plen))
            return cio__bad_arg(t->b.loop, "cio_transport_sendto",
                                "addr is not the connected peer's");
        addr = NULL;
        addrlen = 0;
    }
    if (!t->connected && !addr)
        return -EDESTADDRREQ;
    if (!t->qhead && !t->writing) {
        ssize_t n;
        do
            n = sendto(t->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, addr, addrlen);
        while (n < 0 && errno == EINTR);
        if (n >= 0)
            return 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
            report_error(t, -errno);
            return 0;
        }
    }
    struct pkt *p = cio__malloc(sizeof *p + len);
    if (!p)
        return -ENOMEM;
    p->next = NULL;
    p->len = len;
    p->addrlen = addr ? addrlen : 0;
    if (addr)
        memcpy(&p->addr, addr, addrlen);
    if (len)
        memcpy(p->data, data, len);
    if (t->qtail)
        t->qtail->next = p;
    else
        t->qhead = p;
    t->qtail = p;
    t->wsize += len + HEADER;
    if (!t->writing)
        flush(t);
    maybe_pause(t);
    return 0;
}

static size_t dgram_get_write_buffer_size(const cio_transport *bt)
{
    return ((const struct dgram *)bt)->wsize;
}

static int dgram_set_write_buffer_limits(cio_transport *bt, size_t high, size_t low)
{
    struct dgram *t = (struct dgram *)bt;
    return cio__tflow_set_limits(&t->fl, &t->b, t->wsize, t->closing, high, low);
}

static void dgram_pause_reading(cio_transport *bt)
{
    struct dgram *t = (struct dgram *)bt;
    if (cio__tflow_pause_reading(&t->fl, t->closing) && t->reading)
        cio__io_cancel(t->b.loop, &t->rop, -ECANCELED);
}

static void dgram_resume_reading(cio_transport *bt)
{
    struct dgram *t = (struct dgram *)bt;
    if (cio__tflow_resume_reading(&t->fl, t->closing))
        schedule_read(t);
}

static int dgram_is_reading(const cio_transport *bt)
{
    const struct dgram *t = (const struct dgram *)bt;
    return cio__tflow_is_reading(&t->fl, t->closing);
}

static void dgram_close(cio_transport *bt)
{
    struct dgram *t = (struct dgram *)bt;
    if (t->closing)
        return;
    t->closing = 1;
    if (t->reading)
        cio__io_cancel(t->b.loop, &t->rop, -ECANCELED);
    if (!t->qhead && !t->writing)
        schedule_lost(t);
}

static void dgram_abort(cio_transport *bt) { force_close((struct dgram *)bt, 0); }

static int dgram_is_closing(const cio_transport *bt)
{
    return ((const struct dgram *)bt)->closing;
}

static int dgram_fd(const cio_transport *bt)
{
    const struct dgram *t = (const struct dgram *)bt;
    return t->fd >= 0 ? t->fd : CIO_ECLOSED;
}

static void dgram_destroy(cio_transport *bt)
{
    struct dgram *t = (struct dgram *)bt;
    if (t->fd >= 0)
        cio__io_close(t->b.loop, t->fd);
    free_queue(t);
    cio__free(t->rbuf);
    cio__free(t);
}

static const struct cio__transport_vt dgram_vt = {
    .kind = "datagram",
    .sendto = dgram_sendto,
    .get_write_buffer_size = dgram_get_write_buffer_size,
    .set_write_buffer_limits = dgram_set_write_buffer_limits,
    .pause_reading = dgram_pause_reading,
    .resume_reading = dgram_resume_reading,
    .is_reading = dgram_is_reading,
    .close = dgram_close,
    .abort = dgram_abort,
    .is_closing = dgram_is_closing,
    .fd = dgram_fd,
    .destroy = dgram_destroy,
};

/* ---- opening --------------------------------------------------------------------------- */

int cio__datagram_transport_open(cio_loop *loop, int fd, int connected,
                                 const cio_protocol *proto, void *ud,
                                 const cio_transport_options *opts, cio_transport **out)
{
    if (!loop || fd < 0)
        return -EINVAL;
    struct dgram *t = cio__calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->b.vt = &dgram_vt;
    t->b.loop = loop;
    t->b.refs = 2; /* alive until connection_lost, and the caller's */
    t->b.proto = proto ? proto : &cio__no_protocol;
    t->b.ud = ud;
    t->fd = fd;
    t->connected = (uint8_t)(connected != 0);
    t->rwait.wake = read_wake;
    t->wwait.wake = write_wake;
    t->read_size = opts && opts->read_size ? opts->read_size : DEFAULT_READ;
    if (t->read_size > INT32_MAX)
        t->read_size = INT32_MAX;
    cio__tflow_init(&t->fl, opts);
    *out = &t->b;
    t->b.refs++; /* connection_made may close and drop the caller's hold */
    if (t->b.proto->connection_made)
        t->b.proto->connection_made(&t->b, ud);
    schedule_read(t);
    unref(t);
    return 0;
}

int cio_create_datagram_endpoint(const cio_protocol *proto, void *ud, const char *local_host,
                                 int local_port, const char *remote_host, int remote_port,
                                 const cio_transport_options *opts, cio_transport **out)
{
    cio_loop *loop = cio__running_loop;
    int family = opts ? opts->family : 0;
    if (!out || !proto || local_port < 0 || local_port > 65535 || remote_port < 0 ||
        remote_port > 65535 || (!local_host && !local_port && !remote_host && !family))
        return cio__bad_arg(loop, __func__,
                            "proto/out NULL, port out of range, or no address nor family");
    *out = NULL;
    if (!cio__current())
        return CIO_ENOTASK;
    struct cio__dgram_opts o = {.family = family,
                                .reuse_port = opts ? opts->reuse_port : 0,
                                .allow_broadcast = opts ? opts->allow_broadcast : 0};
    int fd = cio__datagram_socket(local_host, local_port, remote_host, remote_port, &o);
    if (fd < 0)
        return fd;
    int rc = cio__datagram_transport_open(loop, fd, remote_host != NULL, proto, ud, opts, out);
    if (rc < 0)
        cio_fd_close(fd);
    return rc;
}
