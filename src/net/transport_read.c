/*
 * transport_read.c - the socket transport's reading (see the top of
 * transport.c): one recv per loop iteration, or one multishot receive on
 * io_uring; bytes a paused multishot receive brought are held and
 * delivered in order on resume; bytes a recv brings after a protocol swap
 * go to the new protocol.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <unistd.h>

#include "../util/internal.h"
#include "transport_sock.h"

/* Puts n bytes at data back in front of what is held (a buffered
 * protocol paused in the middle of them). */
static void hold_front(struct sock *t, const char *data, size_t n)
{
    struct cio__tchunk *c = cio__malloc(sizeof *c + n);
    if (!c) {
        cio__sock_fail(t, -ENOMEM);
        return;
    }
    *c = (struct cio__tchunk){.next = t->held.head, .end = n, .cap = n};
    memcpy(c->data, data, n);
    t->held.head = c;
    if (!t->held.tail)
        t->held.tail = c;
    t->held.size += n;
}

/* A buffered protocol gets n bytes at data (a multishot receive's, or
 * a recv's into the buffer of a protocol replaced since, deliver):
 * copied into its get_buffer's buffers, as many pieces as they take;
 * what a pause leaves is held, in front. */
static void deliver_copy(struct sock *t, const char *data, size_t n)
{
    /* Closing stops it, except while salvaging (see the top). */
    while (n && (!t->closing || t->salvage)) {
        size_t len = 0;
        void *buf = t->b.proto->get_buffer(&t->b, n, &len, t->b.ud);
        if (t->closing && !t->salvage)
            return;
        if (!buf || !len) {
            cio__sock_fail(t, -ENOBUFS);
            return;
        }
        size_t k = len < n ? len : n;
        memcpy(buf, data, k);
        if (t->b.proto->buffer_updated)
            t->b.proto->buffer_updated(&t->b, k, t->b.ud);
        data += k;
        n -= k;
        if (n && t->fl.rpaused && !t->closing) {
            hold_front(t, data, n);
            return;
        }
    }
}

/* n bytes came into the protocol's buffer (buffered) or are at data. */
void cio__sock_deliver(struct sock *t, const void *data, size_t n, int buffered)
{
    if (buffered && CIO_UNLIKELY(t->b.proto != t->rproto || t->b.ud != t->rud)) {
        /* The protocol was replaced while this recv was in flight: on
         * io_uring pausing (start_tls pauses, then swaps) only asks the
         * kernel to cancel it, and a recv that the same io_uring_enter
         * completes first brings bytes meant for the new protocol (a
         * ServerHello) into the old one's buffer.  The new one gets them
         * as it takes bytes; dropping them stalled the handshake. */
        data = t->rop.buf;
        buffered = 0;
    }
    if (buffered && t->b.proto->buffer_updated)
        t->b.proto->buffer_updated(&t->b, n, t->b.ud);
    else if (!buffered && t->b.proto->get_buffer)
        deliver_copy(t, data, n); /* multishot bytes, or a swap's (above) */
    else if (!buffered && t->b.proto->data_received)
        t->b.proto->data_received(&t->b, data, n, t->b.ud);
}

static void on_read(struct sock *t, int res, const void *data, int buffered)
{
    if (t->lost_scheduled) {
        /* A cancelled read that completed first (a completion backend
         * confirms later): its bytes count as salvaged. */
        if (t->salvage && res > 0)
            cio__sock_deliver(t, data, (size_t)res, buffered);
        return;
    }
    if (res > 0) {
        cio__sock_deliver(t, data, (size_t)res, buffered);
        return;
    }
    if (res == 0) {
        t->eof = 1;
        int keep = t->b.proto->eof_received ? t->b.proto->eof_received(&t->b, t->b.ud) : 0;
        if (!keep)
            cio_transport_close(&t->b);
        return;
    }
    if (res == -ECANCELED || res == -EAGAIN)
        return; /* pause_reading or close cancelled it */
    cio__sock_fail(t, res);
}

static int want_read(const struct sock *t)
{
    return !t->closing && !t->fl.rpaused && !t->eof && !t->reading && t->fd >= 0;
}

/* Where the next recv goes: the protocol's get_buffer (*buffered 1) or
 * our own buffer.  0, or -ENOBUFS / -ENOMEM. */
int cio__sock_read_buffer(struct sock *t, void **buf, size_t *len, int *buffered)
{
    t->rproto = t->b.proto;
    t->rud = t->b.ud;
    *buffered = t->b.proto->get_buffer != NULL;
    if (*buffered) {
        *len = 0;
        *buf = t->b.proto->get_buffer(&t->b, t->read_size, len, t->b.ud);
        if (!*buf || !*len)
            return -ENOBUFS;
        if (*len > INT32_MAX)
            *len = INT32_MAX;
        return 0;
    }
    if (!t->rbuf && !(t->rbuf = cio__malloc(t->read_size)))
        return -ENOMEM;
    *buf = t->rbuf;
    *len = t->read_size;
    return 0;
}

/* Whether held bytes or a held end of file wait for delivery now. */
static int held_due(const struct sock *t)
{
    return (t->held.size || t->eof_held) && !t->fl.rpaused && !t->closing;
}

/* Delivers what a multishot receive held while reading was paused, in
 * order, until the protocol pauses again; then a held end of file.  1
 * when nothing is left held (reading may go on). */
