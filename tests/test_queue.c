/*
 * test_queue.c - FIFO, LIFO and priority queues: asyncio's behaviour
 * (translated from CPython's Lib/test/test_asyncio/test_queues.py where it
 * applies), Python 3.13's shutdown, FIFO fairness among waiters,
 * cancellation of getters and putters at every step (no item lost or
 * duplicated), errors, and allocation failures.  Timed waits run on the
 * virtual clock.
 *
 * Divided into: helpers; basics; get; put; join; shutdown; cancellation
 * at every step; allocation failures.
 */
#include "test.h"
#include "task/task.h"

/* ---- helpers ---------------------------------------------------------- */

static int run_main(cio_coro_fn *fn, void *arg)
{
    cio_loop *loop;
    int rc = cio_loop_new(&loop);
    if (rc)
        return rc;
    cio_loop_set_virtual_clock(loop, 1);
    rc = cio_run_loop(loop, fn, arg, NULL);
    cio_loop_free(loop);
    return rc;
}

static cio_task *spawn(cio_coro_fn *fn, void *arg)
{
    cio_task *t = NULL;
    CHECK_RC(cio_create_task(fn, arg, NULL, &t), 0);
    return t;
}

static int finish(cio_task *t)
{
    int rc = cio_task_await(t, NULL);
    cio_task_release(t);
    return rc;
}

static void step(int n)
{
    for (int i = 0; i < n; i++)
        cio_sleep(0);
}

#define I2P(i) ((void *)(intptr_t)(i))
#define P2I(p) ((int)(intptr_t)(p))

/* A getter or putter task's arguments and outcome. */
struct op {
    cio_queue *q;
    int item;      /* put: what to put; get: what was got */
    int rc;        /* the call's return, 1 until it returns */
};

static int getter(void *arg, void **res)
{
    struct op *o = arg;
    void *it = I2P(-1);
    o->rc = cio_queue_get(o->q, &it);
    if (o->rc == 0)
        o->item = P2I(it);
    return 0;
}

static int putter(void *arg, void **res)
{
    struct op *o = arg;
    o->rc = cio_queue_put(o->q, I2P(o->item));
    return 0;
}

/* ---- basics ------------------------------------------------------------ */

static int cmp_int(const void *a, const void *b, void *ud)
{
    int x = P2I(a), y = P2I(b);
    (void)ud;
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
    CHECK_RC(run_main(basics_main, NULL), 0);
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
        t[i] = spawn(getter, &g[i]);
    }
    step(1);
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_queue_put(q, I2P(100 + i)), 0);
    /* The four items are claimed by the woken getters: a newcomer waits. */
    CHECK_EQ(cio_queue_qsize(q), 4);
    CHECK_EQ(cio_queue_empty(q), 1);
    void *it;
    CHECK_RC(cio_queue_get_nowait(q, &it), CIO_EEMPTY);
    struct op late = {q, -1, 1};
    cio_task *tl = spawn(getter, &late);
    for (int i = 0; i < 4; i++) {
        CHECK_RC(finish(t[i]), 0);
        CHECK_RC(g[i].rc, 0);
        CHECK_EQ(g[i].item, 100 + i);
    }
    step(1);
    CHECK_EQ(late.rc, 1);
    CHECK_RC(cio_queue_put(q, I2P(7)), 0);
    CHECK_RC(finish(tl), 0);
    CHECK_EQ(late.item, 7);
    cio_queue_free(q);
    return 0;
}

static void get_fifo(void) { CHECK_RC(run_main(get_fifo_main, NULL), 0); }

/* test_get_cancelled_race: a getter cancelled while waiting is skipped. */
static int get_cancelled_race_main(void *arg, void **res)
{
    cio_queue *q;
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    struct op g1 = {q, -1, 1}, g2 = {q, -1, 1};
    cio_task *t1 = spawn(getter, &g1), *t2 = spawn(getter, &g2);
    step(1);
    cio_task_cancel(t1, NULL);
    step(1);
    CHECK_EQ(cio_task_done(t1), 1);
    CHECK_RC(g1.rc, -ECANCELED);
    CHECK_RC(cio_queue_put(q, I2P(42)), 0);
    CHECK_RC(finish(t2), 0);
    CHECK_EQ(g2.item, 42);
    CHECK_RC(finish(t1), 0);
    cio_queue_free(q);
    return 0;
}

