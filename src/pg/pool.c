/*
 * pool.c - a connection pool (asyncpg's Pool): a semaphore of max_size
 * slots bounds the connections in use; idle connections wait on a LIFO
 * list (the most recently used is the warmest: its statement cache and
 * the server's buffers).  Acquire replaces idle connections that were lost
 * (backend terminated, server restarted), outlived max_lifetime, or sat
 * idle above min_size longer than max_inactive.  Release resets the
 * session state (rollback, UNLISTEN) shielded from cancellation.  Close
 * waits until every connection is back and no acquire is under way.
 */
#include "pgint.h"

struct cio_pg_pool {
    char *conninfo;          /* copied */
    cio_pg_pool_options opts;   /* copied */
    cio_semaphore *slots;    /* max_size: connections in use */
    cio_event *drained;      /* set once closing and busy == 0 */
    cio_pg_conn *idle;       /* idle connections, LIFO through pool_next */
    size_t nidle;            /* on that list */
    size_t nopen;            /* open connections, idle or in use */
    size_t busy;             /* in use, plus acquires under way */
    int closing;             /* cio_pg_pool_close was called */
};

void cio_pg_pool_options_init(cio_pg_pool_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->min_size = 10;
    opts->max_size = 10;
    cio_pg_conn_options_init(&opts->conn);
}

static void busy_done(cio_pg_pool *p)
{
    if (--p->busy == 0 && p->closing)
        cio_event_set(p->drained);
}

static void discard_conn(cio_pg_pool *p, cio_pg_conn *c)
{
    cio_pg_free(c);
    p->nopen--;
}

static int open_conn(cio_pg_pool *p, cio_pg_conn **out)
{
    p->nopen++;
    int rc = cio_pg_connect(p->conninfo, &p->opts.conn, out);
    if (rc < 0) {
        p->nopen--;
        return rc;
    }
    (*out)->pool = p;
    return 0;
}

static void push_idle(cio_pg_pool *p, cio_pg_conn *c)
{
    c->pool_next = p->idle;
    p->idle = c;
    p->nidle++;
    c->last_used = cio_loop_time(c->loop);
}

static void free_pool(cio_pg_pool *p)
{
    while (p->idle) {
        cio_pg_conn *c = p->idle;
        p->idle = c->pool_next;
        cio_pg_free(c);
    }
    cio_semaphore_free(p->slots);
    cio_event_free(p->drained);
    cio__free(p->conninfo);
    cio__free(p);
}

int cio_pg_pool_new(const char *conninfo, const cio_pg_pool_options *opts, cio_pg_pool **out)
{
    if (!conninfo || !out)
        return -EINVAL;
    *out = NULL;
    cio_pg_pool *p = cio__calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    if (opts)
        p->opts = *opts;
    else
        cio_pg_pool_options_init(&p->opts);
    if (p->opts.max_size == 0 || p->opts.min_size > p->opts.max_size) {
        cio__free(p);
        return -EINVAL;
    }
    int rc = -ENOMEM;
    if (!(p->conninfo = cio__strdup(conninfo)) ||
        (rc = cio_semaphore_new(NULL, p->opts.max_size, &p->slots)) < 0 ||
        (rc = cio_event_new(NULL, &p->drained)) < 0) {
        free_pool(p);
        return rc;
    }
    while (p->nopen < p->opts.min_size) {
        cio_pg_conn *c;
        if ((rc = open_conn(p, &c)) < 0) {
            free_pool(p);
            return rc;
        }
        push_idle(p, c);
    }
    *out = p;
    return 0;
}

/* Is an idle connection still worth handing out? */
static int usable(cio_pg_pool *p, cio_pg_conn *c, double now)
{
    if (cio_pg_is_closed(c))
        return 0;
    if (p->opts.max_lifetime > 0 && now - c->created > p->opts.max_lifetime)
        return 0;
    if (p->opts.max_inactive > 0 && p->nopen > p->opts.min_size &&
        now - c->last_used > p->opts.max_inactive)
        return 0;
    return 1;
}

