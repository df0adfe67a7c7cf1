/*
 * test_cache.c - the asynchronous cache: hits without suspension or
 * allocation, single flight, TTL on the virtual clock, LRU eviction,
 * deferred value destruction, failures cached or not, cancellation of
 * callers at each point (the shared computation goes on), invalidation and
 * freeing while computations run, misuse, and every allocation failing in
 * turn.
 */
#include "helpers.h"

/* A computation: sleeps `delay`, then returns a value "<key>#<n>" or
 * `fail`.  Counts runs and how they ended. */
struct comp {
    double delay;
    int fail;          /* returned instead of a value, if non-zero */
    int runs;          /* computations started */
    int finished;      /* ran to the end */
    int sleep_rc;      /* what its sleep returned last */
    int freed;         /* values destroyed */
};

static int compute(void *arg, const void *key, size_t keylen, void **value)
{
    struct comp *c = arg;
    c->runs++;
    if (c->delay > 0) {
        c->sleep_rc = cio_sleep(c->delay);
        if (c->sleep_rc)
            return c->sleep_rc;
    }
    c->finished++;
    if (c->fail)
        return c->fail;
    char *v = malloc(keylen + 16);
    if (!v)
        return -ENOMEM;
    int n = snprintf(v, keylen + 16, "%.*s#%d", (int)keylen, (const char *)key, c->runs);
    (void)n;
    *value = v;
    return 0;
}

static void free_value(void *value, void *ud)
{
    ((struct comp *)ud)->freed++;
    free(value);
}

/* An unbounded cache without TTL whose values k's free_value destroys
 * (checked); NULL if it could not be made. */
static cio_cache *plain_cache(struct comp *k)
{
    cio_cache *c = NULL;
    CHECK_RC(cio_cache_new(NULL, 0, 0, 0, free_value, k, &c), 0);
    return c;
}

/* ---- hits and single flight ------------------------------------------- */

static int ticked;
static int ticker(void *arg, void **result)
{
    ticked = 1;
    return 0;
}

static int basic_main(void *arg, void **result)
{
    struct comp k = {.delay = 1.0};
    cio_cache *c = plain_cache(&k);
    void *v;
    double t0 = test_loop_now();
    CHECK_RC(cio_cache_get_str(c, "alpha", compute, &k, &v), 0);
    CHECK(strcmp(v, "alpha#1") == 0);
    CHECK(test_loop_now() - t0 > 0.999);
    CHECK_EQ(cio_cache_size(c), 1);

    /* A hit: same value, no suspension (a ready task does not get to run),
     * no allocation, no time. */
    ticked = 0;
    CHECK_RC(cio_create_task(ticker, NULL, "ticker", NULL), 0);
    long before = test_alloc_calls();
    t0 = test_loop_now();
    for (int i = 0; i < 1000; i++) {
        CHECK_RC(cio_cache_get_str(c, "alpha", compute, &k, &v), 0);
        CHECK(strcmp(v, "alpha#1") == 0);
    }
    CHECK_EQ(test_alloc_calls(), before);
    CHECK_EQ(ticked, 0);
    CHECK(test_loop_now() == t0);
    CHECK_EQ(k.runs, 1);
    CHECK_RC(cio_cache_lookup(c, "alpha", 5, &v), 0);
    CHECK_RC(cio_cache_lookup(c, "beta", 4, &v), -ENOENT);
    CHECK(v == NULL);

    /* Binary keys with NUL bytes differ from their prefix. */
    k.delay = 0;
    CHECK_RC(cio_cache_get(c, "a\0b", 3, compute, &k, &v), 0);
    CHECK_RC(cio_cache_get(c, "a", 1, compute, &k, &v), 0);
    CHECK_RC(cio_cache_get(c, NULL, 0, compute, &k, &v), 0); /* the empty key */
    CHECK_EQ(k.runs, 4);
    CHECK_EQ(cio_cache_size(c), 4);

    /* Many keys: the table grows; all stay reachable. */
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        CHECK_RC(cio_cache_get_str(c, key, compute, &k, &v), 0);
    }
    int runs = k.runs;
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        CHECK_RC(cio_cache_lookup(c, key, strlen(key), &v), 0);
        CHECK(strncmp(v, key, strlen(key)) == 0);
    }
    CHECK_EQ(k.runs, runs);
    cio_cache_free(c);
    CHECK_EQ(k.freed, 2004); /* destroyed at once by free */
    return 0;
}

