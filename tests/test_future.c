/*
 * test_future.c - futures (include/cio/task.h): creation, completion by
 * result, error and cancellation, their CIO_EINVALSTATE and -EINVAL paths,
 * done callbacks (scheduled through call_soon, in order, removable), await
 * from tasks, and the report of failures nobody retrieved.
 */
#include "helpers.h"

static void test_create(void)
{
    cio_future *f = (cio_future *)1;
    CHECK_RC(cio_future_new(NULL, &f), CIO_ENOLOOP); /* no running loop */
    CHECK(f == NULL);
    cio_loop *loop = test_loop_new_virtual();
    CHECK_RC(cio_future_new(loop, NULL), -EINVAL);
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_EQ(cio_future_done(f), 0);
    CHECK_EQ(cio_future_cancelled(f), 0);
    CHECK(cio_future_error_message(f) == NULL);
    void *r = (void *)1;
    CHECK_RC(cio_future_result(f, &r), CIO_EINVALSTATE);
    cio_future_ref(f);
    cio_future_unref(f);
    cio_future_unref(f);
    cio_future_ref(NULL);
    cio_future_unref(NULL);
    /* NULL everywhere: a clean error, never a crash. */
    CHECK_EQ(cio_future_done(NULL), 0);
    CHECK_EQ(cio_future_cancelled(NULL), 0);
    CHECK(cio_future_error_message(NULL) == NULL);
    CHECK_RC(cio_future_result(NULL, NULL), -EINVAL);
    CHECK_RC(cio_future_set_result(NULL, NULL), -EINVAL);
    CHECK_RC(cio_future_set_error(NULL, -EIO, NULL), -EINVAL);
    CHECK_RC(cio_future_cancel(NULL, NULL), -EINVAL);
    CHECK_RC(cio_future_add_done_callback(NULL, NULL, NULL), -EINVAL);
    CHECK_RC(cio_future_remove_done_callback(NULL, NULL, NULL), -EINVAL);
    cio_loop_free(loop);
}

static void test_set_result(void)
{
    cio_loop *loop = test_loop_new_virtual();
    cio_future *f;
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_future_set_result(f, (void *)(intptr_t)42), 0);
    CHECK_EQ(cio_future_done(f), 1);
    CHECK_EQ(cio_future_cancelled(f), 0);
    void *r = NULL;
    CHECK_RC(cio_future_result(f, &r), 0);
    CHECK_EQ((intptr_t)r, 42);
    CHECK_RC(cio_future_result(f, NULL), 0);
    CHECK(cio_future_error_message(f) == NULL);
    /* Completed again: InvalidStateError, outcome unchanged. */
    CHECK_RC(cio_future_set_result(f, NULL), CIO_EINVALSTATE);
    CHECK_RC(cio_future_set_error(f, -EIO, "late"), CIO_EINVALSTATE);
    CHECK_EQ(cio_future_cancel(f, "late"), 0);
    CHECK_EQ(cio_future_cancelled(f), 0);
    CHECK_RC(cio_future_result(f, &r), 0);
    CHECK_EQ((intptr_t)r, 42);
    cio_future_unref(f);
    cio_loop_free(loop);
}

static void test_set_error(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct test_exc e = {0};
    cio_loop_set_exception_handler(loop, test_exc_capture, &e);
    cio_future *f;
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_future_set_error(f, 0, NULL), -EINVAL);
    CHECK_RC(cio_future_set_error(f, 5, NULL), -EINVAL);
    CHECK_RC(cio_future_set_error(f, -ECANCELED, NULL), -EINVAL);
    CHECK_EQ(cio_future_done(f), 0); /* failed calls changed nothing */
    char msg[] = "connection reset by the peer";
    CHECK_RC(cio_future_set_error(f, -ECONNRESET, msg), 0);
    msg[0] = 'X'; /* the message was copied */
    CHECK_EQ(cio_future_done(f), 1);
    CHECK_EQ(cio_future_cancelled(f), 0);
    CHECK(cio_future_error_message(f) &&
          strcmp(cio_future_error_message(f), "connection reset by the peer") == 0);
    void *r = (void *)1;
    CHECK_RC(cio_future_result(f, &r), -ECONNRESET);
    CHECK(r == NULL);
    CHECK_RC(cio_future_set_error(f, -EIO, NULL), CIO_EINVALSTATE);
    cio_future_unref(f);
    CHECK_EQ(e.calls, 0); /* retrieved: not reported */

    /* Without a message. */
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_future_set_error(f, -EIO, NULL), 0);
    CHECK(cio_future_error_message(f) == NULL);
    CHECK_RC(cio_future_result(f, NULL), -EIO);
    cio_future_unref(f);
    cio_loop_free(loop);
}

