/*
 * test_gen.c - asynchronous generators and the async iterator interface:
 * iteration, lazy start, errors, aclose with asynchronous cleanup,
 * finalization on release and at the end of cio_run, cancellation of the
 * consumer at each suspension point in turn, misuse, and every allocation
 * failing in turn.  Timers run on the virtual clock.
 */
#include <math.h>

#include "helpers.h"

/* What a counter producer did, for the checks. */
struct counter {
    int limit;        /* yields 0 .. limit-1 */
    double pause;     /* sleep between items */
    int fail_at;      /* return -EIO instead of yielding this item (-1: never) */
    double cleanup;   /* seconds its cleanup sleeps after a close */
    int cleanup_rc;   /* what it returns after a close */
    int started;      /* the body ran */
    int yielded;      /* items handed over */
    int yield_rc;     /* what the last yield returned */
    int cleanup_sleep_rc; /* what the cleanup's sleep returned */
    int cleaned;      /* cleanup finished */
    int ended;        /* body returned */
};

static void counter_init(struct counter *c, int limit)
{
    memset(c, 0, sizeof *c);
    c->limit = limit;
    c->fail_at = -1;
    c->cleanup_sleep_rc = 12345;
}

static int counter_body(cio_gen *g, void *arg)
{
    struct counter *c = arg;
    c->started = 1;
    int rc = 0;
    for (intptr_t i = 0; i < c->limit; i++) {
        if (i == c->fail_at) {
            c->ended = 1;
            return -EIO;
        }
        rc = cio_gen_yield(g, (void *)i);
        c->yield_rc = rc;
        if (rc)
            break;
        c->yielded++;
        if (c->pause > 0 && (rc = cio_sleep(c->pause)) != 0)
            break;
    }
    if (rc) {
        /* Cleanup that itself waits, as `finally: await ...`. */
        if (c->cleanup > 0)
            c->cleanup_sleep_rc = cio_sleep(c->cleanup);
        c->cleaned = 1;
        c->ended = 1;
        if (rc == CIO_ECLOSED)
            return c->cleanup_rc;
        return rc;
    }
    c->ended = 1;
    return 0;
}

/* A generator over the counter c (checked); NULL if it could not be made. */
static cio_gen *counter_gen(struct counter *c)
{
    cio_gen *g = NULL;
    CHECK_RC(cio_gen_new(counter_body, c, "counter", &g), 0);
    return g;
}

/* ---- iteration ------------------------------------------------------- */

static int iterate_main(void *arg, void **result)
{
    struct counter c;
    counter_init(&c, 5);
    c.pause = 0.1;
    cio_gen *g = counter_gen(&c);
    CHECK_RC(cio_sleep(0), 0);
    CHECK_EQ(c.started, 0); /* lazy: nothing runs before the first next */
    double t0 = cio_loop_time(cio_get_running_loop());
    void *v;
    int rc, n = 0;
    CIO_FOR(cio_gen_aiter(g), v, rc) {
        CHECK_EQ((intptr_t)v, n);
        n++;
    }
    CHECK_RC(rc, CIO_ITER_END);
    CHECK_EQ(n, 5);
    CHECK(fabs(cio_loop_time(cio_get_running_loop()) - t0 - 0.5) < 1e-6);
    CHECK(cio_gen_finished(g));
    CHECK_RC(cio_gen_next(g, &v), CIO_ITER_END);
    CHECK(v == NULL);
    CHECK_RC(cio_gen_aclose(g), 0);
    cio_gen_unref(g);
    return 0;
}

static void test_iterate(void) { CHECK_RC(test_run_virtual(iterate_main, NULL), 0); }

static int error_main(void *arg, void **result)
{
    struct counter c;
    counter_init(&c, 5);
    c.fail_at = 2;
    cio_gen *g;
    CHECK_RC(cio_gen_new(counter_body, &c, NULL, &g), 0);
    void *v;
    int rc, n = 0;
    CIO_FOR(cio_gen_aiter(g), v, rc)
        n++;
    CHECK_RC(rc, -EIO);
    CHECK_EQ(n, 2);
    /* The error is reported once, then the generator is exhausted. */
    CHECK_RC(cio_gen_next(g, &v), CIO_ITER_END);
    cio_gen_unref(g);
    return 0;
}

static void test_error(void) { CHECK_RC(test_run_virtual(error_main, NULL), 0); }