static void test_basic(void)
{
    test_alloc_begin(0, 0);
    CHECK_RC(test_run_virtual(basic_main, NULL), 0);
    CHECK_EQ(test_alloc_end(), 0);
}

struct caller {
    cio_cache *c;
    struct comp *k;
    const char *key;
    int rc;
    char got[32];
    double at;          /* when it returned */
    int order;          /* 1, 2, ... in the order the callers returned */
};

static int returned;

static int caller_task(void *arg, void **result)
{
    struct caller *cl = arg;
    void *v;
    cl->rc = cio_cache_get_str(cl->c, cl->key, compute, cl->k, &v);
    if (cl->rc == 0)
        snprintf(cl->got, sizeof cl->got, "%s", (char *)v);
    cl->at = test_loop_now();
    cl->order = ++returned;
    return 0;
}

static int single_flight_main(void *arg, void **result)
{
    struct comp k = {.delay = 2.0};
    cio_cache *c = plain_cache(&k);
    struct caller cl[5];
    cio_task *t[5];
    returned = 0;
    for (int i = 0; i < 5; i++) {
        cl[i] = (struct caller){.c = c, .k = &k, .key = "shared"};
        CHECK_RC(cio_create_task(caller_task, &cl[i], NULL, &t[i]), 0);
        CHECK_RC(cio_sleep(0.1), 0); /* they arrive while it runs */
    }
    for (int i = 0; i < 5; i++) {
        CHECK_RC(cio_task_await(t[i], NULL), 0);
        cio_task_unref(t[i]);
        CHECK_RC(cl[i].rc, 0);
        CHECK(strcmp(cl[i].got, "shared#1") == 0);
        CHECK(cl[i].at > 1.999 && cl[i].at < 2.001); /* all at the end of the one run */
        CHECK_EQ(cl[i].order, i + 1);                /* woken in arrival order */
    }
    CHECK_EQ(k.runs, 1);
    cio_cache_free(c);
    CHECK_EQ(k.freed, 1);
    return 0;
}

static void test_single_flight(void) { CHECK_RC(test_run_virtual(single_flight_main, NULL), 0); }

/* ---- TTL, LRU, deferred destruction ------------------------------------- */

static int ttl_main(void *arg, void **result)
{
    struct comp k = {.delay = 1.0};
    cio_cache *c;
    CHECK_RC(cio_cache_new(NULL, 0, 10.0, 0, free_value, &k, &c), 0);
    void *v;
    CHECK_RC(cio_cache_get_str(c, "x", compute, &k, &v), 0); /* cached at t=1 */
    CHECK_RC(cio_sleep(8.9), 0);                               /* t=9.9 */
    CHECK_RC(cio_cache_get_str(c, "x", compute, &k, &v), 0);
    CHECK(strcmp(v, "x#1") == 0);
    CHECK_RC(cio_sleep(0.2), 0); /* t=10.1: 9.1 s old... still fresh */
    CHECK_RC(cio_cache_lookup(c, "x", 1, &v), 0);
    CHECK_RC(cio_sleep(1.0), 0); /* t=11.1: expired */
    CHECK_RC(cio_cache_lookup(c, "x", 1, &v), -ENOENT);
    CHECK_EQ(cio_cache_size(c), 0);
    CHECK_RC(cio_cache_get_str(c, "x", compute, &k, &v), 0);
    CHECK(strcmp(v, "x#2") == 0);
    CHECK_EQ(k.runs, 2);
    cio_cache_free(c);
    CHECK_EQ(k.freed, 2);
    CHECK_RC(cio_cache_new(NULL, 0, -1, 0, NULL, NULL, &c), -EINVAL);
    CHECK_RC(cio_cache_new(NULL, 0, 0.0 / 0.0, 0, NULL, NULL, &c), -EINVAL);
    CHECK_RC(cio_cache_new(NULL, 0, 1.0 / 0.0, 0, NULL, NULL, &c), 0); /* never expires */
    cio_cache_free(c);
    return 0;
}

