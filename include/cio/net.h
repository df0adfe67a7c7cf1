/*
 * cio/net.h - sockets as coroutines (asyncio's loop.sock_* family), DNS
 * off the loop (loop.getaddrinfo/getnameinfo), and UDP datagram endpoints
 * (loop.create_datagram_endpoint).
 *
 * Every function works on plain file descriptors.  The socket functions
 * expect a non-blocking descriptor (cio_socket() makes one; accepted
 * sockets come non-blocking too); recv/send style calls use MSG_DONTWAIT,
 * so a blocking socket never blocks the loop either.  A descriptor that a
 * task waits on must be closed with cio_fd_close(), which tells the loop first.
 *
 * Calls marked "Suspends" may only be made inside a task (else CIO_ENOTASK)
 * and return -ECANCELED / -ETIMEDOUT when the task is cancelled or its
 * timeout scope expires.  One task at a time may wait on a descriptor in
 * each direction (-EBUSY otherwise).
 *
 * How it works: every call here fills an operation (src/io/io.h: recv,
 * send, recvfrom, sendto, accept, connect, read, write, close - "do this,
 * resume me with the result") and runs it on the loop's op backend.  With
 * epoll the backend tries the syscall and, on EAGAIN, parks the task on
 * the descriptor (registered once, edge-triggered); a read shorter than
 * its buffer marks the descriptor drained, so the next read parks at once
 * instead of making a syscall just to meet EAGAIN.  The io_uring backend
 * (src/io/uring.c; the default where the library was built with
 * liburing; the environment variable CIO_BACKEND chooses) submits the same
 * operations itself.
 */
#ifndef CIO_NET_H
#define CIO_NET_H

#include <sys/socket.h>
#include <netdb.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sockets ---------------------------------------------------------- */

/*
 * socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC added.  Returns the new
 * descriptor (owned by the caller; close it with cio_fd_close()) or -errno.
 * Does not suspend.
 */
CIO_EXTERN int cio_socket(int domain, int type, int protocol);

/*
 * loop.sock_recv: receives up to nbytes into a buffer allocated for the
 * caller (*out, free it with cio_free; NULL when 0 is returned).  Returns
 * the number of bytes received, 0 at end of stream, or -errno, -ENOMEM,
 * -EINVAL (nbytes 0 or > INT_MAX, out NULL).  Suspends until data arrives.
 */
CIO_EXTERN int cio_sock_recv(int fd, size_t nbytes, void **out);

/*
 * loop.sock_recv_into: receives up to len bytes into buf, which belongs to
 * the receive until the call returns: the loop fills it when the data
 * arrives, while this task is still suspended (as asyncio's selector loop
 * and io_uring do), so tasks waiting at the same time need buffers of
 * their own.  Returns the count, 0 at end of stream, or -errno
 * (-ECONNRESET, ...).  Suspends.
 */
CIO_EXTERN int cio_sock_recv_into(int fd, void *buf, size_t len);

/*
 * loop.sock_sendall: sends all len bytes of buf, waiting for room as
 * needed.  Returns 0 once everything is handed to the kernel, or -errno
 * (-EPIPE, -ECONNRESET, -ECANCELED...).  A failure after part of the data
 * went out cannot be undone: the stream position is then unknown and the
 * socket should be closed.  Suspends.
 */
CIO_EXTERN int cio_sock_sendall(int fd, const void *buf, size_t len);

/*
 * loop.sock_recvfrom: receives one datagram (up to len bytes; the rest of
 * a longer datagram is dropped) and the sender's address into addr
 * (*addrlen in: its size, out: the address length; both may be NULL).
 * Returns the byte count or -errno.  Suspends.
 */
CIO_EXTERN int cio_sock_recvfrom(int fd, void *buf, size_t len, struct sockaddr *addr,
                                 socklen_t *addrlen);

/*
 * loop.sock_sendto: sends one datagram to addr (NULL: the connected peer).
 * Returns the byte count or -errno.  Suspends while the socket buffer is
 * full.
 */
CIO_EXTERN int cio_sock_sendto(int fd, const void *buf, size_t len,
                               const struct sockaddr *addr, socklen_t addrlen);

/*
 * loop.sock_connect: connects fd to addr.  Returns 0 or -errno
 * (-ECONNREFUSED, -ENETUNREACH, ...).  On cancellation the connection
 * attempt may still be in progress: close the socket.  Suspends.
 */
CIO_EXTERN int cio_sock_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);

/*
 * loop.sock_accept: waits for a connection on the listening socket fd.
 * Returns the new socket (non-blocking, close-on-exec; owned by the
 * caller) and fills addr/addrlen as accept(2) (both may be NULL).
 * Errors: -errno (-EMFILE, -ENFILE, ...).  Suspends.
 */
CIO_EXTERN int cio_sock_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);

/*
 * Waits until fd (any pollable descriptor: socket, pipe, eventfd, tty) is
 * readable / writable.  Level semantics: returns at once if it is ready
 * now (checked with poll(2), since the edge-triggered registration's
 * readiness bits may be stale).  Returns 0, -EBADF if fd is closed with cio_fd_close() meanwhile, -EPERM
 * for regular files, -EBUSY if another task waits on the same fd and
 * direction or add_reader/add_writer callbacks watch it.  Suspends.
 */
