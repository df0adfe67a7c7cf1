/*
 * timeout.c - timeout scopes: asyncio.timeout / timeout_at, trio's
 * move_on_after.
 *
 * A scope is a deadline on the chain of its task's open scopes
 * (task->scopes, innermost first).  Each scope has its own timer, so the
 * earliest deadline fires first without any bookkeeping across the chain,
 * and each scope knows whether it fired.  Firing marks the scope, counts
 * it in task->expired -- which cio__checkpoint reads, so every suspension
 * point of the task returns -ETIMEDOUT from then on, as long as the scope
 * is open (level-triggered, as cancellation) -- and interrupts the task
 * where it is parked.  Shields hold off the scopes opened outside them
 * (cio__checkpoint and cio__task_interrupt respect task->shield); a scope
 * opened inside a shield records the depth and still works there, so
 * shielded cleanup can be bounded in time (trio's nested cancel scopes).
 *
 * Divided as: firing, begin, end, reschedule and queries, and the clean-up
 * of scopes left open by a finishing task.
 */
#include "combine.h"

struct cio_timeout {
    struct cio_timeout *outer;  /* the next scope out on the task's chain */
    cio_task *task;             /* whose chain it is on */
    cio_handle *timer;          /* pending deadline (our reference), or NULL */
    int64_t when;               /* deadline, ns on the loop clock; INT64_MAX none */
    int32_t shield;             /* the task's shield depth when it began: a
                                   scope opened inside a shield still works */
    uint8_t fired;              /* the deadline passed while open */
};

static void scope_fire(cio_timeout *tm)
{
    if (tm->fired)
        return;
    cio_task *t = tm->task;
    tm->fired = 1;
    t->expired++;
    t->flags |= CIO__TF_EXPIRED;
    if (t->shield && tm->shield >= t->shield) {
        /* Opened inside the current shield: the shield does not hold it. */
        if (t->state == CIO__T_PARKED && t->interrupt)
            t->interrupt(t, -ETIMEDOUT);
    } else {
        cio__task_interrupt(t, -ETIMEDOUT);
    }
}

int cio__timeout_shielded_check(cio_task *t)
{
    /* Shield depths only grow inward along the chain. */
    for (cio_timeout *tm = t->scopes; tm && tm->shield >= t->shield; tm = tm->outer)
        if (tm->fired)
            return -ETIMEDOUT;
    return 0;
}

static void scope_timer(void *arg)
{
    cio_timeout *tm = arg;
    cio_handle *h = tm->timer;
    tm->timer = NULL;
    cio__handle_unref(h); /* the heap still holds it during this call */
    scope_fire(tm);
}

/* Sets tm's deadline to when (ns): fires at once if due, else a timer.
 * On -ENOMEM nothing changed. */
static int scope_arm(cio_timeout *tm, int64_t when)
{
    cio_loop *loop = tm->task->fut.loop;
    cio_handle *h = NULL;
    if (when != INT64_MAX && when > cio__loop_now(loop) &&
        !(h = cio__deadline_start(loop, when, scope_timer, tm)))
        return -ENOMEM;
    cio__deadline_stop(tm->timer);
    tm->timer = h;
    tm->when = when;
    if (when != INT64_MAX && !h)
        scope_fire(tm);
    return 0;
}

/* Seconds (absolute) to ns, INT64_MAX for +infinity. */
static int64_t when_ns(double when)
{
    return isinf(when) && when > 0 ? INT64_MAX : cio__sec_to_ns(when);
}

static int scope_begin(cio_task *t, int64_t when, cio_timeout **out)
{
    cio_timeout *tm = cio__malloc(sizeof *tm);
    if (!tm)
        return -ENOMEM;
    tm->outer = t->scopes;
    tm->task = t;
    tm->timer = NULL;
    tm->when = INT64_MAX;
    tm->shield = t->shield;
    tm->fired = 0;
    if (scope_arm(tm, when) < 0) {
        cio__free(tm);
        return -ENOMEM;
    }
    t->scopes = tm;
    *out = tm;
    return 0;
}

int cio_timeout_begin(double delay, cio_timeout **out)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (!out)
        return cio__bad_arg(t->fut.loop, __func__, "out is NULL");
    *out = NULL;
    if (isnan(delay))
        return cio__bad_arg(t->fut.loop, __func__, "delay is NaN");
    int64_t when = INT64_MAX; /* < 0 or INFINITY: no deadline (yet) */
    if (delay >= 0 && !isinf(delay)) {
        int64_t now = cio__loop_now(t->fut.loop);
        when = delay == 0 ? now : now + cio__sec_to_ns(delay);
    }
    return scope_begin(t, when, out);
}

int cio_timeout_at_begin(double when, cio_timeout **out)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (!out)
        return cio__bad_arg(t->fut.loop, __func__, "out is NULL");
    *out = NULL;
    if (isnan(when))
        return cio__bad_arg(t->fut.loop, __func__, "when is NaN");
    return scope_begin(t, when_ns(when), out);
}

int cio_timeout_end(cio_timeout *tm)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (!tm)
        return cio__bad_arg(t->fut.loop, __func__, "scope is NULL");
    if (tm->task != t)
        return cio__bad_arg(t->fut.loop, __func__, "the scope belongs to another task");
    if (t->scopes != tm)
        return cio__bad_arg(t->fut.loop, __func__, "scopes must end innermost first");
    t->scopes = tm->outer;
    cio__deadline_stop(tm->timer);
    int fired = tm->fired;
    if (fired && --t->expired == 0)
        t->flags &= (uint8_t)~CIO__TF_EXPIRED;
    cio__free(tm);
    return fired ? -ETIMEDOUT : 0;
}

int cio_timeout_reschedule(cio_timeout *tm, double when)
{
    if (!tm)
        return cio__bad_arg(NULL, __func__, "scope is NULL");
    if (isnan(when))
        return cio__bad_arg(tm->task->fut.loop, __func__, "when is NaN");
    if (tm->fired)
        return CIO_EINVALSTATE;
    return scope_arm(tm, when_ns(when));
}

double cio_timeout_when(const cio_timeout *tm)
{
    if (!tm)
        return NAN;
    return tm->when == INT64_MAX ? INFINITY : (double)tm->when / 1e9;
}

int cio_timeout_expired(const cio_timeout *tm) { return tm && tm->fired; }

void cio__timeout_abandon(cio_task *t)
{
    cio_log(CIO_LOG_WARNING, "task '%s' ended with %s timeout scope(s) still open",
            cio_task_get_name(t), t->scopes->outer ? "several" : "a");
    while (t->scopes) {
        cio_timeout *tm = t->scopes;
        t->scopes = tm->outer;
        cio__deadline_stop(tm->timer);
        cio__free(tm);
    }
    t->expired = 0;
    t->flags &= (uint8_t)~CIO__TF_EXPIRED;
}
