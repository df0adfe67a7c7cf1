/*
 * asgi_scope.c - the ASGI 3 scope of a request served by cio's HTTP
 * server (asgi.c): "http", or "websocket" for an upgrade request
 * (asgi_ws.c); built on the loop's stack from the request's accessors.
 */
#include "asgi.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static PyObject *bytes_str(const char *s) { return PyBytes_FromString(s ? s : ""); }

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 32);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "%2F" -> "/": the scope's path is decoded (bad UTF-8 replaced). */
static PyObject *decoded_path(const char *p, size_t n)
{
    char small[512];
    char *buf = n < sizeof small ? small : PyMem_Malloc(n + 1);
    if (!buf)
        return PyErr_NoMemory();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int h1, h2;
        if (p[i] == '%' && i + 2 < n && (h1 = hexval(p[i + 1])) >= 0 &&
            (h2 = hexval(p[i + 2])) >= 0) {
            buf[k++] = (char)(h1 * 16 + h2);
            i += 2;
        } else {
            buf[k++] = p[i];
        }
    }
    PyObject *s = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)k, "replace");
    if (buf != small)
        PyMem_Free(buf);
    return s;
}

/* a.b.c.d into ip (inet_ntop's sprintf cost more than the rest of the
 * scope's client). */
static void ipv4_str(const struct in_addr *in, char *ip)
{
    const unsigned char *b = (const unsigned char *)&in->s_addr;
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (v >= 100)
            *ip++ = (char)('0' + v / 100);
        if (v >= 10)
            *ip++ = (char)('0' + v / 10 % 10);
        *ip++ = (char)('0' + v % 10);
        *ip++ = i < 3 ? '.' : '\0';
    }
}

static PyObject *addr_tuple(const struct sockaddr_storage *ss)
{
    char ip[INET6_ADDRSTRLEN];
    int port;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        ipv4_str(&a->sin_addr, ip);
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    } else {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(si)", ip, port);
}

/* The subprotocols a WebSocket client offers: every Sec-WebSocket-Protocol
 * field's comma-separated tokens, in order (a new list). */
static PyObject *subprotocols(cio_http_request *req)
{
    PyObject *list = PyList_New(0);
    size_t nh = cio_http_request_header_count(req);
    for (size_t i = 0; list && i < nh; i++) {
        const char *name, *v;
        if (cio_http_request_header_at(req, i, &name, &v) < 0 ||
            strcasecmp(name, "sec-websocket-protocol") != 0)
            continue;
        while (*v) {
            while (*v == ' ' || *v == '\t' || *v == ',')
                v++;
            const char *s = v;
            while (*v && *v != ',')
                v++;
            const char *e = v;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e == s)
                continue;
            PyObject *t = PyUnicode_DecodeLatin1(s, e - s, NULL);
            if (!t || PyList_Append(list, t) < 0) {
                Py_XDECREF(t);
                Py_CLEAR(list);
                break;
            }
            Py_DECREF(t);
        }
    }
    return list;
}

/* Keys and the values that repeat, made once (cio_asgi_scope_init). */
static PyObject *k_type, *k_asgi, *k_http_version, *k_method, *k_scheme, *k_path, *k_raw_path,
    *k_query_string, *k_root_path, *k_headers, *k_client, *k_server, *k_subprotocols,
    *k_extensions, *k_state;
static PyObject *v_http, *v_websocket, *v_11, *v_10, *v_scheme[4], *v_empty_str;
static PyObject *asgi_http, *asgi_ws; /* templates: each scope gets a copy */
static PyObject *methods[8];           /* the usual ones, interned */

/* The method's string: the usual ones shared, others made. */
static PyObject *method_str(const char *m)
{
    for (size_t i = 0; i < sizeof methods / sizeof *methods && methods[i]; i++)
        if (!strcmp(PyUnicode_AsUTF8(methods[i]), m))
            return Py_NewRef(methods[i]);
    return PyUnicode_FromString(m);
}

/* The path decoded; without a '%', straight from the bytes. */
static PyObject *path_str(const char *p, size_t n)
{
    if (!memchr(p, '%', n))
        return PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "replace");
    return decoded_path(p, n);
}

static int put(PyObject *d, PyObject *k, PyObject *v) /* steals v */
{
    if (!v)
        return -1;
    int rc = PyDict_SetItem(d, k, v);
    Py_DECREF(v);
    return rc;
}

/* What each HTTP scope of S starts as: every key in a fixed order, the
 * values that are the server's set, None for the rest (made on first use,
 * kept in S).  CPython copies a dict as one block, where a new dict grows
 * key by key and is resized twice on the way to thirteen keys. */
