/*
 * threads.c - the bridges between cio_cfuture (any thread) and loops:
 * cio_wrap_future (a loop's future that follows a cio_cfuture),
 * cio_cfuture_await, and cio_run_coroutine_threadsafe (a task started
 * from another thread, its outcome in a cio_cfuture).
 *
 * Divided into: the link (a loop's inbox for other threads), wrap_future,
 * run_coroutine_threadsafe.
 *
 * The hard part is lifetime: a cio_cfuture may complete on any thread at
 * any time, also after its loop closed and was freed.  So other threads
 * never hold a loop pointer; they hold the loop's link, a small
 * reference-counted object (a loop extension) whose loop pointer is
 * cleared under its lock when the loop closes.  Posting to a closed link
 * fails, and the poster drops what it carried itself.  A bridge record
 * has two sides, each holding one reference: the cf side (its done
 * callback, then the message that callback posted) and the loop side
 * (what it holds on the loop: a future or a task).  Each side ends
 * exactly once - the cf side when its message ran or was dropped, or its
 * callback was taken back; the loop side when its future or task is done,
 * or the loop closes - and the last one frees the record, on whichever
 * thread that is, touching nothing of the loop.
 */
#define _GNU_SOURCE
#include <time.h>

#include "../task/task.h"
#include "cfuture.h"

/* ---- the link: a loop's inbox for other threads ---------------------------- */

/* A message to a loop: run() on its thread, or drop() if it closes first
 * (on the closing thread).  Embedded in a bridge record. */
struct link_msg {
    struct link_msg *next;            /* next in the inbox */
    void (*run)(struct link_msg *m);
    void (*drop)(struct link_msg *m);
};

/* Something the loop side holds (loop thread only): on_close() detaches
 * (and unlinks) it when the loop closes with it still there. */
struct link_entry {
    struct link_entry *prev, *next;   /* the link's live list */
    void (*on_close)(struct link_entry *e);
};

struct link {
    struct cio__loop_ext ext;         /* first: the loop's extension link */
    pthread_mutex_t lock;             /* guards loop, inbox, kick_pending */
    cio_loop *loop;                   /* NULL once the loop closed */
    int refs;                         /* atomic: the extension's + records' */
    struct link_msg *head;            /* inbox (FIFO) */
    struct link_msg **tailp;
    int kick_pending;                 /* a delivery is in the loop's queue */
    struct link_entry *live;          /* loop-side entries (loop thread) */
};

static const char link_key; /* identifies the extension */

static void link_release(struct link *l)
{
    if (__atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL))
        return;
    pthread_mutex_destroy(&l->lock);
    cio__free(l);
}

static void link_retain(struct link *l) { __atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED); }

/* On the loop: runs every message posted so far. */
static void link_deliver(void *arg)
{
    struct link *l = arg;
    pthread_mutex_lock(&l->lock);
    struct link_msg *m = l->head;
    l->head = NULL;
    l->tailp = &l->head;
    l->kick_pending = 0;
    pthread_mutex_unlock(&l->lock);
    while (m) {
        struct link_msg *next = m->next;
        m->run(m); /* may free m */
        m = next;
    }
}

/*
 * Any thread: queues m for the loop, kicking it once per batch.  0, or
 * CIO_ECLOSED if the loop closed (m is then the caller's).  The kick is
 * made under the lock, so the loop cannot close (and be freed) in between:
 * its close takes this lock first.
 */
