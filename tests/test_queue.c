/*
 * test_queue.c - FIFO, LIFO and priority queues: asyncio's behaviour
 * (translated from CPython's Lib/test/test_asyncio/test_queues.py where it
 * applies), FIFO fairness among waiters, cancellation of getters and
 * putters (no item lost or duplicated), errors, and allocation failures.
 * Timed waits run on the virtual clock.  Shutdown and cancellation at
 * every step are in test_queue_shutdown.c.
 *
 * Divided into: basics; get; put; join; allocation failures.
 */
#include "queue_util.h"

/* ---- basics ------------------------------------------------------------ */

static int cmp_int(const void *a, const void *b, void *ud)
{
    int x = P2I(a), y = P2I(b);
    return (x > y) - (x < y);
}

/* Orders by tens only, so ties show the arrival order. */
static int cmp_tens(const void *a, const void *b, void *ud)
{
    return cmp_int(I2P(P2I(a) / 10), I2P(P2I(b) / 10), ud);
}

static int basics_main(void *arg, void **res)
{
    cio_queue *q;
    void *it;
    /* test_empty, test_full, test_maxsize */
    CHECK_RC(cio_queue_new(NULL, 2, &q), 0);
    CHECK_EQ(cio_queue_empty(q), 1);
    CHECK_EQ(cio_queue_full(q), 0);
    CHECK_EQ(cio_queue_maxsize(q), 2);
    CHECK_RC(cio_queue_get_nowait(q, &it), CIO_EEMPTY);
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    CHECK_EQ(cio_queue_empty(q), 0);
    CHECK_RC(cio_queue_put(q, I2P(2)), 0);
    CHECK_EQ(cio_queue_full(q), 1);
    CHECK_EQ(cio_queue_qsize(q), 2);
    CHECK_RC(cio_queue_put_nowait(q, I2P(3)), CIO_EFULL);
    CHECK_EQ(cio_queue_qsize(q), 2);
    CHECK_RC(cio_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 1);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 2);
    cio_queue_free(q);
    /* test_order: FIFO, growing an unbounded ring across wrap-around */
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < round % 7 + 1; i++)
            CHECK_RC(cio_queue_put_nowait(q, I2P(next_in++)), 0);
        for (int i = 0; i < round % 5 + 1 && cio_queue_qsize(q); i++) {
            CHECK_RC(cio_queue_get_nowait(q, &it), 0);
            CHECK_EQ(P2I(it), next_out++);
        }
    }
    while (cio_queue_get_nowait(q, &it) == 0)
        CHECK_EQ(P2I(it), next_out++);
    CHECK_EQ(next_in, next_out);
    CHECK_EQ(cio_queue_full(q), 0); /* unbounded: never full */
    cio_queue_free(q);
    /* LifoQueue test_order */
    int in[] = {1, 3, 2};
    CHECK_RC(cio_lifo_queue_new(NULL, 0, &q), 0);
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_queue_put(q, I2P(in[i])), 0);
    int lifo[] = {2, 3, 1};
    for (int i = 0; i < 3; i++) {
        CHECK_RC(cio_queue_get(q, &it), 0);
        CHECK_EQ(P2I(it), lifo[i]);
    }
    cio_queue_free(q);
    /* PriorityQueue test_order, and ties in arrival order */
    CHECK_RC(cio_priority_queue_new(NULL, 0, cmp_int, NULL, &q), 0);
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_queue_put(q, I2P(in[i])), 0);
    for (int i = 1; i <= 3; i++) {
        CHECK_RC(cio_queue_get(q, &it), 0);
        CHECK_EQ(P2I(it), i);
    }
    cio_queue_free(q);
    CHECK_RC(cio_priority_queue_new(NULL, 0, cmp_tens, NULL, &q), 0);
    int tie_in[] = {31, 10, 32, 11, 20, 12, 33, 0};
    for (int i = 0; i < 8; i++)
        CHECK_RC(cio_queue_put_nowait(q, I2P(tie_in[i])), 0);
    int tie_out[] = {0, 10, 11, 12, 20, 31, 32, 33};
    for (int i = 0; i < 8; i++) {
        CHECK_RC(cio_queue_get_nowait(q, &it), 0);
        CHECK_EQ(P2I(it), tie_out[i]);
    }
    /* a larger random-ish run keeps heap order */
    unsigned x = 12345;
    for (int i = 0; i < 500; i++) {
        x = x * 1103515245u + 12345u;
        CHECK_RC(cio_queue_put_nowait(q, I2P((int)(x >> 16) % 1000)), 0);
    }
    int prev = -1;
    for (int i = 0; i < 500; i++) {
        CHECK_RC(cio_queue_get_nowait(q, &it), 0);
        CHECK(P2I(it) / 10 >= prev / 10);
        prev = P2I(it);
    }
    cio_queue_free(q);
    /* bad arguments */
    CHECK_RC(cio_queue_new(NULL, 0, NULL), -EINVAL);
    CHECK_RC(cio_priority_queue_new(NULL, 0, NULL, NULL, &q), -EINVAL);
    CHECK_RC(cio_queue_put(NULL, NULL), -EINVAL);
    CHECK_RC(cio_queue_get(NULL, &it), -EINVAL);
    CHECK_RC(cio_queue_put_nowait(NULL, NULL), -EINVAL);
    CHECK_RC(cio_queue_get_nowait(NULL, &it), -EINVAL);
    CHECK_RC(cio_queue_task_done(NULL), -EINVAL);
    CHECK_RC(cio_queue_join(NULL), -EINVAL);
    CHECK_RC(cio_queue_shutdown(NULL, 0), -EINVAL);
    CHECK_RC(cio_queue_set_discard(NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(cio_queue_qsize(NULL), 0);
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    CHECK_RC(cio_queue_get(q, NULL), -EINVAL);
    CHECK_RC(cio_queue_get_nowait(q, NULL), -EINVAL);
    cio_queue_free(q);
    cio_queue_free(NULL);
    return 0;
}

static void basics(void)
{
    CHECK_RC(test_run_virtual(basics_main, NULL), 0);
    /* outside a task: the nowait calls work, the waiting ones cannot */
    cio_queue *q;
    void *it;
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(5)), 0);
    CHECK_RC(cio_queue_put(q, I2P(6)), CIO_ENOTASK);
    CHECK_RC(cio_queue_get(q, &it), CIO_ENOTASK);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 5);
    cio_queue_free(q);
}

