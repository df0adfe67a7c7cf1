/*
 * test_stack_compact.c - idle-stack compaction (cio_loop_set_stack_compaction,
 * src/task/compact.c): the stacks of tasks parked past the loop's idle time
 * give their pages back and come back intact.
 *
 *   policy          on by default (5 s; CIO_STACK_COMPACTION sets it); with
 *                   2 s, tasks parked 1 s are left alone and tasks parked 4 s are compacted: no page of
 *                   their stacks is resident (mincore); a task in gather is
 *                   never compacted
 *   intact          a linked list built on the stack, pointers into it and
 *                   a deep stack survive compaction (sleep and await), and
 *                   a stack too deep to be worth it is left as it is
 *   own_mapping     a task with a stack of non-default size is compacted
 *                   partially (the fault handler does not know its
 *                   mapping): the pages below its live part go
 *   cancel          a compacted task cancelled resumes with -ECANCELED and
 *                   its locals intact
 *   close           a loop closed with compacted tasks leaks nothing
 *                   (counting allocator) and frees their images
 *   twice           a task compacted, resumed and compacted again
 *   lent            a child reads its parent's local while the parent is
 *                   compacted and writes a new value there; it reads the
 *                   right value, and the parent sees the write on resume;
 *                   the same from another thread, and from an executor
 *                   thread (those block signals, not SIGSEGV) writing
 *                   into the local the awaiting task lent it
 *   displaced       another SIGSEGV handler installed over cio's: a
 *                   warning, and later compactions are partial (the live
 *                   page stays, no image), the lent pointer still works
 *   crash           other faults still crash: a write to page 1, and to
 *                   a stack's guard page, with compacted stacks around
 *                   (forked children die of SIGSEGV)
 *   bad_args        the setter's errors
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "helpers.h"

#include "task/task.h"
#include "coro/stack.h"

/* Resident pages of t's stack. */
static size_t resident_pages(cio_task *t)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t n = t->stack->size / (size_t)page;
    unsigned char *vec = malloc(n);
    CHECK(mincore(t->stack->lo, t->stack->size, vec) == 0);
    size_t r = 0;
    for (size_t i = 0; i < n; i++)
        r += vec[i] & 1;
    free(vec);
    return r;
}

#ifdef CIO_ASAN
#define LIVE_MAX 8192
#else
#define LIVE_MAX 3072
#endif

static int compacted(cio_task *t) { return (t->flags & CIO__TF_COMPACT) != 0; }

/* ---- a task whose stack holds pointers into itself ---------------------- */

struct node {
    struct node *next;
    long value;
};

struct job {
    int how;             /* 0: sleep, 1: await fut */
    double delay;        /* for sleep */
    cio_future *fut;     /* for await (heap: others may touch it) */
    int depth;           /* recursion frames of 1 KiB before waiting */
    int woke_rc;         /* what the wait returned */
};

static long wait_deep(struct job *j, int depth, struct node *head)
{
    /* A frame of 1 KiB with a node linked into the list below it. */
    volatile char pad[1000];
    struct node here = {head, depth};
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = (char)(i + (size_t)depth);
    long sum;
    if (depth > 0) {
        sum = wait_deep(j, depth - 1, &here);
    } else {
        j->woke_rc = j->how == 0 ? cio_sleep(j->delay) : cio_await(j->fut, NULL);
        sum = 0;
        for (struct node *n = &here; n; n = n->next)
            sum += n->value;
    }
    for (size_t i = 0; i < sizeof pad; i++)
        if (pad[i] != (char)(i + (size_t)depth))
            return -1000000;
    return sum;
}

/* Builds a list of 16 nodes in an array on its stack, waits as j says,
 * then walks it: result = sum of values (or negative if damaged). */
static int list_task(void *arg, void **result)
{
    struct job *j = arg;
    struct node nodes[16];
    struct node *head = NULL;
    for (int i = 0; i < 16; i++) {
        nodes[i].value = i + 1;
        nodes[i].next = head;
        head = &nodes[i];
    }
    struct node **where = &head; /* a pointer to a pointer on the stack */
    long deep = wait_deep(j, j->depth, NULL);
    long sum = 0;
    for (struct node *n = *where; n; n = n->next)
        sum += n->value;
    long expect_deep = (long)j->depth * (j->depth + 1) / 2;
    *result = (void *)(intptr_t)(deep == expect_deep ? sum : -1);
    return 0;
}

