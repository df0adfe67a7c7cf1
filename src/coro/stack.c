/*
 * stack.c - the stack pool: slabs, guards, free lists, trimming.
 *
 * Layout of one pooled stack (addresses grow upward):
 *
 *     [guard page][ usable stack .................. ]
 *     ^slot        ^lo                               ^lo + size
 *
 * and its descriptor in the slab's array, out of the stack's pages: every
 * page of a free or compacted stack can be dropped without losing it.
 *
 * The guard method is chosen once per process: MADV_GUARD_INSTALL if the
 * kernel accepts it, else mprotect(PROT_NONE) until a budget of a quarter
 * of vm.max_map_count is spent (each such page splits a mapping, adding up
 * to two VMAs), else a canary.  A one-time warning marks the switch to
 * canaries, which only catch an overflow after the fact.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "stack.h"
#include "../util/internal.h"

#ifdef CIO_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif

#define SLAB_BYTES ((size_t)32 << 20) /* 32 MiB of address space a slab */

#define BATCH 256                     /* ranges per process_madvise call */

size_t cio__stack_page_size;
#define page_size cio__stack_page_size
static int pm_refused;                /* process_madvise refused: madvise only */
static int madv_guard = -1;           /* -1 unknown, 0 refused, 1 works */
static long mprotect_budget = -1;     /* guards mprotect may still make */
static int warned_canary;

/* Once per process: loops in several threads may start at the same time
 * (one loop per thread), and the plain checks this used to make raced
 * (ThreadSanitizer, tests/test_threadsafe.c). */
static pthread_once_t globals_once = PTHREAD_ONCE_INIT;

static void init_globals_once(void)
{
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    long max = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 65530;
        fclose(f);
    }
    __atomic_store_n(&mprotect_budget, max / 4, __ATOMIC_RELAXED);
}

static void init_globals(void)
{
    pthread_once(&globals_once, init_globals_once);
}

/*
 * Whether the page at p really faults.  Asked once, after the first
 * MADV_GUARD_INSTALL that returned 0: qemu-user (the aarch64 run of make
 * test) accepts advice it does not implement and returns 0 while leaving
 * the page accessible, so stacks went unguarded and an overflow ran into
 * the neighbouring stack (tests/test_stack.c).  The kernel's copy from a
 * guarded page fails with EFAULT; from an ordinary page it succeeds.
 */
static int guard_faults(const char *p)
{
    int fds[2];
    if (pipe(fds) < 0)
        return 1; /* cannot tell: trust the kernel's answer */
    ssize_t n = write(fds[1], p, 1);
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    return n < 0 && e == EFAULT;
}

int cio__stack_guard_markers(void)
{
    return __atomic_load_n(&madv_guard, __ATOMIC_RELAXED) == 1;
}

const char *cio__stack_guard_method(void)
{
    init_globals();
    if (madv_guard != 0)
        return "MADV_GUARD_INSTALL";
    return __atomic_load_n(&mprotect_budget, __ATOMIC_RELAXED) > 0 ? "mprotect" : "canary";
}

/*
 * Applies advice to iov[0..n) with process_madvise (Linux >= 6.13 accepts
 * any advice for the calling process): one system call for many ranges.
 * Returns how many leading ranges were done; the caller does the rest
 * another way.  Installing a guard page cost 760 ns a madvise here, 430 ns
 * batched; dropping a stack's pages 1.4 us, batched 0.5 us.  Thread-safe.
 */
size_t cio__stack_advise_batch(struct iovec *iov, size_t n, int advice)
{
    size_t done = 0;
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
    if (n < 2 || __atomic_load_n(&pm_refused, __ATOMIC_RELAXED))
        return 0;
    /* Opened per call (batches are rare): no descriptor stays open, and
     * none outlives a fork to name the parent's memory. */
    int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pfd < 0)
        return 0;
    while (done < n) {
        size_t k = n - done < BATCH ? n - done : BATCH;
        ssize_t r = syscall(SYS_process_madvise, pfd, iov + done, k, advice, 0);
        if (r < 0) {
            if (done == 0 && (errno == EINVAL || errno == ENOSYS || errno == EPERM))
                __atomic_store_n(&pm_refused, 1, __ATOMIC_RELAXED); /* < 6.13 */
            break;
        }
        /* r bytes were advised: skip the ranges they cover. */
        size_t before = done;
        while (done < n && (size_t)r >= iov[done].iov_len)
            r -= (ssize_t)iov[done++].iov_len;
        if (r > 0 || done == before)
            break; /* stopped inside a range */
    }
    close(pfd);
#endif
    return done;
}

