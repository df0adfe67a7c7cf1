/*
 * test_file.c - files through the thread pool: whole-file write/read round
 * trips (1 MiB), append, errors of open/read, chunked streaming, and
 * cancellation of reads blocked in their thread (a FIFO with no writer
 * keeps open()/read() blocked until the test writes): the caller returns
 * at once and the late data is freed (ASan checks the leak), a file
 * closed while its read is abandoned closes when the read returns.
 * CIO_TEST_THREADS (the pool's threads).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

static char dir[64];

static void path_in(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* ---- whole files -------------------------------------------------------- */

static int whole_main(void *arg, void **result)
{
    char p[128];
    path_in(p, sizeof p, "whole.bin");
    size_t len = (1 << 20) + 3;
    char *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 7 + 1);
    CHECK_RC(cio_file_write_all(p, data, len, CIO_FILE_SYNC), 0);
    char *back = NULL;
    size_t blen = 0;
    CHECK_RC(cio_file_read_all(p, &back, &blen), 0);
    CHECK_EQ(blen, len);
    CHECK(back && memcmp(back, data, len) == 0 && back[len] == 0);
    cio_free(back);

    CHECK_RC(cio_file_write_all(p, "abc", 3, 0), 0);
    CHECK_RC(cio_file_write_all(p, "def", 3, CIO_FILE_APPEND), 0);
    CHECK_RC(cio_file_read_all(p, &back, NULL), 0);
    CHECK(back && strcmp(back, "abcdef") == 0);
    cio_free(back);

    CHECK_RC(cio_file_write_all(p, "", 0, 0), 0); /* empty file */
    CHECK_RC(cio_file_read_all(p, &back, &blen), 0);
    CHECK(back && blen == 0 && back[0] == 0);
    cio_free(back);

    path_in(p, sizeof p, "missing");
    CHECK_RC(cio_file_read_all(p, &back, &blen), -ENOENT);
    CHECK(back == NULL);
    CHECK_RC(cio_file_read_all(dir, &back, &blen), -EISDIR);
    CHECK_RC(cio_file_write_all("/nonexistent-dir/x", "a", 1, 0), -ENOENT);
    CHECK_RC(cio_file_write_all(p, "a", 1, 1 << 9), -EINVAL);
    CHECK_RC(cio_file_read_all(NULL, &back, NULL), -EINVAL);
    free(data);
    return 0;
}

static void test_whole(void)
{
    CHECK_RC(cio_run(whole_main, NULL, NULL), 0);
    char *d;
    CHECK_RC(cio_file_read_all("/etc/hostname", &d, NULL), CIO_ENOTASK);
}

/* ---- chunked streaming --------------------------------------------------- */

static int chunks_main(void *arg, void **result)
{
    char p[128];
    path_in(p, sizeof p, "chunks.txt");
    cio_file *f;
    CHECK_RC(cio_file_open(p, "w", &f), 0);
    char line[64];
    size_t total = 0;
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(line, sizeof line, "line %d\n", i);
        CHECK_RC(cio_file_write(f, line, (size_t)n), 0);
        total += (size_t)n;
    }
    CHECK_RC(cio_file_close(f), 0);
    CHECK_RC(cio_file_open(p, "a", &f), 0);
    CHECK_RC(cio_file_write(f, "end\n", 4), 0);
    total += 4;
    CHECK_RC(cio_file_close(f), 0);

    /* Stream it back in 1000-byte chunks and compare with the whole. */
    char *whole;
    size_t wlen;
    CHECK_RC(cio_file_read_all(p, &whole, &wlen), 0);
    CHECK_EQ(wlen, total);
    CHECK_RC(cio_file_open(p, "r", &f), 0);
    char *acc = malloc(total + 1);
    size_t got = 0;
    int n, chunks = 0;
    char buf[1000];
    while ((n = cio_file_read(f, buf, sizeof buf)) > 0) {
        CHECK(got + (size_t)n <= total);
        if (got + (size_t)n > total)
            break;
        memcpy(acc + got, buf, (size_t)n);
        got += (size_t)n;
        chunks++;
    }
    CHECK_EQ(n, 0);
    CHECK_EQ(got, total);
    CHECK(chunks >= (int)(total / 1000));
    CHECK(memcmp(acc, whole, total) == 0);
    CHECK_RC(cio_file_write(f, "x", 1), -EBADF); /* opened read-only */
    CHECK_RC(cio_file_close(f), 0);
    free(acc);
    cio_free(whole);

    CHECK_RC(cio_file_open(p, "rw", &f), 0); /* 'r' then not '+': read-only */
    cio_file_close(f);
    CHECK_RC(cio_file_open(p, "x", &f), -EINVAL);
    path_in(p, sizeof p, "none");
    CHECK_RC(cio_file_open(p, "r", &f), -ENOENT);
    CHECK(f == NULL);
    return 0;
}

static void test_chunks(void) { CHECK_RC(cio_run(chunks_main, NULL, NULL), 0); }

/* ---- cancellation -------------------------------------------------------- */

static int read_all_child(void *arg, void **result)
{
    char *d;
    int rc = cio_file_read_all(arg, &d, NULL);
    if (rc == 0)
        cio_free(d);
    return rc;
}

struct reader {
    cio_file *f;
    char buf[16];
};

