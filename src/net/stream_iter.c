/*
 * stream_iter.c - the lines of a stream as an asynchronous iterator
 * (cio/iter.h; Python's `async for line in reader`).  next is
 * cio_stream_readline into the caller's buffer, NUL-terminated; the end of
 * the stream is the iterator's end.  The buffer, its size and the
 * iterator itself are kept on the stream, so the call hands out a pointer
 * as cio_gen_aiter and cio_queue_aiter do.
 */
#include "stream.h"
#include "cio/iter.h"

static int lines_next(void *self, void **value)
{
    cio_stream *s = self;
    int n = cio_stream_readline(s, s->lines_buf, s->lines_cap - 1);
    if (n < 0)
        return n;
    if (n == 0)
        return CIO_ITER_END;
    s->lines_buf[n] = 0;
    s->lines_len = (size_t)n;
    *value = s->lines_buf;
    return 0;
}

/* The stream belongs to the caller: stopping the loop early leaves it
 * open, with the unread data still buffered. */
static const cio_aiter_ops lines_ops = {.next = lines_next, .aclose = NULL};

cio_aiter *cio_stream_lines_aiter(cio_stream *s, char *buf, size_t cap)
{
    if (!s || !buf || cap < 2) {
        cio__bad_arg(cio__running_loop, __func__, "NULL argument or cap < 2");
        return NULL;
    }
    s->lines_buf = buf;
    s->lines_cap = cap;
    s->lines_len = 0;
    cio_aiter_init(&s->lines_iter, &lines_ops, s);
    return &s->lines_iter;
}

size_t cio_stream_line_length(const cio_stream *s) { return s ? s->lines_len : 0; }
