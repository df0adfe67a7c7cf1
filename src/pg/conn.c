/*
 * conn.c - a PostgreSQL connection on the loop: the handshake
 * (PQconnectStartParams / PQconnectPoll, woken by readiness callbacks),
 * then the pipeline's two halves: the flush (one per loop iteration,
 * through call_soon, and an add_writer while libpq's buffer does not
 * drain, which also wakes a big segment's task waiting for it midway,
 * cio__pg_conn_drain) and the reader (an add_reader callback that hands
 * each result to the oldest request in flight; a streamed query's rows go
 * to its cursor, and the reader pauses while that cursor's buffer is
 * full).  Close (a reference count keeps the struct for tasks still
 * inside a call on it), notices to the logger.
 *
 * The descriptor is only ever watched through add_reader/add_writer, and
 * both are removed before each PQconnectPoll and before PQfinish: libpq may
 * close its socket and open another (next host, SSL fallback), and the
 * loop must not keep a registration for a descriptor number it no longer
 * owns.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>

#include "pgint.h"

/* ---- notices ----------------------------------------------------------- */

static void notice_receiver(void *arg, const PGresult *res)
{
    (void)arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    cio_log_level lvl = sev && !strcmp(sev, "WARNING") ? CIO_LOG_WARNING
                        : sev && !strcmp(sev, "DEBUG") ? CIO_LOG_DEBUG
                                                        : CIO_LOG_INFO;
    cio_log(lvl, "postgres %s: %s", sev ? sev : "NOTICE", msg ? msg : "");
}

/* ---- waiting for the socket during the handshake ----------------------- */

static void fd_ready(void *arg)
{
    cio_future *f = arg;
    if (!cio_future_done(f))
        cio_future_set_result(f, NULL);
}

/* Suspends until fd is readable (write 0) or writable (write 1). */
static int wait_fd(cio_loop *loop, int fd, int write)
{
    cio_future *f;
    int rc = cio_future_new(loop, &f);
    if (rc < 0)
        return rc;
    rc = write ? cio_loop_add_writer(loop, fd, fd_ready, f)
               : cio_loop_add_reader(loop, fd, fd_ready, f);
    if (rc >= 0) {
        rc = cio_await(f, NULL);
        if (write)
            cio_loop_remove_writer(loop, fd);
        else
            cio_loop_remove_reader(loop, fd);
    }
    cio_future_unref(f);
    return rc;
}

/* ---- connect ------------------------------------------------------------ */

void cio_pg_conn_options_init(cio_pg_conn_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->statement_cache_size = 100;
}

/* Is s a numeric IPv4/IPv6 address? */
static int numeric_host(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* The key/value arrays given to PQconnectStartParams, built from the
 * parsed conninfo plus what cio adds (hostaddr, options). */
struct params {
    const char *keys[64]; /* NULL-terminated */
    const char *vals[64];
    int n;                /* entries used */
    char hostaddr[64];    /* the resolved address */
    char *options;        /* "options" with statement_timeout, owned */
};

static void params_set(struct params *p, const char *k, const char *v)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->keys[i], k)) {
            p->vals[i] = v;
            return;
        }
    if (p->n < 63) {
        p->keys[p->n] = k;
        p->vals[p->n] = v;
        p->n++;
        p->keys[p->n] = NULL;
        p->vals[p->n] = NULL;
    }
}

static const char *params_get(const struct params *p, const char *k)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->keys[i], k))
            return p->vals[i];
    return NULL;
}

/* Resolves a single host name with cio's DNS into p->hostaddr. */
static int resolve_host(struct params *p)
{
    const char *host = params_get(p, "host");
    if (!host || !*host || host[0] == '/' || host[0] == '@' || strchr(host, ',') ||
        params_get(p, "hostaddr") || numeric_host(host))
        return 0;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int rc = cio_getaddrinfo(host, NULL, &hints, &res);
    if (rc < 0)
        return rc;
    rc = getnameinfo(res->ai_addr, res->ai_addrlen, p->hostaddr, sizeof p->hostaddr, NULL, 0,
                     NI_NUMERICHOST);
    cio_freeaddrinfo(res);
    if (rc != 0)
        return CIO_EGAIERR + rc;
    params_set(p, "hostaddr", p->hostaddr);
    return 0;
}

