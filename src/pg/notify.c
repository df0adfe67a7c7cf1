/*
 * notify.c - LISTEN/NOTIFY: the reader (conn.c) hands each notification
 * to a queue of the connection, and cio_pg_notify_aiter() iterates that
 * queue.  The queue is made at the first notification or the first call,
 * whichever comes first, so nothing received before is lost; it is shut
 * down when the connection is lost or closed (the iteration ends) and
 * freed, with what it still holds, with the connection's struct (its last
 * reference: a consumer waiting in next holds one).
 */
#include "pgint.h"

static void discard(void *item, void *ud)
{
    (void)ud;
    cio_pg_notify_free(item);
}

static int ensure_queue(cio_pg_conn *c)
{
    if (c->notifies)
        return 0;
    int rc = cio_queue_new(c->loop, 0, &c->notifies);
    if (rc < 0)
        return rc;
    cio_queue_set_discard(c->notifies, discard, NULL);
    if (c->broken)
        cio_queue_shutdown(c->notifies, 0);
    return 0;
}

void cio__pg_notify_push(cio_pg_conn *c, PGnotify *n)
{
    c->listened = 1;
    size_t lc = strlen(n->relname) + 1, lp = strlen(n->extra ? n->extra : "") + 1;
    cio_pg_notify *m = ensure_queue(c) < 0 ? NULL : cio__malloc(sizeof *m + lc + lp);
    if (m) {
        char *p = (char *)(m + 1);
        memcpy(p, n->relname, lc);
        memcpy(p + lc, n->extra ? n->extra : "", lp);
        m->channel = p;
        m->payload = p + lc;
        m->pid = n->be_pid;
        if (cio_queue_put_nowait(c->notifies, m) < 0)
            cio__free(m);
    } else {
        cio_log(CIO_LOG_WARNING, "postgres: notification on %s dropped (out of memory)",
                n->relname);
    }
    PQfreemem(n);
}

void cio__pg_notify_end(cio_pg_conn *c)
{
    if (!c->notifies)
        return;
    /* Wakes a consumer waiting in next (it ends); the queue itself, with
     * what it still holds, goes with the struct's last reference. */
    cio_queue_shutdown(c->notifies, 0);
}

/* next makes the queue on first use, so running out of memory there is
 * next's error, not a lost one. */
static int notify_next(void *self, void **value)
{
    cio_pg_conn *c = self;
    int rc = ensure_queue(c);
    if (rc < 0)
        return rc;
    /* The consumer may wait here while another task frees the connection:
     * its reference keeps the queue it sleeps on. */
    cio__pg_conn_ref(c);
    rc = cio_queue_get(c->notifies, value);
    cio__pg_conn_unref(c);
    return rc == CIO_ESHUTDOWN ? CIO_ITER_END : rc;
}

static const cio_aiter_ops notify_ops = {.next = notify_next, .aclose = NULL};

cio_aiter *cio_pg_notify_aiter(cio_pg_conn *c)
{
    if (!c)
        return NULL;
    c->listened = 1;
    (void)ensure_queue(c); /* keeps what arrives from now on; next retries */
    cio_aiter_init(&c->notify_iter, &notify_ops, c);
    return &c->notify_iter;
}

void cio_pg_notify_free(cio_pg_notify *n)
{
    cio__free(n);
}