/* Guards the page at slot; returns the method used. */
static int install_guard(char *slot, char *lo)
{
    int mg = __atomic_load_n(&madv_guard, __ATOMIC_RELAXED);
    if (mg != 0) {
        if (madvise(slot, page_size, MADV_GUARD_INSTALL) == 0) {
            if (mg == 1 || guard_faults(slot)) {
                __atomic_store_n(&madv_guard, 1, __ATOMIC_RELAXED);
                return CIO__GUARD_MADVISE;
            }
            __atomic_store_n(&madv_guard, 0, __ATOMIC_RELAXED);
        } else if (errno == EINVAL) {
            __atomic_store_n(&madv_guard, 0, __ATOMIC_RELAXED);
        }
    }
    if (__atomic_sub_fetch(&mprotect_budget, 1, __ATOMIC_RELAXED) >= 0 &&
        mprotect(slot, page_size, PROT_NONE) == 0)
        return CIO__GUARD_MPROTECT;
    if (!__atomic_exchange_n(&warned_canary, 1, __ATOMIC_RELAXED))
        cio_log(CIO_LOG_WARNING,
                "stack guard pages exhausted (vm.max_map_count); further "
                "stacks use canary words, which detect overflow only at a switch");
    *(uint64_t *)(void *)lo = CIO__STACK_CANARY;
    return CIO__GUARD_CANARY;
}

/* Fills descriptor s for the stack mapped at [slot, slot + bytes). */
static cio__stack *describe(cio__stack *s, char *slot, size_t bytes, int pooled, int guarded,
                            int faultable)
{
    char *lo = slot + page_size;
    int guard = guarded ? CIO__GUARD_MADVISE : install_guard(slot, lo);
    s->next = NULL;
    s->lo = lo;
    s->size = bytes - page_size;
    s->image = NULL;
    s->image_len = 0;
    s->guard = (uint8_t)guard;
    s->pooled = (uint8_t)pooled;
    s->clean = 0;
    s->faultable = (uint8_t)faultable;
    s->fstate = CIO__STACK_F_NONE;
    s->vg_id = VALGRIND_STACK_REGISTER(lo, lo + s->size);
    return s;
}

void cio__stack_pool_init(cio__stack_pool *pool, size_t size)
{
    init_globals();
    memset(pool, 0, sizeof *pool);
    size = (size + page_size - 1) & ~(page_size - 1);
    pool->stride = size + page_size;
    pool->slab_bytes = SLAB_BYTES < pool->stride * 4 ? pool->stride * 4 : SLAB_BYTES;
    pool->slab_bytes -= pool->slab_bytes % pool->stride;
}

static int new_slab(cio__stack_pool *pool)
{
    if (pool->nslabs == pool->capslabs) {
        size_t cap = pool->capslabs ? pool->capslabs * 2 : 16;
        struct cio__stack_slab *a = cio__realloc(pool->slabs, cap * sizeof *a);
        if (!a)
            return -1;
        pool->slabs = a;
        pool->capslabs = cap;
    }
    /* Descriptors are written as slots are carved: calloc's fresh pages
     * are touched one by one, 64 descriptors a page. */
    cio__stack *descs = cio__calloc(pool->slab_bytes / pool->stride, sizeof *descs);
    if (!descs)
        return -1;
    void *m = mmap(NULL, pool->slab_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        cio__free(descs);
        return -1;
    }
    pool->slabs[pool->nslabs].mem = m;
    pool->slabs[pool->nslabs].descs = descs;
    /* Known to the fault handler, so that its stacks can be compacted
     * fully (stack_compact.c). */
    pool->slabs[pool->nslabs++].reg =
        cio__stack_registry_add(m, pool->slab_bytes, pool->stride, descs);
    pool->carve = m;
    pool->carve_end = (char *)m + pool->slab_bytes;
    pool->guarded_end = m;
    if (__atomic_load_n(&madv_guard, __ATOMIC_RELAXED) != 0) {
        /* Guard every slot of the slab in a few system calls; the slots
         * past guarded_end (if any failed) get theirs one by one. */
        struct iovec iov[BATCH];
        char *slot = m;
        while (slot < pool->carve_end) {
            size_t k = 0;
            for (; k < BATCH && slot < pool->carve_end; k++, slot += pool->stride) {
                iov[k].iov_base = slot;
                iov[k].iov_len = page_size;
            }
            size_t done = cio__stack_advise_batch(iov, k, MADV_GUARD_INSTALL);
            pool->guarded_end += done * pool->stride;
            if (done < k)
                break;
        }
        if (pool->guarded_end > (char *)m) {
            if (__atomic_load_n(&madv_guard, __ATOMIC_RELAXED) == 1 || guard_faults(m))
                __atomic_store_n(&madv_guard, 1, __ATOMIC_RELAXED);
            else {
                /* Accepted but not applied (see guard_faults): every
                 * slot gets its guard one by one, by mprotect. */
                __atomic_store_n(&madv_guard, 0, __ATOMIC_RELAXED);
                pool->guarded_end = m;
            }
        }
    }
    return 0;
}