static void get_cancelled_race(void) { CHECK_RC(run_main(get_cancelled_race_main, NULL), 0); }

/* test_get_cancel_drop_one_pending_reader and _many_: an item made
 * available to a getter that is then cancelled before it runs stays in
 * the queue (first in line) or goes to the next getter. */
static int get_cancel_drop_main(void *arg, void **res)
{
    cio_queue *q;
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    struct op r = {q, -1, 1};
    cio_task *t = spawn(getter, &r);
    step(1);
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(2)), 0);
    cio_task_cancel(t, NULL);
    CHECK_RC(finish(t), 0);
    CHECK_RC(r.rc, -ECANCELED);
    r = (struct op){q, -1, 1};
    t = spawn(getter, &r);
    CHECK_RC(finish(t), 0);
    CHECK_EQ(r.item, 1); /* 2 would mean 1 was dropped */
    void *it;
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 2);
    /* many readers: reader 1 cancelled after the put woke it */
    struct op rd[3];
    cio_task *tr[3];
    for (int i = 0; i < 3; i++) {
        rd[i] = (struct op){q, -1, 1};
        tr[i] = spawn(getter, &rd[i]);
    }
    step(1);
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(2)), 0);
    cio_task_cancel(tr[0], NULL);
    for (int i = 0; i < 3; i++)
        CHECK_RC(finish(tr[i]), 0);
    CHECK_RC(rd[0].rc, -ECANCELED);
    CHECK_EQ(rd[1].item, 1);
    CHECK_EQ(rd[2].item, 2);
    CHECK_EQ(cio_queue_qsize(q), 0);
    cio_queue_free(q);
    return 0;
}

static void get_cancel_drop(void) { CHECK_RC(run_main(get_cancel_drop_main, NULL), 0); }

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
    cio_task *ta = spawn(putter, &pa), *tb = spawn(putter, &pb);
    void *it;
    CHECK_RC(cio_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 'a');
    CHECK_RC(cio_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 'b');
    CHECK_RC(finish(ta), 0);
    CHECK_RC(finish(tb), 0);
    struct pc p = {q, 1000, 0};
    cio_task *tp = spawn(producer, &p), *tc = spawn(consumer, &p);
    CHECK_RC(finish(tp), 0);
    CHECK_RC(finish(tc), 0);
    CHECK_EQ(p.sum, 999 * 1000 / 2);
    cio_queue_free(q);
    return 0;
}

static void waiting_putters(void) { CHECK_RC(run_main(waiting_putters_main, NULL), 0); }

/* ---- put ------------------------------------------------------------- */

/* test_put_cancel_drop, test_cancelled_put_silence_value_error_exception:
 * a putter woken for a slot and cancelled before it ran puts nothing and
 * gives the slot up. */
static int put_cancel_drop_main(void *arg, void **res)
{
    cio_queue *q;
    void *it;
    CHECK_RC(cio_queue_new(NULL, 1, &q), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    struct op w = {q, 2, 1};
    cio_task *t = spawn(putter, &w);
    step(1);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 1);
    /* the slot is claimed by the woken putter */
    CHECK_EQ(cio_queue_full(q), 1);
    CHECK_RC(cio_queue_put_nowait(q, I2P(9)), CIO_EFULL);
    cio_task_cancel(t, NULL);
    CHECK_RC(finish(t), 0);
    CHECK_RC(w.rc, -ECANCELED);
    CHECK_EQ(cio_queue_full(q), 0);
    w = (struct op){q, 2, 1};
    t = spawn(putter, &w);
    CHECK_RC(finish(t), 0);
    CHECK_RC(w.rc, 0);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 2);
    CHECK_EQ(cio_queue_qsize(q), 0);
    cio_queue_free(q);
    return 0;
}