static int conn_fail(PGconn *pg, const char *why)
{
    const char *m = why ? why : pg ? PQerrorMessage(pg) : "connection failed";
    cio__pg_set_error_msg("08001", m);
    return CIO_EPG;
}

/* Drives PQconnectPoll until the connection is up. */
static int handshake(cio_loop *loop, PGconn *pg)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
        if (st == PGRES_POLLING_OK)
            return 0;
        if (st == PGRES_POLLING_FAILED)
            return conn_fail(pg, NULL);
        int fd = PQsocket(pg);
        if (fd < 0)
            return conn_fail(pg, NULL);
        int rc = wait_fd(loop, fd, st == PGRES_POLLING_WRITING);
        if (rc < 0)
            return rc;
        st = PQconnectPoll(pg);
    }
}

int cio_pg_connect(const char *conninfo, const cio_pg_conn_options *opts, cio_pg_conn **out)
{
    if (!conninfo || !out)
        return -EINVAL;
    *out = NULL;
    cio__pg_clear_error();
    cio_loop *loop = cio_get_running_loop();
    if (!loop || !cio_current_task())
        return CIO_ENOTASK;
    cio_pg_conn_options def;
    if (!opts) {
        cio_pg_conn_options_init(&def);
        opts = &def;
    }
    char *perr = NULL;
    PQconninfoOption *ci = PQconninfoParse(conninfo, &perr);
    if (!ci) {
        cio__pg_set_error_msg("08001", perr ? perr : "out of memory");
        PQfreemem(perr);
        return perr ? -EINVAL : -ENOMEM;
    }
    struct params p;
    memset(&p, 0, sizeof p);
    for (PQconninfoOption *o = ci; o->keyword; o++)
        if (o->val)
            params_set(&p, o->keyword, o->val);
    if (opts->statement_timeout > 0) {
        const char *old = params_get(&p, "options");
        long ms = (long)(opts->statement_timeout * 1000 + 0.5);
        if (ms < 1)
            ms = 1;
        size_t cap = (old ? strlen(old) : 0) + 48;
        if (!(p.options = cio__malloc(cap))) {
            PQconninfoFree(ci);
            return -ENOMEM;
        }
        snprintf(p.options, cap, "%s%s-c statement_timeout=%ld", old ? old : "",
                 old ? " " : "", ms);
        params_set(&p, "options", p.options);
    }

    cio_timeout *tm = NULL;
    int rc = 0;
    if (opts->connect_timeout > 0)
        rc = cio_timeout_begin(opts->connect_timeout, &tm);
    PGconn *pg = NULL;
    if (rc >= 0)
        rc = resolve_host(&p);
    if (rc >= 0) {
        pg = PQconnectStartParams(p.keys, p.vals, 0);
        if (!pg)
            rc = -ENOMEM;
        else if (PQstatus(pg) == CONNECTION_BAD)
            rc = conn_fail(pg, NULL);
        else
            rc = handshake(loop, pg);
    }
    if (tm) {
        int trc = cio_timeout_end(tm);
        if (trc < 0 && rc >= 0)
            rc = trc;
    }
    PQconninfoFree(ci);
    cio__free(p.options);
    cio_pg_conn *c = NULL;
    if (rc >= 0 && !(c = cio__calloc(1, sizeof *c)))
        rc = -ENOMEM;
    if (rc < 0) {
        PQfinish(pg);
        return rc;
    }
    c->pg = pg;
    c->loop = loop;
    c->refs = 1;
    c->cache_cap = opts->statement_cache_size;
    c->created = c->last_used = cio_loop_time(loop);
    PQsetNoticeReceiver(pg, notice_receiver, c);
    rc = cio__pg_conn_start(c);
    if (rc < 0) {
        PQfinish(pg);
        cio__free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* ---- the pipeline -------------------------------------------------------- */

/* Wakes a task waiting in cio__pg_conn_drain (it looks again). */
static void wake_drainer(cio_pg_conn *c)
{
    cio_future *f = c->drain_wait;
    c->drain_wait = NULL;
    if (f && !cio_future_done(f))
        cio_future_set_result(f, NULL);
}

/* Fails every request in flight with code (the connection is gone). */
static void fail_all(cio_pg_conn *c, int code)
{
    struct pgreq *r = c->head;
    c->head = c->tail = NULL;
    c->pending = 0;
    while (r) {
        struct pgreq *next = r->next;
        r->next = NULL;
        /* The task that waits must not find a statement of a connection
         * that may be freed before it runs. */
        if (r->stmt) {
            cio__pg_stmt_unref(c, r->stmt);
            r->stmt = NULL;
        }
        if (r->cur)
            cio__pg_cursor_finish(r->cur, r, code);
        if (!r->fut || cio_future_set_error(r->fut, code, "PostgreSQL connection lost") < 0)
            cio__pg_req_free(c, r);
        r = next;
    }
}

static void stop_watching(cio_pg_conn *c)
{
    if (c->fd >= 0) {
        cio_loop_remove_reader(c->loop, c->fd);
        cio_loop_remove_writer(c->loop, c->fd);
    }
    c->writer_on = 0;
}

/* The connection was lost: stop, fail what is in flight. */
void cio__pg_conn_lost(cio_pg_conn *c)
{
    if (c->broken)
        return;
    c->broken = 1;
    cio_log(CIO_LOG_DEBUG, "postgres connection lost: %s", PQerrorMessage(c->pg));
    stop_watching(c);
    fail_all(c, -ECONNRESET);
    cio__pg_notify_end(c);
    wake_drainer(c);
}

/* A request's segment is complete: hand it over. */
static void complete(cio_pg_conn *c)
{
    struct pgreq *r = c->head;
    c->head = r->next;
    if (!c->head)
        c->tail = NULL;
    c->pending--;
    r->next = NULL;
    if (r->cur)
        cio__pg_cursor_finish(r->cur, r, 0);
    if (!r->fut || cio_future_set_result(r->fut, r) < 0)
        cio__pg_req_free(c, r);
}

/* The reader stops: a cursor's buffer is full.  What the server sends
 * meanwhile waits in the socket (and the server, once that is full), so
 * a slow consumer bounds the memory a big result takes. */
static void pause_reading(cio_pg_conn *c)
{
    if (!c->rd_paused) {
        cio_loop_remove_reader(c->loop, c->fd);
        c->rd_paused = 1;
    }
}

/* Takes the results libpq has parsed, request by request. */
static void drain_results(cio_pg_conn *c)
{
    int nulls = 0;
    while (c->head) {
        struct pgreq *h = c->head;
        if (h->stream) {
            /* Single-row mode must be chosen when the query's Execute is
             * libpq's current command and before anything of it is parsed
             * (PQisBusy parses): PQsetSingleRowMode refuses at any other
             * moment (during the Parse, or in an aborted pipeline), so
             * trying it at the top of each round is exact. */
            if (!h->single && PQsetSingleRowMode(c->pg))
                h->single = 1;
            if (h->cur && cio__pg_cursor_full(h->cur)) {
                pause_reading(c);
                return;
            }
        }
        if (PQisBusy(c->pg))
            break;
        PGresult *res = PQgetResult(c->pg);
        if (!res) {
            /* Separates commands; two in a row means libpq has nothing
             * more for now (guards against spinning). */
            if (++nulls > 1)
                break;
            continue;
        }
        nulls = 0;
        struct pgreq *r = c->head;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            complete(c);
            continue;
        }
        if (st == PGRES_SINGLE_TUPLE) {
            r->nres++;
            if (r->cur)
                cio__pg_cursor_push(r->cur, res);
            else
                PQclear(res); /* the cursor was closed early */
            continue;
        }
        if (r->parse && r->nres == 0)
            cio__pg_stmt_parsed(c, r, res);
        r->nres++;
        if (st == PGRES_FATAL_ERROR) {
            if (!r->err)
                r->err = res;
            else
                PQclear(res);
        } else if (st == PGRES_PIPELINE_ABORTED) {
            PQclear(res);
        } else {
            const char *n = PQcmdTuples(res);
            if (n && *n)
                r->affected += strtoll(n, NULL, 10);
            if (r->res)
                PQclear(r->res);
            r->res = res;
        }
    }
}

static void take_notifies(cio_pg_conn *c)
{
    PGnotify *n;
    while ((n = PQnotifies(c->pg)))
        cio__pg_notify_push(c, n);
}

/* The add_reader callback: the socket has data (or EOF). */
static void on_readable(void *arg)
{
    cio_pg_conn *c = arg;
    if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
        drain_results(c);
        cio__pg_conn_lost(c);
        return;
    }
    drain_results(c);
    take_notifies(c);
}

