/*
 * test_cfuture.c - threads and loops: cio_cfuture waited on, completed and
 * cancelled from plain threads; cio_run_coroutine_threadsafe into loops
 * running in other threads; a task of one loop awaiting a result made on
 * another; cancellation in both directions; loops that close before the
 * work completes (counted allocations: nothing leaks).  Many submitters
 * and the shared executor are test_cfuture_load.c's.  CIO_TEST_THREADS
 * (runs under TSan too).
 */
#include <pthread.h>
#include <unistd.h>

#include "exec/exec.h"
#include "loop/loop.h"
#include "helpers.h"

#include "cfuture_util.h"

/* ---- cio_cfuture alone ------------------------------------------------------- */

struct completer {
    cio_cfuture *cf;
    int delay_ms;
    int status;
    void *result;
    pthread_t self;
};

static void *complete_later(void *arg)
{
    struct completer *c = arg;
    c->self = pthread_self();
    sleep_ms(c->delay_ms);
    CHECK_RC(cio_cfuture_set_result(c->cf, c->status, c->result), 0);
    return NULL;
}

static void *cancel_later(void *arg)
{
    struct completer *c = arg;
    sleep_ms(c->delay_ms);
    CHECK_EQ(cio_cfuture_cancel(c->cf), 1);
    return NULL;
}

struct cb_rec {
    int calls;
    pthread_t thread;
    cio_cfuture *seen;
};

static void record_cb(cio_cfuture *cf, void *arg)
{
    struct cb_rec *r = arg;
    r->thread = pthread_self();
    r->seen = cf;
    ADD(r->calls, 1);
}

static void test_cfuture_basics(void)
{
    cio_cfuture *cf;
    void *r = (void *)1;
    CHECK_RC(cio_cfuture_new(&cf), 0);
    CHECK_EQ(cio_cfuture_done(cf), 0);
    CHECK_RC(cio_cfuture_result(cf, 0, &r), -ETIMEDOUT);
    CHECK(r == NULL);
    double t0 = test_now();
    CHECK_RC(cio_cfuture_result(cf, 0.05, NULL), -ETIMEDOUT);
    CHECK(test_now() - t0 >= 0.045);
    CHECK(cio_cfuture_error_message(cf) == NULL);

    /* Completed by another thread while this one waits without limit;
     * the callback runs on the completing thread. */
    struct cb_rec rec = {0};
    CHECK_RC(cio_cfuture_add_done_callback(cf, record_cb, &rec), 0);
    struct completer c = {.cf = cf, .delay_ms = 20, .status = 0, .result = (void *)42};
    pthread_t th;
    pthread_create(&th, NULL, complete_later, &c);
    CHECK_RC(cio_cfuture_result(cf, -1, &r), 0);
    pthread_join(th, NULL);
    CHECK_EQ((intptr_t)r, 42);
    CHECK_EQ(rec.calls, 1);
    CHECK(pthread_equal(rec.thread, c.self));
    CHECK(rec.seen == cf);
    CHECK(cio_cfuture_done(cf) && !cio_cfuture_cancelled(cf));
    /* Once only. */
    CHECK_RC(cio_cfuture_set_result(cf, 0, NULL), CIO_EINVALSTATE);
    CHECK_RC(cio_cfuture_set_error(cf, -EIO, "x"), CIO_EINVALSTATE);
    CHECK_EQ(cio_cfuture_cancel(cf), 0);
    /* Added when done: runs at once, here. */
    struct cb_rec rec2 = {0};
    CHECK_RC(cio_cfuture_add_done_callback(cf, record_cb, &rec2), 0);
    CHECK_EQ(rec2.calls, 1);
    CHECK(pthread_equal(rec2.thread, pthread_self()));
    cio_cfuture_unref(cf);

    /* A failure with a message. */
    CHECK_RC(cio_cfuture_new(&cf), 0);
    CHECK_RC(cio_cfuture_set_error(cf, -EIO, "disk on fire"), 0);
    CHECK_RC(cio_cfuture_result(cf, 1, &r), -EIO);
    CHECK(r == NULL);
    CHECK(cio_cfuture_error_message(cf) && !strcmp(cio_cfuture_error_message(cf), "disk on fire"));
    cio_cfuture_unref(cf);

    /* Cancelled from another thread while this one waits with a timeout. */
    CHECK_RC(cio_cfuture_new(&cf), 0);
    c = (struct completer){.cf = cf, .delay_ms = 20};
    pthread_create(&th, NULL, cancel_later, &c);
    CHECK_RC(cio_cfuture_result(cf, 5, &r), -ECANCELED);
    pthread_join(th, NULL);
    CHECK(cio_cfuture_cancelled(cf));
    CHECK_EQ(cio_cfuture_cancel(cf), 0);
    cio_cfuture_unref(cf);

    /* Bad arguments: clear codes, no crash. */
    CHECK_RC(cio_cfuture_new(NULL), -EINVAL);
    CHECK_RC(cio_cfuture_result(NULL, 0, &r), -EINVAL);
    CHECK_RC(cio_cfuture_set_result(NULL, 0, NULL), -EINVAL);
    CHECK_RC(cio_cfuture_cancel(NULL), -EINVAL);
    CHECK_RC(cio_cfuture_add_done_callback(NULL, record_cb, NULL), -EINVAL);
    CHECK_EQ(cio_cfuture_done(NULL), 0);
    cio_cfuture_ref(NULL);
    cio_cfuture_unref(NULL);
    CHECK_RC(cio_cfuture_new(&cf), 0);
    CHECK_RC(cio_cfuture_result(cf, 0.0 / 0.0, &r), -EINVAL);
    CHECK_RC(cio_cfuture_set_result(cf, 1, NULL), -EINVAL);
    CHECK_RC(cio_cfuture_set_result(cf, -ECANCELED, NULL), -EINVAL);
    CHECK_RC(cio_cfuture_set_error(cf, 0, NULL), -EINVAL);
    CHECK_RC(cio_cfuture_add_done_callback(cf, NULL, NULL), -EINVAL);
    CHECK_EQ(cio_cfuture_done(cf), 0);
    CHECK_RC(cio_wrap_future(cf, NULL), -EINVAL);
    cio_future *fut;
    CHECK_RC(cio_wrap_future(cf, &fut), CIO_ENOLOOP);
    CHECK_RC(cio_cfuture_await(cf, &r), CIO_ENOTASK);
    cio_cfuture_unref(cf);
}