/* A value may point into the producer's stack: valid until the next call. */
static int stack_body(cio_gen *g, void *arg)
{
    char buf[32];
    for (int i = 0; i < 3; i++) {
        snprintf(buf, sizeof buf, "item-%d", i);
        if (cio_gen_yield(g, buf))
            return 0;
    }
    return 0;
}

static int stack_main(void *arg, void **result)
{
    cio_gen *g;
    CHECK_RC(cio_gen_new(stack_body, NULL, "stack", &g), 0);
    void *v;
    int rc, n = 0;
    CIO_FOR(cio_gen_aiter(g), v, rc) {
        char want[32];
        snprintf(want, sizeof want, "item-%d", n++);
        CHECK(strcmp(v, want) == 0);
        CHECK_RC(cio_sleep(0), 0); /* other tasks run; the value stays */
        CHECK(strcmp(v, want) == 0);
    }
    CHECK_RC(rc, CIO_ITER_END);
    CHECK_EQ(n, 3);
    cio_gen_unref(g);
    return 0;
}

static void test_stack_values(void) { CHECK_RC(test_run_virtual(stack_main, NULL), 0); }

/* ---- closing ----------------------------------------------------------- */

static int aclose_main(void *arg, void **result)
{
    struct counter c;
    counter_init(&c, 100);
    c.cleanup = 1.0;
    cio_gen *g = counter_gen(&c);
    void *v;
    int rc;
    CIO_FOR(cio_gen_aiter(g), v, rc) {
        if ((intptr_t)v == 2)
            break;
    }
    CHECK_RC(rc, 0);
    double t0 = cio_loop_time(cio_get_running_loop());
    CHECK_RC(cio_aiter_aclose(cio_gen_aiter(g)), 0);
    /* aclose waited for the asynchronous cleanup. */
    CHECK_EQ(c.yield_rc, CIO_ECLOSED);
    CHECK_EQ(c.cleanup_sleep_rc, 0);
    CHECK_EQ(c.cleaned, 1);
    CHECK(fabs(cio_loop_time(cio_get_running_loop()) - t0 - 1.0) < 1e-6);
    CHECK(cio_gen_finished(g));
    CHECK_RC(cio_gen_next(g, &v), CIO_ITER_END);
    CHECK_RC(cio_gen_aclose(g), 0);
    cio_gen_unref(g);

    /* A cleanup that fails: aclose reports it. */
    counter_init(&c, 100);
    c.cleanup_rc = -EPIPE;
    g = counter_gen(&c);
    CHECK_RC(cio_gen_next(g, &v), 0);
    CHECK_RC(cio_gen_aclose(g), -EPIPE);
    CHECK_RC(cio_gen_next(g, &v), CIO_ITER_END);
    cio_gen_unref(g);

    /* Closing before the start: the body never runs. */
    counter_init(&c, 3);
    g = counter_gen(&c);
    CHECK_RC(cio_gen_aclose(g), 0);
    CHECK_RC(cio_gen_next(g, &v), CIO_ITER_END);
    CHECK_EQ(c.started, 0);
    cio_gen_unref(g);
    return 0;
}

static void test_aclose(void) { CHECK_RC(test_run_virtual(aclose_main, NULL), 0); }

/* An `async for` that ends with an error is not always a finished
 * producer: a consumer cancelled in its loop body gets -ECANCELED from the
 * next next() without the producer being resumed, so it still sits at its
 * yield.  The rule the docs give - aclose unless rc == CIO_ITER_END - is
 * what runs its cleanup (aclose from a cancelled task still closes, and
 * waits).  After CIO_ITER_END aclose is a no-op. */
static int error_exit_consumer(void *arg, void **result)
{
    struct counter *c = arg;
    cio_gen *g = counter_gen(c);
    cio_aiter *it = cio_gen_aiter(g);
    void *v;
    int rc;
    CIO_FOR(it, v, rc) {
        if ((intptr_t)v == 1)
            cio_task_cancel(cio_current_task(), NULL); /* e.g. a timeout fired */
    }
    CHECK_RC(rc, -ECANCELED);
    CHECK(!cio_gen_finished(g)); /* the producer did not finish */
    CHECK_EQ(c->cleaned, 0);
    if (rc != CIO_ITER_END)
        CHECK_RC(cio_aiter_aclose(it), -ECANCELED); /* closes it all the same */
    CHECK(cio_gen_finished(g));
    CHECK_EQ(c->cleaned, 1);
    cio_gen_unref(g);
    return 0;
}

