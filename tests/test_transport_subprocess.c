/*
 * test_transport_subprocess.c - subprocess transports (cio_subprocess_exec,
 * cio_subprocess_shell, SubprocessProtocol members of cio_protocol): 1 MB
 * through `cat` and back with stdin flow control, callback order
 * (connection_lost last, after every pipe and the exit), exit codes,
 * stderr kept apart from stdout, kill, close while the child runs, 64
 * children at once, options (devnull, stderr to stdout, cwd, env), a
 * program that does not exist, and no zombie left behind.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net_peer.h"

struct srec {
    cio_transport *t;          /* set at connection_made */
    int made, lost, exited;    /* callbacks seen */
    int pipe_lost[3];          /* pipe_connection_lost per fd */
    int pipe_err[3];           /* ... and its error */
    int pauses, resumes;       /* stdin's pause_writing / resume_writing */
    int bad_order;             /* a callback came out of order */
    int code;                  /* returncode seen in process_exited */
    char *out[3];              /* bytes of fd 1 and 2 (malloc'd) */
    size_t len[3], cap[3];
};

static void s_made(cio_transport *t, void *ud)
{
    struct srec *r = ud;
    if (r->made)
        r->bad_order = 1;
    r->made++;
    r->t = t;
}

static void s_data(cio_transport *t, int fd, const void *data, size_t len, void *ud)
{
    (void)t;
    struct srec *r = ud;
    if (!r->made || r->lost || (fd != 1 && fd != 2) || r->pipe_lost[fd])
        r->bad_order = 1;
    if (fd != 1 && fd != 2)
        return;
    if (r->len[fd] + len + 1 > r->cap[fd]) {
        r->cap[fd] = (r->len[fd] + len + 1) * 2;
        r->out[fd] = realloc(r->out[fd], r->cap[fd]);
    }
    memcpy(r->out[fd] + r->len[fd], data, len);
    r->len[fd] += len;
    r->out[fd][r->len[fd]] = 0;
}

static void s_pipe_lost(cio_transport *t, int fd, int err, void *ud)
{
    (void)t;
    struct srec *r = ud;
    if (!r->made || r->lost || fd < 0 || fd > 2 || r->pipe_lost[fd])
        r->bad_order = 1;
    if (fd < 0 || fd > 2)
        return;
    r->pipe_lost[fd]++;
    r->pipe_err[fd] = err;
}

static void s_exited(cio_transport *t, void *ud)
{
    struct srec *r = ud;
    if (!r->made || r->lost || r->exited)
        r->bad_order = 1;
    r->exited++;
    if (cio_subprocess_transport_returncode(t, &r->code) != 1)
        r->bad_order = 1;
}

static void s_lost(cio_transport *t, int err, void *ud)
{
    struct srec *r = ud;
    /* asyncio: last, after the exit and every pipe. */
    if (!r->made || r->lost || !r->exited || err)
        r->bad_order = 1;
    for (int fd = 0; fd < 3; fd++)
        if (cio_subprocess_transport_pipe(t, fd) && !r->pipe_lost[fd])
            r->bad_order = 1;
    r->lost++;
}

static void s_pause(cio_transport *t, void *ud)
{
    (void)t;
    ((struct srec *)ud)->pauses++;
}

static void s_resume(cio_transport *t, void *ud)
{
    (void)t;
    ((struct srec *)ud)->resumes++;
}

static const cio_protocol sproto = {
    .connection_made = s_made, .pipe_data_received = s_data,
    .pipe_connection_lost = s_pipe_lost, .process_exited = s_exited,
    .connection_lost = s_lost, .pause_writing = s_pause, .resume_writing = s_resume,
};

static void srec_free(struct srec *r)
{
    for (int i = 0; i < 3; i++)
        free(r->out[i]);
}

static int wait_int(const int *v, int want)
{
    int n = (int)(10000 * test_timeout_multiplier());
    for (int i = 0; i < n && *v < want; i++)
        if (cio_sleep(0.001) == -ECANCELED)
            break; /* (-ENOMEM under the allocation sweep: go on) */
    return *v >= want;
}

/* No child of ours is left unreaped (a zombie would show here). */
static void check_no_zombies(void)
{
    siginfo_t si = {0};
    int r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
    CHECK(r < 0 || si.si_pid == 0);
}

