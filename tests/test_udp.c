/*
 * test_udp.c - UDP datagram endpoints (cio_datagram_*) and the raw
 * sock_sendto/recvfrom: a Python UDP echo peer, sender addresses, a
 * connected endpoint, ICMP "port unreachable" as -ECONNREFUSED,
 * truncation, cancellation of a blocked receive, and close waking it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "net_peer.h"

static const char *udp_echo_peer =
    "import socket\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0))\n"
    "print(s.getsockname()[1], flush=True)\n"
    "s.settimeout(20)\n"
    "while True:\n"
    "    d, a = s.recvfrom(65536)\n"
    "    if d == b'quit': break\n"
    "    s.sendto(d.upper(), a)\n";

static int python_main(void *arg, void **result)
{
    peer *p = arg;
    cio_datagram *d;
    CHECK_RC(cio_datagram_open(NULL, 0, "127.0.0.1", p->port, 0, &d), 0);
    char buf[64];
    struct sockaddr_in from;
    for (int i = 0; i < 20; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "reading %d", i);
        CHECK_RC(cio_datagram_send(d, msg, (size_t)n), n);
        socklen_t fl = sizeof from;
        CHECK_RC(cio_datagram_recvfrom(d, buf, sizeof buf, (struct sockaddr *)&from, &fl), n);
        CHECK_EQ(ntohs(from.sin_port), p->port);
        CHECK(strncmp(buf, "READING", 7) == 0);
    }
    CHECK_RC(cio_datagram_send(d, "quit", 4), 4);
    cio_datagram_free(d);
    return 0;
}

static void test_python_echo(void)
{
    run_with_peer(udp_echo_peer, python_main);
}

/* ---- two endpoints in-process; sender address; refused; truncation -------- */

struct rx {
    cio_datagram *d;
    int rc;
};

static int receiver(void *arg, void **result)
{
    struct rx *r = arg;
    char b[16];
    r->rc = cio_datagram_recvfrom(r->d, b, sizeof b, NULL, NULL);
    return 0;
}

static int local_main(void *arg, void **result)
{
    cio_datagram *srv, *cli;
    CHECK_RC(cio_datagram_open("127.0.0.1", 0, NULL, 0, 0, &srv), 0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    CHECK_RC(cio_datagram_sockname(srv, (struct sockaddr *)&sa, &sl), 0);
    CHECK_RC(cio_datagram_open("127.0.0.1", 0, NULL, 0, 0, &cli), 0);
    struct sockaddr_in ca;
    socklen_t cl = sizeof ca;
    cio_datagram_sockname(cli, (struct sockaddr *)&ca, &cl);
    CHECK_RC(cio_datagram_sendto(cli, "hello", 5, (struct sockaddr *)&sa, sl), 5);
    char b[4];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    /* A datagram longer than the buffer is truncated. */
    CHECK_RC(cio_datagram_recvfrom(srv, b, sizeof b, (struct sockaddr *)&from, &fl), 4);
    CHECK_EQ(from.sin_port, ca.sin_port);
    CHECK_RC(cio_datagram_send(cli, "x", 1), -EDESTADDRREQ);
    /* Connected to a closed port: ICMP port unreachable. */
    cio_datagram *gone, *conn;
    CHECK_RC(cio_datagram_open("127.0.0.1", 0, NULL, 0, 0, &gone), 0);
    struct sockaddr_in ga;
    socklen_t gl = sizeof ga;
    cio_datagram_sockname(gone, (struct sockaddr *)&ga, &gl);
    cio_datagram_free(gone);
    CHECK_RC(cio_datagram_open(NULL, 0, "127.0.0.1", ntohs(ga.sin_port), 0, &conn), 0);
    CHECK_RC(cio_datagram_send(conn, "x", 1), 1);
    int rc = cio_datagram_recvfrom(conn, b, sizeof b, NULL, NULL);
    CHECK_RC(rc, -ECONNREFUSED);
    cio_datagram_free(conn);

    /* A blocked receive: cancelled, then woken by close. */
    struct rx r = {srv, 1};
    cio_task *t;
    CHECK_RC(cio_create_task(receiver, &r, "rx", &t), 0);
    cio_sleep(0.01);
    cio_task_cancel(t, NULL);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    CHECK_RC(r.rc, -ECANCELED);
    r.rc = 1;
    CHECK_RC(cio_create_task(receiver, &r, "rx2", &t), 0);
    cio_sleep(0.01);
    CHECK(!cio_task_done(t));
    cio_datagram_free(srv);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    CHECK_RC(r.rc, -EBADF);

    /* SO_REUSEPORT lets two endpoints share a port. */
    cio_datagram *a, *a2;
    CHECK_RC(cio_datagram_open("127.0.0.1", 0, NULL, 0, 1, &a), 0);
    struct sockaddr_in aa;
    socklen_t al = sizeof aa;
    cio_datagram_sockname(a, (struct sockaddr *)&aa, &al);
    CHECK_RC(cio_datagram_open("127.0.0.1", ntohs(aa.sin_port), NULL, 0, 1, &a2), 0);
    cio_datagram_free(a2);
    cio_datagram_free(a);
    cio_datagram_free(cli);
    CHECK_RC(cio_datagram_open(NULL, 0, NULL, 0, 0, &a), -EINVAL);
    return 0;
}

static void test_local(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(local_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

int main(void)
{
    RUN(test_python_echo);
    RUN(test_local);
    return test_finish();
}
