/*
 * stream_read.c - the reading half of a stream (asyncio's StreamReader)
 * and its zero-copy view (peek / fill / consume).
 *
 * Every call works on the read buffer rbuf[rstart, rend).  When it needs
 * more bytes, more() waits for them: the transport pushes bytes into the
 * buffer (stream.c's protocol) and wakes the readers, so the reader only
 * parks.  Taking bytes out lets a paused transport read again once the
 * buffer is back under the limit.
 *
 * Divided into: the buffer, waiting for bytes, the StreamReader calls,
 * the zero-copy view.
 */
#define _GNU_SOURCE
#include <string.h>

#include "stream.h"

/* ---- the buffer ------------------------------------------------------------- */

int cio__stream_room_grow(cio_stream *s, size_t want)
{
    size_t used = cio__stream_buffered(s); /* (cio__stream_room reset an empty one) */
    if (s->rstart && s->rcap - used >= want) {
        memmove(s->rbuf, s->rbuf + s->rstart, used);
        s->rstart = 0;
        s->rend = used;
        return 0;
    }
    size_t cap = s->rcap ? s->rcap : 4096;
    if (!s->rcap && cap < s->limit)
        cap = s->limit; /* the first buffer holds a line of the limit */
    while (cap < used + want)
        cap *= 2;
    char *b = cio__malloc(cap);
    if (!b)
        return -ENOMEM;
    if (used)
        memcpy(b, s->rbuf + s->rstart, used);
    cio__free(s->rbuf);
    s->rbuf = b;
    s->rcap = cap;
    s->rstart = 0;
    s->rend = used;
    return 0;
}

/* n bytes were taken from the front: reading resumes under the limit. */
static void consumed(cio_stream *s, size_t n)
{
    s->rstart += n;
    if (s->rpaused && cio__stream_buffered(s) <= s->limit && s->t) {
        s->rpaused = 0;
        cio_transport_resume_reading(s->t);
    }
}

static size_t take(cio_stream *s, void *buf, size_t n)
{
    size_t k = cio__stream_buffered(s) < n ? cio__stream_buffered(s) : n;
    if (!k)
        return 0; /* rbuf may not exist yet: memcpy from NULL is undefined */
    memcpy(buf, s->rbuf + s->rstart, k);
    consumed(s, k);
    return k;
}

/* ---- waiting for bytes ------------------------------------------------------ */

/*
 * Waits until more bytes are buffered.  Returns how many came, 0 at end
 * of stream, or a negative code: the sticky error, CIO_ECLOSED once the
 * stream is closed, -ECANCELED / -ETIMEDOUT (nothing is lost: bytes that
 * arrive meanwhile stay buffered).  Suspends.
 */
static inline __attribute__((always_inline)) int more_inline(cio_stream *s)
{
    if (s->kind == CIO__STREAM_WRITE_PIPE)
        return -EBADF; /* a pipe's write end, as read(2) says */
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    size_t before = cio__stream_buffered(s);
    for (;;) {
        size_t now = cio__stream_buffered(s);
        if (now > before)
            return (int)(now - before < INT32_MAX ? now - before : INT32_MAX);
        if (s->rerr)
            return s->rerr;
        if (s->eof)
            return 0;
        if (s->closing || cio__stream_closed(s))
            return CIO_ECLOSED;
        if (s->input_ended && !now)
            return 0; /* shutdown, between messages: a clean end */
        if (s->rpaused) { /* the reader wants more than is kept: read on */
            s->rpaused = 0;
            cio_transport_resume_reading(s->t);
        }
        int rc = cio__checkpoint(t);
        if (!rc)
            rc = cio__stream_park(s, &s->readers, t);
        if (rc < 0)
            return rc;
    }
}

/* more() for the calls that wait in a loop; cio_stream_read, which waits
 * once per call when it waits at all (the echo's every read), has it
 * inline. */
static int more(cio_stream *s)
{
    return more_inline(s);
}

/* ---- the StreamReader calls -------------------------------------------------- */

int cio_stream_read(cio_stream *s, void *buf, size_t n)
{
    if (!s || (!buf && n))
        return cio__bad_arg(cio__running_loop, __func__, "stream or buf is NULL");
    if (n > INT32_MAX)
        n = INT32_MAX;
    if (!n)
        return 0;
    if (!cio__stream_buffered(s)) {
        int r = more_inline(s);
        if (r <= 0)
            return r;
    }
    return (int)take(s, buf, n);
}