static void put_cancel_drop(void) { CHECK_RC(run_main(put_cancel_drop_main, NULL), 0); }

/* test_put_cancelled_race: putters in order, a cancelled one skipped. */
static int put_cancelled_race_main(void *arg, void **res)
{
    cio_queue *q;
    void *it;
    CHECK_RC(cio_queue_new(NULL, 1, &q), 0);
    struct op pa = {q, 'a', 1}, pb = {q, 'b', 1}, pc = {q, 'X', 1};
    cio_task *ta = spawn(putter, &pa), *tb = spawn(putter, &pb), *tc = spawn(putter, &pc);
    step(1);
    CHECK_EQ(cio_task_done(ta), 1);
    CHECK_EQ(cio_task_done(tb), 0);
    cio_task_cancel(tc, NULL);
    step(1);
    CHECK_EQ(cio_task_done(tc), 1);
    CHECK_RC(pc.rc, -ECANCELED);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 'a');
    step(1);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 'b');
    CHECK_RC(finish(ta), 0);
    CHECK_RC(finish(tb), 0);
    CHECK_RC(finish(tc), 0);
    CHECK_EQ(cio_queue_qsize(q), 0);
    cio_queue_free(q);
    return 0;
}

static void put_cancelled_race(void) { CHECK_RC(run_main(put_cancelled_race_main, NULL), 0); }

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
        t[i] = spawn(putter, &p[i]);
    }
    step(1);
    CHECK_EQ(cio_queue_qsize(q), 2);
    void *it;
    for (int i = 0; i < 2; i++) {
        CHECK_RC(cio_queue_get_nowait(q, &it), 0);
        CHECK_EQ(P2I(it), i);
    }
    for (int i = 0; i < 4; i++) {
        CHECK_RC(finish(t[i]), 0);
        CHECK_RC(p[i].rc, 0);
    }
    for (int i = 2; i < 4; i++) {
        CHECK_RC(cio_queue_get_nowait(q, &it), 0);
        CHECK_EQ(P2I(it), i);
    }
    cio_queue_free(q);
    return 0;
}

static void blocking_put(void) { CHECK_RC(run_main(blocking_put_main, NULL), 0); }

/* A putter interrupted with -ETIMEDOUT (a timeout scope's code) leaves
 * no trace (test_cancelled_puts_not_being_held_in_self_putters). */
static int put_timeout_main(void *arg, void **res)
{
    cio_queue *q;
    void *it;
    CHECK_RC(cio_queue_new(NULL, 1, &q), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    struct op w = {q, 2, 1};
    cio_task *t = spawn(putter, &w);
    step(1);
    cio__task_interrupt(t, -ETIMEDOUT);
    CHECK_RC(finish(t), 0);
    CHECK_RC(w.rc, -ETIMEDOUT);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(cio_queue_full(q), 0); /* no slot claimed by a ghost */
    CHECK_RC(cio_queue_put_nowait(q, I2P(3)), 0);
    /* and a getter the same way */
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    struct op g = {q, -1, 1};
    t = spawn(getter, &g);
    step(1);
    cio__task_interrupt(t, -ETIMEDOUT);
    CHECK_RC(finish(t), 0);
    CHECK_RC(g.rc, -ETIMEDOUT);
    CHECK_RC(cio_queue_put_nowait(q, I2P(4)), 0);
    CHECK_EQ(cio_queue_empty(q), 0);
    cio_queue_free(q);
    return 0;
}

static void put_timeout(void) { CHECK_RC(run_main(put_timeout_main, NULL), 0); }

/* ---- join ------------------------------------------------------------ */

/* A task that joins the queue arg and ends with join's status. */
static int join_task(void *arg, void **res) { return cio_queue_join(arg); }

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
    cio_task *t[2] = {spawn(join_worker, &w), spawn(join_worker, &w)};
    CHECK_RC(cio_queue_join(q), 0);
    CHECK_EQ(w.sum, 4950);
    CHECK_EQ(cio_queue_unfinished_tasks(q), 0);
    for (int i = 0; i < 2; i++) {
        cio_task_cancel(t[i], NULL);
        CHECK_RC(finish(t[i]), 0);
    }
    /* a cancelled join leaves the others waiting */
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    cio_task *j1, *j2;
    CHECK_RC(cio_create_task(join_task, q, NULL, &j1), 0);
    CHECK_RC(cio_create_task(join_task, q, NULL, &j2), 0);
    step(1);
    cio_task_cancel(j1, NULL);
    CHECK_RC(finish(j1), -ECANCELED);
    void *it;
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    step(1);
    CHECK_EQ(cio_task_done(j2), 0);
    CHECK_RC(cio_queue_task_done(q), 0);
    CHECK_RC(finish(j2), 0);
    cio_queue_free(q);
    return 0;
}

