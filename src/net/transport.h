/*
 * transport.h - the transport object inside cio, shared by transport.c
 * (reading, writing, closing), transport_open.c (connecting) and
 * server.c (protocol-factory servers).
 */
#ifndef CIO_NET_TRANSPORT_INTERNAL_H
#define CIO_NET_TRANSPORT_INTERNAL_H

#include "cio/transport.h"
#include "../io/io.h"

#define CIO__TRANSPORT_IOV 64 /* pieces per writev */

/* A piece of the write buffer.  Chunks never move once made, so a send
 * in flight can point into them while later writes append. */
struct cio__tchunk {
    struct cio__tchunk *next;  /* the next chunk, in order */
    size_t start, end, cap;    /* unsent bytes are data[start, end) */
    char data[];
};

struct cio_transport {
    cio_loop *loop;            /* owner */
    int fd;                    /* the socket, -1 once closed */
    uint32_t refs;             /* users + "alive until connection_lost" +
                                  a pending op or scheduled callback each */
    const cio_protocol *proto; /* never NULL (an empty table at worst) */
    void *ud;                  /* the protocol's pointer */
    /* reading */
    struct cio__op rop;        /* the read in flight (recv) */
    struct cio__waiter rwait;  /* woken when it ends */
    char *rbuf;                /* own read buffer (plain protocols), lazily */
    size_t read_size;          /* bytes per read */
    uint8_t reading;           /* rop is pending */
    uint8_t read_scheduled;    /* a read step is queued (call_soon) */
    uint8_t rpaused;           /* pause_reading in effect */
    uint8_t eof;               /* the peer's EOF was seen */
    /* writing */
    struct cio__op wop;        /* the writev in flight */
    struct cio__waiter wwait;
    struct iovec wiov[CIO__TRANSPORT_IOV]; /* its pieces */
    struct cio__tchunk *whead, *wtail; /* the buffer, oldest first */
    size_t wsize;              /* bytes in it */
    size_t high, low;          /* watermarks */
    uint8_t writing;           /* wop is pending */
    uint8_t wpaused;           /* pause_writing was called, not resumed */
    uint8_t eof_wanted;        /* write_eof: shutdown once flushed */
    uint8_t eof_sent;          /* shutdown(SHUT_WR) done */
    /* closing */
    uint8_t made;              /* connection_made was called */
    uint8_t closing;           /* close/abort/failure began */
    uint8_t lost_scheduled;    /* connection_lost is queued or done */
    uint8_t lost;              /* connection_lost has run */
    int error;                 /* what connection_lost will report */
    /* the server's hook: called after connection_lost (server.c) */
    void (*on_lost)(cio_transport *t, void *arg);
    void *on_lost_arg;
};

/* Makes a transport over connected socket fd (taken on success), with no
 * protocol yet and reading not started.  0 or -ENOMEM / -EINVAL. */
int cio__transport_new(cio_loop *loop, int fd, const cio_transport_options *opts,
                       cio_transport **out);
/* Sets the protocol, calls connection_made and schedules the first read. */
void cio__transport_start(cio_transport *t, const cio_protocol *proto, void *ud);
/* Frees a transport that was never started (its fd is closed). */
void cio__transport_discard(cio_transport *t);

/* White-box counter for tests: SENDMSG ops submitted by all transports. */
extern unsigned long cio__transport_writev_count;

#endif
