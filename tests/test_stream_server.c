/*
 * test_stream_server.c - a server's streams past their handlers and the
 * server's graceful end: cio_stream_ref and cio_server_shutdown.
 *
 * Retain: a broadcast (a chat room) writes to and drains other clients'
 * streams; a client that leaves ends its handler, and the server closes
 * and releases its hold, while the room still holds the stream.  The
 * room's write must fail cleanly (CIO_ECLOSED, or the connection's error)
 * and nothing may be used after it was freed (run under ASan).  A hold
 * that is not the last one must not end the stream either.
 *
 * Shutdown: an idle keep-alive client (its handler waits between
 * requests), a busy handler that finishes within the deadline, a request
 * whose bytes are still arriving, and a handler that would never finish.
 * The idle one ends at once, the busy one and the partial request finish
 * and their replies arrive, the stuck one is cancelled at the deadline;
 * the call returns -ETIMEDOUT then, or 0 when nothing had to be cut.
 * Also: no limit, timeout 0, a cancelled caller, an enclosing timeout
 * scope, bad arguments, and a protocol-mode server (cio_create_server),
 * whose connections only their protocols end.
 *
 * Everything runs over real TCP sockets on loopback, clients being
 * streams of the same loop.
 */
#include <math.h>

#include "helpers.h"

/* Settling waits and upper time bounds, stretched on slow machines and
 * under sanitizers (CIO_TEST_TIMEOUT_MULTIPLIER). */
#define SLOW(x) ((x) * test_timeout_multiplier())

/* ---- shared: a server on 127.0.0.1 and its clients ------------------------- */

static cio_stream *connect_to(cio_server *srv)
{
    cio_stream *s = NULL;
    CHECK_RC(cio_open_connection("127.0.0.1", cio_server_port(srv), NULL, &s), 0);
    return s;
}

/* Sends a line and reads the answer line into buf; its length or error. */
static int ask(cio_stream *s, const char *line, char *buf, size_t cap)
{
    int rc = cio_stream_write(s, line, strlen(line));
    if (rc < 0)
        return rc;
    return cio_stream_readline(s, buf, cap);
}

/* ---- cio_stream_ref: a chat room ---------------------------------------------- */

#define ROOM_MAX 4

struct room {
    cio_stream *members[ROOM_MAX]; /* held with cio_stream_ref */
    int n;
    int handlers_done;         /* handlers that returned */
    int failed_writes;         /* broadcasts to a member that had left */
    int last_write_error;      /* what such a write or drain returned */
};

/* Sends line to every member (including the sender), as a broadcast does:
 * write and drain each in turn.  A member that left fails cleanly. */
static void broadcast(struct room *r, const char *line, size_t len)
{
    for (int i = 0; i < r->n; i++) {
        cio_stream *m = r->members[i];
        int rc = cio_stream_write(m, line, len);
        if (rc == 0)
            rc = cio_stream_drain(m);
        if (rc < 0) {
            r->failed_writes++;
            r->last_write_error = rc;
        }
    }
}

/* Each client joins the room, then every line it sends is broadcast.  It
 * never leaves the room: the room keeps its hold after the handler
 * returned, as a broadcaster racing the handler's end would. */
static int chat_handler(cio_stream *s, void *arg)
{
    struct room *r = arg;
    if (r->n < ROOM_MAX)
        r->members[r->n++] = cio_stream_ref(s);
    char line[128];
    int n;
    while ((n = cio_stream_readline(s, line, sizeof line)) > 0)
        broadcast(r, line, (size_t)n);
    r->handlers_done++;
    return 0;
}

