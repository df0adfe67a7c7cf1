/*
 * cio_net.c - cio's side of bench-net (see bench/net.py): a TCP echo
 * server on 127.0.0.1:PORT, in one of two styles:
 *
 *   bench_net PORT sock      raw socket coroutines: cio_sock_accept, then a
 *                            task per connection doing cio_sock_recv_into /
 *                            cio_sock_sendall (asyncio's loop.sock_* style);
 *   bench_net PORT streams   cio_start_server and buffered streams:
 *                            cio_stream_read / cio_stream_write /
 *                            cio_stream_drain (asyncio's streams);
 *   bench_net PORT transport cio_create_server and a protocol whose
 *                            data_received writes the bytes back
 *                            (asyncio's transports and protocols: no
 *                            task per connection).
 *
 * It runs until killed.  Each connection echoes every byte it receives.
 *
 * Memory per connection: the task styles receive into a buffer on the
 * connection task's stack.  A buffer handed to a receive that waits
 * belongs to that operation until it completes (the I/O layer fills it
 * when the data arrives, as asyncio's sock_recv_into and io_uring do), so
 * one buffer shared by all connections would be filled by several
 * receives at once.  Only the pages a message touches become resident, so
 * an idle connection costs its task's touched stack and a few small
 * structs.  The transport style keeps one read buffer per transport.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cio.h>

#define BUF 16384

static int sock_conn(void *arg, void **result)
{
    (void)result;
    int fd = (int)(intptr_t)arg;
    char shared[BUF];
    for (;;) {
        int n = cio_sock_recv_into(fd, shared, BUF);
        if (n <= 0)
            break;
        ssize_t k = send(fd, shared, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0 && errno != EAGAIN)
            break;
        if (k < n) {
            /* Short: keep the rest in memory of our own, then wait. */
            size_t off = k < 0 ? 0 : (size_t)k, rest = (size_t)n - off;
            char *own = malloc(rest);
            memcpy(own, shared + off, rest);
            int rc = cio_sock_sendall(fd, own, rest);
            free(own);
            if (rc < 0)
                break;
        }
    }
    cio_fd_close(fd);
    return 0;
}

static int sock_server(int port)
{
    int lfd = cio_socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0) {
        perror("bench_net: bind/listen");
        return 1;
    }
    for (;;) {
        int fd = cio_sock_accept(lfd, NULL, NULL);
        if (fd == -EMFILE || fd == -ENFILE) {
            cio_sleep(0.01);
            continue;
        }
        if (fd == -ECANCELED)
            return 0; /* SIGINT/SIGTERM cancelled the main task: stop */
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (cio_create_task(sock_conn, (void *)(intptr_t)fd, "conn", NULL) < 0)
            cio_fd_close(fd);
    }
}

static int stream_conn(cio_stream *s, void *arg)
{
    (void)arg;
    char shared[BUF];
    for (;;) {
        int n = cio_stream_read(s, shared, BUF);
        if (n <= 0 || cio_stream_write(s, shared, (size_t)n) < 0 || cio_stream_drain(s) < 0)
            break;
    }
    return 0;
}

static int streams_server(int port)
{
    cio_server *srv;
    cio_server_options o = {.backlog = 4096, .family = AF_INET};
    int rc = cio_start_server(stream_conn, NULL, "127.0.0.1", port, &o, &srv);
    if (rc < 0) {
        fprintf(stderr, "bench_net: start_server: %s\n", cio_strerror(rc));
        return 1;
    }
    rc = cio_server_serve_forever(srv);
    cio_server_free(srv);
    return rc;
}

/* ---- transports and protocols ---------------------------------------- */

static void echo_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    (void)ud;
    if (cio_transport_write(t, data, len) < 0)
        cio_transport_abort(t);
}

static const cio_protocol echo_protocol = {.data_received = echo_data};

static int echo_factory(void *arg, const cio_protocol **proto, void **ud)
{
    (void)arg;
    *proto = &echo_protocol;
    *ud = NULL;
    return 0;
}

static int transport_server(int port)
{
    cio_server *srv;
    cio_transport_options o = {.backlog = 4096, .family = AF_INET};
    int rc = cio_create_server(echo_factory, NULL, "127.0.0.1", port, &o, &srv);
    if (rc < 0) {
        fprintf(stderr, "bench_net: create_server: %s\n", cio_strerror(rc));
        return 1;
    }
    rc = cio_server_serve_forever(srv);
    cio_server_free(srv);
    return rc;
}

static int port_arg;
static const char *mode;

static int amain(void *arg, void **result)
{
    (void)arg;
    (void)result;
    if (!strcmp(mode, "streams"))
        return streams_server(port_arg);
    if (!strcmp(mode, "transport"))
        return transport_server(port_arg);
    return sock_server(port_arg);
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[2], "sock") && strcmp(argv[2], "streams") &&
                      strcmp(argv[2], "transport"))) {
        fprintf(stderr, "usage: bench_net PORT sock|streams|transport\n");
        return 2;
    }
    port_arg = atoi(argv[1]);
    mode = argv[2];
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    return cio_run(amain, NULL, NULL) == 0 ? 0 : 1;
}