static void join(void) { CHECK_RC(run_main(join_main, NULL), 0); }

/* ---- shutdown -------------------------------------------------------- */

struct discard_log {
    int items[16];
    int n;
};

static void on_discard(void *item, void *ud)
{
    struct discard_log *d = ud;
    if (d->n < 16)
        d->items[d->n++] = P2I(item);
}

static int shutdown_main(void *arg, void **res)
{
    cio_queue *q;
    void *it;
    /* plain shutdown: puts fail, getters drain what is left, then fail */
    CHECK_RC(cio_queue_new(NULL, 2, &q), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(2)), 0);
    struct op p = {q, 3, 1};
    cio_task *tp = spawn(putter, &p);
    step(1);
    CHECK_EQ(cio_queue_is_shutdown(q), 0);
    CHECK_RC(cio_queue_shutdown(q, 0), 0);
    CHECK_EQ(cio_queue_is_shutdown(q), 1);
    CHECK_RC(finish(tp), 0);
    CHECK_RC(p.rc, CIO_ESHUTDOWN); /* a waiting putter fails */
    CHECK_RC(cio_queue_put_nowait(q, I2P(4)), CIO_ESHUTDOWN);
    CHECK_RC(cio_queue_put(q, I2P(4)), CIO_ESHUTDOWN);
    CHECK_RC(cio_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 1);
    CHECK_RC(cio_queue_get_nowait(q, &it), 0);
    CHECK_EQ(P2I(it), 2);
    CHECK_RC(cio_queue_get(q, &it), CIO_ESHUTDOWN);
    CHECK_RC(cio_queue_get_nowait(q, &it), CIO_ESHUTDOWN);
    /* join still counts the items taken and not marked done */
    CHECK_EQ(cio_queue_unfinished_tasks(q), 2);
    CHECK_RC(cio_queue_task_done(q), 0);
    CHECK_RC(cio_queue_task_done(q), 0);
    CHECK_RC(cio_queue_join(q), 0);
    cio_queue_free(q);

    /* waiting getters wake with CIO_ESHUTDOWN */
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    struct op g[2] = {{q, -1, 1}, {q, -1, 1}};
    cio_task *tg[2] = {spawn(getter, &g[0]), spawn(getter, &g[1])};
    step(1);
    CHECK_RC(cio_queue_put_nowait(q, I2P(7)), 0); /* claimed by g[0] */
    CHECK_RC(cio_queue_shutdown(q, 0), 0);
    for (int i = 0; i < 2; i++)
        CHECK_RC(finish(tg[i]), 0);
    CHECK_RC(g[0].rc, 0); /* a woken getter still takes its item */
    CHECK_EQ(g[0].item, 7);
    CHECK_RC(g[1].rc, CIO_ESHUTDOWN);
    cio_queue_free(q);

    /* immediate: items dropped to the discard callback, count as done,
     * join released; a getter woken for a dropped item fails */
    struct discard_log d = {{0}, 0};
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    CHECK_RC(cio_queue_set_discard(q, on_discard, &d), 0);
    struct op g2 = {q, -1, 1};
    cio_task *t2 = spawn(getter, &g2);
    step(1);
    for (int i = 1; i <= 3; i++)
        CHECK_RC(cio_queue_put_nowait(q, I2P(i)), 0);
    cio_task *tj;
    CHECK_RC(cio_create_task(join_task, q, NULL, &tj), 0);
    step(1); /* g2 takes 1; tj waits */
    CHECK_RC(g2.rc, 0);
    CHECK_EQ(g2.item, 1);
    struct op g3 = {q, -1, 1};
    cio_task *t3 = spawn(getter, &g3);
    CHECK_RC(cio_queue_put_nowait(q, I2P(4)), 0);
    CHECK_RC(cio_queue_shutdown(q, 1), 0);
    CHECK_EQ(d.n, 3);
    CHECK_EQ(d.items[0], 2);
    CHECK_EQ(d.items[1], 3);
    CHECK_EQ(d.items[2], 4);
    CHECK_EQ(cio_queue_qsize(q), 0);
    CHECK_EQ(cio_queue_unfinished_tasks(q), 1); /* item 1 is in g2's hands */
    step(2);
    CHECK_EQ(cio_task_done(tj), 0);
    CHECK_RC(cio_queue_task_done(q), 0);
    CHECK_RC(finish(tj), 0);
    CHECK_RC(finish(t2), 0);
    CHECK_RC(finish(t3), 0);
    CHECK_RC(g3.rc, CIO_ESHUTDOWN);
    CHECK_RC(cio_queue_shutdown(q, 1), 0); /* again: allowed */
    cio_queue_free(q);

    /* immediate releases join when nothing else is unfinished */
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    CHECK_RC(cio_create_task(join_task, q, NULL, &tj), 0);
    step(1);
    CHECK_RC(cio_queue_shutdown(q, 1), 0); /* no discard callback: forgotten */
    CHECK_RC(finish(tj), 0);
    CHECK_EQ(cio_queue_unfinished_tasks(q), 0);
    cio_queue_free(q);

    /* freeing drops items to the discard callback; waiters get CIO_ECLOSED */
    d.n = 0;
    CHECK_RC(cio_queue_new(NULL, 1, &q), 0);
    CHECK_RC(cio_queue_set_discard(q, on_discard, &d), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(5)), 0);
    struct op p2 = {q, 6, 1};
    tp = spawn(putter, &p2);
    step(1);
    cio_queue_free(q);
    CHECK_RC(finish(tp), 0);
    CHECK_RC(p2.rc, CIO_ECLOSED);
    CHECK_EQ(d.n, 1);
    CHECK_EQ(d.items[0], 5);
    return 0;
}

