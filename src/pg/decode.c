/*
 * decode.c - PostgreSQL's binary formats: reading a field as a C value
 * (cio_pg_value_*), one-dimensional arrays, and rendering any supported
 * value as PostgreSQL's text output (cio_pg_value_format), which is how
 * numeric reaches the caller (as digits: no C type holds it exactly).
 *
 * Binary layouts (PostgreSQL's send functions): integers and floats big-
 * endian; date int32 days and timestamp int64 microseconds since
 * 2000-01-01; numeric int16 ndigits, weight, sign, dscale, then base-10000
 * digits; jsonb a version byte then the text; arrays int32 ndim, int32
 * has-nulls, uint32 element type, ndim (size, lower bound) pairs, then
 * each element as int32 length (-1: NULL) and bytes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "pgint.h"

/* 2000-01-01 in days and microseconds since 1970-01-01. */
#define PG_EPOCH_DAYS 10957
#define PG_EPOCH_US INT64_C(946684800000000)

static uint32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static uint64_t be64(const char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static int16_t be16(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (int16_t)((u[0] << 8) | u[1]);
}

int cio_pg_value_is_null(const cio_pg_value *v)
{
    return !v || v->len < 0;
}

/* Common checks: 0 to decode, or the code to return. */
static int pre(const cio_pg_value *v, const void *out)
{
    if (!v || !out)
        return -EINVAL;
    if (v->len < 0)
        return -ENODATA;
    return 0;
}

int cio_pg_value_bool(const cio_pg_value *v, int *out)
{
    int rc = pre(v, out);
    if (rc)
        return rc;
    if (v->type != CIO_PG_BOOL)
        return -EPROTOTYPE;
    if (v->format == 0) {
        *out = v->data[0] == 't';
        return 0;
    }
    if (v->len != 1)
        return -EBADMSG;
    *out = v->data[0] != 0;
    return 0;
}

int cio_pg_value_int64(const cio_pg_value *v, int64_t *out)
{
    int rc = pre(v, out);
    if (rc)
        return rc;
    if (v->type != CIO_PG_INT2 && v->type != CIO_PG_INT4 && v->type != CIO_PG_INT8 &&
        v->type != CIO_PG_OID)
        return -EPROTOTYPE;
    if (v->format == 0) {
        char *end;
        errno = 0;
        *out = strtoll(v->data, &end, 10);
        return errno || *end ? -EBADMSG : 0;
    }
    switch (v->len) {
    case 2: *out = be16(v->data); return 0;
    case 4: *out = v->type == CIO_PG_OID ? (int64_t)be32(v->data) : (int32_t)be32(v->data);
            return 0;
    case 8: *out = (int64_t)be64(v->data); return 0;
    default: return -EBADMSG;
    }
}

/* numeric's digits as text into buf; returns the length needed. */
static int numeric_text(const cio_pg_value *v, char *buf, size_t cap);

int cio_pg_value_double(const cio_pg_value *v, double *out)
{
    int rc = pre(v, out);
    if (rc)
        return rc;
    if (v->format == 0 || v->type == CIO_PG_NUMERIC) {
        if (v->type != CIO_PG_FLOAT4 && v->type != CIO_PG_FLOAT8 && v->type != CIO_PG_NUMERIC &&
            v->type != CIO_PG_INT2 && v->type != CIO_PG_INT4 && v->type != CIO_PG_INT8)
            return -EPROTOTYPE;
        char tmp[512];
        const char *s = v->data;
        if (v->format == 1) {
            int n = numeric_text(v, tmp, sizeof tmp);
            if (n < 0)
                return n;
            s = tmp;
        }
        char *end;
        *out = strtod(s, &end);
        return *end ? -EBADMSG : 0;
    }
    int64_t i;
    switch (v->type) {
    case CIO_PG_FLOAT4: {
        if (v->len != 4)
            return -EBADMSG;
        uint32_t u = be32(v->data);
        float f;
        memcpy(&f, &u, 4);
        *out = f;
        return 0;
    }
    case CIO_PG_FLOAT8: {
        if (v->len != 8)
            return -EBADMSG;
        uint64_t u = be64(v->data);
        memcpy(out, &u, 8);
        return 0;
    }
    default:
        rc = cio_pg_value_int64(v, &i);
        if (rc == 0)
            *out = (double)i;
        return rc;
    }
}

int cio_pg_value_text(const cio_pg_value *v, const char **out, size_t *len)
{
    int rc = pre(v, out);
    if (rc)
        return rc;
    const char *p = v->data;
    size_t n = (size_t)v->len;
    if (v->format == 1) {
        switch (v->type) {
        case CIO_PG_TEXT: case CIO_PG_VARCHAR: case CIO_PG_NAME: case CIO_PG_BPCHAR:
        case CIO_PG_JSON:
            break;
        case CIO_PG_JSONB:
            if (n < 1 || p[0] != 1)
                return -EBADMSG;
            p++;
            n--;
            break;
        default:
            return -EPROTOTYPE;
        }
    }
    *out = p; /* libpq ends every value with a NUL */
    if (len)
        *len = n;
    return 0;
}

int cio_pg_value_bytes(const cio_pg_value *v, const void **out, size_t *len)
{
    int rc = pre(v, out);
    if (rc)
        return rc;
    *out = v->data;
    if (len)
        *len = (size_t)v->len;
    return 0;
}

int cio_pg_value_uuid(const cio_pg_value *v, unsigned char out[16])
{
    int rc = pre(v, out);
    if (rc)
        return rc;
    if (v->type != CIO_PG_UUID || v->format != 1)
        return -EPROTOTYPE;
    if (v->len != 16)
        return -EBADMSG;
    memcpy(out, v->data, 16);
    return 0;
}

int cio_pg_value_date(const cio_pg_value *v, int32_t *out)
{
    int rc = pre(v, out);
    if (rc)
        return rc;
    if (v->type != CIO_PG_DATE || v->format != 1)
        return -EPROTOTYPE;
    if (v->len != 4)
        return -EBADMSG;
    int32_t d = (int32_t)be32(v->data);
    /* infinity / -infinity stay at the extremes. */
    *out = d == INT32_MAX || d == INT32_MIN ? d : d + PG_EPOCH_DAYS;
    return 0;
}

int cio_pg_value_timestamp(const cio_pg_value *v, int64_t *out)
{
    int rc = pre(v, out);
    if (rc)
        return rc;
    if ((v->type != CIO_PG_TIMESTAMP && v->type != CIO_PG_TIMESTAMPTZ) || v->format != 1)
        return -EPROTOTYPE;
    if (v->len != 8)
        return -EBADMSG;
    int64_t t = (int64_t)be64(v->data);
    *out = t == INT64_MAX || t == INT64_MIN ? t : t + PG_EPOCH_US;
    return 0;
}

/* ---- arrays --------------------------------------------------------------- */

int cio_pg_value_array_len(const cio_pg_value *v)
{
    if (!v)
        return -EINVAL;
    if (v->len < 0)
        return -ENODATA;
    if (v->format != 1 || v->len < 12)
        return -EPROTOTYPE;
    int32_t ndim = (int32_t)be32(v->data);
    if (ndim == 0)
        return 0;
    if (ndim != 1 || v->len < 20)
        return -EPROTOTYPE;
    int32_t n = (int32_t)be32(v->data + 12);
    return n < 0 ? -EBADMSG : n;
}

int cio_pg_value_array_get(const cio_pg_value *v, int i, cio_pg_value *out)
{
    if (!out)
        return -EINVAL;
    int n = cio_pg_value_array_len(v);
    if (n < 0)
        return n;
    if (i < 0 || i >= n)
        return -ERANGE;
    const char *p = v->data + 20, *end = v->data + v->len;
    for (int k = 0;; k++) {
        if (end - p < 4)
            return -EBADMSG;
        int32_t len = (int32_t)be32(p);
        p += 4;
        if (len > end - p)
            return -EBADMSG;
        if (k == i) {
            out->type = be32(v->data + 8);
            out->format = 1;
            out->len = len < 0 ? -1 : len;
            out->data = len < 0 ? NULL : p;
            return 0;
        }
        if (len > 0)
            p += len;
    }
}

/* ---- text rendering ------------------------------------------------------- */

/* An appender that counts what does not fit. */
struct out {
    char *buf;  /* destination */
    size_t cap; /* its size */
    size_t n;   /* length of the full text so far */
};

static void put(struct out *o, const char *s, size_t len)
{
    if (o->n < o->cap) {
        size_t room = o->cap - 1 - o->n;
        memcpy(o->buf + o->n, s, len < room ? len : room);
    }
    o->n += len;
}

static void putf(struct out *o, const char *fmt, ...) CIO_PRINTF(2, 3);
static void putf(struct out *o, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(o, tmp, n < 0 ? 0 : (size_t)n);
}

static int numeric_render(const cio_pg_value *v, struct out *o)
{
    if (v->len < 8)
        return -EBADMSG;
    int nd = be16(v->data), weight = be16(v->data + 2), dscale = be16(v->data + 6);
    uint16_t sign = (uint16_t)be16(v->data + 4);
    if (nd < 0 || v->len < 8 + 2 * nd || dscale < 0)
        return -EBADMSG;
    if (sign == 0xC000) {
        put(o, "NaN", 3);
        return 0;
    }
    if (sign == 0xD000 || sign == 0xF000) {
        put(o, sign == 0xF000 ? "-Infinity" : "Infinity", sign == 0xF000 ? 9 : 8);
        return 0;
    }
#define DIGIT(i) ((i) >= 0 && (i) < nd ? be16(v->data + 8 + 2 * (i)) : 0)
    if (sign == 0x4000)
        put(o, "-", 1);
    if (weight < 0) {
        put(o, "0", 1);
    } else {
        for (int i = 0; i <= weight; i++)
            putf(o, i == 0 ? "%d" : "%04d", DIGIT(i));
    }
    if (dscale > 0) {
        put(o, ".", 1);
        int left = dscale;
        for (int i = weight + 1; left > 0; i++) {
            char g[8];
            snprintf(g, sizeof g, "%04d", DIGIT(i));
            put(o, g, left < 4 ? (size_t)left : 4);
            left -= 4;
        }
    }
#undef DIGIT
    return 0;
}

static int numeric_text(const cio_pg_value *v, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    int rc = numeric_render(v, &o);
    if (rc < 0)
        return rc;
    buf[o.n < cap ? o.n : cap - 1] = 0;
    return o.n < cap ? (int)o.n : -EBADMSG;
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static void civil(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void date_render(struct out *o, int64_t days)
{
    int64_t y;
    int m, d;
    civil(days, &y, &m, &d);
    if (y > 0)
        putf(o, "%04lld-%02d-%02d", (long long)y, m, d);
    else
        putf(o, "%04lld-%02d-%02d BC", (long long)(1 - y), m, d);
}

static void ts_render(struct out *o, int64_t us, int tz)
{
    int64_t days = us >= 0 ? us / 86400000000 : -((-us + 86399999999) / 86400000000);
    int64_t rem = us - days * 86400000000;
    date_render(o, days);
    int64_t secs = rem / 1000000, frac = rem % 1000000;
    putf(o, " %02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, "%06lld", (long long)frac);
        size_t n = 6;
        while (f[n - 1] == '0')
            n--;
        put(o, ".", 1);
        put(o, f, n);
    }
    if (tz)
        put(o, "+00", 3);
}

static int render(const cio_pg_value *v, struct out *o, int in_array);

/* The array types of the element types cio decodes. */
static int is_array_type(uint32_t t)
{
    static const uint32_t arrays[] = {1000, 1001, 1003, 1005, 1007, 1009, 1014, 1015, 1016,
                                      1021, 1022, 1028, 1115, 1182, 1185, 1231, 199, 2951,
                                      3807};
    for (size_t i = 0; i < CIO_ARRAY_LEN(arrays); i++)
        if (arrays[i] == t)
            return 1;
    return 0;
}

static int array_render(const cio_pg_value *v, struct out *o)
{
    int n = cio_pg_value_array_len(v);
    if (n < 0)
        return n;
    put(o, "{", 1);
    for (int i = 0; i < n; i++) {
        cio_pg_value e;
        int rc = cio_pg_value_array_get(v, i, &e);
        if (rc < 0)
            return rc;
        if (i)
            put(o, ",", 1);
        if ((rc = render(&e, o, 1)) < 0)
            return rc;
    }
    put(o, "}", 1);
    return 0;
}

/* An array element that needs quotes, as array_out decides. */
static int needs_quotes(const char *s, size_t n)
{
    if (n == 0 || (n == 4 && !strncasecmp(s, "null", 4)))
        return 1;
    for (size_t i = 0; i < n; i++)
        if (strchr("{},\"\\ \t\n", s[i]))
            return 1;
    return 0;
}

static void text_render(struct out *o, const char *s, size_t n, int in_array)
{
    if (!in_array || !needs_quotes(s, n)) {
        put(o, s, n);
        return;
    }
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            put(o, "\\", 1);
        put(o, s + i, 1);
    }
    put(o, "\"", 1);
}

static int render(const cio_pg_value *v, struct out *o, int in_array)
{
    if (v->len < 0) {
        put(o, "NULL", 4);
        return 0;
    }
    if (v->format == 0) {
        text_render(o, v->data, (size_t)v->len, in_array);
        return 0;
    }
    int rc;
    switch (v->type) {
    case CIO_PG_BOOL: {
        int b;
        if ((rc = cio_pg_value_bool(v, &b)) < 0)
            return rc;
        put(o, b ? "t" : "f", 1);
        return 0;
    }
    case CIO_PG_INT2: case CIO_PG_INT4: case CIO_PG_INT8: case CIO_PG_OID: {
        int64_t i;
        if ((rc = cio_pg_value_int64(v, &i)) < 0)
            return rc;
        putf(o, "%lld", (long long)i);
        return 0;
    }
    case CIO_PG_FLOAT4: case CIO_PG_FLOAT8: {
        double d;
        if ((rc = cio_pg_value_double(v, &d)) < 0)
            return rc;
        if (isnan(d))
            put(o, "NaN", 3);
        else if (isinf(d))
            put(o, d > 0 ? "Infinity" : "-Infinity", d > 0 ? 8 : 9);
        else
            putf(o, "%.*g", v->type == CIO_PG_FLOAT4 ? 9 : 17, d);
        return 0;
    }
    case CIO_PG_NUMERIC:
        return numeric_render(v, o);
    case CIO_PG_TEXT: case CIO_PG_VARCHAR: case CIO_PG_NAME: case CIO_PG_BPCHAR:
    case CIO_PG_JSON: case CIO_PG_JSONB: {
        const char *s;
        size_t n;
        if ((rc = cio_pg_value_text(v, &s, &n)) < 0)
            return rc;
        text_render(o, s, n, in_array);
        return 0;
    }
    case CIO_PG_BYTEA:
        put(o, in_array ? "\"\\\\x" : "\\x", in_array ? 4 : 2);
        for (int i = 0; i < v->len; i++)
            putf(o, "%02x", (unsigned char)v->data[i]);
        if (in_array)
            put(o, "\"", 1);
        return 0;
    case CIO_PG_UUID: {
        unsigned char u[16];
        if ((rc = cio_pg_value_uuid(v, u)) < 0)
            return rc;
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                put(o, "-", 1);
            putf(o, "%02x", u[i]);
        }
        return 0;
    }
    case CIO_PG_DATE: {
        int32_t d;
        if ((rc = cio_pg_value_date(v, &d)) < 0)
            return rc;
        if (d == INT32_MAX || d == INT32_MIN)
            put(o, d > 0 ? "infinity" : "-infinity", d > 0 ? 8 : 9);
        else
            date_render(o, d);
        return 0;
    }
    case CIO_PG_TIMESTAMP: case CIO_PG_TIMESTAMPTZ: {
        int64_t t;
        if ((rc = cio_pg_value_timestamp(v, &t)) < 0)
            return rc;
        if (t == INT64_MAX || t == INT64_MIN)
            put(o, t > 0 ? "infinity" : "-infinity", t > 0 ? 8 : 9);
        else
            ts_render(o, t, v->type == CIO_PG_TIMESTAMPTZ);
        return 0;
    }
    default:
        if (is_array_type(v->type) && !in_array)
            return array_render(v, o);
        return -EPROTOTYPE;
    }
}

int cio_pg_value_format(const cio_pg_value *v, char *buf, size_t cap)
{
    if (!v || (!buf && cap))
        return -EINVAL;
    struct out o = {buf, cap, 0};
    int rc = render(v, &o, 0);
    if (rc < 0)
        return rc;
    if (cap)
        buf[o.n < cap ? o.n : cap - 1] = 0;
    return o.n > INT32_MAX ? INT32_MAX : (int)o.n;
}
