/*
 * transport_open.c - making client transports: loop.create_connection,
 * create_unix_connection and connect_accepted_socket.  The connecting
 * (DNS, happy eyeballs) is the streams' own (connect.c); only what comes
 * after differs: a transport and its protocol instead of a stream.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/un.h>
#include <unistd.h>

#include "../task/task.h"
#include "stream.h"
#include "tls_transport.h"
#include "transport.h"

/* With opts->tls, wraps raw (started here) in a TLS transport and waits
 * for the handshake: 0 and *out the TLS transport (the caller's
 * reference), or the error with everything closed.  Suspends. */
static int finish_tls(cio_transport *raw, const cio_protocol *proto, void *ud,
                      const cio_transport_options *opts, const char *name,
                      cio_transport **out)
{
    if (!cio__current()) {
        cio__transport_discard(raw);
        return CIO_ENOTASK;
    }
    cio_transport *t;
    int rc = cio__tls_transport_new(raw, opts->tls, cio__tls_context_is_server(opts->tls),
                                    name, opts, &t);
    if (rc < 0) {
        cio__transport_discard(raw);
        return rc;
    }
    t->refs++; /* the caller's */
    cio__tls_transport_start(t, proto, ud);
    rc = cio__tls_transport_wait(t);
    if (rc < 0) {
        cio_transport_unref(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* Wraps connected fd (closed on failure) and starts the protocol; over
 * TLS when opts ask for it, name being the server name to check. */
static int finish(cio_loop *loop, int fd, const cio_protocol *proto, void *ud,
                  const cio_transport_options *opts, const char *name, cio_transport **out)
{
    cio_transport *t;
    int rc = cio__transport_new(loop, fd, opts, &t);
    if (rc < 0) {
        cio_fd_close(fd);
        return rc;
    }
    if (opts && opts->tls)
        return finish_tls(t, proto, ud, opts, name, out);
    t->refs++; /* the caller's */
    *out = t;
    cio__transport_start(t, proto, ud);
    return 0;
}

/* The name a TLS client checks: opts->server_hostname, else host. */
static const char *tls_name(const cio_transport_options *opts, const char *host)
{
    return opts && opts->server_hostname ? opts->server_hostname : host;
}

/* A connecting call's TLS options are checked before it connects, so a
 * bad one has nothing to undo: a client context, and a name if it checks
 * names.  0 or -EINVAL. */
static int check_client(cio_loop *loop, const cio_transport_options *opts, const char *name,
                        const char *fn)
{
    if (!opts || !opts->tls)
        return 0;
    if (cio__tls_context_is_server(opts->tls))
        return cio__bad_arg(loop, fn, "opts->tls is a server context");
    return cio__tls_check_name(opts->tls, name, fn);
}

int cio_create_connection(const cio_protocol *proto, void *ud, const char *host, int port,
                          const cio_transport_options *opts, cio_transport **out)
{
    cio_loop *loop = cio__running_loop;
    if (!out || !proto || !host || port < 0 || port > 65535)
        return cio__bad_arg(loop, __func__, "proto/out/host NULL or port out of range");
    *out = NULL;
    if (!cio__current())
        return CIO_ENOTASK;
    int rc = check_client(loop, opts, tls_name(opts, host), __func__);
    if (rc < 0)
        return rc;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG,
                             .ai_family = opts ? opts->family : 0};
    if (!strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1"))
        hints.ai_flags = 0; /* loopback works without a configured address */
    struct addrinfo *res = NULL;
    rc = cio_getaddrinfo(host, portstr, &hints, &res);
    if (rc < 0)
        return rc;
    double delay = opts && opts->happy_eyeballs_delay ? opts->happy_eyeballs_delay : 0.25;
    int fd = cio__connect_addrs(res, delay);
    cio_freeaddrinfo(res);
    if (fd < 0)
        return fd;
    if (!(opts && opts->no_nodelay))
        cio__set_nodelay(fd);
    return finish(loop, fd, proto, ud, opts, tls_name(opts, host), out);
}

int cio_create_unix_connection(const cio_protocol *proto, void *ud, const char *path,
                               const cio_transport_options *opts, cio_transport **out)
{
    cio_loop *loop = cio__running_loop;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!out || !proto || !path || !path[0] || strlen(path) >= sizeof sa.sun_path)
        return cio__bad_arg(loop, __func__, "proto/out NULL or path empty or too long");
    *out = NULL;
    if (!cio__current())
        return CIO_ENOTASK;
    int rc = check_client(loop, opts, tls_name(opts, NULL), __func__);
    if (rc < 0)
        return rc;
    size_t len = strlen(path);
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = 0;
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                                 (path[0] == '@' ? 0 : 1));
    int fd = cio_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return fd;
    rc = cio_sock_connect(fd, (struct sockaddr *)&sa, alen);
    if (rc < 0) {
        cio_fd_close(fd);
        return rc;
    }
    return finish(loop, fd, proto, ud, opts, tls_name(opts, NULL), out);
}

int cio_connect_accepted_socket(const cio_protocol *proto, void *ud, int fd,
                                const cio_transport_options *opts, cio_transport **out)
{
    cio_loop *loop = cio__running_loop;
    if (!out || !proto || fd < 0)
        return cio__bad_arg(loop, __func__, "proto/out NULL or fd negative");
    *out = NULL;
    if (!loop)
        return CIO_ENOLOOP;
    if (opts && opts->tls) {
        if (!cio__current())
            return CIO_ENOTASK;
        int rc = cio__tls_context_is_server(opts->tls)
                     ? 0
                     : cio__tls_check_name(opts->tls, opts->server_hostname, __func__);
        if (rc < 0)
            return rc; /* fd is still the caller's */
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
        return -errno;
    cio_transport *t;
    int rc = cio__transport_new(loop, fd, opts, &t);
    if (rc < 0)
        return rc;
    if (opts && opts->tls)
        return finish_tls(t, proto, ud, opts, opts->server_hostname, out);
    t->refs++;
    *out = t;
    cio__transport_start(t, proto, ud);
    return 0;
}