static void test_ttl(void) { CHECK_RC(test_run_virtual(ttl_main, NULL), 0); }

static int lru_main(void *arg, void **result)
{
    struct comp k = {0};
    cio_cache *c;
    CHECK_RC(cio_cache_new(NULL, 2, 0, 0, free_value, &k, &c), 0);
    void *v;
    CHECK_RC(cio_cache_get_str(c, "a", compute, &k, &v), 0);
    CHECK_RC(cio_cache_get_str(c, "b", compute, &k, &v), 0);
    CHECK_RC(cio_cache_get_str(c, "a", compute, &k, &v), 0); /* a is now the most recent */
    CHECK_RC(cio_cache_get_str(c, "c", compute, &k, &v), 0); /* evicts b */
    CHECK_EQ(cio_cache_size(c), 2);
    CHECK_RC(cio_cache_lookup(c, "b", 1, &v), -ENOENT);
    CHECK_RC(cio_cache_lookup(c, "a", 1, &v), 0);
    CHECK_RC(cio_cache_lookup(c, "c", 1, &v), 0);
    CHECK_EQ(k.runs, 3);
    CHECK_RC(cio_sleep(0), 0);
    CHECK_EQ(k.freed, 1);

    /* Destruction is deferred until the caller suspends. */
    void *va;
    CHECK_RC(cio_cache_lookup(c, "a", 1, &va), 0);
    CHECK_RC(cio_cache_invalidate(c, "a", 1), 1);
    CHECK_RC(cio_cache_invalidate(c, "a", 1), 0);
    CHECK_EQ(k.freed, 1);
    CHECK(strcmp(va, "a#1") == 0); /* still valid */
    CHECK_RC(cio_cache_clear(c), 1);
    CHECK_EQ(k.freed, 1);
    CHECK_RC(cio_sleep(0), 0);
    CHECK_EQ(k.freed, 3);
    CHECK_EQ(cio_cache_size(c), 0);
    cio_cache_free(c);
    return 0;
}

static void test_lru(void) { CHECK_RC(test_run_virtual(lru_main, NULL), 0); }

/* ---- failures ---------------------------------------------------------- */

