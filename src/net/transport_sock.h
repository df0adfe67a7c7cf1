/*
 * transport_sock.h - the socket transport's state, shared by its two
 * files: transport.c (lifetime, closing, writing, the methods) and
 * transport_read.c (reading).  Private to src/net.
 */
#ifndef CIO_NET_TRANSPORT_SOCK_H
#define CIO_NET_TRANSPORT_SOCK_H

#include "transport.h"

/* The socket transport: the base, then its reading and writing state. */
struct sock {
    struct cio_transport b;    /* first: what protocols see */
    int fd;                    /* the socket, -1 once closed */
    /* reading */
    struct cio__op rop;        /* the read in flight (recv) */
    struct cio__waiter rwait;  /* woken when it ends */
    char *rbuf;                /* own read buffer (plain protocols), lazily */
    const cio_protocol *rproto; /* whose buffer rop reads into: a protocol
                                  set since then (a swap with the read in
                                  flight) is fed the bytes (deliver) */
    void *rud;                 /* and that protocol's pointer */
    size_t read_size;          /* bytes per read */
    uint8_t reading;           /* rop is pending (2: into get_buffer's,
                                  3: multishot, READ_MULTI) */
    uint8_t read_scheduled;    /* a read step is queued (call_soon) */
    uint8_t eof;               /* the peer's EOF was seen */
    uint8_t eof_held;          /* ... while paused: eof_received after
                                  held is delivered */
    struct cio__tbuf held;     /* bytes a multishot receive brought while
                                  reading was paused, in order */
    /* writing */
    struct cio__op wop;        /* the writev in flight */
    struct cio__waiter wwait;
    struct iovec wiov[CIO__TRANSPORT_IOV]; /* its pieces */
    struct cio__tbuf wbuf;     /* the buffer (transport_buf.c) */
    struct cio__tflow fl;      /* watermarks, paused writing and reading */
    uint8_t writing;           /* wop is pending */
    uint8_t eof_wanted;        /* write_eof: shutdown once flushed */
    uint8_t eof_sent;          /* shutdown(SHUT_WR) done */
    /* closing */
    uint8_t made;              /* connection_made was called */
    uint8_t closing;           /* close/abort/failure began */
    uint8_t lost_scheduled;    /* connection_lost is queued or done */
    uint8_t lost;              /* connection_lost has run */
    uint8_t lost_waiting;      /* connection_lost waits for an op's end */
    uint8_t keep_fd;           /* the socket goes back to its giver at the
                                  end: forgotten by the loop, not closed */
    uint8_t salvage;           /* a send failed while reading was on:
                                  deliver what the socket still holds
                                  before connection_lost */
    int error;                 /* what connection_lost will report */
};

#define DEFAULT_READ (64 * 1024)
#define READ_MULTI 3           /* t->reading: a multishot receive */

static inline void cio__sock_unref(struct sock *t)
{
    cio__transport_unref(&t->b);
}

/* transport.c */
void cio__sock_fail(struct sock *t, int err);          /* asyncio's _fatal_error */
void cio__sock_call_lost(void *arg);                   /* runs connection_lost */

/* transport_read.c */
int cio__sock_read_buffer(struct sock *t, void **buf, size_t *len, int *buffered);
void cio__sock_deliver(struct sock *t, const void *data, size_t n, int buffered);
void cio__sock_read_step(struct sock *t);              /* starts one recv */
void cio__sock_schedule_read(struct sock *t);          /* ... from call_soon */
void cio__sock_read_wake(struct cio__waiter *w, int res); /* rwait's wake */

#endif
