/*
 * datagram.c - UDP endpoints (asyncio's create_datagram_endpoint, as
 * coroutine calls rather than a protocol's callbacks): bind, connect,
 * send, and receive with the sender's address.  Each call is one op of
 * the I/O layer (src/io).  Making the bound and/or connected socket
 * (cio__datagram_socket) is shared with the datagram transport
 * (transport_datagram.c).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>

#include "../task/task.h"
#include "transport.h"

struct cio_datagram {
    int fd;                    /* the UDP socket */
};

static int resolve(const char *host, int port, int family, int passive,
                   struct addrinfo **res)
{
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_family = family,
                             .ai_flags = passive ? AI_PASSIVE : 0};
    return cio_getaddrinfo(host, portstr, &hints, res);
}

int cio__datagram_socket(const char *local_host, int local_port, const char *remote_host,
                         int remote_port, const struct cio__dgram_opts *o)
{
    struct addrinfo *lres = NULL, *rres = NULL;
    int rc = 0;
    if (remote_host && (rc = resolve(remote_host, remote_port, o->family, 0, &rres)) < 0)
        return rc;
    int family = rres ? rres->ai_family : o->family;
    if ((local_host || local_port || !family) &&
        (rc = resolve(local_host, local_port, family, 1, &lres)) < 0) {
        cio_freeaddrinfo(rres);
        return rc;
    }
    if (!family)
        family = lres->ai_family;
    int fd = cio_socket(family, SOCK_DGRAM, 0);
    rc = fd < 0 ? fd : 0;
    int one = 1;
    if (rc == 0 && o->reuse_port &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        rc = -errno;
    if (rc == 0 && o->allow_broadcast &&
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0)
        rc = -errno;
    if (rc == 0 && lres) {
        struct addrinfo *ai = lres;
        while (ai && ai->ai_family != family)
            ai = ai->ai_next;
        if (!ai)
            rc = -EAFNOSUPPORT;
        else if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
            rc = -errno;
    }
    if (rc == 0 && rres && connect(fd, rres->ai_addr, rres->ai_addrlen) < 0)
        rc = -errno; /* UDP connect does not wait */
    cio_freeaddrinfo(lres);
    cio_freeaddrinfo(rres);
    if (rc < 0) {
        if (fd >= 0)
            cio_fd_close(fd);
        return rc;
    }
    return fd;
}

int cio_datagram_open(const char *local_host, int local_port, const char *remote_host,
                      int remote_port, int reuse_port, cio_datagram **out)
{
    cio_loop *loop = cio__running_loop;
    if (!out || local_port < 0 || local_port > 65535 || remote_port < 0 ||
        remote_port > 65535 || (!local_host && !remote_host && !local_port))
        return cio__bad_arg(loop, __func__, "out NULL, port out of range, or no address");
    *out = NULL;
    if (!cio__current())
        return CIO_ENOTASK;
    cio_datagram *d = cio__malloc(sizeof *d);
    if (!d)
        return -ENOMEM;
    struct cio__dgram_opts o = {.reuse_port = reuse_port};
    int fd = cio__datagram_socket(local_host, local_port, remote_host, remote_port, &o);
    if (fd < 0) {
        cio__free(d);
        return fd;
    }
    d->fd = fd;
    *out = d;
    return 0;
}

int cio_datagram_send(cio_datagram *d, const void *buf, size_t len)
{
    if (!d)
        return cio__bad_arg(cio__running_loop, __func__, "endpoint is NULL");
    return cio_sock_sendto(d->fd, buf, len, NULL, 0);
}

int cio_datagram_sendto(cio_datagram *d, const void *buf, size_t len,
                        const struct sockaddr *addr, socklen_t addrlen)
{
    if (!d || !addr)
        return cio__bad_arg(cio__running_loop, __func__, "endpoint or addr is NULL");
    return cio_sock_sendto(d->fd, buf, len, addr, addrlen);
}

int cio_datagram_recvfrom(cio_datagram *d, void *buf, size_t len, struct sockaddr *addr,
                          socklen_t *addrlen)
{
    if (!d)
        return cio__bad_arg(cio__running_loop, __func__, "endpoint is NULL");
    /* d may be freed while this waits (another task closes it): only the
     * descriptor's value is used from here on. */
    return cio_sock_recvfrom(d->fd, buf, len, addr, addrlen);
}

int cio_datagram_sockname(cio_datagram *d, struct sockaddr *addr, socklen_t *addrlen)
{
    if (!d || !addr || !addrlen)
        return -EINVAL;
    return getsockname(d->fd, addr, addrlen) < 0 ? -errno : 0;
}

int cio_datagram_fd(const cio_datagram *d) { return d ? d->fd : -1; }

void cio_datagram_free(cio_datagram *d)
{
    if (!d)
        return;
    cio_fd_close(d->fd);
    cio__free(d);
}
