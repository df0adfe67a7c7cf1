/*
 * transport.h - the transport object inside cio, shared by transport.c
 * (the socket transport: reading, writing, closing), transport_open.c
 * (connecting), server.c (protocol-factory servers), transport_api.c (the
 * public calls), transport_buf.c (the write buffer every stream-like kind
 * uses, and the flow control every kind embeds), transport_datagram.c,
 * transport_pipe.c, transport_subprocess.c and tls_transport.c (the
 * other kinds).
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
    /* Optional: writelines of one piece (data checked, len may be 0),
     * the common case made cheaper; NULL: writelines is called. */
    int (*write)(cio_transport *t, const void *data, size_t len);
    /* Datagram kinds: one datagram to addr (NULL: the connected peer). */
    int (*sendto)(cio_transport *t, const void *data, size_t len,
                  const struct sockaddr *addr, socklen_t addrlen);
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
/* Socket transports: at the end (after connection_lost, or when freed
 * unstarted) the descriptor is only forgotten by the loop, not closed:
 * it goes back to whoever gave it (cio_stream_from_fd's failures). */
void cio__transport_keep_fd(cio_transport *t);

/* ---- the write buffer (transport_buf.c) ---------------------------------- */

/* Bytes queued for a descriptor, in chunks, oldest first.  A chunk never
 * moves once made, so a write in flight may point into it while later
 * writes append. */
struct cio__tbuf {
    struct cio__tchunk *head, *tail; /* oldest, newest (NULL: empty) */
    size_t size;               /* bytes queued */
    struct cio__tchunk *spare; /* an emptied chunk of CHUNK_MIN bytes kept
                                  for the next append: a connection that
                                  queues every write (io_uring) does not
                                  allocate and free one per message */
};

/* Appends the bytes of iov from offset skip on (total: the bytes of iov);
 * 0, or -ENOMEM with nothing appended. */
int cio__tbuf_append(struct cio__tbuf *b, const struct iovec *iov, int iovcnt, size_t total,
                     size_t skip);
/* n bytes went out: drops them from the front. */
void cio__tbuf_consume(struct cio__tbuf *b, size_t n);
/* Fills up to max iov pieces with the queued bytes, in order; returns how
 * many. */
int cio__tbuf_iov(const struct cio__tbuf *b, struct iovec *iov, int max);
/* Frees every chunk (the buffer is then empty). */
void cio__tbuf_free(struct cio__tbuf *b);
/* The watermarks set_write_buffer_limits asks for, defaults applied
 * (CIO_TRANSPORT_LIMIT_DEFAULT: 64 KiB high, high / 4 low). */
void cio__transport_limits(size_t high, size_t low, size_t *out_high, size_t *out_low);
/* The same, checked: 0, or -EINVAL when low > high (*high and *low are
 * then unchanged). */
int cio__transport_limits_check(size_t *high, size_t *low, size_t h, size_t l);

/* ---- flow control (transport_buf.c) ----------------------------------------- */

/*
 * The flow control every kind embeds (asyncio's FlowControlMixin, and
 * the paused flag of its reading): the watermarks of the write buffer,
 * whether the protocol was told pause_writing, whether reading is
 * paused.  The kind keeps its buffer and its closing flag and passes
 * them in; these functions hold the rules, the kind's methods are thin.
 */
struct cio__tflow {
    size_t high, low;          /* watermarks of the write buffer */
    uint8_t wpaused;           /* pause_writing called, not resumed */
    uint8_t rpaused;           /* pause_reading in effect */
};

/* The watermarks opts ask for (high_water / low_water, 0 or opts NULL:
 * the defaults); a low one above high is cut to high. */
void cio__tflow_init(struct cio__tflow *f, const cio_transport_options *opts);
/* The buffer (size bytes) grew: pause_writing once it is above high,
 * unless closing. */