/* ---- get ------------------------------------------------------------- */

/* test_blocking_get_wait, test_put_with_waiting_getters: getters are
 * served in the order they came. */
static int get_fifo_main(void *arg, void **res)
{
    cio_queue *q;
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    struct op g[4];
    cio_task *t[4];
    for (int i = 0; i < 4; i++) {
        g[i] = (struct op){q, -1, 1};
        t[i] = test_spawn(getter, &g[i]);
    }
    test_step(1);
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_queue_put(q, I2P(100 + i)), 0);
    /* The four items are claimed by the woken getters: a newcomer waits. */
    CHECK_EQ(cio_queue_qsize(q), 4);
    CHECK_EQ(cio_queue_empty(q), 1);
    void *it;
    CHECK_RC(cio_queue_get_nowait(q, &it), CIO_EEMPTY);
    struct op late = {q, -1, 1};
    cio_task *tl = test_spawn(getter, &late);
    for (int i = 0; i < 4; i++) {
        CHECK_RC(test_join(t[i]), 0);
        CHECK_RC(g[i].rc, 0);
        CHECK_EQ(g[i].item, 100 + i);
    }
    test_step(1);
    CHECK_EQ(late.rc, 1);
    CHECK_RC(cio_queue_put(q, I2P(7)), 0);
    CHECK_RC(test_join(tl), 0);
    CHECK_EQ(late.item, 7);
    cio_queue_free(q);
    return 0;
}

