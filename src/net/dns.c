/*
 * dns.c - getaddrinfo/getnameinfo off the loop, through the thread pool
 * (cio_to_thread, include/cio/exec.h).
 *
 * A lookup is a job shared by the task and the worker thread.  If the task
 * is cancelled it returns -ECANCELED at once while the thread may still be
 * inside getaddrinfo; whichever of the two finishes second frees the job
 * (and the late answer), decided by one atomic exchange on job->state.
 *
 * Numeric hosts (and NULL hosts) never leave the loop: getaddrinfo with
 * AI_NUMERICHOST answers without any I/O.
 *
 * Until the thread pool is part of the build (cio/exec.h absent), lookups
 * of names run on the loop thread; the build says so with a warning.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>

#include "cio/net.h"
#include "../task/task.h"

#if __has_include("cio/exec.h")
#include "cio/exec.h"
#define HAVE_POOL 1
#else
#warning "cio/exec.h missing: DNS lookups of names block the loop"
#define HAVE_POOL 0
#endif

enum { JOB_RUNNING = 0, JOB_DONE = 1, JOB_ABANDONED = 2 };

struct gai_job {
    _Atomic int state;         /* JOB_*: who frees the job */
    char *host, *port;         /* copies: the caller's strings may go away */
    struct addrinfo hints;     /* copy of the caller's hints */
    int has_hints;
    struct addrinfo *res;      /* the answer (owned by the job until taken) */
    int rc;                    /* getaddrinfo's return */
    /* getnameinfo */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char hostbuf[NI_MAXHOST], servbuf[NI_MAXSERV];
    int flags;
    int is_nameinfo;
};

static void job_free(struct gai_job *j)
{
    if (j->res)
        freeaddrinfo(j->res);
    cio__free(j->host);
    cio__free(j->port);
    cio__free(j);
}

static void job_work(struct gai_job *j)
{
    if (j->is_nameinfo)
        j->rc = getnameinfo((struct sockaddr *)&j->addr, j->addrlen, j->hostbuf,
                            sizeof j->hostbuf, j->servbuf, sizeof j->servbuf, j->flags);
    else
        j->rc = getaddrinfo(j->host, j->port, j->has_hints ? &j->hints : NULL, &j->res);
}

#if HAVE_POOL
static int job_thread(void *arg, void **result)
{
    struct gai_job *j = arg;
    job_work(j);
    *result = NULL;
    if (atomic_exchange(&j->state, JOB_DONE) == JOB_ABANDONED)
        job_free(j); /* the task gave up: nobody else will */
    return 0;
}
#endif

/* Runs j off the loop; returns 0 with j still owned by the caller, or a
 * negative code, in which case j is freed (now or by the thread). */
static int job_run(struct gai_job *j)
{
#if HAVE_POOL
    void *ignored = NULL;
    int rc = cio_to_thread(job_thread, j, &ignored);
    /* Only an interruption leaves the thread running; any other failure
     * means the job was never started (a failing call has no effect). */
    if ((rc == -ECANCELED || rc == -ETIMEDOUT) &&
        atomic_exchange(&j->state, JOB_ABANDONED) == JOB_RUNNING)
        return rc; /* the thread frees j when it finishes */
    if (rc < 0) {
        job_free(j);
        return rc;
    }
    return 0;
#else
    if (!cio__current())
        return CIO_ENOTASK;
    job_work(j);
    return 0;
#endif
}

static int gai_code(int rc)
{
    if (rc == EAI_SYSTEM)
        return errno ? -errno : -EIO;
    if (rc == EAI_MEMORY)
        return -ENOMEM;
    return CIO_EGAIERR + rc;
}

int cio_getaddrinfo(const char *host, const char *port, const struct addrinfo *hints,
                    struct addrinfo **res)
{
    if (!res || (!host && !port))
        return cio__bad_arg(cio__running_loop, __func__, "res NULL or no host and no port");
    *res = NULL;
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    /* Numeric fast path: no I/O can happen, so no thread is needed. */
    struct addrinfo h = hints ? *hints : (struct addrinfo){0};
    h.ai_flags |= AI_NUMERICHOST;
    h.ai_canonname = NULL;
    h.ai_addr = NULL;
    h.ai_next = NULL;
    if (!host || getaddrinfo(host, port, &h, res) == 0)
        if (!host || *res)
            return 0;
    *res = NULL;
    if (hints && (hints->ai_flags & AI_NUMERICHOST))
        return CIO_EGAIERR + EAI_NONAME;
    struct gai_job *j = cio__calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->host = cio__strdup(host);
    j->port = port ? cio__strdup(port) : NULL;
    if (!j->host || (port && !j->port)) {
        job_free(j);
        return -ENOMEM;
    }
    if (hints) {
        j->hints = *hints;
        j->hints.ai_canonname = NULL;
        j->hints.ai_addr = NULL;
        j->hints.ai_next = NULL;
        j->has_hints = 1;
    }
    rc = job_run(j);
    if (rc < 0)
        return rc;
    if (j->rc) {
        rc = gai_code(j->rc);
        job_free(j);
        return rc;
    }
    *res = j->res;
    j->res = NULL;
    job_free(j);
    return 0;
}

void cio_freeaddrinfo(struct addrinfo *res)
{
    if (res)
        freeaddrinfo(res);
}

int cio_getnameinfo(const struct sockaddr *addr, socklen_t addrlen, char *host, size_t hostlen,
                    char *serv, size_t servlen, int flags)
{
    if (!addr || !addrlen || addrlen > sizeof(struct sockaddr_storage) ||
        (!host && hostlen) || (!serv && servlen))
        return cio__bad_arg(cio__running_loop, __func__, "bad address or buffers");
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    struct gai_job *j = cio__calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->is_nameinfo = 1;
    memcpy(&j->addr, addr, addrlen);
    j->addrlen = addrlen;
    j->flags = flags;
    rc = job_run(j);
    if (rc < 0)
        return rc;
    if (j->rc) {
        rc = gai_code(j->rc);
        job_free(j);
        return rc;
    }
    if (hostlen && strlen(j->hostbuf) >= hostlen)
        rc = -ENOSPC;
    else if (servlen && strlen(j->servbuf) >= servlen)
        rc = -ENOSPC;
    else {
        if (hostlen)
            memcpy(host, j->hostbuf, strlen(j->hostbuf) + 1);
        if (servlen)
            memcpy(serv, j->servbuf, strlen(j->servbuf) + 1);
    }
    job_free(j);
    return rc;
}
