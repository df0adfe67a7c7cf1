/*
 * tls_transport.h - the TLS transport inside cio (tls_transport.c), shared
 * with tls_transport_api.c (start_tls, accessors), transport_open.c and
 * server.c (connections made with cio_transport_options.tls).
 */
#ifndef CIO_NET_TLS_TRANSPORT_H
#define CIO_NET_TLS_TRANSPORT_H

#include "transport.h"

#ifdef CIO_HAVE_OPENSSL
#include <openssl/ssl.h>

/* A TLS transport: the base, the raw transport under it, OpenSSL's
 * session over two memory BIOs, and the state machine's flags. */
struct cio__tls_transport {
    struct cio_transport b;    /* first: what protocols see */
    cio_transport *raw;        /* the transport under TLS (a reference) */
    SSL *ssl;                  /* the session; owns in and out */
    BIO *in;                   /* raw's bytes, for OpenSSL to read */
    BIO *out;                  /* OpenSSL's records, for raw */
    cio_tls_context *ctx;      /* borrowed: gets the handshake's failure
                                  message for cio_create_connection */
    cio_future *hs_fut;        /* a task waits for the handshake, or NULL */
    cio_handle *timer;         /* handshake or shutdown timeout, or NULL */
    double hs_timeout;         /* seconds (<= 0: none) */
    double sd_timeout;
    /* writing */
    struct cio__tchunk *whead, *wtail; /* plaintext OpenSSL did not take yet */
    size_t wsize;              /* bytes in it */
    struct cio__tflow fl;      /* watermarks of wsize + the out BIO, the
                                  application's paused writing/reading */
    /* reading */
    char *rbuf;                /* decrypted bytes for data_received, lazily */
    size_t read_size;          /* its size */
    char *subject;             /* the peer certificate's subject, lazily */
    char alpn[256];            /* NUL-terminated copy of the ALPN choice */
    char errmsg[256];          /* why the connection failed, or "" */
    int error;                 /* what connection_lost will report */
    uint8_t state;             /* HANDSHAKE, WRAPPED, SHUTDOWN, DONE */
    uint8_t call_made;         /* call connection_made after the handshake */
    cio_protocol_factory_fn *factory; /* servers: asked for the protocol only
                                  once the handshake is done, so a failed
                                  one leaves no protocol state to free */
    void *factory_arg;
    uint8_t made;              /* the protocol saw connection_made */
    uint8_t upgrade;           /* made by start_tls: the protocol knows raw */
    uint8_t handshaken;        /* the handshake completed */
    uint8_t read_scheduled;    /* a do_read is queued (after resume) */
    uint8_t raw_wpaused;       /* raw told us pause_writing */
    uint8_t eof;               /* the peer's close_notify came */
    uint8_t raw_eof;           /* raw's end of stream came */
    uint8_t eof_wanted;        /* write_eof: close_notify once flushed */
    uint8_t notify_sent;       /* our close_notify is out */
    uint8_t closing;           /* close/abort/failure began */
    uint8_t raw_lost;          /* raw's connection_lost ran */
    uint8_t lost;              /* the application's connection_lost ran */
    uint8_t quick_close;       /* close does not wait for the peer's
                                  close_notify (streams' documented close) */
};

/* What a TLS transport is to its raw transport: its protocol (ud: the
 * struct cio__tls_transport). */
extern const cio_protocol cio__tls_raw_protocol;

/* The first state (tls_transport.c has the others). */
enum { CIO__TLS_HANDSHAKE = 0 };

/* Fails s with code and msg: raw is aborted (tls_transport.c). */
void cio__tls_transport_fail(struct cio__tls_transport *s, int code, const char *msg);
/* Raw is s's: starts the handshake and its timer. */
void cio__tls_transport_begin(struct cio__tls_transport *s);
#endif

/* The TLS kind's methods (for "is this TLS" checks). */
extern const struct cio__transport_vt cio__tls_transport_vt;

/* A TLS transport over raw (not started: raw neither), holding its own
 * reference to raw; client or server by server_side (ctx's role).
 * 0, -EINVAL (no name for a checking client, role mismatch), -ENOMEM,
 * CIO_ETLS, -ENOTSUP (no OpenSSL); raw is untouched on failure. */
int cio__tls_transport_new(cio_transport *raw, cio_tls_context *ctx, int server_side,
                           const char *server_hostname, const cio_transport_options *opts,
                           cio_transport **out);
/* Starts a new connection: raw (not started yet) gets the TLS as its
 * protocol, the handshake begins; proto's connection_made follows it. */
void cio__tls_transport_start(cio_transport *t, const cio_protocol *proto, void *ud);
/* The same for a server's connection: factory(arg) gives the protocol
 * after the handshake (refusing closes the connection). */
void cio__tls_transport_start_server(cio_transport *t, cio_protocol_factory_fn *factory,
                                     void *arg);

/* 1 while a server's connection t is in its handshake, its protocol not
 * asked of the factory yet (cio__tls_transport_start_server). */
int cio__tls_transport_awaits_protocol(const cio_transport *t);
/* start_tls: raw (live) hands its protocol to t and gets t as its own;
 * the handshake begins.  No connection_made follows. */
void cio__tls_transport_upgrade(cio_transport *t);
/* Frees a TLS transport that was never started, and its raw one. */
void cio__tls_transport_discard(cio_transport *t);
/* Waits for the handshake: 0, or its error (the transport is failed then
 * and ctx's message set).  Suspends. */
int cio__tls_transport_wait(cio_transport *t);
/* From now on close sends close_notify after the buffer and closes raw
 * without waiting for the peer's (a stream's close, cio/stream.h). */
void cio__tls_transport_quick_close(cio_transport *t);
/* cio_start_tls with options (handshake timeout, watermarks; NULL: the
 * defaults).  *out gets the TLS transport (the caller's reference)
 * whenever it was made, also when the handshake failed: its message is
 * then cio_transport_tls_error_message(*out).  Errors as cio_start_tls. */
int cio__start_tls(cio_transport *t, cio_tls_context *ctx, int server_side,
                   const char *server_hostname, const cio_transport_options *opts,
                   cio_transport **out);

#endif