static void shutdown_(void) { CHECK_RC(run_main(shutdown_main, NULL), 0); }

/* ---- cancellation at every step -------------------------------------------- */

/*
 * Producers put numbered items into a small bounded queue; consumers take
 * them.  The victim consumer (and, in the second half, a victim producer)
 * is cancelled after k steps of the main task, for every k until the run
 * ends first.  Every item put must be got exactly once or still be in the
 * queue: none lost, none duplicated.
 */
enum { NITEMS = 60 };

struct flow {
    cio_queue *q;
    int next;             /* next item number to put */
    int put_ok[NITEMS];   /* put returned 0 */
    int got[NITEMS];      /* times got */
};

static int flow_producer(void *arg, void **res)
{
    struct flow *f = arg;
    while (f->next < NITEMS) {
        int n = f->next++;
        int rc = cio_queue_put(f->q, I2P(n));
        if (rc)
            return rc;
        f->put_ok[n] = 1;
        if ((rc = cio_sleep(0.01)))
            return rc;
    }
    return 0;
}

static int flow_consumer(void *arg, void **res)
{
    struct flow *f = arg;
    for (;;) {
        void *it;
        int rc = cio_queue_get(f->q, &it);
        if (rc)
            return rc == CIO_ESHUTDOWN ? 0 : rc;
        f->got[P2I(it)]++;
        if ((rc = cio_sleep(0.03)))
            return rc;
    }
}