static int chat_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct room r = {0};
    cio_server *srv = NULL;
    CHECK_RC(cio_start_server(chat_handler, &r, "127.0.0.1", 0, NULL, &srv), 0);
    cio_stream *a = connect_to(srv), *b = connect_to(srv);
    if (!a || !b)
        return -1;
    while (r.n < 2)
        cio_sleep(0.001);
    char buf[128];
    /* Both in the room: a line from a reaches both. */
    CHECK_RC(ask(a, "hello\n", buf, sizeof buf), 6);
    CHECK_RC(cio_stream_readline(b, buf, sizeof buf), 6);
    CHECK(memcmp(buf, "hello\n", 6) == 0);

    /* b leaves: its handler sees the end, returns, and the server closes
     * and drops its hold on b's stream.  Only the room holds it now. */
    CHECK_RC(cio_stream_write_eof(b), 0);
    CHECK_RC(cio_stream_readline(b, buf, sizeof buf), 0); /* the server closed */
    cio_stream_unref(b);
    while (r.handlers_done < 1)
        cio_sleep(0.001);
    cio_sleep(0.01); /* the server's side is closed for good */

    /* a's next line is broadcast to b's stream as well: that write fails
     * cleanly, and a still gets its own copy. */
    CHECK_RC(ask(a, "anyone?\n", buf, sizeof buf), 8);
    CHECK_EQ(r.failed_writes, 1);
    CHECK(r.last_write_error == CIO_ECLOSED || r.last_write_error == -EPIPE ||
          r.last_write_error == -ECONNRESET);
    CHECK(cio_stream_is_closing(r.members[1]));

    cio_stream_unref(a);
    CHECK_RC(cio_server_shutdown(srv, 5), 0);
    CHECK_EQ(r.handlers_done, 2);
    /* The room lets go last: these holds free the streams (ASan checks
     * that nothing touched them after). */
    for (int i = 0; i < r.n; i++)
        cio_stream_unref(r.members[i]);
    cio_server_free(srv);
    return 0;
}

static void test_retain_broadcast(void) { CHECK_RC(cio_run(chat_main, NULL, NULL), 0); }

/* A broadcaster parked in drain on a peer's stream (the peer reads
 * nothing) while that peer's handler returns and the server releases the
 * stream; then the peer goes away.  The drain ends with an error, and
 * the broadcaster's release is the last. */
struct drainer {
    cio_stream *peer;          /* a retained hold */
    int rc;                    /* what the drain returned */
    int done;
};

static int drainer_task(void *arg, void **result)
{
    (void)result;
    struct drainer *d = arg;
    static char big[32 << 20]; /* more than the kernel buffers on loopback */
    int rc = cio_stream_write(d->peer, big, sizeof big);
    d->rc = rc < 0 ? rc : cio_stream_drain(d->peer); /* the peer reads nothing */
    cio_stream_unref(d->peer);
    d->done = 1;
    return 0;
}

struct lender {
    struct drainer *d;         /* where to lend the stream */
    int returned;              /* the handler returned */
};

/* Lends its stream to a broadcaster, then returns as soon as the client
 * half-closes. */
static int lend_handler(cio_stream *s, void *arg)
{
    struct lender *l = arg;
    l->d->peer = cio_stream_ref(s);
    cio_task *t = test_spawn(drainer_task, l->d);
    cio_task_unref(t);
    char buf[16];
    while (cio_stream_read(s, buf, sizeof buf) > 0)
        ;
    l->returned = 1;
    return 0;
}