void cio__pg_conn_resume(cio_pg_conn *c)
{
    if (!c->rd_paused || c->broken || c->copy_mode)
        return;
    c->rd_paused = 0;
    if (cio_loop_add_reader(c->loop, c->fd, on_readable, c) < 0) {
        cio__pg_conn_lost(c);
        return;
    }
    /* libpq may hold parsed rows and whole messages already read: the
     * socket would not report them. */
    drain_results(c);
    take_notifies(c);
}

int cio__pg_conn_watch(cio_pg_conn *c, int on)
{
    if (!on) {
        stop_watching(c);
        c->rd_paused = 0;
        return 0;
    }
    int rc = cio_loop_add_reader(c->loop, c->fd, on_readable, c);
    if (rc < 0)
        return rc;
    drain_results(c);
    take_notifies(c);
    return 0;
}

static void do_flush(cio_pg_conn *c)
{
    if (c->broken || c->copy_mode)
        return;
    if (c->cancels) {
        /* A cancel request in flight: flushed once it is delivered
         * (cancel.c; new queries wait at the gate meanwhile, so this holds
         * back only what was queued before); the level-triggered writer
         * would only spin. */
        if (c->writer_on) {
            cio_loop_remove_writer(c->loop, c->fd);
            c->writer_on = 0;
        }
        return;
    }
    int rc = PQflush(c->pg);
    if (rc < 0) {
        cio__pg_conn_lost(c);
    } else if (rc == 1 && !c->writer_on) {
        /* The socket is full: finish when it drains. */
        if (cio_loop_add_writer(c->loop, c->fd, (cio_callback_fn *)do_flush, c) >= 0)
            c->writer_on = 1;
    } else if (rc == 0 && c->writer_on) {
        cio_loop_remove_writer(c->loop, c->fd);
        c->writer_on = 0;
    }
    if (rc != 1)
        wake_drainer(c);
}

