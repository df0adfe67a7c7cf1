/*
 * test_task_cancel.c - cancelling tasks (split from test_task.c): before
 * start, finished, suspended in sleep and in await, inside a shield, by
 * itself, at every suspension point in turn, and a task returning
 * -ECANCELED itself.  Cancellation is level-triggered: every later
 * suspension point fails at once.
 */
#include <math.h>

#include "task_util.h"

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
    cio_task_unref(t);
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
    cio_task_unref(t);
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
    cio_task_unref(t);
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
    cio_task_unref(n.inner);
    cio_task_unref(outer);
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
    cio_task_unref(t);
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
    cio_task_unref(t);
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
    cio_task_unref(t);
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
            cio_task_unref(p.child);
        }
        cio_task_unref(t);
        cio_future_unref(p.fut);
        cio_loop_free(loop);
    }
}

int main(void)
{
    RUN(test_cancel_before_start);
    RUN(test_cancel_finished);
    RUN(test_cancel_in_sleep);
    RUN(test_cancel_in_await);
    RUN(test_cancel_during_shield);
    RUN(test_self_cancel);
    RUN(test_cancel_each_point);
    RUN(test_return_ecanceled);
    return test_finish();
}