static int acquire_slot(cio_pg_pool *p, cio_pg_conn **out)
{
    int rc = cio_semaphore_acquire(p->slots);
    if (rc < 0)
        return rc;
    if (p->closing) {
        cio_semaphore_release(p->slots);
        return CIO_ECLOSED;
    }
    double now = cio_loop_time(NULL);
    while (p->idle) {
        cio_pg_conn *c = p->idle;
        p->idle = c->pool_next;
        p->nidle--;
        c->pool_next = NULL;
        if (usable(p, c, now)) {
            *out = c;
            return 0;
        }
        discard_conn(p, c);
    }
    rc = open_conn(p, out);
    if (rc < 0)
        cio_semaphore_release(p->slots);
    return rc;
}

int cio_pg_pool_acquire(cio_pg_pool *p, double timeout, cio_pg_conn **out)
{
    if (!p || !out)
        return -EINVAL;
    *out = NULL;
    if (p->closing)
        return CIO_ECLOSED;
    p->busy++;
    cio_timeout *tm = NULL;
    int rc = 0;
    if (timeout >= 0)
        rc = cio_timeout_begin(timeout, &tm);
    cio_pg_conn *c = NULL;
    if (rc >= 0)
        rc = acquire_slot(p, &c);
    if (tm) {
        int trc = cio_timeout_end(tm);
        if (trc < 0 && rc >= 0) {
            /* Fired just as the connection came: give it back. */
            push_idle(p, c);
            cio_semaphore_release(p->slots);
            rc = trc;
        } else if (trc < 0) {
            rc = trc;
        }
    }
    if (rc < 0) {
        busy_done(p);
        return rc;
    }
    *out = c;
    return 0;
}

/* Puts the session back as a new connection has it. */
static void reset(cio_pg_conn *c)
{
    if (cio_pg_is_closed(c) || c->cursors)
        return;
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    if (c->txn_depth > 0 || ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        cio_pg_execute(c, "ROLLBACK", NULL, 0);
        c->txn_depth = 0;
    }
    if (c->listened) {
        cio_pg_execute(c, "UNLISTEN *", NULL, 0);
        c->listened = 0;
        void *item;
        while (c->notifies && cio_queue_get_nowait(c->notifies, &item) == 0)
            cio_pg_notify_free(item);
    }
}

int cio_pg_pool_release(cio_pg_pool *p, cio_pg_conn *c)
{
    if (!p || !c || c->pool != p)
        return -EINVAL;
    cio_shield_begin();
    reset(c);
    cio_shield_end();
    double now = cio_loop_time(NULL);
    /* A cursor still streaming would answer the next user's queries
     * late: such a connection is closed rather than reused. */
    if (cio_pg_is_closed(c) || p->closing || c->cursors ||
        (p->opts.max_lifetime > 0 && now - c->created > p->opts.max_lifetime))
        discard_conn(p, c);
    else
        push_idle(p, c);
    cio_semaphore_release(p->slots);
    busy_done(p);
    return 0;
}

int cio_pg_pool_close(cio_pg_pool *p)
{
    if (!p)
        return -EINVAL;
    p->closing = 1;
    if (p->busy > 0) {
        int rc = cio_event_wait(p->drained);
        if (rc < 0)
            return rc;
    }
    while (p->idle) { /* released ones were closed as they came back */
        cio_pg_conn *c = p->idle;
        p->idle = c->pool_next;
        p->nidle--;
        p->nopen--;
        cio_pg_free(c);
    }
    return 0;
}

void cio_pg_pool_free(cio_pg_pool *p)
{
    if (!p)
        return;
    if (p->busy > 0) {
        /* Their tasks would give them back into freed memory. */
        cio_log(CIO_LOG_ERROR, "cio_pg_pool_free: %zu connections still acquired; pool leaked",
                (size_t)p->busy);
        return;
    }
    free_pool(p);
}

size_t cio_pg_pool_size(const cio_pg_pool *p)
{
    return p ? p->nopen : 0;
}

size_t cio_pg_pool_idle(const cio_pg_pool *p)
{
    return p ? p->nidle : 0;
}
