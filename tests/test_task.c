/*
 * test_task.c - tasks (include/cio/task.h): creation and naming, results
 * and failures, cancellation at every stage (before start, suspended in
 * sleep and in await, inside a shield, finished, by itself), its
 * level-triggered behaviour, cio_all_tasks/cio_current_task, the errors
 * of suspension points outside tasks, cio_run, custom stack sizes, and
 * fire-and-forget tasks whose failure is reported.
 */
#include <math.h>

#include "helpers.h"
#include "task/task.h" /* white box: t->stack, to see a task never got one */

/* Runs the loop until its virtual clock reaches `when`. */
static void run_until(cio_loop *loop, double when)
{
    cio_future *f;
    cio_handle *h;
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_call_at(loop, when, (cio_callback_fn *)(void *)cio_future_set_result, f, &h), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, f, NULL), 0);
    cio_handle_release(h);
    cio_future_release(f);
}

/* ---- bodies --------------------------------------------------------------- */

static int return_arg(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static int mark_ran(void *arg, void **result)
{
    (*(int *)arg)++;
    return 0;
}

static int fail_with_message(void *arg, void **result)
{
    CHECK_RC(cio_task_set_error_message("bad thing %d", 42), 0);
    return -EPROTO;
}

static int message_then_succeed(void *arg, void **result)
{
    CHECK_RC(cio_task_set_error_message("ignored"), 0);
    CHECK_RC(cio_task_set_error_message(NULL), 0); /* clears */
    CHECK_RC(cio_task_set_error_message("ignored too"), 0);
    return 0;
}

/* Sleeps; records how the sleep ended. */
struct sleeper {
    double seconds;
    int rc;
    int after_rc[3];
    double woke_at;
};

static int sleeper(void *arg, void **result)
{
    struct sleeper *s = arg;
    s->rc = cio_sleep(s->seconds);
    s->woke_at = cio_loop_time(cio_get_running_loop());
    /* Level-triggered: every later suspension point fails at once. */
    s->after_rc[0] = cio_sleep(1);
    s->after_rc[1] = cio_sleep(0);
    s->after_rc[2] = cio_checkpoint();
    return s->rc;
}

/* ---- creation ------------------------------------------------------------- */

static void test_create(void)
{
    cio_task *t = (cio_task *)1;
    CHECK_RC(cio_create_task(return_arg, NULL, NULL, &t), CIO_ENOLOOP);
    CHECK(t == NULL);
    cio_loop *loop = test_loop_new_virtual();
    CHECK_RC(cio_loop_create_task(loop, NULL, NULL, NULL, &t), -EINVAL);
    CHECK_RC(cio_create_task_at(loop, return_arg, NULL, NULL, 1024, &t, NULL, 0), -EINVAL);
    CHECK_RC(cio_create_task_at(loop, return_arg, NULL, NULL, ((size_t)1 << 30) + 1, &t, NULL, 0),
             -EINVAL);

    char name[] = "worker";
    cio_task *a, *b, *c;
    int line = __LINE__ + 1;
    CHECK_RC(cio_loop_create_task(loop, return_arg, (void *)(intptr_t)1, name, &a), 0);
    name[0] = 'X'; /* copied */
    CHECK(strcmp(cio_task_get_name(a), "worker") == 0);
    CHECK_RC(cio_loop_create_task(loop, return_arg, (void *)(intptr_t)2, NULL, &b), 0);
    CHECK_RC(cio_create_task_at(loop, return_arg, (void *)(intptr_t)3, NULL, 0, &c, NULL, 0), 0);
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
    cio_task_retain(a);
    cio_task_release(a);
    cio_task_release(a);
    cio_task_release(b);
    cio_task_release(c);
    cio_task_retain(NULL);
    cio_task_release(NULL);

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
    cio_task_release(t);
    cio_task_release(u);
    cio_loop_free(loop);
}

/* ---- cancellation --------------------------------------------------------- */

static void test_cancel_before_start(void)
{
    cio_loop *loop = test_loop_new_virtual();
    int ran = 0;
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, mark_ran, &ran, "never", &t), 0);
    CHECK_EQ(cio_task_cancel(t, "changed my mind"), 1);
    CHECK_EQ(cio_task_cancelling(t), 1);
    CHECK_EQ(cio_task_done(t), 0);
    CHECK_EQ(cio_task_cancel(t, NULL), 1); /* still pending: 1 again */
    test_drain(loop);
    CHECK_EQ(ran, 0);
    CHECK_EQ(cio_task_done(t), 1);
    CHECK_EQ(cio_task_cancelled(t), 1);
    CHECK_EQ(cio_task_cancelling(t), 0);
    CHECK(t->stack == NULL);
    CHECK(cio_task_error_message(t) && strcmp(cio_task_error_message(t), "changed my mind") == 0);
    CHECK_RC(cio_task_result(t, NULL), -ECANCELED);
    /* Finished: cancel returns 0 and changes nothing. */
    CHECK_EQ(cio_task_cancel(t, "too late"), 0);
    CHECK(strcmp(cio_task_error_message(t), "changed my mind") == 0);
    CHECK_RC(cio_task_cancel(NULL, NULL), -EINVAL);
    cio_task_release(t);
    cio_loop_free(loop);
}