static int errors_main(void *arg, void **result)
{
    struct comp k = {.delay = 1.0, .fail = -EIO};
    cio_cache *c = plain_cache(&k);
    struct caller cl[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        cl[i] = (struct caller){.c = c, .k = &k, .key = "bad"};
        CHECK_RC(cio_create_task(caller_task, &cl[i], NULL, &t[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        CHECK_RC(cio_task_await(t[i], NULL), 0);
        cio_task_unref(t[i]);
        CHECK_RC(cl[i].rc, -EIO); /* every waiter gets the failure */
    }
    CHECK_EQ(k.runs, 1);
    void *v;
    CHECK_RC(cio_cache_lookup(c, "bad", 3, &v), -ENOENT); /* not cached */
    CHECK_RC(cio_cache_get_str(c, "bad", compute, &k, &v), -EIO);
    CHECK_EQ(k.runs, 2);
    cio_cache_free(c);

    /* With CIO_CACHE_ERRORS the failure is cached, until its TTL. */
    k = (struct comp){.delay = 1.0, .fail = -EIO};
    CHECK_RC(cio_cache_new(NULL, 0, 5.0, CIO_CACHE_ERRORS, free_value, &k, &c), 0);
    CHECK_RC(cio_cache_get_str(c, "bad", compute, &k, &v), -EIO);
    CHECK_RC(cio_cache_get_str(c, "bad", compute, &k, &v), -EIO);
    CHECK_RC(cio_cache_lookup(c, "bad", 3, &v), -EIO);
    CHECK_EQ(k.runs, 1);
    CHECK_RC(cio_sleep(6), 0);
    k.fail = 0;
    CHECK_RC(cio_cache_get_str(c, "bad", compute, &k, &v), 0);
    CHECK_EQ(k.runs, 2);
    cio_cache_free(c);
    CHECK_EQ(k.freed, 1);
    CHECK_RC(cio_cache_new(NULL, 0, 0, 0x80, NULL, NULL, &c), -EINVAL);
    return 0;
}

static void test_errors(void) { CHECK_RC(test_run_virtual(errors_main, NULL), 0); }

/* ---- cancellation ------------------------------------------------------- */

struct cancel_case {
    double at;         /* when caller 0 (who started the computation) is cancelled */
    struct comp k;
    struct caller cl[3];
};

static int cancel_main(void *arg, void **result)
{
    struct cancel_case *cc = arg;
    cio_cache *c;
    CHECK_RC(cio_cache_new(NULL, 0, 0, 0, free_value, &cc->k, &c), 0);
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        cc->cl[i] = (struct caller){.c = c, .k = &cc->k, .key = "slow"};
        CHECK_RC(cio_create_task(caller_task, &cc->cl[i], NULL, &t[i]), 0);
    }
    CHECK_RC(cio_sleep(cc->at), 0);
    cio_task_cancel(t[0], NULL);
    for (int i = 0; i < 3; i++) {
        cio_task_await(t[i], NULL);
        cio_task_unref(t[i]);
    }
    /* The computation was not cancelled and its result is cached. */
    void *v;
    CHECK_RC(cio_cache_lookup(c, "slow", 4, &v), 0);
    CHECK(v && strcmp(v, "slow#1") == 0);
    CHECK_EQ(cc->k.runs, 1);
    CHECK_EQ(cc->k.finished, 1);
    CHECK_EQ(cc->k.sleep_rc, 0);
    cio_cache_free(c);
    CHECK_EQ(cc->k.freed, 1);
    return 0;
}

static void test_cancel_one_caller(void)
{
    /* The computation takes 1 s; cancel the caller that started it at each
     * point: before it ran, while it waits, at the very end, after. */
    for (int step = 0; step <= 10; step++) {
        struct cancel_case cc = {.at = step * 0.125, .k = {.delay = 1.0}};
        CHECK_RC(test_run_virtual(cancel_main, &cc), 0);
        if (step == 0) {
            CHECK_RC(cc.cl[0].rc, -ECANCELED); /* cancelled before it ran */
        } else if (step < 8) {
            CHECK_RC(cc.cl[0].rc, -ECANCELED);
            CHECK(cc.cl[0].at == cc.at);     /* stopped waiting at once */
        } else if (step > 8) {
            CHECK_RC(cc.cl[0].rc, 0);
        }
        for (int i = 1; i < 3; i++) {
            CHECK_RC(cc.cl[i].rc, 0);
            CHECK(strcmp(cc.cl[i].got, "slow#1") == 0);
        }
    }
}

/* Every caller gives up: the computation still finishes and is cached. */
static int all_gone_main(void *arg, void **result)
{
    struct comp k = {.delay = 1.0};
    cio_cache *c = plain_cache(&k);
    struct caller cl[2];
    cio_task *t[2];
    for (int i = 0; i < 2; i++) {
        cl[i] = (struct caller){.c = c, .k = &k, .key = "orphan"};
        CHECK_RC(cio_create_task(caller_task, &cl[i], NULL, &t[i]), 0);
    }
    CHECK_RC(cio_sleep(0.5), 0);
    for (int i = 0; i < 2; i++) {
        cio_task_cancel(t[i], NULL);
        cio_task_await(t[i], NULL);
        cio_task_unref(t[i]);
        CHECK_RC(cl[i].rc, -ECANCELED);
    }
    void *v;
    CHECK_RC(cio_cache_lookup(c, "orphan", 6, &v), -ENOENT); /* still in flight */
    CHECK_RC(cio_sleep(1.0), 0);
    CHECK_RC(cio_cache_lookup(c, "orphan", 6, &v), 0);
    CHECK_EQ(k.runs, 1);
    cio_cache_free(c);
    return 0;
}

static void test_all_callers_gone(void) { CHECK_RC(test_run_virtual(all_gone_main, NULL), 0); }

/* A caller whose timeout scope expires stops waiting with -ETIMEDOUT; the
 * computation goes on and is cached. */
static int timeout_main(void *arg, void **result)
{
    struct comp k = {.delay = 1.0};
    cio_cache *c = plain_cache(&k);
    void *v;
    cio_timeout *tm;
    CHECK_RC(cio_timeout_begin(0.5, &tm), 0);
    CHECK_RC(cio_cache_get_str(c, "t", compute, &k, &v), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK(test_loop_now() == 0.5);
    CHECK_RC(cio_sleep(1.0), 0);
    CHECK_RC(cio_cache_lookup(c, "t", 1, &v), 0);
    CHECK(strcmp(v, "t#1") == 0);
    CHECK_EQ(k.sleep_rc, 0);
    cio_cache_free(c);
    return 0;
}

static void test_timeout(void) { CHECK_RC(test_run_virtual(timeout_main, NULL), 0); }

/* ---- invalidate and free while computing ------------------------------- */

static int invalidate_pending_main(void *arg, void **result)
{
    struct comp k = {.delay = 1.0};
    cio_cache *c = plain_cache(&k);
    struct caller cl = {.c = c, .k = &k, .key = "p"};
    cio_task *t;
    CHECK_RC(cio_create_task(caller_task, &cl, NULL, &t), 0);
    CHECK_RC(cio_sleep(0.5), 0);
    CHECK_RC(cio_cache_invalidate(c, "p", 1), 1);
    CHECK_RC(cio_task_await(t, NULL), 0);
    cio_task_unref(t);
    CHECK_RC(cl.rc, 0); /* the waiter still gets the result... */
    CHECK(strcmp(cl.got, "p#1") == 0);
    void *v;
    CHECK_RC(cio_cache_lookup(c, "p", 1, &v), -ENOENT); /* ...which is not stored */
    CHECK_RC(cio_sleep(0), 0);
    CHECK_EQ(k.freed, 1);
    CHECK_RC(cio_cache_get_str(c, "p", compute, &k, &v), 0);
    CHECK(strcmp(v, "p#2") == 0);
    cio_cache_free(c);
    CHECK_EQ(k.freed, 2);
    return 0;
}

static void test_invalidate_pending(void)
{
    CHECK_RC(test_run_virtual(invalidate_pending_main, NULL), 0);
}

static int free_pending_main(void *arg, void **result)
{
    struct comp k = {.delay = 1.0};
    cio_cache *c = plain_cache(&k);
    void *v;
    k.delay = 0;
    CHECK_RC(cio_cache_get_str(c, "done", compute, &k, &v), 0);
    k.delay = 1.0;
    struct caller cl[2];
    cio_task *t[2];
    for (int i = 0; i < 2; i++) {
        cl[i] = (struct caller){.c = c, .k = &k, .key = i ? "q" : "r"};
        CHECK_RC(cio_create_task(caller_task, &cl[i], NULL, &t[i]), 0);
    }
    CHECK_RC(cio_sleep(0.5), 0);
    cio_cache_free(c);
    CHECK_EQ(k.freed, 1); /* the cached value, at once */
    for (int i = 0; i < 2; i++) {
        CHECK_RC(cio_task_await(t[i], NULL), 0);
        cio_task_unref(t[i]);
        CHECK_RC(cl[i].rc, CIO_ECLOSED);
    }
    CHECK_RC(cio_sleep(2.0), 0);
    CHECK_EQ(k.sleep_rc, -ECANCELED); /* the computations were cancelled */
    CHECK_EQ(k.finished, 1);
    cio_cache_free(NULL);
    return 0;
}

static void test_free_pending(void) { CHECK_RC(test_run_virtual(free_pending_main, NULL), 0); }

/* ---- misuse ------------------------------------------------------------- */

static cio_cache *self_cache;
static int self_compute(void *arg, const void *key, size_t keylen, void **value)
{
    void *v;
    int rc = cio_cache_get(self_cache, key, keylen, self_compute, arg, &v);
    *value = NULL;
    return rc == -EDEADLK ? -EDEADLK : -EIO;
}

static int misuse_main(void *arg, void **result)
{
    cio_cache *c;
    CHECK_RC(cio_cache_new(NULL, 0, 0, 0, NULL, NULL, NULL), -EINVAL);
    CHECK_RC(cio_cache_new(NULL, 0, 0, 0, NULL, NULL, &c), 0);
    void *v;
    CHECK_RC(cio_cache_get(NULL, "k", 1, compute, NULL, &v), -EINVAL);
    CHECK_RC(cio_cache_get(c, NULL, 1, compute, NULL, &v), -EINVAL);
    CHECK_RC(cio_cache_get(c, "k", 1, NULL, NULL, &v), -EINVAL);
    CHECK_RC(cio_cache_get(c, "k", 1, compute, NULL, NULL), -EINVAL);
    CHECK_RC(cio_cache_get_str(c, NULL, compute, NULL, &v), -EINVAL);
    CHECK_RC(cio_cache_lookup(NULL, "k", 1, &v), -EINVAL);
    CHECK_RC(cio_cache_lookup(c, "k", 1, NULL), -EINVAL);
    CHECK_RC(cio_cache_invalidate(NULL, "k", 1), -EINVAL);
    CHECK_RC(cio_cache_clear(NULL), -EINVAL);
    CHECK_EQ(cio_cache_size(NULL), 0);
    /* A computation asking for its own key would wait for itself. */
    self_cache = c;
    CHECK_RC(cio_cache_get_str(c, "self", self_compute, NULL, &v), -EDEADLK);
    cio_cache_free(c);
    return 0;
}

static void test_misuse(void)
{
    CHECK_RC(test_run_virtual(misuse_main, NULL), 0);
    cio_cache *c;
    CHECK_RC(cio_cache_new(NULL, 0, 0, 0, NULL, NULL, &c), CIO_ENOLOOP);
}

/* Outside a task: a hit works, a miss cannot wait. */
static void test_outside_task(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    cio_cache *c;
    CHECK_RC(cio_cache_new(loop, 0, 0, 0, NULL, NULL, &c), 0);
    void *v;
    struct comp k = {0};
    CHECK_RC(cio_cache_get_str(c, "k", compute, &k, &v), CIO_ENOTASK);
    CHECK_EQ(k.runs, 0);
    cio_cache_free(c);
    cio_loop_free(loop);
}

/* ---- allocation failures ----------------------------------------------- */

static int alloc_main(void *arg, void **result)
{
    struct comp *k = arg;
    cio_cache *c;
    int rc = cio_cache_new(NULL, 2, 10, 0, free_value, k, &c);
    if (rc)
        return rc;
    struct caller cl[2];
    cio_task *t[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        cl[i] = (struct caller){.c = c, .k = k, .key = "x"};
        if (cio_create_task(caller_task, &cl[i], NULL, &t[i]) < 0)
            t[i] = NULL;
    }
    void *v;
    const char *keys[] = {"x", "y", "z", "x"};
    for (int i = 0; i < 4; i++) {
        rc = cio_cache_get_str(c, keys[i], compute, k, &v);
        if (rc != 0 && rc != -ENOMEM)
            CHECK_RC(rc, 0);
    }
    for (int i = 0; i < 2; i++) {
        if (!t[i])
            continue;
        cio_task_await(t[i], NULL);
        if (cl[i].rc != 0 && cl[i].rc != -ENOMEM)
            CHECK_RC(cl[i].rc, 0);
        cio_task_unref(t[i]);
    }
    cio_cache_free(c);
    return 0;
}

static int alloc_run(long n, void *arg)
{
    struct comp k = {.delay = 0.5};
    int rc = test_run_virtual(alloc_main, &k);
    /* Every value made was destroyed. */
    CHECK_EQ(k.freed, k.finished);
    return rc;
}

static void test_alloc_failures(void) { test_alloc_sweep(alloc_run, NULL, 10001, TEST_ALLOC_ENOMEM); }

int main(void)
{
    RUN(test_basic);
    RUN(test_single_flight);
    RUN(test_ttl);
    RUN(test_lru);
    RUN(test_errors);
    RUN(test_cancel_one_caller);
    RUN(test_all_callers_gone);
    RUN(test_timeout);
    RUN(test_invalidate_pending);
    RUN(test_free_pending);
    RUN(test_misuse);
    RUN(test_outside_task);
    RUN(test_alloc_failures);
    return test_finish();
}
