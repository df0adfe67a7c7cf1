/*
 * server.c - the server's opening handshake (RFC 6455 §4.2): the checks
 * of a client's upgrade request, the subprotocol and extension choices,
 * the 101 answer through cio_http_request_upgrade, and cio_ws_serve.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "handshake.h"

/* 1 if the comma-separated list v holds token tok (case-insensitive). */
static int has_token(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *s = v;
        while (*v && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0)
            return 1;
    }
    return 0;
}

/* 1 if any header field called name holds token tok. */
static int any_has_token(cio_http_request *req, const char *name, const char *tok)
{
    size_t n = cio_http_request_header_count(req);
    for (size_t i = 0; i < n; i++) {
        const char *hn, *hv;
        if (cio_http_request_header_at(req, i, &hn, &hv) == 0 && strcasecmp(hn, name) == 0 &&
            has_token(hv, tok))
            return 1;
    }
    return 0;
}

/* Counts the fields called name; *first gets the first one's value. */
static size_t count_header(cio_http_request *req, const char *name, const char **first)
{
    size_t n = cio_http_request_header_count(req), c = 0;
    *first = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *hn, *hv;
        if (cio_http_request_header_at(req, i, &hn, &hv) == 0 && strcasecmp(hn, name) == 0) {
            if (!c)
                *first = hv;
            c++;
        }
    }
    return c;
}

/* Joins every field called name with ", " (RFC 9110 §5.3) into a new
 * string (NULL with *err -ENOMEM, or NULL for none). */
static char *join_header(cio_http_request *req, const char *name, int *err)
{
    size_t n = cio_http_request_header_count(req), len = 0;
    char *out = NULL;
    *err = 0;
    for (size_t i = 0; i < n; i++) {
        const char *hn, *hv;
        if (cio_http_request_header_at(req, i, &hn, &hv) != 0 || strcasecmp(hn, name) != 0)
            continue;
        size_t vl = strlen(hv);
        char *nb = cio__realloc(out, len + vl + 3);
        if (!nb) {
            cio__free(out);
            *err = -ENOMEM;
            return NULL;
        }
        out = nb;
        if (len) {
            memcpy(out + len, ", ", 2);
            len += 2;
        }
        memcpy(out + len, hv, vl);
        len += vl;
        out[len] = 0;
    }
    return out;
}

/* Answers a refused handshake; returns -EPROTO. */
static int refuse(cio_http_request *req, int status, const char *hname, const char *hval,
                  const char *why)
{
    if (hname)
        cio_http_response_header(req, hname, hval);
    cio_http_respond_text(req, status, why);
    return -EPROTO;
}

/* The subprotocol to answer with: the first of ours the client offered. */
static const char *pick_subprotocol(cio_http_request *req, const char *const *ours)
{
    for (; ours && *ours; ours++)
        if (any_has_token(req, "sec-websocket-protocol", *ours))
            return *ours;
    return NULL;
}

