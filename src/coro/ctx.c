/*
 * ctx.c - creating contexts: the initial frame each switch method expects,
 * and the sanitizers' view of the thread's own stack.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "coro.h"

#ifdef CIO_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifdef CIO_ASAN
#include <sanitizer/asan_interface.h>
#endif

#if defined(CIO_CORO_UCONTEXT)
const char cio__coro_method[] = "ucontext (portable fallback)";
#elif defined(__x86_64__)
const char cio__coro_method[] = "x86_64 assembly";
#elif defined(__aarch64__)
const char cio__coro_method[] = "aarch64 assembly";
#endif

void cio__ctx_init_thread(cio__ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
#ifdef CIO_ASAN
    pthread_attr_t attr;
    void *lo;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
            ctx->stack_lo = lo;
            ctx->stack_size = size;
        }
        pthread_attr_destroy(&attr);
    }
#endif
#ifdef CIO_TSAN
    ctx->tsan_fiber = __tsan_get_current_fiber();
#endif
}

#ifdef CIO_CORO_UCONTEXT
/* makecontext passes int arguments only: the pointers travel in halves. */
static void ucontext_start(unsigned fhi, unsigned flo, unsigned ahi, unsigned alo)
{
    cio__ctx_entry_fn *entry =
        (cio__ctx_entry_fn *)(((uintptr_t)fhi << 32) | (uintptr_t)flo);
    void *arg = (void *)(((uintptr_t)ahi << 32) | (uintptr_t)alo);
    entry(arg);
    __builtin_trap();
}
#elif defined(CIO_ASAN) || defined(CIO_TSAN)
extern void cio__ctx_start(void);
#endif

/* Out of line only for the portable fallback and the sanitizers (coro.h
 * has the plain assembly case inline). */
#if defined(CIO_CORO_UCONTEXT) || defined(CIO_ASAN) || defined(CIO_TSAN)
void cio__ctx_make(cio__ctx *ctx, void *lo, size_t size, cio__ctx_entry_fn *entry,
                   void *arg)
{
#ifdef CIO_ASAN
    ctx->stack_lo = lo;
    ctx->stack_size = size;
    /* A recycled stack still carries the redzone poison of the frames of
     * the task that used it last, which never returned. */
    ASAN_UNPOISON_MEMORY_REGION(lo, size);
#endif
#ifdef CIO_TSAN
    if (!ctx->tsan_fiber)
        ctx->tsan_fiber = __tsan_create_fiber(0);
#endif
#if defined(CIO_CORO_UCONTEXT)
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = lo;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    uintptr_t f = (uintptr_t)entry, a = (uintptr_t)arg;
    makecontext(&ctx->uc, (void (*)(void))ucontext_start, 4, (unsigned)(f >> 32),
                (unsigned)f, (unsigned)(a >> 32), (unsigned)a);
#else
    cio__ctx_frame(ctx, lo, size, entry, arg);
#endif
}
#endif

void cio__ctx_destroy(cio__ctx *ctx)
{
#ifdef CIO_TSAN
    if (ctx->tsan_fiber) {
        __tsan_destroy_fiber(ctx->tsan_fiber);
        ctx->tsan_fiber = NULL;
    }
#else
    (void)ctx;
#endif
}