static PyObject *http_template(AsgiServer *S)
{
    if (S->scope_http)
        return S->scope_http;
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    PyObject *keys[] = {k_type,       k_asgi,     k_http_version, k_method,
                        k_scheme,     k_path,     k_raw_path,     k_query_string,
                        k_root_path,  k_headers,  k_client,       k_server,
                        k_state};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (PyDict_SetItem(d, keys[i], Py_None) < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    if (PyDict_SetItem(d, k_type, v_http) || PyDict_SetItem(d, k_http_version, v_11) ||
        PyDict_SetItem(d, k_scheme, v_scheme[S->tls != NULL]) ||
        PyDict_SetItem(d, k_root_path, S->root_path ? S->root_path : v_empty_str) ||
        PyDict_SetItem(d, k_server, S->server_addr)) {
        Py_DECREF(d);
        return NULL;
    }
    return S->scope_http = d;
}

PyObject *cio_asgi_scope(cio_http_request *req, AsgiServer *S, int websocket, long long *body)
{
    *body = 0;
    if (!S->server_addr && !(S->server_addr = Py_BuildValue("(Oi)", S->host, S->port)))
        return NULL;
    PyObject *d;
    if (websocket) {
        d = PyDict_New();
    } else {
        PyObject *t = http_template(S);
        d = t ? PyDict_Copy(t) : NULL;
    }
    if (!d)
        return NULL;
    const char *target = cio_http_request_target(req);
    const char *path = cio_http_request_path(req);
    const char *q = strchr(target, '?');
    size_t plen = strlen(path);
    size_t nh = cio_http_request_header_count(req);
    PyObject *headers = PyList_New((Py_ssize_t)nh);
    if (!headers)
        goto fail;
    for (size_t i = 0; i < nh; i++) {
        const char *name, *value;
        cio_http_request_header_at(req, i, &name, &value);
        size_t nl = strlen(name);
        PyObject *n = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)nl);
        if (!n) {
            Py_DECREF(headers);
            goto fail;
        }
        char *nb = PyBytes_AS_STRING(n);
        for (size_t j = 0; j < nl; j++)
            nb[j] = (char)(name[j] >= 'A' && name[j] <= 'Z' ? name[j] | 32 : name[j]);
        /* the server has checked the framing: at most one of the two */
        if (nl == 14 && memcmp(nb, "content-length", 14) == 0)
            *body = strtoll(value, NULL, 10);
        else if (nl == 17 && memcmp(nb, "transfer-encoding", 17) == 0)
            *body = -1;
        PyObject *v = bytes_str(value);
        PyObject *t = v ? PyTuple_Pack(2, n, v) : NULL;
        Py_DECREF(n);
        Py_XDECREF(v);
        if (!t) {
            Py_DECREF(headers);
            goto fail;
        }
        PyList_SET_ITEM(headers, (Py_ssize_t)i, t);
    }
    if (put(d, k_headers, headers) < 0)
        goto fail;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (put(d, k_client, cio_http_request_peer(req, (struct sockaddr *)&ss, &sl) == 0
                             ? addr_tuple(&ss)
                             : Py_NewRef(Py_None)) < 0)
        goto fail;
    int v11 = cio_http_request_version(req) != 0;
    if (put(d, k_asgi, PyDict_Copy(websocket ? asgi_ws : asgi_http)) ||
        ((websocket || !v11) && PyDict_SetItem(d, k_http_version, v11 ? v_11 : v_10)) ||
        (!websocket && put(d, k_method, method_str(cio_http_request_method(req)))) ||
        put(d, k_path, path_str(path, plen)) ||
        put(d, k_raw_path, PyBytes_FromStringAndSize(path, (Py_ssize_t)plen)) ||
        put(d, k_query_string, PyBytes_FromString(q ? q + 1 : "")))
        goto fail;
    if (!websocket)
        return d; /* the rest came with the template */
    if (PyDict_SetItem(d, k_type, v_websocket) ||
        PyDict_SetItem(d, k_scheme, v_scheme[2 + (S->tls != NULL)]) ||
        PyDict_SetItem(d, k_root_path, S->root_path ? S->root_path : v_empty_str) ||
        PyDict_SetItem(d, k_server, S->server_addr))
        goto fail;
    /* the WebSocket Denial Response extension: an HTTP answer instead */
    if (put(d, k_subprotocols, subprotocols(req)) ||
        put(d, k_extensions, Py_BuildValue("{s{}}", "websocket.http.response")))
        goto fail;
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

int cio_asgi_scope_init(void)
{
#define K_(var, str) ((var) = PyUnicode_InternFromString(str))
    if (!K_(k_type, "type") || !K_(k_asgi, "asgi") || !K_(k_http_version, "http_version") ||
        !K_(k_method, "method") || !K_(k_scheme, "scheme") || !K_(k_path, "path") ||
        !K_(k_raw_path, "raw_path") || !K_(k_query_string, "query_string") ||
        !K_(k_root_path, "root_path") || !K_(k_headers, "headers") ||
        !K_(k_client, "client") || !K_(k_server, "server") ||
        !K_(k_subprotocols, "subprotocols") || !K_(k_extensions, "extensions") ||
        !K_(k_state, "state") ||
        !K_(v_http, "http") || !K_(v_websocket, "websocket") || !K_(v_11, "1.1") ||
        !K_(v_10, "1.0") || !K_(v_scheme[0], "http") || !K_(v_scheme[1], "https") ||
        !K_(v_scheme[2], "ws") || !K_(v_scheme[3], "wss") || !K_(v_empty_str, ""))
        return -1;
    static const char *const usual[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH",
                                        "OPTIONS", "CONNECT"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (!K_(methods[i], usual[i]))
            return -1;
#undef K_
    asgi_http = Py_BuildValue("{ssss}", "version", "3.0", "spec_version", "2.3");
    asgi_ws = Py_BuildValue("{ssss}", "version", "3.0", "spec_version", "2.4");
    return asgi_http && asgi_ws ? 0 : -1;
}