static int error_exit_main(void *arg, void **result)
{
    struct counter c;
    counter_init(&c, 100);
    cio_task *t;
    CHECK_RC(cio_create_task(error_exit_consumer, &c, "consumer", &t), 0);
    cio_task_await(t, NULL);
    CHECK_EQ(c.cleaned, 1);
    cio_task_unref(t);

    /* Exhausted: aclose does nothing and returns 0. */
    counter_init(&c, 2);
    cio_gen *g = counter_gen(&c);
    void *v;
    int rc;
    CIO_FOR(cio_gen_aiter(g), v, rc) {
    }
    CHECK_RC(rc, CIO_ITER_END);
    CHECK_RC(cio_aiter_aclose(cio_gen_aiter(g)), 0);
    cio_gen_unref(g);
    return 0;
}

static void test_aclose_after_error(void)
{
    CHECK_RC(test_run_virtual(error_exit_main, NULL), 0);
}

/* Released without aclose: the cleanup runs in the background. */
static int bg_errors;
static void count_handler(cio_loop *loop, const cio_exception_context *ctx, void *ud)
{
    if (ctx->code == -EPIPE && strstr(ctx->message, "asynchronous generator"))
        bg_errors++;
}

static int release_main(void *arg, void **result)
{
    cio_loop_set_exception_handler(cio_get_running_loop(), count_handler, NULL);
    struct counter c;
    counter_init(&c, 100);
    c.cleanup = 2.0;
    cio_gen *g = counter_gen(&c);
    void *v;
    CHECK_RC(cio_gen_next(g, &v), 0);
    CHECK_RC(cio_gen_next(g, &v), 0);
    cio_gen_unref(g);
    CHECK_RC(cio_sleep(0), 0);
    CHECK_EQ(c.yield_rc, CIO_ECLOSED);
    CHECK_EQ(c.cleaned, 0); /* still in its cleanup's sleep */
    CHECK_RC(cio_sleep(3.0), 0);
    CHECK_EQ(c.cleanup_sleep_rc, 0);
    CHECK_EQ(c.cleaned, 1);

    /* A background cleanup that fails goes to the exception handler. */
    counter_init(&c, 100);
    c.cleanup_rc = -EPIPE;
    g = counter_gen(&c);
    CHECK_RC(cio_gen_next(g, &v), 0);
    cio_gen_unref(g);
    CHECK_RC(cio_sleep(0.1), 0);
    CHECK_EQ(bg_errors, 1);

    /* Released before it started, and extra references. */
    g = counter_gen(&c);
    cio_gen_ref(g);
    cio_gen_unref(g);
    cio_gen_unref(g);
    cio_gen_unref(NULL);
    return 0;
}

static void test_release(void) { CHECK_RC(test_run_virtual(release_main, NULL), 0); }

/* The end of cio_run cancels a producer still suspended at a yield whose
 * consumer is another task; both unwind before the loop closes. */
static struct counter shutdown_c;
static int shutdown_consumer_rc;

static int shutdown_consumer(void *arg, void **result)
{
    cio_gen *g = arg;
    void *v;
    CHECK_RC(cio_gen_next(g, &v), 0);
    shutdown_consumer_rc = cio_sleep(100);
    cio_gen_unref(g); /* cancelled: no aclose, just drop it */
    return shutdown_consumer_rc;
}

static int shutdown_main(void *arg, void **result)
{
    counter_init(&shutdown_c, 10);
    shutdown_c.cleanup = 1.0;
    cio_gen *g;
    CHECK_RC(cio_gen_new(counter_body, &shutdown_c, "counter", &g), 0);
    CHECK_RC(cio_create_task(shutdown_consumer, g, "consumer", NULL), 0);
    CHECK_RC(cio_sleep(1), 0);
    return 0;
}

static void test_shutdown(void)
{
    CHECK_RC(test_run_virtual(shutdown_main, NULL), 0);
    CHECK_EQ(shutdown_consumer_rc, -ECANCELED);
    CHECK_EQ(shutdown_c.cleaned, 1);
    CHECK(shutdown_c.yield_rc == -ECANCELED || shutdown_c.yield_rc == CIO_ECLOSED);
    /* Its cleanup's sleep returns -ECANCELED at once: the task is cancelled. */
    CHECK_EQ(shutdown_c.cleanup_sleep_rc, -ECANCELED);
}