static void test_cancel_finished(void)
{
    cio_loop *loop = test_loop_new_virtual();
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, return_arg, (void *)(intptr_t)9, NULL, &t), 0);
    test_drain(loop);
    CHECK_EQ(cio_task_cancel(t, NULL), 0);
    CHECK_EQ(cio_task_cancelled(t), 0);
    void *r;
    CHECK_RC(cio_task_result(t, &r), 0);
    CHECK_EQ((intptr_t)r, 9);
    cio_task_release(t);
    cio_loop_free(loop);
}

static void test_cancel_in_sleep(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct sleeper s = {.seconds = 100};
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, sleeper, &s, NULL, &t), 0);
    run_until(loop, 1);
    CHECK_EQ(cio_task_cancel(t, "bye"), 1);
    double t0 = cio_loop_time(loop);
    test_drain(loop);
    CHECK_RC(s.rc, -ECANCELED);
    CHECK(s.woke_at - t0 < 1e-6); /* at once, not after 100 s */
    for (int i = 0; i < 3; i++)
        CHECK_RC(s.after_rc[i], -ECANCELED);
    CHECK_EQ(cio_task_cancelled(t), 1);
    CHECK(cio_task_error_message(t) && strcmp(cio_task_error_message(t), "bye") == 0);
    cio_task_release(t);
    cio_loop_free(loop);
}

/* The inner task unwinds slowly (a shielded cleanup sleep): the outer
 * task's await must not return before the inner task is done. */
struct nest {
    cio_task *inner;
    int inner_sleep_rc, inner_cleanup_rc;
    double inner_done_at;
    int outer_rc;
    double outer_done_at;
    int inner_done_when_outer_returned;
};

static int inner_body(void *arg, void **result)
{
    struct nest *n = arg;
    n->inner_sleep_rc = cio_sleep(100);
    CHECK_RC(cio_shield_begin(), 0);
    n->inner_cleanup_rc = cio_sleep(5);
    CHECK_RC(cio_shield_end(), 0);
    n->inner_done_at = cio_loop_time(cio_get_running_loop());
    return n->inner_sleep_rc;
}

static int outer_body(void *arg, void **result)
{
    struct nest *n = arg;
    CHECK_RC(cio_create_task(inner_body, n, "inner", &n->inner), 0);
    n->outer_rc = cio_task_await(n->inner, NULL);
    n->outer_done_at = cio_loop_time(cio_get_running_loop());
    n->inner_done_when_outer_returned = cio_task_done(n->inner);
    return n->outer_rc;
}

static void test_cancel_in_await(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct nest n = {0};
    cio_task *outer;
    CHECK_RC(cio_loop_create_task(loop, outer_body, &n, "outer", &outer), 0);
    run_until(loop, 1);
    CHECK(n.inner != NULL);
    CHECK_EQ(cio_task_cancel(outer, NULL), 1);
    /* asyncio: cancelling the awaiting task cancels the awaited one. */
    CHECK_EQ(cio_task_cancelling(n.inner), 1);
    test_drain(loop);
    CHECK_RC(n.inner_sleep_rc, -ECANCELED);
    CHECK_RC(n.inner_cleanup_rc, 0);
    CHECK(fabs(n.inner_done_at - 6) < 1e-6);
    CHECK_RC(n.outer_rc, -ECANCELED);
    CHECK_EQ(n.inner_done_when_outer_returned, 1);
    CHECK(n.outer_done_at >= n.inner_done_at);
    CHECK_EQ(cio_task_cancelled(outer), 1);
    CHECK_EQ(cio_task_cancelled(n.inner), 1);
    cio_task_release(n.inner);
    cio_task_release(outer);
    cio_loop_free(loop);
}

/* Cancelled while a shield is up: the shielded sleep completes in full;
 * the next suspension point after shield_end fails at once. */
