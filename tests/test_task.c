/*
 * test_task.c - tasks (include/cio/task.h): creation and naming, results
 * and failures, cio_all_tasks/cio_current_task, the errors of suspension
 * points outside tasks, cio_run, custom stack sizes, fire-and-forget
 * tasks whose failure is reported, and closing a loop with tasks
 * pending.  Cancellation is in test_task_cancel.c.
 */
#include <math.h>
#include <unistd.h>

#include "task_util.h"

/* ---- bodies --------------------------------------------------------------- */

static int fail_with_message(void *arg, void **result)
{
    CHECK_RC(cio_set_error_message("bad thing %d", 42), 0);
    return -EPROTO;
}

static int message_then_succeed(void *arg, void **result)
{
    CHECK_RC(cio_set_error_message("ignored"), 0);
    CHECK_RC(cio_set_error_message(NULL), 0); /* clears */
    CHECK_RC(cio_set_error_message("ignored too"), 0);
    return 0;
}

/* ---- creation ------------------------------------------------------------- */

static void test_create(void)
{
    cio_task *t = (cio_task *)1;
    CHECK_RC(cio_create_task(return_arg, NULL, NULL, &t), CIO_ENOLOOP);
    CHECK(t == NULL);
    cio_loop *loop = test_loop_new_virtual();
    CHECK_RC(cio_loop_create_task(loop, NULL, NULL, NULL, &t), -EINVAL);
    CHECK_RC(cio_task_new(loop, return_arg, NULL, &(cio_task_options){.stack_size = 1024}, &t), -EINVAL);
    CHECK_RC(cio_task_new(loop, return_arg, NULL, &(cio_task_options){.stack_size = ((size_t)1 << 30) + 1}, &t),
             -EINVAL);

    char name[] = "worker";
    cio_task *a, *b, *c;
    int line = __LINE__ + 1;
    CHECK_RC(cio_loop_create_task(loop, return_arg, (void *)(intptr_t)1, name, &a), 0);
    name[0] = 'X'; /* copied */
    CHECK(strcmp(cio_task_get_name(a), "worker") == 0);
    CHECK_RC(cio_loop_create_task(loop, return_arg, (void *)(intptr_t)2, NULL, &b), 0);
    CHECK_RC(cio_task_new(loop, return_arg, (void *)(intptr_t)3, NULL, &c), 0);
    CHECK(cio_task_id(a) >= 1);
    CHECK_EQ(cio_task_id(b), cio_task_id(a) + 1);
    CHECK_EQ(cio_task_id(c), cio_task_id(b) + 1);
    char want[32];
    snprintf(want, sizeof want, "Task-%llu", (unsigned long long)cio_task_id(b));
    CHECK(strcmp(cio_task_get_name(b), want) == 0);
    char src[512];
    snprintf(src, sizeof src, "%s:%d", CIO_SOURCE_FILE, line);
    CHECK(cio_task_source(a) && strcmp(cio_task_source(a), src) == 0);
    CHECK(cio_task_source(c) == NULL);

    CHECK_RC(cio_task_set_name(b, "renamed"), 0);
    CHECK(strcmp(cio_task_get_name(b), "renamed") == 0);
    CHECK_RC(cio_task_set_name(b, NULL), -EINVAL);
    CHECK_RC(cio_task_set_name(NULL, "x"), -EINVAL);
    CHECK(cio_task_get_name(NULL) == NULL);
    CHECK_EQ(cio_task_id(NULL), 0);
    CHECK(cio_task_source(NULL) == NULL);

    /* Not done before the loop runs; all three are pending tasks. */
    CHECK_EQ(cio_task_done(a), 0);
    CHECK_RC(cio_task_result(a, NULL), CIO_EINVALSTATE);
    CHECK_EQ(cio_all_tasks(loop, NULL, 0), 3);
    cio_task *buf[2];
    CHECK_EQ(cio_all_tasks(loop, buf, 2), 3);
    CHECK(buf[0] != buf[1]);
    CHECK(buf[0] == a || buf[0] == b || buf[0] == c);
    CHECK_EQ(cio_all_tasks(NULL, buf, 2), 0); /* no running loop */

    void *r = NULL;
    CHECK_RC(cio_loop_run_until_complete(loop, cio_task_future(c), &r), 0);
    CHECK_EQ((intptr_t)r, 3);
    CHECK_EQ(cio_task_done(a), 1);
    CHECK_RC(cio_task_result(a, &r), 0);
    CHECK_EQ((intptr_t)r, 1);
    CHECK_RC(cio_task_result(b, &r), 0);
    CHECK_EQ((intptr_t)r, 2);
    CHECK_EQ(cio_all_tasks(loop, NULL, 0), 0);
    CHECK_RC(cio_task_result(NULL, NULL), -EINVAL);
    cio_task_ref(a);
    cio_task_unref(a);
    cio_task_unref(a);
    cio_task_unref(b);
    cio_task_unref(c);
    cio_task_ref(NULL);
    cio_task_unref(NULL);

    CHECK_RC(cio_loop_close(loop), 0);
    CHECK_RC(cio_loop_create_task(loop, return_arg, NULL, NULL, &t), CIO_ECLOSED);
    cio_loop_free(loop);
}

