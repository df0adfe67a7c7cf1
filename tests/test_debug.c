/*
 * test_debug.c - debug mode (cio_loop_set_debug): slow steps reported
 * with the task's name, calls from a thread that does not own the loop
 * rejected with CIO_EWRONGTHREAD (this test starts threads:
 * CIO_TEST_THREADS), failures never retrieved and tasks destroyed pending
 * reported with where the task was created, bad arguments named.
 *
 * The log is captured with cio_log_set_sink.
 */
#include <pthread.h>
#include <unistd.h>

#include "helpers.h"

/* ---- log capture ------------------------------------------------------------ */

/* Captured with helpers.h's test_log sink. */
#define LOG (*test_log())

static cio_loop *debug_loop(void)
{
    cio_loop *loop = NULL;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_debug(loop, 1), 0);
    return loop;
}

static void busy_wait(double seconds)
{
    double end = test_now() + seconds;
    while (test_now() < end) {
    }
}

/* ---- slow steps ------------------------------------------------------------- */

static int slow_task(void *arg, void **result)
{
    CHECK_RC(cio_sleep(0), 0);
    busy_wait(0.06); /* holds the loop for 60 ms between two suspensions */
    CHECK_RC(cio_sleep(0), 0);
    return 0;
}

static int quick_task(void *arg, void **result)
{
    for (int i = 0; i < 5; i++)
        CHECK_RC(cio_sleep(0), 0);
    return 0;
}

static void slow_callback(void *arg) { busy_wait(0.06); }

static void test_slow_step(void)
{
    test_log_reset();
    cio_loop *loop = debug_loop();
    CHECK_RC(cio_loop_set_slow_callback_duration(loop, 0.02), 0);
    CHECK_RC(cio_loop_create_task(loop, slow_task, NULL, "sluggard", NULL), 0);
    CHECK_RC(cio_loop_create_task(loop, quick_task, NULL, "sprinter", NULL), 0);
    test_drain(loop);
    int i = test_log_find("slow step", "sluggard");
    CHECK(i >= 0);
    if (i >= 0)
        CHECK_EQ(LOG.levels[i], CIO_LOG_WARNING);
    CHECK(test_log_find("slow step", "test_debug.c:") >= 0); /* where it was created */
    CHECK(test_log_find("sprinter", NULL) < 0);
    /* A slow plain callback is reported too. */
    test_log_reset();
    CHECK_RC(cio_call_soon(loop, slow_callback, NULL, NULL), 0);
    test_drain(loop);
    CHECK(test_log_find("slow step", "callback") >= 0);
    /* Debug off: no timing, no report. */
    test_log_reset();
    CHECK_RC(cio_loop_set_debug(loop, 0), 0);
    CHECK_RC(cio_loop_create_task(loop, slow_task, NULL, "sluggard", NULL), 0);
    test_drain(loop);
    CHECK(test_log_find("slow step", NULL) < 0);
    if (test_failures)
        test_log_dump();
    cio_loop_free(loop);
}

/* ---- wrong thread ------------------------------------------------------------- */

static void noop(void *arg) { (void)arg; }
static int noop_task(void *arg, void **result) { return 0; }

struct foreign {
    cio_loop *loop;
    cio_future *fut;
    cio_task *task;
    cio_handle *handle;
    int rc[15];
};

static void *foreign_thread(void *arg)
{
    struct foreign *f = arg;
    cio_future *g = NULL;
    f->rc[0] = cio_call_soon(f->loop, noop, NULL, NULL);
    f->rc[1] = cio_call_later(f->loop, 1, noop, NULL, NULL);
    f->rc[2] = cio_loop_stop(f->loop);
    f->rc[3] = cio_future_new(f->loop, &g);
    f->rc[4] = cio_loop_create_task(f->loop, noop_task, NULL, NULL, NULL);
    f->rc[5] = cio_future_set_result(f->fut, NULL);
    f->rc[6] = cio_task_cancel(f->task, NULL);
    f->rc[7] = cio_loop_run_forever(f->loop);
    f->rc[8] = cio_loop_close(f->loop);
    f->rc[9] = cio_loop_add_reader(f->loop, 0, noop, NULL);
    f->rc[10] = cio_future_add_done_callback(f->fut, (cio_done_fn *)(void *)noop, NULL);
    f->rc[11] = cio_future_cancel(f->fut, NULL);
    f->rc[12] = cio_future_remove_done_callback(f->fut, (cio_done_fn *)(void *)noop, NULL);
    f->rc[13] = cio_handle_cancel(f->handle);
    /* The one call other threads may make. */
    f->rc[14] = cio_call_soon_threadsafe(f->loop, noop, NULL);
    return NULL;
}

