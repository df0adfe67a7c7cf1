/*
 * client.c - cio_ws_connect: the URL, a transport of our own (TLS for
 * wss://), the client's opening handshake (RFC 6455 §4.1) and the strict
 * check of the server's answer.
 *
 * The connection's protocol runs from the start: in the CONNECTING state
 * it only collects the answer's head (conn.c, handshake_scan) and pauses
 * reading when the head is complete, so frames the server sends right
 * after its 101 wait in the buffer until the answer has been checked.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "handshake.h"

/* A parsed ws:// or wss:// URL. */
struct url {
    int tls;          /* wss */
    char host[256];   /* host name or address, no brackets */
    int port;         /* port */
    int bracketed;    /* IPv6 literal (Host header needs the brackets) */
    const char *path; /* resource, "/" and query; points into the URL */
};

static int url_parse(const char *s, struct url *u)
{
    memset(u, 0, sizeof *u);
    if (strncasecmp(s, "ws://", 5) == 0) {
        s += 5;
    } else if (strncasecmp(s, "wss://", 6) == 0) {
        s += 6;
        u->tls = 1;
    } else {
        return -EINVAL;
    }
    const char *end = s + strcspn(s, "/?#");
    const char *hs = s, *he;
    if (*s == '[') {
        hs = s + 1;
        he = memchr(hs, ']', (size_t)(end - hs));
        if (!he)
            return -EINVAL;
        s = he + 1;
        u->bracketed = 1;
    } else {
        he = memchr(s, ':', (size_t)(end - s));
        if (!he)
            he = end;
        s = he;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof u->host || memchr(hs, '@', (size_t)(he - hs)))
        return -EINVAL;
    memcpy(u->host, hs, (size_t)(he - hs));
    u->port = u->tls ? 443 : 80;
    if (s < end) {
        if (*s != ':')
            return -EINVAL;
        char *pe;
        long p = strtol(s + 1, &pe, 10);
        if (pe != end || p < 1 || p > 65535)
            return -EINVAL;
        u->port = (int)p;
    }
    u->path = *end == '/' || *end == '?' ? end : "/";
    if (*end == '#' || strchr(u->path, '#') || strpbrk(u->path, " \r\n"))
        return -EINVAL;
    return 0;
}

/* Appends a NUL-terminated string to b. */
static int add(struct cio__ws_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t nc = (b->len + n + 1) * 2;
        uint8_t *nd = cio__realloc(b->data, nc);
        if (!nd)
            return -ENOMEM;
        b->data = nd;
        b->cap = nc;
    }
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
    return 0;
}

static int build_request(const struct url *u, const cio_ws_options *o, const char *key,
                         const char *offer, struct cio__ws_buf *b)
{
    char port[16] = "";
    if (u->port != (u->tls ? 443 : 80))
        snprintf(port, sizeof port, ":%d", u->port);
    int rc = 0;
    rc |= add(b, "GET ");
    rc |= add(b, u->path);
    rc |= add(b, " HTTP/1.1\r\nHost: ");
    rc |= add(b, u->bracketed ? "[" : "");
    rc |= add(b, u->host);
    rc |= add(b, u->bracketed ? "]" : "");
    rc |= add(b, port);
    rc |= add(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    rc |= add(b, key);
    rc |= add(b, "\r\nSec-WebSocket-Version: 13\r\n");
    if (o->subprotocols && o->subprotocols[0]) {
        rc |= add(b, "Sec-WebSocket-Protocol: ");
        for (const char *const *p = o->subprotocols; *p; p++) {
            if (!**p || strpbrk(*p, " ,\r\n"))
                return -EINVAL;
            rc |= add(b, p == o->subprotocols ? "" : ", ");
            rc |= add(b, *p);
        }
        rc |= add(b, "\r\n");
    }
    if (offer && *offer) {
        rc |= add(b, "Sec-WebSocket-Extensions: ");
        rc |= add(b, offer);
        rc |= add(b, "\r\n");
    }
    if (o->origin) {
        if (strpbrk(o->origin, "\r\n"))
            return -EINVAL;
        rc |= add(b, "Origin: ");
        rc |= add(b, o->origin);
        rc |= add(b, "\r\n");
    }
    for (const char *const *h = o->headers; h && *h; h++) {
        if (strpbrk(*h, "\r\n") || !strchr(*h, ':'))
            return -EINVAL;
        rc |= add(b, *h);
        rc |= add(b, "\r\n");
    }
    rc |= add(b, "User-Agent: cio\r\n\r\n");
    return rc < 0 ? -ENOMEM : 0;
}

/* ---- the answer ----------------------------------------------------------------------- */

/* 1 if the comma-separated list v[0..n) holds tok (case-insensitive). */
static int list_has(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return 1;
    }
    return 0;
}

