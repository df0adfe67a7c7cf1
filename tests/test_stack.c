/*
 * test_stack.c - coroutine stacks at scale and at their limits:
 *   - 100,000 concurrent tasks (and 1,000,000 in the normal build; under
 *     ASan, whose shadow memory makes a million stacks too heavy, 100,000),
 *     all suspended at once, then all finishing;
 *   - deep but legal recursion inside a task's stack works;
 *   - recursion past the end of the stack hits the guard page: a forked
 *     child dies by SIGSEGV, not by anything else, and the faulting
 *     address lies in the task's guard page.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "task/task.h" /* white box: the task's stack bounds */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* ---- many concurrent tasks ----------------------------------------------- */

struct crowd {
    size_t started, finished, failed;
    size_t max_pending;
    cio_loop *loop;
};

static int crowd_member(void *arg, void **result)
{
    struct crowd *c = arg;
    c->started++;
    /* All sleep until t = 1 s, so all are suspended together. */
    int rc = cio_sleep(1.0 - cio_loop_time(c->loop) + 0.001 * (double)(c->started % 7));
    if (rc)
        c->failed++;
    c->finished++;
    return rc;
}

static void census(void *arg)
{
    struct crowd *c = arg;
    c->max_pending = cio_all_tasks(c->loop, NULL, 0);
}

static void crowd(size_t n)
{
    struct crowd c = {0};
    CHECK_RC(cio_loop_new(&c.loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(c.loop, 1), 0);
    double t0 = test_now();
    for (size_t i = 0; i < n; i++) {
        int rc = cio_loop_create_task(c.loop, crowd_member, &c, NULL, NULL);
        if (rc) {
            CHECK_RC(rc, 0);
            break;
        }
    }
    /* Counted while every task is parked in its sleep. */
    CHECK_RC(cio_call_at(c.loop, 0.5, census, &c, NULL), 0);
    cio_future *never;
    CHECK_RC(cio_future_new(c.loop, &never), 0);
    CHECK_RC(cio_loop_run_until_complete(c.loop, never, NULL), CIO_ESTALLED);
    cio_future_unref(never);
    CHECK_EQ(c.started, n);
    CHECK_EQ(c.max_pending, n);
    CHECK_EQ(c.finished, n);
    CHECK_EQ(c.failed, 0);
    CHECK_EQ(cio_all_tasks(c.loop, NULL, 0), 0);
    cio_loop_free(c.loop);
    fprintf(stderr, "  %zu concurrent tasks: %.2f s\n", n, test_now() - t0);
}

static void test_100k_tasks(void) { crowd(100000); }

static void test_1m_tasks(void)
{
#ifdef UNDER_ASAN
    fprintf(stderr, "  (ASan build: the million-task case is skipped, 100k ran)\n");
#else
    crowd(1000000);
#endif
}

/* ---- deep legal recursion -------------------------------------------------- */

/* Recurses until `budget` bytes of stack are in use below `top`. */
static __attribute__((noinline)) size_t recurse_to(char *top, size_t budget, int depth)
{
    volatile char pad[512];
    pad[0] = (char)depth;
    pad[511] = (char)depth;
    if ((size_t)(top - (char *)pad) >= budget)
        return (size_t)depth + pad[0] - pad[0];
    size_t r = recurse_to(top, budget, depth + 1);
    return r + (pad[511] != (char)depth);
}

struct deep {
    size_t budget;
    size_t depth;
    int sleep_rc;
};

static int deep_task(void *arg, void **result)
{
    struct deep *d = arg;
    char here;
    d->depth = recurse_to(&here, d->budget, 0);
    d->sleep_rc = cio_sleep(0); /* and switch with a deep stack behind us */
    return 0;
}

static void test_deep_recursion(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    /* Default stack (128 KiB): use 96 KiB of it.  1 MiB stack: 900 KiB. */
    struct deep a = {.budget = 96 * 1024, .sleep_rc = 1};
    struct deep b = {.budget = 900 * 1024, .sleep_rc = 1};
    CHECK_RC(cio_loop_create_task(loop, deep_task, &a, NULL, NULL), 0);
    CHECK_RC(cio_task_new(loop, deep_task, &b, &(cio_task_options){.stack_size = 1 << 20, .file = __FILE__, .line = __LINE__}, NULL), 0);
    cio_future *never;
    CHECK_RC(cio_future_new(loop, &never), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, never, NULL), CIO_ESTALLED);
    cio_future_unref(never);
    CHECK(a.depth > 10);
    CHECK(b.depth > a.depth);
    CHECK_RC(a.sleep_rc, 0);
    CHECK_RC(b.sleep_rc, 0);
    cio_loop_free(loop);
}

