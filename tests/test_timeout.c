/*
 * test_timeout.c - timeout scopes (cio_timeout_*), with what CPython's
 * test_timeouts.py checks translated to C, plus the level-triggered
 * behaviour, LIFO ending, shields, and a scope's timer outliving nothing.
 * All on the virtual clock.
 */
#include "combine_util.h"

static int basic_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    cio_timeout *tm;
    /* basic: the sleep is cut short, the scope reports it */
    CHECK_RC(cio_timeout_begin(0.01, &tm), 0);
    CHECK_NEAR(cio_timeout_when(tm), 0.01);
    CHECK(!cio_timeout_expired(tm));
    CHECK_RC(cio_sleep(10), -ETIMEDOUT);
    CHECK_NEAR(now(), 0.01);
    CHECK(cio_timeout_expired(tm));
    /* level-triggered: every further suspension point fails at once */
    CHECK_RC(cio_sleep(0), -ETIMEDOUT);
    CHECK_RC(cio_checkpoint(), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    /* the task is not cancelled afterwards */
    CHECK_RC(cio_sleep(1), 0);
    CHECK(!cio_task_cancelling(cio_current_task()));

    /* timeout_at */
    double deadline = cio_loop_time(loop) + 0.5;
    CHECK_RC(cio_timeout_at_begin(deadline, &tm), 0);
    CHECK_NEAR(cio_timeout_when(tm), deadline);
    CHECK_RC(cio_sleep(10), -ETIMEDOUT);
    CHECK_NEAR(now(), deadline);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);

    /* not called */
    double t0 = now();
    CHECK_RC(cio_timeout_begin(10, &tm), 0);
    CHECK_RC(cio_sleep(0.01), 0);
    CHECK(!cio_timeout_expired(tm));
    CHECK_NEAR(cio_timeout_when(tm), t0 + 10);
    CHECK_RC(cio_timeout_end(tm), 0);
    CHECK_NEAR(now(), t0 + 0.01);

    /* disabled: timeout(None), timeout_at(None) */
    CHECK_RC(cio_timeout_begin(INFINITY, &tm), 0);
    CHECK(isinf(cio_timeout_when(tm)));
    CHECK_RC(cio_sleep(5), 0);
    CHECK_RC(cio_timeout_end(tm), 0);
    CHECK_RC(cio_timeout_at_begin(INFINITY, &tm), 0);
    CHECK_RC(cio_sleep(5), 0);
    CHECK_RC(cio_timeout_end(tm), 0);

    /* zero, and in the past, with sleep(0) */
    t0 = now();
    CHECK_RC(cio_timeout_begin(0, &tm), 0);
    CHECK(cio_timeout_expired(tm));
    CHECK_RC(cio_sleep(10), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK_RC(cio_timeout_begin(0, &tm), 0);
    CHECK_RC(cio_sleep(0), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK_RC(cio_timeout_begin(-11, &tm), 0);
    CHECK_RC(cio_sleep(0), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK_RC(cio_timeout_at_begin(now() - 5, &tm), 0);
    CHECK_RC(cio_sleep(0), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK_NEAR(now(), t0);

    /* reschedule: from none to soon; after firing it is refused */
    CHECK_RC(cio_timeout_begin(INFINITY, &tm), 0);
    t0 = now();
    CHECK_RC(cio_timeout_reschedule(tm, t0 + 0.01), 0);
    CHECK_NEAR(cio_timeout_when(tm), t0 + 0.01);
    CHECK_RC(cio_sleep(10), -ETIMEDOUT);
    CHECK_NEAR(now(), t0 + 0.01);
    CHECK_RC(cio_timeout_reschedule(tm, t0 + 1), CIO_EINVALSTATE);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    /* reschedule: later, then to none, then to the past */
    t0 = now();
    CHECK_RC(cio_timeout_begin(1, &tm), 0);
    CHECK_RC(cio_timeout_reschedule(tm, t0 + 3), 0);
    CHECK_RC(cio_sleep(2), 0);
    CHECK_RC(cio_timeout_reschedule(tm, INFINITY), 0);
    CHECK_RC(cio_sleep(2), 0);
    CHECK_RC(cio_timeout_reschedule(tm, 0), 0);
    CHECK(cio_timeout_expired(tm));
    CHECK_RC(cio_sleep(0), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK_NEAR(now(), t0 + 4);

    /* foreign cancel inside a scope that did not expire: a cancellation */
    CHECK_RC(cio_timeout_begin(10, &tm), 0);
    cio_call_later(loop, 1, (cio_callback_fn *)(void *)cio_task_cancel, cio_current_task(), NULL);
    CHECK_RC(cio_sleep(5), -ECANCELED);
    CHECK_RC(cio_timeout_end(tm), 0);
    CHECK_RC(cio_sleep(0), -ECANCELED);
    return 0;
}

static void test_timeout_basic(void) { run_clean(basic_main); }

static int nested_main(void *arg, void **result)
{
    cio_timeout *outer, *inner;
    /* same deadline: both fire, each end reports its own (asyncio raises
     * TimeoutError only at the outer one and CancelledError inside) */
    double deadline = now() + 0.01;
    CHECK_RC(cio_timeout_at_begin(deadline, &outer), 0);
    CHECK_RC(cio_timeout_at_begin(deadline, &inner), 0);
    CHECK_RC(cio_sleep(10), -ETIMEDOUT);
    CHECK(cio_timeout_expired(outer) && cio_timeout_expired(inner));
    CHECK_RC(cio_timeout_end(inner), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(outer), -ETIMEDOUT);

    /* loop busy: the inner (earlier) fires first and is handled; the outer
     * then cuts the next sleep (test_nested_timeouts_loop_busy) */
    double t0 = now();
    CHECK_RC(cio_timeout_begin(0.1, &outer), 0);
    CHECK_RC(cio_timeout_begin(0.01, &inner), 0);
    CHECK_RC(cio_sleep(1), -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 0.01);
    CHECK(!cio_timeout_expired(outer));
    CHECK_RC(cio_timeout_end(inner), -ETIMEDOUT);
    CHECK_RC(cio_sleep(10), -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 0.1);
    CHECK_RC(cio_timeout_end(outer), -ETIMEDOUT);

    /* the outer fires first: the inner did not fire, its end says 0, and
     * the task keeps unwinding until the outer ends */
    t0 = now();
    CHECK_RC(cio_timeout_begin(1, &outer), 0);
    CHECK_RC(cio_timeout_begin(5, &inner), 0);
    CHECK_RC(cio_sleep(10), -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 1);
    CHECK(!cio_timeout_expired(inner));
    CHECK_RC(cio_timeout_end(inner), 0);
    CHECK_RC(cio_sleep(0), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(outer), -ETIMEDOUT);
    CHECK_RC(cio_sleep(0), 0);

    /* LIFO: ending the outer first is refused and changes nothing */
    CHECK_RC(cio_timeout_begin(1, &outer), 0);
    CHECK_RC(cio_timeout_begin(2, &inner), 0);
    CHECK_RC(cio_timeout_end(outer), -EINVAL);
    CHECK_RC(cio_timeout_end(inner), 0);
    CHECK_RC(cio_timeout_end(outer), 0);
    CHECK_RC(cio_timeout_end(NULL), -EINVAL);

    /* a shield holds the timeout off; it takes effect after the shield */
    t0 = now();
    CHECK_RC(cio_timeout_begin(1, &outer), 0);
    cio_shield_begin();
    CHECK_RC(cio_sleep(3), 0);
    CHECK(cio_timeout_expired(outer));
    CHECK_RC(cio_sleep(0), 0);
    cio_shield_end();
    CHECK_RC(cio_sleep(0), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(outer), -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 3);

    /* cleanup in a shield, bounded by a scope opened inside it (asyncio's
     * test_nested_timeout_in_finally, done the level-triggered way) */
    t0 = now();
    CHECK_RC(cio_timeout_begin(0.01, &outer), 0);
    CHECK_RC(cio_sleep(1), -ETIMEDOUT);
    cio_shield_begin();
    CHECK_RC(cio_timeout_begin(0.01, &inner), 0);
    CHECK_RC(cio_sleep(10), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(inner), -ETIMEDOUT);
    CHECK_RC(cio_sleep(0.5), 0); /* the outer scope is still held off */
    cio_shield_end();
    CHECK_RC(cio_timeout_end(outer), -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 0.52);
    return 0;
}

static void test_timeout_nested(void)
{
    CHECK_RC(run_virtual(nested_main, NULL, NULL), 0);
}

/* A scope's firing interrupts what the task waits in: an await cancels the
 * awaited task and waits for it (as asyncio). */
static int await_main(void *arg, void **result)
{
    struct spec s = {.delay = 10, .shielded = 2};
    cio_task *t;
    CHECK_RC(cio_create_task(child, &s, NULL, &t), 0);
    cio_timeout *tm;
    CHECK_RC(cio_timeout_begin(1, &tm), 0);
    CHECK_RC(cio_task_await(t, NULL), -ETIMEDOUT);
    CHECK_NEAR(now(), 2); /* waited for the child's shielded part */
    CHECK(cio_task_cancelled(t));
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    cio_task_unref(t);
    return 0;
}

static void test_timeout_await(void)
{
    CHECK_RC(run_virtual(await_main, NULL, NULL), 0);
}

struct resched {
    cio_timeout *tm;
    double when;
    int rc;
};

static int resched_task(void *arg, void **result)
{
    struct resched *r = arg;
    r->rc = cio_timeout_reschedule(r->tm, r->when);
    return 0;
}

static int holder(void *arg, void **result)
{
    struct resched *r = arg;
    CHECK_RC(cio_timeout_begin(INFINITY, &r->tm), 0);
    int rc = cio_sleep(100);
    CHECK_RC(cio_timeout_end(r->tm), -ETIMEDOUT);
    return rc;
}

static int foreign_main(void *arg, void **result)
{
    struct resched r = {0};
    cio_task *h, *x;
    CHECK_RC(cio_create_task(holder, &r, NULL, &h), 0);
    CHECK_RC(cio_sleep(1), 0);
    r.when = now() + 1;
    CHECK_RC(cio_create_task(resched_task, &r, NULL, &x), 0);
    CHECK_RC(cio_timeout_end(r.tm), -EINVAL); /* not this task's scope */
    CHECK_RC(cio_task_await(h, NULL), -ETIMEDOUT);
    CHECK_NEAR(now(), 2);
    CHECK_RC(r.rc, 0);
    cio_task_unref(h);
    cio_task_unref(x);
    return 0;
}

static void test_timeout_foreign(void) { run_clean(foreign_main); }

/* A task that ends with its scope open: the scope is freed with a warning
 * and its timer never fires on the dead task. */
static int leaky(void *arg, void **result)
{
    cio_timeout *tm;
    CHECK_RC(cio_timeout_begin(1, &tm), 0);
    CHECK_RC(cio_timeout_begin(2, &tm), 0);
    return 0;
}

static int abandon_main(void *arg, void **result)
{
    cio_task *t;
    CHECK_RC(cio_create_task(leaky, NULL, NULL, &t), 0);
    CHECK_RC(cio_task_await(t, NULL), 0);
    cio_task_unref(t);
    CHECK_RC(cio_sleep(5), 0);
    /* errors */
    cio_timeout *tm;
    CHECK_RC(cio_timeout_begin(NAN, &tm), -EINVAL);
    CHECK_RC(cio_timeout_begin(1, NULL), -EINVAL);
    CHECK_RC(cio_timeout_at_begin(NAN, &tm), -EINVAL);
    CHECK_RC(cio_timeout_reschedule(NULL, 1), -EINVAL);
    CHECK(isnan(cio_timeout_when(NULL)));
    CHECK_EQ(cio_timeout_expired(NULL), 0);
    return 0;
}

static void test_timeout_abandon(void)
{
    CHECK_RC(run_virtual(abandon_main, NULL, NULL), 0);
    cio_timeout *tm;
    CHECK_RC(cio_timeout_begin(1, &tm), CIO_ENOTASK);
    CHECK_RC(cio_timeout_end(NULL), CIO_ENOTASK);
}

int main(void)
{
    RUN(test_timeout_basic);
    RUN(test_timeout_nested);
    RUN(test_timeout_await);
    RUN(test_timeout_foreign);
    RUN(test_timeout_abandon);
    return test_finish();
}
