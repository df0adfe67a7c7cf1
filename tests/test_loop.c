/*
 * test_loop.c - the event loop's public API (include/cio/loop.h): life
 * cycle, run_forever/stop, run_until_complete and its errors, call_soon
 * FIFO, call_later/call_at ordering, handles, the exception handler,
 * settings and their error paths, cio_strerror.
 *
 * Timer ordering runs on the virtual clock so it is instant and exact.
 */
#include <math.h>
#include <netdb.h>

#include "helpers.h"

/* ---- helpers ----------------------------------------------------------- */

/* Records the order callbacks ran in. */
struct order {
    int seq[64];
    int n;
};
struct step {
    struct order *o;
    int id;
};

static void record(void *arg)
{
    struct step *s = arg;
    if (s->o->n < 64)
        s->o->seq[s->o->n++] = s->id;
}

static void count_cb(void *arg) { (*(int *)arg)++; }

static void stop_cb(void *arg) { cio_loop_stop(arg); }

/* Schedules count_cb on "the running loop" (NULL), as every loop
 * parameter takes it, then stops that loop. */
static void soon_on_running_cb(void *arg)
{
    CHECK_RC(cio_call_soon(NULL, count_cb, arg, NULL), 0);
    CHECK_RC(cio_call_later(NULL, 0, stop_cb, cio_get_running_loop(), NULL), 0);
}

static cio_loop *new_loop(int virtual_clock)
{
    cio_loop *loop = NULL;
    CHECK_RC(cio_loop_new(&loop), 0);
    if (loop && virtual_clock)
        CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    return loop;
}

/* ---- life cycle --------------------------------------------------------- */

static void test_new_close_free(void)
{
    CHECK_RC(cio_loop_new(NULL), -EINVAL);
    cio_loop *loop = new_loop(0);
    CHECK_EQ(cio_loop_is_closed(loop), 0);
    CHECK_EQ(cio_loop_is_running(loop), 0);
    CHECK(cio_get_running_loop() == NULL);
    CHECK_RC(cio_loop_close(loop), 0);
    CHECK_EQ(cio_loop_is_closed(loop), 1);
    CHECK_RC(cio_loop_close(loop), 0); /* idempotent */
    /* Everything that schedules refuses a closed loop. */
    int n = 0;
    CHECK_RC(cio_call_soon(loop, count_cb, &n, NULL), CIO_ECLOSED);
    CHECK_RC(cio_call_later(loop, 1, count_cb, &n, NULL), CIO_ECLOSED);
    CHECK_RC(cio_call_at(loop, 1, count_cb, &n, NULL), CIO_ECLOSED);
    CHECK_RC(cio_call_soon_threadsafe(loop, count_cb, &n), CIO_ECLOSED);
    CHECK_RC(cio_loop_run_forever(loop), CIO_ECLOSED);
    CHECK_RC(cio_loop_add_reader(loop, 0, count_cb, &n), CIO_ECLOSED);
    cio_future *f = NULL;
    CHECK_RC(cio_future_new(loop, &f), CIO_ECLOSED);
    CHECK_EQ(n, 0);
    cio_loop_free(loop);
    cio_loop_free(NULL);
    CHECK_EQ(cio_loop_is_closed(NULL), 0);
    CHECK_EQ(cio_loop_is_running(NULL), 0);
    CHECK_RC(cio_loop_close(NULL), -EINVAL);
    CHECK_RC(cio_loop_stop(NULL), -EINVAL);
    CHECK_RC(cio_loop_run_forever(NULL), -EINVAL);
    CHECK(isnan(cio_loop_time(NULL))); /* no loop: no value */
    /* Free without close closes. */
    loop = new_loop(0);
    CHECK_RC(cio_call_soon(loop, count_cb, &n, NULL), 0);
    cio_loop_free(loop);
    CHECK_EQ(n, 0);
}

/* A closed loop's pending run_until_complete: the future exists on a loop
 * that can no longer run. */
static void test_run_until_complete_closed(void)
{
    cio_loop *loop = new_loop(0);
    cio_future *f;
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_loop_close(loop), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, f, NULL), CIO_ECLOSED);
    cio_future_unref(f);
    cio_loop_free(loop);
}

