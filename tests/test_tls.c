/*
 * test_tls.c - TLS sessions: cio against cio (socketpair), against
 * `openssl s_server`, and against Python's ssl module; verification
 * failures (wrong host name, unknown CA), ALPN, clean shutdown, large
 * transfers, cancellation during the handshake, bad arguments.
 *
 * A self-signed certificate for localhost and 127.0.0.1 is made with the
 * openssl command in a temporary directory (tls_util.h); the test skips if
 * there is no openssl command or cio was built without OpenSSL.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tls_util.h" /* the certificate */
#include "task/task.h" /* white box: cio__fd_wait, cio__io_forget */

extern char **environ;

/* ---- cio client and cio server over a socketpair --------------------- */

struct pair {
    int fd;                 /* this side's socket */
    const char *host;       /* client: name to verify */
    int load_ca;            /* client: trust our certificate */
    int rc;                 /* handshake outcome */
    char error[256];        /* its message */
    char alpn[32];          /* ALPN chosen, "" if none */
    size_t echoed;          /* bytes round-tripped */
};

#define BIG (256 * 1024)

static int server_side(void *arg, void **result)
{
    struct pair *p = arg;
    cio_tls_context *ctx;
    CHECK_RC(cio_tls_context_new(CIO_TLS_SERVER, &ctx), 0);
    CHECK_RC(cio_tls_context_load_cert(ctx, cert, key), 0);
    const char *protos[] = {"http/1.1"};
    CHECK_RC(cio_tls_context_set_alpn(ctx, protos, 1), 0);
    cio_tls *tls;
    CHECK_RC(cio_tls_new(ctx, p->fd, NULL, &tls), 0);
    p->rc = cio_tls_handshake(tls);
    snprintf(p->error, sizeof p->error, "%s", cio_tls_error_message(tls));
    if (p->rc == 0) {
        /* Echo until the client's close_notify. */
        char *buf = malloc(65536);
        int n;
        while ((n = cio_tls_read(tls, buf, 65536)) > 0) {
            CHECK_RC(cio_tls_write(tls, buf, (size_t)n), n);
            p->echoed += (size_t)n;
        }
        CHECK_RC(n, 0);
        CHECK_RC(cio_tls_shutdown(tls), 0);
        free(buf);
    }
    cio_tls_free(tls);
    cio_tls_context_free(ctx);
    return 0;
}

static int client_side(void *arg, void **result)
{
    struct pair *p = arg;
    cio_tls_context *ctx;
    CHECK_RC(cio_tls_context_new(CIO_TLS_CLIENT, &ctx), 0);
    if (p->load_ca)
        CHECK_RC(cio_tls_context_load_ca(ctx, cert, NULL), 0);
    const char *protos[] = {"h2", "http/1.1"};
    CHECK_RC(cio_tls_context_set_alpn(ctx, protos, 2), 0);
    cio_tls *tls;
    CHECK_RC(cio_tls_new(ctx, p->fd, p->host, &tls), 0);
    p->rc = cio_tls_handshake(tls);
    snprintf(p->error, sizeof p->error, "%s", cio_tls_error_message(tls));
    if (p->rc == 0) {
        const char *a = cio_tls_alpn_selected(tls);
        snprintf(p->alpn, sizeof p->alpn, "%s", a ? a : "");
        CHECK(cio_tls_version(tls) != NULL);
        /* Send BIG bytes in one write while reading the echo back in a
         * second task would be natural; here: chunks, each echoed. */
        unsigned char *out = malloc(BIG), *in = malloc(BIG);
        for (size_t i = 0; i < BIG; i++)
            out[i] = (unsigned char)(i * 31 + 7);
        for (size_t off = 0; off < BIG; off += 16384) {
            CHECK_RC(cio_tls_write(tls, out + off, 16384), 16384);
            size_t got = 0;
            while (got < 16384) {
                int n = cio_tls_read(tls, in + off + got, 16384 - got);
                CHECK(n > 0);
                if (n <= 0)
                    break;
                got += (size_t)n;
            }
        }
        CHECK(memcmp(out, in, BIG) == 0);
        p->echoed = BIG;
        CHECK_RC(cio_tls_shutdown(tls), 0);
        free(out);
        free(in);
    }
    cio_tls_free(tls);
    cio_tls_context_free(ctx);
    return 0;
}

