/*
 * transport_api.c - the public cio_transport_* functions: argument checks
 * and reference counting shared by every kind of transport, then a call
 * through the kind's method table (struct cio__transport_vt).
 */
#include <sys/socket.h>

#include "../util/internal.h"
#include "transport.h"

const cio_protocol cio__no_protocol;

int cio_transport_writelines(cio_transport *t, const struct iovec *iov, int iovcnt)
{
    if (!t || iovcnt < 0 || (iovcnt && !iov))
        return -EINVAL;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            return -EINVAL;
        total += iov[i].iov_len;
    }
    if (!t->vt->writelines)
        return -ENOTSUP;
    return t->vt->writelines(t, iov, iovcnt, total);
}

int cio_transport_write(cio_transport *t, const void *data, size_t len)
{
    if (!t || (!data && len))
        return -EINVAL;
    if (t->vt->write)
        return t->vt->write(t, data, len);
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    return cio_transport_writelines(t, &iov, 1);
}

int cio_transport_sendto(cio_transport *t, const void *data, size_t len,
                         const struct sockaddr *addr, socklen_t addrlen)
{
    if (!t || (!data && len))
        return -EINVAL;
    if (!t->vt->sendto)
        return -ENOTSUP;
    return t->vt->sendto(t, data, len, addr, addrlen);
}

int cio_transport_write_eof(cio_transport *t)
{
    if (!t)
        return -EINVAL;
    return t->vt->write_eof ? t->vt->write_eof(t) : -ENOTSUP;
}

int cio_transport_can_write_eof(const cio_transport *t)
{
    return t && t->vt->write_eof != NULL;
}

size_t cio_transport_get_write_buffer_size(const cio_transport *t)
{
    return t && t->vt->get_write_buffer_size ? t->vt->get_write_buffer_size(t) : 0;
}

int cio_transport_set_write_buffer_limits(cio_transport *t, size_t high, size_t low)
{
    if (!t)
        return -EINVAL;
    if (!t->vt->set_write_buffer_limits)
        return -ENOTSUP;
    return t->vt->set_write_buffer_limits(t, high, low);
}

void cio_transport_pause_reading(cio_transport *t)
{
    if (t && t->vt->pause_reading)
        t->vt->pause_reading(t);
}

void cio_transport_resume_reading(cio_transport *t)
{
    if (t && t->vt->resume_reading)
        t->vt->resume_reading(t);
}

int cio_transport_is_reading(const cio_transport *t)
{
    return t && t->vt->is_reading && t->vt->is_reading(t);
}

void cio_transport_close(cio_transport *t)
{
    if (t)
        t->vt->close(t);
}

void cio_transport_abort(cio_transport *t)
{
    if (t)
        t->vt->abort(t);
}

int cio_transport_is_closing(const cio_transport *t)
{
    return !t || t->vt->is_closing(t);
}

int cio_transport_fd(const cio_transport *t)
{
    if (!t)
        return -EINVAL;
    return t->vt->fd ? t->vt->fd(t) : -ENOTSUP;
}

int cio_transport_sockname(const cio_transport *t, struct sockaddr *addr, socklen_t *len)
{
    if (!t || !addr || !len)
        return -EINVAL;
    int fd = cio_transport_fd(t);
    if (fd < 0)
        return fd;
    return getsockname(fd, addr, len) < 0 ? -errno : 0;
}

int cio_transport_peername(const cio_transport *t, struct sockaddr *addr, socklen_t *len)
{
    if (!t || !addr || !len)
        return -EINVAL;
    int fd = cio_transport_fd(t);
    if (fd < 0)
        return fd;
    return getpeername(fd, addr, len) < 0 ? -errno : 0;
}

void cio_transport_set_protocol(cio_transport *t, const cio_protocol *proto, void *ud)
{
    if (!t)
        return;
    t->proto = proto ? proto : &cio__no_protocol;
    t->ud = ud;
}

cio_transport *cio_transport_ref(cio_transport *t)
{
    if (t)
        t->refs++;
    return t;
}

void cio_transport_unref(cio_transport *t)
{
    if (t)
        cio__transport_unref(t);
}
