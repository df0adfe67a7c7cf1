/*
 * dns.c - getaddrinfo/getnameinfo off the loop, through the thread pool
 * (cio_run_in_executor_discard, include/cio/exec.h).
 *
 * A lookup is a job the task hands to a worker thread.  If the task is
 * cancelled it returns -ECANCELED at once while the thread may still be
 * inside getaddrinfo; the executor then calls job_discard on the loop
 * thread once the thread is done, which frees the job and the late answer.
 *
 * Numeric hosts (and NULL hosts) never leave the loop: getaddrinfo with
 * AI_NUMERICHOST answers without any I/O.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>

#include "cio/exec.h"
#include "cio/net.h"
#include "../task/task.h"

struct gai_job {
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

/* In a worker thread: only libc, no cio call. */
static int job_thread(void *arg, void **result)
{
    struct gai_job *j = arg;
    if (j->is_nameinfo)
        j->rc = getnameinfo((struct sockaddr *)&j->addr, j->addrlen, j->hostbuf,
                            sizeof j->hostbuf, j->servbuf, sizeof j->servbuf, j->flags);
    else
        j->rc = getaddrinfo(j->host, j->port, j->has_hints ? &j->hints : NULL, &j->res);
    *result = NULL;
    return 0;
}

/* On the loop thread, once an abandoned lookup's thread is done (or the
 * lookup was dropped before it started): the late answer is freed. */
static void job_discard(void *arg, int rc, void *result)
{
    (void)rc;
    (void)result;
    job_free(arg);
}

/*
 * Runs j in the loop's default thread pool.  Returns 0 with j still owned
 * by the caller, or a negative code, in which case j is freed (now, or by
 * job_discard when the thread is done with it).
 */
static int job_run(struct gai_job *j)
{
    void *ignored = NULL;
    int rc = cio_run_in_executor_discard(NULL, job_thread, j, &ignored, job_discard);
    if (rc >= 0)
        return 0;
    /* Interrupted (this task cancelled or timed out): job_discard owns j.
     * Otherwise (shutdown, no memory...) fn never ran and j is ours. */
    if ((rc == -ECANCELED || rc == -ETIMEDOUT) && cio_checkpoint() != 0)
        return rc;
    job_free(j);
    return rc;
}

static int gai_code(int rc)
{
    if (rc == EAI_SYSTEM)
        return errno ? -errno : -EIO;
    if (rc == EAI_MEMORY)
        return -ENOMEM;
    return CIO_EGAIERR + rc;
}

/*
 * Checks a port string before getaddrinfo sees it.  glibc parses a numeric
 * service with strtoul and keeps the low 16 bits, so "70000" became port
 * 4464 and "65536" port 0, and it accepts leading blanks and a sign too.
 * A string of digits is a port number and must be 0..65535; one that
 * starts as a number could (a digit, a sign, a blank) but is not only
 * digits is refused; anything else is a service name ("http") for
 * getaddrinfo to look up.  0, or -EINVAL with what is wrong in *why.
 */
static int check_port(const char *port, const char **why)
{
    if (!port)
        return 0;
    if (!*port) {
        *why = "port is empty";
        return -EINVAL;
    }
    unsigned long v = 0;
    const char *p = port;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535) {
            *why = "port number out of range (0..65535)";
            return -EINVAL;
        }
    }
    if (!*p)
        return 0; /* digits only, in range */
    if (p != port || *port == '+' || *port == '-' || isspace((unsigned char)*port)) {
        *why = "port is not a number of digits only, nor a service name";
        return -EINVAL;
    }
    return 0; /* a service name */
}

int cio_getaddrinfo(const char *host, const char *port, const struct addrinfo *hints,
                    struct addrinfo **res)
{
    if (!res || (!host && !port))
        return cio__bad_arg(cio__running_loop, __func__, "res NULL or no host and no port");
    *res = NULL;
    const char *why = NULL;
    if (check_port(port, &why) < 0)
        return cio__bad_arg(cio__running_loop, __func__, why);
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
    int grc = getaddrinfo(host, port, &h, res);
    if (grc == 0)
        return 0;
    *res = NULL;
    if (!host) /* nothing to look up: the error is final */
        return gai_code(grc);
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