/* ---- run_coroutine_threadsafe from a plain thread ------------------------------ */

struct job {
    int in;                 /* input */
    pthread_t ran_on;       /* the thread the coroutine ran on */
    int fail;               /* fail with -EIO and a message */
};

static int double_coro(void *arg, void **result)
{
    struct job *j = arg;
    j->ran_on = pthread_self();
    CHECK_RC(cio_sleep(0.001), 0);
    if (j->fail) {
        cio_set_error_message("job %d failed", j->in);
        return -EIO;
    }
    *result = (void *)(intptr_t)(j->in * 2);
    return 0;
}

static void test_run_threadsafe(void)
{
    struct loop_thread lt;
    loop_thread_start(&lt);
    struct job j = {.in = 21};
    cio_cfuture *cf;
    void *r;
    CHECK_RC(cio_run_coroutine_threadsafe(lt.loop, double_coro, &j, &cf), 0);
    CHECK_RC(cio_cfuture_result(cf, 5 * test_timeout_multiplier(), &r), 0);
    CHECK_EQ((intptr_t)r, 42);
    CHECK(pthread_equal(j.ran_on, lt.tid));
    cio_cfuture_unref(cf);

    struct job jf = {.in = 7, .fail = 1};
    CHECK_RC(cio_run_coroutine_threadsafe(lt.loop, double_coro, &jf, &cf), 0);
    CHECK_RC(cio_cfuture_result(cf, -1, &r), -EIO);
    CHECK(cio_cfuture_error_message(cf) &&
          !strcmp(cio_cfuture_error_message(cf), "job 7 failed"));
    cio_cfuture_unref(cf);

    CHECK_RC(cio_run_coroutine_threadsafe(NULL, double_coro, &j, &cf), -EINVAL);
    CHECK_RC(cio_run_coroutine_threadsafe(lt.loop, NULL, &j, &cf), -EINVAL);
    CHECK_RC(cio_run_coroutine_threadsafe(lt.loop, double_coro, &j, NULL), -EINVAL);
    loop_thread_stop(&lt);
}