static void test_failure(void)
{
    cio_loop *loop = test_loop_new_virtual();
    cio_task *t, *u;
    CHECK_RC(cio_loop_create_task(loop, fail_with_message, NULL, NULL, &t), 0);
    CHECK_RC(cio_loop_create_task(loop, message_then_succeed, NULL, NULL, &u), 0);
    test_drain(loop);
    CHECK_EQ(cio_task_done(t), 1);
    CHECK_EQ(cio_task_cancelled(t), 0);
    CHECK(cio_task_error_message(t) && strcmp(cio_task_error_message(t), "bad thing 42") == 0);
    CHECK_RC(cio_task_result(t, NULL), -EPROTO);
    /* The message is only for a task that fails. */
    CHECK_RC(cio_task_result(u, NULL), 0);
    CHECK(cio_task_error_message(u) == NULL);
    CHECK(cio_task_error_message(NULL) == NULL);
    cio_task_unref(t);
    cio_task_unref(u);
    cio_loop_free(loop);
}

/* ---- current task, suspension points outside tasks ------------------------- */

struct cur {
    cio_task *seen;
    int self_await_rc;
    size_t all;
    cio_task *buf[8];
};

static int current_body(void *arg, void **result)
{
    struct cur *c = arg;
    c->seen = cio_current_task();
    c->self_await_rc = cio_await(cio_task_future(c->seen), NULL);
    c->all = cio_all_tasks(NULL, c->buf, 8);
    return 0;
}

static void test_current_and_errors(void)
{
    CHECK(cio_current_task() == NULL);
    CHECK_RC(cio_sleep(0), CIO_ENOTASK);
    CHECK_RC(cio_sleep(1), CIO_ENOTASK);
    CHECK_RC(cio_shield_begin(), CIO_ENOTASK);
    CHECK_RC(cio_shield_end(), CIO_ENOTASK);
    CHECK_RC(cio_checkpoint(), CIO_ENOTASK);
    CHECK_RC(cio_set_error_message("x"), CIO_ENOTASK);
    CHECK_RC(cio_await(NULL, NULL), CIO_ENOTASK);

    cio_loop *loop = test_loop_new_virtual();
    struct cur c = {0};
    cio_task *t, *other;
    CHECK_RC(cio_loop_create_task(loop, current_body, &c, NULL, &t), 0);
    struct sleeper s = {.seconds = 1};
    CHECK_RC(cio_loop_create_task(loop, sleeper, &s, NULL, &other), 0);
    test_drain(loop);
    CHECK(c.seen == t);
    CHECK_RC(c.self_await_rc, -EDEADLK);
    CHECK_EQ(c.all, 2);
    CHECK((c.buf[0] == t && c.buf[1] == other) || (c.buf[0] == other && c.buf[1] == t));
    CHECK(cio_current_task() == NULL);
    cio_task_unref(t);
    cio_task_unref(other);
    cio_loop_free(loop);
}

/* cio_sleep's argument: NaN is refused, negative behaves as 0. */
struct sleeps {
    int nan_rc, neg_rc, zero_rc, inf_rc;
};

static int sleeps_body(void *arg, void **result)
{
    struct sleeps *s = arg;
    s->nan_rc = cio_sleep(NAN);
    s->neg_rc = cio_sleep(-1);
    s->zero_rc = cio_sleep(0);
    return 0;
}