static int link_post(struct link *l, struct link_msg *m)
{
    pthread_mutex_lock(&l->lock);
    if (!l->loop) {
        pthread_mutex_unlock(&l->lock);
        return CIO_ECLOSED;
    }
    m->next = NULL;
    *l->tailp = m;
    l->tailp = &m->next;
    if (!l->kick_pending) {
        /* Only the handle's allocation can fail: retry a while, as the
         * executors do; a message left queued still runs at the next
         * kick, or is dropped at close. */
        for (int i = 0; i < 1000; i++) {
            int rc = cio_call_soon_threadsafe(l->loop, link_deliver, l);
            if (rc == 0) {
                l->kick_pending = 1;
                break;
            }
            if (rc != -ENOMEM)
                break;
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
        if (!l->kick_pending)
            cio_log(CIO_LOG_ERROR, "threads: could not wake a loop (out of memory)");
    }
    pthread_mutex_unlock(&l->lock);
    return 0;
}

static void entry_link(struct link *l, struct link_entry *e)
{
    e->prev = NULL;
    e->next = l->live;
    if (l->live)
        l->live->prev = e;
    l->live = e;
}

static void entry_unlink(struct link *l, struct link_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->live = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
}

/* The loop closes: cut the link, detach what the loop side holds, drop
 * what was posted and not yet delivered. */
static void link_close(cio_loop *loop, struct cio__loop_ext *ext)
{
    (void)loop;
    struct link *l = (struct link *)ext;
    pthread_mutex_lock(&l->lock);
    l->loop = NULL;
    struct link_msg *m = l->head;
    l->head = NULL;
    l->tailp = &l->head;
    pthread_mutex_unlock(&l->lock);
    while (l->live)
        l->live->on_close(l->live); /* unlinks it */
    while (m) {
        struct link_msg *next = m->next;
        m->drop(m);
        m = next;
    }
    link_release(l);
}

/* The loop's link, made on first use; loop thread only.  NULL: -ENOMEM. */
static struct link *link_get(cio_loop *loop)
{
    struct cio__loop_ext *e = cio__loop_ext_find(loop, &link_key);
    if (e)
        return (struct link *)e;
    struct link *l = cio__calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->ext.key = &link_key;
    l->ext.rank = CIO__EXT_EXEC;
    l->ext.on_close = link_close;
    pthread_mutex_init(&l->lock, NULL);
    l->loop = loop;
    l->refs = 1; /* the extension's, dropped at close */
    l->tailp = &l->head;
    cio__loop_ext_add(loop, &l->ext);
    return l;
}

/* Completes fut (pending, of the running loop) with cf's outcome. */
static void future_from_cfuture(cio_future *fut, cio_cfuture *cf)
{
    void *result = NULL;
    int status = cio_cfuture_result(cf, 0, &result);
    const char *msg = cio_cfuture_error_message(cf);
    if (status == 0)
        cio_future_set_result(fut, result);
    else if (status == -ECANCELED)
        cio_future_cancel(fut, msg);
    else if (cio_future_set_error(fut, status, msg) == -ENOMEM)
        cio_future_set_error(fut, status, NULL);
}

/* ---- wrap_future ----------------------------------------------------------- */

struct wrap {
    struct link_entry entry;   /* loop side, while live */
    struct link_msg msg;       /* cf side: posted when cf completes */
    struct cio__cfuture_cb cb; /* cf side: cf's done callback */
    struct link *link;         /* reference */
    cio_loop *loop;            /* loop thread only, while live */
    cio_cfuture *cf;           /* reference, until the record is freed */
    cio_future *fut;           /* reference, while live */
    int live;                  /* loop side attached (loop thread) */
    int refs;                  /* atomic: one per side */
};

static void wrap_unref(struct wrap *w)
{
    if (__atomic_sub_fetch(&w->refs, 1, __ATOMIC_ACQ_REL))
        return;
    cio_cfuture_unref(w->cf);
    link_release(w->link);
    cio__free(w);
}

/* Any thread: cf completed; tell the loop (the message carries the cf
 * side's reference), or end the cf side here if the loop is gone. */
static void wrap_cf_done(cio_cfuture *cf, void *arg)
{
    (void)cf;
    struct wrap *w = arg;
    if (link_post(w->link, &w->msg) < 0)
        wrap_unref(w);
}

/* Loop thread: the loop side ends (the future is done, or the loop
 * closes).  Takes cf's callback back if it has not run. */
static void wrap_detach(struct wrap *w)
{
    w->live = 0;
    entry_unlink(w->link, &w->entry);
    cio_loop_work_end(w->loop);
    cio_future_unref(w->fut);
    w->fut = NULL;
    if (cio__cfuture_remove_cb(w->cf, &w->cb))
        wrap_unref(w); /* the cf side ends too: its callback never runs */
    wrap_unref(w);
}

static void wrap_msg_run(struct link_msg *m)
{
    struct wrap *w = CIO_CONTAINER_OF(m, struct wrap, msg);
    if (w->live && !cio_future_done(w->fut))
        future_from_cfuture(w->fut, w->cf); /* wrap_fut_done follows */
    wrap_unref(w);
}

static void wrap_msg_drop(struct link_msg *m)
{
    wrap_unref(CIO_CONTAINER_OF(m, struct wrap, msg));
}

/* Loop thread: the future is done, by cf or by someone else (a task
 * awaiting it was cancelled): chain a cancellation on to cf. */
static void wrap_fut_done(cio_future *fut, void *arg)
{
    struct wrap *w = arg;
    if (!w->live)
        return;
    if (cio_future_cancelled(fut))
        cio_cfuture_cancel(w->cf); /* runs wrap_cf_done now: it posts */
    wrap_detach(w);
}

static void wrap_entry_close(struct link_entry *e)
{
    struct wrap *w = CIO_CONTAINER_OF(e, struct wrap, entry);
    cio_future_remove_done_callback(w->fut, wrap_fut_done, w);
    wrap_detach(w);
}

int cio_wrap_future(cio_cfuture *cf, cio_future **out)
{
    if (!out)
        return cio__bad_arg(NULL, __func__, "out is NULL");
    *out = NULL;
    if (!cf)
        return cio__bad_arg(NULL, __func__, "cf is NULL");
    cio_loop *loop = cio_get_running_loop();
    if (!loop)
        return CIO_ENOLOOP;
    struct link *l = link_get(loop);
    if (!l)
        return -ENOMEM;
    struct wrap *w = cio__calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    cio_future *fut;
    int rc = cio_future_new(loop, &fut);
    if (rc < 0) {
        cio__free(w);
        return rc;
    }
    if ((rc = cio_future_add_done_callback(fut, wrap_fut_done, w)) < 0) {
        cio_future_unref(fut);
        cio__free(w);
        return rc;
    }
    w->entry.on_close = wrap_entry_close;
    w->msg.run = wrap_msg_run;
    w->msg.drop = wrap_msg_drop;
    w->cb.fn = wrap_cf_done;
    w->cb.arg = w;
    w->link = l;
    link_retain(l);
    w->loop = loop;
    w->cf = cf;
    cio_cfuture_ref(cf);
    w->fut = fut; /* the record's reference ... */
    cio_future_ref(fut); /* ... and the caller's */
    w->live = 1;
    w->refs = 2;
    entry_link(l, &w->entry);
    cio_loop_work_begin(loop); /* cf's completion will call back */
    cio__cfuture_add_cb(cf, &w->cb); /* done already: posts at once */
    *out = fut;
    return 0;
}

int cio_cfuture_await(cio_cfuture *cf, void **result)
{
    if (result)
        *result = NULL;
    if (!cio_current_task())
        return CIO_ENOTASK;
    if (!cf)
        return cio__bad_arg(NULL, __func__, "cf is NULL");
    cio_future *fut;
    int rc = cio_wrap_future(cf, &fut);
    if (rc < 0)
        return rc;
    rc = cio_await(fut, result);
    cio_future_unref(fut);
    return rc;
}

/* ---- run_coroutine_threadsafe ---------------------------------------------- */

struct run {
    struct cio__ts_call call;  /* the start, through the thread-safe queue */
    struct link_entry entry;   /* loop side, while the task is pending */
    struct link_msg msg;       /* cf side: posted when cf is done */
    struct cio__cfuture_cb cb; /* cf side: cf's done callback */
    cio_loop *loop;            /* the target; loop thread only after start */
    cio_coro_fn *fn;           /* the coroutine and its argument */
    void *arg;
    cio_cfuture *cf;           /* reference, until the record is freed */
    struct link *link;         /* reference once started, else NULL */
    cio_task *task;            /* reference, while live */
    int live;                  /* loop side attached (loop thread) */
    int refs;                  /* atomic: the start (then loop side), cf side */
};

static void run_unref(struct run *r)
{
    if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL))
        return;
    cio_cfuture_unref(r->cf);
    if (r->link)
        link_release(r->link);
    cio__free(r);
}