static void get_fifo(void) { CHECK_RC(test_run_virtual(get_fifo_main, NULL), 0); }

/* test_get_cancelled_race: a getter cancelled while waiting is skipped. */
static int get_cancelled_race_main(void *arg, void **res)
{
    cio_queue *q;
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    struct op g1 = {q, -1, 1}, g2 = {q, -1, 1};
    cio_task *t1 = test_spawn(getter, &g1), *t2 = test_spawn(getter, &g2);
    test_step(1);
    cio_task_cancel(t1, NULL);
    test_step(1);
    CHECK_EQ(cio_task_done(t1), 1);
    CHECK_RC(g1.rc, -ECANCELED);
    CHECK_RC(cio_queue_put(q, I2P(42)), 0);
    CHECK_RC(test_join(t2), 0);
    CHECK_EQ(g2.item, 42);
    CHECK_RC(test_join(t1), 0);
    cio_queue_free(q);
    return 0;
}

static void get_cancelled_race(void) { CHECK_RC(test_run_virtual(get_cancelled_race_main, NULL), 0); }

/* test_get_cancel_drop_one_pending_reader and _many_: an item made
 * available to a getter that is then cancelled before it runs stays in
 * the queue (first in line) or goes to the next getter. */
static int get_cancel_drop_main(void *arg, void **res)
{
    cio_queue *q;
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    struct op r = {q, -1, 1};
    cio_task *t = test_spawn(getter, &r);
    test_step(1);
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(2)), 0);
    cio_task_cancel(t, NULL);
    CHECK_RC(test_join(t), 0);
    CHECK_RC(r.rc, -ECANCELED);
    r = (struct op){q, -1, 1};
    t = test_spawn(getter, &r);
    CHECK_RC(test_join(t), 0);
    CHECK_EQ(r.item, 1); /* 2 would mean 1 was dropped */
    void *it;
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 2);
    /* many readers: reader 1 cancelled after the put woke it */
    struct op rd[3];
    cio_task *tr[3];
    for (int i = 0; i < 3; i++) {
        rd[i] = (struct op){q, -1, 1};
        tr[i] = test_spawn(getter, &rd[i]);
    }
    test_step(1);
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(2)), 0);
    cio_task_cancel(tr[0], NULL);
    for (int i = 0; i < 3; i++)
        CHECK_RC(test_join(tr[i]), 0);
    CHECK_RC(rd[0].rc, -ECANCELED);
    CHECK_EQ(rd[1].item, 1);
    CHECK_EQ(rd[2].item, 2);
    CHECK_EQ(cio_queue_qsize(q), 0);
    cio_queue_free(q);
    return 0;
}

static void get_cancel_drop(void) { CHECK_RC(test_run_virtual(get_cancel_drop_main, NULL), 0); }

/* test_get_with_waiting_putters, test_why_are_getters_waiting. */
struct pc {
    cio_queue *q;
    int n;
    int sum;
};

static int producer(void *arg, void **res)
{
    struct pc *p = arg;
    for (int i = 0; i < p->n; i++)
        CHECK_RC(cio_queue_put(p->q, I2P(i)), 0);
    return 0;
}

static int consumer(void *arg, void **res)
{
    struct pc *p = arg;
    for (int i = 0; i < p->n; i++) {
        void *it;
        CHECK_RC(cio_queue_get(p->q, &it), 0);
        CHECK_EQ(P2I(it), i);
        p->sum += P2I(it);
    }
    return 0;
}