int cio_stream_readexactly(cio_stream *s, void *buf, size_t n, size_t *partial)
{
    if (partial)
        *partial = 0;
    if (!s || (!buf && n) || n > INT32_MAX)
        return cio__bad_arg(cio__running_loop, __func__, "stream/buf NULL or n > INT_MAX");
    char *p = buf;
    size_t got = take(s, p, n);
    while (got < n) {
        int r = more(s);
        if (r <= 0) {
            /* What arrived is in buf and consumed; say how much. */
            if (partial)
                *partial = got;
            return r == 0 ? CIO_EINCOMPLETE : r;
        }
        got += take(s, p + got, n - got);
    }
    return (int)n;
}

/* Finds the earliest end of any separator in the buffer, scanning from
 * from (an offset into the unread data).  Returns the length up to and
 * including it, or 0. */
static size_t find_sep(const cio_stream *s, const char *const *seps, size_t nseps,
                       size_t from)
{
    const char *base = s->rbuf + s->rstart;
    size_t len = cio__stream_buffered(s), best = 0;
    for (size_t i = 0; i < nseps; i++) {
        size_t sl = strlen(seps[i]);
        if (sl > len)
            continue;
        size_t start = from > sl - 1 ? from - (sl - 1) : 0;
        const char *m = memmem(base + start, len - start, seps[i], sl);
        if (m) {
            size_t end = (size_t)(m - base) + sl;
            if (!best || end < best)
                best = end;
        }
    }
    return best;
}

/* readuntil's engine; eof_ok: return the partial tail at EOF (readline). */
static int read_until(cio_stream *s, const char *const *seps, size_t nseps, void *buf,
                      size_t cap, size_t *partial, int eof_ok)
{
    if (partial)
        *partial = 0;
    size_t lim = cap < s->limit ? cap : s->limit;
    if (lim > INT32_MAX)
        lim = INT32_MAX;
    size_t scanned = 0;
    for (;;) {
        size_t end = s->rbuf ? find_sep(s, seps, nseps, scanned) : 0;
        if (end) {
            if (end > lim)
                return CIO_ELIMIT;
            return (int)take(s, buf, end);
        }
        scanned = cio__stream_buffered(s);
        if (scanned >= lim)
            return CIO_ELIMIT;
        int r = more(s);
        if (r == 0) {
            size_t k = cio__stream_buffered(s) < cap ? cio__stream_buffered(s) : cap;
            if (eof_ok)
                return (int)take(s, buf, k);
            take(s, buf, k);
            if (partial)
                *partial = k;
            return CIO_EINCOMPLETE;
        }
        if (r < 0)
            return r;
    }
}

int cio_stream_readuntil_any(cio_stream *s, const char *const *seps, size_t nseps, void *buf,
                             size_t cap, size_t *partial)
{
    if (partial)
        *partial = 0;
    if (!s || !seps || !nseps || !buf || !cap)
        return cio__bad_arg(cio__running_loop, __func__, "NULL argument or empty buffer");
    for (size_t i = 0; i < nseps; i++)
        if (!seps[i] || !seps[i][0])
            return cio__bad_arg(s->loop, __func__, "separator NULL or empty");
    return read_until(s, seps, nseps, buf, cap, partial, 0);
}

int cio_stream_readuntil(cio_stream *s, const char *sep, void *buf, size_t cap,
                         size_t *partial)
{
    return cio_stream_readuntil_any(s, &sep, 1, buf, cap, partial);
}

int cio_stream_readline(cio_stream *s, void *buf, size_t cap)
{
    if (!s || !buf || !cap)
        return cio__bad_arg(cio__running_loop, __func__, "NULL argument or empty buffer");
    static const char *const nl[1] = {"\n"};
    return read_until(s, nl, 1, buf, cap, NULL, 1);
}

int cio_stream_at_eof(const cio_stream *s)
{
    return s && s->eof && s->rstart == s->rend;
}

/* ---- the zero-copy view ------------------------------------------------------- */

const void *cio_stream_peek(const cio_stream *s, size_t *len)
{
    size_t n = s ? cio__stream_buffered(s) : 0;
    if (len)
        *len = n;
    return n ? s->rbuf + s->rstart : NULL;
}

int cio_stream_fill(cio_stream *s, size_t min)
{
    if (!s)
        return cio__bad_arg(cio__running_loop, __func__, "stream is NULL");
    if (min > s->limit || min > INT32_MAX)
        return CIO_ELIMIT;
    while (cio__stream_buffered(s) < min) {
        int r = more(s);
        if (r == 0)
            return CIO_EINCOMPLETE;
        if (r < 0)
            return r;
    }
    size_t n = cio__stream_buffered(s);
    return (int)(n < INT32_MAX ? n : INT32_MAX);
}

int cio_stream_consume(cio_stream *s, size_t n)
{
    if (!s || n > cio__stream_buffered(s))
        return cio__bad_arg(cio__running_loop, __func__,
                            "stream NULL or n more than is buffered");
    consumed(s, n);
    return 0;
}
