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
 * hundred bytes) into an image and drops all the stack's pages; expanding
 * copies the bytes back to the same addresses before the task runs again,
 * so pointers into the stack stay valid.
 */
#ifndef CIO_STACK_H
#define CIO_STACK_H

#include <stddef.h>
#include <stdint.h>

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
    unsigned vg_id;          /* valgrind's stack id */
} cio__stack;

/* A slab of pooled stacks and the descriptors of its slots. */
struct cio__stack_slab {
    char *mem;               /* slab_bytes of address space */
    cio__stack *descs;       /* one per slot, slot i at mem + i * stride */
};

/* Page ranges to drop, gathered so that one system call drops many
 * (process_madvise); cio__stack_drops_flush drops them. */
struct cio__stack_drops {
    size_t n;
    struct { void *base; size_t len; } r[64];
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
/* A stack of size usable bytes (0: the default).  NULL with errno set. */
cio__stack *cio__stack_get(cio__stack_pool *pool, size_t size);
/* Returns a stack.  May run on that very stack (it only links it). */
void cio__stack_put(cio__stack_pool *pool, cio__stack *s);
/* Drops the pages of freed stacks beyond CIO__STACK_HOT_MAX.  Must not run
 * on a pooled stack. */
void cio__stack_trim(cio__stack_pool *pool);
/* Name of the guard method new stacks get ("madvise guard", ...). */
const char *cio__stack_guard_method(void);

/*
 * Compacts s, in use by a parked context whose saved stack pointer is sp:
 * copies [sp, lo + size) into a new image and queues all of s's pages in d
 * to be dropped (they go when d fills or is flushed).  0, or -ENOMEM (no
 * image: s unchanged), -E2BIG (live part too large to be worth it).
 * Must not run on s.
 */
int cio__stack_compact(cio__stack *s, const void *sp, struct cio__stack_drops *d);
/* Drops the pages queued in d. */
void cio__stack_drops_flush(struct cio__stack_drops *d);
/* Undoes cio__stack_compact: the live bytes go back to their addresses
 * (faulting in the pages they cover) and the image is freed.  Must not
 * run on s, and d must have been flushed. */
void cio__stack_expand(cio__stack *s);
/* Whether any page of compacted s is resident again: something read or
 * wrote its memory while it was compacted (debug mode asks, mincore). */
int cio__stack_touched(const cio__stack *s);

static inline int cio__stack_canary_ok(const cio__stack *s)
{
    return s->guard != CIO__GUARD_CANARY || *(const uint64_t *)(const void *)s->lo == CIO__STACK_CANARY;
}

#endif