static int waiting_putters_main(void *arg, void **res)
{
    cio_queue *q;
    CHECK_RC(cio_queue_new(NULL, 1, &q), 0);
    struct op pa = {q, 'a', 1}, pb = {q, 'b', 1};
    cio_task *ta = test_spawn(putter, &pa), *tb = test_spawn(putter, &pb);
    void *it;
    CHECK_RC(cio_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 'a');
    CHECK_RC(cio_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 'b');
    CHECK_RC(test_join(ta), 0);
    CHECK_RC(test_join(tb), 0);
    struct pc p = {q, 1000, 0};
    cio_task *tp = test_spawn(producer, &p), *tc = test_spawn(consumer, &p);
    CHECK_RC(test_join(tp), 0);
    CHECK_RC(test_join(tc), 0);
    CHECK_EQ(p.sum, 999 * 1000 / 2);
    cio_queue_free(q);
    return 0;
}

static void waiting_putters(void) { CHECK_RC(test_run_virtual(waiting_putters_main, NULL), 0); }

/* ---- put ------------------------------------------------------------- */

/* Makes a queue of one slot holding item 1, with a putter of item 2 (w)
 * waiting on it; returns the putter's task. */
static cio_task *full_with_putter(cio_queue **q, struct op *w)
{
    CHECK_RC(cio_queue_new(NULL, 1, q), 0);
    CHECK_RC(cio_queue_put_nowait(*q, I2P(1)), 0);
    *w = (struct op){*q, 2, 1};
    cio_task *t = test_spawn(putter, w);
    test_step(1);
    return t;
}

/* test_put_cancel_drop, test_cancelled_put_silence_value_error_exception:
 * a putter woken for a slot and cancelled before it ran puts nothing and
 * gives the slot up. */
static int put_cancel_drop_main(void *arg, void **res)
{
    cio_queue *q;
    void *it;
    struct op w;
    cio_task *t = full_with_putter(&q, &w);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 1);
    /* the slot is claimed by the woken putter */
    CHECK_EQ(cio_queue_full(q), 1);
    CHECK_RC(cio_queue_put_nowait(q, I2P(9)), CIO_EFULL);
    cio_task_cancel(t, NULL);
    CHECK_RC(test_join(t), 0);
    CHECK_RC(w.rc, -ECANCELED);
    CHECK_EQ(cio_queue_full(q), 0);
    w = (struct op){q, 2, 1};
    t = test_spawn(putter, &w);
    CHECK_RC(test_join(t), 0);
    CHECK_RC(w.rc, 0);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 2);
    CHECK_EQ(cio_queue_qsize(q), 0);
    cio_queue_free(q);
    return 0;
}

static void put_cancel_drop(void) { CHECK_RC(test_run_virtual(put_cancel_drop_main, NULL), 0); }

/* test_put_cancelled_race: putters in order, a cancelled one skipped. */
static int put_cancelled_race_main(void *arg, void **res)
{
    cio_queue *q;
    void *it;
    CHECK_RC(cio_queue_new(NULL, 1, &q), 0);
    struct op pa = {q, 'a', 1}, pb = {q, 'b', 1}, pc = {q, 'X', 1};
    cio_task *ta = test_spawn(putter, &pa), *tb = test_spawn(putter, &pb), *tc = test_spawn(putter, &pc);
    test_step(1);
    CHECK_EQ(cio_task_done(ta), 1);
    CHECK_EQ(cio_task_done(tb), 0);
    cio_task_cancel(tc, NULL);
    test_step(1);
    CHECK_EQ(cio_task_done(tc), 1);
    CHECK_RC(pc.rc, -ECANCELED);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 'a');
    test_step(1);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 'b');
    CHECK_RC(test_join(ta), 0);
    CHECK_RC(test_join(tb), 0);
    CHECK_RC(test_join(tc), 0);
    CHECK_EQ(cio_queue_qsize(q), 0);
    cio_queue_free(q);
    return 0;
}

static void put_cancelled_race(void) { CHECK_RC(test_run_virtual(put_cancelled_race_main, NULL), 0); }

