/*
 * test_pg_pool.c - the PostgreSQL pool against a real server (pg_util.h):
 * many tasks through a small pool, acquire timeout, state reset on
 * release, a pooled connection whose backend is terminated, a server
 * restart under the pool, close waiting for connections in use, max
 * lifetime.  CIO_TEST_THREADS (cancel requests use the thread pool).
 */
#include "test.h"
#include "helpers.h"

#ifndef CIO_HAVE_LIBPQ
int main(void)
{
    TEST_SKIP("built without libpq (install libpq-dev)");
}
#else

#include <cio/pg.h>

#include "pg_util.h"

static cio_pg_pool *new_pool(size_t min, size_t max)
{
    cio_pg_pool_options o;
    cio_pg_pool_options_init(&o);
    o.min_size = min;
    o.max_size = max;
    cio_pg_pool *p = NULL;
    CHECK_RC(cio_pg_pool_new(pg_conninfo(), &o, &p), 0);
    return p;
}

static int64_t val_i64(cio_pg_conn *c, const char *sql)
{
    cio_pg_result *r;
    cio_pg_value v;
    int64_t x = -999;
    if (cio_pg_fetchval(c, sql, NULL, 0, &r, &v) == 1) {
        cio_pg_value_int64(&v, &x);
        cio_pg_result_free(r);
    }
    return x;
}

struct user {
    cio_pg_pool *p; /* the pool */
    int i;          /* which */
    int ok;         /* got the right answer */
};

static int user_task(void *arg, void **result)
{
    struct user *u = arg;
    cio_pg_conn *c;
    int rc = cio_pg_pool_acquire(u->p, 10, &c);
    if (rc < 0)
        return rc;
    cio_pg_param par = cio_pg_pint8(u->i);
    cio_pg_result *r;
    cio_pg_value v;
    int64_t x = -1;
    if (cio_pg_fetchval(c, "SELECT $1 * 2 FROM pg_sleep(0.01)", &par, 1, &r, &v) == 1) {
        cio_pg_value_int64(&v, &x);
        cio_pg_result_free(r);
    }
    u->ok = x == 2 * u->i;
    cio_pg_pool_release(u->p, c);
    return 0;
}

static int t_many_users(void *arg, void **result)
{
    cio_pg_pool *p = new_pool(2, 4);
    if (!p)
        return 0;
    CHECK_EQ(cio_pg_pool_size(p), 2);
    enum { N = 40 };
    struct user u[N];
    cio_task *t[N];
    for (int i = 0; i < N; i++) {
        u[i] = (struct user){p, i, 0};
        cio_create_task(user_task, &u[i], NULL, &t[i]);
    }
    for (int i = 0; i < N; i++) {
        CHECK_RC(cio_task_await(t[i], NULL), 0);
        CHECK(u[i].ok);
        cio_task_unref(t[i]);
    }
    CHECK(cio_pg_pool_size(p) <= 4);
    CHECK_EQ(cio_pg_pool_idle(p), cio_pg_pool_size(p));
    CHECK_RC(cio_pg_pool_close(p), 0);
    cio_pg_pool_free(p);
    return 0;
}

static int t_timeout_and_reset(void *arg, void **result)
{
    cio_pg_pool *p = new_pool(1, 1);
    if (!p)
        return 0;
    cio_pg_conn *c, *c2;
    CHECK_RC(cio_pg_pool_acquire(p, 1, &c), 0);
    double t0 = test_now();
    CHECK_RC(cio_pg_pool_acquire(p, 0.1, &c2), -ETIMEDOUT);
    CHECK(test_now() - t0 < 1.0);
    /* Leave a transaction open and a LISTEN: release resets both. */
    CHECK_RC(cio_pg_execute(c, "BEGIN", NULL, 0), 0);
    CHECK_RC(cio_pg_execute(c, "CREATE TEMP TABLE rst (a int)", NULL, 0), 0);
    CHECK_RC(cio_pg_execute(c, "LISTEN foo", NULL, 0), 0);
    CHECK_RC(cio_pg_pool_release(p, c), 0);
    CHECK_RC(cio_pg_pool_acquire(p, 1, &c2), 0);
    CHECK(c2 == c);
    /* Freeing the pool with a connection acquired is refused (logged),
     * not a use after free for the holder: the pool goes on. */
    test_log_start(CIO_LOG_ERROR);
    cio_pg_pool_free(p);
    CHECK(test_log_find("cio_pg_pool_free", "still acquired") >= 0);
    test_log_stop();
    CHECK_EQ(val_i64(c2, "SELECT count(*) FROM pg_listening_channels()"), 0);
    CHECK_EQ(val_i64(c2, "SELECT count(*) FROM pg_class WHERE relname = 'rst'"), 0);
    CHECK_RC(cio_pg_pool_release(p, c2), 0);
    CHECK_RC(cio_pg_pool_release(p, NULL), -EINVAL);
    CHECK_RC(cio_pg_pool_close(p), 0);
    cio_pg_pool_free(p);
    return 0;
}

