/*
 * stream.h - the stream object inside cio, shared by stream.c (reading
 * and writing), connect.c (opening) and server.c (accepting).
 */
#ifndef CIO_NET_STREAM_INTERNAL_H
#define CIO_NET_STREAM_INTERNAL_H

#include <netdb.h>

#include "cio/stream.h"
#include "../task/task.h"

#define CIO__STREAM_DEFAULT_LIMIT (64 * 1024)
#define CIO__STREAM_DEFAULT_HIGH (64 * 1024)

struct cio_stream {
    cio_loop *loop;            /* owner */
    int fd;                    /* the socket, -1 once closed */
    uint32_t refs;             /* the user's hold + a running flusher */
    /* reading */
    char *rbuf;                /* read buffer, rcap bytes, made lazily */
    size_t rstart, rend;       /* unread data is rbuf[rstart, rend) */
    size_t rcap;
    size_t limit;              /* line/separator limit (asyncio's limit) */
    int rerr;                  /* sticky read error, 0 if none */
    uint8_t eof;               /* the peer ended its side */
    /* writing */
    char *wbuf;                /* bytes queued for the kernel */
    size_t wstart, wend, wcap; /* queued data is wbuf[wstart, wend) */
    size_t high, low;          /* watermarks */
    int werr;                  /* sticky write error, 0 if none */
    uint8_t paused;            /* buffer went above high, not yet <= low */
    uint8_t eof_wanted;        /* write_eof called: shutdown after flush */
    uint8_t eof_sent;          /* shutdown(SHUT_WR) done */
    uint8_t closing;           /* close/abort called, or connection lost */
    uint8_t graceful;          /* close (not abort): flush, then close */
    uint8_t flushing;          /* the flusher task exists (maybe not started) */
    uint8_t flusher_started;   /* it began running: a task cancelled before
                                  that never runs, so then whoever cancels
                                  it drops the reference it holds */
    cio_task *flusher;         /* the flusher task (a reference), or NULL */
    cio_future *drain_fut;     /* done when paused clears or on error */
    cio_future *closed_fut;    /* done when the socket is closed */
};

/* Makes a stream over a connected socket (taken over on success). */
int cio__stream_new(cio_loop *loop, int fd, const cio_stream_options *opts,
                    cio_stream **out);
/* Connects to one address of list: happy eyeballs (connect.c) with the
 * given attempt delay, or one at a time if delay < 0.  Returns the
 * connected socket or a negative code.  Suspends. */
int cio__connect_addrs(struct addrinfo *list, double delay);
/* Sets TCP_NODELAY on an AF_INET/AF_INET6 stream socket. */
void cio__set_nodelay(int fd);

#endif
