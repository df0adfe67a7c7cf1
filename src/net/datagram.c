/*
 * datagram.c - UDP endpoints (asyncio's create_datagram_endpoint, as
 * coroutine calls rather than a protocol's callbacks): bind, connect,
 * send, and receive with the sender's address.  Each call is one op of
 * the operation layer (op.c).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>

#include "../task/task.h"

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
    struct addrinfo *lres = NULL, *rres = NULL;
    int rc = 0;
    if (remote_host && (rc = resolve(remote_host, remote_port, 0, 0, &rres)) < 0)
        return rc;
    int family = rres ? rres->ai_family : 0;
    if ((local_host || local_port || !rres) &&
        (rc = resolve(local_host, local_port, family, 1, &lres)) < 0) {
        cio_freeaddrinfo(rres);
        return rc;
    }
    if (!family)
        family = lres->ai_family;
    cio_datagram *d = cio__malloc(sizeof *d);
    int fd = d ? cio_socket(family, SOCK_DGRAM, 0) : -ENOMEM;
    rc = fd < 0 ? fd : 0;
    if (rc == 0 && reuse_port) {
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
            rc = -errno;
    }
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
            cio_close(fd);
        cio__free(d);
        return rc;
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

void cio_datagram_close(cio_datagram *d)
{
    if (!d)
        return;
    cio_close(d->fd);
    cio__free(d);
}