/* Checks the head in rbuf[0..head_len) against our request. */
static int check_answer(cio_ws *ws, const char *key, const cio_ws_options *o,
                        const struct cio__ws_pmd_config *cfg, int offered,
                        struct cio__ws_pmd_params *pmd, int *use_pmd)
{
    const char *h = (const char *)ws->rbuf, *end = h + ws->head_len - 2;
    if (ws->head_len < 16 || strncmp(h, "HTTP/1.1 101", 12) != 0 ||
        (h[12] != ' ' && h[12] != '\r'))
        return -EPROTO;
    int up = 0, conn = 0, accepts = 0, protos = 0;
    char ext[1024];
    size_t ext_len = 0;
    const char *proto = NULL;
    size_t proto_len = 0;
    const char *line = strstr(h, "\r\n") + 2;
    while (line < end) {
        const char *eol = line;
        while (eol + 1 < end + 2 && !(eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon)
            return -EPROTO;
        size_t nl = (size_t)(colon - line);
        const char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        const char *ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vl = (size_t)(ve - v);
#define IS(name) (nl == sizeof name - 1 && strncasecmp(line, name, nl) == 0)
        if (IS("upgrade"))
            up |= list_has(v, vl, "websocket");
        else if (IS("connection"))
            conn |= list_has(v, vl, "upgrade");
        else if (IS("sec-websocket-accept")) {
            accepts++;
            if (cio__ws_accept_check(key, strlen(key), v, vl) != 0)
                return -EPROTO;
        } else if (IS("sec-websocket-protocol")) {
            protos++;
            proto = v;
            proto_len = vl;
        } else if (IS("sec-websocket-extensions")) {
            if (ext_len + vl + 3 > sizeof ext)
                return -EPROTO;
            if (ext_len) {
                memcpy(ext + ext_len, ", ", 2);
                ext_len += 2;
            }
            memcpy(ext + ext_len, v, vl);
            ext_len += vl;
        }
#undef IS
        line = eol + 2;
    }
    if (!up || !conn || accepts != 1 || protos > 1)
        return -EPROTO;
    *use_pmd = 0;
    if (ext_len) {
        if (!offered)
            return -EPROTO; /* §4.1: an extension we did not ask for */
        int r = cio__ws_pmd_check_response(ext, ext_len, cfg, pmd);
        if (r < 0)
            return -EPROTO;
        *use_pmd = r;
    }
    if (protos) {
        const char *const *p = o->subprotocols;
        for (; p && *p; p++)
            if (strlen(*p) == proto_len && memcmp(*p, proto, proto_len) == 0)
                break;
        if (!p || !*p)
            return -EPROTO;
        if (!(ws->subprotocol = cio__malloc(proto_len + 1)))
            return -ENOMEM;
        memcpy(ws->subprotocol, proto, proto_len);
        ws->subprotocol[proto_len] = 0;
    }
    return 0;
}

/* ---- connect ---------------------------------------------------------------------------- */

static int handshake(cio_ws *ws, const struct url *u, const cio_ws_options *o)
{
    cio_transport_options to = {0};
    if (u->tls) {
        if (!cio_tls_available())
            return -ENOTSUP;
        if (o->tls) {
            to.tls = o->tls;
        } else {
            int rc = cio_tls_context_new(CIO_TLS_CLIENT, &ws->tls);
            if (rc < 0)
                return rc;
            ws->owns_tls = 1;
            to.tls = ws->tls;
        }
        to.server_hostname = u->host;
    }
    cio_transport *t;
    int rc = cio_create_connection(&cio__ws_protocol, ws, u->host, u->port, &to, &t);
    if (rc < 0)
        return rc;
    cio__ws_attach(ws, t);

    uint8_t nonce[16];
    char key[CIO__WS_KEY_LEN + 1];
    cio__ws_random(ws, nonce, sizeof nonce);
    cio__ws_key_make(nonce, key);
    struct cio__ws_pmd_config cfg;
    cio__ws_pmd_config_init(&cfg);
    cfg.server_no_context_takeover = (uint8_t)(o->server_no_context_takeover != 0);
    cfg.client_no_context_takeover = (uint8_t)(o->client_no_context_takeover != 0);
    cfg.server_max_window_bits = (uint8_t)o->server_max_window_bits;
    cfg.client_max_window_bits = (uint8_t)o->client_max_window_bits;
    char offer[CIO__WS_PMD_MAX_HEADER] = "";
    int offered = 0;
    if (!o->no_compression && cio__ws_deflate_available()) {
        rc = cio__ws_pmd_offer(&cfg, offer, sizeof offer);
        if (rc < 0)
            return rc;
        offered = rc > 0;
    }
    struct cio__ws_buf req = {0};
    rc = build_request(u, o, key, offer, &req);
    if (rc >= 0)
        rc = cio_transport_write(t, req.data, req.len);
    cio__ws_buf_free(&req);
    if (rc < 0)
        return rc;
    rc = cio_event_wait(ws->hs_done);
    if (rc < 0)
        return rc;
    if (ws->hs_err)
        return ws->hs_err == CIO_ECLOSED ? -EPROTO : ws->hs_err;
    struct cio__ws_pmd_params pmd;
    int use_pmd = 0;
    rc = check_answer(ws, key, o, &cfg, offered, &pmd, &use_pmd);
    if (rc < 0)
        return rc;
    ws->rpos = ws->head_len;
    rc = cio__ws_start(ws, use_pmd ? &pmd : NULL);
    if (rc < 0)
        return rc;
    cio__ws_process(ws); /* frames that came with the answer */
    return 0;
}

int cio_ws_connect(const char *url, const cio_ws_options *opts, cio_ws **out)
{
    struct url u;
    if (!url || !out || url_parse(url, &u) < 0)
        return -EINVAL;
    cio_ws *ws;
    int rc = cio__ws_new(0, opts, &ws);
    if (rc < 0)
        return rc;
    /* the borrowed lists are needed during the handshake only */
    cio_ws_options o = ws->opts;
    if (opts) {
        o.subprotocols = opts->subprotocols;
        o.headers = opts->headers;
        o.origin = opts->origin;
    }
    cio_timeout *tm = NULL;
    if (o.open_timeout >= 0 && (rc = cio_timeout_begin(o.open_timeout, &tm)) < 0) {
        cio__ws_unref(ws);
        return rc;
    }
    rc = handshake(ws, &u, &o);
    if (tm && cio_timeout_end(tm) == -ETIMEDOUT)
        rc = -ETIMEDOUT;
    if (rc < 0) {
        if (ws->t)
            cio_transport_abort(ws->t);
        cio__ws_unref(ws);
        return rc;
    }
    *out = ws;
    return 0;
}