static int drain_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct drainer d = {0};
    struct lender l = {&d, 0};
    cio_server *srv = NULL;
    CHECK_RC(cio_start_server(lend_handler, &l, "127.0.0.1", 0, NULL, &srv), 0);
    cio_stream *c = connect_to(srv);
    if (!c)
        return -1;
    cio_sleep(0.05); /* the broadcaster fills the socket and parks in drain */
    CHECK(!d.done);
    CHECK_RC(cio_stream_write_eof(c), 0); /* the handler returns */
    while (!l.returned)
        cio_sleep(0.001);
    cio_sleep(0.01);
    CHECK(!d.done); /* still draining a stream the server let go of */
    cio_stream_abort(c); /* the client leaves, unread data: a reset */
    cio_stream_unref(c);
    for (int i = 0; i < 2000 && !d.done; i++)
        cio_sleep(0.001);
    CHECK(d.done);
    if (!(d.rc == -ECONNRESET || d.rc == -EPIPE || d.rc == CIO_ECLOSED))
        fprintf(stderr, "  drain returned %d (%s)\n", d.rc, cio_strerror(d.rc));
    CHECK(d.rc == -ECONNRESET || d.rc == -EPIPE || d.rc == CIO_ECLOSED);
    CHECK_RC(cio_server_shutdown(srv, 5), 0);
    cio_server_free(srv);
    return 0;
}

static void test_retain_drain(void) { CHECK_RC(cio_run(drain_main, NULL, NULL), 0); }

/* A hold that is not the last changes nothing: the creator's release
 * leaves the connection open for the other holder, whose release, the
 * last, ends it (aborts: it was not closed). */
static int echo_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char line[64];
    int n;
    while ((n = cio_stream_readline(s, line, sizeof line)) > 0)
        if (cio_stream_write(s, line, (size_t)n) < 0)
            break;
    return 0;
}

static int holds_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_server *srv = NULL;
    CHECK_RC(cio_start_server(echo_handler, NULL, "127.0.0.1", 0, NULL, &srv), 0);
    cio_stream *s = connect_to(srv);
    if (!s)
        return -1;
    CHECK(cio_stream_ref(NULL) == NULL);
    cio_stream *other = cio_stream_ref(s);
    CHECK(other == s);
    cio_stream_unref(s); /* not the last hold */
    char buf[64];
    CHECK(!cio_stream_is_closing(other));
    CHECK_RC(ask(other, "still here\n", buf, sizeof buf), 11);
    cio_stream_unref(other); /* the last: aborted, the handler sees the end */
    CHECK_RC(cio_server_shutdown(srv, 5), 0);
    CHECK_EQ(cio_server_num_clients(srv), 0);
    cio_server_free(srv);
    return 0;
}

static void test_retain_holds(void) { CHECK_RC(cio_run(holds_main, NULL, NULL), 0); }

/* ---- cio_server_shutdown ----------------------------------------------------------- */

/* What the request handlers did. */
struct reqs {
    int returned;              /* handlers that returned */
    int eof_seen;              /* handlers whose read ended with 0 */
    int stuck_rc;              /* what the stuck handler's sleep returned */
    int stuck_started;
    double idle_end;           /* loop time the idle client's handler returned */
};

/*
 * Serves requests, one line each, until the end of stream:
 * "sleep N" answers "done" after N seconds; "stuck" sleeps for an hour
 * (until cancelled); anything else is echoed.
 */
static int req_handler(cio_stream *s, void *arg)
{
    struct reqs *q = arg;
    char line[64];
    int n, served = 0;
    while ((n = cio_stream_readline(s, line, sizeof line - 1)) > 0) {
        line[n] = 0;
        int rc = 0;
        if (!strncmp(line, "sleep ", 6)) {
            rc = cio_sleep(atof(line + 6));
            if (!rc)
                rc = cio_stream_write(s, "done\n", 5);
        } else if (!strcmp(line, "stuck\n")) {
            q->stuck_started = 1;
            q->stuck_rc = cio_sleep(3600);
            rc = q->stuck_rc;
        } else {
            rc = cio_stream_write(s, line, (size_t)n);
        }
        if (!rc)
            rc = cio_stream_drain(s);
        if (rc < 0) {
            q->returned++;
            return rc;
        }
        served++;
    }
    if (n == 0)
        q->eof_seen++;
    if (served == 1 && n == 0 && !q->idle_end)
        q->idle_end = test_loop_now();
    q->returned++;
    return 0;
}

struct shutter {
    cio_server *srv;
    double timeout;
    int rc;
    double took;               /* seconds the call took */
};