static void complete_cf(cio_cfuture *cf, int status, void *result, const char *msg)
{
    cio__cfuture_complete(cf, status, result, msg ? cio__strdup(msg) : NULL);
}

/* Loop thread: the loop side ends (task done, or loop closing). */
static void run_detach(struct run *r)
{
    r->live = 0;
    entry_unlink(r->link, &r->entry);
    cio_task_unref(r->task);
    r->task = NULL;
    if (cio__cfuture_remove_cb(r->cf, &r->cb))
        run_unref(r);
    run_unref(r);
}

/* The task's outcome becomes cf's (unless cf was cancelled first). */
static void run_copy_outcome(struct run *r)
{
    void *result = NULL;
    int status = cio_task_result(r->task, &result); /* marks it retrieved */
    complete_cf(r->cf, status, result, cio_task_error_message(r->task));
}

static void run_task_done(cio_future *fut, void *arg)
{
    (void)fut;
    struct run *r = arg;
    if (!r->live)
        return;
    run_copy_outcome(r);
    run_detach(r);
}

static void run_entry_close(struct link_entry *e)
{
    struct run *r = CIO_CONTAINER_OF(e, struct run, entry);
    cio_future_remove_done_callback(cio_task_future(r->task), run_task_done, r);
    if (cio_task_done(r->task))
        run_copy_outcome(r); /* its done callback was dropped unrun */
    else
        complete_cf(r->cf, CIO_ECLOSED, NULL, "loop closed with the task pending");
    run_detach(r);
}

