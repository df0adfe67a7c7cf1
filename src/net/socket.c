/*
 * socket.c - the public socket coroutines (asyncio's loop.sock_*), each a
 * thin wrapper that fills a struct cio__op and runs it (task/io_wait.c), plus
 * cio_socket, cio_fd_close, cio_wait_readable/writable and address
 * formatting.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../task/task.h"

int cio_socket(int domain, int type, int protocol)
{
    int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    return fd < 0 ? -errno : fd;
}

int cio_sock_recv_into(int fd, void *buf, size_t len)
{
    if (fd < 0)
        return -EBADF;
    if (!buf && len)
        return cio__bad_arg(cio__running_loop, __func__, "buf is NULL");
    if (len > INT_MAX)
        len = INT_MAX;
    return cio__op_recv(fd, buf, len, 0);
}

int cio_sock_recv(int fd, size_t nbytes, void **out)
{
    if (!out || !nbytes || nbytes > INT_MAX)
        return cio__bad_arg(cio__running_loop, __func__, "out NULL or nbytes 0 or > INT_MAX");
    *out = NULL;
    if (!cio__current())
        return CIO_ENOTASK;
    void *buf = cio__malloc(nbytes);
    if (!buf)
        return -ENOMEM;
    int n = cio__op_recv(fd, buf, nbytes, 0);
    if (n <= 0) {
        cio__free(buf);
        return n;
    }
    *out = buf;
    return n;
}

int cio_sock_sendall(int fd, const void *buf, size_t len)
{
    if (fd < 0)
        return -EBADF;
    if (!buf && len)
        return cio__bad_arg(cio__running_loop, __func__, "buf is NULL");
    if (!cio__current())
        return CIO_ENOTASK;
    const char *p = buf;
    while (len) {
        int n = cio__op_send(fd, p, len > INT_MAX ? INT_MAX : len, 0);
        if (n < 0)
            return n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cio_sock_recvfrom(int fd, void *buf, size_t len, struct sockaddr *addr,
                      socklen_t *addrlen)
{
    if (fd < 0)
        return -EBADF;
    if ((!buf && len) || (addr && !addrlen))
        return cio__bad_arg(cio__running_loop, __func__, "buf NULL, or addr without addrlen");
    struct cio__op op = {.kind = CIO__OP_RECVFROM, .fd = fd, .buf = buf,
                         .len = len > INT_MAX ? INT_MAX : len, .addr = addr,
                         .addrlen = addr ? addrlen : NULL};
    return cio__op_run(&op);
}

int cio_sock_sendto(int fd, const void *buf, size_t len, const struct sockaddr *addr,
                    socklen_t addrlen)
{
    if (fd < 0)
        return -EBADF;
    if ((!buf && len) || len > INT_MAX)
        return cio__bad_arg(cio__running_loop, __func__, "buf NULL or len > INT_MAX");
    struct cio__op op = {.kind = CIO__OP_SENDTO, .fd = fd, .buf = (void *)buf, .len = len,
                         .addr = (struct sockaddr *)addr, .addrlen_in = addrlen};
    return cio__op_run(&op);
}

int cio_sock_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    if (fd < 0)
        return -EBADF;
    if (!addr || !addrlen)
        return cio__bad_arg(cio__running_loop, __func__, "addr is NULL or empty");
    struct cio__op op = {.kind = CIO__OP_CONNECT, .fd = fd, .addr = (struct sockaddr *)addr,
                         .addrlen_in = addrlen};
    return cio__op_run(&op);
}

int cio_sock_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    if (fd < 0)
        return -EBADF;
    if (addr && !addrlen)
        return cio__bad_arg(cio__running_loop, __func__, "addr without addrlen");
    struct cio__op op = {.kind = CIO__OP_ACCEPT, .fd = fd, .addr = addr,
                         .addrlen = addr ? addrlen : NULL};
    return cio__op_run(&op);
}

/*
 * Level semantics on an edge-triggered registration: the ready bits may be
 * stale (consumed by reads made since), and an fd may be ready without an
 * edge ever dispatched (registered by another waiter).  So ask the kernel
 * with poll(0) first; if not ready, any later change raises an edge that
 * wakes the parked task.
 */
static int wait_ready(int fd, short pev, int write, const char *fn)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    cio_loop *loop = t->fut.loop;
    if (fd < 0) {
        cio__bad_arg(loop, fn, "fd is negative");
        return -EBADF;
    }
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    struct pollfd p = {.fd = fd, .events = pev};
    int r;
    do
        r = poll(&p, 1, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (p.revents & POLLNVAL)
        return -EBADF;
    if (r > 0)
        return 0;
    rc = cio__fd_wait(fd, write);
    if (rc == -EPERM)
        return -EPERM; /* a regular file: epoll refuses it */
    return rc;
}

int cio_wait_readable(int fd) { return wait_ready(fd, POLLIN, 0, __func__); }
int cio_wait_writable(int fd) { return wait_ready(fd, POLLOUT, 1, __func__); }

int cio_fd_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    return cio__fd_close(fd);
}

int cio_sockaddr_format(const struct sockaddr *addr, socklen_t addrlen, char *buf, size_t cap)
{
    if (!addr || !buf || !cap)
        return -EINVAL;
    char host[INET6_ADDRSTRLEN];
    int n;
    if (addr->sa_family == AF_INET && addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const void *)addr;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        n = snprintf(buf, cap, "%s:%u", host, ntohs(a->sin_port));
    } else if (addr->sa_family == AF_INET6 && addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = (const void *)addr;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        n = snprintf(buf, cap, "[%s]:%u", host, ntohs(a->sin6_port));
    } else if (addr->sa_family == AF_UNIX) {
        const struct sockaddr_un *a = (const void *)addr;
        size_t plen = addrlen > offsetof(struct sockaddr_un, sun_path)
                          ? addrlen - offsetof(struct sockaddr_un, sun_path) : 0;
        plen = strnlen(a->sun_path, plen < sizeof a->sun_path ? plen : sizeof a->sun_path);
        n = snprintf(buf, cap, "%.*s", (int)plen, a->sun_path);
    } else {
        buf[0] = 0;
        return -EINVAL;
    }
    return n < 0 ? -EINVAL : n;
}