static cio__stack *own_mapping(size_t size)
{
    size = (size + page_size - 1) & ~(page_size - 1);
    size_t bytes = size + page_size;
    cio__stack *s = cio__malloc(sizeof *s);
    if (!s)
        return NULL;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        cio__free(s);
        return NULL;
    }
    return describe(s, m, bytes, 0, 0, 0);
}

cio__stack *cio__stack_get_slow(cio__stack_pool *pool, size_t size)
{
    cio__stack *s;
    if (size && size + page_size != pool->stride) {
        s = own_mapping(size);
    } else if ((s = pool->hot)) {
        pool->hot = s->next;
        pool->nhot--;
    } else if ((s = pool->cold)) {
        pool->cold = s->next;
        s->clean = 0;
        /* Its pages were dropped (zeroed), the canary with them. */
        if (s->guard == CIO__GUARD_CANARY)
            *(uint64_t *)(void *)s->lo = CIO__STACK_CANARY;
    } else {
        if (pool->carve == pool->carve_end && new_slab(pool) < 0)
            return NULL;
        struct cio__stack_slab *sl = &pool->slabs[pool->nslabs - 1];
        cio__stack *d = &sl->descs[(size_t)(pool->carve - sl->mem) / pool->stride];
        s = describe(d, pool->carve, pool->stride, 1, pool->carve < pool->guarded_end, sl->reg >= 0);
        pool->carve += pool->stride;
    }
    if (s)
        pool->in_use++;
    return s;
}

void cio__stack_put_slow(cio__stack_pool *pool, cio__stack *s)
{
    pool->in_use--;
    int compacted = (s->pooled & CIO__STACK_COMPACTED) != 0;
    if (compacted) /* its task will never run again (loop close) */
        cio__stack_discard(s);
    if (!s->pooled) {
        /* Never called on s itself: a task with its own mapping ends on
         * the loop's stack, which unmaps it (task.c). */
        VALGRIND_STACK_DEREGISTER(s->vg_id);
        if (s->guard == CIO__GUARD_MPROTECT)
            __atomic_add_fetch(&mprotect_budget, 1, __ATOMIC_RELAXED);
        munmap(s->lo - page_size, s->size + page_size);
        cio__free(s);
        return;
    }
    s->clean = compacted; /* compacted: its pages are gone (mostly) */
    s->next = pool->cold;
    pool->cold = s;
}

static void drops_add(struct cio__stack_drops *d, void *base, size_t len)
{
    d->r[d->n].base = base;
    d->r[d->n].len = len;
    d->r[d->n].owner = NULL;
    if (++d->n == sizeof d->r / sizeof d->r[0])
        cio__stack_drops_flush(d);
}

void cio__stack_trim(cio__stack_pool *pool)
{
    struct cio__stack_drops d;
    d.advice = MADV_DONTNEED;
    d.n = 0;
    while (pool->nhot > CIO__STACK_HOT_MAX) {
        cio__stack *s = pool->hot;
        pool->hot = s->next;
        pool->nhot--;
        /* All pages but the top one, which the next task on this stack
         * touches first anyway: a warm page where a fresh one would cost
         * a fault (14-20 us on some VMs).  A canary comes back when the
         * stack is taken again (cio__stack_get). */
        if (s->size > page_size)
            drops_add(&d, s->lo, s->size - page_size);
        s->clean = 1;
        s->next = pool->cold;
        pool->cold = s;
    }
    cio__stack_drops_flush(&d);
}

void cio__stack_pool_fini(cio__stack_pool *pool)
{
    for (size_t i = 0; i < pool->nslabs; i++) {
        char *slab = pool->slabs[i].mem;
        char *end = i + 1 == pool->nslabs ? pool->carve : slab + pool->slab_bytes;
        size_t nslots = (size_t)(end - slab) / pool->stride;
        for (size_t k = 0; k < nslots; k++) {
            cio__stack *s = &pool->slabs[i].descs[k];
            VALGRIND_STACK_DEREGISTER(s->vg_id);
            if (s->guard == CIO__GUARD_MPROTECT)
                __atomic_add_fetch(&mprotect_budget, 1, __ATOMIC_RELAXED);
            cio__free(s->image); /* compacted stacks of destroyed tasks */
        }
        if (pool->slabs[i].reg >= 0)
            cio__stack_registry_del(pool->slabs[i].reg);
        munmap(slab, pool->slab_bytes);
        cio__free(pool->slabs[i].descs);
    }
    cio__free(pool->slabs);
    memset(pool, 0, sizeof *pool);
}