static void test_cancel(void)
{
    cio_loop *loop = test_loop_new_virtual();
    cio_future *f;
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_EQ(cio_future_cancel(f, "no longer needed"), 1);
    CHECK_EQ(cio_future_done(f), 1);
    CHECK_EQ(cio_future_cancelled(f), 1);
    CHECK(cio_future_error_message(f) &&
          strcmp(cio_future_error_message(f), "no longer needed") == 0);
    CHECK_RC(cio_future_result(f, NULL), -ECANCELED);
    CHECK_EQ(cio_future_cancel(f, NULL), 0); /* already done */
    CHECK_RC(cio_future_set_result(f, NULL), CIO_EINVALSTATE);
    cio_future_unref(f);

    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_EQ(cio_future_cancel(f, NULL), 1);
    CHECK(cio_future_error_message(f) == NULL);
    cio_future_unref(f); /* cancelled, never retrieved: not a failure */
    cio_loop_free(loop);
}

/* ---- done callbacks ------------------------------------------------------ */

struct cbrec {
    int order[16];
    int n;
    cio_future *seen[16];
};

static struct cbrec CB;

static void done_cb(cio_future *f, void *arg)
{
    CB.seen[CB.n] = f;
    CB.order[CB.n++] = (int)(intptr_t)arg;
}

static void test_done_callbacks(void)
{
    cio_loop *loop = test_loop_new_virtual();
    cio_future *f;
    memset(&CB, 0, sizeof CB);
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_future_add_done_callback(f, NULL, NULL), -EINVAL);
    for (int i = 1; i <= 6; i++)
        CHECK_RC(cio_future_add_done_callback(f, done_cb, (void *)(intptr_t)i), 0);
    CHECK_RC(cio_future_add_done_callback(f, done_cb, (void *)(intptr_t)3), 0);
    /* Removes every registration of (fn, arg), wherever it sits. */
    CHECK_RC(cio_future_remove_done_callback(f, done_cb, (void *)(intptr_t)3), 2);
    CHECK_RC(cio_future_remove_done_callback(f, done_cb, (void *)(intptr_t)1), 1);
    CHECK_RC(cio_future_remove_done_callback(f, done_cb, (void *)(intptr_t)99), 0);
    CHECK_RC(cio_future_set_result(f, NULL), 0);
    /* Scheduled with call_soon: nothing ran inside set_result. */
    CHECK_EQ(CB.n, 0);
    /* Removing after completion: already scheduled, nothing to remove. */
    CHECK_RC(cio_future_remove_done_callback(f, done_cb, (void *)(intptr_t)2), 0);
    /* Added to a done future: scheduled at once (still through the loop). */
    CHECK_RC(cio_future_add_done_callback(f, done_cb, (void *)(intptr_t)7), 0);
    CHECK_EQ(CB.n, 0);
    cio_future_unref(f); /* the scheduled callbacks keep it alive */
    test_drain(loop);
    int want[] = {2, 4, 5, 6, 7};
    CHECK_EQ(CB.n, 5);
    for (int i = 0; i < 5 && i < CB.n; i++) {
        CHECK_EQ(CB.order[i], want[i]);
        CHECK(CB.seen[i] == f);
    }
    cio_loop_free(loop);
}

/* Callbacks pending when the loop closes are dropped, and their futures
 * freed. */
static void test_done_callbacks_at_close(void)
{
    cio_loop *loop = test_loop_new_virtual();
    cio_future *f;
    memset(&CB, 0, sizeof CB);
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_future_add_done_callback(f, done_cb, NULL), 0);
    CHECK_RC(cio_future_set_result(f, NULL), 0);
    cio_future_unref(f);
    cio_loop_free(loop);
    CHECK_EQ(CB.n, 0);
}

