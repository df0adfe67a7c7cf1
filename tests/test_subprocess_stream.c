/*
 * test_subprocess_stream.c - a child's pipes as cio streams (asyncio's
 * Process.stdin / .stdout / .stderr): readline from `sh -c printf`,
 * write to `cat` and read it back, end of stream, stderr, the small pipe
 * calls going through the stream once it exists, and plain pipes given
 * to cio_stream_from_fd: their directions, and a pipe's end seen before
 * the small calls come.
 */
#include <fcntl.h>
#include <unistd.h>

#include "test.h"

static int readline_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_subprocess_options po = {.stdout_mode = CIO_SUBPROCESS_PIPE,
                              .stderr_mode = CIO_SUBPROCESS_PIPE};
    cio_subprocess *p = NULL;
    CHECK_RC(cio_create_subprocess_shell("printf 'one\\ntwo\\nthree'; printf 'oops\\n' >&2",
                                         &po, &p), 0);
    cio_stream *out = NULL, *out2 = NULL, *err = NULL, *in = NULL;
    CHECK_RC(cio_subprocess_stdout_stream(p, &out), 0);
    CHECK_RC(cio_subprocess_stdout_stream(p, &out2), 0);
    CHECK(out == out2); /* one stream per pipe */
    CHECK_RC(cio_subprocess_stderr_stream(p, &err), 0);
    CHECK_RC(cio_subprocess_stdin_stream(p, &in), -EBADF); /* not a pipe */
    CHECK(in == NULL);
    char buf[64];
    if (out) {
        CHECK_EQ(cio_stream_readline(out, buf, sizeof buf), 4);
        CHECK(!memcmp(buf, "one\n", 4));
        /* the small call reads through the stream's buffer */
        CHECK_EQ(cio_subprocess_read(p, 1, buf, 4), 4);
        CHECK(!memcmp(buf, "two\n", 4));
        CHECK_EQ(cio_stream_readline(out, buf, sizeof buf), 5); /* no newline at EOF */
        CHECK(!memcmp(buf, "three", 5));
        CHECK_EQ(cio_stream_readline(out, buf, sizeof buf), 0);
        CHECK(cio_stream_at_eof(out));
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        CHECK_RC(cio_stream_peername(out, (struct sockaddr *)&ss, &len), -ENOTSOCK);
    }
    if (err) {
        CHECK_EQ(cio_stream_readline(err, buf, sizeof buf), 5);
        CHECK(!memcmp(buf, "oops\n", 5));
    }
    int code = -1;
    CHECK_RC(cio_subprocess_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    cio_subprocess_free(p);
    return 0;
}

static void subprocess_stream_readline(void) { CHECK_RC(cio_run(readline_main, NULL, NULL), 0); }

struct feeder {
    cio_stream *in;
    size_t total;
    int rc;
};

/* Writes total bytes of lines, drained as a writer must, then EOF. */
static int feeder_task(void *arg, void **result)
{
    (void)result;
    struct feeder *f = arg;
    char line[100];
    memset(line, 'c', sizeof line);
    line[99] = '\n';
    for (size_t sent = 0; sent < f->total; sent += sizeof line) {
        int rc = cio_stream_write(f->in, line, sizeof line);
        if (rc == 0)
            rc = cio_stream_drain(f->in);
        if (rc < 0) {
            f->rc = rc;
            return 0;
        }
        CHECK(cio_stream_write_buffer_size(f->in) <= 64 * 1024 + sizeof line);
    }
    f->rc = cio_stream_write_eof(f->in);
    return 0;
}