/* A loop closed by hand without draining its tasks destroys a suspended
 * producer; releasing the generator afterwards (before freeing the loop)
 * frees everything. */
static cio_gen *kept_gen;
static struct counter kept_c;

static int keep_main(void *arg, void **result)
{
    counter_init(&kept_c, 10);
    CHECK_RC(cio_gen_new(counter_body, &kept_c, "counter", &kept_gen), 0);
    void *v;
    CHECK_RC(cio_gen_next(kept_gen, &v), 0);
    return 0; /* returns holding the generator, producer suspended */
}

static void test_loop_closed_under_generator(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, keep_main, NULL, "main", &t), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, cio_task_future(t), NULL), 0);
    cio_task_unref(t);
    CHECK_RC(cio_loop_close(loop), 0); /* no drain: the producer is destroyed */
    CHECK(!cio_gen_finished(kept_gen));
    CHECK_EQ(kept_c.cleaned, 0); /* a destroyed task never runs its cleanup */
    cio_gen_unref(kept_gen);   /* frees the generator and the task */
    cio_loop_free(loop);
}

/* ---- cancellation at each suspension point ---------------------------- */

struct cancel_case {
    struct counter c;
    cio_gen *g;
    int items;        /* items the consumer received */
    int next_rc;      /* what ended its loop */
    int close_rc;     /* what its aclose returned */
    int closing;      /* it was inside aclose */
    double at;        /* when main cancels the consumer (< 0: never) */
};

/* Consumer: takes items with a pause, closes after 3 (cleanup 1 s). */
static int cancel_consumer(void *arg, void **result)
{
    struct cancel_case *k = arg;
    void *v;
    int rc;
    CIO_FOR(cio_gen_aiter(k->g), v, rc) {
        CHECK_EQ((intptr_t)v, k->items);
        k->items++;
        if (k->items == 3)
            break;
        if ((rc = cio_sleep(0.25)) != 0)
            break;
    }
    k->next_rc = rc;
    k->closing = 1;
    k->close_rc = cio_gen_aclose(k->g);
    /* Whatever happened, the producer has finished now. */
    CHECK(cio_gen_finished(k->g));
    CHECK(k->c.ended || !k->c.started);
    return k->close_rc;
}

static int cancel_main(void *arg, void **result)
{
    struct cancel_case *k = arg;
    double at = k->at;
    cio_task *t;
    CHECK_RC(cio_gen_new(counter_body, &k->c, "counter", &k->g), 0);
    CHECK_RC(cio_create_task(cancel_consumer, k, "consumer", &t), 0);
    if (at >= 0) {
        CHECK_RC(cio_sleep(at), 0);
        cio_task_cancel(t, NULL);
    }
    cio_task_await(t, NULL);
    CHECK(cio_task_done(t));
    cio_task_unref(t);
    cio_gen_unref(k->g);
    return 0;
}

static void test_cancel_each_point(void)
{
    /* The producer pauses 0.5 s per item, the consumer 0.25 s, the cleanup
     * 1 s: cancelling every 1/16 s hits each wait of both sides (next
     * waiting for the producer, the consumer's own sleep, aclose waiting
     * for the cleanup) and the moments in between. */
    int before = test_failures;
    for (int step = -1; step <= 80; step++) {
        struct cancel_case k;
        memset(&k, 0, sizeof k);
        counter_init(&k.c, 10);
        k.c.pause = 0.5;
        k.c.cleanup = 1.0;
        double at = k.at = step < 0 ? -1 : step * 0.0625;
        CHECK_RC(test_run_virtual(cancel_main, &k), 0);
        /* The producer always finished and ran its cleanup if closed early. */
        CHECK(k.c.ended || !k.c.started);
        if (step < 0 || at > 3.0) {
            CHECK_EQ(k.items, 3);
            CHECK_RC(k.close_rc, 0);
        } else {
            CHECK(k.c.cleaned || k.c.yield_rc == 0);
            CHECK(k.close_rc == 0 || k.close_rc == -ECANCELED);
        }
        /* Closed by aclose without a cancellation: the cleanup ran whole.
         * Cancelled: the producer was cancelled too, and its cleanup's
         * sleep (if it got there) was cut short. */
        if (k.closing && k.next_rc == 0 && k.close_rc == 0)
            CHECK_EQ(k.c.cleanup_sleep_rc, 0);
        /* (Odd steps fall between events; on even ones a wake-up and the
         * cancellation may land in the same instant, either order.) */
        if ((step & 1) && (k.next_rc == -ECANCELED || k.close_rc == -ECANCELED))
            CHECK(k.c.cleanup_sleep_rc == -ECANCELED || k.c.cleanup_sleep_rc == 12345);
        if (test_failures != before) {
            fprintf(stderr, "  (cancel at %.3f s: items %d next %d close %d)\n", at, k.items,
                    k.next_rc, k.close_rc);
            break;
        }
    }
}