/* ---- cat: 1 MB there and back ------------------------------------------------------------ */

#define MB (1u << 20)

static int cat_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct srec r = {0};
    cio_transport *t;
    CHECK_RC(cio_subprocess_exec(&sproto, &r, "cat", (char *[]){"cat", NULL}, NULL, &t), 0);
    CHECK_EQ(r.made, 1);
    CHECK(cio_subprocess_transport_pid(t) > 0);
    int code = 99;
    CHECK_RC(cio_subprocess_transport_returncode(t, &code), 0);
    cio_transport *in = cio_subprocess_transport_pipe(t, 0);
    CHECK(in && cio_subprocess_transport_pipe(t, 1) && cio_subprocess_transport_pipe(t, 2));
    CHECK(cio_subprocess_transport_pipe(t, 3) == NULL);
    CHECK(cio_subprocess_transport_pipe(in, 0) == NULL); /* not a subprocess */
    char *blob = malloc(MB);
    for (size_t i = 0; i < MB; i++)
        blob[i] = (char)('a' + (i * 13 + i / 4096) % 26);
    /* Write in pieces, respecting pause_writing as a protocol should. */
    size_t sent = 0;
    while (sent < MB) {
        if (r.pauses > r.resumes) {
            cio_sleep(0.001);
            continue;
        }
        size_t n = MB - sent < 65536 ? MB - sent : 65536;
        CHECK_RC(cio_transport_write(in, blob + sent, n), 0);
        sent += n;
    }
    cio_transport_close(in); /* cat sees EOF once the buffer is out */
    CHECK(wait_int(&r.lost, 1));
    CHECK_EQ(r.len[1], (size_t)MB);
    CHECK(r.out[1] && !memcmp(r.out[1], blob, MB));
    CHECK_EQ(r.len[2], 0);
    CHECK_EQ(r.exited, 1);
    CHECK_EQ(r.code, 0);
    for (int fd = 0; fd < 3; fd++) {
        CHECK_EQ(r.pipe_lost[fd], 1);
        CHECK_EQ(r.pipe_err[fd], 0);
    }
    CHECK(r.pauses > 0);
    CHECK_EQ(r.pauses, r.resumes);
    CHECK_RC(cio_subprocess_transport_returncode(t, &code), 1);
    CHECK_EQ(code, 0);
    CHECK(!r.bad_order);
    /* Signals after the exit are not sent (no recycled pid is hit). */
    CHECK_RC(cio_subprocess_transport_kill(t), 0);
    free(blob);
    srec_free(&r);
    cio_transport_unref(t);
    return 0;
}

static void test_cat_round_trip(void)
{
    CHECK_RC(cio_run(cat_main, NULL, NULL), 0);
    check_no_zombies();
}

/* ---- exit codes, stderr, signals ------------------------------------------------------------- */

static int codes_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    /* An exit status, and stdout and stderr kept apart. */
    struct srec r = {0};
    cio_transport *t;
    CHECK_RC(cio_subprocess_shell(&sproto, &r, "echo out; echo err >&2; exit 3", NULL, &t), 0);
    CHECK(wait_int(&r.lost, 1));
    CHECK_EQ(r.code, 3);
    CHECK(r.out[1] && !strcmp(r.out[1], "out\n"));
    CHECK(r.out[2] && !strcmp(r.out[2], "err\n"));
    /* The child exited without reading stdin: its pipe ended quietly. */
    CHECK_EQ(r.pipe_lost[0], 1);
    CHECK(!r.bad_order);
    srec_free(&r);
    cio_transport_unref(t);

    /* The child exits while a grandchild still holds its stdout:
     * process_exited comes first, connection_lost only once the pipe
     * closes (asyncio's _try_finish). */
    struct srec gc = {0};
    CHECK_RC(cio_subprocess_shell(&sproto, &gc, "(sleep 0.3; echo late) & exit 0", NULL, &t),
             0);
    CHECK(wait_int(&gc.exited, 1));
    cio_sleep(0.05);
    CHECK_EQ(gc.lost, 0);
    CHECK_EQ(gc.pipe_lost[1], 0);
    CHECK(wait_int(&gc.lost, 1));
    CHECK(gc.out[1] && !strcmp(gc.out[1], "late\n"));
    CHECK(!gc.bad_order);
    srec_free(&gc);
    cio_transport_unref(t);

    /* kill: the status is minus the signal. */
    struct srec k = {0};
    CHECK_RC(cio_subprocess_exec(&sproto, &k, "sleep", (char *[]){"sleep", "30", NULL}, NULL, &t),
             0);
    cio_sleep(0.01);
    CHECK_EQ(k.exited, 0);
    CHECK_RC(cio_subprocess_transport_kill(t), 0);
    CHECK(wait_int(&k.lost, 1));
    CHECK_EQ(k.code, -SIGKILL);
    CHECK(!k.bad_order);
    srec_free(&k);
    cio_transport_unref(t);

    /* terminate and send_signal. */
    struct srec s = {0};
    CHECK_RC(cio_subprocess_exec(&sproto, &s, "sleep", (char *[]){"sleep", "30", NULL}, NULL, &t),
             0);
    CHECK_RC(cio_subprocess_transport_send_signal(t, 0), -EINVAL);
    CHECK_RC(cio_subprocess_transport_terminate(t), 0);
    CHECK(wait_int(&s.lost, 1));
    CHECK_EQ(s.code, -SIGTERM);
    srec_free(&s);
    cio_transport_unref(t);
    return 0;
}

