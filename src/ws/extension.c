/*
 * extension.c - Sec-WebSocket-Extensions parsing and permessage-deflate
 * negotiation (see extension.h).
 *
 *   1. A tokenizer for the extension list grammar of RFC 6455 §9.1:
 *      extension = token *( ";" token [ "=" ( token | quoted-string ) ] ),
 *      comma-separated with optional whitespace, empty elements allowed.
 *   2. Reading one permessage-deflate parameter list (RFC 7692 §7.1), the
 *      same rules for offers and responses: known names only, each once,
 *      the no_context_takeover ones without a value, window bits 8..15.
 *   3. The server's choice and response, the client's offer and its check
 *      of the response.
 *
 * Window bits 8: zlib cannot compress with a 256-byte window in raw mode,
 * so deflate.c compresses without string matching for it (see there);
 * that is why 8 is accepted for our own compressor too.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "deflate.h"
#include "extension.h"

/* ---- 1. the extension list tokenizer --------------------------------------- */

enum { MAX_PARAMS = 8, MAX_VALUE = 15 };

/* One parameter as written. */
struct param {
    const char *name;         /* points into the header */
    size_t nlen;              /* name length */
    char value[MAX_VALUE + 1];/* value, unquoted, NUL-terminated */
    uint8_t has_value;        /* "=" was there */
    uint8_t value_too_long;   /* longer than MAX_VALUE: invalid for us anyway */
};

/* One extension of the list. */
struct ext {
    const char *name;               /* points into the header */
    size_t nlen;                    /* name length */
    struct param params[MAX_PARAMS];/* its parameters, in order */
    size_t nparams;                 /* how many (at most MAX_PARAMS kept) */
    uint8_t too_many;               /* more than MAX_PARAMS were written */
};

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void skip_ows(const char *s, size_t len, size_t *i)
{
    while (*i < len && (s[*i] == ' ' || s[*i] == '\t'))
        (*i)++;
}

static size_t token(const char *s, size_t len, size_t *i)
{
    size_t start = *i;
    while (*i < len && is_tchar((unsigned char)s[*i]))
        (*i)++;
    return *i - start;
}

/* A parameter value: token or quoted-string (backslash escapes undone). */
static int value(const char *s, size_t len, size_t *i, struct param *p)
{
    size_t n = 0;
    if (*i < len && s[*i] == '"') {
        (*i)++;
        for (;;) {
            if (*i >= len)
                return -EPROTO; /* unterminated */
            char c = s[(*i)++];
            if (c == '"')
                break;
            if (c == '\\') {
                if (*i >= len)
                    return -EPROTO;
                c = s[(*i)++];
            }
            if (n < MAX_VALUE)
                p->value[n] = c;
            n++;
        }
        /* RFC 6455 §9.1: once unquoted, the value must be a token. */
        for (size_t k = 0; k < n && k < MAX_VALUE; k++)
            if (!is_tchar((unsigned char)p->value[k]))
                return -EPROTO;
        if (n == 0)
            return -EPROTO;
    } else {
        size_t start = *i;
        n = token(s, len, i);
        if (n == 0)
            return -EPROTO;
        memcpy(p->value, s + start, n < MAX_VALUE ? n : MAX_VALUE);
    }
    p->value_too_long = n > MAX_VALUE;
    p->value[n < MAX_VALUE ? n : MAX_VALUE] = '\0';
    return 0;
}

/* Reads the next extension at *i.  Returns 1 (got one), 0 (end), -EPROTO. */
static int next_ext(const char *s, size_t len, size_t *i, struct ext *e)
{
    /* Empty list elements ("a, , b") are allowed by RFC 7230 §7. */
    for (;;) {
        skip_ows(s, len, i);
        if (*i < len && s[*i] == ',')
            (*i)++;
        else
            break;
    }
    if (*i >= len)
        return 0;
    memset(e, 0, sizeof *e);
    e->name = s + *i;
    if ((e->nlen = token(s, len, i)) == 0)
        return -EPROTO;
    for (;;) {
        skip_ows(s, len, i);
        if (*i >= len || s[*i] == ',')
            break;
        if (s[*i] != ';')
            return -EPROTO;
        (*i)++;
        skip_ows(s, len, i);
        struct param scratch, *p = e->nparams < MAX_PARAMS ? &e->params[e->nparams] : &scratch;
        memset(p, 0, sizeof *p);
        p->name = s + *i;
        if ((p->nlen = token(s, len, i)) == 0)
            return -EPROTO;
        skip_ows(s, len, i);
        if (*i < len && s[*i] == '=') {
            (*i)++;
            skip_ows(s, len, i);
            if (value(s, len, i, p) < 0)
                return -EPROTO;
            p->has_value = 1;
        }
        if (e->nparams < MAX_PARAMS)
            e->nparams++;
        else
            e->too_many = 1;
    }
    return 1;
}

