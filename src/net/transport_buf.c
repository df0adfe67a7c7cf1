/*
 * transport_buf.c - what the transport kinds share: the write buffer of
 * the byte-stream transports (socket and pipe transports), a list of
 * chunks that bytes are appended to and consumed from; and the flow
 * control every kind embeds (struct cio__tflow: the watermarks with
 * their defaults, pause_writing / resume_writing, the paused reading).
 *
 * Chunks are at least CHUNK_MIN bytes, so many small writes share one
 * allocation, and never move, so a write in flight may point into them;
 * one emptied chunk is kept as a spare for the next append.
 */
#include "../util/internal.h"
#include "transport.h"

#define CHUNK_MIN 16384
#define DEFAULT_HIGH (64 * 1024)

/* Keeps an emptied chunk of the common size as the spare, else frees it. */
static void keep_or_free(struct cio__tbuf *b, struct cio__tchunk *c)
{
    if (!b->spare && c->cap == CHUNK_MIN)
        b->spare = c;
    else
        cio__free(c);
}

int cio__tbuf_append(struct cio__tbuf *b, const struct iovec *iov, int iovcnt, size_t total,
                     size_t skip)
{
    /* One piece into an empty buffer with its spare at hand: a queued
     * write's common case on io_uring. */
    if (iovcnt == 1 && !b->head && b->spare && total - skip <= CHUNK_MIN) {
        struct cio__tchunk *c = b->spare;
        b->spare = NULL;
        *c = (struct cio__tchunk){.cap = CHUNK_MIN, .end = total - skip};
        memcpy(c->data, (const char *)iov[0].iov_base + skip, total - skip);
        b->head = b->tail = c;
        b->size = total - skip;
        return 0;
    }
    total -= skip;
    size_t room = b->tail ? b->tail->cap - b->tail->end : 0;
    struct cio__tchunk *nc = NULL;
    if (total > room) {
        /* One allocation for whatever does not fit the last chunk, made
         * first so a failure leaves the buffer as it was. */
        size_t cap = total - room < CHUNK_MIN ? CHUNK_MIN : total - room;
        if (cap == CHUNK_MIN && b->spare) {
            nc = b->spare;
            b->spare = NULL;
        } else if (!(nc = cio__malloc(sizeof *nc + cap))) {
            return -ENOMEM;
        }
        *nc = (struct cio__tchunk){.cap = cap};
    }
    for (int i = 0; i < iovcnt; i++) {
        const char *p = iov[i].iov_base;
        size_t n = iov[i].iov_len;
        if (skip >= n) {
            skip -= n;
            continue;
        }
        p += skip;
        n -= skip;
        skip = 0;
        while (n) {
            struct cio__tchunk *c = b->tail;
            if (!c || c->end == c->cap) {
                nc->next = NULL;
                if (b->tail)
                    b->tail->next = nc;
                else
                    b->head = nc;
                b->tail = c = nc;
                nc = NULL;
            }
            size_t k = c->cap - c->end < n ? c->cap - c->end : n;
            memcpy(c->data + c->end, p, k);
            c->end += k;
            p += k;
            n -= k;
            b->size += k;
        }
    }
    if (nc) /* not needed after all */
        keep_or_free(b, nc);
    return 0;
}

void cio__tbuf_consume(struct cio__tbuf *b, size_t n)
{
    b->size -= n;
    while (n && b->head) {
        struct cio__tchunk *c = b->head;
        size_t k = c->end - c->start < n ? c->end - c->start : n;
        c->start += k;
        n -= k;
        if (c->start == c->end) {
            b->head = c->next;
            if (!b->head)
                b->tail = NULL;
            keep_or_free(b, c);
        }
    }
}

int cio__tbuf_iov(const struct cio__tbuf *b, struct iovec *iov, int max)
{
    int n = 0;
    for (struct cio__tchunk *c = b->head; c && n < max; c = c->next) {
        if (c->end == c->start)
            continue;
        iov[n].iov_base = c->data + c->start;
        iov[n++].iov_len = c->end - c->start;
    }
    return n;
}

void cio__tbuf_free(struct cio__tbuf *b)
{
    for (struct cio__tchunk *c = b->head, *n; c; c = n) {
        n = c->next;
        cio__free(c);
    }
    cio__free(b->spare);
    b->head = b->tail = b->spare = NULL;
    b->size = 0;
}

void cio__transport_limits(size_t high, size_t low, size_t *out_high, size_t *out_low)
{
    if (high == CIO_TRANSPORT_LIMIT_DEFAULT)
        high = low == CIO_TRANSPORT_LIMIT_DEFAULT ? DEFAULT_HIGH : 4 * low;
    if (low == CIO_TRANSPORT_LIMIT_DEFAULT)
        low = high / 4;
    *out_high = high;
    *out_low = low;
}

int cio__transport_limits_check(size_t *high, size_t *low, size_t h, size_t l)
{
    size_t nh, nl;
    cio__transport_limits(h, l, &nh, &nl);
    if (nl > nh)
        return -EINVAL;
    *high = nh;
    *low = nl;
    return 0;
}

/* ---- flow control ------------------------------------------------------------ */

void cio__tflow_init(struct cio__tflow *f, const cio_transport_options *opts)
{
    size_t high = opts && opts->high_water ? opts->high_water : CIO_TRANSPORT_LIMIT_DEFAULT;
    size_t low = opts && opts->low_water ? opts->low_water : CIO_TRANSPORT_LIMIT_DEFAULT;
    cio__transport_limits(high, low, &f->high, &f->low);
    if (f->low > f->high)
        f->low = f->high;
}

void cio__tflow_check_pause(struct cio__tflow *f, cio_transport *t, size_t size, int closing)
{
    if (size <= f->high || f->wpaused || closing)
        return;
    f->wpaused = 1;
    if (t->proto->pause_writing)
        t->proto->pause_writing(t, t->ud);
}

void cio__tflow_check_resume(struct cio__tflow *f, cio_transport *t, size_t size)
{
    if (!f->wpaused || size > f->low)
        return;
    f->wpaused = 0;
    if (t->proto->resume_writing)
        t->proto->resume_writing(t, t->ud);
}

int cio__tflow_set_limits(struct cio__tflow *f, cio_transport *t, size_t size, int closing,
                          size_t high, size_t low)
{
    int rc = cio__transport_limits_check(&f->high, &f->low, high, low);
    if (rc < 0)
        return rc;
    cio__tflow_check_pause(f, t, size, closing);
    cio__tflow_check_resume(f, t, size);
    return 0;
}