void cio__tflow_check_pause(struct cio__tflow *f, cio_transport *t, size_t size, int closing);
/* The buffer shrank: resume_writing once it is at or below low. */
void cio__tflow_check_resume(struct cio__tflow *f, cio_transport *t, size_t size);
/* set_write_buffer_limits: 0, then pause or resume as the new marks
 * say, or -EINVAL (low > high) with nothing changed. */
int cio__tflow_set_limits(struct cio__tflow *f, cio_transport *t, size_t size, int closing,
                          size_t high, size_t low);
/* pause_reading: 1 if reading was on and is paused now (the kind then
 * cancels its read), 0 when closing or paused already. */
static inline int cio__tflow_pause_reading(struct cio__tflow *f, int closing)
{
    if (closing || f->rpaused)
        return 0;
    f->rpaused = 1;
    return 1;
}
/* resume_reading: 1 if reading was paused and is on now (the kind then
 * reads again), 0 when closing or not paused. */
static inline int cio__tflow_resume_reading(struct cio__tflow *f, int closing)
{
    if (closing || !f->rpaused)
        return 0;
    f->rpaused = 0;
    return 1;
}
/* is_reading: not closing and not paused. */
static inline int cio__tflow_is_reading(const struct cio__tflow *f, int closing)
{
    return !closing && !f->rpaused;
}

/* ---- the other kinds ------------------------------------------------------- */

/* Options of cio__datagram_socket. */
struct cio__dgram_opts {
    int family;                /* AF_INET, AF_INET6 or 0 (from the names) */
    int reuse_port;            /* SO_REUSEPORT */
    int allow_broadcast;       /* SO_BROADCAST */
};

/* datagram.c: a UDP socket bound to local_host:local_port (when either is
 * given, or nothing at all is and no family is set) and connected to
 * remote_host:remote_port (when given); names resolve with
 * cio_getaddrinfo (suspends).  The descriptor (non-blocking, close-on-
 * exec), or -errno / CIO_EGAIERR + EAI_*. */
int cio__datagram_socket(const char *local_host, int local_port, const char *remote_host,
                         int remote_port, const struct cio__dgram_opts *o);

/* transport_datagram.c: a datagram transport over fd (a non-blocking
 * datagram socket, taken on success; connected: it has a peer, so sendto
 * needs no address), running proto with ud; connection_made is called,
 * then reading starts.  *out gets a reference for the caller.  0,
 * -ENOMEM or -EINVAL.  (asyncio's create_datagram_endpoint(sock=...).) */
int cio__datagram_transport_open(cio_loop *loop, int fd, int connected,
                                 const cio_protocol *proto, void *ud,
                                 const cio_transport_options *opts, cio_transport **out);

/* Directions of a pipe transport. */
enum { CIO__PIPE_READ = 0, CIO__PIPE_WRITE = 1, CIO__PIPE_BOTH = 2 };

/* transport_pipe.c: a pipe transport over fd (non-blocking already,
 * taken on success), reading (CIO__PIPE_READ), writing (CIO__PIPE_WRITE)
 * or both (CIO__PIPE_BOTH: a descriptor open for reading and writing, a
 * terminal or a FIFO; end of file is eof_received, which may keep the
 * writing side, as a socket's), with no protocol yet and nothing
 * started: the caller holds no reference of its own (take one with
 * cio_transport_ref).  0, -ENOMEM or -EINVAL. */
int cio__pipe_transport_new(cio_loop *loop, int fd, int mode, cio_transport **out);
/* Sets the protocol, calls connection_made, then starts reading (read
 * pipes) or watching for the reader to leave (write pipes). */
void cio__pipe_transport_start(cio_transport *t, const cio_protocol *proto, void *ud);
/* Frees a pipe transport that was never started (its fd is closed). */
void cio__pipe_transport_discard(cio_transport *t);

/* White-box counter for tests: SENDMSG ops submitted by all transports. */
extern unsigned long cio__transport_writev_count;

#endif