CIO_EXTERN int cio_wait_readable(int fd);
CIO_EXTERN int cio_wait_writable(int fd);

/*
 * Closes fd: drops the loop's registration, wakes every task waiting on it
 * with -EBADF, then close(2).  Returns 0 or -errno from close.  Outside a
 * running loop it is close(2).  Does not suspend.
 */
CIO_EXTERN int cio_fd_close(int fd);

/* ---- addresses and DNS -------------------------------------------------- */

/*
 * loop.getaddrinfo: getaddrinfo(3) in the thread pool, so the loop never
 * blocks on DNS.  host or port may be NULL (not both); hints may be NULL.
 * port is a decimal number of digits only, 0..65535 ("8080"), or a
 * service name ("http", looked up in /etc/services); anything else
 * ("70000", "-1", " 80", "80x", "") fails with -EINVAL (named in debug
 * mode) where getaddrinfo(3) would silently keep the low 16 bits of a
 * number.  On success *res receives a list to free with
 * cio_freeaddrinfo().  Numeric hosts are resolved on the loop without a
 * thread.  Errors: CIO_EGAIERR + EAI_* (e.g. CIO_EGAIERR + EAI_NONAME for
 * an unknown name, + EAI_SERVICE for an unknown service; cio_strerror
 * names it), -ENOMEM, -EINVAL, -ECANCELED (at once, the lookup thread's
 * late answer is freed when it arrives).  Suspends.
 */
CIO_EXTERN int cio_getaddrinfo(const char *host, const char *port,
                               const struct addrinfo *hints, struct addrinfo **res);

/* Frees a list from cio_getaddrinfo().  NULL is a no-op. */
CIO_EXTERN void cio_freeaddrinfo(struct addrinfo *res);

/*
 * loop.getnameinfo: getnameinfo(3) in the thread pool.  host/serv (may be
 * NULL with length 0) receive NUL-terminated names.  Errors: CIO_EGAIERR +
 * EAI_*, -ENOMEM, -EINVAL, -ECANCELED.  Suspends.
 */
CIO_EXTERN int cio_getnameinfo(const struct sockaddr *addr, socklen_t addrlen, char *host,
                               size_t hostlen, char *serv, size_t servlen, int flags);

/*
 * Formats addr as "1.2.3.4:80", "[::1]:80" or the Unix path into buf
 * (always NUL-terminated).  Returns the length or -EINVAL.  Never suspends.
 */
CIO_EXTERN int cio_sockaddr_format(const struct sockaddr *addr, socklen_t addrlen,
                                   char *buf, size_t cap);

/* ---- UDP datagram endpoints ------------------------------------------- */

/* Opaque: one UDP socket, bound and optionally connected. */
typedef struct cio_datagram cio_datagram;

/*
 * loop.create_datagram_endpoint: a UDP socket bound to local_host:
 * local_port (local_host NULL: any address of the remote's family, port 0:
 * any port) and, if remote_host is non-NULL, connected to remote_host:
 * remote_port, so cio_datagram_send() needs no address and only the peer's
 * datagrams arrive.  Names resolve with cio_getaddrinfo.  reuse_port sets
 * SO_REUSEPORT.  *out is owned by the caller: cio_datagram_free().
 * Errors: -EINVAL (no address at all, out NULL), DNS and socket errors.
 * Suspends (DNS).
 */
CIO_EXTERN int cio_datagram_open(const char *local_host, int local_port,
                                 const char *remote_host, int remote_port,
                                 int reuse_port, cio_datagram **out);

/* Sends one datagram to the connected peer.  Returns the byte count or
 * -errno (-EDESTADDRREQ if not connected, -ECONNREFUSED after an ICMP
 * port unreachable).  Suspends while the socket buffer is full. */
CIO_EXTERN int cio_datagram_send(cio_datagram *d, const void *buf, size_t len);

/* Sends one datagram to addr.  As cio_datagram_send.  Suspends. */
CIO_EXTERN int cio_datagram_sendto(cio_datagram *d, const void *buf, size_t len,
                                   const struct sockaddr *addr, socklen_t addrlen);

/*
 * Receives one datagram (truncated to len) with the sender's address
 * (addr/addrlen may be NULL).  Returns its length or -errno;
 * -EBADF once the endpoint is closed by another task.  Suspends.
 */
CIO_EXTERN int cio_datagram_recvfrom(cio_datagram *d, void *buf, size_t len,
                                     struct sockaddr *addr, socklen_t *addrlen);

/* The bound local address (as getsockname).  Returns 0 or -errno. */
CIO_EXTERN int cio_datagram_sockname(cio_datagram *d, struct sockaddr *addr,
                                     socklen_t *addrlen);

/* The endpoint's socket (borrowed: do not close it). */
CIO_EXTERN int cio_datagram_fd(const cio_datagram *d);

/* Closes the socket (waking a task blocked in recvfrom with -EBADF) and
 * frees d.  NULL is a no-op.  Does not suspend. */
CIO_EXTERN void cio_datagram_free(cio_datagram *d);

#ifdef __cplusplus
}
#endif
#endif