static int shutter_task(void *arg, void **result)
{
    (void)result;
    struct shutter *sh = arg;
    double t0 = test_loop_now();
    sh->rc = cio_server_shutdown(sh->srv, sh->timeout);
    sh->took = test_loop_now() - t0;
    return 0;
}

/* The deadline case: idle, busy, partial, stuck. */
static int deadline_main(void *arg, void **result)
{
    (void)result;
    int with_stuck = *(int *)arg;
    struct reqs q = {0};
    cio_server *srv = NULL;
    CHECK_RC(cio_start_server(req_handler, &q, "127.0.0.1", 0, NULL, &srv), 0);
    cio_stream *idle = connect_to(srv), *busy = connect_to(srv), *part = connect_to(srv);
    cio_stream *stuck = with_stuck ? connect_to(srv) : NULL;
    if (!idle || !busy || !part || (with_stuck && !stuck))
        return -1;
    char buf[64];
    /* idle: one request served, then the handler waits for the next. */
    CHECK_RC(ask(idle, "ping\n", buf, sizeof buf), 5);
    CHECK_RC(cio_stream_write(busy, "sleep 0.3\n", 10), 0);
    CHECK_RC(cio_stream_write(part, "hel", 3), 0); /* a request still arriving */
    if (stuck)
        CHECK_RC(cio_stream_write(stuck, "stuck\n", 6), 0);
    cio_sleep(SLOW(0.05)); /* every handler has its bytes */
    CHECK(!stuck || q.stuck_started);
    CHECK_EQ(cio_server_num_clients(srv), with_stuck ? 4 : 3);

    double deadline = with_stuck ? SLOW(1.0) : SLOW(10.0);
    struct shutter sh = {srv, deadline, 1, 0};
    double t0 = test_loop_now();
    cio_task *st = test_spawn(shutter_task, &sh);
    cio_sleep(SLOW(0.05));
    /* No new connections. */
    cio_stream *late = NULL;
    CHECK_RC(cio_open_connection("127.0.0.1", cio_server_port(srv), NULL, &late), -ECONNREFUSED);
    /* The idle connection ended at once: a clean end, no reply lost. */
    CHECK(q.idle_end > 0 && q.idle_end - t0 < SLOW(0.2));
    CHECK_RC(cio_stream_readline(idle, buf, sizeof buf), 0);
    /* The request still arriving completes and is answered. */
    CHECK_RC(cio_stream_write(part, "lo\n", 3), 0);
    CHECK_RC(cio_stream_readline(part, buf, sizeof buf), 6);
    CHECK(memcmp(buf, "hello\n", 6) == 0);
    CHECK_RC(cio_stream_readline(part, buf, sizeof buf), 0); /* then the end */
    /* The busy one finishes within the deadline and its answer arrives. */
    CHECK_RC(cio_stream_readline(busy, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "done\n", 5) == 0);
    CHECK_RC(cio_stream_readline(busy, buf, sizeof buf), 0);

    CHECK_RC(test_join(st), 0);
    if (with_stuck) {
        /* Cut at the deadline: the handler was cancelled, its stream
         * aborted. */
        CHECK_RC(sh.rc, -ETIMEDOUT);
        CHECK(sh.took >= deadline - 0.01 && sh.took < deadline + SLOW(0.5));
        CHECK_RC(q.stuck_rc, -ECANCELED);
        CHECK(cio_stream_readline(stuck, buf, sizeof buf) <= 0);
    } else {
        /* Nothing to cut: done when the busy one was, not at the deadline. */
        CHECK_RC(sh.rc, 0);
        CHECK(sh.took < SLOW(1.0));
    }
    CHECK_EQ(q.returned, with_stuck ? 4 : 3);
    CHECK_EQ(q.eof_seen, 3);
    CHECK_EQ(cio_server_num_clients(srv), 0);
    CHECK(!cio_server_is_serving(srv));
    CHECK_RC(cio_server_wait_closed(srv), 0);
    cio_stream_unref(idle);
    cio_stream_unref(busy);
    cio_stream_unref(part);
    cio_stream_unref(stuck);
    cio_server_free(srv);
    return 0;
}