/* ---- await --------------------------------------------------------------- */

struct awaiter {
    cio_future *f;
    int rc;
    void *result;
    int woke;
};

static int await_task(void *arg, void **result)
{
    struct awaiter *a = arg;
    a->rc = cio_await(a->f, &a->result);
    a->woke = 1;
    return 0;
}

static void set_result_later(void *arg) { cio_future_set_result(arg, (void *)(intptr_t)7); }
static void set_error_later(void *arg) { cio_future_set_error(arg, -EPIPE, "pipe"); }
static void cancel_later(void *arg) { cio_future_cancel(arg, "stop"); }

static void test_await(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct awaiter a[3];
    cio_future *f;
    CHECK_RC(cio_await(NULL, NULL), CIO_ENOTASK); /* outside a task */

    /* Three tasks await one future; all wake with its result. */
    CHECK_RC(cio_future_new(loop, &f), 0);
    for (int i = 0; i < 3; i++) {
        a[i] = (struct awaiter){.f = f, .rc = 1};
        CHECK_RC(cio_loop_create_task(loop, await_task, &a[i], NULL, NULL), 0);
    }
    CHECK_RC(cio_call_later(loop, 1, set_result_later, f, NULL), 0);
    test_drain(loop);
    for (int i = 0; i < 3; i++) {
        CHECK_RC(a[i].rc, 0);
        CHECK_EQ((intptr_t)a[i].result, 7);
    }
    /* A done future: returns at once. */
    a[0] = (struct awaiter){.f = f, .rc = 1};
    CHECK_RC(cio_loop_create_task(loop, await_task, &a[0], NULL, NULL), 0);
    test_drain(loop);
    CHECK_RC(a[0].rc, 0);
    CHECK_EQ((intptr_t)a[0].result, 7);
    cio_future_unref(f);

    /* Failure and cancellation come back as codes, with no result. */
    static const struct {
        cio_callback_fn *end; /* how the future ends, a second later */
        int rc;               /* what the awaiter gets */
    } ends[] = {{set_error_later, -EPIPE}, {cancel_later, -ECANCELED}};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        CHECK_RC(cio_future_new(loop, &f), 0);
        a[0] = (struct awaiter){.f = f, .rc = 1};
        CHECK_RC(cio_loop_create_task(loop, await_task, &a[0], NULL, NULL), 0);
        CHECK_RC(cio_call_later(loop, 1, ends[i].end, f, NULL), 0);
        test_drain(loop);
        CHECK_RC(a[0].rc, ends[i].rc);
        CHECK(a[0].result == NULL);
        cio_future_unref(f);
    }

    /* A future of another loop, and NULL. */
    cio_loop *other = test_loop_new_virtual();
    CHECK_RC(cio_future_new(other, &f), 0);
    a[0] = (struct awaiter){.f = f, .rc = 1};
    CHECK_RC(cio_loop_create_task(loop, await_task, &a[0], NULL, NULL), 0);
    a[1] = (struct awaiter){.f = NULL, .rc = 1};
    CHECK_RC(cio_loop_create_task(loop, await_task, &a[1], NULL, NULL), 0);
    test_drain(loop);
    CHECK_RC(a[0].rc, -EINVAL);
    CHECK_RC(a[1].rc, -EINVAL);
    cio_future_unref(f);
    cio_loop_free(other);
    cio_loop_free(loop);
}

/* The awaiting task is cancelled: the awaited future is cancelled too. */
static void test_await_cancelled(void)
{
    cio_loop *loop = test_loop_new_virtual();
    cio_future *f;
    cio_task *t;
    CHECK_RC(cio_future_new(loop, &f), 0);
    struct awaiter a = {.f = f, .rc = 1};
    CHECK_RC(cio_loop_create_task(loop, await_task, &a, NULL, &t), 0);
    cio_future *tick;
    CHECK_RC(cio_future_new(loop, &tick), 0);
    CHECK_RC(cio_call_later(loop, 1, set_result_later, tick, NULL), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, tick, NULL), 0);
    CHECK_EQ(a.woke, 0);
    CHECK_EQ(cio_task_cancel(t, NULL), 1);
    test_drain(loop);
    CHECK_RC(a.rc, -ECANCELED);
    CHECK_EQ(cio_future_cancelled(f), 1);
    CHECK_EQ(cio_task_done(t), 1);
    cio_task_unref(t);
    cio_future_unref(tick);
    cio_future_unref(f);
    cio_loop_free(loop);
}

