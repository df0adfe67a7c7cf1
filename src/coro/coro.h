/*
 * coro.h - execution contexts and their switch.
 *
 * A context is a saved stack pointer: the switch (switch_<arch>.S) pushes
 * the callee-saved registers on the old stack, stores its stack pointer,
 * loads the new one, pops and jumps.  Nothing else is saved: no signal mask
 * (the syscall that makes swapcontext slow) and no FPU control words, so a
 * task must not leave MXCSR/FPCR changed across a suspension point.
 *
 * Builds without an assembly switch for the target, or configured with
 * CIO_CORO_UCONTEXT, use the portable ucontext fallback instead: ctx.c
 * prepares contexts with makecontext (cio__ctx_make) and cio__ctx_switch()
 * below switches with swapcontext, which also saves the signal mask (a
 * system call per switch).  Under ASan and TSan each switch is announced
 * to the sanitizer; see cio__ctx_switch().
 */
#ifndef CIO_CORO_H
#define CIO_CORO_H

#include <stddef.h>
#include <stdint.h>

#include "../util/internal.h"

#if !defined(CIO_CORO_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define CIO_CORO_UCONTEXT 1
#endif

#ifdef CIO_CORO_UCONTEXT
#include <ucontext.h>
#endif
#ifdef CIO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CIO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

typedef struct cio__ctx {
#ifdef CIO_CORO_UCONTEXT
    ucontext_t uc;           /* the whole machine context */
#else
    void *sp;                /* stack pointer saved by the switch */
#endif
#ifdef CIO_ASAN
    const void *stack_lo;    /* stack bounds, for ASan's fiber API */
    size_t stack_size;
#endif
#ifdef CIO_TSAN
    void *tsan_fiber;        /* TSan's fiber of this context */
#endif
} cio__ctx;

/* Name of the switch method compiled in ("x86_64 asm", ...). */
extern const char cio__coro_method[];

/* Entry of a new context: must never return (it switches away at its end). */
typedef void cio__ctx_entry_fn(void *arg);

#ifndef CIO_CORO_UCONTEXT
/* The assembly switch's entry of a new context (switch_<arch>.S). */
void cio__ctx_start(void);

/* The first frame of a new context on [lo, lo+size): what cio__ctx_swap
 * pops, so that its first switch "returns" into cio__ctx_start with entry
 * and arg in callee-saved registers. */
static inline void cio__ctx_frame(cio__ctx *ctx, void *lo, size_t size, cio__ctx_entry_fn *entry,
                                  void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    void **sp = (void **)(top - 72);
    sp[0] = NULL;               /* r15 */
    sp[1] = NULL;               /* r14 */
    sp[2] = arg;                /* r13: argument */
    sp[3] = (void *)entry;      /* r12: entry */
    sp[4] = NULL;               /* rbx */
    sp[5] = NULL;               /* rbp: ends frame-pointer walks */
    sp[6] = (void *)cio__ctx_start;
#else /* __aarch64__ */
    void **sp = (void **)(top - 176);
    __builtin_memset(sp, 0, 176);
    sp[0] = (void *)entry;      /* x19 */
    sp[1] = arg;                /* x20 */
    sp[11] = (void *)cio__ctx_start; /* x30 */
#endif
    ctx->sp = sp;
}
#endif

#if !defined(CIO_CORO_UCONTEXT) && !defined(CIO_ASAN) && !defined(CIO_TSAN)
/* Prepares ctx to run entry(arg) on [lo, lo+size) when first switched to.
 * Inline: every task's start runs it, and it is a few stores. */
static inline void cio__ctx_make(cio__ctx *ctx, void *lo, size_t size, cio__ctx_entry_fn *entry,
                                 void *arg)
{
    cio__ctx_frame(ctx, lo, size, entry, arg);
}
#else
/* Prepares ctx to run entry(arg) on [lo, lo+size) when first switched to
 * (ctx.c: the portable fallback, and the sanitizers' bookkeeping). */
void cio__ctx_make(cio__ctx *ctx, void *lo, size_t size, cio__ctx_entry_fn *entry,
                   void *arg);
#endif
/* Fills ctx as the context of the calling thread's own stack. */
void cio__ctx_init_thread(cio__ctx *ctx);
/* Releases what ctx_make acquired (TSan's fiber). */
void cio__ctx_destroy(cio__ctx *ctx);

#ifndef CIO_CORO_UCONTEXT
/* switch_<arch>.S: saves registers on the current stack, stores the stack
 * pointer into *from_sp, continues on to_sp. */
void cio__ctx_swap(void **from_sp, void *to_sp);
#endif

/*
 * Switches from the running context (saved into from) to `to`.  dying: the
 * running context will never be resumed, so the sanitizers may drop it.
 */
static inline void cio__ctx_switch(cio__ctx *from, cio__ctx *to, int dying)
{
#ifdef CIO_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(dying ? NULL : &fake, to->stack_lo, to->stack_size);
#endif
#ifdef CIO_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)dying;
#ifdef CIO_CORO_UCONTEXT
    swapcontext(&from->uc, &to->uc);
#else
    cio__ctx_swap(&from->sp, to->sp);
#endif
#ifdef CIO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

/* First thing a new context runs: completes the sanitizer's switch. */
static inline void cio__ctx_entered(void)
{
#ifdef CIO_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

#endif
