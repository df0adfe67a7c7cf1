/*
 * pg_test.h - what the pg test binaries share on top of pg_util.h's
 * cluster: a connection that must open (the reason printed if not) and a
 * query's single int8 value, the CASE runner.  Include after test.h and
 * cio/pg.h.
 */
#ifndef CIO_TEST_PG_TEST_H
#define CIO_TEST_PG_TEST_H

#include "pg_util.h"

/* Connects to conninfo ci; NULL (and a failed check) if that fails. */
static inline cio_pg_conn *pg_test_connect(const char *ci)
{
    cio_pg_conn *c = NULL;
    int rc = cio_pg_connect(ci, NULL, &c);
    if (rc < 0)
        fprintf(stderr, "connect %s: %s: %s\n", ci, cio_strerror(rc),
                cio_pg_error_message(cio_pg_last_error()));
    CHECK_RC(rc, 0);
    return c;
}

/* The int8 value of sql's one row and column; -999 (and a failed check)
 * otherwise. */
static inline int64_t pg_test_val_i64(cio_pg_conn *c, const char *sql, const cio_pg_param *p,
                                      int n)
{
    cio_pg_result *r;
    cio_pg_value v;
    int64_t x = -999;
    int rc = cio_pg_fetchval(c, sql, p, n, &r, &v);
    CHECK_EQ(rc, 1);
    if (rc == 1) {
        CHECK_RC(cio_pg_value_int64(&v, &x), 0);
        cio_pg_result_free(r);
    }
    return x;
}

/* CASE(fn): fn##_case() runs the coroutine fn in a fresh cio_run, which
 * must return 0 (one loop per test case, as each test binary's RUN list
 * calls them). */
static inline void pg_test_run_case(cio_coro_fn *fn)
{
    CHECK_RC(cio_run(fn, NULL, NULL), 0);
}

#define CASE(fn)                                                                         \
    static void fn##_case(void) { pg_test_run_case(fn); }

#endif