static void flush_soon_cb(void *arg)
{
    cio_pg_conn *c = arg;
    c->flush_soon = 0;
    cio_handle_unref(c->flush_handle);
    c->flush_handle = NULL;
    do_flush(c);
}

void cio__pg_conn_schedule_flush(cio_pg_conn *c)
{
    if (c->flush_soon || c->writer_on)
        return;
    if (cio_call_soon(c->loop, flush_soon_cb, c, &c->flush_handle) < 0) {
        do_flush(c); /* no memory for the callback: flush now */
        return;
    }
    c->flush_soon = 1;
}

int cio__pg_conn_drain(cio_pg_conn *c)
{
    for (;;) {
        if (c->closed)
            return CIO_ECLOSED;
        if (c->broken)
            return -ECONNRESET;
        /* While a cancel request is on its way nothing is flushed (see
         * do_flush): its end schedules the flush that wakes us. */
        if (!c->cancels) {
            int rc = PQflush(c->pg);
            if (rc < 0)
                return -EIO;
            if (rc == 0)
                return 0;
            /* The socket is full: do_flush finishes when it drains, and
             * the reader takes the server's answers meanwhile, so the
             * server never blocks writing to us while we wait for it to
             * read. */
            if (!c->writer_on) {
                rc = cio_loop_add_writer(c->loop, c->fd, (cio_callback_fn *)do_flush, c);
                if (rc < 0)
                    return rc;
                c->writer_on = 1;
            }
        }
        cio_future *f;
        int rc = cio_future_new(c->loop, &f);
        if (rc < 0)
            return rc;
        c->drain_wait = f;
        rc = cio_await(f, NULL);
        if (c->drain_wait == f)
            c->drain_wait = NULL;
        cio_future_unref(f);
        if (rc < 0)
            return rc;
    }
}