int cio_ws_accept(cio_http_request *req, const cio_ws_options *opts, cio_ws **out)
{
    if (!req || !out)
        return -EINVAL;
    cio_ws *ws;
    int rc = cio__ws_new(1, opts, &ws);
    if (rc < 0)
        return rc;
    const cio_ws_options *o = &ws->opts;
    const char *v;
    if (strcmp(cio_http_request_method(req), "GET") != 0)
        rc = refuse(req, 405, "Allow", "GET", "WebSocket: the handshake is a GET\n");
    else if (cio_http_request_version(req) < 1)
        rc = refuse(req, 400, NULL, NULL, "WebSocket: HTTP/1.1 required\n");
    else if (count_header(req, "host", &v) != 1)
        rc = refuse(req, 400, NULL, NULL, "WebSocket: one Host header required\n");
    else if (!any_has_token(req, "upgrade", "websocket") ||
             !any_has_token(req, "connection", "upgrade"))
        rc = refuse(req, 426, "Upgrade", "websocket", "WebSocket: upgrade required\n");
    else if (count_header(req, "sec-websocket-version", &v) != 1 || strcmp(v, "13") != 0)
        rc = refuse(req, 426, "Sec-WebSocket-Version", "13",
                    "WebSocket: unsupported version\n");
    else if (count_header(req, "sec-websocket-key", &v) != 1 ||
             cio__ws_key_check(v, strlen(v)) < 0)
        rc = refuse(req, 400, NULL, NULL, "WebSocket: bad Sec-WebSocket-Key\n");
    if (rc < 0) {
        cio__ws_unref(ws);
        return rc;
    }
    char accept[CIO__WS_ACCEPT_LEN + 1];
    cio__ws_accept(v, strlen(v), accept);

    struct cio__ws_pmd_params pmd;
    int use_pmd = 0;
    int err;
    char *ext = join_header(req, "sec-websocket-extensions", &err);
    if (err < 0) {
        cio__ws_unref(ws);
        return err;
    }
    if (ext && !o->no_compression && cio__ws_deflate_available()) {
        struct cio__ws_pmd_config cfg;
        cio__ws_pmd_config_init(&cfg);
        cfg.server_no_context_takeover = (uint8_t)(o->server_no_context_takeover != 0);
        cfg.client_no_context_takeover = (uint8_t)(o->client_no_context_takeover != 0);
        cfg.server_max_window_bits = (uint8_t)o->server_max_window_bits;
        cfg.client_max_window_bits = (uint8_t)o->client_max_window_bits;
        use_pmd = cio__ws_pmd_negotiate(ext, strlen(ext), &cfg, &pmd);
    }
    cio__free(ext);
    if (use_pmd < 0) {
        cio__ws_unref(ws);
        return use_pmd == -EPROTO ? refuse(req, 400, NULL, NULL,
                                           "WebSocket: bad Sec-WebSocket-Extensions\n")
                                  : use_pmd;
    }
    const char *sub = pick_subprotocol(req, opts ? opts->subprotocols : NULL);
    rc = cio_http_response_header(req, "Sec-WebSocket-Accept", accept);
    if (rc >= 0 && sub)
        rc = cio_http_response_header(req, "Sec-WebSocket-Protocol", sub);
    if (rc >= 0 && use_pmd) {
        char resp[CIO__WS_PMD_MAX_HEADER];
        rc = cio__ws_pmd_response(&pmd, resp, sizeof resp);
        if (rc >= 0)
            rc = cio_http_response_header(req, "Sec-WebSocket-Extensions", resp);
    }
    if (rc >= 0 && sub && !(ws->subprotocol = cio__malloc(strlen(sub) + 1)))
        rc = -ENOMEM;
    if (rc < 0) {
        cio__ws_unref(ws);
        return rc;
    }
    if (sub)
        strcpy(ws->subprotocol, sub);
    cio_transport *t;
    int extra = cio_http_request_upgrade(req, "websocket", &cio__ws_protocol, ws, &t);
    if (extra < 0) {
        cio__ws_unref(ws);
        return extra;
    }
    cio__ws_attach(ws, t);
    ws->rpaused = 1; /* the HTTP server paused reading for its handler */
    /* the server's graceful shutdown sends us close 1001 */
    rc = cio_http_request_on_shutdown(req, cio__ws_going_away, ws, &ws->hook);
    if (rc >= 0)
        rc = cio__ws_start(ws, use_pmd ? &pmd : NULL);
    if (rc < 0 || extra > 0) {
        /* §4.1: the client may not send frames before it has our answer */
        cio__ws_fail(ws, rc < 0 ? CIO__WS_CLOSE_INTERNAL : CIO__WS_CLOSE_PROTOCOL,
                     rc < 0 ? "out of memory" : "data before the handshake completed");
        cio__ws_unref(ws);
        return rc < 0 ? rc : -EPROTO;
    }
    *out = ws;
    return 0;
}

int cio_ws_serve(cio_http_request *req, const cio_ws_options *opts, cio_ws_handler_fn *handler,
                 void *ud)
{
    if (!handler)
        return -EINVAL;
    cio_ws *ws;
    int rc = cio_ws_accept(req, opts, &ws);
    if (rc < 0)
        return rc;
    rc = handler(ws, ud);
    if (cio_ws_is_open(ws))
        cio_ws_close(ws, rc < 0 ? 1011 : 1000, NULL);
    else if (rc != -ECANCELED)
        cio_ws_wait_closed(ws);
    cio_ws_free(ws);
    return rc;
}
