/*
 * log.c - the leveled logger.  A line is formatted once into a stack
 * buffer, prefixed with the level and the current task's name (or, for
 * cio__log_as, the name of what the line is about), and handed
 * to the sink (stderr by default) under a mutex so lines from different
 * threads never interleave.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "internal.h"

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static cio_log_sink_fn *sink_fn;
static void *sink_ud;
static int level = -1; /* -1: not read from the environment yet */

static const char *const level_names[] = {"debug", "info", "warning", "error", "off"};

static int initial_level(void)
{
    const char *e = getenv("CIO_LOG_LEVEL");
    if (e)
        for (int i = 0; i <= CIO_LOG_OFF; i++)
            if (strcasecmp(e, level_names[i]) == 0)
                return i;
    return CIO_LOG_INFO;
}

void cio_log_set_sink(cio_log_sink_fn *fn, void *ud)
{
    pthread_mutex_lock(&sink_lock);
    sink_fn = fn;
    sink_ud = fn ? ud : NULL;
    pthread_mutex_unlock(&sink_lock);
}

void cio_log_set_level(cio_log_level lv)
{
    if ((int)lv < CIO_LOG_DEBUG || lv > CIO_LOG_OFF)
        lv = CIO_LOG_INFO;
    __atomic_store_n(&level, (int)lv, __ATOMIC_RELAXED);
}

cio_log_level cio_log_get_level(void)
{
    int lv = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (lv < 0) {
        lv = initial_level();
        __atomic_store_n(&level, lv, __ATOMIC_RELAXED);
    }
    return (cio_log_level)lv;
}

const char *(*cio__log_context)(void);

/* Formats and emits one line whose context is who (NULL: none). */
static void log_line(const char *who, cio_log_level lv, const char *fmt, va_list ap)
{
    char line[1024];
    int n;
    if (who)
        n = snprintf(line, sizeof line, "cio %s [%s]: ", level_names[lv], who);
    else
        n = snprintf(line, sizeof line, "cio %s: ", level_names[lv]);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    pthread_mutex_lock(&sink_lock);
    if (sink_fn)
        sink_fn(sink_ud, lv, line);
    else
        fprintf(stderr, "%s\n", line);
    pthread_mutex_unlock(&sink_lock);
}

void cio_logv(cio_log_level lv, const char *fmt, va_list ap)
{
    if (lv < cio_log_get_level() || lv >= CIO_LOG_OFF)
        return;
    log_line(cio__log_context ? cio__log_context() : NULL, lv, fmt, ap);
}

void cio__log_as(const char *who, cio_log_level lv, const char *fmt, ...)
{
    if (lv < cio_log_get_level() || lv >= CIO_LOG_OFF)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(who, lv, fmt, ap);
    va_end(ap);
}

void cio_log(cio_log_level lv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cio_logv(lv, fmt, ap);
    va_end(ap);
}