#define LIST_SUM (16 * 17 / 2)

static cio_loop *virtual_loop(double compact_after)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    if (compact_after >= 0)
        CHECK_RC(cio_loop_set_stack_compaction(loop, compact_after), 0);
    return loop;
}

static void check_result(cio_task *t, int rc)
{
    void *r = NULL;
    CHECK_RC(cio_task_result(t, &r), 0);
    CHECK_EQ((intptr_t)r, LIST_SUM);
    (void)rc;
}

/* ---- policy ------------------------------------------------------------- */

static int child_sleep(void *arg, void **result)
{
    (void)result;
    return cio_sleep(*(double *)arg);
}

static int policy_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    /* Static, not on this stack: this task is compacted while it waits
     * too, and the children write their woke_rc while it waits. */
    static struct job j[4];
    for (int i = 0; i < 4; i++)
        j[i] = (struct job){.how = 0, .delay = 10};
    cio_task *t[4];
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_create_task(list_task, &j[i], NULL, &t[i]), 0);
    /* And a plain sleeper. */
    static double d = 10;
    cio_task *g;
    CHECK_RC(cio_create_task(child_sleep, &d, NULL, &g), 0);
    CHECK_RC(cio_sleep(1), 0);
    for (int i = 0; i < 4; i++) {
        CHECK(!compacted(t[i]));
        CHECK(resident_pages(t[i]) >= 1);
    }
    CHECK_EQ(loop->sched->ncompacted, 0);
    CHECK_RC(cio_sleep(3), 0);
    for (int i = 0; i < 4; i++) {
        CHECK(compacted(t[i]));
        CHECK_EQ(resident_pages(t[i]), 0);
        /* The live part only: a few hundred bytes (ASan's redzones and
         * -O0 frames make it larger, still far below a page). */
        CHECK(t[i]->stack->image_len > 0 && t[i]->stack->image_len < LIVE_MAX);
    }
    CHECK(compacted(g));
    CHECK_EQ(loop->sched->ncompacted, 5);
    /* cio_all_tasks still sees them all: main and the five. */
    CHECK_EQ(cio_all_tasks(loop, NULL, 0), 6);
    for (int i = 0; i < 4; i++) {
        CHECK_RC(cio_task_await(t[i], NULL), 0);
        check_result(t[i], 0);
        CHECK_RC(j[i].woke_rc, 0);
        cio_task_unref(t[i]);
    }
    CHECK(fabs(test_loop_now() - 10) < 0.01);
    CHECK_RC(cio_task_await(g, NULL), 0);
    cio_task_unref(g);
    CHECK_EQ(loop->sched->ncompacted, 0);
    return 0;
}

static int gather_main(void *arg, void **result)
{
    static double d = 6;
    cio_task *c[2];
    cio_future *f[2];
    for (int i = 0; i < 2; i++) {
        CHECK_RC(cio_create_task(child_sleep, &d, NULL, &c[i]), 0);
        f[i] = cio_task_future(c[i]);
    }
    /* Waits 6 s in gather: the children get compacted, this task not. */
    CHECK_RC(cio_gather(f, 2, 0, NULL, NULL), 0);
    for (int i = 0; i < 2; i++)
        cio_task_unref(c[i]);
    return 0;
}

static int gather_watch(void *arg, void **result)
{
    cio_task *gatherer = arg;
    cio_loop *loop = cio_get_running_loop();
    CHECK_RC(cio_sleep(4), 0);
    CHECK(!compacted(gatherer));
    CHECK(loop->sched->ncompacted >= 2); /* its children (and the joiner) */
    return 0;
}

static int gather_outer(void *arg, void **result)
{
    cio_task *g, *w;
    CHECK_RC(cio_create_task(gather_main, NULL, NULL, &g), 0);
    CHECK_RC(cio_create_task(gather_watch, g, NULL, &w), 0);
    /* Joining parks this task in cio_await: it is compacted too, which
     * the watcher's count must not see, so join the watcher first. */
    CHECK_RC(cio_task_await(w, NULL), 0);
    CHECK_RC(cio_task_await(g, NULL), 0);
    cio_task_unref(w);
    cio_task_unref(g);
    return 0;
}

