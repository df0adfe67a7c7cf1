/*
 * stack_compact.c - compacting the stack of a parked task, and faulting it
 * back in when anyone touches it.
 *
 * A parked task needs only the live part of its stack, from its saved
 * stack pointer to the top (a few hundred bytes for a task in cio_sleep),
 * yet keeps at least one page resident.  Full compaction copies the live
 * part into an image, turns the pages it came from into guard markers
 * (MADV_GUARD_INSTALL, Linux >= 6.13: the pages are dropped, any access
 * faults, and no VMA is split, so a million compacted stacks cost no
 * mappings) and drops the dead pages below it.  The owner's resume copies
 * the bytes back (cio__stack_expand).
 *
 * Other code may point into a parked task's live frames (a child task
 * given a pointer to its parent's locals writes its result there, an
 * executor thread fills a buffer), so an access by anyone must find the
 * bytes: it faults on a marker, and the SIGSEGV handler below finds the
 * stack (a registry of slabs), removes the markers, copies the image back
 * and returns, so the access is retried and sees the bytes; the owner's
 * resume then only frees the now stale image.  A fault on a stack's
 * guard page, or anywhere else, goes to the handler that was installed
 * before ours (the default one: the crash it always was).
 *
 * Alternatives weighed (docs/benchmarks.md has the numbers):
 *  - mprotect(PROT_NONE) and the same handler: each compacted stack
 *    splits its slab's mapping, and vm.max_map_count (65530) caps that far
 *    below a million tasks;
 *  - userfaultfd: registering a range splits mappings the same way, or a
 *    whole slab sends every first touch of every stack through a handler
 *    thread; faults of kernel code need privileges
 *    (vm.unprivileged_userfaultfd is 0 by default);
 *  - keeping the live part in place and dropping only the pages below it
 *    (nothing may point below a stack pointer): always safe, but a parked
 *    task keeps its top page, 4 KiB, against the ~0.6 KiB of an image.
 * That last one is what this file falls back to (partial compaction) when
 * the markers or the handler are not available: older kernels, a stack
 * with its own mapping (not in the registry), a program that replaced our
 * SIGSEGV handler after we installed it (checked at every pass).
 *
 * A window remains for other threads: a write into the live part between
 * the copy into the image and the batch's markers (microseconds, once per
 * compaction) is lost when the markers drop the page.  Closing it needs
 * the page read-only around the copy (mprotect: two more system calls a
 * stack and a transient VMA split); not done yet.  Tasks of the loop's
 * own thread cannot hit it (nothing else runs during a pass).
 *
 * What no handler can cover: a system call given a pointer into a
 * compacted stack (read(2) into a parent's buffer by its child while the
 * parent is compacted) fails with EFAULT instead of faulting the page in.
 * cio's own waits for I/O are never compacted (compact.c), and streams
 * read into their own buffers; a task that lends a buffer for raw system
 * calls while it sleeps for long should turn compaction off
 * (cio_loop_set_stack_compaction(loop, 0)).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "stack.h"
#include "../util/internal.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

#define COMPACT_MAX (16 * 1024) /* live bytes worth an image at most */
#define REG_MAX 16384           /* slabs the handler knows: 2M 128 KiB stacks */

/* ---- the registry of slabs ------------------------------------------- */

/* One slab, read by the handler on any thread: mem is published last
 * (release) and cleared first. */
static struct reg_entry {
    char *mem;          /* NULL: free entry */
    size_t bytes;       /* slab size */
    size_t stride;      /* bytes per slot, guard page first */
    cio__stack *descs;  /* slot i's descriptor */
} reg[REG_MAX];
static int reg_hi;      /* entries [0, reg_hi) may be in use */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