struct shielded {
    int begin_rc, sleep_rc, nested_rc, end_rc, checkpoint_in, after_rc, extra_end_rc;
    double slept_until;
};

static int shielded_body(void *arg, void **result)
{
    struct shielded *s = arg;
    s->begin_rc = cio_shield_begin();
    cio_shield_begin(); /* nested */
    s->sleep_rc = cio_sleep(10);
    s->checkpoint_in = cio_checkpoint();
    cio_shield_end();
    s->nested_rc = cio_sleep(1); /* still inside the outer shield */
    s->slept_until = cio_loop_time(cio_get_running_loop());
    s->end_rc = cio_shield_end();
    s->after_rc = cio_sleep(1);
    s->extra_end_rc = cio_shield_end();
    return s->after_rc;
}

static void test_cancel_during_shield(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct shielded s;
    memset(&s, 0x55, sizeof s);
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, shielded_body, &s, NULL, &t), 0);
    run_until(loop, 2);
    CHECK_EQ(cio_task_cancel(t, NULL), 1);
    test_drain(loop);
    CHECK_RC(s.begin_rc, 0);
    CHECK_RC(s.sleep_rc, 0);
    CHECK_RC(s.checkpoint_in, 0);
    CHECK_RC(s.nested_rc, 0);
    CHECK(fabs(s.slept_until - 11) < 1e-6);
    CHECK_RC(s.end_rc, 0);
    CHECK_RC(s.after_rc, -ECANCELED);
    CHECK_RC(s.extra_end_rc, -EINVAL);
    CHECK(fabs(cio_loop_time(loop) - 11) < 1e-6);
    CHECK_EQ(cio_task_cancelled(t), 1);
    cio_task_release(t);
    cio_loop_free(loop);
}

struct selfc {
    int cancel_rc, cancelling, sleep_rc, sleep0_rc;
};

static int self_cancel_body(void *arg, void **result)
{
    struct selfc *s = arg;
    s->cancel_rc = cio_task_cancel(cio_current_task(), "myself");
    s->cancelling = cio_task_cancelling(cio_current_task());
    s->sleep0_rc = cio_sleep(0);
    s->sleep_rc = cio_sleep(1);
    return s->sleep_rc;
}

static void test_self_cancel(void)
{
    cio_loop *loop = test_loop_new_virtual();
    struct selfc s = {0};
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, self_cancel_body, &s, NULL, &t), 0);
    test_drain(loop);
    CHECK_EQ(s.cancel_rc, 1);
    CHECK_EQ(s.cancelling, 1);
    CHECK_RC(s.sleep0_rc, -ECANCELED);
    CHECK_RC(s.sleep_rc, -ECANCELED);
    CHECK_EQ(cio_task_cancelled(t), 1);
    CHECK(cio_loop_time(loop) < 1e-9);
    cio_task_release(t);
    cio_loop_free(loop);
}

/* A task that returns -ECANCELED on its own ends cancelled. */
static int return_cancelled(void *arg, void **result) { return -ECANCELED; }

static void test_return_ecanceled(void)
{
    cio_loop *loop = test_loop_new_virtual();
    cio_task *t;
    struct test_exc e = {0};
    cio_loop_set_exception_handler(loop, test_exc_capture, &e);
    CHECK_RC(cio_loop_create_task(loop, return_cancelled, NULL, NULL, &t), 0);
    test_drain(loop);
    CHECK_EQ(cio_task_cancelled(t), 1);
    cio_task_release(t);
    CHECK_EQ(e.calls, 0); /* cancellation is not a failure */
    cio_loop_free(loop);
}

/* Cancellation at each suspension point in turn (DESIGN.md section 8):
 * a callback scheduled just before point k cancels the task while it is
 * suspended there.  Point k returns -ECANCELED, every later one fails at
 * once, and nothing before k is disturbed. */
#define NPOINTS 6

struct points {
    int target;
    int rc[NPOINTS];
    cio_future *fut;
    cio_task *child;
    double t_end;
};

static void cancel_current_cb(void *arg) { cio_task_cancel(arg, NULL); }
static void complete_cb(void *arg) { cio_future_set_result(arg, NULL); }

static int sleepy_child(void *arg, void **result) { return cio_sleep(2); }

static void before_point(struct points *p, int k)
{
    if (k == p->target)
        CHECK_RC(cio_call_soon(cio_get_running_loop(), cancel_current_cb, cio_current_task(),
                               NULL), 0);
}

