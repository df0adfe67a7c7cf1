/*
 * cache.c - the asynchronous memoizing cache: a chained hash table of
 * entries, an LRU list of the cached ones, single-flight computations
 * running in tasks of their own, and a deferred destructor.
 *
 * The file is divided into: hashing and the table, entry lifetime (the
 * references and the "graveyard" of values waiting to be destroyed), the
 * computation task, the callers (get, lookup, invalidate), and the cache's
 * own lifetime.
 *
 * Entry states:
 *   PENDING  its computation runs; callers park on its waiter list.  It is
 *            on the cache's pending list (and in the table unless it was
 *            invalidated meanwhile).
 *   READY    cached: in the table and on the LRU list (head: most recent).
 *   GONE     out of the table; alive only while references remain.
 * References to an entry: the table, the running computation, and each
 * parked caller.  When the last goes, an entry holding a value goes to the
 * graveyard, whose values are destroyed by a loop callback: so a value
 * handed to a caller lives until that caller next suspends.
 *
 * References to the cache: its owner, each running computation and each
 * parked caller, so that cio_cache_free() never pulls memory from under a
 * task that is about to run.
 */
#include <math.h>

#include "../task/task.h"
#include "cio/cache.h"

enum { E_PENDING, E_READY, E_GONE };

struct waiter {
    struct waiter *prev, *next; /* the entry's waiter list */
    cio_task *task;             /* the parked caller */
    struct entry *entry;        /* what it waits for */
};

struct entry {
    struct entry *hnext;        /* hash chain */
    struct entry *prev, *next;  /* LRU list (READY), pending list
                                   (PENDING), graveyard (next only) */
    struct waiter *waiters;     /* parked callers (PENDING), oldest first */
    struct waiter *wtail;       /* the newest, where callers join */
    cio_cache *cache;           /* owner */
    cio_task *task;             /* the computation (referenced) while it runs */
    cio_cache_fn *fn;           /* the computation and its argument */
    void *arg;
    void *value;                /* the value, when status is 0 */
    int64_t expires;            /* loop-clock ns; INT64_MAX: never */
    uint64_t hash;
    size_t keylen;
    uint32_t refs;              /* see the file comment */
    int status;                 /* the computation's outcome */
    uint8_t state;              /* E_* */
    uint8_t in_table;           /* linked in a hash chain */
    char key[];                 /* copy of the key */
};

struct cio_cache {
    cio_loop *loop;             /* where computations run */
    struct entry **buckets;     /* hash chains; nbuckets is a power of 2 */
    size_t nbuckets;
    size_t nkeys;               /* entries in the table (any state) */
    size_t size;                /* READY entries */
    size_t max_entries;         /* 0: no bound */
    int64_t ttl_ns;             /* 0: no expiry */
    unsigned flags;             /* CIO_CACHE_* */
    cio_cache_free_fn *free_value;
    void *ud;
    struct entry *lru_head, *lru_tail; /* READY entries, most recent first */
    struct entry *pending;      /* PENDING entries (list via prev/next) */
    struct entry *dead;         /* graveyard: values to destroy */
    cio_handle *reaper;         /* preallocated callback that empties it */
    uint32_t refs;              /* owner + computations + parked callers */
    uint8_t closed;             /* cio_cache_free was called */
};

/* ---- hashing and the table --------------------------------------------- */