static void test_exit_codes_and_signals(void)
{
    CHECK_RC(cio_run(codes_main, NULL, NULL), 0);
    check_no_zombies();
}

/* close while the child runs: pipes closed, child killed, then
 * process_exited and connection_lost, as asyncio. */
static int close_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct srec r = {0};
    cio_transport *t;
    CHECK_RC(cio_subprocess_exec(&sproto, &r, "sleep", (char *[]){"sleep", "30", NULL}, NULL, &t),
             0);
    cio_transport_close(t);
    CHECK_EQ(cio_transport_is_closing(t), 1);
    CHECK_EQ(r.lost, 0);
    cio_transport_unref(t); /* it lives on until connection_lost */
    CHECK(wait_int(&r.lost, 1));
    CHECK_EQ(r.exited, 1);
    CHECK_EQ(r.code, -SIGKILL);
    CHECK(!r.bad_order);
    srec_free(&r);

    /* A grandchild holding stdout open does not hold up close: the pipes
     * are closed by the transport, not waited for. */
    struct srec g = {0};
    CHECK_RC(cio_subprocess_shell(&sproto, &g, "sleep 30 & echo $!; exec sleep 30", NULL, &t),
             0);
    for (int i = 0; i < 5000 && !(g.out[1] && strchr(g.out[1], '\n')); i++)
        cio_sleep(0.001);
    pid_t grandchild = g.out[1] ? (pid_t)atoi(g.out[1]) : 0;
    CHECK(grandchild > 0);
    cio_transport_close(t);
    CHECK(wait_int(&g.lost, 1));
    CHECK_EQ(g.code, -SIGKILL);
    if (grandchild > 0)
        kill(grandchild, SIGKILL); /* not ours to reap: init's */
    srec_free(&g);
    cio_transport_unref(t);
    return 0;
}

static void test_close_while_running(void)
{
    CHECK_RC(cio_run(close_main, NULL, NULL), 0);
    check_no_zombies();
}

/* ---- many at once ----------------------------------------------------------------------------------- */

#define NKIDS 64

static int many_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static struct srec r[NKIDS];
    cio_transport *t[NKIDS];
    memset(r, 0, sizeof r);
    for (int i = 0; i < NKIDS; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "echo child %d; exit %d", i, i % 7);
        CHECK_RC(cio_subprocess_shell(&sproto, &r[i], cmd, NULL, &t[i]), 0);
    }
    int done = 0;
    for (int k = 0; k < 20000 && done < NKIDS; k++) {
        done = 0;
        for (int i = 0; i < NKIDS; i++)
            done += r[i].lost;
        cio_sleep(0.001);
    }
    CHECK_EQ(done, NKIDS);
    for (int i = 0; i < NKIDS; i++) {
        char want[32];
        snprintf(want, sizeof want, "child %d\n", i);
        CHECK(r[i].out[1] && !strcmp(r[i].out[1], want));
        CHECK_EQ(r[i].code, i % 7);
        CHECK(!r[i].bad_order);
        srec_free(&r[i]);
        cio_transport_unref(t[i]);
    }
    return 0;
}

