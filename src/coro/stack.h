/*
 * stack.h - the pool of coroutine stacks (DESIGN.md section 4).
 *
 * Stacks of the loop's default size are carved from large slabs mapped
 * with MAP_NORESERVE, so a stack costs address space but only the pages it
 * touches.  Each has a guard page at its low end, installed with
 * MADV_GUARD_INSTALL (Linux >= 6.13: no VMA split, so a million guarded
 * stacks fit in vm.max_map_count), else mprotect while the mapping budget
 * lasts, else a canary word checked at every switch.
 *
 * The descriptor of a stack lives outside the stack's memory (an array per
 * slab, or an allocation of its own for a stack with its own mapping), so
 * that every page of a stack can be given back: a free stack trimmed, or
 * the stack of a task parked for long, compacted.  Compaction copies the
 * live part of the stack (from the saved stack pointer to the top, a few
 * hundred bytes) into an image and replaces all the stack's pages by
 * guard markers (MADV_GUARD_INSTALL drops the pages and makes any access
 * fault); expanding copies the bytes back to the same addresses before
 * the task runs again, so pointers into the stack stay valid, and any
 * other access to the stack meanwhile, from any thread, faults it back in
 * the same way (stack_compact.c's SIGSEGV handler).  Where that cannot be
 * had (no guard markers, a stack with its own mapping, the handler
 * displaced), compaction is partial: only the dead pages below the live
 * part are dropped, which nothing may point into.
 */
#ifndef CIO_STACK_H
#define CIO_STACK_H

#include <stddef.h>
#include <stdint.h>

struct iovec;

enum cio__guard {
    CIO__GUARD_MADVISE = 1, /* MADV_GUARD_INSTALL marker */
    CIO__GUARD_MPROTECT = 2,/* PROT_NONE page (one more VMA) */
    CIO__GUARD_CANARY = 3   /* magic word at the low end, checked on switch */
};

typedef struct cio__stack {
    struct cio__stack *next; /* free-list link */
    char *lo;                /* lowest usable byte, just above the guard */
    size_t size;             /* usable bytes, [lo, lo + size) */
    char *image;             /* compacted: the live bytes, else NULL */
    uint32_t image_len;      /* bytes in image, ending at lo + size */
    uint8_t guard;           /* enum cio__guard */
    uint8_t pooled;          /* 1: carved from a slab, 0: its own mapping;
                                | CIO__STACK_COMPACTED while it has an
                                image, so that cio__stack_put's common
                                case tests one byte */
    uint8_t clean;           /* on the cold list: its pages (all but the
                                top one, if trimmed) were dropped */
    uint8_t faultable;       /* in a slab the SIGSEGV handler knows
                                (stack_compact.c's registry) */
    int fstate;              /* enum cio__stack_fstate, atomic: the
                                handler on other threads reads it */
    unsigned vg_id;          /* valgrind's stack id */
} cio__stack;

/* Where a compacted stack's live bytes are, for the owner's expansion and
 * the fault handler, which may race (another thread touching the stack). */
enum cio__stack_fstate {
    CIO__STACK_F_NONE = 0,      /* not compacted, or partially: pages hold
                                   the bytes */
    CIO__STACK_F_GUARDED = 1,   /* bytes in image, pages are guard markers
                                   (or about to be) */
    CIO__STACK_F_RESTORING = 2, /* someone is putting the bytes back */
    CIO__STACK_F_RESTORED = 3   /* a fault put them back: image stale */
};

/* A slab of pooled stacks and the descriptors of its slots. */
struct cio__stack_slab {
    char *mem;               /* slab_bytes of address space */
    cio__stack *descs;       /* one per slot, slot i at mem + i * stride */
    int reg;                 /* index in the fault handler's registry, or
                                -1: its stacks are compacted partially */
};

/* Page ranges to advise, gathered so that one system call advises many
 * (process_madvise); cio__stack_drops_flush applies the advice. */
struct cio__stack_drops {
    int advice;              /* MADV_DONTNEED, or MADV_GUARD_INSTALL */
    size_t n;
    struct {
        void *base;
        size_t len;
        cio__stack *owner;   /* for guard markers: the compacted stack,
                                whose bytes come back if advice fails */
    } r[64];
};

/* Both batches of a compaction pass: the guard markers of full
 * compactions, the dead pages of partial ones. */
struct cio__stack_compactor {
    int full;                /* full compaction possible at all (guard
                                markers work, the handler is in place);
                                -1: not asked yet */
    struct cio__stack_drops guard, drop;
};

typedef struct cio__stack_pool {
    size_t stride;           /* bytes per pooled stack, guard included */
    cio__stack *hot;         /* freed stacks whose pages are still resident */
    size_t nhot;
    cio__stack *cold;        /* freed stacks whose pages were dropped */
    char *carve;             /* next uncarved stack in the newest slab */
    char *carve_end;
    char *guarded_end;       /* slots of the newest slab below this were
                                guarded in a batch when it was mapped */
    struct cio__stack_slab *slabs; /* every slab, for unmapping */
    size_t nslabs, capslabs;
    size_t slab_bytes;
    size_t in_use;           /* stacks handed out */
} cio__stack_pool;