static void test_sleep_args(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct sleeps s = {1, 1, 1, 1};
    CHECK_RC(cio_loop_create_task(loop, sleeps_body, &s, NULL, NULL), 0);
    test_drain(loop);
    CHECK_RC(s.nan_rc, -EINVAL);
    CHECK_RC(s.neg_rc, 0);
    CHECK_RC(s.zero_rc, 0);
    CHECK(cio_loop_time(loop) == 0);
    cio_loop_free(loop);
}

/* sleep(0) yields: two tasks interleave. */
struct pingpong {
    int log[8];
    int n;
};

static int ping(void *arg, void **result)
{
    struct pingpong *p = arg;
    for (int i = 0; i < 3; i++) {
        p->log[p->n++] = 1;
        cio_sleep(0);
    }
    return 0;
}

static int pong(void *arg, void **result)
{
    struct pingpong *p = arg;
    for (int i = 0; i < 3; i++) {
        p->log[p->n++] = 2;
        cio_sleep(0);
    }
    return 0;
}

static void test_yield(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct pingpong p = {0};
    CHECK_RC(cio_loop_create_task(loop, ping, &p, NULL, NULL), 0);
    CHECK_RC(cio_loop_create_task(loop, pong, &p, NULL, NULL), 0);
    test_drain(loop);
    CHECK_EQ(p.n, 6);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(p.log[i], 1 + i % 2);
    cio_loop_free(loop);
}

/* ---- cio_run ------------------------------------------------------------- */

struct runstate {
    int leftover_cancelled;
    int leftover_cleanup_done;
    int nested_rc;
    int nested_loop_rc;
};

static int leftover(void *arg, void **result)
{
    struct runstate *r = arg;
    int rc = cio_sleep(1000);
    r->leftover_cancelled = rc == -ECANCELED;
    /* Cleanup that waits: cio_run must wait for it. */
    cio_shield_begin();
    cio_sleep(0.01);
    cio_shield_end();
    r->leftover_cleanup_done = 1;
    return rc;
}

static int run_main(void *arg, void **result)
{
    struct runstate *r = arg;
    CHECK_RC(cio_create_task(leftover, r, "leftover", NULL), 0);
    CHECK_RC(cio_sleep(0.01), 0);
    r->nested_rc = cio_run(return_arg, NULL, NULL);
    cio_loop *l2;
    CHECK_RC(cio_loop_new(&l2), 0);
    r->nested_loop_rc = cio_run_loop(l2, return_arg, NULL, NULL);
    cio_loop_free(l2);
    CHECK(strcmp(cio_task_get_name(cio_current_task()), "main") == 0);
    *result = (void *)(intptr_t)77;
    return 0;
}

static int failing_main(void *arg, void **result) { return -ENOENT; }

static void test_run(void)
{
    struct runstate r = {0};
    void *res = NULL;
    CHECK_RC(cio_run(run_main, &r, &res), 0);
    CHECK_EQ((intptr_t)res, 77);
    CHECK_EQ(r.leftover_cancelled, 1);
    CHECK_EQ(r.leftover_cleanup_done, 1);
    CHECK_RC(r.nested_rc, CIO_ERUNNING);
    CHECK_RC(r.nested_loop_rc, CIO_ERUNNING);
    CHECK(cio_get_running_loop() == NULL);

    res = (void *)1;
    CHECK_RC(cio_run(failing_main, NULL, &res), -ENOENT);
    CHECK(res == NULL);
    CHECK_RC(cio_run(NULL, NULL, NULL), -EINVAL);
    CHECK_RC(cio_run(return_arg, (void *)(intptr_t)5, NULL), 0);

    /* cio_run_loop: the caller's loop is closed, not freed. */
    cio_loop *loop = test_loop_new_virtual();
    CHECK_RC(cio_run_loop(loop, return_arg, (void *)(intptr_t)6, &res), 0);
    CHECK_EQ((intptr_t)res, 6);
    CHECK_EQ(cio_loop_is_closed(loop), 1);
    CHECK_RC(cio_run_loop(loop, return_arg, NULL, NULL), CIO_ECLOSED);
    CHECK_RC(cio_run_loop(NULL, return_arg, NULL, NULL), -EINVAL);
    cio_loop_free(loop);
}

/* ---- stacks --------------------------------------------------------------- */

