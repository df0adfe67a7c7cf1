/*
 * test_aiter.c - one asynchronous iterator interface for queues and the
 * lines of a stream (cio_queue_aiter, cio_stream_lines_aiter), consumed
 * with CIO_FOR: items in order, the end (a shut-down drained queue, the
 * stream's EOF), errors, and cancellation while next waits.
 */
#include <stdint.h>
#include <unistd.h>

#include "test.h"

/* ---- queues ---------------------------------------------------------------------- */

struct producer {
    cio_queue *q;
    int n;
};

static int producer_task(void *arg, void **result)
{
    (void)result;
    struct producer *p = arg;
    for (int i = 1; i <= p->n; i++) {
        CHECK_RC(cio_queue_put(p->q, (void *)(intptr_t)i), 0);
        if (i % 3 == 0)
            cio_sleep(0.001);
    }
    CHECK_RC(cio_queue_shutdown(p->q, 0), 0); /* consumers drain, then end */
    return 0;
}

static int queue_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_queue *q;
    CHECK_RC(cio_queue_new(cio_get_running_loop(), 4, &q), 0);
    struct producer p = {q, 50};
    cio_task *t;
    CHECK_RC(cio_create_task(producer_task, &p, "producer", &t), 0);
    cio_aiter it;
    CHECK_RC(cio_queue_aiter(q, &it), 0);
    void *item;
    int rc, expect = 1;
    CIO_FOR(&it, item, rc) {
        CHECK_EQ((intptr_t)item, expect);
        expect++;
        cio_queue_task_done(q);
    }
    CHECK_RC(rc, CIO_ITER_END);
    CHECK_EQ(expect, 51);
    CHECK_RC(cio_aiter_next(&it, &item), CIO_ITER_END); /* and stays ended */
    CHECK_RC(cio_aiter_aclose(&it), 0);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    cio_queue_free(q);

    /* break leaves rc 0; the queue stays open for others. */
    CHECK_RC(cio_queue_new(cio_get_running_loop(), 0, &q), 0);
    for (int i = 0; i < 3; i++)
        cio_queue_put_nowait(q, (void *)(intptr_t)(i + 1));
    CHECK_RC(cio_queue_aiter(q, &it), 0);
    CIO_FOR(&it, item, rc) {
        if ((intptr_t)item == 2)
            break;
    }
    CHECK_RC(rc, 0);
    CHECK_RC(cio_aiter_aclose(&it), 0);
    CHECK(!cio_queue_is_shutdown(q));
    CHECK_EQ(cio_queue_qsize(q), 1);
    cio_queue_free(q);

    CHECK_RC(cio_queue_aiter(NULL, &it), -EINVAL);
    CHECK_RC(cio_queue_aiter(NULL, NULL), -EINVAL);
    return 0;
}

static void aiter_queue(void) { CHECK_RC(cio_run(queue_main, NULL, NULL), 0); }

struct consumer {
    cio_aiter *it;
    int items;
    int rc;
};

static int consumer_task(void *arg, void **result)
{
    (void)result;
    struct consumer *c = arg;
    void *item;
    CIO_FOR(c->it, item, c->rc) {
        (void)item;
        c->items++;
    }
    return 0;
}

static int queue_cancel_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_queue *q;
    CHECK_RC(cio_queue_new(cio_get_running_loop(), 0, &q), 0);
    cio_aiter it;
    CHECK_RC(cio_queue_aiter(q, &it), 0);
    struct consumer c = {&it, 0, 1};
    cio_task *t;
    CHECK_RC(cio_create_task(consumer_task, &c, "consumer", &t), 0);
    cio_queue_put_nowait(q, (void *)1);
    CHECK_RC(cio_sleep(0.01), 0);
    CHECK_EQ(c.items, 1);
    cio_task_cancel(t, NULL);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    CHECK_RC(c.rc, -ECANCELED);
    /* Nothing was lost to the cancelled getter. */
    cio_queue_put_nowait(q, (void *)2);
    void *item = NULL;
    CHECK_RC(cio_aiter_next(&it, &item), 0);
    CHECK_EQ((intptr_t)item, 2);
    /* An immediate shutdown ends the iteration too. */
    CHECK_RC(cio_queue_shutdown(q, 1), 0);
    CHECK_RC(cio_aiter_next(&it, &item), CIO_ITER_END);
    cio_queue_free(q);
    return 0;
}

static void aiter_queue_cancel(void) { CHECK_RC(cio_run(queue_cancel_main, NULL, NULL), 0); }

/* ---- stream lines --------------------------------------------------------------------- */