/* ---- two loops in two threads, results crossing between them ------------------- */

struct relay {
    cio_loop *other;        /* the loop that computes */
    struct job job;
    int awaited;            /* what this loop's task got */
    pthread_t ran_on;
};

/* Runs on loop A: hands the work to loop B and awaits its result. */
static int relay_coro(void *arg, void **result)
{
    struct relay *rl = arg;
    rl->ran_on = pthread_self();
    cio_cfuture *cf;
    int rc = cio_run_coroutine_threadsafe(rl->other, double_coro, &rl->job, &cf);
    if (rc < 0)
        return rc;
    void *r = NULL;
    rc = cio_cfuture_await(cf, &r);
    cio_cfuture_unref(cf);
    if (rc == 0)
        rl->awaited = (int)(intptr_t)r;
    *result = (void *)(intptr_t)(rl->awaited + 1);
    return rc;
}

static void test_two_loops(void)
{
    struct loop_thread a, b;
    loop_thread_start(&a);
    loop_thread_start(&b);
    enum { N = 50 };
    struct relay rl[N];
    cio_cfuture *cf[N];
    for (int i = 0; i < N; i++) {
        /* Alternate directions: A asks B, B asks A. */
        rl[i] = (struct relay){.other = i % 2 ? a.loop : b.loop, .job = {.in = i}};
        CHECK_RC(cio_run_coroutine_threadsafe(i % 2 ? b.loop : a.loop, relay_coro, &rl[i], &cf[i]),
                 0);
    }
    for (int i = 0; i < N; i++) {
        void *r;
        CHECK_RC(cio_cfuture_result(cf[i], 10 * test_timeout_multiplier(), &r), 0);
        CHECK_EQ((intptr_t)r, 2 * i + 1);
        CHECK_EQ(rl[i].awaited, 2 * i);
        /* Relayed on one loop's thread, computed on the other's. */
        pthread_t relay_tid = i % 2 ? b.tid : a.tid, work_tid = i % 2 ? a.tid : b.tid;
        CHECK(pthread_equal(rl[i].ran_on, relay_tid));
        CHECK(pthread_equal(rl[i].job.ran_on, work_tid));
        cio_cfuture_unref(cf[i]);
    }
    loop_thread_stop(&a);
    loop_thread_stop(&b);
}

/* ---- cancellation, both ways ----------------------------------------------------- */

struct sleeper {
    int started;
    int rc;                 /* what its sleep returned */
    int finished;
};

static int sleeper_coro(void *arg, void **result)
{
    struct sleeper *s = arg;
    STORE(s->started, 1);
    int rc = cio_sleep(30);
    STORE(s->rc, rc);
    STORE(s->finished, 1);
    return rc;
}

/* A foreign thread cancels the cio_cfuture: the task is cancelled. */
static void test_cancel_from_thread(void)
{
    struct loop_thread lt;
    loop_thread_start(&lt);
    struct sleeper s = {0};
    cio_cfuture *cf;
    CHECK_RC(cio_run_coroutine_threadsafe(lt.loop, sleeper_coro, &s, &cf), 0);
    CHECK(wait_flag(&s.started));
    CHECK_EQ(cio_cfuture_cancel(cf), 1);
    CHECK_RC(cio_cfuture_result(cf, 0, NULL), -ECANCELED); /* at once */
    CHECK(wait_flag(&s.finished));
    CHECK_RC(LOAD(s.rc), -ECANCELED);
    cio_cfuture_unref(cf);

    /* Cancelled before it could start: the coroutine never runs. */
    struct sleeper s2 = {0};
    struct loop_thread idle;
    CHECK_RC(cio_loop_new(&idle.loop), 0); /* not running yet */
    CHECK_RC(cio_run_coroutine_threadsafe(idle.loop, sleeper_coro, &s2, &cf), 0);
    CHECK_EQ(cio_cfuture_cancel(cf), 1);
    pthread_create(&idle.th, NULL, loop_thread_main, &idle);
    struct sleeper s3 = {0}; /* a later job proves the first was skipped */
    cio_cfuture *cf3;
    CHECK_RC(cio_run_coroutine_threadsafe(idle.loop, sleeper_coro, &s3, &cf3), 0);
    CHECK(wait_flag(&s3.started));
    CHECK_EQ(LOAD(s2.started), 0);
    cio_cfuture_cancel(cf3);
    CHECK(wait_flag(&s3.finished));
    cio_cfuture_unref(cf);
    cio_cfuture_unref(cf3);
    loop_thread_stop(&idle);
    loop_thread_stop(&lt);
}