static void run_cf_done(cio_cfuture *cf, void *arg)
{
    (void)cf;
    struct run *r = arg;
    if (link_post(r->link, &r->msg) < 0)
        run_unref(r);
}

/* Loop thread: cf is done; if it was cancelled, so is the task. */
static void run_msg_run(struct link_msg *m)
{
    struct run *r = CIO_CONTAINER_OF(m, struct run, msg);
    if (r->live && cio_cfuture_cancelled(r->cf))
        cio_task_cancel(r->task, "cio_cfuture cancelled");
    run_unref(r);
}

static void run_msg_drop(struct link_msg *m) { run_unref(CIO_CONTAINER_OF(m, struct run, msg)); }

/* Loop thread: the call arrived; start the task. */
static void run_start(struct cio__ts_call *c)
{
    struct run *r = CIO_CONTAINER_OF(c, struct run, call);
    if (cio_cfuture_done(r->cf)) { /* cancelled before it started */
        run_unref(r);
        return;
    }
    struct link *l = link_get(r->loop);
    if (!l) {
        complete_cf(r->cf, -ENOMEM, NULL, NULL);
        run_unref(r);
        return;
    }
    cio_task *t;
    int rc = cio_task_new(r->loop, r->fn, r->arg, &(cio_task_options){.file = CIO_SOURCE_FILE, .line = __LINE__}, &t);
    if (rc < 0) {
        complete_cf(r->cf, rc, NULL, NULL);
        run_unref(r);
        return;
    }
    if ((rc = cio_future_add_done_callback(cio_task_future(t), run_task_done, r)) < 0) {
        cio_task_cancel(t, NULL); /* not started: it will not run */
        cio_task_unref(t);
        complete_cf(r->cf, rc, NULL, NULL);
        run_unref(r);
        return;
    }
    r->task = t;
    r->link = l;
    link_retain(l);
    r->live = 1;
    entry_link(l, &r->entry);
    __atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED); /* the cf side */
    cio__cfuture_add_cb(r->cf, &r->cb); /* cancelled meanwhile: posts now */
}

/* The loop closed before the call ran (closing thread). */
static void run_start_drop(struct cio__ts_call *c)
{
    struct run *r = CIO_CONTAINER_OF(c, struct run, call);
    complete_cf(r->cf, CIO_ECLOSED, NULL, "loop closed before the task started");
    run_unref(r);
}

int cio_run_coroutine_threadsafe(cio_loop *loop, cio_coro_fn *fn, void *arg, cio_cfuture **out)
{
    if (!out)
        return cio__bad_arg(loop, __func__, "out is NULL");
    *out = NULL;
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    if (!fn)
        return cio__bad_arg(loop, __func__, "fn is NULL");
    cio_cfuture *cf;
    int rc = cio_cfuture_new(&cf);
    if (rc < 0)
        return rc;
    struct run *r = cio__calloc(1, sizeof *r);
    if (!r) {
        cio_cfuture_unref(cf);
        return -ENOMEM;
    }
    r->call.run = run_start;
    r->call.drop = run_start_drop;
    r->entry.on_close = run_entry_close;
    r->msg.run = run_msg_run;
    r->msg.drop = run_msg_drop;
    r->cb.fn = run_cf_done;
    r->cb.arg = r;
    r->loop = loop;
    r->fn = fn;
    r->arg = arg;
    r->cf = cf; /* the record's reference; the caller gets another */
    cio_cfuture_ref(cf);
    r->refs = 1;
    if ((rc = cio__call_soon_threadsafe_call(loop, &r->call)) < 0) {
        cio_cfuture_unref(cf);
        cio_cfuture_unref(cf);
        cio__free(r);
        return rc;
    }
    *out = cf;
    return 0;
}