static int t_terminated_backend(void *arg, void **result)
{
    cio_pg_pool *p = new_pool(2, 2);
    if (!p)
        return 0;
    cio_pg_conn *a, *b;
    CHECK_RC(cio_pg_pool_acquire(p, 1, &a), 0);
    CHECK_RC(cio_pg_pool_acquire(p, 1, &b), 0);
    int pid = cio_pg_backend_pid(a);
    CHECK_RC(cio_pg_pool_release(p, a), 0);
    cio_pg_param par = cio_pg_pint4(pid);
    CHECK_RC(cio_pg_execute(b, "SELECT pg_terminate_backend($1)", &par, 1), 1);
    cio_sleep(0.2);
    /* The idle connection was lost: acquire replaces it. */
    CHECK_RC(cio_pg_pool_acquire(p, 1, &a), 0);
    CHECK(cio_pg_backend_pid(a) != pid);
    CHECK_EQ(val_i64(a, "SELECT 1"), 1);
    /* A connection lost while in use: the query fails, release drops it. */
    par = cio_pg_pint4(cio_pg_backend_pid(b));
    CHECK_RC(cio_pg_execute(a, "SELECT pg_terminate_backend($1)", &par, 1), 1);
    cio_sleep(0.2);
    CHECK_RC(cio_pg_execute(b, "SELECT 1", NULL, 0), -ECONNRESET);
    CHECK_RC(cio_pg_pool_release(p, b), 0);
    CHECK_EQ(cio_pg_pool_size(p), 1);
    CHECK_RC(cio_pg_pool_acquire(p, 1, &b), 0);
    CHECK_EQ(val_i64(b, "SELECT 2"), 2);
    CHECK_RC(cio_pg_pool_release(p, a), 0);
    CHECK_RC(cio_pg_pool_release(p, b), 0);
    CHECK_RC(cio_pg_pool_close(p), 0);
    cio_pg_pool_free(p);
    return 0;
}

static int t_server_restart(void *arg, void **result)
{
    cio_pg_pool *p = new_pool(3, 3);
    if (!p)
        return 0;
    CHECK_RC(pg_cluster_restart(), 0);
    cio_sleep(0.2);
    for (int i = 0; i < 6; i++) {
        cio_pg_conn *c;
        int rc = cio_pg_pool_acquire(p, 5, &c);
        CHECK_RC(rc, 0);
        if (rc == 0) {
            CHECK_EQ(val_i64(c, "SELECT 11"), 11);
            cio_pg_pool_release(p, c);
        }
    }
    CHECK_RC(cio_pg_pool_close(p), 0);
    cio_pg_pool_free(p);
    return 0;
}

struct holder {
    cio_pg_pool *p; /* the pool */
    int released;   /* set when it gave the connection back */
};

static int holder_task(void *arg, void **result)
{
    struct holder *h = arg;
    cio_pg_conn *c;
    int rc = cio_pg_pool_acquire(h->p, 1, &c);
    if (rc < 0)
        return rc;
    cio_sleep(0.2);
    h->released = 1;
    return cio_pg_pool_release(h->p, c);
}

static int t_close_waits(void *arg, void **result)
{
    cio_pg_pool *p = new_pool(1, 2);
    if (!p)
        return 0;
    struct holder h = {p, 0};
    cio_task *t;
    cio_create_task(holder_task, &h, NULL, &t);
    cio_sleep(0.05);
    CHECK_RC(cio_pg_pool_close(p), 0);
    cio_pg_pool_free(p);
    CHECK(h.released);
    CHECK_RC(cio_task_await(t, NULL), 0);
    cio_task_unref(t);
    return 0;
}

static int t_lifetime(void *arg, void **result)
{
    cio_pg_pool_options o;
    cio_pg_pool_options_init(&o);
    o.min_size = 1;
    o.max_size = 1;
    o.max_lifetime = 0.1;
    cio_pg_pool *p = NULL;
    CHECK_RC(cio_pg_pool_new(pg_conninfo(), &o, &p), 0);
    if (!p)
        return 0;
    cio_pg_conn *c;
    CHECK_RC(cio_pg_pool_acquire(p, 1, &c), 0);
    int pid = cio_pg_backend_pid(c);
    cio_pg_pool_release(p, c);
    cio_sleep(0.2);
    CHECK_RC(cio_pg_pool_acquire(p, 1, &c), 0);
    CHECK(cio_pg_backend_pid(c) != pid);
    cio_pg_pool_release(p, c);
    CHECK_RC(cio_pg_pool_close(p), 0);
    cio_pg_pool_free(p);
    return 0;
}

#define CASE(fn)                                                                         \
    static void fn##_case(void) { CHECK_RC(cio_run(fn, NULL, NULL), 0); }
CASE(t_many_users)
CASE(t_timeout_and_reset)
CASE(t_terminated_backend)
CASE(t_close_waits)
CASE(t_lifetime)
CASE(t_server_restart)

int main(void)
{
    const char *why = pg_cluster_start();
    if (why)
        TEST_SKIP(why);
    RUN(t_many_users_case);
    RUN(t_timeout_and_reset_case);
    RUN(t_terminated_backend_case);
    RUN(t_close_waits_case);
    RUN(t_lifetime_case);
    RUN(t_server_restart_case);
    return test_finish();
}
#endif