static int cat_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_subprocess_options po = {.stdin_mode = CIO_SUBPROCESS_PIPE,
                              .stdout_mode = CIO_SUBPROCESS_PIPE};
    char *argv[] = {"cat", NULL};
    cio_subprocess *p = NULL;
    CHECK_RC(cio_create_subprocess_exec("cat", argv, &po, &p), 0);
    cio_stream *in = NULL, *out = NULL;
    CHECK_RC(cio_subprocess_stdin_stream(p, &in), 0);
    CHECK_RC(cio_subprocess_stdout_stream(p, &out), 0);
    if (!in || !out) {
        cio_subprocess_free(p);
        return 0;
    }
    /* Round trip of one line. */
    CHECK_RC(cio_stream_write(in, "hello cat\n", 10), 0);
    CHECK_RC(cio_stream_drain(in), 0);
    char buf[128];
    CHECK_EQ(cio_stream_readline(out, buf, sizeof buf), 10);
    CHECK(!memcmp(buf, "hello cat\n", 10));
    /* The small write call goes through the stream too. */
    CHECK_RC(cio_subprocess_write(p, "via write\n", 10), 0);
    CHECK_EQ(cio_stream_readline(out, buf, sizeof buf), 10);
    CHECK(!memcmp(buf, "via write\n", 10));
    /* 1 MB through the pipe with a concurrent writer (a pipe holds 64 KiB:
     * this only finishes if writing and reading interleave). */
    struct feeder f = {.in = in, .total = 10000 * 100};
    cio_task *t;
    CHECK_RC(cio_create_task(feeder_task, &f, "feeder", &t), 0);
    size_t got = 0;
    int n;
    while ((n = cio_stream_readline(out, buf, sizeof buf)) > 0) {
        CHECK_EQ(n, 100);
        got += (size_t)n;
    }
    CHECK_EQ(n, 0); /* write_eof closed cat's stdin: cat ended its stdout */
    CHECK_EQ(got, f.total);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    CHECK_RC(f.rc, 0);
    CHECK_RC(cio_stream_write(in, "x", 1), CIO_ECLOSED);
    int code = -1;
    CHECK_RC(cio_subprocess_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    cio_subprocess_free(p);
    return 0;
}

static void subprocess_stream_cat(void) { CHECK_RC(cio_run(cat_main, NULL, NULL), 0); }

static int communicate_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_subprocess_options po = {.stdin_mode = CIO_SUBPROCESS_PIPE,
                              .stdout_mode = CIO_SUBPROCESS_PIPE};
    cio_subprocess *p = NULL;
    CHECK_RC(cio_create_subprocess_shell("read a; echo \"got $a\"; cat", &po, &p), 0);
    cio_stream *out = NULL;
    CHECK_RC(cio_subprocess_stdout_stream(p, &out), 0);
    char *o = NULL;
    size_t olen = 0;
    CHECK_RC(cio_subprocess_communicate(p, "first\nrest\n", 11, &o, &olen, NULL, NULL), 0);
    CHECK_EQ(olen, 15);
    CHECK(o && !strcmp(o, "got first\nrest\n"));
    cio_free(o);
    /* close_stdin on a stream-backed pipe after communicate closed it */
    CHECK_RC(cio_subprocess_close_stdin(p), -EBADF);
    cio_subprocess_free(p);
    return 0;
}

static void subprocess_stream_communicate(void)
{
    CHECK_RC(cio_run(communicate_main, NULL, NULL), 0);
}

/* A plain pipe through cio_stream_from_fd, and a child that stops
 * reading: EPIPE, never SIGPIPE. */