struct writer {
    int fd;
    const char *text;
    double pause;
};

/* Writes text in two halves with a pause (so next has to wait), then EOF. */
static int writer_task(void *arg, void **result)
{
    (void)result;
    struct writer *w = arg;
    cio_stream *s;
    CHECK_RC(cio_stream_from_fd(w->fd, NULL, &s), 0);
    size_t len = strlen(w->text), half = len / 2;
    CHECK_RC(cio_stream_write(s, w->text, half), 0);
    cio_sleep(w->pause);
    CHECK_RC(cio_stream_write(s, w->text + half, len - half), 0);
    cio_stream_close(s);
    cio_stream_wait_closed(s);
    cio_stream_unref(s);
    return 0;
}

static int lines_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    struct writer w = {pfd[1], "alpha\nbeta\ngamma\ndelta", 0.01};
    cio_task *t;
    CHECK_RC(cio_create_task(writer_task, &w, "writer", &t), 0);
    cio_stream *s;
    CHECK_RC(cio_stream_from_fd(pfd[0], NULL, &s), 0);
    char buf[32];
    cio_aiter it;
    CHECK_RC(cio_stream_lines_aiter(s, buf, sizeof buf, &it), 0);
    const char *want[] = {"alpha\n", "beta\n", "gamma\n", "delta"};
    int i = 0, rc;
    void *line;
    CIO_FOR(&it, line, rc) {
        CHECK(line == buf);
        CHECK(i < 4 && !strcmp(line, want[i]));
        CHECK_EQ(cio_stream_line_length(s), strlen(want[i]));
        i++;
    }
    CHECK_RC(rc, CIO_ITER_END);
    CHECK_EQ(i, 4);
    CHECK_RC(cio_aiter_aclose(&it), 0);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    cio_stream_unref(s);

    /* A line longer than the buffer: CIO_ELIMIT, the data stays. */
    CHECK(pipe(pfd) == 0);
    CHECK_RC(cio_stream_from_fd(pfd[0], NULL, &s), 0);
    CHECK(write(pfd[1], "0123456789abcdef\nok\n", 20) == 20);
    close(pfd[1]);
    char small[8];
    CHECK_RC(cio_stream_lines_aiter(s, small, sizeof small, &it), 0);
    CIO_FOR(&it, line, rc) CHECK(0);
    CHECK_RC(rc, CIO_ELIMIT);
    CHECK_RC(cio_stream_lines_aiter(s, buf, sizeof buf, &it), 0);
    i = 0;
    CIO_FOR(&it, line, rc) i++;
    CHECK_RC(rc, CIO_ITER_END);
    CHECK_EQ(i, 2);
    cio_stream_unref(s);

    CHECK_RC(cio_stream_lines_aiter(NULL, buf, sizeof buf, &it), -EINVAL);
    CHECK_RC(cio_stream_lines_aiter(NULL, buf, 1, &it), -EINVAL);
    return 0;
}

static void aiter_stream_lines(void) { CHECK_RC(cio_run(lines_main, NULL, NULL), 0); }

static int lines_cancel_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    cio_stream *s;
    CHECK_RC(cio_stream_from_fd(pfd[0], NULL, &s), 0);
    char buf[32];
    cio_aiter it;
    CHECK_RC(cio_stream_lines_aiter(s, buf, sizeof buf, &it), 0);
    struct consumer c = {&it, 0, 1};
    cio_task *t;
    CHECK_RC(cio_create_task(consumer_task, &c, "lines", &t), 0);
    CHECK(write(pfd[1], "one\ntw", 6) == 6);
    CHECK_RC(cio_sleep(0.01), 0);
    CHECK_EQ(c.items, 1);
    cio_task_cancel(t, NULL);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    CHECK_RC(c.rc, -ECANCELED);
    /* The partial line stayed buffered: iteration picks up where it was. */
    CHECK(write(pfd[1], "o\n", 2) == 2);
    close(pfd[1]);
    void *line;
    CHECK_RC(cio_aiter_next(&it, &line), 0);
    CHECK(!strcmp(line, "two\n"));
    CHECK_RC(cio_aiter_next(&it, &line), CIO_ITER_END);
    cio_stream_unref(s);
    return 0;
}

static void aiter_stream_lines_cancel(void) { CHECK_RC(cio_run(lines_cancel_main, NULL, NULL), 0); }

int main(void)
{
    RUN(aiter_queue);
    RUN(aiter_queue_cancel);
    RUN(aiter_stream_lines);
    RUN(aiter_stream_lines_cancel);
    return test_finish();
}
