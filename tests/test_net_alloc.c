/*
 * test_net_alloc.c - allocation failures in the network layer: a server,
 * a client (open_connection), a round trip with a buffered write, a UDP
 * endpoint and DNS run again and again while the Nth allocation fails,
 * for every N until a run sees no failure.  Every run must end (a
 * watchdog cancels a stuck one), report failures as codes, and leak
 * nothing (ASan's leak check at exit).  Uses the thread pool for DNS:
 * CIO_TEST_THREADS.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "net_peer.h"

static int echo(cio_stream *s, void *arg)
{
    char line[64];
    int n;
    while ((n = cio_stream_readline(s, line, sizeof line)) > 0)
        if (cio_stream_write(s, line, (size_t)n) < 0 || cio_stream_drain(s) < 0)
            break;
    return 0;
}

static int scenario(void *arg, void **result)
{
    cio_server *srv;
    int rc = cio_start_server(echo, NULL, "127.0.0.1", 0, NULL, &srv);
    if (rc < 0)
        return rc;
    cio_stream *s;
    rc = cio_open_connection("127.0.0.1", cio_server_port(srv), NULL, &s);
    if (rc == 0) {
        static char big[300000];
        memset(big, 'a', sizeof big);
        big[sizeof big - 1] = '\n';
        rc = cio_stream_write(s, "hello\n", 6);
        if (rc == 0)
            rc = cio_stream_write(s, big, sizeof big); /* queues: a flusher runs */
        char line[64];
        if (rc == 0)
            rc = cio_stream_readline(s, line, sizeof line);
        cio_stream_close(s);
        cio_stream_unref(s);
    }
    cio_datagram *d;
    if (cio_datagram_open("127.0.0.1", 0, NULL, 0, 0, &d) == 0)
        cio_datagram_free(d);
    struct addrinfo *res = NULL;
    if (cio_getaddrinfo("localhost", "80", NULL, &res) == 0)
        cio_freeaddrinfo(res);
    cio_server_close(srv);
    cio_server_abort_clients(srv);
    cio_server_wait_closed(srv);
    cio_server_free(srv);
    return rc < 0 ? rc : 0;
}

static int guarded(void *arg, void **result)
{
    (void)result;
    return test_guarded(scenario, arg, 5.0);
}

static int every_run(long n, void *arg)
{
    int rc = cio_run(guarded, NULL, NULL);
    CHECK(rc <= 0);
    return rc;
}

static void test_every_allocation(void)
{
    int fds = count_fds();
    long n = test_alloc_sweep(every_run, NULL, 5000, 0) + 1;
    fprintf(stderr, "  %ld runs, one per allocation (%ld allocations in a clean run)\n", n,
            test_alloc_calls());
    CHECK(n > 10 && n < 5000);
    CHECK_EQ(count_fds(), fds);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_every_allocation);
    return test_finish();
}