static int points_body(void *arg, void **result)
{
    struct points *p = arg;
    cio_loop *loop = cio_get_running_loop();
    before_point(p, 0);
    p->rc[0] = cio_sleep(0);
    before_point(p, 1);
    p->rc[1] = cio_sleep(1);
    CHECK_RC(cio_call_later(loop, 1, complete_cb, p->fut, NULL), 0);
    before_point(p, 2);
    p->rc[2] = cio_await(p->fut, NULL);
    CHECK_RC(cio_create_task(sleepy_child, NULL, "child", &p->child), 0);
    before_point(p, 3);
    p->rc[3] = cio_task_await(p->child, NULL);
    before_point(p, 4);
    p->rc[4] = cio_sleep(0.5);
    before_point(p, 5);
    CHECK_RC(cio_shield_begin(), 0);
    p->rc[5] = cio_sleep(0.5); /* shielded: completes, cancelled or not */
    CHECK_RC(cio_shield_end(), 0);
    p->t_end = cio_loop_time(loop);
    return cio_checkpoint();
}

static void test_cancel_each_point(void)
{
    for (int k = 0; k <= NPOINTS; k++) { /* k == NPOINTS: never cancelled */
        cio_loop *loop = test_loop_new_virtual();
        struct points p = {.target = k};
        for (int i = 0; i < NPOINTS; i++)
            p.rc[i] = 1;
        CHECK_RC(cio_future_new(loop, &p.fut), 0);
        cio_task *t;
        CHECK_RC(cio_loop_create_task(loop, points_body, &p, NULL, &t), 0);
        test_drain(loop);
        for (int i = 0; i < NPOINTS - 1; i++)
            CHECK_RC(p.rc[i], i < k ? 0 : -ECANCELED);
        CHECK_RC(p.rc[NPOINTS - 1], 0);
        CHECK_EQ(cio_task_cancelled(t), k < NPOINTS);
        if (k == 2)
            CHECK_EQ(cio_future_cancelled(p.fut), 1); /* cancelled with its awaiter */
        if (k == 3)
            CHECK_EQ(cio_task_cancelled(p.child), 1);
        /* Once cancelled, nothing waited except the shielded sleep. */
        /* Uncancelled: sleep 1, await until 2, child until 4, 0.5, 0.5. */
        static const double ends[NPOINTS + 1] = {0.5, 0.5, 1.5, 2.5, 4.5, 5.0, 5.0};
        double want = ends[k];
        if (fabs(p.t_end - want) > 1e-6) {
            fprintf(stderr, "  cancel at point %d: ended at %.3f, wanted %.3f\n", k, p.t_end, want);
            CHECK(!"unexpected end time");
        }
        if (p.child) {
            cio_task_result(p.child, NULL);
            cio_task_release(p.child);
        }
        cio_task_release(t);
        cio_future_release(p.fut);
        cio_loop_free(loop);
    }
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
    CHECK_RC(cio_task_set_error_message("x"), CIO_ENOTASK);
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
    cio_task_release(t);
    cio_task_release(other);
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
        CHECK_RC(cio_create_task_at(loop, big_frame, (void *)(intptr_t)(sizes[i] - 48 * 1024),
                                    NULL, sizes[i], &t[i], __FILE__, __LINE__),
                 0);
    test_drain(loop);
    for (int i = 0; i < 4; i++) {
        CHECK_RC(cio_task_result(t[i], NULL), 0);
        cio_task_release(t[i]);
    }
    /* Again, so that stacks of each kind are reused. */
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_create_task_at(loop, big_frame, (void *)(intptr_t)(sizes[i] - 48 * 1024),
                                    NULL, sizes[i], NULL, __FILE__, __LINE__),
                 0);
    test_drain(loop);
    cio_loop_free(loop);
}

/* ---- fire and forget ------------------------------------------------------ */

static int ff_fail(void *arg, void **result)
{
    cio_sleep(1);
    cio_task_set_error_message("lost in the void");
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
    cio_task_release(a);
    CHECK_EQ(e.calls, 0);
    cio_task_release(b);
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
    cio_task_release(held);
    /* The future outlives the loop; completing it must not touch the
     * destroyed task. */
    CHECK_RC(cio_future_set_result(f, NULL), 0);
    cio_future_release(f);
    cio_loop_free(loop);
}

int main(void)
{
    RUN(test_create);
    RUN(test_failure);
    RUN(test_cancel_before_start);
    RUN(test_cancel_finished);
    RUN(test_cancel_in_sleep);
    RUN(test_cancel_in_await);
    RUN(test_cancel_during_shield);
    RUN(test_self_cancel);
    RUN(test_cancel_each_point);
    RUN(test_return_ecanceled);
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
