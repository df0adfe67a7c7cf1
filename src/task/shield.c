/*
 * shield.c - cio_shield, asyncio.shield: an outer future that mirrors an
 * inner one, so that cancelling the outer (or a task awaiting it) leaves
 * the inner running.
 *
 * A link joins the two with a done callback on each side (run through
 * call_soon, as asyncio's).  Whichever side completes first cuts the link:
 * the inner completing copies its outcome into the outer; the outer
 * completing first (cancelled) just detaches, and the inner runs on.  The
 * link holds a reference on both futures while it exists.  It is itself
 * counted, one per registered callback, because both callbacks may already
 * be scheduled when the first of them runs.
 *
 * Divided as: the link, the two callbacks, cio_shield.
 */
#include "combine.h"

struct shield_link {
    cio_future *inner;          /* the shielded future (our reference) */
    cio_future *outer;          /* what the caller got (our reference) */
    int refs;                   /* callbacks still registered or scheduled */
    int cut;                    /* one side completed: the other is moot */
};

static void link_unref(struct shield_link *l)
{
    if (--l->refs)
        return;
    cio_future_unref(l->inner);
    cio_future_unref(l->outer);
    cio__free(l);
}

static void outer_done(cio_future *f, void *arg);

static void inner_done(cio_future *f, void *arg)
{
    struct shield_link *l = arg;
    (void)f;
    if (!l->cut) {
        l->cut = 1;
        if (cio__future_remove_cb(l->outer, outer_done, l))
            l->refs--; /* not the last: this callback holds one */
        cio_future *in = l->inner, *out = l->outer;
        if (out->state != CIO__F_DONE) {
            char *msg = in->message ? cio__strdup(in->message) : NULL;
            in->flags |= CIO__FF_RETRIEVED;
            cio__future_complete(out, in->status, in->status == 0 ? in->result : NULL, msg);
        }
    }
    link_unref(l);
}

static void outer_done(cio_future *f, void *arg)
{
    struct shield_link *l = arg;
    (void)f;
    if (!l->cut) {
        l->cut = 1;
        if (cio__future_remove_cb(l->inner, inner_done, l))
            l->refs--;
    }
    link_unref(l);
}

int cio_shield(cio_future *inner, cio_future **outer)
{
    if (!outer)
        return cio__bad_arg(inner ? inner->loop : NULL, __func__, "outer is NULL");
    *outer = NULL;
    if (!inner)
        return cio__bad_arg(NULL, __func__, "inner is NULL");
    if (inner->state == CIO__F_DONE) {
        cio_future_ref(inner);
        *outer = inner;
        return 0;
    }
    struct shield_link *l = cio__malloc(sizeof *l);
    if (!l)
        return -ENOMEM;
    cio_future *out = NULL;
    int rc = cio_future_new(inner->loop, &out);
    if (rc < 0) {
        cio__free(l);
        return rc;
    }
    rc = cio__future_add_cb(inner, inner_done, l);
    if (rc == 0 && (rc = cio__future_add_cb(out, outer_done, l)) < 0)
        cio__future_remove_cb(inner, inner_done, l);
    if (rc < 0) {
        cio_future_unref(out);
        cio__free(l);
        return rc;
    }
    l->inner = inner;
    l->outer = out;
    l->refs = 2;
    l->cut = 0;
    cio_future_ref(inner);
    cio_future_ref(out);
    *outer = out;
    return 0;
}
