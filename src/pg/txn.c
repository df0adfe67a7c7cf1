/*
 * txn.c - transactions as scopes (asyncpg's Transaction): BEGIN with the
 * options, or a SAVEPOINT when one is already open on the connection;
 * commit, or roll back on error or cancellation.  The end of a scope runs
 * shielded (cio_shield_begin), so a task being cancelled still rolls its
 * transaction back before it unwinds, as `async with conn.transaction()`
 * does in asyncio.
 */
#include <stdio.h>

#include "pgint.h"

struct cio_pg_transaction {
    cio_pg_conn *conn; /* the connection it runs on (a reference: a scope
                          outliving cio_pg_free ends with CIO_ECLOSED) */
    int depth;         /* 1: the transaction; > 1: savepoint cio_sp<depth> */
};

int cio_pg_transaction_begin(cio_pg_conn *c, const cio_pg_transaction_options *opts,
                             cio_pg_transaction **out)
{
    if (!c || !out)
        return -EINVAL;
    *out = NULL;
    cio_pg_transaction_options o = {0};
    if (opts)
        o = *opts;
    if (o.isolation < 0 || o.isolation > CIO_PG_SERIALIZABLE)
        return -EINVAL;
    cio_pg_transaction *tx = cio__calloc(1, sizeof *tx);
    if (!tx)
        return -ENOMEM;
    char sql[128];
    int depth = c->txn_depth + 1;
    if (depth == 1) {
        static const char *const iso[] = {"", " ISOLATION LEVEL READ COMMITTED",
                                          " ISOLATION LEVEL REPEATABLE READ",
                                          " ISOLATION LEVEL SERIALIZABLE"};
        snprintf(sql, sizeof sql, "BEGIN%s%s%s", iso[o.isolation],
                 o.readonly ? " READ ONLY" : "", o.deferrable ? " DEFERRABLE" : "");
    } else {
        snprintf(sql, sizeof sql, "SAVEPOINT cio_sp%d", depth);
    }
    int rc = cio_pg_execute(c, sql, NULL, 0);
    if (rc < 0) {
        cio__free(tx);
        return rc;
    }
    tx->conn = c;
    cio__pg_conn_ref(c);
    tx->depth = depth;
    c->txn_depth = depth;
    *out = tx;
    return 0;
}

static void tx_free(cio_pg_transaction *tx)
{
    cio__pg_conn_unref(tx->conn);
    cio__free(tx);
}

/* Runs one statement of a scope's end, shielded from cancellation. */
static int end_stmt(cio_pg_conn *c, const char *sql)
{
    cio_shield_begin();
    int rc = cio_pg_execute(c, sql, NULL, 0);
    cio_shield_end();
    return rc < 0 ? rc : 0;
}

static int do_rollback(cio_pg_transaction *tx)
{
    cio_pg_conn *c = tx->conn;
    char sql[64];
    int rc;
    if (tx->depth == 1) {
        rc = end_stmt(c, "ROLLBACK");
    } else {
        snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT cio_sp%d", tx->depth);
        rc = end_stmt(c, sql);
        if (rc >= 0) {
            snprintf(sql, sizeof sql, "RELEASE SAVEPOINT cio_sp%d", tx->depth);
            rc = end_stmt(c, sql);
        }
    }
    c->txn_depth = tx->depth - 1;
    tx_free(tx);
    return rc;
}

int cio_pg_transaction_rollback(cio_pg_transaction *tx)
{
    if (!tx)
        return -EINVAL;
    return do_rollback(tx);
}

int cio_pg_transaction_commit(cio_pg_transaction *tx)
{
    if (!tx)
        return -EINVAL;
    cio_pg_conn *c = tx->conn;
    int why = cio_checkpoint(); /* cancelled or timed out: roll back */
    if (why < 0) {
        do_rollback(tx);
        return why;
    }
    char sql[64];
    if (tx->depth == 1)
        snprintf(sql, sizeof sql, "COMMIT");
    else
        snprintf(sql, sizeof sql, "RELEASE SAVEPOINT cio_sp%d", tx->depth);
    int rc = end_stmt(c, sql);
    if (rc < 0) {
        /* The error is what the caller wants to see, not the rollback's. */
        const cio_pg_error *e = cio_pg_last_error();
        char state[6] = "", msg[256] = "";
        if (e) {
            snprintf(state, sizeof state, "%s", e->sqlstate);
            snprintf(msg, sizeof msg, "%s", e->message);
        }
        if (tx->depth > 1) {
            do_rollback(tx);
        } else {
            /* A failed COMMIT has ended the transaction already. */
            c->txn_depth = 0;
            tx_free(tx);
        }
        if (rc == CIO_EPG)
            cio__pg_set_error_msg(state, msg);
        return rc;
    }
    c->txn_depth = tx->depth - 1;
    tx_free(tx);
    return 0;
}

int cio_pg_transaction_run(cio_pg_conn *c, const cio_pg_transaction_options *opts,
                           cio_coro_fn *fn, void *arg, void **result)
{
    if (!c || !fn)
        return -EINVAL;
    cio_pg_transaction *tx;
    int rc = cio_pg_transaction_begin(c, opts, &tx);
    if (rc < 0)
        return rc;
    void *r = NULL;
    rc = fn(arg, &r);
    if (rc < 0) {
        cio_pg_transaction_rollback(tx);
        return rc;
    }
    rc = cio_pg_transaction_commit(tx);
    if (rc >= 0 && result)
        *result = r;
    return rc;
}
