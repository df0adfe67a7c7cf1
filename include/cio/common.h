/*
 * cio/common.h - what every part of cio shares: export macro, version,
 * error codes, the allocator hook and the logger.
 *
 * Included by every other header; include <cio.h> to get everything.  None
 * of these calls suspends, and none needs a loop.
 *
 * Errors: every call that can fail returns an int, >= 0 on success and a
 * negative code on failure.  Codes in the errno range are negated errno
 * values (-ECANCELED, -ETIMEDOUT, -EINVAL, -ENOMEM, ...); cio's own codes
 * live below -CIO_ERRNO_MAX so they never collide with errno.  cio_strerror() names
 * every code.  A call that fails has no side effect to undo and never fires
 * the callback it was given.
 */
#ifndef CIO_COMMON_H
#define CIO_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CIO_BUILDING) && defined(__GNUC__)
#define CIO_EXTERN __attribute__((visibility("default")))
#else
#define CIO_EXTERN
#endif

#if defined(__GNUC__)
#define CIO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CIO_PRINTF(f, a)
#endif

/* Marks a parameter that may go unused, so -Wextra's -Wunused-parameter
 * stays quiet (C23's [[maybe_unused]]): `void *ud CIO_MAYBE_UNUSED`.  For
 * coroutine functions, see CIO_CORO_PARAMS in cio/task.h. */
#if defined(__GNUC__)
#define CIO_MAYBE_UNUSED __attribute__((unused))
#else
#define CIO_MAYBE_UNUSED
#endif

/* Version of the library this header describes. */
#define CIO_VERSION_MAJOR 1
#define CIO_VERSION_MINOR 0
#define CIO_VERSION_PATCH 0

/* Returns the version of the library linked, such as "1.0.0" (compare
 * with the CIO_VERSION_* macros to catch a header/library mismatch).  The
 * string is static.  Never fails. */
CIO_EXTERN const char *cio_version(void);

/*
 * Timeouts.  Every relative timeout parameter in cio is seconds as a
 * double: CIO_NO_TIMEOUT (any value < 0) or INFINITY means no limit
 * (asyncio's None), 0 means "do not wait" (fail with -ETIMEDOUT unless the
 * result is there at once).  Absolute deadlines are loop times
 * (cio_loop_time), INFINITY for none.
 *
 * Values that may be absent: a time or deadline getter returns NaN for
 * "none" where INFINITY ("never") does not apply, a descriptor getter
 * returns -1.
 */
#define CIO_NO_TIMEOUT (-1.0)

/*
 * Options structs (cio_stream_options, cio_task_options, ...): zeroed
 * fields mean the defaults, so `cio_x_options o = {0}` or designated
 * initialisers are the way to fill one.  Each ends with room for fields
 * that later 1.x versions add (CIO_OPTIONS_RESERVED): keep it zeroed, and a
 * program built against 1.0 keeps working unchanged with a newer library.
 */
#define CIO_OPTIONS_RESERVED uint64_t reserved_[4];

/* Codes of cio's own, with their asyncio counterparts.  All are below
 * -CIO_ERRNO_MAX, out of errno's range. */
#define CIO_ERRNO_MAX 4095
enum {
    CIO_ENOTASK = -5001,     /* a suspension point was called outside a task */
    CIO_EWRONGTHREAD = -5002,/* the loop belongs to another thread (debug
                                mode checks) */
    CIO_EINVALSTATE = -5003, /* result asked of a pending future, or a done
                                future completed again (InvalidStateError) */
    CIO_ECLOSED = -5004,     /* the loop (or object) is closed */
    CIO_ERUNNING = -5005,    /* the loop is already running */
    CIO_ENOLOOP = -5006,     /* no loop runs in this thread */
    CIO_ESHUTDOWN = -5007,   /* the queue or executor was shut down
                                (QueueShutDown) */
    CIO_EEMPTY = -5008,      /* queue empty (QueueEmpty) */
    CIO_EFULL = -5009,       /* queue full (QueueFull) */
    CIO_EBROKEN = -5010,     /* barrier broken (BrokenBarrierError) */
    CIO_ELIMIT = -5011,      /* a line or buffer limit was overrun
                                (LimitOverrunError) */
    CIO_EINCOMPLETE = -5012, /* EOF before the requested bytes arrived
                                (IncompleteReadError) */
    CIO_ESTALLED = -5013,   /* the loop has nothing left that could wake
                                the awaited future */
    CIO_ETLS = -5014,        /* TLS error; the object's message says which */
    CIO_EWORKERDIED = -5015, /* a worker process died during the call
                                (BrokenProcessPool) */
    CIO_EPG = -5016,         /* the PostgreSQL server reported an error
                                (asyncpg's PostgresError); cio_pg_last_error
                                has its fields */
    CIO_EGAIERR = -5100      /* getaddrinfo errors: CIO_EGAIERR + EAI_* */
};