#define CIO__STACK_COMPACTED 2
#define CIO__STACK_CANARY UINT64_C(0x63696f2d73746b21) /* "cio-stk!" */
#define CIO__STACK_HOT_MAX 1024 /* freed stacks kept resident */

/* size: usable bytes of the default stack; rounded to pages. */
void cio__stack_pool_init(cio__stack_pool *pool, size_t size);
/* Unmaps every slab; stacks still out become invalid. */
void cio__stack_pool_fini(cio__stack_pool *pool);
/* cio__stack_get and cio__stack_put but for their common cases (stack.c). */
cio__stack *cio__stack_get_slow(cio__stack_pool *pool, size_t size);
void cio__stack_put_slow(cio__stack_pool *pool, cio__stack *s);

/* A stack of size usable bytes (0: the default).  NULL with errno set.
 * Inline, its common case: a default-size stack that is still resident,
 * every task's start. */
static inline cio__stack *cio__stack_get(cio__stack_pool *pool, size_t size)
{
    cio__stack *s = pool->hot;
    if (__builtin_expect(size != 0 || s == NULL, 0))
        return cio__stack_get_slow(pool, size);
    pool->hot = s->next;
    pool->nhot--;
    pool->in_use++;
    return s;
}

/* Returns a stack.  May run on that very stack (it only links it).
 * Inline, its common case: a pooled stack, not compacted, back to the
 * resident list, every task's end. */
static inline void cio__stack_put(cio__stack_pool *pool, cio__stack *s)
{
    if (__builtin_expect(s->pooled != 1, 0)) {
        cio__stack_put_slow(pool, s);
        return;
    }
    pool->in_use--;
    s->next = pool->hot;
    pool->hot = s;
    pool->nhot++;
}
/* Drops the pages of freed stacks beyond CIO__STACK_HOT_MAX.  Must not run
 * on a pooled stack. */
void cio__stack_trim(cio__stack_pool *pool);
/* Name of the guard method new stacks get ("madvise guard", ...). */
const char *cio__stack_guard_method(void);

/* stack_compact.c. */

/* Starts a compaction pass: c's batches empty.  Whether full compaction
 * is possible (guard markers work, the SIGSEGV handler is installed and
 * still in place) is asked at the pass's first stack; the handler is
 * installed then, the first time. */
void cio__stack_compactor_init(struct cio__stack_compactor *c);
/*
 * Compacts s, in use by a parked context whose saved stack pointer is sp.
 * Full (1): copies [sp, lo + size) into a new image and queues the pages
 * it came from in c to become guard markers (any access faults them back
 * in), the dead pages below to be dropped.
 * Partial (0): queues the pages below the one sp is in to be dropped.
 * Queued advice is applied when a batch fills or at
 * cio__stack_compactor_flush.  -ENOMEM (no image: s unchanged), -E2BIG
 * (live part too large to be worth it).  Must not run on s.
 */
int cio__stack_compact(cio__stack *s, const void *sp, struct cio__stack_compactor *c);
/* Applies the advice queued in c. */
void cio__stack_compactor_flush(struct cio__stack_compactor *c);
/* Applies the advice queued in d. */
void cio__stack_drops_flush(struct cio__stack_drops *d);
/* Undoes cio__stack_compact: the live bytes go back to their addresses
 * (unless a fault did it already) and the image is freed.  Must not run
 * on s; the compactor must have been flushed. */
void cio__stack_expand(cio__stack *s);
/* A compacted stack whose task will never run: its guard markers go, its
 * image is freed (its pages hold zeros). */
void cio__stack_discard(cio__stack *s);
/* The fault handler's registry of slabs (stack_compact.c): the index of
 * the slab [mem, mem + bytes) of stride-byte slots described by descs, or
 * -1 when full; and its removal (before the slab is unmapped). */
int cio__stack_registry_add(char *mem, size_t bytes, size_t stride, cio__stack *descs);
void cio__stack_registry_del(int reg);

/* stack.c, for stack_compact.c. */

/* Whether MADV_GUARD_INSTALL works on this kernel (asked once). */
int cio__stack_guard_markers(void);
/* 1 if idle stacks are compacted fully here (guard markers that really
 * fault, and cio's fault handler installed), else they are compacted
 * partially (dead pages dropped).  Under qemu-user, say, the markers are
 * accepted but the handler cannot serve the faults. */
int cio__stack_compact_full(void);
/* Advises [base, base + len) for each range of iov with process_madvise;
 * how many leading ranges were done. */
size_t cio__stack_advise_batch(struct iovec *iov, size_t n, int advice);
extern size_t cio__stack_page_size;

static inline int cio__stack_canary_ok(const cio__stack *s)
{
    return s->guard != CIO__GUARD_CANARY || *(const uint64_t *)(const void *)s->lo == CIO__STACK_CANARY;
}

#endif