static void test_shutdown_deadline(void)
{
    int with_stuck = 1;
    CHECK_RC(cio_run(deadline_main, &with_stuck, NULL), 0);
}

static void test_shutdown_all_finish(void)
{
    int with_stuck = 0;
    CHECK_RC(cio_run(deadline_main, &with_stuck, NULL), 0);
}

/* No limit (timeout < 0) with idle clients only; timeout 0 cuts a busy
 * handler at once; a cancelled caller cuts everything and says so;
 * bad arguments. */
static int limits_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct reqs q = {0};
    cio_server *srv = NULL;
    char buf[64];

    CHECK_RC(cio_start_server(req_handler, &q, "127.0.0.1", 0, NULL, &srv), 0);
    cio_stream *c1 = connect_to(srv), *c2 = connect_to(srv);
    CHECK_RC(ask(c1, "a\n", buf, sizeof buf), 2);
    cio_sleep(SLOW(0.02)); /* c2 connected, its handler waits with nothing */
    CHECK_RC(cio_server_shutdown(srv, -1), 0);
    CHECK_EQ(q.eof_seen, 2);
    CHECK_RC(cio_stream_readline(c1, buf, sizeof buf), 0);
    CHECK_RC(cio_stream_readline(c2, buf, sizeof buf), 0);
    CHECK_RC(cio_server_shutdown(srv, -1), 0); /* again: nothing left */
    cio_stream_unref(c1);
    cio_stream_unref(c2);
    cio_server_free(srv);

    memset(&q, 0, sizeof q);
    CHECK_RC(cio_start_server(req_handler, &q, "127.0.0.1", 0, NULL, &srv), 0);
    c1 = connect_to(srv);
    CHECK_RC(cio_stream_write(c1, "stuck\n", 6), 0);
    cio_sleep(SLOW(0.02));
    CHECK(q.stuck_started);
    CHECK_RC(cio_server_shutdown(srv, 0), -ETIMEDOUT);
    CHECK_RC(q.stuck_rc, -ECANCELED);
    CHECK_EQ(cio_server_num_clients(srv), 0);
    cio_stream_unref(c1);
    cio_server_free(srv);

    memset(&q, 0, sizeof q);
    CHECK_RC(cio_start_server(req_handler, &q, "127.0.0.1", 0, NULL, &srv), 0);
    c1 = connect_to(srv);
    CHECK_RC(cio_stream_write(c1, "stuck\n", 6), 0);
    cio_sleep(SLOW(0.02));
    struct shutter sh = {srv, -1, 1, 0};
    cio_task *st = test_spawn(shutter_task, &sh);
    cio_sleep(SLOW(0.02));
    CHECK_EQ(sh.rc, 1); /* waiting: no limit */
    cio_task_cancel(st, NULL);
    CHECK_RC(test_join(st), 0);
    CHECK_RC(sh.rc, -ECANCELED);
    CHECK_RC(q.stuck_rc, -ECANCELED);
    CHECK_EQ(cio_server_num_clients(srv), 0);
    cio_stream_unref(c1);
    cio_server_free(srv);

    /* An enclosing timeout scope cuts it as its own deadline would. */
    memset(&q, 0, sizeof q);
    CHECK_RC(cio_start_server(req_handler, &q, "127.0.0.1", 0, NULL, &srv), 0);
    c1 = connect_to(srv);
    CHECK_RC(cio_stream_write(c1, "stuck\n", 6), 0);
    cio_sleep(SLOW(0.02));
    cio_timeout *tm = NULL;
    CHECK_RC(cio_timeout_begin(0.05, &tm), 0);
    CHECK_RC(cio_server_shutdown(srv, -1), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK_RC(q.stuck_rc, -ECANCELED);
    CHECK_EQ(cio_server_num_clients(srv), 0);
    cio_stream_unref(c1);
    cio_server_free(srv);

    CHECK_RC(cio_server_shutdown(NULL, 1), -EINVAL);
    CHECK_RC(cio_start_server(req_handler, &q, "127.0.0.1", 0, NULL, &srv), 0);
    CHECK_RC(cio_server_shutdown(srv, NAN), -EINVAL);
    CHECK(cio_server_is_serving(srv)); /* nothing done */
    cio_server_free(srv);
    return 0;
}