/* test_blocking_put_wait: a putter waits until a timer callback frees a
 * slot with get_nowait; test_why_are_putters_waiting. */
static void get_cb(void *q)
{
    void *it;
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
}

static int blocking_put_main(void *arg, void **res)
{
    cio_queue *q;
    CHECK_RC(cio_queue_new(NULL, 1, &q), 0);
    CHECK_RC(cio_call_later(cio_get_running_loop(), 0.01, get_cb, q, NULL), 0);
    double t0 = cio_loop_time(cio_get_running_loop());
    CHECK_RC(cio_queue_put(q, I2P(1)), 0);
    CHECK_RC(cio_queue_put(q, I2P(2)), 0);
    CHECK(cio_loop_time(cio_get_running_loop()) - t0 >= 0.01);
    CHECK_EQ(cio_queue_qsize(q), 1);
    cio_queue_free(q);
    /* four putters, a getter that drains what is there */
    CHECK_RC(cio_queue_new(NULL, 2, &q), 0);
    struct op p[4];
    cio_task *t[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (struct op){q, i, 1};
        t[i] = test_spawn(putter, &p[i]);
    }
    test_step(1);
    CHECK_EQ(cio_queue_qsize(q), 2);
    void *it;
    for (int i = 0; i < 2; i++) {
        CHECK_RC(cio_queue_get_nowait(q, &it), 0);
        CHECK_EQ(P2I(it), i);
    }
    for (int i = 0; i < 4; i++) {
        CHECK_RC(test_join(t[i]), 0);
        CHECK_RC(p[i].rc, 0);
    }
    for (int i = 2; i < 4; i++) {
        CHECK_RC(cio_queue_get_nowait(q, &it), 0);
        CHECK_EQ(P2I(it), i);
    }
    cio_queue_free(q);
    return 0;
}

static void blocking_put(void) { CHECK_RC(test_run_virtual(blocking_put_main, NULL), 0); }

/* A putter interrupted with -ETIMEDOUT (a timeout scope's code) leaves
 * no trace (test_cancelled_puts_not_being_held_in_self_putters). */
static int put_timeout_main(void *arg, void **res)
{
    cio_queue *q;
    void *it;
    struct op w;
    cio_task *t = full_with_putter(&q, &w);
    cio__task_interrupt(t, -ETIMEDOUT);
    CHECK_RC(test_join(t), 0);
    CHECK_RC(w.rc, -ETIMEDOUT);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(cio_queue_full(q), 0); /* no slot claimed by a ghost */
    CHECK_RC(cio_queue_put_nowait(q, I2P(3)), 0);
    /* and a getter the same way */
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    struct op g = {q, -1, 1};
    t = test_spawn(getter, &g);
    test_step(1);
    cio__task_interrupt(t, -ETIMEDOUT);
    CHECK_RC(test_join(t), 0);
    CHECK_RC(g.rc, -ETIMEDOUT);
    CHECK_RC(cio_queue_put_nowait(q, I2P(4)), 0);
    CHECK_EQ(cio_queue_empty(q), 0);
    cio_queue_free(q);
    return 0;
}

static void put_timeout(void) { CHECK_RC(test_run_virtual(put_timeout_main, NULL), 0); }

/* ---- join ------------------------------------------------------------ */

struct jw {
    cio_queue *q;
    int sum;
};

static int join_worker(void *arg, void **res)
{
    struct jw *w = arg;
    for (;;) {
        void *it;
        int rc = cio_queue_get(w->q, &it);
        if (rc)
            return rc == -ECANCELED ? 0 : rc;
        w->sum += P2I(it);
        cio_sleep(0.01);
        CHECK_RC(cio_queue_task_done(w->q), 0);
    }
}