static void policy(void)
{
    /* On by default. */
    cio_loop *loop = virtual_loop(-1);
    CHECK_EQ(loop->compact_after_ns, 5 * CIO_NS_PER_SEC);
    cio_loop_free(loop);
    /* CIO_STACK_COMPACTION sets the default; what it cannot parse is
     * ignored. */
    static const struct { const char *env; int64_t ns; } envs[] = {
        {"2", 2 * CIO_NS_PER_SEC}, {"0", 0}, {"0.25", CIO_NS_PER_SEC / 4},
        {"soon", 5 * CIO_NS_PER_SEC}, {"-1", 5 * CIO_NS_PER_SEC}, {"", 5 * CIO_NS_PER_SEC}};
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        CHECK(setenv("CIO_STACK_COMPACTION", envs[i].env, 1) == 0);
        loop = virtual_loop(-1);
        CHECK_EQ(loop->compact_after_ns, envs[i].ns);
        cio_loop_free(loop);
    }
    unsetenv("CIO_STACK_COMPACTION");

    if (!cio__stack_compact_full()) {
        printf("  (partial compaction here: full-compaction checks skipped)\n");
        return;
    }
    loop = virtual_loop(2);
    CHECK_RC(cio_run_loop(loop, policy_main, NULL, NULL), 0);
    cio_loop_free(loop);

    loop = virtual_loop(2);
    CHECK_RC(cio_run_loop(loop, gather_outer, NULL, NULL), 0);
    cio_loop_free(loop);
}

/* ---- intact ------------------------------------------------------------- */

static int intact_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    cio_future *fut;
    CHECK_RC(cio_future_new(NULL, &fut), 0);
    static struct job j[4];
    j[0] = (struct job){.how = 0, .delay = 5, .depth = 0};
    j[1] = (struct job){.how = 1, .fut = fut, .depth = 0};
    j[2] = (struct job){.how = 0, .delay = 5, .depth = 8};  /* ~8 KiB live: compacted */
    j[3] = (struct job){.how = 1, .fut = fut, .depth = 24}; /* ~24 KiB: left alone */
    cio_task *t[4];
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_create_task(list_task, &j[i], NULL, &t[i]), 0);
    CHECK_RC(cio_sleep(3), 0);
    CHECK(compacted(t[0]) && compacted(t[1]) && compacted(t[2]));
    CHECK(!compacted(t[3]));
    CHECK(t[2]->stack->image_len > 8 * 1000);
    CHECK_EQ(loop->sched->ncompacted, 3);
    /* Woken while compacted: by a future (t[1], t[3]) and timers. */
    CHECK_RC(cio_future_set_result(fut, NULL), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_RC(cio_task_await(t[i], NULL), 0);
        check_result(t[i], 0);
        CHECK_RC(j[i].woke_rc, 0);
        cio_task_unref(t[i]);
    }
    cio_future_unref(fut);
    return 0;
}

static void intact(void)
{
    if (!cio__stack_compact_full()) {
        printf("  (partial compaction here: nothing is copied out)\n");
        return;
    }
    cio_loop *loop = virtual_loop(1);
    CHECK_RC(cio_run_loop(loop, intact_main, NULL, NULL), 0);
    cio_loop_free(loop);
}

/* ---- own mapping -------------------------------------------------------- */

static int own_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    static struct job j;
    j = (struct job){.how = 0, .delay = 5, .depth = 3};
    cio_task *t;
    CHECK_RC(cio_task_new(loop, list_task, &j,
             &(cio_task_options){.name = "big", .stack_size = 512 * 1024, .file = __FILE__, .line = __LINE__}, &t), 0);
    CHECK_RC(cio_sleep(3), 0);
    CHECK(!(t->stack->pooled & 1));
    CHECK(compacted(t));
    CHECK(t->stack->image == NULL);
    /* Resident: the pages the live part (~3 KiB) spans, no more. */
    CHECK(resident_pages(t) >= 1 && resident_pages(t) <= 3);
    CHECK_RC(cio_task_await(t, NULL), 0);
    check_result(t, 0);
    cio_task_unref(t);
    return 0;
}

static void own_mapping(void)
{
    cio_loop *loop = virtual_loop(1);
    CHECK_RC(cio_run_loop(loop, own_main, NULL, NULL), 0);
    cio_loop_free(loop);
}