static void test_shutdown_limits(void) { CHECK_RC(cio_run(limits_main, NULL, NULL), 0); }

/* Protocol-mode servers (cio_create_server): connections are their
 * protocols' to end, so an idle one lasts until the deadline, then is
 * aborted; one that its protocol closes lets the call return 0 first. */
struct plain {
    int made, lost;
    cio_transport *t;          /* set at connection_made */
};

static void pl_made(cio_transport *t, void *ud)
{
    struct plain *p = ud;
    p->made++;
    p->t = t;
}

static void pl_lost(cio_transport *t, int err, void *ud)
{
    (void)t;
    (void)err;
    ((struct plain *)ud)->lost++;
}

static const cio_protocol pl_proto = {.connection_made = pl_made, .connection_lost = pl_lost};

static int pl_factory(void *arg, const cio_protocol **proto, void **ud)
{
    *proto = &pl_proto;
    *ud = arg; /* one connection at a time in this test */
    return 0;
}

static int protocol_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct plain p = {0};
    cio_server *srv = NULL;
    CHECK_RC(cio_create_server(pl_factory, &p, "127.0.0.1", 0, NULL, &srv), 0);
    cio_stream *c = connect_to(srv);
    for (int i = 0; i < 1000 && !p.made; i++)
        cio_sleep(0.001);
    CHECK_EQ(p.made, 1);
    double t0 = test_loop_now();
    CHECK_RC(cio_server_shutdown(srv, 0.2), -ETIMEDOUT);
    double took = test_loop_now() - t0;
    CHECK(took >= 0.19 && took < SLOW(1));
    CHECK_EQ(p.lost, 1);
    CHECK_EQ(cio_server_num_clients(srv), 0);
    char buf[8];
    CHECK(cio_stream_read(c, buf, sizeof buf) <= 0);
    cio_stream_unref(c);
    cio_server_free(srv);

    /* The protocol closes its connection within the deadline: 0. */
    memset(&p, 0, sizeof p);
    CHECK_RC(cio_create_server(pl_factory, &p, "127.0.0.1", 0, NULL, &srv), 0);
    c = connect_to(srv);
    for (int i = 0; i < 1000 && !p.made; i++)
        cio_sleep(0.001);
    struct shutter sh = {srv, 5, 1, 0};
    cio_task *st = test_spawn(shutter_task, &sh);
    cio_sleep(SLOW(0.05));
    CHECK_EQ(sh.rc, 1);
    cio_transport_close(p.t);
    CHECK_RC(test_join(st), 0);
    CHECK_RC(sh.rc, 0);
    CHECK(sh.took < SLOW(1));
    CHECK_EQ(p.lost, 1);
    cio_stream_unref(c);
    cio_server_free(srv);
    return 0;
}

static void test_shutdown_protocol_mode(void) { CHECK_RC(cio_run(protocol_main, NULL, NULL), 0); }

int main(void)
{
    RUN(test_retain_broadcast);
    RUN(test_retain_drain);
    RUN(test_retain_holds);
    RUN(test_shutdown_deadline);
    RUN(test_shutdown_all_finish);
    RUN(test_shutdown_limits);
    RUN(test_shutdown_protocol_mode);
    return test_finish();
}
