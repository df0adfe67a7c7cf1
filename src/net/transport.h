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

/*
 * What every kind of transport starts with.  Protocols see this pointer;
 * the public cio_transport_* functions (transport_api.c) check their
 * arguments and call the kind's method through vt.  A kind that lacks a
 * method leaves it NULL: the call then fails with -ENOTSUP (or does
 * nothing, for the void ones), as asyncio's base transports raise
 * NotImplementedError.
 */
struct cio_transport {
    const struct cio__transport_vt *vt; /* the kind's methods */
    cio_loop *loop;            /* owner */
    uint32_t refs;             /* users + "alive until connection_lost" +
                                  a pending op or scheduled callback each */
    const cio_protocol *proto; /* never NULL (cio__no_protocol at worst) */
    void *ud;                  /* the protocol's pointer */
    /* the server's hook: called after connection_lost (server.c) */
    void (*on_lost)(cio_transport *t, void *arg);
    void *on_lost_arg;
};

struct cio__transport_vt {
    const char *kind;          /* "socket", "tls", "datagram", ... */
    /* Arguments are checked; total is the bytes of iov (> 0). */
    int (*writelines)(cio_transport *t, const struct iovec *iov, int iovcnt, size_t total);
    int (*write_eof)(cio_transport *t);
    size_t (*get_write_buffer_size)(const cio_transport *t);
    int (*set_write_buffer_limits)(cio_transport *t, size_t high, size_t low);
    void (*pause_reading)(cio_transport *t);
    void (*resume_reading)(cio_transport *t);
    int (*is_reading)(const cio_transport *t);
    void (*close)(cio_transport *t);
    void (*abort)(cio_transport *t);
    int (*is_closing)(const cio_transport *t);
    /* The descriptor under it (>= 0), or CIO_ECLOSED. */
    int (*fd)(const cio_transport *t);
    /* The last reference went: free everything. */
    void (*destroy)(cio_transport *t);
};

/* The protocol of a transport given none: every callback NULL. */
extern const cio_protocol cio__no_protocol;

/* Drops a reference; the last one destroys t. */
static inline void cio__transport_unref(cio_transport *t)
{
    if (!--t->refs)
        t->vt->destroy(t);
}

/* Makes a transport over connected socket fd (taken on success), with no
 * protocol yet and reading not started.  0 or -ENOMEM / -EINVAL. */
int cio__transport_new(cio_loop *loop, int fd, const cio_transport_options *opts,
                       cio_transport **out);
/* Sets the protocol, calls connection_made and schedules the first read. */
void cio__transport_start(cio_transport *t, const cio_protocol *proto, void *ud);
/* Frees a transport that was never started (its fd is closed). */
void cio__transport_discard(cio_transport *t);

/* The watermarks from high/low as set_write_buffer_limits takes them
 * (CIO_TRANSPORT_LIMIT_DEFAULT: 64 KiB, or 4 * low; low: high / 4).
 * 0, or -EINVAL (low > high; *high and *low unchanged). */
int cio__transport_limits(size_t *high, size_t *low, size_t h, size_t l);

/* White-box counter for tests: SENDMSG ops submitted by all transports. */
extern unsigned long cio__transport_writev_count;

#endif