struct duo {
    struct pair c, s;
};

static int run_pair(void *arg, void **result)
{
    struct duo *d = arg;
    cio_task *ts, *tc;
    CHECK_RC(cio_create_task(server_side, &d->s, "tls-server", &ts), 0);
    CHECK_RC(cio_create_task(client_side, &d->c, "tls-client", &tc), 0);
    CHECK_RC(cio_task_await(tc, NULL), 0);
    /* A failed client handshake leaves the server waiting for data that
     * never comes: closing the client's end ends it. */
    if (d->c.rc != 0)
        shutdown(d->c.fd, SHUT_RDWR);
    CHECK_RC(cio_task_await(ts, NULL), 0);
    cio_task_unref(ts);
    cio_task_unref(tc);
    return 0;
}

static void pair_run(struct duo *d)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    d->c.fd = sv[0];
    d->s.fd = sv[1];
    CHECK_RC(cio_run(run_pair, d, NULL), 0);
    close(sv[0]);
    close(sv[1]);
}

static void tls_roundtrip(void)
{
    struct duo d = {.c = {.host = "localhost", .load_ca = 1}};
    pair_run(&d);
    CHECK_RC(d.c.rc, 0);
    CHECK_RC(d.s.rc, 0);
    CHECK(strcmp(d.c.alpn, "http/1.1") == 0);
    CHECK_EQ(d.c.echoed, BIG);
    CHECK_EQ(d.s.echoed, BIG);
}

static void tls_ip_address_name(void)
{
    struct duo d = {.c = {.host = "127.0.0.1", .load_ca = 1}};
    pair_run(&d);
    CHECK_RC(d.c.rc, 0);
}

static void tls_wrong_hostname(void)
{
    struct duo d = {.c = {.host = "example.com", .load_ca = 1}};
    pair_run(&d);
    CHECK_RC(d.c.rc, CIO_ETLS);
    CHECK(strstr(d.c.error, "hostname mismatch") != NULL);
    CHECK(d.s.rc < 0);
}

static void tls_unknown_ca(void)
{
    struct duo d = {.c = {.host = "localhost", .load_ca = 0}};
    pair_run(&d);
    CHECK_RC(d.c.rc, CIO_ETLS);
    CHECK(strstr(d.c.error, "self-signed") != NULL || strstr(d.c.error, "self signed") != NULL);
}

/* ---- against real peers ------------------------------------------------ */

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static int connect_retry(int port)
{
    for (int i = 0; i < 200; i++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
            return s;
        close(s);
        usleep(25000);
    }
    return -1;
}

struct tls_peer {
    int fd;
    int rc;
    char reply[64];
};