static int pipe_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    cio_stream *r = NULL, *w = NULL;
    CHECK_RC(cio_stream_from_fd(pfd[0], NULL, &r), 0);
    CHECK_RC(cio_stream_from_fd(pfd[1], NULL, &w), 0);
    CHECK_RC(cio_stream_write(w, "a\nb\n", 4), 0);
    CHECK_RC(cio_stream_close(w), 0);
    CHECK_RC(cio_stream_wait_closed(w), 0);
    char buf[8];
    CHECK_EQ(cio_stream_readline(r, buf, sizeof buf), 2);
    CHECK_EQ(cio_stream_readline(r, buf, sizeof buf), 2);
    CHECK_EQ(cio_stream_readline(r, buf, sizeof buf), 0);
    cio_stream_unref(w);
    cio_stream_unref(r);

    cio_subprocess_options po = {.stdin_mode = CIO_SUBPROCESS_PIPE};
    cio_subprocess *p = NULL;
    CHECK_RC(cio_create_subprocess_shell("exit 3", &po, &p), 0);
    int code = -1;
    CHECK_RC(cio_subprocess_wait(p, &code), 0);
    CHECK_EQ(code, 3);
    cio_stream *in = NULL;
    CHECK_RC(cio_subprocess_stdin_stream(p, &in), 0);
    static char big[200000];
    int rc = cio_stream_write(in, big, sizeof big);
    if (rc == 0)
        rc = cio_stream_drain(in);
    CHECK_RC(rc, -EPIPE);
    cio_subprocess_free(p);
    return 0;
}

static void subprocess_stream_plain_pipes(void) { CHECK_RC(cio_run(pipe_main, NULL, NULL), 0); }

/* A pipe's end is one direction: a read end is not written, a write end
 * not read (-EBADF, as read(2)/write(2) say, and the stream stays
 * usable); a pipe whose other side left long ago still answers the
 * small calls through its stream: the buffered bytes and the end, or
 * EPIPE for a reader gone while nothing was written. */
static int direction_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    cio_stream *r = NULL, *w = NULL;
    CHECK_RC(cio_stream_from_fd(pfd[0], NULL, &r), 0);
    CHECK_RC(cio_stream_from_fd(pfd[1], NULL, &w), 0);
    char buf[8];
    CHECK_RC(cio_stream_write(r, "x", 1), -EBADF);
    CHECK_RC(cio_stream_read(w, buf, sizeof buf), -EBADF);
    CHECK_RC(cio_stream_write(w, "ok\n", 3), 0);
    CHECK_EQ(cio_stream_readline(r, buf, sizeof buf), 3);
    cio_stream_unref(w);
    cio_stream_unref(r);

    cio_subprocess_options po = {.stdin_mode = CIO_SUBPROCESS_PIPE,
                              .stdout_mode = CIO_SUBPROCESS_PIPE};
    cio_subprocess *p = NULL;
    CHECK_RC(cio_create_subprocess_shell("exec 0<&-; printf 'abc'", &po, &p), 0);
    cio_stream *in = NULL, *out = NULL;
    CHECK_RC(cio_subprocess_stdin_stream(p, &in), 0);
    CHECK_RC(cio_subprocess_stdout_stream(p, &out), 0);
    int code = -1;
    CHECK_RC(cio_subprocess_wait(p, &code), 0);
    CHECK_RC(cio_sleep(0.05), 0); /* the ends reach the streams */
    CHECK_EQ(cio_subprocess_read(p, 1, buf, sizeof buf), 3);
    CHECK_EQ(cio_subprocess_read(p, 1, buf, sizeof buf), 0);
    CHECK_RC(cio_subprocess_write(p, "x", 1), -EPIPE);
    CHECK_RC(cio_stream_write(in, "x", 1), -EPIPE);
    cio_subprocess_free(p);
    return 0;
}

static void subprocess_stream_directions(void) { CHECK_RC(cio_run(direction_main, NULL, NULL), 0); }

static int args_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_stream *s = (cio_stream *)1;
    CHECK_RC(cio_subprocess_stdout_stream(NULL, &s), -EINVAL);
    CHECK(s == NULL);
    CHECK_RC(cio_subprocess_stdin_stream(NULL, NULL), -EINVAL);
    return 0;
}

static void subprocess_stream_bad_arguments(void) { CHECK_RC(cio_run(args_main, NULL, NULL), 0); }

int main(void)
{
    RUN(subprocess_stream_readline);
    RUN(subprocess_stream_cat);
    RUN(subprocess_stream_communicate);
    RUN(subprocess_stream_plain_pipes);
    RUN(subprocess_stream_directions);
    RUN(subprocess_stream_bad_arguments);
    return test_finish();
}