static int name_is(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(s, want, n) == 0;
}

/* ---- 2. one permessage-deflate parameter list ------------------------------ */

/* The parameters as written; 0 = absent for the window bits. */
struct pmd_raw {
    uint8_t snct;          /* server_no_context_takeover present */
    uint8_t cnct;          /* client_no_context_takeover present */
    uint8_t smwb;          /* server_max_window_bits value, 0 absent */
    uint8_t cmwb_present;  /* client_max_window_bits present */
    uint8_t cmwb;          /* its value, 0 if written without one */
};

/* "8".."15", no sign, no leading zero. */
static int window_bits(const struct param *p)
{
    if (!p->has_value || p->value_too_long)
        return -1;
    const char *v = p->value;
    if (v[0] >= '8' && v[0] <= '9' && v[1] == '\0')
        return v[0] - '0';
    if (v[0] == '1' && v[1] >= '0' && v[1] <= '5' && v[2] == '\0')
        return 10 + v[1] - '0';
    return -1;
}

/* Reads e's parameters.  Returns 0, or -EPROTO for any fault (unknown or
 * repeated name, a value where none belongs, a bad window). */
static int pmd_read(const struct ext *e, struct pmd_raw *r)
{
    memset(r, 0, sizeof *r);
    if (e->too_many)
        return -EPROTO; /* 4 names, each at most once: more is a repeat */
    for (size_t k = 0; k < e->nparams; k++) {
        const struct param *p = &e->params[k];
        int bits;
        if (name_is(p->name, p->nlen, "server_no_context_takeover")) {
            if (r->snct || p->has_value)
                return -EPROTO;
            r->snct = 1;
        } else if (name_is(p->name, p->nlen, "client_no_context_takeover")) {
            if (r->cnct || p->has_value)
                return -EPROTO;
            r->cnct = 1;
        } else if (name_is(p->name, p->nlen, "server_max_window_bits")) {
            if (r->smwb || (bits = window_bits(p)) < 0)
                return -EPROTO;
            r->smwb = (uint8_t)bits;
        } else if (name_is(p->name, p->nlen, "client_max_window_bits")) {
            if (r->cmwb_present)
                return -EPROTO;
            r->cmwb_present = 1;
            if (p->has_value) {
                if ((bits = window_bits(p)) < 0)
                    return -EPROTO;
                r->cmwb = (uint8_t)bits;
            }
        } else {
            return -EPROTO;
        }
    }
    return 0;
}

static int config_ok(const struct cio__ws_pmd_config *c)
{
    return c && c->server_max_window_bits >= 8 && c->server_max_window_bits <= 15 &&
           c->client_max_window_bits >= 8 && c->client_max_window_bits <= 15;
}

static uint8_t min8(uint8_t a, uint8_t b)
{
    return a < b ? a : b;
}

/* ---- 3. negotiation -------------------------------------------------------- */

void cio__ws_pmd_config_init(struct cio__ws_pmd_config *c)
{
    memset(c, 0, sizeof *c);
    c->server_max_window_bits = 15;
    c->client_max_window_bits = 15;
}

int cio__ws_pmd_negotiate(const char *hdr, size_t len, const struct cio__ws_pmd_config *cfg,
                          struct cio__ws_pmd_params *out)
{
    if (!config_ok(cfg) || !out || (!hdr && len))
        return -EINVAL;
    size_t i = 0;
    struct ext e;
    int rc, found = 0;
    struct cio__ws_pmd_params p;
    /* The whole list is read, so a syntax error anywhere is reported. */
    while ((rc = next_ext(hdr, len, &i, &e)) > 0) {
        struct pmd_raw o;
        if (found || !name_is(e.name, e.nlen, "permessage-deflate") ||
            !cio__ws_deflate_available())
            continue;
        if (pmd_read(&e, &o) < 0)
            continue; /* RFC 7692 §5: decline this offer, try the next */
        memset(&p, 0, sizeof p);
        p.server_no_context_takeover = o.snct || cfg->server_no_context_takeover;
        p.client_no_context_takeover = o.cnct || cfg->client_no_context_takeover;
        if (o.smwb) {
            /* §7.1.2.1: the same or a smaller value, always in the response. */
            p.server_max_window_bits = min8(o.smwb, cfg->server_max_window_bits);
            p.server_bits_in_response = 1;
        } else {
            p.server_max_window_bits = cfg->server_max_window_bits;
            p.server_bits_in_response = cfg->server_max_window_bits < 15;
        }
        p.client_max_window_bits = 15;
        /* §7.1.2.2: only a client that offered the parameter may be limited. */
        if (o.cmwb_present && cfg->client_max_window_bits < 15) {
            p.client_max_window_bits =
                min8(cfg->client_max_window_bits, o.cmwb ? o.cmwb : 15);
            p.client_bits_in_response = 1;
        }
        found = 1;
    }
    if (rc < 0)
        return rc;
    if (found)
        *out = p;
    return found;
}