static int join_main(void *arg, void **res)
{
    cio_queue *q;
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    /* test_task_done_underflow, test_join_empty_queue */
    CHECK_RC(cio_queue_task_done(q), -EINVAL);
    CHECK_RC(cio_queue_join(q), 0);
    CHECK_RC(cio_queue_join(q), 0);
    /* test_task_done */
    struct jw w = {q, 0};
    for (int i = 0; i < 100; i++)
        CHECK_RC(cio_queue_put_nowait(q, I2P(i)), 0);
    CHECK_EQ(cio_queue_unfinished_tasks(q), 100);
    cio_task *t[2] = {test_spawn(join_worker, &w), test_spawn(join_worker, &w)};
    CHECK_RC(cio_queue_join(q), 0);
    CHECK_EQ(w.sum, 4950);
    CHECK_EQ(cio_queue_unfinished_tasks(q), 0);
    for (int i = 0; i < 2; i++) {
        cio_task_cancel(t[i], NULL);
        CHECK_RC(test_join(t[i]), 0);
    }
    /* a cancelled join leaves the others waiting */
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    cio_task *j1, *j2;
    CHECK_RC(cio_create_task(join_task, q, NULL, &j1), 0);
    CHECK_RC(cio_create_task(join_task, q, NULL, &j2), 0);
    test_step(1);
    cio_task_cancel(j1, NULL);
    CHECK_RC(test_join(j1), -ECANCELED);
    void *it;
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    test_step(1);
    CHECK_EQ(cio_task_done(j2), 0);
    CHECK_RC(cio_queue_task_done(q), 0);
    CHECK_RC(test_join(j2), 0);
    cio_queue_free(q);
    return 0;
}

static void join(void) { CHECK_RC(test_run_virtual(join_main, NULL), 0); }

/* ---- allocation failures ---------------------------------------------------- */

/* Queues grow as items arrive: a put that cannot grow the store fails
 * with -ENOMEM, changes nothing, and the queue stays usable. */
static int alloc_main(void *arg, void **res)
{
    cio_queue *q[3] = {NULL, NULL, NULL};
    int rc;
    if ((rc = cio_queue_new(NULL, 0, &q[0])) || (rc = cio_lifo_queue_new(NULL, 0, &q[1])) ||
        (rc = cio_priority_queue_new(NULL, 0, cmp_int, NULL, &q[2]))) {
        CHECK_RC(rc, -ENOMEM);
        goto out;
    }
    for (int k = 0; k < 3; k++) {
        int stored = 0;
        for (int i = 0; i < 40; i++) {
            size_t before = cio_queue_qsize(q[k]);
            rc = cio_queue_put(q[k], I2P(i));
            if (rc) {
                CHECK_RC(rc, -ENOMEM);
                CHECK_EQ(cio_queue_qsize(q[k]), before);
            } else {
                stored++;
            }
        }
        CHECK_EQ(cio_queue_qsize(q[k]), stored);
        CHECK_EQ(cio_queue_unfinished_tasks(q[k]), stored);
        int prev = -1;
        void *it;
        for (int i = 0; i < stored; i++) {
            CHECK_RC(cio_queue_get(q[k], &it), 0);
            if (k != 1)
                CHECK(P2I(it) > prev); /* FIFO and priority: increasing */
            prev = P2I(it);
        }
    }
    rc = 0;
out:
    for (int k = 0; k < 3; k++)
        cio_queue_free(q[k]);
    return rc;
}

static int alloc_run(long n, void *arg) { return test_run_virtual(alloc_main, NULL); }

static void alloc_failures(void) { test_alloc_sweep(alloc_run, NULL, 400, TEST_ALLOC_ENOMEM); }

int main(void)
{
    RUN(basics);
    RUN(get_fifo);
    RUN(get_cancelled_race);
    RUN(get_cancel_drop);
    RUN(waiting_putters);
    RUN(put_cancel_drop);
    RUN(put_cancelled_race);
    RUN(blocking_put);
    RUN(put_timeout);
    RUN(join);
    RUN(alloc_failures);
    return test_finish();
}