int cio__stack_registry_add(char *mem, size_t bytes, size_t stride, cio__stack *descs)
{
    int at = -1;
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < REG_MAX && at < 0; i++)
        if (!__atomic_load_n(&reg[i].mem, __ATOMIC_RELAXED))
            at = i;
    if (at >= 0) {
        reg[at].bytes = bytes;
        reg[at].stride = stride;
        reg[at].descs = descs;
        __atomic_store_n(&reg[at].mem, mem, __ATOMIC_RELEASE);
        if (at >= reg_hi)
            __atomic_store_n(&reg_hi, at + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&reg_lock);
    return at;
}

void cio__stack_registry_del(int i)
{
    pthread_mutex_lock(&reg_lock);
    __atomic_store_n(&reg[i].mem, NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&reg_lock);
}

/* The descriptor of the stack whose usable part holds a, or NULL (guard
 * pages and addresses outside every slab).  Async-signal-safe. */
static cio__stack *lookup(const char *a)
{
    int hi = __atomic_load_n(&reg_hi, __ATOMIC_ACQUIRE);
    for (int i = 0; i < hi; i++) {
        const char *m = __atomic_load_n(&reg[i].mem, __ATOMIC_ACQUIRE);
        if (!m || a < m || a >= m + reg[i].bytes)
            continue;
        size_t off = (size_t)(a - m);
        if (off % reg[i].stride < cio__stack_page_size)
            return NULL; /* the guard page: an overflow */
        return &reg[i].descs[off / reg[i].stride];
    }
    return NULL;
}

/* ---- putting the bytes back ------------------------------------------- */

/*
 * The copies read and write stack bytes that the sanitizers see
 * differently from ordinary memory: under ASan the stack carries the
 * redzones of the parked frames (poisoned shadow, which stays as it is
 * while the pages are away and is right again once the bytes are back),
 * under TSan the bytes were last written by the task's own fiber.  So the
 * copy is not instrumented, and written so that the compiler cannot turn
 * it into a call to the (intercepted) memcpy; the handler needs that too.
 */
__attribute__((no_sanitize("address", "thread"), noinline))
static void raw_copy(void *dst, const void *src, size_t len)
{
    volatile uint64_t *d = dst;
    const volatile uint64_t *s = src;
    for (size_t i = 0; i < len / 8; i++)
        d[i] = s[i];
}

/* The guarded part of compacted s: the pages its image came from. */
static char *guarded_from(const cio__stack *s)
{
    char *hi = s->lo + s->size;
    return (char *)((uintptr_t)(hi - s->image_len) & ~(uintptr_t)(cio__stack_page_size - 1));
}

/* Removes s's markers and copies its image back; the caller moved fstate
 * to RESTORING.  Async-signal-safe. */
static void restore(cio__stack *s)
{
    char *g = guarded_from(s);
    madvise(g, (size_t)(s->lo + s->size - g), MADV_GUARD_REMOVE);
    raw_copy(s->lo + s->size - s->image_len, s->image, s->image_len);
    if (s->guard == CIO__GUARD_CANARY) /* went with the pages */
        *(uint64_t *)(void *)s->lo = CIO__STACK_CANARY;
}

/* ---- the SIGSEGV handler ---------------------------------------------- */

static struct sigaction prev_action; /* the handler before ours */
static int handler_state;            /* 0 not tried, 1 installed, -1 failed */
static int warned_displaced;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
/* The last address this thread retried without restoring anything: a
 * second fault there is not ours. */
static __thread const char *last_retry __attribute__((tls_model("initial-exec")));