static void cancel_cb(void *task) { cio_task_cancel(task, NULL); }

/* Cancelled while waiting in next: the producer is cancelled with it. */
static int cancel_next_main(void *arg, void **result)
{
    struct counter c;
    counter_init(&c, 10);
    c.pause = 5.0;
    cio_gen *g = counter_gen(&c);
    void *v;
    CHECK_RC(cio_gen_next(g, &v), 0);
    /* Another task cancels us while the producer sleeps before item 1. */
    cio_task *self = cio_current_task();
    cio_loop *loop = cio_get_running_loop();
    cio_handle *h;
    CHECK_RC(cio_call_later(loop, 1.0, cancel_cb, self, &h), 0);
    CHECK_RC(cio_gen_next(g, &v), -ECANCELED);
    CHECK(cio_gen_finished(g));
    CHECK_EQ(c.cleanup_sleep_rc, 12345); /* its pause sleep was interrupted */
    CHECK(c.ended);
    cio_handle_unref(h);
    /* Still cancelled (level-triggered): aclose closes anyway, at once. */
    CHECK_RC(cio_gen_aclose(g), 0);
    cio_gen_unref(g);
    return 0;
}

static void test_cancel_next(void) { CHECK_RC(test_run_virtual(cancel_next_main, NULL), 0); }

/* A producer that, once cancelled, still yields one last value inside a
 * shield: the interrupted consumer's next returns -ECANCELED, and the value
 * is not lost: the next call (shielded) gets it at once. */
static int last_words_body(cio_gen *g, void *arg)
{
    int rc = cio_gen_yield(g, (void *)1);
    if (rc)
        return rc;
    rc = cio_sleep(5.0); /* the consumer is cancelled meanwhile */
    CHECK_RC(rc, -ECANCELED);
    cio_shield_begin();
    rc = cio_gen_yield(g, (void *)2);
    cio_shield_end();
    CHECK_RC(rc, 0);
    return 0;
}

static int last_words_main(void *arg, void **result)
{
    cio_gen *g;
    CHECK_RC(cio_gen_new(last_words_body, NULL, "last-words", &g), 0);
    void *v;
    CHECK_RC(cio_gen_next(g, &v), 0);
    cio_handle *h;
    CHECK_RC(cio_call_later(cio_get_running_loop(), 1.0, cancel_cb, cio_current_task(), &h), 0);
    CHECK_RC(cio_gen_next(g, &v), -ECANCELED);
    cio_handle_unref(h);
    CHECK(!cio_gen_finished(g));
    cio_shield_begin();
    CHECK_RC(cio_gen_next(g, &v), 0); /* the pending value, without a switch */
    CHECK_EQ((intptr_t)v, 2);
    CHECK_RC(cio_gen_next(g, &v), CIO_ITER_END);
    cio_shield_end();
    cio_gen_unref(g);
    return 0;
}

static void test_pending_value(void) { CHECK_RC(test_run_virtual(last_words_main, NULL), 0); }

/* A timeout scope that expires while the consumer waits in next: next
 * returns -ETIMEDOUT and the producer, cancelled, has finished. */
