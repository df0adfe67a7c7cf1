/*
 * test_queue_shutdown.c - Python 3.13's queue shutdown (plain and
 * immediate: waiters woken, items discarded, join released), and
 * producers, consumers and a closer cancelled at every step with no item
 * lost or duplicated (split from test_queue.c).  Virtual clock.
 *
 * Divided into: shutdown; cancellation at every step.
 */
#include "queue_util.h"

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
    cio_task *tp = test_spawn(putter, &p);
    test_step(1);
    CHECK_EQ(cio_queue_is_shutdown(q), 0);
    CHECK_RC(cio_queue_shutdown(q, 0), 0);
    CHECK_EQ(cio_queue_is_shutdown(q), 1);
    CHECK_RC(test_join(tp), 0);
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
    cio_task *tg[2] = {test_spawn(getter, &g[0]), test_spawn(getter, &g[1])};
    test_step(1);
    CHECK_RC(cio_queue_put_nowait(q, I2P(7)), 0); /* claimed by g[0] */
    CHECK_RC(cio_queue_shutdown(q, 0), 0);
    for (int i = 0; i < 2; i++)
        CHECK_RC(test_join(tg[i]), 0);
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
    cio_task *t2 = test_spawn(getter, &g2);
    test_step(1);
    for (int i = 1; i <= 3; i++)
        CHECK_RC(cio_queue_put_nowait(q, I2P(i)), 0);
    cio_task *tj;
    CHECK_RC(cio_create_task(join_task, q, NULL, &tj), 0);
    test_step(1); /* g2 takes 1; tj waits */
    CHECK_RC(g2.rc, 0);
    CHECK_EQ(g2.item, 1);
    struct op g3 = {q, -1, 1};
    cio_task *t3 = test_spawn(getter, &g3);
    CHECK_RC(cio_queue_put_nowait(q, I2P(4)), 0);
    CHECK_RC(cio_queue_shutdown(q, 1), 0);
    CHECK_EQ(d.n, 3);
    CHECK_EQ(d.items[0], 2);
    CHECK_EQ(d.items[1], 3);
    CHECK_EQ(d.items[2], 4);
    CHECK_EQ(cio_queue_qsize(q), 0);
    CHECK_EQ(cio_queue_unfinished_tasks(q), 1); /* item 1 is in g2's hands */
    test_step(2);
    CHECK_EQ(cio_task_done(tj), 0);
    CHECK_RC(cio_queue_task_done(q), 0);
    CHECK_RC(test_join(tj), 0);
    CHECK_RC(test_join(t2), 0);
    CHECK_RC(test_join(t3), 0);
    CHECK_RC(g3.rc, CIO_ESHUTDOWN);
    CHECK_RC(cio_queue_shutdown(q, 1), 0); /* again: allowed */
    cio_queue_free(q);

    /* immediate releases join when nothing else is unfinished */
    CHECK_RC(cio_queue_new(NULL, 0, &q), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(1)), 0);
    CHECK_RC(cio_create_task(join_task, q, NULL, &tj), 0);
    test_step(1);
    CHECK_RC(cio_queue_shutdown(q, 1), 0); /* no discard callback: forgotten */
    CHECK_RC(test_join(tj), 0);
    CHECK_EQ(cio_queue_unfinished_tasks(q), 0);
    cio_queue_free(q);

    /* freeing drops items to the discard callback; waiters get CIO_ECLOSED */
    d.n = 0;
    CHECK_RC(cio_queue_new(NULL, 1, &q), 0);
    CHECK_RC(cio_queue_set_discard(q, on_discard, &d), 0);
    CHECK_RC(cio_queue_put_nowait(q, I2P(5)), 0);
    struct op p2 = {q, 6, 1};
    tp = test_spawn(putter, &p2);
    test_step(1);
    cio_queue_free(q);
    CHECK_RC(test_join(tp), 0);
    CHECK_RC(p2.rc, CIO_ECLOSED);
    CHECK_EQ(d.n, 1);
    CHECK_EQ(d.items[0], 5);
    return 0;
}

static void shutdown_(void) { CHECK_RC(test_run_virtual(shutdown_main, NULL), 0); }

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
    cio_task *prod[2] = {test_spawn(flow_producer, &f), test_spawn(flow_producer, &f)};
    cio_task *cons[3] = {test_spawn(flow_consumer, &f), test_spawn(flow_consumer, &f),
                         test_spawn(flow_consumer, &f)};
    struct closer cl = {&f, prod};
    cio_task *closer = test_spawn(flow_closer, &cl);
    cio_task *victim = victim_is_producer ? prod[0] : cons[0];
    for (int i = 0; i < k && !cio_task_done(victim); i++)
        cio_sleep(0.005);
    int cancelled_live = !cio_task_done(victim);
    cio_task_cancel(victim, NULL);
    CHECK_RC(test_join(closer), 0);
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
        cio_task_unref(prod[i]);
    for (int i = 0; i < 3; i++)
        cio_task_unref(cons[i]);
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

int main(void)
{
    RUN(shutdown_);
    RUN(cancel_every_step);
    return test_finish();
}
