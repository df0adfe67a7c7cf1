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

static PyObject *addr_tuple(const struct sockaddr_storage *ss)
{
    char ip[INET6_ADDRSTRLEN];
    int port;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
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

static int set_item(PyObject *d, const char *k, PyObject *v)
{
    if (!v)
        return -1;
    int rc = PyDict_SetItemString(d, k, v);
    Py_DECREF(v);
    return rc;
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

PyObject *cio_asgi_scope(cio_http_request *req, AsgiServer *S, int websocket, long long *body)
{
    *body = 0;
    PyObject *d = PyDict_New();
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
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    PyObject *client = cio_http_request_peer(req, (struct sockaddr *)&ss, &sl) == 0
                           ? addr_tuple(&ss)
                           : (Py_INCREF(Py_None), Py_None);
    if (set_item(d, "type", PyUnicode_FromString(websocket ? "websocket" : "http")) ||
        set_item(d, "asgi", Py_BuildValue("{ssss}", "version", "3.0", "spec_version",
                                          websocket ? "2.4" : "2.3")) ||
        set_item(d, "http_version",
                 PyUnicode_FromString(cio_http_request_version(req) ? "1.1" : "1.0")) ||
        (!websocket &&
         set_item(d, "method", PyUnicode_FromString(cio_http_request_method(req)))) ||
        set_item(d, "scheme", PyUnicode_FromString(websocket ? (S->tls ? "wss" : "ws")
                                                             : (S->tls ? "https" : "http"))) ||
        set_item(d, "path", decoded_path(path, plen)) ||
        set_item(d, "raw_path", PyBytes_FromStringAndSize(path, (Py_ssize_t)plen)) ||
        set_item(d, "query_string", PyBytes_FromString(q ? q + 1 : "")) ||
        set_item(d, "root_path", PyUnicode_FromString("")) || set_item(d, "headers", headers) ||
        set_item(d, "client", client) ||
        set_item(d, "server", Py_BuildValue("(Oi)", S->host, S->port)))
        goto fail;
    /* the WebSocket Denial Response extension: an HTTP answer instead */
    if (websocket && (set_item(d, "subprotocols", subprotocols(req)) ||
                      set_item(d, "extensions",
                               Py_BuildValue("{s{}}", "websocket.http.response"))))
        goto fail;
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