static void test_many_children(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(many_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before); /* every pipe and pidfd closed */
    check_no_zombies();
}

/* ---- options and errors ------------------------------------------------------------------------------- */

static int opts_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    /* stdout to /dev/null, stderr into stdout, no stdin: one pipe only. */
    cio_subprocess_options o = {.stdin_mode = CIO_SUBPROCESS_DEVNULL,
                             .stdout_mode = CIO_SUBPROCESS_PIPE,
                             .stderr_mode = CIO_SUBPROCESS_STDOUT,
                             .cwd = "/",
                             .env = (char *[]){"GREETING=hi", NULL}};
    struct srec r = {0};
    cio_transport *t;
    CHECK_RC(cio_subprocess_shell(&sproto, &r, "echo $GREETING; pwd; echo e >&2; cat", &o, &t),
             0);
    CHECK(cio_subprocess_transport_pipe(t, 0) == NULL);
    CHECK(cio_subprocess_transport_pipe(t, 1) != NULL);
    CHECK(cio_subprocess_transport_pipe(t, 2) == NULL);
    CHECK(wait_int(&r.lost, 1));
    CHECK(r.out[1] && !strcmp(r.out[1], "hi\n/\ne\n"));
    CHECK_EQ(r.pipe_lost[0] + r.pipe_lost[2], 0);
    CHECK_EQ(r.code, 0);
    CHECK(!r.bad_order);
    srec_free(&r);
    cio_transport_unref(t);

    /* A program that does not exist: an error, no callback. */
    struct srec e = {0};
    t = (cio_transport *)1;
    CHECK_RC(cio_subprocess_exec(&sproto, &e, "/nonexistent/prog",
                                 (char *[]){"prog", NULL}, NULL, &t),
             -ENOENT);
    CHECK(t == NULL);
    CHECK_RC(cio_subprocess_exec(NULL, &e, "true", (char *[]){"true", NULL}, NULL, &t), -EINVAL);
    CHECK_RC(cio_subprocess_shell(&sproto, &e, NULL, NULL, &t), -EINVAL);
    CHECK_EQ(e.made, 0);
    /* Subprocess calls on other transports. */
    CHECK_RC(cio_subprocess_transport_pid(NULL), -EINVAL);
    int code;
    CHECK_RC(cio_subprocess_transport_returncode(NULL, &code), -EINVAL);
    CHECK_RC(cio_subprocess_transport_kill(NULL), -EINVAL);
    return 0;
}

static void test_options_and_errors(void)
{
    CHECK_RC(cio_run(opts_main, NULL, NULL), 0);
    check_no_zombies();
}

/* ---- allocation failures ---------------------------------------------------------------------------------- */

static int sweep_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct srec r = {0};
    cio_transport *t;
    int rc = cio_subprocess_exec(&sproto, &r, "cat", (char *[]){"cat", NULL}, NULL, &t);
    if (rc < 0)
        return rc;
    cio_transport *in = cio_subprocess_transport_pipe(t, 0);
    rc = cio_transport_write(in, "hello", 5);
    cio_transport_close(in);
    for (int i = 0; i < 3000 && !r.lost; i++)
        cio_sleep(0.001);
    if (!r.lost) {
        CHECK(!"connection_lost never came");
        cio_transport_close(t); /* kills cat: it lives on until reaped */
        for (int i = 0; i < 3000 && !r.lost; i++)
            cio_sleep(0.001);
    }
    if (rc == 0 && !(r.out[1] && !strcmp(r.out[1], "hello")))
        rc = -ENOMEM; /* a pipe failed for want of memory */
    CHECK(!r.bad_order);
    srec_free(&r);
    cio_transport_unref(t);
    return rc;
}

static int sweep_run(long n, void *arg)
{
    (void)n;
    return cio_run(sweep_main, arg, NULL);
}

static void test_alloc_failures(void)
{
    long points = test_alloc_sweep(sweep_run, NULL, 400, TEST_ALLOC_ENOMEM);
    fprintf(stderr, "  %ld allocation points\n", points);
    check_no_zombies();
}

int main(void)
{
    RUN(test_cat_round_trip);
    RUN(test_exit_codes_and_signals);
    RUN(test_close_while_running);
    RUN(test_many_children);
    RUN(test_options_and_errors);
    RUN(test_alloc_failures);
    return test_finish();
}