static int talk_to_s_server(void *arg, void **result)
{
    struct tls_peer *p = arg;
    cio_tls_context *ctx;
    CHECK_RC(cio_tls_context_new(CIO_TLS_CLIENT, &ctx), 0);
    CHECK_RC(cio_tls_context_load_ca(ctx, cert, NULL), 0);
    cio_tls *tls;
    CHECK_RC(cio_tls_new(ctx, p->fd, "localhost", &tls), 0);
    p->rc = cio_tls_handshake(tls);
    if (p->rc == 0) {
        CHECK_RC(cio_tls_write(tls, "hello\n", 6), 6);
        size_t got = 0;
        while (got < 6) {
            int n = cio_tls_read(tls, p->reply + got, sizeof p->reply - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        p->reply[got] = 0;
    }
    cio_tls_free(tls);
    cio_tls_context_free(ctx);
    return 0;
}

static void tls_against_openssl_s_server(void)
{
    int port = free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    char *argv[] = {"openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key,
                    "-rev", "-quiet", "-naccept", "1", NULL};
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        test_skip_case("no openssl command");
        return;
    }
    posix_spawn_file_actions_destroy(&fa);
    struct tls_peer p = {.fd = connect_retry(port)};
    CHECK(p.fd >= 0);
    if (p.fd >= 0) {
        CHECK_RC(cio_run(talk_to_s_server, &p, NULL), 0);
        CHECK_RC(p.rc, 0);
        /* -rev answers each line reversed. */
        CHECK(strncmp(p.reply, "olleh", 5) == 0);
        close(p.fd);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static int serve_one(void *arg, void **result)
{
    struct tls_peer *p = arg;
    int lfd = p->fd;
    cio_tls_context *ctx;
    CHECK_RC(cio_tls_context_new(CIO_TLS_SERVER, &ctx), 0);
    CHECK_RC(cio_tls_context_load_cert(ctx, cert, key), 0);
    int fd;
    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
        CHECK(errno == EAGAIN);
        CHECK_RC(cio__fd_wait(lfd, 0), 0);
    }
    cio_tls *tls;
    CHECK_RC(cio_tls_new(ctx, fd, NULL, &tls), 0);
    p->rc = cio_tls_handshake(tls);
    if (p->rc == 0) {
        char buf[64];
        int n = cio_tls_read(tls, buf, sizeof buf);
        CHECK(n > 0);
        if (n > 0) {
            for (int i = 0; i < n; i++)
                buf[i] = (char)(buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i]);
            CHECK_RC(cio_tls_write(tls, buf, (size_t)n), n);
        }
        cio_tls_shutdown(tls); /* Python may close without its notify */
    }
    cio_tls_free(tls);
    cio__io_forget(cio_get_running_loop(), fd);
    close(fd);
    cio__io_forget(cio_get_running_loop(), lfd);
    cio_tls_context_free(ctx);
    return 0;
}

static void tls_python_client(void)
{
    if (need_python() < 0)
        return;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(lfd, 8) == 0);
    getsockname(lfd, (struct sockaddr *)&a, &len);
    char script[1024], out[300];
    snprintf(out, sizeof out, "%s/py.out", dir);
    snprintf(script, sizeof script,
             "import socket, ssl\n"
             "c = ssl.create_default_context(cafile='%s')\n"
             "with socket.create_connection(('127.0.0.1', %d)) as s:\n"
             "    with c.wrap_socket(s, server_hostname='localhost') as t:\n"
             "        t.sendall(b'python says hi')\n"
             "        data = t.recv(100)\n"
             "        open('%s', 'w').write(data.decode() + '|' + t.version())\n",
             cert, ntohs(a.sin_port), out);
    char *argv[] = {PYTHON, "-c", script, NULL};
    pid_t pid;
    CHECK(posix_spawn(&pid, PYTHON, NULL, NULL, argv, environ) == 0);
    struct tls_peer p = {.fd = lfd};
    CHECK_RC(cio_run(serve_one, &p, NULL), 0);
    CHECK_RC(p.rc, 0);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char got[128] = {0};
    FILE *f = fopen(out, "r");
    CHECK(f != NULL);
    if (f) {
        CHECK(fgets(got, sizeof got, f) != NULL);
        fclose(f);
    }
    unlink(out);
    CHECK(strncmp(got, "PYTHON SAYS HI|TLSv1.", 21) == 0);
    close(lfd);
}

/* ---- cancellation during the handshake ---------------------------------- */

struct stalled {
    int fd;
    int rc;
};

static int stalled_client(void *arg, void **result)
{
    struct stalled *s = arg;
    cio_tls_context *ctx;
    CHECK_RC(cio_tls_context_new(CIO_TLS_CLIENT, &ctx), 0);
    cio_tls *tls;
    CHECK_RC(cio_tls_new(ctx, s->fd, "localhost", &tls), 0);
    s->rc = cio_tls_handshake(tls); /* the peer never answers */
    cio_tls_free(tls);
    cio_tls_context_free(ctx);
    return s->rc;
}