struct running_probe {
    cio_loop *loop;
    int is_running, same, nested_rc, nested_ruc_rc, close_rc;
    cio_future *fut;
};

static void probe_cb(void *arg)
{
    struct running_probe *p = arg;
    p->is_running = cio_loop_is_running(p->loop);
    p->same = cio_get_running_loop() == p->loop;
    p->nested_rc = cio_loop_run_forever(p->loop);
    p->nested_ruc_rc = cio_loop_run_until_complete(p->loop, p->fut, NULL);
    p->close_rc = cio_loop_close(p->loop);
    cio_loop_stop(p->loop);
}

static void test_running_state(void)
{
    cio_loop *loop = new_loop(0);
    struct running_probe p = {.loop = loop};
    CHECK_RC(cio_future_new(loop, &p.fut), 0);
    CHECK_RC(cio_call_soon(loop, probe_cb, &p, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(p.is_running, 1);
    CHECK_EQ(p.same, 1);
    CHECK_RC(p.nested_rc, CIO_ERUNNING);
    CHECK_RC(p.nested_ruc_rc, CIO_ERUNNING);
    CHECK_RC(p.close_rc, CIO_ERUNNING);
    CHECK_EQ(cio_loop_is_running(loop), 0);
    CHECK(cio_get_running_loop() == NULL);
    CHECK_EQ(cio_loop_is_closed(loop), 0);
    cio_future_unref(p.fut);
    cio_loop_free(loop);
}

/* Another loop cannot run inside a running one in the same thread. */
static void other_loop_cb(void *arg)
{
    void **a = arg;
    *(int *)a[1] = cio_loop_run_forever(a[0]);
    cio_loop_stop(cio_get_running_loop());
}

static void test_two_loops_nested(void)
{
    cio_loop *a = new_loop(0), *b = new_loop(0);
    int rc = 1;
    void *args[2] = {b, &rc};
    CHECK_RC(cio_call_soon(a, other_loop_cb, args, NULL), 0);
    CHECK_RC(cio_loop_run_forever(a), 0);
    CHECK_RC(rc, CIO_ERUNNING);
    cio_loop_free(a);
    cio_loop_free(b);
}

/* ---- run_forever and stop ------------------------------------------------ */

struct stop_probe {
    cio_loop *loop;
    int ran_a, ran_b, ran_later;
};

static void later_cb(void *arg) { ((struct stop_probe *)arg)->ran_later++; }

static void stop_a(void *arg)
{
    struct stop_probe *p = arg;
    p->ran_a++;
    cio_loop_stop(p->loop);
    /* Scheduled after stop: runs in the next iteration, not this one. */
    cio_call_soon(p->loop, later_cb, p, NULL);
}

static void stop_b(void *arg) { ((struct stop_probe *)arg)->ran_b++; }

static void test_stop_semantics(void)
{
    cio_loop *loop = new_loop(0);
    struct stop_probe p = {.loop = loop};
    /* stop from a callback: the callbacks already scheduled still run. */
    CHECK_RC(cio_call_soon(loop, stop_a, &p, NULL), 0);
    CHECK_RC(cio_call_soon(loop, stop_b, &p, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(p.ran_a, 1);
    CHECK_EQ(p.ran_b, 1);
    CHECK_EQ(p.ran_later, 0);
    /* Run again: the leftover callback runs. */
    CHECK_RC(cio_call_soon(loop, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(p.ran_later, 1);

    /* stop before run: asyncio runs one iteration (the callbacks already
     * scheduled), then returns. */
    int n = 0;
    CHECK_RC(cio_call_soon(loop, count_cb, &n, NULL), 0);
    CHECK_RC(cio_loop_stop(loop), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(n, 1);
    /* stop is one-shot: the next run needs a new stop. */
    CHECK_RC(cio_call_later(loop, 0.001, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    cio_loop_free(loop);
}

/* ---- run_until_complete ------------------------------------------------- */

static void set_result_cb(void *arg) { cio_future_set_result(arg, (void *)(intptr_t)5); }

static void test_run_until_complete(void)
{
    cio_loop *loop = new_loop(1);
    cio_future *f;
    void *r = NULL;
    CHECK_RC(cio_loop_run_until_complete(loop, NULL, NULL), -EINVAL);

    /* Completed by a timer. */
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_call_later(loop, 10, set_result_cb, f, NULL), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, f, &r), 0);
    CHECK_EQ((intptr_t)r, 5);
    CHECK(cio_loop_time(loop) >= 10);
    /* Already done: returns its outcome at once. */
    r = NULL;
    CHECK_RC(cio_loop_run_until_complete(loop, f, &r), 0);
    CHECK_EQ((intptr_t)r, 5);
    cio_future_unref(f);

    /* Nothing at all that could complete it, from the very start. */
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, f, NULL), CIO_ESTALLED);
    CHECK_EQ(cio_loop_is_running(loop), 0);
    /* Some work, but none that completes it. */
    int n = 0;
    CHECK_RC(cio_call_soon(loop, count_cb, &n, NULL), 0);
    CHECK_RC(cio_call_later(loop, 1, count_cb, &n, NULL), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, f, NULL), CIO_ESTALLED);
    CHECK_EQ(n, 2);

    /* Stopped before the future completed. */
    CHECK_RC(cio_call_soon(loop, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_call_later(loop, 5, set_result_cb, f, NULL), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, f, NULL), CIO_EINVALSTATE);
    CHECK_EQ(cio_future_done(f), 0);
    /* and it can go on afterwards */
    CHECK_RC(cio_loop_run_until_complete(loop, f, &r), 0);
    CHECK_EQ((intptr_t)r, 5);
    cio_future_unref(f);

    /* A future that failed: its code comes back. */
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_future_set_error(f, -EPIPE, "broken"), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, f, &r), -EPIPE);
    cio_future_unref(f);

    /* A future of another loop. */
    cio_loop *other = new_loop(0);
    CHECK_RC(cio_future_new(other, &f), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, f, NULL), -EINVAL);
    cio_future_unref(f);
    cio_loop_free(other);
    cio_loop_free(loop);
}

/* ---- call_soon, call_later, call_at ------------------------------------- */

static void test_call_soon_fifo(void)
{
    cio_loop *loop = new_loop(0);
    struct order o = {0};
    struct step s[20];
    for (int i = 0; i < 20; i++) {
        s[i] = (struct step){&o, i};
        CHECK_RC(cio_call_soon(loop, record, &s[i], NULL), 0);
    }
    CHECK_RC(cio_call_soon(loop, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(o.n, 20);
    for (int i = 0; i < o.n; i++)
        CHECK_EQ(o.seq[i], i);
    CHECK_RC(cio_call_soon(loop, NULL, NULL, NULL), -EINVAL);
    CHECK_RC(cio_call_soon(NULL, count_cb, NULL, NULL), CIO_ENOLOOP); /* none runs */
    int ran = 0;
    CHECK_RC(cio_call_soon(loop, soon_on_running_cb, &ran, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(ran, 1);
    cio_loop_free(loop);
}

static void test_call_later_order(void)
{
    cio_loop *loop = new_loop(1);
    struct order o = {0};
    struct step s[12];
    for (int i = 0; i < 12; i++)
        s[i] = (struct step){&o, i};
    /* Deadlines out of order, and three equal ones that must stay FIFO. */
    CHECK_RC(cio_call_later(loop, 3, record, &s[3], NULL), 0);
    CHECK_RC(cio_call_later(loop, 1, record, &s[1], NULL), 0);
    CHECK_RC(cio_call_later(loop, 2, record, &s[4], NULL), 0);
    CHECK_RC(cio_call_later(loop, 2, record, &s[5], NULL), 0);
    CHECK_RC(cio_call_later(loop, 2, record, &s[6], NULL), 0);
    CHECK_RC(cio_call_at(loop, 0.5, record, &s[0], NULL), 0);
    CHECK_RC(cio_call_at(loop, 4, record, &s[7], NULL), 0);
    /* delay <= 0: next iteration, after due timers; before call_soon? no:
     * call_soon callbacks are already in the ready queue. */
    CHECK_RC(cio_call_later(loop, -1, record, &s[8], NULL), 0);
    CHECK_RC(cio_call_later(loop, 0, record, &s[9], NULL), 0);
    CHECK_RC(cio_call_later(loop, INFINITY, record, &s[10], NULL), 0);
    CHECK_RC(cio_call_later(loop, NAN, record, &s[11], NULL), -EINVAL);
    CHECK_RC(cio_call_at(loop, NAN, record, &s[11], NULL), -EINVAL);
    CHECK_RC(cio_call_later(loop, 1, NULL, NULL, NULL), -EINVAL);
    CHECK_RC(cio_call_at(NULL, 1, record, &s[11], NULL), CIO_ENOLOOP);
    CHECK_RC(cio_call_at(loop, 5, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    int want[] = {8, 9, 0, 1, 4, 5, 6, 3, 7};
    CHECK_EQ(o.n, 9);
    for (int i = 0; i < 9 && i < o.n; i++)
        CHECK_EQ(o.seq[i], want[i]);
    CHECK(fabs(cio_loop_time(loop) - 5) < 1e-9);
    cio_loop_free(loop);
}

/* Real clock: a timer never fires early. */
struct when_probe {
    cio_loop *loop;
    double due, fired;
};

static void when_cb(void *arg)
{
    struct when_probe *p = arg;
    p->fired = cio_loop_time(p->loop);
    cio_loop_stop(p->loop);
}

static void test_real_clock_timer(void)
{
    cio_loop *loop = new_loop(0);
    double t0 = cio_loop_time(loop);
    CHECK(t0 > 0);
    struct when_probe p = {.loop = loop};
    cio_handle *h;
    CHECK_RC(cio_call_later(loop, 0.02, when_cb, &p, &h), 0);
    p.due = cio_handle_when(h);
    CHECK(p.due >= t0 + 0.02 - 1e-6 && p.due < t0 + 1);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK(p.fired >= p.due);
    cio_handle_unref(h);
    cio_loop_free(loop);
}

/* The poll hook brackets every wait that may block, before then after,
 * and no poll that only looks (an embedder's GIL release). */
struct hook_probe {
    int before, after, unbalanced;
};

static void hook_cb(cio_loop *loop, int after, void *ud)
{
    struct hook_probe *p = ud;
    if (after) {
        p->after++;
        if (p->after != p->before)
            p->unbalanced = 1;
    } else {
        p->before++;
        if (p->before != p->after + 1)
            p->unbalanced = 1;
    }
}


static void test_poll_hook(void)
{
    cio_loop *loop = new_loop(0);
    struct hook_probe p = {0};
    CHECK_RC(cio_loop_set_poll_hook(NULL, hook_cb, &p), -EINVAL);
    CHECK_RC(cio_loop_set_poll_hook(loop, hook_cb, &p), 0);
    /* Only ready callbacks: no blocking wait, no hook. */
    CHECK_RC(cio_call_soon(loop, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(p.before, 0);
    /* A timer makes the loop sleep: one bracketed wait at least. */
    CHECK_RC(cio_call_later(loop, 0.01, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK(p.before >= 1);
    CHECK_EQ(p.before, p.after);
    CHECK_EQ(p.unbalanced, 0);
    /* Removed: no more calls. */
    CHECK_RC(cio_loop_set_poll_hook(loop, NULL, NULL), 0);
    int seen = p.before;
    CHECK_RC(cio_call_later(loop, 0.01, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(p.before, seen);
    cio_loop_free(loop);
}

/* ---- handles -------------------------------------------------------------- */

struct cancel_probe {
    cio_handle *victim;
    int rc;
};

static void cancel_other(void *arg)
{
    struct cancel_probe *p = arg;
    p->rc = cio_handle_cancel(p->victim);
}

static void test_handle_cancel(void)
{
    cio_loop *loop = new_loop(1);
    int n = 0;
    cio_handle *soon, *timer, *ran, *fired, *inqueue;

    /* Before it runs. */
    CHECK_RC(cio_call_soon(loop, count_cb, &n, &soon), 0);
    CHECK_EQ(cio_handle_cancelled(soon), 0);
    CHECK(isnan(cio_handle_when(soon)));
    CHECK_RC(cio_handle_cancel(soon), 0);
    CHECK_EQ(cio_handle_cancelled(soon), 1);
    CHECK_RC(cio_handle_cancel(soon), 0); /* twice */
    CHECK_EQ(cio_handle_cancelled(soon), 1);

    /* A pending timer. */
    CHECK_RC(cio_call_later(loop, 2, count_cb, &n, &timer), 0);
    CHECK(fabs(cio_handle_when(timer) - 2) < 1e-9);
    CHECK_RC(cio_handle_cancel(timer), 0);
    CHECK_RC(cio_handle_cancel(timer), 0);

    /* One that will have run. */
    CHECK_RC(cio_call_soon(loop, count_cb, &n, &ran), 0);
    CHECK_RC(cio_call_later(loop, 1, count_cb, &n, &fired), 0);

    /* A timer already moved to the ready queue, cancelled by a callback
     * that runs just before it in the same iteration. */
    struct cancel_probe p = {.rc = 1};
    CHECK_RC(cio_call_at(loop, 3, cancel_other, &p, NULL), 0);
    CHECK_RC(cio_call_at(loop, 3, count_cb, &n, &inqueue), 0);
    p.victim = inqueue;

    CHECK_RC(cio_call_at(loop, 10, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(n, 2); /* ran and fired only */
    CHECK_RC(p.rc, 0);
    CHECK_EQ(cio_handle_cancelled(inqueue), 1);
    /* After it ran: nothing happens, returns 0. */
    CHECK_RC(cio_handle_cancel(ran), 0);
    CHECK_RC(cio_handle_cancel(fired), 0);
    CHECK(fabs(cio_handle_when(fired) - 1) < 1e-9);

    CHECK_RC(cio_handle_cancel(NULL), -EINVAL);
    CHECK_EQ(cio_handle_cancelled(NULL), 0);
    CHECK(isnan(cio_handle_when(NULL)));
    cio_handle_unref(NULL);
    cio_handle_unref(soon);
    cio_handle_unref(timer);
    cio_handle_unref(ran);
    cio_handle_unref(fired);
    cio_handle_unref(inqueue);
    cio_loop_free(loop);
}

/* A callback that cancels its own handle while it runs: nothing breaks,
 * and a repeating timer pattern (re-arm from the callback) stops cleanly. */
struct self_cancel {
    cio_loop *loop;
    cio_handle *h;
    int runs, rc;
};

static void self_cancel_cb(void *arg)
{
    struct self_cancel *s = arg;
    s->runs++;
    s->rc = cio_handle_cancel(s->h);
    CHECK_EQ(cio_handle_cancelled(s->h), 1);
}

static void test_handle_cancel_self(void)
{
    cio_loop *loop = new_loop(1);
    struct self_cancel s = {.loop = loop, .rc = 1};
    CHECK_RC(cio_call_later(loop, 1, self_cancel_cb, &s, &s.h), 0);
    CHECK_RC(cio_call_at(loop, 2, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(s.runs, 1);
    CHECK_RC(s.rc, 0);
    cio_handle_unref(s.h);
    cio_loop_free(loop);
}

/* A handle the user still holds when the loop closes stays valid until
 * released. */
static void test_handle_outlives_close(void)
{
    cio_loop *loop = new_loop(1);
    int n = 0;
    cio_handle *a, *b;
    CHECK_RC(cio_call_soon(loop, count_cb, &n, &a), 0);
    CHECK_RC(cio_call_later(loop, 5, count_cb, &n, &b), 0);
    CHECK_RC(cio_loop_close(loop), 0);
    CHECK_RC(cio_handle_cancel(a), 0);
    CHECK_EQ(cio_handle_cancelled(b), 0);
    cio_handle_unref(a);
    cio_handle_unref(b);
    CHECK_EQ(n, 0);
    cio_loop_free(loop);
}

/* ---- exception handler -------------------------------------------------- */

struct exc_capture {
    int calls;
    cio_loop *loop;
    const char *message;
    int code;
    void *ud;
};

static void exc_handler(cio_loop *loop, const cio_exception_context *c, void *ud)
{
    struct exc_capture *e = ud;
    e->calls++;
    e->loop = loop;
    e->message = c->message;
    e->code = c->code;
    e->ud = ud;
}

static void test_exception_handler(void)
{
    cio_loop *loop = new_loop(0);
    struct exc_capture e = {0};
    cio_exception_context ctx = {.message = "something broke", .code = -EIO,
                                 .error_message = "disk on fire"};
    CHECK_RC(cio_loop_set_exception_handler(NULL, exc_handler, &e), -EINVAL);
    CHECK_RC(cio_loop_set_exception_handler(loop, exc_handler, &e), 0);
    cio_loop_call_exception_handler(loop, &ctx);
    CHECK_EQ(e.calls, 1);
    CHECK(e.loop == loop);
    CHECK(e.ud == &e);
    CHECK(e.message && strcmp(e.message, "something broke") == 0);
    CHECK_EQ(e.code, -EIO);
    cio_loop_call_exception_handler(loop, NULL); /* ignored */
    CHECK_EQ(e.calls, 1);

    /* Default handler: logs at error level, naming message, code and the
     * future's own message. */
    struct test_log *lc = test_log();
    test_log_reset();
    cio_log_set_sink(test_log_sink, NULL);
    CHECK_RC(cio_loop_set_exception_handler(loop, NULL, NULL), 0);
    cio_loop_call_exception_handler(loop, &ctx);
    CHECK_EQ(e.calls, 1);
    CHECK_EQ(lc->total, 1);
    CHECK_EQ(lc->levels[0], CIO_LOG_ERROR);
    CHECK(strstr(lc->lines[0], "something broke") != NULL);
    CHECK(strstr(lc->lines[0], cio_strerror(-EIO)) != NULL);
    CHECK(strstr(lc->lines[0], "disk on fire") != NULL);
    cio_loop_default_exception_handler(loop, &ctx);
    CHECK_EQ(lc->total, 2);
    cio_loop_call_exception_handler(NULL, &ctx); /* no loop: default */
    CHECK_EQ(lc->total, 3);
    cio_loop_default_exception_handler(loop, NULL);
    CHECK_EQ(lc->total, 3);
    cio_log_set_sink(NULL, NULL);
    cio_loop_free(loop);
}

/* ---- settings ------------------------------------------------------------ */

static void test_settings(void)
{
    cio_loop *loop = new_loop(0);
    CHECK_RC(cio_loop_set_debug(loop, 1), 0);
    CHECK_EQ(cio_loop_get_debug(loop), 1);
    CHECK_RC(cio_loop_set_debug(loop, 0), 0);
    CHECK_EQ(cio_loop_get_debug(loop), 0);
    CHECK_RC(cio_loop_set_debug(NULL, 1), -EINVAL);
    CHECK_EQ(cio_loop_get_debug(NULL), 0);

    CHECK_RC(cio_loop_set_slow_callback_duration(loop, 0.05), 0);
    CHECK_RC(cio_loop_set_slow_callback_duration(loop, 0), -EINVAL);
    CHECK_RC(cio_loop_set_slow_callback_duration(loop, -1), -EINVAL);
    CHECK_RC(cio_loop_set_slow_callback_duration(loop, NAN), -EINVAL);
    CHECK_RC(cio_loop_set_slow_callback_duration(NULL, 1), -EINVAL);

    CHECK_RC(cio_loop_set_stack_size(loop, 16 * 1024 - 1), -EINVAL);
    CHECK_RC(cio_loop_set_stack_size(loop, 0), -EINVAL);
    CHECK_RC(cio_loop_set_stack_size(loop, ((size_t)1 << 30) + 1), -EINVAL);
    CHECK_RC(cio_loop_set_stack_size(loop, 16 * 1024), 0);
    CHECK_RC(cio_loop_set_stack_size(loop, 100000), 0); /* rounded up */
    CHECK_RC(cio_loop_set_stack_size(NULL, 65536), -EINVAL);

    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    CHECK(cio_loop_time(loop) == 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 0), 0);
    CHECK(cio_loop_time(loop) > 0);
    CHECK_RC(cio_loop_set_virtual_clock(NULL, 1), -EINVAL);

    /* After the loop first ran, the clock and the stack size are fixed. */
    CHECK_RC(cio_call_soon(loop, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), CIO_ERUNNING);
    CHECK_RC(cio_loop_set_stack_size(loop, 65536), CIO_ERUNNING);
    cio_loop_free(loop);
}

/* The virtual clock only jumps when nothing is ready. */
static void test_virtual_clock(void)
{
    cio_loop *loop = new_loop(1);
    struct when_probe p = {.loop = loop};
    CHECK_RC(cio_call_later(loop, 3600, when_cb, &p, NULL), 0);
    double t0 = test_now();
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK(fabs(p.fired - 3600) < 1e-9);
    CHECK(test_now() - t0 < 5); /* an hour of virtual time, instantly */
    cio_loop_free(loop);
}

/* ---- allocator ----------------------------------------------------------- */

static void test_set_allocator_busy(void)
{
    cio_loop *loop = new_loop(0);
    CHECK_RC(cio_set_allocator(NULL, NULL), CIO_ERUNNING);
    cio_loop_free(loop);
    CHECK_RC(cio_set_allocator(NULL, NULL), 0);
    void *p = cio_malloc(10);
    CHECK(p != NULL);
    cio_free(p);
    cio_free(NULL);
    CHECK(strcmp(cio_version(), "1.0.0") == 0);
}

/* ---- cio_strerror ---------------------------------------------------------- */

static void test_strerror(void)
{
    static const int own[] = {CIO_ENOTASK, CIO_EWRONGTHREAD, CIO_EINVALSTATE, CIO_ECLOSED,
                              CIO_ERUNNING, CIO_ENOLOOP, CIO_ESHUTDOWN, CIO_EEMPTY,
                              CIO_EFULL, CIO_EBROKEN, CIO_ELIMIT, CIO_EINCOMPLETE,
                              CIO_ESTALLED, CIO_ETLS, CIO_EWORKERDIED};
    const size_t n = sizeof own / sizeof own[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = cio_strerror(own[i]);
        CHECK(s && *s && strcmp(s, "unknown error") != 0);
        CHECK(own[i] < -CIO_ERRNO_MAX);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(s, cio_strerror(own[j])) != 0);
    }
    CHECK(strcmp(cio_strerror(0), "success") == 0);
    CHECK(strcmp(cio_strerror(-ECANCELED), strerror(ECANCELED)) == 0);
    CHECK(strcmp(cio_strerror(-ETIMEDOUT), strerror(ETIMEDOUT)) == 0);
    CHECK(strcmp(cio_strerror(-EINVAL), strerror(EINVAL)) == 0);
    for (int e = 1; e < 134; e++)
        CHECK(cio_strerror(-e) != NULL && *cio_strerror(-e));
    CHECK(strcmp(cio_strerror(CIO_EGAIERR + EAI_NONAME), gai_strerror(EAI_NONAME)) == 0);
    CHECK(strcmp(cio_strerror(CIO_EGAIERR + EAI_AGAIN), gai_strerror(EAI_AGAIN)) == 0);
    CHECK(strcmp(cio_strerror(1), "unknown error") == 0);
    CHECK(strcmp(cio_strerror(-4000), "unknown error") == 0);
    CHECK(strcmp(cio_strerror(-5000), "unknown error") == 0);
    CHECK(strcmp(cio_strerror(-1000000), "unknown error") == 0);
    CHECK(strcmp(cio_strerror(INT32_MIN), "unknown error") == 0);
}

int main(void)
{
    RUN(test_new_close_free);
    RUN(test_run_until_complete_closed);
    RUN(test_running_state);
    RUN(test_two_loops_nested);
    RUN(test_stop_semantics);
    RUN(test_run_until_complete);
    RUN(test_call_soon_fifo);
    RUN(test_call_later_order);
    RUN(test_real_clock_timer);
    RUN(test_poll_hook);
    RUN(test_handle_cancel);
    RUN(test_handle_cancel_self);
    RUN(test_handle_outlives_close);
    RUN(test_exception_handler);
    RUN(test_settings);
    RUN(test_virtual_clock);
    RUN(test_set_allocator_busy);
    RUN(test_strerror);
    return test_finish();
}
