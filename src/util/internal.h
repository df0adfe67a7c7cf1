/*
 * internal.h - what every file inside cio shares and no user sees:
 * branch hints, container_of, the allocator wrappers, debug-mode argument
 * reports.  Internal non-static names carry the cio__ prefix.
 */
#ifndef CIO_INTERNAL_H
#define CIO_INTERNAL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cio.h"

#define CIO_LIKELY(x) __builtin_expect(!!(x), 1)
#define CIO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CIO_CONTAINER_OF(p, type, member) \
    ((type *)(void *)((char *)(p) - offsetof(type, member)))
#define CIO_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Nanoseconds, the internal unit of time. */
#define CIO_NS_PER_SEC INT64_C(1000000000)

/* Sanitizers that must be told about stack switches. */
#if defined(__SANITIZE_ADDRESS__)
#define CIO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CIO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CIO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CIO_TSAN 1
#endif
#endif

/* Thread-local storage that is one fs-relative load, even in libcio.so. */
#define CIO_TLS __thread __attribute__((tls_model("initial-exec")))

/* Allocation through the user's hook (alloc.c).  cio__free keeps errno. */
void *cio__malloc(size_t size);
void *cio__calloc(size_t n, size_t size);
void *cio__realloc(void *ptr, size_t size);
void cio__free(void *ptr);
char *cio__strdup(const char *s);
/* Number of loops alive: the allocator cannot change while any exists. */
extern int cio__loops_alive;

/*
 * Reports a bad argument: logs "fn: what" if debug is 1, or if it is -1
 * and CIO_DEBUG asks for debug mode; returns -EINVAL.  Callers with a loop
 * use cio__bad_arg (loop.h), which passes the loop's debug flag.
 */
int cio__bad_arg_debug(int debug, const char *fn, const char *what);
/* Names what runs now for log lines ("cio info [name]: ..."), or NULL:
 * the task layer installs one that returns the current task's name. */
extern const char *(*cio__log_context)(void);
/* cio_log with the context given instead of the running task's: who (NULL
 * for none) names what the line is about.  A report on a task that failed
 * is about that task, not the one that happened to release it. */
void cio__log_as(const char *who, cio_log_level lv, const char *fmt, ...) CIO_PRINTF(3, 4);
/* 1 if the environment asks for debug mode (CIO_DEBUG set, not "0"). */
int cio__env_debug(void);

/* Converts seconds to nanoseconds, saturating; NaN must be checked first. */
static inline int64_t cio__sec_to_ns(double s)
{
    if (s >= 9.2e9)
        return INT64_MAX / 2;
    if (s <= -9.2e9)
        return -(INT64_MAX / 2);
    return (int64_t)(s * 1e9);
}

/* Monotonic clock, nanoseconds. */
int64_t cio__clock_ns(void);

#endif