void cio__pg_conn_push(cio_pg_conn *c, struct pgreq *req)
{
    req->next = NULL;
    if (c->tail)
        c->tail->next = req;
    else
        c->head = req;
    c->tail = req;
    c->pending++;
}

void cio__pg_req_free(cio_pg_conn *c, struct pgreq *req)
{
    if (!req)
        return;
    if (req->stmt && c)
        cio__pg_stmt_unref(c, req->stmt);
    PQclear(req->res);
    PQclear(req->err);
    cio_future_unref(req->fut);
    cio__free(req);
}

int cio__pg_conn_start(cio_pg_conn *c)
{
    c->fd = PQsocket(c->pg);
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg))
        return conn_fail(c->pg, NULL);
    int rc = cio_loop_add_reader(c->loop, c->fd, on_readable, c);
    return rc < 0 ? rc : 0;
}

/* ---- close and accessors --------------------------------------------------- */

void cio__pg_conn_ref(cio_pg_conn *c)
{
    c->refs++;
}

void cio__pg_conn_unref(cio_pg_conn *c)
{
    if (--c->refs > 0)
        return;
    if (c->notifies)
        cio_queue_free(c->notifies);
    cio_event_free(c->gate);
    cio__free(c);
}

/*
 * Tasks may still be inside a call on c (waiting for a query, a
 * notification, the rows of a cursor, a COPY): they hold references, so
 * the struct stays and they wake with CIO_ECLOSED.  libpq's connection is
 * finished at once.
 */
void cio_pg_free(cio_pg_conn *c)
{
    if (!c)
        return;
    if (c->closed) {
        cio_log(CIO_LOG_ERROR, "cio_pg_free: connection %p freed twice", (void *)c);
        return;
    }
    if (c->refs > 1)
        cio_log(CIO_LOG_DEBUG, "cio_pg_free: %d calls, cursors or transactions still use "
                               "the connection; they fail with CIO_ECLOSED", c->refs - 1);
    c->closed = 1;
    if (c->flush_handle) {
        cio_handle_cancel(c->flush_handle);
        cio_handle_unref(c->flush_handle);
        c->flush_handle = NULL;
    }
    /* Whatever the server has not answered yet is dropped.  (Also when
     * broken: a COPY may have watched the socket meanwhile.) */
    stop_watching(c);
    c->broken = 1;
    fail_all(c, CIO_ECLOSED);
    cio__pg_cancels_forget(c);
    cio__pg_notify_end(c);
    cio__pg_stmt_clear(c);
    if (c->io_wait) {
        /* A COPY waits for the socket: stop_watching dropped its
         * registration; wake it. */
        cio_future *w = c->io_wait;
        c->io_wait = NULL;
        if (!cio_future_done(w))
            cio_future_set_error(w, CIO_ECLOSED, "PostgreSQL connection closed");
    }
    cio__pg_gate_update(c); /* queries waiting at the gate fail */
    wake_drainer(c);
    PQfinish(c->pg);
    c->pg = NULL;
    cio__pg_conn_unref(c);
}

int cio_pg_is_closed(const cio_pg_conn *c)
{
    return !c || c->closed || c->broken || PQstatus(c->pg) != CONNECTION_OK;
}

int cio_pg_backend_pid(const cio_pg_conn *c)
{
    return c && c->pg ? PQbackendPID(c->pg) : 0;
}

size_t cio_pg_pending(const cio_pg_conn *c)
{
    return c ? c->pending : 0;
}
