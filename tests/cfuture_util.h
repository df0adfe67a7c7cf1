/*
 * cfuture_util.h - what test_cfuture.c and test_cfuture_load.c share:
 * atomics on plain ints, sleeping and polling a flag from plain threads,
 * and a loop running in a thread of its own.
 */
#ifndef CIO_TEST_CFUTURE_UTIL_H
#define CIO_TEST_CFUTURE_UTIL_H

#include <pthread.h>
#include <time.h>

#include "helpers.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define ADD(x, v) __atomic_add_fetch(&(x), (v), __ATOMIC_ACQ_REL)

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls until *flag is set (or ~5 s times the multiplier): 1 if set. */
static inline int wait_flag(int *flag)
{
    int limit = (int)(5000 * test_timeout_multiplier());
    for (int i = 0; i < limit; i++) {
        if (LOAD(*flag))
            return 1;
        sleep_ms(1);
    }
    return 0;
}

/* ---- a loop running in a thread of its own ---------------------------------- */

struct loop_thread {
    cio_loop *loop;
    pthread_t th;
    pthread_t tid; /* the loop's thread, as seen from inside */
};

static inline void *loop_thread_main(void *arg)
{
    struct loop_thread *lt = arg;
    int rc = cio_loop_run_forever(lt->loop);
    if (rc)
        fprintf(stderr, "run_forever: %s\n", cio_strerror(rc));
    return NULL;
}

static inline void loop_thread_start(struct loop_thread *lt)
{
    CHECK_RC(cio_loop_new(&lt->loop), 0);
    pthread_create(&lt->th, NULL, loop_thread_main, lt);
    lt->tid = lt->th;
}

static inline void stop_cb(void *arg) { cio_loop_stop(arg); }

/* Stops the loop, joins its thread, frees it. */
static inline void loop_thread_stop(struct loop_thread *lt)
{
    CHECK_RC(cio_call_soon_threadsafe(lt->loop, stop_cb, lt->loop), 0);
    pthread_join(lt->th, NULL);
    cio_loop_free(lt->loop);
}

#endif
