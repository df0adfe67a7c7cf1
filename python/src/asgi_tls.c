/*
 * asgi_tls.c - serve_asgi's TLS options (uvicorn's names): the server
 * cio_tls_context that makes cio's HTTP server speak HTTPS (and its
 * WebSocket upgrades WSS).
 *
 * cio's TLS is OpenSSL driven from C (include/cio/tls.h), not Python's
 * ssl module, so the options are file paths as uvicorn's are, never an
 * ssl.SSLContext.  The context is made when the _AsgiServer is made, so
 * a bad certificate or key fails serve_asgi before anything is served,
 * with the file named: FileNotFoundError / PermissionError for a file
 * that cannot be opened, ssl.SSLError for one OpenSSL refuses (not PEM,
 * the key does not match the certificate).
 */
#include "asgi.h"

#include <cio/tls.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* kw[k] as a path (str or os.PathLike; None or absent: NULL, 0).  *keep
 * holds the bytes object the path points into.  -1 with an exception. */
static int opt_path(PyObject *kw, const char *k, PyObject **keep, const char **out)
{
    *out = NULL;
    *keep = NULL;
    PyObject *v = kw ? PyDict_GetItemString(kw, k) : NULL;
    if (!v || v == Py_None)
        return 0;
    if (!PyUnicode_FSConverter(v, keep))
        return -1;
    *out = PyBytes_AS_STRING(*keep);
    return 0;
}

/* Raises the OSError for a file that cannot be opened (or returns 0). */
static int check_readable(const char *what, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    int e = errno;
    PyObject *msg = PyUnicode_FromFormat("%s: %s", what, strerror(e));
    PyObject *fn = PyUnicode_DecodeFSDefault(path);
    PyObject *exc = msg && fn ? PyObject_CallFunction(PyExc_OSError, "iOO", e, msg, fn) : NULL;
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc); /* FileNotFoundError, ... */
        Py_DECREF(exc);
    }
    Py_XDECREF(msg);
    Py_XDECREF(fn);
    return -1;
}

/* Raises ssl.SSLError (an OSError) with OpenSSL's reason for ctx. */
static int raise_tls(cio_tls_context *ctx, const char *what, int rc)
{
    const char *why = rc == CIO_ETLS ? cio_tls_context_error_message(ctx) : cio_strerror(rc);
    PyObject *ssl = PyImport_ImportModule("ssl");
    PyObject *cls = ssl ? PyObject_GetAttrString(ssl, "SSLError") : NULL;
    if (cls)
        PyErr_Format(cls, "%s: %s", what, why && *why ? why : cio_strerror(rc));
    Py_XDECREF(cls);
    Py_XDECREF(ssl);
    return -1;
}

int cio_asgi_tls_options(AsgiServer *S, PyObject *kw)
{
    PyObject *kcert, *kkey, *kca;
    const char *cert, *key, *ca;
    S->tls = NULL;
    if (opt_path(kw, "ssl_certfile", &kcert, &cert))
        return -1;
    if (opt_path(kw, "ssl_keyfile", &kkey, &key) || opt_path(kw, "ssl_ca_certs", &kca, &ca)) {
        Py_XDECREF(kcert);
        Py_XDECREF(kkey);
        return -1;
    }
    PyObject *pw = kw ? PyDict_GetItemString(kw, "ssl_keyfile_password") : NULL;
    PyObject *reqs_o = kw ? PyDict_GetItemString(kw, "ssl_cert_reqs") : NULL;
    long reqs = 0; /* ssl.CERT_NONE */
    int rc = -1;
    cio_tls_context *ctx = NULL;
    if (reqs_o && reqs_o != Py_None && (reqs = PyLong_AsLong(reqs_o)) == -1 && PyErr_Occurred())
        goto out;
    if (!cert) {
        if (key || ca || reqs || (pw && pw != Py_None)) {
            PyErr_SetString(PyExc_ValueError,
                            "ssl_keyfile, ssl_keyfile_password, ssl_ca_certs and "
                            "ssl_cert_reqs need ssl_certfile (the server's certificate)");
            goto out;
        }
        rc = 0; /* plain HTTP */
        goto out;
    }
    if (pw && pw != Py_None) {
        PyErr_SetString(PyExc_ValueError,
                        "ssl_keyfile_password is not supported: cio's TLS loads "
                        "unencrypted PEM keys only (decrypt the key first, e.g. "
                        "openssl pkey -in key.pem -out plain-key.pem)");
        goto out;
    }
    if (reqs != 0 && reqs != 2) {
        PyErr_Format(PyExc_ValueError,
                     "ssl_cert_reqs=%ld is not supported: cio's TLS takes ssl.CERT_NONE "
                     "(0) or ssl.CERT_REQUIRED (2), not CERT_OPTIONAL", reqs);
        goto out;
    }
    if (!cio_tls_available()) {
        PyErr_SetString(PyExc_RuntimeError, "cio was built without OpenSSL: no TLS");
        goto out;
    }
    if (check_readable("ssl_certfile", cert) || (key && check_readable("ssl_keyfile", key)) ||
        (ca && check_readable("ssl_ca_certs", ca)))
        goto out;
    int r = cio_tls_context_new(CIO_TLS_SERVER, &ctx);
    if (r < 0) {
        raise_tls(ctx, "making the TLS context", r);
        goto out;
    }
    static const char *const alpn[] = {"http/1.1"};
    /* the key may be in the certificate file, as ssl's load_cert_chain allows */
    if ((r = cio_tls_context_load_cert(ctx, cert, key ? key : cert)) < 0) {
        raise_tls(ctx, "ssl_certfile / ssl_keyfile", r);
        goto out;
    }
    if (ca && (r = cio_tls_context_load_ca(ctx, ca, NULL)) < 0) {
        raise_tls(ctx, "ssl_ca_certs", r);
        goto out;
    }
    if ((r = cio_tls_context_set_alpn(ctx, alpn, 1)) < 0 ||
        (r = cio_tls_context_set_verify(ctx, reqs == 2)) < 0) {
        raise_tls(ctx, "configuring TLS", r);
        goto out;
    }
    S->tls = ctx;
    S->opts.transport.tls = ctx;
    ctx = NULL;
    rc = 0;
out:
    cio_tls_context_free(ctx);
    Py_XDECREF(kcert);
    Py_XDECREF(kkey);
    Py_XDECREF(kca);
    return rc;
}
