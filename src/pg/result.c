/*
 * result.c - result sets (a cio_pg_result is libpq's PGresult under an
 * opaque name: no copy) and the error record: the thread's last server
 * error, read with the cio_pg_error_* accessors.
 */
#include <stdio.h>

#include "pgint.h"

/* ---- results ------------------------------------------------------------ */

#define RES(r) ((const PGresult *)(const void *)(r))

void cio_pg_result_free(cio_pg_result *res)
{
    PQclear((PGresult *)(void *)res);
}

int cio_pg_result_nrows(const cio_pg_result *res)
{
    return res ? PQntuples(RES(res)) : 0;
}

int cio_pg_result_ncols(const cio_pg_result *res)
{
    return res ? PQnfields(RES(res)) : 0;
}

const char *cio_pg_result_column_name(const cio_pg_result *res, int col)
{
    return res ? PQfname(RES(res), col) : NULL;
}

int cio_pg_result_column_index(const cio_pg_result *res, const char *name)
{
    if (!res || !name)
        return -EINVAL;
    /* Exact, case-sensitive match: PQfnumber would fold case and parse
     * quotes, which surprises for names coming from the result itself. */
    int n = PQnfields(RES(res));
    for (int i = 0; i < n; i++)
        if (!strcmp(PQfname(RES(res), i), name))
            return i;
    return -ENOENT;
}

uint32_t cio_pg_result_column_type(const cio_pg_result *res, int col)
{
    if (!res || col < 0 || col >= PQnfields(RES(res)))
        return 0;
    return PQftype(RES(res), col);
}

int cio_pg_result_get(const cio_pg_result *res, int row, int col, cio_pg_value *out)
{
    if (!res || !out)
        return -EINVAL;
    const PGresult *r = RES(res);
    if (row < 0 || row >= PQntuples(r) || col < 0 || col >= PQnfields(r))
        return -ERANGE;
    out->type = PQftype(r, col);
    out->format = PQfformat(r, col);
    if (PQgetisnull(r, row, col)) {
        out->len = -1;
        out->data = NULL;
    } else {
        out->len = PQgetlength(r, row, col);
        out->data = PQgetvalue(r, row, col);
    }
    return 0;
}

int cio_pg_result_get_by_name(const cio_pg_result *res, int row, const char *name,
                              cio_pg_value *out)
{
    int col = cio_pg_result_column_index(res, name);
    return col < 0 ? col : cio_pg_result_get(res, row, col, out);
}

/* ---- errors --------------------------------------------------------------- */

/* The thread's last error; replaced by each failing call. */
static CIO_TLS struct cio_pg_error *last;

static void error_free(struct cio_pg_error *e)
{
    if (!e)
        return;
    cio__free(e->message);
    cio__free(e->detail);
    cio__free(e->hint);
    cio__free(e->severity);
    cio__free(e);
}

void cio__pg_clear_error(void)
{
    error_free(last);
    last = NULL;
}

static char *dup_or_empty(const char *s)
{
    return cio__strdup(s ? s : "");
}

static void set_error(const char *state, const char *msg, const char *detail,
                      const char *hint, const char *severity)
{
    cio__pg_clear_error();
    struct cio_pg_error *e = cio__calloc(1, sizeof *e);
    if (!e)
        return;
    snprintf(e->sqlstate, sizeof e->sqlstate, "%s", state ? state : "");
    e->message = dup_or_empty(msg);
    e->detail = dup_or_empty(detail);
    e->hint = dup_or_empty(hint);
    e->severity = dup_or_empty(severity);
    if (!e->message || !e->detail || !e->hint || !e->severity) {
        error_free(e);
        return;
    }
    /* libpq's messages end with a newline; a record reads better without. */
    size_t n = strlen(e->message);
    while (n && e->message[n - 1] == '\n')
        e->message[--n] = 0;
    last = e;
}

void cio__pg_set_error_result(const PGresult *res)
{
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    set_error(PQresultErrorField(res, PG_DIAG_SQLSTATE),
              msg ? msg : PQresultErrorMessage(res),
              PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL),
              PQresultErrorField(res, PG_DIAG_MESSAGE_HINT),
              PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED));
}

void cio__pg_set_error_msg(const char *sqlstate, const char *msg)
{
    set_error(sqlstate, msg, NULL, NULL, "FATAL");
}

const cio_pg_error *cio_pg_last_error(void)
{
    return last;
}

const char *cio_pg_error_sqlstate(const cio_pg_error *e)
{
    return e ? e->sqlstate : NULL;
}

const char *cio_pg_error_message(const cio_pg_error *e)
{
    return e ? e->message : NULL;
}

const char *cio_pg_error_detail(const cio_pg_error *e)
{
    return e ? e->detail : NULL;
}

const char *cio_pg_error_hint(const cio_pg_error *e)
{
    return e ? e->hint : NULL;
}

const char *cio_pg_error_severity(const cio_pg_error *e)
{
    return e ? e->severity : NULL;
}
