/*
 * test_signal.c - signal handlers on the loop: SIGUSR1 runs its callback
 * on the loop (also when another thread sends it while the loop sleeps),
 * replace/remove and the restored disposition, bad arguments, one owner
 * loop per signal, a handler keeping the loop alive, and cio_run turning
 * SIGINT into cancellation of the main task (and a weak handler not
 * hiding a deadlock).  CIO_TEST_THREADS (a sender thread).
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "test.h"

static int hits;
static cio_future *hit_fut;

static void on_usr1(void *arg)
{
    hits++;
    CHECK(cio_get_running_loop() == arg); /* runs on the loop */
    if (hit_fut && !cio_future_done(hit_fut))
        cio_future_set_result(hit_fut, NULL);
}

static void *send_later(void *arg)
{
    usleep(20 * 1000);
    kill(getpid(), (int)(intptr_t)arg);
    return NULL;
}

static int usr1_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    signal(SIGUSR1, SIG_IGN); /* the disposition to restore afterwards */
    hits = 0;
    CHECK_RC(cio_loop_add_signal_handler(loop, SIGUSR1, on_usr1, loop), 0);
    CHECK_RC(cio_future_new(loop, &hit_fut), 0);
    kill(getpid(), SIGUSR1);
    CHECK_RC(cio_await(hit_fut, NULL), 0);
    CHECK_EQ(hits, 1);
    cio_future_unref(hit_fut);

    /* From another thread, while the loop sleeps in epoll_wait. */
    CHECK_RC(cio_future_new(loop, &hit_fut), 0);
    pthread_t th;
    pthread_create(&th, NULL, send_later, (void *)(intptr_t)SIGUSR1);
    CHECK_RC(cio_await(hit_fut, NULL), 0);
    CHECK_EQ(hits, 2);
    pthread_join(th, NULL);
    cio_future_unref(hit_fut);
    hit_fut = NULL;

    CHECK_EQ(cio_loop_remove_signal_handler(loop, SIGUSR1), 1);
    CHECK_EQ(cio_loop_remove_signal_handler(loop, SIGUSR1), 0);
    struct sigaction cur;
    sigaction(SIGUSR1, NULL, &cur);
    CHECK(cur.sa_handler == SIG_IGN);
    kill(getpid(), SIGUSR1); /* ignored now */
    CHECK_RC(cio_sleep(0.01), 0);
    CHECK_EQ(hits, 2);
    signal(SIGUSR1, SIG_DFL);

    /* Bad arguments. */
    CHECK_RC(cio_loop_add_signal_handler(loop, SIGKILL, on_usr1, NULL), -EINVAL);
    CHECK_RC(cio_loop_add_signal_handler(loop, 0, on_usr1, NULL), -EINVAL);
    CHECK_RC(cio_loop_add_signal_handler(loop, 100000, on_usr1, NULL), -EINVAL);
    CHECK_RC(cio_loop_add_signal_handler(loop, SIGUSR1, NULL, NULL), -EINVAL);
    CHECK_RC(cio_loop_add_signal_handler(NULL, SIGUSR1, on_usr1, NULL), -EINVAL);
    CHECK_RC(cio_loop_remove_signal_handler(loop, -1), -EINVAL);
    return 0;
}

static void test_usr1(void) { CHECK_RC(cio_run(usr1_main, NULL, NULL), 0); }

/* One loop per signal; the handler goes away when its loop closes. */
static void test_owner(void)
{
    cio_loop *a, *b;
    CHECK_RC(cio_loop_new(&a), 0);
    CHECK_RC(cio_loop_new(&b), 0);
    CHECK_RC(cio_loop_add_signal_handler(a, SIGUSR2, on_usr1, a), 0);
    CHECK_RC(cio_loop_add_signal_handler(a, SIGUSR2, on_usr1, a), 0); /* replace */
    CHECK_RC(cio_loop_add_signal_handler(b, SIGUSR2, on_usr1, b), -EBUSY);
    cio_loop_free(a);
    struct sigaction cur;
    sigaction(SIGUSR2, NULL, &cur);
    CHECK(cur.sa_handler == SIG_DFL);
    CHECK_RC(cio_loop_add_signal_handler(b, SIGUSR2, on_usr1, b), 0);
    cio_loop_free(b);
}

/* A loop whose only source of events is a signal handler does not report
 * a deadlock: the signal (from a thread, 20 ms later) completes it. */
static void test_keeps_alive(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    hits = 0;
    CHECK_RC(cio_future_new(loop, &hit_fut), 0);
    CHECK_RC(cio_loop_add_signal_handler(loop, SIGUSR1, on_usr1, loop), 0);
    pthread_t th;
    pthread_create(&th, NULL, send_later, (void *)(intptr_t)SIGUSR1);
    CHECK_RC(cio_loop_run_until_complete(loop, hit_fut, NULL), 0);
    CHECK_EQ(hits, 1);
    pthread_join(th, NULL);
    cio_future_unref(hit_fut);
    hit_fut = NULL;
    cio_loop_free(loop);
    struct sigaction cur;
    sigaction(SIGUSR1, NULL, &cur);
    CHECK(cur.sa_handler == SIG_DFL);
}

/* ---- SIGINT in cio_run --------------------------------------------------- */

static int sigint_main(void *arg, void **result)
{
    kill(getpid(), SIGINT);
    int rc = cio_sleep(10);
    CHECK_RC(rc, -ECANCELED);
    CHECK_RC(cio_sleep(0), -ECANCELED); /* level-triggered */
    return rc;
}

static int never_main(void *arg, void **result)
{
    cio_future *f;
    cio_future_new(NULL, &f);
    int rc = cio_await(f, NULL); /* nothing can complete it */
    cio_future_unref(f);
    return rc;
}

static void test_sigint(void)
{
    CHECK_RC(cio_run(sigint_main, NULL, NULL), -ECANCELED);
    struct sigaction cur;
    sigaction(SIGINT, NULL, &cur);
    CHECK(cur.sa_handler == SIG_DFL);
    /* cio_run's own SIGINT handler does not hide a deadlock. */
    CHECK_RC(cio_run(never_main, NULL, NULL), CIO_ESTALLED);
    /* A user's SIGINT disposition is left alone. */
    signal(SIGINT, SIG_IGN);
    CHECK_RC(cio_run(never_main, NULL, NULL), CIO_ESTALLED);
    sigaction(SIGINT, NULL, &cur);
    CHECK(cur.sa_handler == SIG_IGN);
    signal(SIGINT, SIG_DFL);
}

int main(void)
{
    RUN(test_usr1);
    RUN(test_owner);
    RUN(test_keeps_alive);
    RUN(test_sigint);
    return test_finish();
}