static int timeout_main(void *arg, void **result)
{
    struct counter c;
    counter_init(&c, 10);
    c.pause = 5.0;
    cio_gen *g = counter_gen(&c);
    void *v;
    cio_timeout *tm;
    CHECK_RC(cio_timeout_begin(1.0, &tm), 0);
    CHECK_RC(cio_gen_next(g, &v), 0);
    CHECK_RC(cio_gen_next(g, &v), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK(fabs(cio_loop_time(cio_get_running_loop()) - 1.0) < 1e-9);
    CHECK(cio_gen_finished(g));
    CHECK(c.ended);
    CHECK_RC(cio_gen_next(g, &v), CIO_ITER_END);
    cio_gen_unref(g);
    return 0;
}

static void test_timeout(void) { CHECK_RC(test_run_virtual(timeout_main, NULL), 0); }

/* Cancelled right after starting the producer: the task never ran. */
static int cancel_unstarted_main(void *arg, void **result)
{
    struct counter c;
    counter_init(&c, 3);
    cio_gen *g = counter_gen(&c);
    cio_task_cancel(cio_current_task(), NULL); /* before next: at its checkpoint */
    void *v;
    CHECK_RC(cio_gen_next(g, &v), -ECANCELED);
    CHECK_EQ(c.started, 0);
    cio_gen_unref(g);
    return 0;
}

static void test_cancel_unstarted(void)
{
    CHECK_RC(test_run_virtual(cancel_unstarted_main, NULL), 0);
}

/* ---- misuse ------------------------------------------------------------ */

static int busy_body(cio_gen *g, void *arg)
{
    void *v;
    CHECK_RC(cio_gen_next(g, &v), -EBUSY); /* from its own producer */
    CHECK_RC(cio_sleep(1.0), 0);
    return cio_gen_yield(g, (void *)1) == CIO_ECLOSED ? 0 : -EIO;
}

static int busy_other(void *arg, void **result)
{
    void *v;
    CHECK_RC(cio_gen_next(arg, &v), -EBUSY); /* a next is in progress */
    CHECK_RC(cio_gen_aclose(arg), -EBUSY);
    CHECK_RC(cio_gen_yield(arg, NULL), -EINVAL); /* not its producer */
    return 0;
}

static int misuse_main(void *arg, void **result)
{
    cio_gen *g;
    CHECK_RC(cio_gen_new(NULL, NULL, NULL, &g), -EINVAL);
    CHECK_RC(cio_gen_new(busy_body, NULL, NULL, NULL), -EINVAL);
    CHECK_RC(cio_gen_new(busy_body, NULL, NULL, &g), 0);
    CHECK_RC(cio_gen_next(NULL, NULL), -EINVAL);
    CHECK_RC(cio_gen_next(g, NULL), -EINVAL);
    CHECK_RC(cio_gen_yield(NULL, NULL), -EINVAL);
    CHECK_RC(cio_gen_aclose(NULL), -EINVAL);
    CHECK(cio_gen_aiter(NULL) == NULL);
    CHECK_RC(cio_aiter_next(NULL, NULL), -EINVAL);
    CHECK_RC(cio_aiter_aclose(NULL), -EINVAL);
    CHECK_RC(cio_aiter_init(NULL, NULL, NULL), -EINVAL);
    cio_task *t;
    CHECK_RC(cio_create_task(busy_other, g, "other", &t), 0);
    void *v;
    CHECK_RC(cio_gen_next(g, &v), 0);
    CHECK_EQ((intptr_t)v, 1);
    CHECK_RC(cio_task_await(t, NULL), 0);
    cio_task_unref(t);
    CHECK_RC(cio_gen_aclose(g), 0);
    cio_gen_unref(g);
    return 0;
}

static void test_misuse(void)
{
    CHECK_RC(test_run_virtual(misuse_main, NULL), 0);
    /* Outside a task. */
    cio_gen *g;
    CHECK_RC(cio_gen_new(busy_body, NULL, NULL, &g), 0);
    void *v;
    CHECK_RC(cio_gen_next(g, &v), CIO_ENOTASK);
    CHECK_RC(cio_gen_yield(g, NULL), CIO_ENOTASK);
    CHECK_RC(cio_gen_aclose(g), 0); /* never started: nothing to wait for */
    cio_gen_unref(g);
}

/* A generator started on one loop cannot be driven from another. */
static cio_gen *xloop_gen;
static int xloop_start(void *arg, void **result)
{
    void *v;
    CHECK_RC(cio_gen_next(xloop_gen, &v), 0);
    return 0;
}

static int xloop_other(void *arg, void **result)
{
    void *v;
    CHECK_RC(cio_gen_next(xloop_gen, &v), -EINVAL);
    CHECK_RC(cio_gen_aclose(xloop_gen), -EINVAL);
    return 0;
}

static int xloop_close(void *arg, void **result)
{
    CHECK_RC(cio_gen_aclose(xloop_gen), 0);
    return 0;
}

static void run_on(cio_loop *loop, cio_coro_fn *fn)
{
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, fn, NULL, NULL, &t), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, cio_task_future(t), NULL), 0);
    cio_task_unref(t);
}