/* Touches most of a large stack: needs the custom size. */
static int big_frame(void *arg, void **result)
{
    size_t n = (size_t)(intptr_t)arg;
    volatile char *buf = __builtin_alloca(n);
    for (size_t i = 0; i < n; i += 512)
        buf[i] = (char)i;
    CHECK_RC(cio_sleep(0.001), 0); /* suspended with the big frame live */
    size_t sum = 0;
    for (size_t i = 0; i < n; i += 512)
        sum += (unsigned char)buf[i];
    *result = (void *)sum;
    return 0;
}

static void test_custom_stack(void)
{
    cio_loop *loop = test_loop_new_virtual();
    cio_task *t[4];
    const size_t sizes[4] = {1 << 20, 300000, 1 << 20, 64 * 1024};
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_task_new(loop, big_frame, (void *)(intptr_t)(sizes[i] - 48 * 1024), &(cio_task_options){.stack_size = sizes[i], .file = __FILE__, .line = __LINE__}, &t[i]),
                 0);
    test_drain(loop);
    for (int i = 0; i < 4; i++) {
        CHECK_RC(cio_task_result(t[i], NULL), 0);
        cio_task_unref(t[i]);
    }
    /* Again, so that stacks of each kind are reused. */
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_task_new(loop, big_frame, (void *)(intptr_t)(sizes[i] - 48 * 1024), &(cio_task_options){.stack_size = sizes[i], .file = __FILE__, .line = __LINE__}, NULL),
                 0);
    test_drain(loop);
    cio_loop_free(loop);
}

/* ---- fire and forget ------------------------------------------------------ */

static int ff_fail(void *arg, void **result)
{
    cio_sleep(1);
    cio_set_error_message("lost in the void");
    return -EHOSTUNREACH;
}

static void test_fire_and_forget(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct test_exc e = {0};
    cio_loop_set_exception_handler(loop, test_exc_capture, &e);
    int ran = 0;
    CHECK_RC(cio_loop_create_task(loop, mark_ran, &ran, NULL, NULL), 0);
    int line = __LINE__ + 1;
    CHECK_RC(cio_loop_create_task(loop, ff_fail, NULL, "ff", NULL), 0);
    test_drain(loop);
    CHECK_EQ(ran, 1);
    CHECK_EQ(e.calls, 1);
    CHECK_EQ(e.code, -EHOSTUNREACH);
    CHECK(strstr(e.message, "never retrieved") != NULL);
    CHECK(strcmp(e.error_message, "lost in the void") == 0);
    CHECK(strcmp(e.task_name, "ff") == 0);
    char src[512];
    snprintf(src, sizeof src, "%s:%d", CIO_SOURCE_FILE, line);
    CHECK(strcmp(e.source, src) == 0);
    cio_loop_free(loop);
}

/* A held task that failed: reported when the last reference goes, unless
 * its result was read. */
static void test_unretrieved_task(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct test_exc e = {0};
    cio_loop_set_exception_handler(loop, test_exc_capture, &e);
    cio_task *a, *b;
    CHECK_RC(cio_loop_create_task(loop, fail_with_message, NULL, NULL, &a), 0);
    CHECK_RC(cio_loop_create_task(loop, fail_with_message, NULL, NULL, &b), 0);
    test_drain(loop);
    CHECK_EQ(e.calls, 0);
    CHECK_RC(cio_task_result(a, NULL), -EPROTO);
    cio_task_unref(a);
    CHECK_EQ(e.calls, 0);
    cio_task_unref(b);
    CHECK_EQ(e.calls, 1);
    CHECK(strcmp(e.error_message, "bad thing 42") == 0);
    cio_loop_free(loop);
}

/* ---- loop close with tasks pending ---------------------------------------- */

struct awaiter {
    cio_future *f;
    int rc;
};

static int await_body(void *arg, void **result)
{
    struct awaiter *a = arg;
    a->rc = cio_await(a->f, NULL);
    return a->rc;
}

static void test_close_with_pending(void)
{
    cio_loop *loop = test_loop_new_virtual();
    /* More tasks never started than the task pool keeps: closing frees
     * them while their nodes still sit in the ready queue.  They must
     * never run (mark_ran(NULL) would crash). */
    for (int i = 0; i < 5000; i++)
        CHECK_RC(cio_loop_create_task(loop, mark_ran, NULL, NULL, NULL), 0);
    cio_loop_free(loop);
}