struct awaiter {
    cio_loop *other;
    struct sleeper s;
    int rc;
    int done;
};

static int await_other_coro(void *arg, void **result)
{
    struct awaiter *aw = arg;
    cio_cfuture *cf;
    int rc = cio_run_coroutine_threadsafe(aw->other, sleeper_coro, &aw->s, &cf);
    if (rc == 0) {
        rc = cio_cfuture_await(cf, NULL);
        cio_cfuture_unref(cf);
    }
    STORE(aw->rc, rc);
    STORE(aw->done, 1);
    return rc;
}

/* A task of loop B awaits work on loop A; B's task is cancelled: the
 * cio_cfuture is cancelled, and so A's task. */
static void test_cancel_from_awaiter(void)
{
    struct loop_thread a, b;
    loop_thread_start(&a);
    loop_thread_start(&b);
    struct awaiter aw = {.other = a.loop};
    cio_cfuture *outer;
    CHECK_RC(cio_run_coroutine_threadsafe(b.loop, await_other_coro, &aw, &outer), 0);
    CHECK(wait_flag(&aw.s.started));
    CHECK_EQ(cio_cfuture_cancel(outer), 1); /* cancels B's task */
    CHECK(wait_flag(&aw.done));
    CHECK_RC(LOAD(aw.rc), -ECANCELED);
    CHECK(wait_flag(&aw.s.finished)); /* A's task was cancelled too */
    CHECK_RC(LOAD(aw.s.rc), -ECANCELED);
    cio_cfuture_unref(outer);
    loop_thread_stop(&a);
    loop_thread_stop(&b);
}

/* ---- wrap_future: a cio_cfuture completed by a plain thread --------------------- */

static int wrap_main(void *arg, void **result)
{
    cio_cfuture *cf;
    CHECK_RC(cio_cfuture_new(&cf), 0);
    struct completer c = {.cf = cf, .delay_ms = 30, .status = 0, .result = (void *)7};
    pthread_t th;
    pthread_create(&th, NULL, complete_later, &c);
    /* Nothing else is pending on the loop: without the loop reference the
     * wrap holds, run_until_complete would report a deadlock. */
    cio_future *fut;
    CHECK_RC(cio_wrap_future(cf, &fut), 0);
    void *r = NULL;
    CHECK_RC(cio_await(fut, &r), 0);
    CHECK_EQ((intptr_t)r, 7);
    cio_future_unref(fut);
    pthread_join(th, NULL);

    /* Already done: the future completes on the next iteration. */
    CHECK_RC(cio_wrap_future(cf, &fut), 0);
    CHECK(!cio_future_done(fut));
    CHECK_RC(cio_await(fut, &r), 0);
    CHECK_EQ((intptr_t)r, 7);
    cio_future_unref(fut);
    cio_cfuture_unref(cf);

    /* Failed with a message; cancelled by a thread. */
    CHECK_RC(cio_cfuture_new(&cf), 0);
    CHECK_RC(cio_wrap_future(cf, &fut), 0);
    CHECK_RC(cio_cfuture_set_error(cf, -EPIPE, "gone"), 0);
    CHECK_RC(cio_await(fut, &r), -EPIPE);
    CHECK(cio_future_error_message(fut) && !strcmp(cio_future_error_message(fut), "gone"));
    cio_future_unref(fut);
    cio_cfuture_unref(cf);

    CHECK_RC(cio_cfuture_new(&cf), 0);
    c = (struct completer){.cf = cf, .delay_ms = 20};
    pthread_create(&th, NULL, cancel_later, &c);
    CHECK_RC(cio_cfuture_await(cf, &r), -ECANCELED);
    pthread_join(th, NULL);
    cio_cfuture_unref(cf);

    /* The loop's future cancelled: cf is cancelled too. */
    CHECK_RC(cio_cfuture_new(&cf), 0);
    CHECK_RC(cio_wrap_future(cf, &fut), 0);
    CHECK_EQ(cio_future_cancel(fut, NULL), 1);
    cio_future_unref(fut);
    CHECK_RC(cio_sleep(0), 0); /* the chain runs as a done callback */
    CHECK(cio_cfuture_cancelled(cf));
    cio_cfuture_unref(cf);
    return 0;
}