static void test_other_loop(void)
{
    struct counter c;
    counter_init(&c, 10);
    CHECK_RC(cio_gen_new(counter_body, &c, "counter", &xloop_gen), 0);
    cio_loop *a, *b;
    CHECK_RC(cio_loop_new(&a), 0);
    CHECK_RC(cio_loop_new(&b), 0);
    run_on(a, xloop_start);
    run_on(b, xloop_other);
    run_on(a, xloop_close);
    CHECK(c.cleaned);
    cio_gen_unref(xloop_gen);
    cio_loop_free(b);
    cio_loop_free(a);
}

/* ---- a hand-written iterator through the interface ---------------------- */

struct countdown {
    cio_aiter it;
    int left;
    int closed;
};

static int countdown_next(void *self, void **value)
{
    struct countdown *c = self;
    if (c->closed || c->left == 0)
        return CIO_ITER_END;
    int rc = cio_sleep(0.01);
    if (rc)
        return rc;
    *value = (void *)(intptr_t)c->left--;
    return 0;
}

static int countdown_aclose(void *self)
{
    ((struct countdown *)self)->closed = 1;
    return 0;
}

static const cio_aiter_ops countdown_ops = {countdown_next, countdown_aclose};
static const cio_aiter_ops next_only_ops = {countdown_next, NULL};

static int aiter_main(void *arg, void **result)
{
    struct countdown c = {.left = 3};
    CHECK_RC(cio_aiter_init(&c.it, &countdown_ops, &c), 0);
    void *v;
    int rc, sum = 0;
    CIO_FOR(&c.it, v, rc)
        sum += (int)(intptr_t)v;
    CHECK_RC(rc, CIO_ITER_END);
    CHECK_EQ(sum, 6);
    c.left = 5;
    CHECK_RC(cio_aiter_next(&c.it, &v), 0);
    CHECK_RC(cio_aiter_aclose(&c.it), 0);
    CHECK_RC(cio_aiter_next(&c.it, &v), CIO_ITER_END);
    CHECK_RC(cio_aiter_init(&c.it, &next_only_ops, &c), 0);
    CHECK_RC(cio_aiter_aclose(&c.it), 0);
    return 0;
}

static void test_aiter(void) { CHECK_RC(test_run_virtual(aiter_main, NULL), 0); }

/* ---- allocation failures ----------------------------------------------- */

static int alloc_main(void *arg, void **result)
{
    struct counter *c = arg;
    cio_gen *g;
    int rc = cio_gen_new(counter_body, c, "counter", &g);
    if (rc)
        return rc;
    void *v;
    int n = 0;
    for (;;) {
        rc = cio_gen_next(g, &v);
        if (rc == -ENOMEM && !c->started)
            continue; /* the producer could not start: try again */
        if (rc)
            break;
        n++;
    }
    /* The producer may have failed to get its stack (-ENOMEM) or a sleep
     * its timer; anything else is a bug. */
    if (rc != CIO_ITER_END && rc != -ENOMEM)
        CHECK_RC(rc, CIO_ITER_END);
    cio_gen_aclose(g);
    cio_gen_unref(g);
    return rc == CIO_ITER_END ? 0 : rc;
}

static int alloc_run(long n, void *arg)
{
    struct counter c;
    counter_init(&c, 4);
    c.pause = 0.5;
    return test_run_virtual(alloc_main, &c);
}

static void test_alloc_failures(void) { test_alloc_sweep(alloc_run, NULL, 10001, TEST_ALLOC_ENOMEM); }

int main(void)
{
    RUN(test_iterate);
    RUN(test_error);
    RUN(test_stack_values);
    RUN(test_aclose);
    RUN(test_aclose_after_error);
    RUN(test_release);
    RUN(test_shutdown);
    RUN(test_loop_closed_under_generator);
    RUN(test_cancel_each_point);
    RUN(test_cancel_next);
    RUN(test_cancel_unstarted);
    RUN(test_pending_value);
    RUN(test_timeout);
    RUN(test_misuse);
    RUN(test_other_loop);
    RUN(test_aiter);
    RUN(test_alloc_failures);
    return test_finish();
}