/* ---- cancel ------------------------------------------------------------- */

static int cancel_main(void *arg, void **result)
{
    static struct job j;
    j = (struct job){.how = 0, .delay = 3600, .depth = 2};
    cio_task *t;
    CHECK_RC(cio_create_task(list_task, &j, NULL, &t), 0);
    CHECK_RC(cio_sleep(3), 0);
    CHECK(compacted(t));
    CHECK_EQ(cio_task_cancel(t, "stop"), 1);
    /* The task ignores the cancellation at its wait and finishes its
     * walk: result intact, status 0. */
    CHECK_RC(cio_task_await(t, NULL), 0);
    check_result(t, 0);
    CHECK_RC(j.woke_rc, -ECANCELED);
    cio_task_unref(t);
    return 0;
}

static void cancel(void)
{
    cio_loop *loop = virtual_loop(1);
    CHECK_RC(cio_run_loop(loop, cancel_main, NULL, NULL), 0);
    cio_loop_free(loop);
}

/* ---- close -------------------------------------------------------------- */

static int parked_forever(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return cio_sleep(3600);
}

static int close_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    cio_future *never = arg;
    for (int i = 0; i < 50; i++)
        CHECK_RC(cio_create_task(parked_forever, NULL, NULL, NULL), 0);
    static struct job j;
    j = (struct job){.how = 1, .fut = never, .depth = 1};
    CHECK_RC(cio_create_task(list_task, &j, NULL, NULL), 0);
    CHECK_RC(cio_sleep(4), 0);
    CHECK_EQ(loop->sched->ncompacted, 51);
    return 0;
}

static void close_loop(void)
{
    test_alloc_begin(0, 0);
    cio_loop *loop = virtual_loop(1);
    cio_future *never;
    CHECK_RC(cio_future_new(loop, &never), 0);
    cio_task *m;
    CHECK_RC(cio_loop_create_task(loop, close_main, never, "main", &m), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, cio_task_future(m), NULL), 0);
    cio_task_unref(m);
    /* 51 compacted tasks pending: destroyed with the loop. */
    CHECK_EQ(loop->sched->ncompacted, 51);
    cio_loop_free(loop);
    cio_future_unref(never);
    CHECK_EQ(test_alloc_end(), 0);
}

/* ---- twice -------------------------------------------------------------- */

static int twice_task(void *arg, void **result)
{
    long x = 42;
    long *p = &x;
    for (int i = 0; i < 3; i++) {
        CHECK_RC(cio_sleep(4), 0);
        (*p)++;
    }
    *result = (void *)(intptr_t)x;
    return 0;
}

static int twice_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    cio_task *t;
    CHECK_RC(cio_create_task(twice_task, NULL, NULL, &t), 0);
    int seen = 0;
    for (int i = 0; i < 12; i++) {
        CHECK_RC(cio_sleep(1), 0);
        seen += compacted(t);
    }
    CHECK(seen >= 3); /* compacted in each of its three sleeps */
    void *r;
    CHECK_RC(cio_task_await(t, &r), 0);
    CHECK_EQ((intptr_t)r, 45);
    cio_task_unref(t);
    CHECK_EQ(loop->sched->ncompacted, 0);
    return 0;
}

static void twice(void)
{
    cio_loop *loop = virtual_loop(1);
    CHECK_RC(cio_run_loop(loop, twice_main, NULL, NULL), 0);
    cio_loop_free(loop);
}

/* ---- lent ------------------------------------------------------------- */

/* Reads the parent's local through the pointer it was given while the
 * parent is compacted, and writes a new value there. */
static cio_task *lent_parent;

static int reader(void *arg, void **result)
{
    CHECK_RC(cio_sleep(3), 0);
    CHECK(compacted(lent_parent));
    if (cio__stack_compact_full())
        CHECK_EQ(resident_pages(lent_parent), 0);
    volatile long *p = arg;
    *result = (void *)(intptr_t)*p;
    *p = 99;
    return 0;
}

static int lent_main(void *arg, void **result)
{
    long local = 7;
    lent_parent = cio_current_task();
    cio_task *c;
    CHECK_RC(cio_create_task(reader, &local, "reader", &c), 0);
    void *r = NULL;
    CHECK_RC(cio_task_await(c, &r), 0); /* compacted after 1 s */
    CHECK_EQ((intptr_t)r, 7);          /* what the child saw */
    CHECK_EQ(local, 99);               /* what it wrote */
    cio_task_unref(c);
    return 0;
}

