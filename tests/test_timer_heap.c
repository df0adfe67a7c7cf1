/*
 * test_timer_heap.c - the timer heap against a model: many timers with
 * random and repeated deadlines, a share of them cancelled (enough to make
 * the heap compact itself), on the virtual clock.  Every live timer must
 * fire exactly once, in deadline order, equal deadlines in the order they
 * were set; no cancelled timer may fire.
 */
#include "test.h"

#define N 20000

struct rec {
    double when;        /* deadline asked for */
    int order;          /* the order it was set in */
    int cancelled;      /* cancelled before the loop ran */
    int fired;          /* times its callback ran */
};

static struct rec recs[N];
static int fire_log[N];
static int nfired;
static cio_loop *loop;

static void on_fire(void *arg)
{
    struct rec *r = arg;
    r->fired++;
    CHECK(cio_loop_time(loop) >= r->when - 1e-9);
    if (nfired < N)
        fire_log[nfired] = (int)(r - recs);
    nfired++;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 32);
}

static void check_order(int cancel_every, int rounds)
{
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    static cio_handle *h[N];
    nfired = 0;
    for (int i = 0; i < N; i++) {
        /* Few distinct deadlines: many ties. */
        recs[i] = (struct rec){.when = (double)(next_rand() % 97) * 0.01, .order = i};
        CHECK_RC(cio_call_at(loop, recs[i].when, on_fire, &recs[i], &h[i]), 0);
    }
    for (int r = 0; r < rounds; r++)
        for (int i = r; i < N; i += cancel_every)
            if (!recs[i].cancelled && next_rand() % 2) {
                recs[i].cancelled = 1;
                CHECK_RC(cio_handle_cancel(h[i]), 0);
            }
    int live = 0;
    for (int i = 0; i < N; i++)
        live += !recs[i].cancelled;
    cio_future *never;
    CHECK_RC(cio_future_new(loop, &never), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, never, NULL), CIO_ESTALLED);
    cio_future_unref(never);
    CHECK_EQ(nfired, live);
    for (int i = 0; i < N; i++)
        CHECK_EQ(recs[i].fired, recs[i].cancelled ? 0 : 1);
    for (int k = 1; k < nfired && k < N; k++) {
        struct rec *a = &recs[fire_log[k - 1]], *b = &recs[fire_log[k]];
        CHECK(a->when < b->when || (a->when == b->when && a->order < b->order));
    }
    for (int i = 0; i < N; i++)
        cio_handle_unref(h[i]);
    cio_loop_free(loop);
}

static void no_cancel(void) { check_order(1, 0); }
static void few_cancelled(void) { check_order(50, 1); }
static void most_cancelled(void) { check_order(1, 3); }

int main(void)
{
    RUN(no_cancel);
    RUN(few_cancelled);
    RUN(most_cancelled);
    return test_finish();
}
