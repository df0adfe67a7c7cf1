/*
 * test.h - the tests' tiny harness: CHECK macros that report file:line and
 * the values compared, a runner that names each case, and exit code 77 for
 * "skipped" (ctest's SKIP_RETURN_CODE), as liburing's tests do: for the
 * whole binary (TEST_SKIP) or for one case (test_skip_case), so a missing
 * tool never passes as a success.
 *
 * Timing-sensitive waits scale with CIO_TEST_TIMEOUT_MULTIPLIER (libuv's
 * UV_TEST_TIMEOUT_MULTIPLIER) for slow machines and sanitizers.
 */
#ifndef CIO_TEST_H
#define CIO_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cio.h"

static int test_failures;
static int test_skipped;        /* cases skipped with test_skip_case */
static const char *test_current = "";

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", __FILE__, __LINE__,      \
                    test_current, #cond);                                              \
            test_failures++;                                                           \
        }                                                                              \
    } while (0)

#define CHECK_EQ(a, b)                                                                 \
    do {                                                                               \
        long long va_ = (long long)(a), vb_ = (long long)(b);                          \
        if (va_ != vb_) {                                                              \
            fprintf(stderr, "%s:%d: [%s] CHECK_EQ failed: %s == %s (%lld vs %lld)\n",  \
                    __FILE__, __LINE__, test_current, #a, #b, va_, vb_);               \
            test_failures++;                                                           \
        }                                                                              \
    } while (0)

/* A call that returns a cio code: compare and name both codes on failure. */
#define CHECK_RC(call, want)                                                           \
    do {                                                                               \
        int rc_ = (call), want_ = (want);                                              \
        if (rc_ != want_) {                                                            \
            fprintf(stderr, "%s:%d: [%s] %s returned %d (%s), wanted %d (%s)\n",       \
                    __FILE__, __LINE__, test_current, #call, rc_, cio_strerror(rc_),    \
                    want_, cio_strerror(want_));                                       \
            test_failures++;                                                           \
        }                                                                              \
    } while (0)

#define RUN(fn)                                                                        \
    do {                                                                               \
        test_current = #fn;                                                            \
        int before_ = test_failures;                                                   \
        fn();                                                                          \
        fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn);    \
    } while (0)

#define TEST_SKIP(why)                                                                 \
    do {                                                                               \
        printf("skipped: %s\n", why);                                                  \
        exit(77);                                                                      \
    } while (0)

/*
 * Skips the current case, saying why (a tool it needs is missing); the
 * caller returns from the case.  The binary runs its other cases, then
 * test_finish exits 77 (skipped) unless a check failed: a run that could
 * not test everything is never reported as passed.
 */
static inline void test_skip_case(const char *why)
{
    printf("skipped: [%s] %s\n", test_current, why);
    fflush(stdout);
    test_skipped++;
}

/*
 * The interpreter that the tests' Python peers and clients run:
 * /usr/bin/python3 (Debian's, where the peers' modules are installed), or
 * $CIO_TEST_PYTHON when set.  Pointing it at a missing path exercises
 * the skip paths (tests/expect_skip.sh): a test without its Python must
 * exit 77 with the reason, never 0.
 */
static inline char *test_python(void)
{
    char *p = getenv("CIO_TEST_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

/* main's return value: 1 if a check failed, else 77 if a case was
 * skipped, else 0. */
static inline int test_finish(void)
{
    if (test_failures) {
        fprintf(stderr, "%d check(s) failed\n", test_failures);
        return 1;
    }
    if (test_skipped) {
        printf("skipped: %d case(s) could not run (reasons above); the others passed\n",
               test_skipped);
        return 77;
    }
    return 0;
}

/* Monotonic wall time in seconds, for the few checks that need real time. */
static inline double test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double test_timeout_multiplier(void)
{
    const char *e = getenv("CIO_TEST_TIMEOUT_MULTIPLIER");
    double m = e ? atof(e) : 1.0;
    return m > 0 ? m : 1.0;
}

#endif
