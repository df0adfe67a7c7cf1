/*
 * cancel.c - PostgreSQL's cancel request.  libpq 15's PQcancel opens a new
 * connection to the server and blocks until it is sent, so it runs in the
 * thread pool; each request carries its own PGcancel (from PQgetCancel),
 * which stays valid even if the connection is closed meanwhile, and is
 * freed on the loop's thread once the worker has returned (on_discard if
 * the waiting task was cancelled).
 */
#include <stdio.h>

#include "pgint.h"

/* What a worker needs: the cancel object and room for libpq's message. */
struct cancel_job {
    PGcancel *cancel; /* owned */
    char err[256];    /* PQcancel's message on failure */
};

static int cancel_thread(void *arg, void **result)
{
    struct cancel_job *j = arg;
    (void)result;
    return PQcancel(j->cancel, j->err, sizeof j->err) ? 0 : -EIO;
}

static void cancel_discard(void *arg, int rc, void *result)
{
    struct cancel_job *j = arg;
    (void)rc;
    (void)result;
    PQfreeCancel(j->cancel);
    cio__free(j);
}

/* Sends the request; 0, CIO_EPG (with the error recorded) or the
 * executor's codes. */
static int send_cancel(cio_pg_conn *c)
{
    struct cancel_job *j = cio__calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    if (!(j->cancel = PQgetCancel(c->pg))) {
        cio__free(j);
        return -ENOMEM;
    }
    int rc = cio_run_in_executor_discard(NULL, cancel_thread, j, NULL, cancel_discard);
    if (rc == -ECANCELED || rc == -ETIMEDOUT)
        return rc; /* j is on_discard's now */
    if (rc == -EIO) {
        cio__pg_set_error_msg("08006", j->err);
        rc = CIO_EPG;
    }
    cancel_discard(j, 0, NULL);
    return rc;
}

int cio_pg_cancel(cio_pg_conn *c)
{
    if (!c)
        return -EINVAL;
    if (c->broken || c->closed)
        return CIO_ECLOSED;
    cio__pg_clear_error();
    return send_cancel(c);
}

/* The background task of cio__pg_cancel_soon: owns its PGcancel only. */
static int cancel_task(void *arg, void **result)
{
    struct cancel_job *j = arg;
    (void)result;
    int rc = cio_run_in_executor_discard(NULL, cancel_thread, j, NULL, cancel_discard);
    if (rc != -ECANCELED && rc != -ETIMEDOUT)
        cancel_discard(j, 0, NULL);
    return 0;
}

void cio__pg_cancel_soon(cio_pg_conn *c)
{
    struct cancel_job *j = cio__calloc(1, sizeof *j);
    if (!j)
        return;
    if (!(j->cancel = PQgetCancel(c->pg))) {
        cio__free(j);
        return;
    }
    /* A task of its own: the task whose query this was is unwinding from a
     * cancellation and can no longer wait for anything. */
    if (cio_create_task_at(c->loop, cancel_task, j, "pg-cancel", 0, NULL, CIO_SOURCE_FILE,
                           __LINE__) < 0)
        cancel_discard(j, 0, NULL);
}