static void chain(int sig, siginfo_t *si, void *uc)
{
    if (prev_action.sa_flags & SA_SIGINFO) {
        prev_action.sa_sigaction(sig, si, uc);
        return;
    }
    if (prev_action.sa_handler != SIG_DFL && prev_action.sa_handler != SIG_IGN) {
        prev_action.sa_handler(sig);
        return;
    }
    /* The default action, a crash: restored, then the faulting access
     * runs again and gets it (a signal sent by kill is raised again). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    const char *a = si->si_addr;
    cio__stack *s = si->si_code > 0 ? lookup(a) : NULL;
    if (s) {
        int st = CIO__STACK_F_GUARDED;
        if (__atomic_compare_exchange_n(&s->fstate, &st, CIO__STACK_F_RESTORING, 0,
                                        __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
            restore(s);
            __atomic_store_n(&s->fstate, CIO__STACK_F_RESTORED, __ATOMIC_RELEASE);
            last_retry = NULL;
            errno = saved_errno;
            return; /* the access runs again and finds the bytes */
        }
        /* Another thread is restoring it, or did so after our fault:
         * retry once. */
        while (__atomic_load_n(&s->fstate, __ATOMIC_ACQUIRE) == CIO__STACK_F_RESTORING)
            ;
        if (last_retry != a) {
            last_retry = a;
            errno = saved_errno;
            return;
        }
    }
    last_retry = NULL;
    errno = saved_errno;
    chain(sig, si, uc);
}

static void install_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    /* On the alternate stack if the program has one (an overflow report
     * needs it); not deferred, so that a fault inside a chained handler
     * still reaches it. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    __atomic_store_n(&handler_state, sigaction(SIGSEGV, &sa, &prev_action) == 0 ? 1 : -1,
                     __ATOMIC_RELEASE);
}

/* Whether our handler is installed and still in place. */
static int handler_ready(void)
{
    pthread_once(&handler_once, install_handler);
    if (__atomic_load_n(&handler_state, __ATOMIC_ACQUIRE) != 1)
        return 0;
    struct sigaction cur;
    if (sigaction(SIGSEGV, NULL, &cur) < 0 || !(cur.sa_flags & SA_SIGINFO) ||
        cur.sa_sigaction != on_segv) {
        if (!__atomic_exchange_n(&warned_displaced, 1, __ATOMIC_RELAXED))
            cio_log(CIO_LOG_WARNING,
                    "another SIGSEGV handler replaced cio's: idle stacks are now "
                    "compacted partially (4 KiB a task instead of ~0.6 KiB)");
        return 0;
    }
    return 1;
}

int cio__stack_compact_full(void)
{
    return cio__stack_guard_markers() && handler_ready();
}

/* ---- compaction ------------------------------------------------------- */

void cio__stack_compactor_init(struct cio__stack_compactor *c)
{
    c->guard.advice = MADV_GUARD_INSTALL;
    c->guard.n = 0;
    c->drop.advice = MADV_DONTNEED;
    c->drop.n = 0;
    /* Asked at the first stack to compact: a program with no task idle
     * for long never gets the handler, nor pays the check. */
    c->full = -1;
}

void cio__stack_drops_flush(struct cio__stack_drops *d)
{
    struct iovec iov[sizeof d->r / sizeof d->r[0]];
    for (size_t i = 0; i < d->n; i++) {
        iov[i].iov_base = d->r[i].base;
        iov[i].iov_len = d->r[i].len;
    }
    for (size_t i = cio__stack_advise_batch(iov, d->n, d->advice); i < d->n; i++) {
        if (madvise(iov[i].iov_base, iov[i].iov_len, d->advice) == 0 || !d->r[i].owner)
            continue;
        /* No markers (no memory for page tables?): the bytes go back
         * now, and the image is stale; the pages hold the truth. */
        cio__stack *s = d->r[i].owner;
        __atomic_store_n(&s->fstate, CIO__STACK_F_RESTORING, __ATOMIC_RELAXED);
        restore(s);
        __atomic_store_n(&s->fstate, CIO__STACK_F_RESTORED, __ATOMIC_RELEASE);
    }
    d->n = 0;
}

void cio__stack_compactor_flush(struct cio__stack_compactor *c)
{
    cio__stack_drops_flush(&c->guard);
    cio__stack_drops_flush(&c->drop);
}