int cio__ws_pmd_response(const struct cio__ws_pmd_params *p, char *buf, size_t cap)
{
    if (!p || !buf)
        return -EINVAL;
    char tmp[CIO__WS_PMD_MAX_HEADER];
    int n = snprintf(tmp, sizeof tmp, "permessage-deflate%s%s", 
                     p->server_no_context_takeover ? "; server_no_context_takeover" : "",
                     p->client_no_context_takeover ? "; client_no_context_takeover" : "");
    if (p->server_bits_in_response)
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, "; server_max_window_bits=%u",
                      p->server_max_window_bits);
    if (p->client_bits_in_response)
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, "; client_max_window_bits=%u",
                      p->client_max_window_bits);
    if ((size_t)n >= cap)
        return -ENOSPC;
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}

int cio__ws_pmd_offer(const struct cio__ws_pmd_config *cfg, char *buf, size_t cap)
{
    if (!config_ok(cfg) || !buf || !cap)
        return -EINVAL;
    if (!cio__ws_deflate_available()) {
        buf[0] = '\0';
        return 0;
    }
    char tmp[CIO__WS_PMD_MAX_HEADER];
    int n = snprintf(tmp, sizeof tmp, "permessage-deflate%s%s",
                     cfg->server_no_context_takeover ? "; server_no_context_takeover" : "",
                     cfg->client_no_context_takeover ? "; client_no_context_takeover" : "");
    if (cfg->server_max_window_bits < 15)
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, "; server_max_window_bits=%u",
                      cfg->server_max_window_bits);
    if (cfg->client_max_window_bits < 15)
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, "; client_max_window_bits=%u",
                      cfg->client_max_window_bits);
    else
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, "; client_max_window_bits");
    if ((size_t)n >= cap)
        return -ENOSPC;
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}

int cio__ws_pmd_check_response(const char *hdr, size_t len,
                               const struct cio__ws_pmd_config *cfg,
                               struct cio__ws_pmd_params *out)
{
    if (!config_ok(cfg) || !out || (!hdr && len))
        return -EINVAL;
    size_t i = 0;
    struct ext e;
    int rc = next_ext(hdr, len, &i, &e);
    if (rc <= 0)
        return rc; /* 0: nothing but whitespace and commas */
    struct pmd_raw r;
    /* §9.1: the server may only answer with extensions the client offered,
     * and we offered permessage-deflate once, if zlib is in. */
    if (!cio__ws_deflate_available() || !name_is(e.name, e.nlen, "permessage-deflate") ||
        pmd_read(&e, &r) < 0)
        return -EPROTO;
    struct ext extra;
    if (next_ext(hdr, len, &i, &extra) != 0)
        return -EPROTO;
    if (cfg->server_no_context_takeover && !r.snct)
        return -EPROTO;
    if (cfg->server_max_window_bits < 15 && (!r.smwb || r.smwb > cfg->server_max_window_bits))
        return -EPROTO;
    if (r.cmwb_present && (!r.cmwb || r.cmwb > cfg->client_max_window_bits))
        return -EPROTO;
    struct cio__ws_pmd_params p;
    memset(&p, 0, sizeof p);
    p.server_no_context_takeover = r.snct;
    p.client_no_context_takeover = r.cnct || cfg->client_no_context_takeover;
    p.server_max_window_bits = r.smwb ? r.smwb : 15;
    p.client_max_window_bits = r.cmwb ? r.cmwb : cfg->client_max_window_bits;
    p.server_bits_in_response = r.smwb != 0;
    p.client_bits_in_response = r.cmwb_present;
    *out = p;
    return 1;
}
