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

/*
 * A background cancel request (cio__pg_cancel_soon) that the connection
 * waits for: until PQcancel has returned, the server may still be about to
 * interrupt whatever the backend runs, so no new query enters the
 * pipeline (cio__pg_wait_turn holds them at the gate; holding only the
 * flush is not enough, as libpq 15 flushes each Sync at once) - a query
 * sent meanwhile could be the one cancelled.  Once the request is
 * delivered, a backend that had already finished ignores it (it is idle,
 * reading the next command), so holding new queries closes the race.
 */
struct cio__pg_cancel {
    struct cancel_job job;     /* first: what the worker gets */
    cio_pg_conn *conn;         /* NULL once the connection closed */
    struct cio__pg_cancel *next; /* the connection's list */
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
    /* New queries wait until the request is delivered (see struct
     * cio__pg_cancel); a COPY's own cancel needs no hold. */
    cio__pg_conn_ref(c);
    c->cancel_holds++;
    int rc = send_cancel(c);
    c->cancel_holds--;
    cio__pg_gate_update(c);
    cio__pg_conn_unref(c);
    return rc;
}

/* The request was delivered (or failed, or is abandoned): the
 * connection may flush again. */
static void cancel_done(struct cio__pg_cancel *pc)
{
    cio_pg_conn *c = pc->conn;
    if (!c)
        return;
    for (struct cio__pg_cancel **pp = &c->cancels; *pp; pp = &(*pp)->next)
        if (*pp == pc) {
            *pp = pc->next;
            break;
        }
    pc->conn = NULL;
    if (!c->cancels) {
        cio__pg_gate_update(c);
        cio__pg_conn_schedule_flush(c);
    }
}

void cio__pg_cancels_forget(cio_pg_conn *c)
{
    for (struct cio__pg_cancel *pc = c->cancels; pc; pc = pc->next)
        pc->conn = NULL;
    c->cancels = NULL;
}

/* The background task of cio__pg_cancel_soon: owns its PGcancel only. */
static int cancel_task(void *arg, void **result)
{
    struct cio__pg_cancel *pc = arg;
    (void)result;
    int rc = cio_run_in_executor_discard(NULL, cancel_thread, &pc->job, NULL, cancel_discard);
    cancel_done(pc); /* pc stays valid until on_discard runs, on this thread */
    if (rc != -ECANCELED && rc != -ETIMEDOUT)
        cancel_discard(&pc->job, 0, NULL);
    return 0;
}

void cio__pg_cancel_soon(cio_pg_conn *c)
{
    struct cio__pg_cancel *pc = cio__calloc(1, sizeof *pc);
    if (!pc)
        return;
    if (!(pc->job.cancel = PQgetCancel(c->pg))) {
        cio__free(pc);
        return;
    }
    /* A task of its own: the task whose query this was is unwinding from a
     * cancellation and can no longer wait for anything. */
    if (cio_loop_create_task(c->loop, cancel_task, pc, "pg-cancel", NULL) < 0) {
        cancel_discard(&pc->job, 0, NULL);
        return;
    }
    pc->conn = c;
    pc->next = c->cancels;
    c->cancels = pc;
}