static int deliver_held(struct sock *t)
{
    while (t->held.head && !t->fl.rpaused && !t->closing) {
        /* Taken out first: data_received may close, which frees held. */
        struct cio__tchunk *c = t->held.head;
        t->held.head = c->next;
        if (!t->held.head)
            t->held.tail = NULL;
        t->held.size -= c->end - c->start;
        cio__sock_deliver(t, c->data + c->start, c->end - c->start, 0);
        cio__free(c);
    }
    if (t->held.head || t->fl.rpaused || t->closing)
        return 0;
    if (t->eof_held) {
        t->eof_held = 0;
        on_read(t, 0, NULL, 0);
        return 0;
    }
    return 1;
}

/* Arms a multishot receive: 1 when it is pending, 0 when the backend
 * has none for this loop (the caller receives the plain way). */
static int read_multi(struct sock *t)
{
    t->rop.kind = CIO__OP_RECV_MULTI;
    t->rop.opflags = 0;
    t->rop.fd = t->fd;
    t->rop.buf = NULL;
    t->rop.len = 0;
    t->rop.flags = 0;
    t->rop.waiter = &t->rwait;
    t->rop.cancel_code = -ECANCELED;
    if (cio__io_submit(t->b.loop, &t->rop) != 1)
        return 0; /* -ENOTSUP, or an error a plain recv meets too */
    t->reading = READ_MULTI;
    t->b.refs++;
    return 1;
}

/* A multishot receive's wake: bytes (op still pending), or its end. */
static void multi_wake(struct sock *t, int res)
{
    int ended = t->rop.state == CIO__OPS_IDLE;
    if (ended)
        t->reading = 0;
    if (!t->lost_scheduled && (t->fl.rpaused || t->held.size || t->eof_held) && res >= 0) {
        /* Paused (or older bytes wait): hold, for resume_reading. */
        if (res == 0) {
            t->eof = 1;
            t->eof_held = 1;
        } else if (!t->closing &&
                   cio__tbuf_append(&t->held, &(struct iovec){t->rop.buf, (size_t)res}, 1,
                                    (size_t)res, 0) < 0) {
            cio__sock_fail(t, -ENOMEM);
        }
    } else if (res > 0 && t->closing && !t->lost_scheduled) {
        /* closed: asyncio reads no more */
    } else if (res != -ENOBUFS) {
        on_read(t, res, t->rop.buf, 0);
    }
    if (!ended)
        return; /* the op keeps its reference */
    cio__sock_read_step(t);
    if (t->lost_waiting && !t->writing)
        cio__sock_call_lost(t);
    cio__sock_unref(t); /* the op's reference */
}

/* Starts one recv; handles it if it completed at once. */
void cio__sock_read_step(struct sock *t)
{
    if (CIO_UNLIKELY(t->held.size || t->eof_held) && (!held_due(t) || !deliver_held(t)))
        return;
    if (!want_read(t))
        return;
    if (cio__io_recv_multi(t->b.loop) && t->read_size >= cio__io_ring_buf_size && read_multi(t))
        return;
    void *buf;
    size_t len;
    int buffered;
    int rc = cio__sock_read_buffer(t, &buf, &len, &buffered);
    if (rc < 0) {
        cio__sock_fail(t, rc);
        return;
    }
    if (t->closing || t->fl.rpaused)
        return; /* get_buffer closed (or aborted) or paused: the rest of
                   want_read is the transport's own, not changed by it */
    /* Field by field: a compound literal would clear the whole op (its
     * iov, addr... fields, unused by a receive) on every read. */
    t->rop.kind = CIO__OP_RECV;
    t->rop.opflags = 0;
    t->rop.fd = t->fd;
    t->rop.buf = buf;
    t->rop.len = len;
    t->rop.flags = 0;
    t->rop.waiter = &t->rwait;
    t->rop.cancel_code = -ECANCELED;
    rc = cio__io_submit(t->b.loop, &t->rop);
    if (rc == 1) {
        t->reading = 1 + buffered; /* 2: into the protocol's buffer */
        t->b.refs++;
        return;
    }
    t->b.refs++;
    on_read(t, t->rop.res, buf, buffered);
    if (want_read(t))
        cio__sock_schedule_read(t);
    cio__sock_unref(t);
}

static void read_scheduled(void *arg)
{
    struct sock *t = arg;
    t->read_scheduled = 0;
    cio__sock_read_step(t);
    cio__sock_unref(t);
}

void cio__sock_schedule_read(struct sock *t)
{
    if (t->read_scheduled || (!want_read(t) && !held_due(t)))
        return;
    if (cio_call_soon(t->b.loop, read_scheduled, t, NULL) < 0) {
        cio__sock_fail(t, -ENOMEM);
        return;
    }
    t->read_scheduled = 1;
    t->b.refs++;
}

void cio__sock_read_wake(struct cio__waiter *w, int res)
{
    struct sock *t = CIO_CONTAINER_OF(w, struct sock, rwait);
    if (t->reading == READ_MULTI) {
        multi_wake(t, res);
        return;
    }
    int buffered = t->reading == 2;
    t->reading = 0;
    on_read(t, res, t->rbuf, buffered);
    cio__sock_read_step(t);
    if (t->lost_waiting && !t->writing)
        cio__sock_call_lost(t);
    cio__sock_unref(t); /* the pending op's reference */
}