static void queue(struct cio__stack_drops *d, void *base, size_t len, cio__stack *owner)
{
    d->r[d->n].base = base;
    d->r[d->n].len = len;
    d->r[d->n].owner = owner;
    if (++d->n == sizeof d->r / sizeof d->r[0])
        cio__stack_drops_flush(d);
}

int cio__stack_compact(cio__stack *s, const void *sp, struct cio__stack_compactor *c)
{
    char *hi = s->lo + s->size;
    const char *from = (const char *)((uintptr_t)sp & ~(uintptr_t)7);
    if (from < s->lo || from > hi || (s->pooled & CIO__STACK_COMPACTED))
        return -EINVAL;
    size_t len = (size_t)(hi - from);
    if (s->faultable && c->full < 0)
        c->full = cio__stack_guard_markers() && handler_ready();
    if (!s->faultable || !c->full) {
        /* Partial: the pages wholly below the live part. */
        char *live = (char *)((uintptr_t)from & ~(uintptr_t)(cio__stack_page_size - 1));
        if (live > s->lo)
            queue(&c->drop, s->lo, (size_t)(live - s->lo), NULL);
        s->pooled |= CIO__STACK_COMPACTED;
        return 0;
    }
    if (len > COMPACT_MAX)
        return -E2BIG;
    /* Only the pages of the live part become markers (one, usually): the
     * ones below are dead, nothing may point there, and dropped they
     * read as zeros; markers there would only make removing them, at
     * every resume, walk more of the page table (a resume took 2-3x as
     * long with the whole stack guarded). */
    char *live = (char *)((uintptr_t)from & ~(uintptr_t)(cio__stack_page_size - 1));
    char *img = cio__malloc(len ? len : 1);
    if (!img)
        return -ENOMEM;
    raw_copy(img, from, len);
    s->image = img;
    s->image_len = (uint32_t)len;
    s->pooled |= CIO__STACK_COMPACTED;
    /* Before the markers exist: a fault on them finds the image. */
    __atomic_store_n(&s->fstate, CIO__STACK_F_GUARDED, __ATOMIC_RELEASE);
    queue(&c->guard, live, (size_t)(hi - live), s);
    if (live > s->lo)
        queue(&c->drop, s->lo, (size_t)(live - s->lo), NULL);
    return 1;
}

/* Takes back s's bytes for its owner: from the image, or from the pages
 * where a fault (maybe on another thread, maybe now) put them. */
static void take_back(cio__stack *s, int copy)
{
    int st = CIO__STACK_F_GUARDED;
    if (__atomic_compare_exchange_n(&s->fstate, &st, CIO__STACK_F_RESTORING, 0,
                                    __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
        if (copy) {
            restore(s);
        } else {
            char *g = guarded_from(s);
            madvise(g, (size_t)(s->lo + s->size - g), MADV_GUARD_REMOVE);
            if (s->guard == CIO__GUARD_CANARY)
                *(uint64_t *)(void *)s->lo = CIO__STACK_CANARY;
        }
    } else {
        while (__atomic_load_n(&s->fstate, __ATOMIC_ACQUIRE) == CIO__STACK_F_RESTORING)
            ;
    }
    __atomic_store_n(&s->fstate, CIO__STACK_F_NONE, __ATOMIC_RELEASE);
    cio__free(s->image);
    s->image = NULL;
    s->image_len = 0;
}

void cio__stack_expand(cio__stack *s)
{
    if (s->image)
        take_back(s, 1);
    s->pooled &= (uint8_t)~CIO__STACK_COMPACTED;
    /* A partial compaction dropped the canary's page. */
    if (s->guard == CIO__GUARD_CANARY)
        *(uint64_t *)(void *)s->lo = CIO__STACK_CANARY;
}

void cio__stack_discard(cio__stack *s)
{
    if (s->image)
        take_back(s, 0);
    s->pooled &= (uint8_t)~CIO__STACK_COMPACTED;
}