static void test_wrong_thread(void)
{
    test_log_reset();
    cio_loop *loop = debug_loop();
    struct foreign f = {.loop = loop};
    CHECK_RC(cio_future_new(loop, &f.fut), 0);
    CHECK_RC(cio_loop_create_task(loop, noop_task, NULL, NULL, &f.task), 0);
    test_drain(loop); /* the loop now belongs to this thread */
    cio_task_unref(f.task);
    CHECK_RC(cio_loop_create_task(loop, noop_task, NULL, NULL, &f.task), 0);
    CHECK_RC(cio_call_later(loop, 0.01, noop, NULL, &f.handle), 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, foreign_thread, &f), 0);
    pthread_join(th, NULL);
    for (int i = 0; i <= 13; i++)
        CHECK_RC(f.rc[i], CIO_EWRONGTHREAD);
    CHECK_RC(f.rc[14], 0);
    CHECK_EQ(cio_handle_cancelled(f.handle), 0);
    cio_handle_unref(f.handle);
    /* Nothing the foreign calls asked for happened. */
    CHECK_EQ(cio_future_done(f.fut), 0);
    CHECK_EQ(cio_task_cancelling(f.task), 0);
    CHECK_EQ(cio_loop_is_closed(loop), 0);
    CHECK(test_log_find("does not own the loop", NULL) >= 0);
    test_drain(loop);
    CHECK_RC(cio_task_result(f.task, NULL), 0);
    cio_task_unref(f.task);
    cio_future_unref(f.fut);
    cio_loop_free(loop);
}

/* ---- reports -------------------------------------------------------------- */

static int failing(void *arg, void **result)
{
    cio_set_error_message("it broke");
    return -EBADMSG;
}

/* Awaits a future nobody completes. */
static int forever(void *arg, void **result)
{
    return cio_await(arg, NULL);
}

static void test_reports(void)
{
    test_log_reset();
    cio_loop *loop = debug_loop();
    /* Default exception handler: the unretrieved failure's line names the
     * task, the code, its message and where it was created. */
    int line = __LINE__ + 1;
    CHECK_RC(cio_loop_create_task(loop, failing, NULL, "breaker", NULL), 0);
    test_drain(loop);
    char where[256];
    snprintf(where, sizeof where, "%s:%d", CIO_SOURCE_FILE, line);
    int i = test_log_find("never retrieved", where);
    CHECK(i >= 0);
    if (i >= 0) {
        CHECK(strstr(LOG.lines[i], "breaker") != NULL);
        CHECK(strstr(LOG.lines[i], "it broke") != NULL);
        CHECK(strstr(LOG.lines[i], cio_strerror(-EBADMSG)) != NULL);
        CHECK_EQ(LOG.levels[i], CIO_LOG_ERROR);
    }

    /* A task destroyed while pending (loop closed under it). */
    test_log_reset();
    cio_future *never;
    CHECK_RC(cio_future_new(loop, &never), 0);
    line = __LINE__ + 1;
    CHECK_RC(cio_loop_create_task(loop, forever, never, "stuck", NULL), 0);
    test_drain(loop);
    CHECK_RC(cio_loop_close(loop), 0);
    cio_future_unref(never);
    snprintf(where, sizeof where, "%s:%d", CIO_SOURCE_FILE, line);
    CHECK(test_log_find("destroyed but it is pending", where) >= 0);
    CHECK(test_log_find("destroyed but it is pending", "stuck") >= 0);
    if (test_failures)
        test_log_dump();
    cio_loop_free(loop);
}

/* Bad arguments are named in debug mode, silent otherwise. */
static void test_bad_args(void)
{
    cio_loop *loop = debug_loop();
    test_log_reset();
    CHECK_RC(cio_call_soon(loop, NULL, NULL, NULL), -EINVAL);
    CHECK(test_log_find("cio_call_soon", "callback is NULL") >= 0);
    CHECK_RC(cio_loop_set_stack_size(loop, 1), -EINVAL);
    CHECK(test_log_find("cio_loop_set_stack_size", NULL) >= 0);
    CHECK_RC(cio_loop_set_debug(loop, 0), 0);
    test_log_reset();
    CHECK_RC(cio_call_soon(loop, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(LOG.n, 0);
    cio_loop_free(loop);
}

int main(void)
{
    cio_log_set_sink(test_log_sink, NULL);
    cio_log_set_level(CIO_LOG_DEBUG);
    RUN(test_slow_step);
    RUN(test_wrong_thread);
    RUN(test_reports);
    RUN(test_bad_args);
    cio_log_set_sink(NULL, NULL);
    return test_finish();
}