/* The same from a thread: it writes into the compacted task's frame. */
struct thread_job {
    volatile long *p;    /* into the parked task's frame */
    long seen;           /* what the thread read there */
};

static void *writer_thread(void *arg)
{
    struct thread_job *j = arg;
    j->seen = *j->p;
    *j->p = 1234;
    return NULL;
}

static struct thread_job *tj;

static int thread_sleeper(void *arg, void **result)
{
    static struct thread_job j;
    long local = 5;
    j = (struct thread_job){.p = &local};
    tj = &j;
    CHECK_RC(cio_sleep(4), 0); /* compacted after 1 s; the thread writes at 3 s */
    CHECK_EQ(local, 1234);
    *result = (void *)(intptr_t)j.seen;
    return 0;
}

static int thread_poker(void *arg, void **result)
{
    cio_task *sleeper = arg;
    CHECK_RC(cio_sleep(3), 0);
    CHECK(compacted(sleeper));
    if (cio__stack_compact_full())
        CHECK_EQ(resident_pages(sleeper), 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, writer_thread, tj) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    /* Faulted back in by the thread's access: resident again, still on
     * the compacted list until it runs. */
    CHECK(resident_pages(sleeper) >= 1);
    return 0;
}

static int thread_outer(void *arg, void **result)
{
    cio_task *s, *p;
    CHECK_RC(cio_create_task(thread_sleeper, NULL, NULL, &s), 0);
    CHECK_RC(cio_create_task(thread_poker, s, NULL, &p), 0);
    CHECK_RC(cio_task_await(p, NULL), 0);
    void *r = NULL;
    CHECK_RC(cio_task_await(s, &r), 0);
    CHECK_EQ((intptr_t)r, 5);
    cio_task_unref(p);
    cio_task_unref(s);
    return 0;
}

/* An executor thread writes into the awaiting task's frame once the
 * task is compacted. */
static cio_task *exec_parent;
static int exec_saw_compacted;

static int exec_fn(void *arg, void **result)
{
    (void)result;
    for (int i = 0; i < 1000; i++) {
        if (__atomic_load_n(&exec_parent->flags, __ATOMIC_ACQUIRE) & CIO__TF_COMPACT) {
            exec_saw_compacted = 1;
            break;
        }
        usleep(5000);
    }
    volatile long *p = arg;
    *p = *p * 11; /* reads 7, writes 77 */
    return 0;
}

/* The child hands its parent's local to the thread (the executor's own
 * wait is not compacted; the parent's join is). */
static int exec_child(void *arg, void **result)
{
    (void)result;
    return cio_run_in_executor(NULL, exec_fn, arg, NULL);
}

static int exec_main(void *arg, void **result)
{
    long local = 7;
    exec_parent = cio_current_task();
    cio_task *c;
    CHECK_RC(cio_create_task(exec_child, &local, NULL, &c), 0);
    CHECK_RC(cio_task_await(c, NULL), 0);
    cio_task_unref(c);
    CHECK(exec_saw_compacted);
    CHECK_EQ(local, 77);
    return 0;
}

static void lent(void)
{
    if (!cio__stack_compact_full()) {
        printf("  (no guard markers: compaction is partial, nothing to fault in)\n");
    }
    cio_loop *loop = virtual_loop(1);
    CHECK_RC(cio_run_loop(loop, lent_main, NULL, NULL), 0);
    cio_loop_free(loop);
    loop = virtual_loop(1);
    CHECK_RC(cio_run_loop(loop, thread_outer, NULL, NULL), 0);
    cio_loop_free(loop);
    /* On the real clock: the virtual one does not move while the loop
     * waits for the thread; compacted at the next trim, about 1 s. */
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_stack_compaction(loop, 0.001), 0);
    CHECK_RC(cio_run_loop(loop, exec_main, NULL, NULL), 0);
    cio_loop_free(loop);
}

/* ---- displaced ---------------------------------------------------------- */

static void other_handler(int sig) { (void)sig; _exit(3); }