static int read_child(void *arg, void **result)
{
    struct reader *r = arg;
    return cio_file_read(r->f, r->buf, sizeof r->buf);
}

static int cancel_main(void *arg, void **result)
{
    char fifo[128];
    path_in(fifo, sizeof fifo, "fifo");
    CHECK_EQ(mkfifo(fifo, 0600), 0);

    /* read_all blocked in open() (no writer yet): cancel returns at once. */
    cio_task *t;
    CHECK_RC(cio_create_task(read_all_child, fifo, "read_all", &t), 0);
    CHECK_RC(cio_sleep(0.02), 0);
    cio_task_cancel(t, NULL);
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    cio_task_unref(t);
    /* Unblock the thread: it reads "late" into a buffer nobody takes. */
    int w = open(fifo, O_WRONLY);
    CHECK(w >= 0);
    CHECK_EQ(write(w, "late", 4), 4);
    close(w);
    CHECK_RC(cio_sleep(0.02), 0); /* the discard frees the buffer */

    /* A chunked read blocked in read(): cancel, then -EBUSY until the
     * thread returns, then usable again. */
    int wfd = open(fifo, O_RDWR); /* Linux: does not block */
    CHECK(wfd >= 0);
    static struct reader r;
    CHECK_RC(cio_file_open(fifo, "r", &r.f), 0);
    CHECK_RC(cio_create_task(read_child, &r, "read", &t), 0);
    CHECK_RC(cio_sleep(0.02), 0);
    cio_task_cancel(t, NULL);
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    cio_task_unref(t);
    char buf[8];
    CHECK_RC(cio_file_read(r.f, buf, sizeof buf), -EBUSY);
    CHECK_EQ(write(wfd, "dropped", 7), 7); /* eaten by the abandoned read */
    /* Once the abandoned read returned, the file serves reads again. */
    int n = -EBUSY;
    for (int i = 0; i < 500 && n == -EBUSY; i++) {
        CHECK_RC(cio_sleep(0.005), 0);
        n = cio_file_read(r.f, buf, 0); /* 0 bytes: only probes busy */
    }
    CHECK_EQ(n, 0);
    CHECK_EQ(write(wfd, "kept", 4), 4);
    CHECK_EQ(cio_file_read(r.f, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "kept", 4) == 0);
    /* Closed while an abandoned read runs: closes when it returns. */
    CHECK_RC(cio_create_task(read_child, &r, "read2", &t), 0);
    CHECK_RC(cio_sleep(0.02), 0);
    cio_task_cancel(t, NULL);
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    cio_task_unref(t);
    CHECK_RC(cio_file_close(r.f), 0);
    CHECK_EQ(write(wfd, "bye", 3), 3);
    CHECK_RC(cio_sleep(0.02), 0);
    close(wfd);
    unlink(fifo);
    return 0;
}

static void test_cancel(void) { CHECK_RC(cio_run(cancel_main, NULL, NULL), 0); }

/* A write cancelled before it starts writes nothing. */
static int write_cancelled_main(void *arg, void **result)
{
    char p[128];
    path_in(p, sizeof p, "never");
    cio_task_cancel(cio_current_task(), NULL);
    CHECK_RC(cio_file_write_all(p, "x", 1, 0), -ECANCELED);
    CHECK(access(p, F_OK) != 0);
    return 0;
}

static void test_write_cancelled(void)
{
    int rc = cio_run(write_cancelled_main, NULL, NULL);
    CHECK(rc == 0 || rc == -ECANCELED);
}

/* ---- allocation failures: the Nth allocation fails, for every N ---------- */

/* Runs main under the counting allocator for N = 1, 2, ... until a run
 * makes fewer allocations than N (nothing failed); every run must end in
 * success or -ENOMEM, with no leak and no crash. */
static int alloc_run(long n, void *main_fn) { return cio_run((cio_coro_fn *)main_fn, NULL, NULL); }

static void alloc_sweep(cio_coro_fn *main_fn)
{
    test_alloc_sweep(alloc_run, (void *)main_fn, 400, TEST_ALLOC_ENOMEM);
}

static int alloc_main(void *arg, void **result)
{
    char p[128];
    path_in(p, sizeof p, "alloc.txt");
    int rc = cio_file_write_all(p, "hello", 5, 0);
    char *d = NULL;
    if (rc == 0)
        rc = cio_file_read_all(p, &d, NULL);
    if (rc == 0)
        CHECK(strcmp(d, "hello") == 0);
    cio_free(d);
    cio_file *f = NULL;
    if (rc == 0)
        rc = cio_file_open(p, "r", &f);
    char buf[8];
    if (rc == 0) {
        int n = cio_file_read(f, buf, sizeof buf);
        rc = n < 0 ? n : 0;
        if (n >= 0)
            CHECK_EQ(n, 5);
    }
    cio_file_close(f);
    return rc;
}

static void test_alloc_failures(void) { alloc_sweep(alloc_main); }

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/cio-test-file-XXXXXX");
    if (!mkdtemp(dir))
        TEST_SKIP("cannot make a temporary directory");
    RUN(test_whole);
    RUN(test_chunks);
    RUN(test_cancel);
    RUN(test_write_cancelled);
    RUN(test_alloc_failures);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return test_finish();
}