/*
 * Returns a static, human-readable name for any code cio returns: negated
 * errno values, cio's own codes, CIO_EGAIERR + EAI_*, and 0 ("success").
 * Unknown codes give "unknown error".  The string is static and must not
 * be freed.  Never fails; thread-safe.
 *
 *     int rc = cio_task_result(t, NULL);
 *     if (rc < 0)
 *         printf("no result: %s\n", cio_strerror(rc));   // "invalid state: ..."
 */
CIO_EXTERN const char *cio_strerror(int code);

/*
 * The allocator hook (as Lua's lua_Alloc): one function serves malloc,
 * realloc and free.  fn(ud, ptr, size): size 0 frees ptr and returns NULL;
 * otherwise it returns a block of size bytes holding ptr's old contents (ptr
 * may be NULL), or NULL on failure, leaving ptr untouched.
 */
typedef void *cio_alloc_fn(void *ud, void *ptr, size_t size);

/*
 * Installs the allocator every part of cio uses; fn NULL restores the
 * default (realloc/free).  Call it before any loop exists: memory obtained
 * from one allocator must be freed by the same one.  ud is passed back to
 * fn untouched; keep it valid while the allocator is installed.  Returns
 * 0, or CIO_ERUNNING if a loop exists.  Not thread-safe.  Tests use it to
 * fail the Nth allocation.
 */
CIO_EXTERN int cio_set_allocator(cio_alloc_fn *fn, void *ud);

/* Allocates/frees through the hook.  Use cio_free on whatever a cio
 * function documents as "free with cio_free"; use cio_malloc for memory
 * you hand to cio to be freed that way.  cio_malloc returns NULL when out
 * of memory; cio_free(NULL) is a no-op. */
CIO_EXTERN void *cio_malloc(size_t size);
CIO_EXTERN void cio_free(void *ptr);

/* ----------------------------------------------------------------------
 * Logging: a small leveled logger.  Each line is prefixed with
 * "cio <level>" and, inside a task, the task's name: "cio warning
 * [worker]: ...".  Default sink: stderr.  The loop's default exception
 * handler and debug mode report through it.
 * ---------------------------------------------------------------------- */
typedef enum cio_log_level {
    CIO_LOG_DEBUG = 0,
    CIO_LOG_INFO = 1,
    CIO_LOG_WARNING = 2,
    CIO_LOG_ERROR = 3,
    CIO_LOG_OFF = 4
} cio_log_level;

/*
 * A log sink receives each formatted line (no trailing newline).  line is
 * valid only during the call.  It may be called from any thread that logs.
 */
typedef void cio_log_sink_fn(void *ud, cio_log_level level, const char *line);

/* Installs a sink; fn NULL restores stderr.  Thread-safe; never fails. */
CIO_EXTERN void cio_log_set_sink(cio_log_sink_fn *fn, void *ud);

/* Lines below level are dropped.  Default CIO_LOG_INFO, or the value of
 * CIO_LOG_LEVEL (debug, info, warning, error, off) at first use.  An
 * out-of-range level sets CIO_LOG_INFO.  Thread-safe; never fail. */
CIO_EXTERN void cio_log_set_level(cio_log_level level);
CIO_EXTERN cio_log_level cio_log_get_level(void);

/* Formats (printf-style) and emits one line at level.  Lines longer than
 * about 1 KiB are cut.  Never suspends; thread-safe; never fails. */
CIO_EXTERN void cio_log(cio_log_level level, const char *fmt, ...) CIO_PRINTF(2, 3);
CIO_EXTERN void cio_logv(cio_log_level level, const char *fmt, va_list ap);

#ifdef __cplusplus
}
#endif
#endif