static int displaced_main(void *arg, void **result)
{
    cio_task *a, *b;
    static struct job ja, jb;
    ja = (struct job){.how = 0, .delay = 10, .depth = 1};
    CHECK_RC(cio_create_task(list_task, &ja, NULL, &a), 0);
    CHECK_RC(cio_sleep(3), 0);
    CHECK(compacted(a) && a->stack->image != NULL); /* full: handler in place */
    struct sigaction mine, other;
    memset(&other, 0, sizeof other);
    other.sa_handler = other_handler;
    sigemptyset(&other.sa_mask);
    CHECK(sigaction(SIGSEGV, &other, &mine) == 0);
    jb = (struct job){.how = 0, .delay = 4, .depth = 1};
    CHECK_RC(cio_create_task(list_task, &jb, NULL, &b), 0);
    CHECK_RC(cio_sleep(3), 0);
    CHECK(compacted(b));
    CHECK(b->stack->image == NULL);          /* partial */
    CHECK(resident_pages(b) >= 1);           /* the live page stayed */
    CHECK(sigaction(SIGSEGV, &mine, NULL) == 0);
    CHECK_RC(cio_task_await(b, NULL), 0);
    check_result(b, 0);
    CHECK_RC(cio_task_await(a, NULL), 0);
    check_result(a, 0);
    cio_task_unref(a);
    cio_task_unref(b);
    return 0;
}

static void displaced(void)
{
    if (!cio__stack_compact_full()) {
        printf("  (no guard markers: nothing to displace)\n");
        return;
    }
    test_log_start(CIO_LOG_WARNING);
    cio_loop *loop = virtual_loop(1);
    CHECK_RC(cio_run_loop(loop, displaced_main, NULL, NULL), 0);
    cio_loop_free(loop);
    CHECK(test_log_find("SIGSEGV handler replaced", "partially") >= 0);
    test_log_stop();
}

/* ---- crash -------------------------------------------------------------- */

static int crash_how;
static char *crash_guard; /* a guard page of a compacted task's stack */

static int crash_main(void *arg, void **result)
{
    cio_task *t;
    CHECK_RC(cio_create_task(parked_forever, NULL, NULL, &t), 0);
    CHECK_RC(cio_sleep(3), 0);
    CHECK(compacted(t));
    crash_guard = t->stack->lo - 1;
    if (crash_how == 0)
        *(volatile int *)(uintptr_t)4096 = 1; /* never mapped (mmap_min_addr) */
    else
        *(volatile char *)crash_guard = 1;
    return 0;
}

static void crash(void)
{
    for (crash_how = 0; crash_how < 2; crash_how++) {
        fflush(stdout);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            cio_loop *loop = virtual_loop(1);
            cio_run_loop(loop, crash_main, NULL, NULL);
            _exit(0); /* did not crash: the test fails */
        }
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid);
#ifdef CIO_ASAN
        CHECK(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0)); /* ASan's report */
#else
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
#endif
    }
}

/* ---- bad args ----------------------------------------------------------- */

static void bad_args(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_stack_compaction(NULL, 1), -EINVAL);
    CHECK_RC(cio_loop_set_stack_compaction(loop, -1), -EINVAL);
    CHECK_RC(cio_loop_set_stack_compaction(loop, NAN), -EINVAL);
    CHECK_RC(cio_loop_set_stack_compaction(loop, 1e10), -EINVAL);
    CHECK_EQ(loop->compact_after_ns, 5 * CIO_NS_PER_SEC);
    CHECK_RC(cio_loop_set_stack_compaction(loop, 0.5), 0);
    CHECK_EQ(loop->compact_after_ns, CIO_NS_PER_SEC / 2);
    CHECK_RC(cio_loop_set_stack_compaction(loop, 0), 0);
    CHECK_EQ(loop->compact_after_ns, 0);
    cio_loop_free(loop);
}

int main(void)
{
#ifdef CIO_CORO_UCONTEXT
    printf("skip: the ucontext fallback does not compact stacks\n");
    return 77;
#endif
    unsetenv("CIO_STACK_COMPACTION"); /* the defaults are under test */
    RUN(policy);
    RUN(intact);
    RUN(own_mapping);
    RUN(cancel);
    RUN(close_loop);
    RUN(twice);
    RUN(lent);
    RUN(displaced);
    RUN(crash);
    RUN(bad_args);
    return test_finish();
}