static void test_close_with_parked(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct sleeper s[10];
    for (int i = 0; i < 10; i++) {
        s[i] = (struct sleeper){.seconds = 100};
        CHECK_RC(cio_loop_create_task(loop, sleeper, &s[i], NULL, NULL), 0);
    }
    cio_future *f;
    CHECK_RC(cio_future_new(loop, &f), 0);
    struct awaiter a = {.f = f, .rc = 1};
    cio_task *held;
    CHECK_RC(cio_loop_create_task(loop, await_body, &a, NULL, &held), 0);
    run_until(loop, 1);
    CHECK_RC(cio_loop_close(loop), 0);
    CHECK_EQ(cio_task_done(held), 1);
    CHECK_EQ(cio_task_cancelled(held), 1);
    cio_task_unref(held);
    /* The future outlives the loop; completing it must not touch the
     * destroyed task. */
    CHECK_RC(cio_future_set_result(f, NULL), 0);
    cio_future_unref(f);
    cio_loop_free(loop);
}

/* ---- the batch/poll rule ---------------------------------------------- */

/*
 * A plain callback that re-schedules itself with call_soon must see I/O
 * polled between two of its runs (asyncio's alternation), even while
 * tasks pass control around with cio_sleep(0) and could chain batches
 * without the loop.  A level-triggered reader on an always-readable pipe
 * runs once per poll, so it counts the polls.  (Once, the tasks' direct
 * switch skipped the rule: 2,001 callback runs against 33 polls.)
 */
struct alternation {
    cio_loop *loop;
    int cb_runs;               /* runs of the self-scheduling callback */
    int polls;                 /* runs of the reader: one per poll */
    int tasks_left;            /* yielding tasks still running */
};

static void resched_cb(void *arg)
{
    struct alternation *a = arg;
    a->cb_runs++;
    if (a->tasks_left)
        CHECK_RC(cio_call_soon(a->loop, resched_cb, a, NULL), 0);
}

static void poll_counter(void *arg) { ((struct alternation *)arg)->polls++; }

static int yielder(void *arg, void **result)
{
    struct alternation *a = arg;
    for (int i = 0; i < 2000; i++)
        CHECK_RC(cio_sleep(0), 0);
    a->tasks_left--;
    return 0;
}

static int alternation_main(void *arg, void **result)
{
    struct alternation *a = arg;
    a->loop = cio_get_running_loop();
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "x", 1) == 1);
    CHECK_RC(cio_loop_add_reader(a->loop, p[0], poll_counter, a), 0);
    cio_task *t1, *t2;
    a->tasks_left = 2;
    /* The callback between the tasks: a task then ends a batch with
     * another task at the head and the callback behind it. */
    CHECK_RC(cio_create_task(yielder, a, NULL, &t1), 0);
    CHECK_RC(cio_call_soon(a->loop, resched_cb, a, NULL), 0);
    CHECK_RC(cio_create_task(yielder, a, NULL, &t2), 0);
    CHECK_RC(cio_task_await(t1, NULL), 0);
    CHECK_RC(cio_task_await(t2, NULL), 0);
    cio_task_unref(t1);
    cio_task_unref(t2);
    CHECK_RC(cio_loop_remove_reader(a->loop, p[0]), 1);
    close(p[0]);
    close(p[1]);
    return 0;
}

static void test_callbacks_alternate_with_polls(void)
{
    struct alternation a = {0};
    CHECK_RC(cio_run(alternation_main, &a, NULL), 0);
    CHECK(a.cb_runs > 100);
    /* One poll between two runs of the callback, give or take the ends. */
    CHECK(a.polls >= a.cb_runs - 2);
    if (a.polls < a.cb_runs - 2)
        fprintf(stderr, "callback ran %d times with %d polls\n", a.cb_runs, a.polls);
}

int main(void)
{
    RUN(test_create);
    RUN(test_callbacks_alternate_with_polls);
    RUN(test_failure);
    RUN(test_current_and_errors);
    RUN(test_sleep_args);
    RUN(test_yield);
    RUN(test_run);
    RUN(test_custom_stack);
    RUN(test_fire_and_forget);
    RUN(test_unretrieved_task);
    RUN(test_close_with_pending);
    RUN(test_close_with_parked);
    return test_finish();
}