/* A fast 64-bit hash of a byte string (multiply-xorshift over 8-byte words). */
static uint64_t hash_bytes(const void *key, size_t n)
{
    const unsigned char *p = key;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    /* The 0-7 bytes left, in fixed-size loads (a memcpy of a variable
     * length was a byte loop: 47 of a cache hit's 268 instructions).  The
     * loads cover every byte, so two tails of the same length still give
     * two different words. */
    uint64_t w = 0;
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        w = (uint64_t)a | (uint64_t)b << 32;
    } else if (n) { /* (key may be NULL when keylen is 0) */
        w = (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16;
    }
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static struct entry *table_find(cio_cache *c, uint64_t h, const void *key, size_t n)
{
    for (struct entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->keylen == n && (n == 0 || memcmp(e->key, key, n) == 0))
            return e;
    return NULL;
}

/* Doubles the bucket array; on no memory the chains just grow longer. */
static void table_grow(cio_cache *c)
{
    size_t nb = c->nbuckets * 2;
    struct entry **b = cio__calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        struct entry *e = c->buckets[i];
        while (e) {
            struct entry *next = e->hnext;
            e->hnext = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    cio__free(c->buckets);
    c->buckets = b;
    c->nbuckets = nb;
}

static void table_insert(cio_cache *c, struct entry *e)
{
    if (c->nkeys >= c->nbuckets)
        table_grow(c);
    struct entry **b = &c->buckets[e->hash & (c->nbuckets - 1)];
    e->hnext = *b;
    *b = e;
    e->in_table = 1;
    c->nkeys++;
}

static void table_unlink(cio_cache *c, struct entry *e)
{
    struct entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->hnext = NULL;
    e->in_table = 0;
    c->nkeys--;
}

/* Doubly linked lists through prev/next: the LRU list and the pending list. */
static void list_unlink(struct entry **head, struct entry **tail, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        *head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else if (tail)
        *tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push_front(struct entry **head, struct entry **tail, struct entry *e)
{
    e->prev = NULL;
    e->next = *head;
    if (*head)
        (*head)->prev = e;
    else if (tail)
        *tail = e;
    *head = e;
}

/* ---- entry lifetime ---------------------------------------------------- */

static void destroy_entry(cio_cache *c, struct entry *e)
{
    if (e->status == 0 && c->free_value)
        c->free_value(e->value, c->ud);
    cio__free(e);
}

/* The reaper: destroys the graveyard's values, from the loop. */
static void reap(void *arg)
{
    cio_cache *c = arg;
    while (c->dead) {
        struct entry *e = c->dead;
        c->dead = e->next;
        destroy_entry(c, e);
    }
}

static void entry_unref(struct entry *e)
{
    if (--e->refs)
        return;
    cio_cache *c = e->cache;
    if (e->status != 0 || !c->free_value || c->closed) {
        destroy_entry(c, e); /* no value to keep alive, or no loop to wait */
        return;
    }
    e->next = c->dead;
    c->dead = e;
    cio__handle_schedule(c->reaper);
}

/* Takes e out of the table (and the LRU list): it becomes GONE. */
static void entry_remove(cio_cache *c, struct entry *e)
{
    if (e->state == E_READY) {
        list_unlink(&c->lru_head, &c->lru_tail, e);
        c->size--;
    }
    if (e->in_table)
        table_unlink(c, e);
    if (e->state != E_PENDING)
        e->state = E_GONE;
    entry_unref(e); /* the table's reference */
}

static void cache_unref(cio_cache *c)
{
    if (--c->refs)
        return;
    reap(c);
    cio__free(c->buckets);
    cio__free(c);
}

/* ---- the computation --------------------------------------------------- */

/* The computation of e ended with status (value valid if 0): wake the
 * callers, store or forget the outcome, drop the computation's refs. */
static void computation_finished(struct entry *e, int status, void *value)
{
    cio_cache *c = e->cache;
    if (status == 0 && c->closed) {
        if (c->free_value)
            c->free_value(value, c->ud);
        status = CIO_ECLOSED;
    }
    e->status = status;
    e->value = status == 0 ? value : NULL;
    cio_task *t = e->task;
    e->task = NULL;
    cio_task_unref(t);
    while (e->waiters) {
        struct waiter *w = e->waiters;
        e->waiters = w->next;
        w->prev = w->next = NULL;
        w->entry = NULL; /* marks it as woken normally */
        cio__wake(w->task, 0);
    }
    e->wtail = NULL;
    list_unlink(&c->pending, NULL, e);
    int keep = status == 0 || ((c->flags & CIO_CACHE_ERRORS) && status != -ECANCELED &&
                               status != CIO_ECLOSED);
    if (!e->in_table) {
        e->state = E_GONE; /* invalidated while it ran */
    } else if (!keep) {
        e->state = E_GONE;
        table_unlink(c, e);
        entry_unref(e);
    } else {
        e->state = E_READY;
        e->expires = c->ttl_ns ? cio__loop_now(c->loop) + c->ttl_ns : INT64_MAX;
        list_push_front(&c->lru_head, &c->lru_tail, e);
        c->size++;
        while (c->max_entries && c->size > c->max_entries)
            entry_remove(c, c->lru_tail);
    }
    entry_unref(e); /* the computation's reference */
    cache_unref(c);
}

/* Done callback of the computation task: matters only when the body never
 * ran (cancelled before it started, or no stack); the body removes it. */
static void computation_task_done(cio_future *fut, void *arg)
{
    struct entry *e = arg;
    if (e->task && &e->task->fut == fut)
        computation_finished(e, fut->status < 0 ? fut->status : -ECANCELED, NULL);
}

static int computation_body(void *arg, void **result)
{
    (void)result;
    struct entry *e = arg;
    void *value = NULL;
    int rc = e->fn(e->arg, e->key, e->keylen, &value);
    if (rc > 0)
        rc = 0;
    cio__future_remove_cb(&e->task->fut, computation_task_done, e);
    computation_finished(e, rc, value);
    /* The callers get the outcome; the task only ends cancelled or not, so
     * the loop never reports its error as unretrieved. */
    return rc == -ECANCELED ? -ECANCELED : 0;
}

/* ---- the callers ------------------------------------------------------- */

/* A parked caller is cancelled or times out: it just stops waiting. */
static void waiter_interrupt(cio_task *t, int code)
{
    struct waiter *w = t->wait_obj;
    struct entry *e = w->entry;
    if (w->prev)
        w->prev->next = w->next;
    else
        e->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        e->wtail = w->prev;
    w->prev = w->next = NULL;
    cio__wake(t, code);
}

static int check_key(cio_cache *c, const void *key, size_t keylen, const char *fn)
{
    if (!c)
        return cio__bad_arg(NULL, fn, "cache is NULL");
    if (!key && keylen)
        return cio__bad_arg(c->loop, fn, "key is NULL");
    return 0;
}

/* The READY entry for key, dropping it if expired; NULL if none. */
static struct entry *find_fresh(cio_cache *c, uint64_t h, const void *key, size_t keylen,
                                struct entry **pending)
{
    struct entry *e = table_find(c, h, key, keylen);
    if (!e)
        return NULL;
    if (e->state == E_PENDING) {
        if (pending)
            *pending = e;
        return NULL;
    }
    if (e->expires != INT64_MAX && cio__loop_now(c->loop) >= e->expires) {
        entry_remove(c, e);
        return NULL;
    }
    /* The order matters only to eviction: an unbounded cache skips it. */
    if (c->max_entries && c->lru_head != e) {
        list_unlink(&c->lru_head, &c->lru_tail, e);
        list_push_front(&c->lru_head, &c->lru_tail, e);
    }
    return e;
}

/* A new PENDING entry for key with its computation task started. */
static int start_computation(cio_cache *c, uint64_t h, const void *key, size_t keylen,
                             cio_cache_fn *fn, void *arg, struct entry **out)
{
    if (keylen > SIZE_MAX - sizeof(struct entry))
        return -ENOMEM;
    struct entry *e = cio__malloc(sizeof *e + keylen);
    if (!e)
        return -ENOMEM;
    memset(e, 0, sizeof *e);
    if (keylen)
        memcpy(e->key, key, keylen);
    e->keylen = keylen;
    e->hash = h;
    e->cache = c;
    e->fn = fn;
    e->arg = arg;
    e->state = E_PENDING;
    e->expires = INT64_MAX;
    int rc = cio_task_new(c->loop, computation_body, e, &(cio_task_options){.name = "cio_cache"}, &e->task);
    if (rc < 0) {
        cio__free(e);
        return rc;
    }
    /* A new task's inline callback slot is free: this cannot fail. */
    cio__future_add_cb(&e->task->fut, computation_task_done, e);
    e->refs = 2; /* the table and the computation */
    c->refs++;
    table_insert(c, e);
    list_push_front(&c->pending, NULL, e);
    *out = e;
    return 0;
}

int cio_cache_get(cio_cache *c, const void *key, size_t keylen, cio_cache_fn *fn, void *arg,
                  void **value)
{
    if (value)
        *value = NULL;
    int rc = check_key(c, key, keylen, __func__);
    if (rc)
        return rc;
    if (!fn || !value)
        return cio__bad_arg(c->loop, __func__, fn ? "value is NULL" : "fn is NULL");
    if (c->closed)
        return CIO_ECLOSED;
    uint64_t h = hash_bytes(key, keylen);
    struct entry *e = NULL;
    struct entry *hit = find_fresh(c, h, key, keylen, &e);
    if (CIO_LIKELY(hit != NULL)) {
        *value = hit->value;
        return hit->status;
    }
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (t->fut.loop != c->loop)
        return cio__bad_arg(c->loop, __func__, "called from a task of another loop");
    if ((rc = cio__checkpoint(t)) != 0)
        return rc;
    if (e && e->task == t)
        return -EDEADLK;
    if (!e && (rc = start_computation(c, h, key, keylen, fn, arg, &e)) < 0)
        return rc;
    /* Callers are woken in the order they came, as asyncio does. */
    struct waiter w = {.prev = e->wtail, .next = NULL, .task = t, .entry = e};
    if (e->wtail)
        e->wtail->next = &w;
    else
        e->waiters = &w;
    e->wtail = &w;
    e->refs++;
    c->refs++;
    rc = cio__park(t, waiter_interrupt, &w);
    if (rc == 0) {
        rc = e->status;
        if (rc == 0)
            *value = e->value;
    }
    entry_unref(e);
    cache_unref(c);
    return rc;
}

int cio_cache_get_str(cio_cache *c, const char *key, cio_cache_fn *fn, void *arg, void **value)
{
    if (!key) {
        if (value)
            *value = NULL;
        return cio__bad_arg(c ? c->loop : NULL, __func__, "key is NULL");
    }
    return cio_cache_get(c, key, strlen(key), fn, arg, value);
}

int cio_cache_lookup(cio_cache *c, const void *key, size_t keylen, void **value)
{
    if (value)
        *value = NULL;
    int rc = check_key(c, key, keylen, __func__);
    if (rc)
        return rc;
    if (!value)
        return cio__bad_arg(c->loop, __func__, "value is NULL");
    struct entry *e = find_fresh(c, hash_bytes(key, keylen), key, keylen, NULL);
    if (!e)
        return -ENOENT;
    *value = e->value;
    return e->status;
}

int cio_cache_invalidate(cio_cache *c, const void *key, size_t keylen)
{
    int rc = check_key(c, key, keylen, __func__);
    if (rc)
        return rc;
    struct entry *e = table_find(c, hash_bytes(key, keylen), key, keylen);
    if (!e)
        return 0;
    entry_remove(c, e);
    return 1;
}

int cio_cache_clear(cio_cache *c)
{
    if (!c)
        return cio__bad_arg(NULL, __func__, "cache is NULL");
    int n = 0;
    for (size_t i = 0; i < c->nbuckets; i++)
        while (c->buckets[i]) {
            entry_remove(c, c->buckets[i]);
            n++;
        }
    return n;
}

size_t cio_cache_size(const cio_cache *c) { return c ? c->size : 0; }

/* ---- the cache's lifetime ---------------------------------------------- */

int cio_cache_new(cio_loop *loop, size_t max_entries, double ttl, unsigned flags,
                  cio_cache_free_fn *free_value, void *ud, cio_cache **out)
{
    if (!out)
        return cio__bad_arg(loop, __func__, "out is NULL");
    *out = NULL;
    if (isnan(ttl) || ttl < 0)
        return cio__bad_arg(loop, __func__, "ttl is negative or NaN");
    if (flags & ~CIO_CACHE_ERRORS)
        return cio__bad_arg(loop, __func__, "unknown flags");
    if (!loop)
        loop = cio__running_loop;
    if (!loop)
        return CIO_ENOLOOP;
    if (loop->closed)
        return CIO_ECLOSED;
    cio_cache *c = cio__calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->nbuckets = 16;
    c->buckets = cio__calloc(c->nbuckets, sizeof *c->buckets);
    c->reaper = c->buckets ? cio__handle_new(loop) : NULL;
    if (!c->reaper) {
        cio__free(c->buckets);
        cio__free(c);
        return -ENOMEM;
    }
    c->reaper->cb = reap;
    c->reaper->arg = c;
    c->reaper->refs = 1; /* ours; the ready queue adds one while queued */
    c->loop = loop;
    c->max_entries = max_entries;
    c->ttl_ns = ttl > 0 && !isinf(ttl) ? cio__sec_to_ns(ttl) : 0;
    if (ttl > 0 && !c->ttl_ns)
        c->ttl_ns = 1; /* below a nanosecond: expire at once, not never */
    c->flags = flags;
    c->free_value = free_value;
    c->ud = ud;
    c->refs = 1;
    *out = c;
    return 0;
}

void cio_cache_free(cio_cache *c)
{
    if (!c || c->closed)
        return;
    c->closed = 1;
    /* Callers stop waiting; computations are asked to stop.  Both hold
     * references, so c outlives this call until they have run. */
    for (struct entry *e = c->pending; e; e = e->next) {
        while (e->waiters) {
            struct waiter *w = e->waiters;
            e->waiters = w->next;
            w->prev = w->next = NULL;
            cio__wake(w->task, CIO_ECLOSED);
        }
        e->wtail = NULL;
        if (e->task)
            cio_task_cancel(e->task, NULL);
    }
    cio_cache_clear(c);
    reap(c);
    cio_handle_cancel(c->reaper);
    cio__handle_unref(c->reaper);
    c->reaper = NULL;
    cache_unref(c);
}