static void test_wrap_future(void)
{
    test_alloc_begin(0, 0); /* counts blocks: nothing may leak */
    CHECK_RC(cio_run(wrap_main, NULL, NULL), 0);
    CHECK_EQ(test_alloc_end(), 0);
}

/* ---- loops that close before the work completes ---------------------------------- */

/* Wraps a cio_cfuture and hands the future out, so the test owns it
 * (a task destroyed pending loses what its frame owned). */
struct wrap_only {
    cio_cfuture *cf;
    cio_future *fut;
};

/* A task that awaits a wrapped cio_cfuture: destroyed pending when its
 * loop closes. */
static int wrap_and_wait(void *arg, void **result)
{
    struct wrap_only *w = arg;
    CHECK_RC(cio_wrap_future(w->cf, &w->fut), 0);
    return cio_await(w->fut, NULL);
}

/* Wraps a cio_cfuture and returns. */
static int wrap_only_coro(void *arg, void **result)
{
    struct wrap_only *w = arg;
    return cio_wrap_future(w->cf, &w->fut);
}

static int step_main(void *arg, void **result) { return cio_sleep(0.01); }

/* Runs loop until its tasks so far had time to park. */
static void run_a_little(cio_loop *loop)
{
    cio_task *step;
    CHECK_RC(cio_loop_create_task(loop, step_main, NULL, NULL, &step), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, cio_task_future(step), NULL), 0);
    cio_task_unref(step);
}

struct racer {
    cio_loop *loop;
    struct sleeper s;
    cio_cfuture *cf;
    int rc;
};

static void *racer_main(void *arg)
{
    struct racer *r = arg;
    r->rc = cio_run_coroutine_threadsafe(r->loop, sleeper_coro, &r->s, &r->cf);
    return NULL;
}