/* ---- failures nobody retrieved -------------------------------------------- */

static void test_unretrieved(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct test_exc e = {0};
    CHECK_RC(cio_loop_set_exception_handler(loop, test_exc_capture, &e), 0);
    cio_future *f;

    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_future_set_error(f, -EIO, "disk gone"), 0);
    cio_future_ref(f);
    cio_future_unref(f); /* not the last reference: no report */
    CHECK_EQ(e.calls, 0);
    cio_future_unref(f);
    CHECK_EQ(e.calls, 1);
    CHECK_EQ(e.code, -EIO);
    CHECK(strcmp(e.error_message, "disk gone") == 0);
    CHECK(strstr(e.message, "never retrieved") != NULL);
    CHECK_EQ(e.had_future, 1);
    CHECK_EQ(e.had_task, 0);

    /* Retrieved (even without reading the result): no report. */
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_future_set_error(f, -EIO, NULL), 0);
    CHECK_RC(cio_future_result(f, NULL), -EIO);
    cio_future_unref(f);
    CHECK_EQ(e.calls, 1);

    /* Awaited by a task: retrieved. */
    CHECK_RC(cio_future_new(loop, &f), 0);
    struct awaiter a = {.f = f, .rc = 1};
    CHECK_RC(cio_loop_create_task(loop, await_task, &a, NULL, NULL), 0);
    CHECK_RC(cio_call_later(loop, 1, set_error_later, f, NULL), 0);
    test_drain(loop);
    CHECK_RC(a.rc, -EPIPE);
    cio_future_unref(f);
    CHECK_EQ(e.calls, 1);

    /* Success and cancellation are never reported. */
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_future_set_result(f, NULL), 0);
    cio_future_unref(f);
    CHECK_RC(cio_future_new(loop, &f), 0);
    cio_future_cancel(f, NULL);
    cio_future_unref(f);
    CHECK_EQ(e.calls, 1);

    /* Default handler: a line through the logger. */
    CHECK_RC(cio_loop_set_exception_handler(loop, NULL, NULL), 0);
    cio_log_set_level(CIO_LOG_OFF);
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_future_set_error(f, -EIO, NULL), 0);
    cio_future_unref(f);
    cio_log_set_level(CIO_LOG_INFO);
    cio_loop_free(loop);
}

/* A task's future is completed by its task only. */
static int quick(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static void test_task_future(void)
{
    cio_loop *loop = test_loop_new_virtual();
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, quick, (void *)(intptr_t)3, NULL, &t), 0);
    cio_future *f = cio_task_future(t);
    CHECK(f != NULL);
    CHECK(cio_task_future(NULL) == NULL);
    CHECK_RC(cio_future_set_result(f, NULL), -EINVAL);
    CHECK_RC(cio_future_set_error(f, -EIO, NULL), -EINVAL);
    memset(&CB, 0, sizeof CB);
    CHECK_RC(cio_future_add_done_callback(f, done_cb, (void *)(intptr_t)1), 0);
    void *r = NULL;
    CHECK_RC(cio_loop_run_until_complete(loop, f, &r), 0);
    CHECK_EQ((intptr_t)r, 3);
    test_drain(loop);
    CHECK_EQ(CB.n, 1);
    CHECK(CB.seen[0] == f);
    /* cio_future_cancel on a task's future is cio_task_cancel. */
    CHECK_EQ(cio_future_cancel(f, NULL), 0);
    cio_task_unref(t);
    cio_loop_free(loop);
}

int main(void)
{
    RUN(test_create);
    RUN(test_set_result);
    RUN(test_set_error);
    RUN(test_cancel);
    RUN(test_done_callbacks);
    RUN(test_done_callbacks_at_close);
    RUN(test_await);
    RUN(test_await_cancelled);
    RUN(test_unretrieved);
    RUN(test_task_future);
    return test_finish();
}