static int cancel_handshake(void *arg, void **result)
{
    struct stalled *s = arg;
    cio_task *t;
    CHECK_RC(cio_create_task(stalled_client, s, "stalled", &t), 0);
    CHECK_RC(cio_sleep(0.05), 0);
    CHECK(!cio_task_done(t));
    CHECK_RC(cio_task_cancel(t, "enough"), 1);
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    CHECK(cio_task_cancelled(t));
    cio__io_forget(cio_get_running_loop(), s->fd);
    cio_task_unref(t);
    return 0;
}

static void tls_cancel_during_handshake(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    struct stalled s = {.fd = sv[0]};
    CHECK_RC(cio_run(cancel_handshake, &s, NULL), 0);
    CHECK_RC(s.rc, -ECANCELED);
    close(sv[0]);
    close(sv[1]);
}

/* ---- bad arguments ------------------------------------------------------ */

static int outside_checks(void *arg, void **result) { return 0; }

static void tls_bad_arguments(void)
{
    cio_tls_context *ctx = (cio_tls_context *)1;
    CHECK_RC(cio_tls_context_new((cio_tls_role)7, &ctx), -EINVAL);
    CHECK(ctx == NULL);
    CHECK_RC(cio_tls_context_new(CIO_TLS_CLIENT, NULL), -EINVAL);
    CHECK_RC(cio_tls_context_new(CIO_TLS_SERVER, &ctx), 0);
    CHECK_RC(cio_tls_context_load_cert(ctx, "/nonexistent.pem", key), CIO_ETLS);
    CHECK(strlen(cio_tls_context_error_message(ctx)) > 0);
    CHECK_RC(cio_tls_context_load_cert(ctx, NULL, key), -EINVAL);
    CHECK_RC(cio_tls_context_load_ca(ctx, NULL, NULL), -EINVAL);
    const char *empty[] = {""};
    CHECK_RC(cio_tls_context_set_alpn(ctx, empty, 1), -EINVAL);
    CHECK_RC(cio_tls_context_set_alpn(ctx, empty, 0), -EINVAL);
    cio_tls *tls = (cio_tls *)1;
    CHECK_RC(cio_tls_new(ctx, -1, NULL, &tls), -EBADF);
    CHECK_RC(cio_tls_new(NULL, 0, NULL, &tls), -EINVAL);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_RC(cio_tls_new(ctx, sv[0], NULL, &tls), 0);
    CHECK_RC(cio_tls_handshake(tls), CIO_ENOTASK); /* not inside a task */
    CHECK_RC(cio_tls_read(NULL, NULL, 1), -EINVAL);
    CHECK_RC(cio_tls_write(NULL, "x", 1), -EINVAL);
    CHECK(cio_tls_version(tls) == NULL);
    CHECK(cio_tls_alpn_selected(tls) == NULL);
    cio_tls_free(tls);
    cio_tls_free(NULL);
    cio_tls_context_free(ctx);
    cio_tls_context_free(NULL);
    close(sv[0]);
    close(sv[1]);
    CHECK_RC(cio_run(outside_checks, NULL, NULL), 0);
}

int main(void)
{
    if (!cio_tls_available())
        TEST_SKIP("cio was built without OpenSSL");
    signal(SIGPIPE, SIG_IGN);
    make_cert();
    RUN(tls_roundtrip);
    RUN(tls_ip_address_name);
    RUN(tls_wrong_hostname);
    RUN(tls_unknown_ca);
    RUN(tls_against_openssl_s_server);
    RUN(tls_python_client);
    RUN(tls_cancel_during_handshake);
    RUN(tls_bad_arguments);
    remove_cert();
    return test_finish();
}