/* ---- overflow hits the guard page ---------------------------------------- */

static __attribute__((noinline)) int recurse_forever(int depth)
{
    volatile char pad[1024];
    pad[0] = (char)depth;
    pad[1023] = (char)depth;
    if (depth == -1) /* never: keeps the call from becoming a loop */
        return 0;
    return recurse_forever(depth + 1) + pad[0] + pad[1023];
}

/* What the child saw, in memory shared with the parent. */
struct guard_probe {
    uintptr_t guard_lo, guard_hi; /* the overflowing task's guard page */
    int armed;                    /* the task reached the recursion */
    int fault_in_guard;           /* the SIGSEGV's address was in it */
    uintptr_t fault_addr;
};

static struct guard_probe *probe;

/* Runs on the alternate stack: notes where the fault was, then restores
 * the default action so that returning re-executes the faulting access
 * and the kernel kills the child with SIGSEGV. */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    probe->fault_addr = a;
    probe->fault_in_guard = a >= probe->guard_lo && a < probe->guard_hi;
    signal(SIGSEGV, SIG_DFL);
}

static int overflow_task(void *arg, void **result)
{
    /* White box: the guard page is the page just below the usable stack. */
    cio_task *t = cio_current_task();
    long page = sysconf(_SC_PAGESIZE);
    probe->guard_hi = (uintptr_t)t->stack->lo;
    probe->guard_lo = probe->guard_hi - (uintptr_t)page;
    probe->armed = 1;
    recurse_forever(0);
    return 0;
}

static int neighbour_task(void *arg, void **result) { return cio_sleep(10); }

/* Runs in the child: exits 1..2 if it survived, which the parent flags. */
static void overflow_child(size_t stack_size)
{
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    /* Our own handler (ASan's would report and exit(1) instead), on an
     * alternate stack since the task's stack is exhausted. */
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    signal(SIGBUS, SIG_DFL);
    cio_loop *loop;
    if (cio_loop_new(&loop) != 0)
        _exit(2);
    /* The first task takes the stack slot below the second, so without a
     * guard the overflow would run silently into its neighbour's stack
     * instead of faulting. */
    cio_task_new(loop, neighbour_task, NULL, &(cio_task_options){.name = "neighbour", .stack_size = stack_size}, NULL);
    cio_task_new(loop, overflow_task, NULL, &(cio_task_options){.name = "overflow", .stack_size = stack_size}, NULL);
    cio_future *never;
    cio_future_new(loop, &never);
    cio_loop_run_until_complete(loop, never, NULL);
    _exit(1);
}

static void expect_guard_death(size_t stack_size)
{
    memset(probe, 0, sizeof *probe);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        overflow_child(stack_size);
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status));
    if (WIFSIGNALED(status))
        CHECK_EQ(WTERMSIG(status), SIGSEGV);
    else
        fprintf(stderr, "  child exited with %d instead of dying\n", WEXITSTATUS(status));
    CHECK_EQ(probe->armed, 1);
    CHECK_EQ(probe->fault_in_guard, 1);
    if (!probe->fault_in_guard)
        fprintf(stderr, "  fault at %#lx, guard page [%#lx, %#lx)\n",
                (unsigned long)probe->fault_addr, (unsigned long)probe->guard_lo,
                (unsigned long)probe->guard_hi);
}

static void test_overflow_guard(void)
{
    expect_guard_death(0);          /* pooled default-size stack */
    expect_guard_death(256 * 1024); /* a stack with its own mapping */
}

int main(void)
{
    probe = mmap(NULL, sizeof *probe, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (probe == MAP_FAILED)
        return 1;
    RUN(test_deep_recursion);
    RUN(test_overflow_guard);
    RUN(test_100k_tasks);
    RUN(test_1m_tasks);
    return test_finish();
}
