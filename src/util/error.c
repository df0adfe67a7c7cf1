/*
 * error.c - names of error codes, the version string, debug-mode argument
 * reports and the monotonic clock.
 */
#define _GNU_SOURCE
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

const char *cio_version(void) { return "1.0.0"; }

static const struct {
    int code;
    const char *text;
} own_codes[] = {
    {CIO_ENOTASK, "suspension point called outside a task"},
    {CIO_EWRONGTHREAD, "loop used from a thread that does not own it"},
    {CIO_EINVALSTATE, "invalid state: future pending or already done"},
    {CIO_ECLOSED, "closed"},
    {CIO_ERUNNING, "loop already running"},
    {CIO_ENOLOOP, "no running loop in this thread"},
    {CIO_ESHUTDOWN, "shut down"},
    {CIO_EEMPTY, "queue empty"},
    {CIO_EFULL, "queue full"},
    {CIO_EBROKEN, "barrier broken"},
    {CIO_ELIMIT, "limit overrun"},
    {CIO_EINCOMPLETE, "end of stream before the requested bytes"},
    {CIO_ESTALLED, "nothing left that could complete the awaited future"},
    {CIO_ETLS, "TLS error"},
    {CIO_EWORKERDIED, "worker process died"},
    {CIO_EPG, "PostgreSQL error"},
};

const char *cio_strerror(int code)
{
    if (code == 0)
        return "success";
    if (code < 0 && code >= -CIO_ERRNO_MAX) {
        const char *s = strerrordesc_np(-code);
        return s ? s : "unknown error";
    }
    for (size_t i = 0; i < CIO_ARRAY_LEN(own_codes); i++)
        if (own_codes[i].code == code)
            return own_codes[i].text;
    if (code <= CIO_EGAIERR && code > CIO_EGAIERR - 100)
        return gai_strerror(code - CIO_EGAIERR);
    return "unknown error";
}

int cio__env_debug(void)
{
    /* Atomic: loops may be created in several threads at once. */
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        const char *e = getenv("CIO_DEBUG");
        v = e && *e && strcmp(e, "0") != 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

int cio__bad_arg_debug(int debug, const char *fn, const char *what)
{
    if (debug < 0 ? cio__env_debug() : debug)
        cio_log(CIO_LOG_WARNING, "%s: %s", fn, what);
    return -EINVAL;
}

int64_t cio__clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CIO_NS_PER_SEC + ts.tv_nsec;
}