static void test_loop_closes_first(void)
{
    /* 1. A task awaits a wrapped cio_cfuture; the loop closes (the task
     *    destroyed pending); a thread completes cf afterwards, and another
     *    completes it racing with the close.  (ASan: nothing of the
     *    freed loop is touched.) */
    cio_cfuture *cf;
    cio_loop *loop;
    pthread_t th;
    test_alloc_begin(0, 0); /* nothing may leak */
    for (int i = 0; i < 20; i++) {
        struct wrap_only w = {0};
        CHECK_RC(cio_cfuture_new(&w.cf), 0);
        CHECK_RC(cio_loop_new(&loop), 0);
        CHECK_RC(cio_loop_create_task(loop, wrap_and_wait, &w, NULL, NULL), 0);
        run_a_little(loop);
        struct completer c = {.cf = w.cf, .delay_ms = i == 0 ? 5 : 0, .result = (void *)1};
        if (i == 0)
            cio_loop_free(loop);
        pthread_create(&th, NULL, complete_later, &c);
        if (i != 0)
            cio_loop_free(loop);
        pthread_join(th, NULL);
        CHECK(cio_cfuture_done(w.cf));
        CHECK(!cio_future_done(w.fut)); /* its loop is gone */
        cio_future_unref(w.fut);
        cio_cfuture_unref(w.cf);
    }

    /* 2. A wrapped cio_cfuture outlives its loop; completed afterwards,
     *    or cancelled afterwards, or completed racing with the close. */
    for (int i = 0; i < 22; i++) {
        struct wrap_only w = {0};
        CHECK_RC(cio_cfuture_new(&w.cf), 0);
        CHECK_RC(cio_loop_new(&loop), 0);
        CHECK_RC(cio_loop_create_task(loop, wrap_only_coro, &w, NULL, NULL), 0);
        run_a_little(loop);
        CHECK(w.fut && !cio_future_done(w.fut));
        struct completer c = {.cf = w.cf, .result = (void *)1};
        if (i >= 2)
            pthread_create(&th, NULL, complete_later, &c);
        CHECK_RC(cio_loop_close(loop), 0);
        cio_future_unref(w.fut);
        cio_loop_free(loop);
        if (i == 0)
            CHECK_RC(cio_cfuture_set_result(w.cf, 0, NULL), 0);
        else if (i == 1)
            CHECK_EQ(cio_cfuture_cancel(w.cf), 1);
        else
            pthread_join(th, NULL);
        cio_cfuture_unref(w.cf);
    }

    /* 3. run_coroutine_threadsafe to a loop that never runs, then closes:
     *    the cio_cfuture completes with CIO_ECLOSED. */
    struct sleeper s = {0};
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_run_coroutine_threadsafe(loop, sleeper_coro, &s, &cf), 0);
    CHECK_RC(cio_loop_close(loop), 0);
    CHECK_RC(cio_cfuture_result(cf, 0, NULL), CIO_ECLOSED);
    CHECK_EQ(s.started, 0);
    cio_cfuture_unref(cf);
    /* Closed: refused at once. */
    CHECK_RC(cio_run_coroutine_threadsafe(loop, sleeper_coro, &s, &cf), CIO_ECLOSED);
    CHECK(cf == NULL);
    cio_loop_free(loop);

    /* 3b. The start was moved to the ready queue but never ran (white box:
     *     the drain step of an iteration, done by hand): the close drops
     *     it from there, with the same outcome. */
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_run_coroutine_threadsafe(loop, sleeper_coro, &s, &cf), 0);
    cio__threadsafe_drain(loop);
    CHECK(!cio_cfuture_done(cf));
    cio_loop_free(loop);
    CHECK_RC(cio_cfuture_result(cf, 0, NULL), CIO_ECLOSED);
    CHECK_EQ(s.started, 0);
    cio_cfuture_unref(cf);

    /* 4. The loop closes with the task pending (its sleep is dropped with
     *    it: sleeper_coro owns nothing). */
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_run_coroutine_threadsafe(loop, sleeper_coro, &s, &cf), 0);
    run_a_little(loop);
    CHECK_EQ(s.started, 1);
    CHECK(!cio_cfuture_done(cf));
    cio_loop_free(loop);
    CHECK_RC(cio_cfuture_result(cf, 0, NULL), CIO_ECLOSED);
    CHECK_EQ(cio_cfuture_cancel(cf), 0); /* reaches no loop */
    cio_cfuture_unref(cf);

    /* 5. Submitted from a thread racing with the close: either refused or
     *    completed with CIO_ECLOSED, never hanging, never leaking. */
    for (int i = 0; i < 20; i++) {
        struct racer r = {0};
        CHECK_RC(cio_loop_new(&r.loop), 0);
        pthread_create(&th, NULL, racer_main, &r);
        if (i % 2)
            sleep_ms(1);
        CHECK_RC(cio_loop_close(r.loop), 0);
        pthread_join(th, NULL); /* the loop stays allocated during the call */
        cio_loop_free(r.loop);
        if (r.rc == 0) {
            CHECK_RC(cio_cfuture_result(r.cf, 1, NULL), CIO_ECLOSED);
            cio_cfuture_unref(r.cf);
        } else {
            CHECK_RC(r.rc, CIO_ECLOSED);
        }
        CHECK_EQ(r.s.started, 0);
    }
    CHECK_EQ(test_alloc_end(), 0);
}

int main(void)
{
    RUN(test_cfuture_basics);
    RUN(test_run_threadsafe);
    RUN(test_two_loops);
    RUN(test_cancel_from_thread);
    RUN(test_cancel_from_awaiter);
    RUN(test_wrap_future);
    RUN(test_loop_closes_first);
    return test_finish();
}