/* Ends the run: once the producers are done and the queue drained, a
 * plain shutdown makes the consumers' next get fail. */
struct closer {
    struct flow *f;
    cio_task **prod;
};

static int flow_closer(void *arg, void **res)
{
    struct closer *c = arg;
    for (int i = 0; i < 2; i++)
        cio_task_await(c->prod[i], NULL);
    while (cio_queue_qsize(c->f->q))
        cio_sleep(0.01);
    return cio_queue_shutdown(c->f->q, 0);
}

static int flow_main(void *arg, void **res)
{
    int k = ((int *)arg)[0], victim_is_producer = ((int *)arg)[1];
    struct flow f = {0};
    CHECK_RC(cio_queue_new(NULL, 2, &f.q), 0);
    cio_task *prod[2] = {spawn(flow_producer, &f), spawn(flow_producer, &f)};
    cio_task *cons[3] = {spawn(flow_consumer, &f), spawn(flow_consumer, &f),
                         spawn(flow_consumer, &f)};
    struct closer cl = {&f, prod};
    cio_task *closer = spawn(flow_closer, &cl);
    cio_task *victim = victim_is_producer ? prod[0] : cons[0];
    for (int i = 0; i < k && !cio_task_done(victim); i++)
        cio_sleep(0.005);
    int cancelled_live = !cio_task_done(victim);
    cio_task_cancel(victim, NULL);
    CHECK_RC(finish(closer), 0);
    for (int i = 0; i < 3; i++)
        cio_task_await(cons[i], NULL);
    /* Nothing lost, nothing twice. */
    int lost = 0;
    void *it;
    while (cio_queue_get_nowait(f.q, &it) == 0)
        f.got[P2I(it)]++;
    for (int n = 0; n < NITEMS; n++) {
        if (f.put_ok[n] && f.got[n] != 1)
            lost++;
        if (!f.put_ok[n])
            CHECK_EQ(f.got[n], 0);
    }
    CHECK_EQ(lost, 0);
    for (int i = 0; i < 2; i++)
        cio_task_release(prod[i]);
    for (int i = 0; i < 3; i++)
        cio_task_release(cons[i]);
    cio_queue_free(f.q);
    *res = (void *)(intptr_t)cancelled_live;
    return 0;
}

static void cancel_every_step(void)
{
    for (int who = 0; who < 2; who++) {
        int live = 1, k;
        for (k = 0; k < 400 && live; k++) {
            int args[2] = {k, who};
            cio_loop *loop;
            CHECK_RC(cio_loop_new(&loop), 0);
            cio_loop_set_virtual_clock(loop, 1);
            void *r = NULL;
            CHECK_RC(cio_run_loop(loop, flow_main, args, &r), 0);
            cio_loop_free(loop);
            live = r != NULL;
        }
        CHECK(!live); /* reached a k past the victim's end */
        CHECK(k > 20);
    }
}

/* ---- allocation failures ---------------------------------------------------- */

static long alloc_count, alloc_fail_at;

static void *failing_alloc(void *ud, void *ptr, size_t size)
{
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (++alloc_count == alloc_fail_at)
        return NULL;
    return realloc(ptr, size);
}

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

static void alloc_failures(void)
{
    int ok = 0;
    for (long n = 1; n < 400 && !ok; n++) {
        alloc_count = 0;
        alloc_fail_at = n;
        CHECK_RC(cio_set_allocator(failing_alloc, NULL), 0);
        int rc = run_main(alloc_main, NULL);
        CHECK(rc == 0 || rc == -ENOMEM);
        ok = rc == 0 && alloc_count < n;
        cio_set_allocator(NULL, NULL);
    }
    CHECK(ok);
}

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
    RUN(shutdown_);
    RUN(cancel_every_step);
    RUN(alloc_failures);
    return test_finish();
}
