/*
 * signal.c - signal handlers run as loop callbacks, through a self-pipe.
 *
 * Divided into: the process-wide part (which loop owns which signal, the
 * real handler), the per-loop part (a loop extension holding the pipe and
 * the callbacks), and add/remove.
 *
 * Why a self-pipe and not signalfd: signalfd only sees signals blocked in
 * every thread, and a library cannot block signals in threads it does not
 * own; a signal delivered to such a thread would take its default action
 * (for SIGINT, kill the process).  A real handler writing one byte to a
 * non-blocking pipe works whichever thread takes the signal, and write()
 * is async-signal-safe.  A full pipe drops the byte: signals coalesce.
 *
 * Weak handlers (cio_run's SIGINT) do not count as a source of events, so
 * a main task that nothing else can wake is still reported as a deadlock;
 * the pipe's reader is therefore not counted in loop->nwatch by itself,
 * and each loop adds one while it has a (strong) user handler.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "io.h"

/* ---- process-wide ----------------------------------------------------- */

static pthread_mutex_t owners_lock = PTHREAD_MUTEX_INITIALIZER;
static cio_loop *owners[NSIG];     /* loop handling each signal, or NULL */
static int wfds[NSIG];             /* its pipe's write end + 1 (0: none);
                                      read by the handler, atomically */

static void on_signal(int sig)
{
    int saved = errno;
    int fd = __atomic_load_n(&wfds[sig], __ATOMIC_ACQUIRE) - 1;
    if (fd >= 0) {
        unsigned char b = (unsigned char)sig;
        ssize_t n = write(fd, &b, 1);
        (void)n; /* pipe full: the loop has a byte to read anyway */
    }
    errno = saved;
}

/* ---- per loop ----------------------------------------------------------- */

struct sig_entry {
    cio_callback_fn *cb;       /* NULL: no handler */
    void *arg;
    int weak;                  /* does not keep the loop alive */
    struct sigaction old;      /* disposition to restore */
};

struct sig_loop {
    struct cio__loop_ext ext;  /* first: the loop's extension link */
    cio_loop *loop;
    int rfd, wfd;              /* the self-pipe, both non-blocking */
    int nstrong;               /* handlers that count in loop->nwatch */
    struct sig_entry h[NSIG];
};

static const char sig_key;

static void pipe_readable(void *arg)
{
    struct sig_loop *sl = arg;
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(sl->rfd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            struct sig_entry *e = &sl->h[buf[i] % NSIG];
            if (e->cb)
                e->cb(e->arg); /* may remove handlers, even this one */
        }
    }
}

static int remove_handler(struct sig_loop *sl, int sig);

static void sig_loop_close(cio_loop *loop, struct cio__loop_ext *ext)
{
    struct sig_loop *sl = (struct sig_loop *)ext;
    for (int sig = 1; sig < NSIG; sig++)
        if (sl->h[sig].cb)
            remove_handler(sl, sig);
    /* Balance the reader's own nwatch count (see the file comment). */
    loop->nwatch++;
    cio_loop_remove_reader(loop, sl->rfd);
    cio__io_forget(loop, sl->rfd);
    close(sl->rfd);
    close(sl->wfd);
    cio__free(sl);
}

static struct sig_loop *sig_loop_get(cio_loop *loop, int *rc)
{
    struct sig_loop *sl = (struct sig_loop *)cio__loop_ext_find(loop, &sig_key);
    if (sl)
        return sl;
    sl = cio__calloc(1, sizeof *sl);
    if (!sl) {
        *rc = -ENOMEM;
        return NULL;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        *rc = -errno;
        cio__free(sl);
        return NULL;
    }
    sl->rfd = fds[0];
    sl->wfd = fds[1];
    sl->loop = loop;
    *rc = cio_loop_add_reader(loop, sl->rfd, pipe_readable, sl);
    if (*rc < 0) {
        close(fds[0]);
        close(fds[1]);
        cio__free(sl);
        return NULL;
    }
    loop->nwatch--; /* the pipe alone keeps nothing alive */
    sl->ext.key = &sig_key;
    sl->ext.rank = CIO__EXT_IO;
    sl->ext.on_close = sig_loop_close;
    cio__loop_ext_add(loop, &sl->ext);
    return sl;
}

/* ---- add / remove ---------------------------------------------------------- */

static void count(struct sig_loop *sl, int weak, int delta)
{
    if (weak)
        return;
    if (delta > 0 && sl->nstrong++ == 0)
        sl->loop->nwatch++;
    if (delta < 0 && --sl->nstrong == 0)
        sl->loop->nwatch--;
}

static int remove_handler(struct sig_loop *sl, int sig)
{
    struct sig_entry *e = &sl->h[sig];
    if (!e->cb)
        return 0;
    pthread_mutex_lock(&owners_lock);
    sigaction(sig, &e->old, NULL);
    __atomic_store_n(&wfds[sig], 0, __ATOMIC_RELEASE);
    owners[sig] = NULL;
    pthread_mutex_unlock(&owners_lock);
    count(sl, e->weak, -1);
    e->cb = NULL;
    e->arg = NULL;
    return 1;
}

int cio__loop_add_signal_handler(cio_loop *loop, int sig, cio_callback_fn *cb, void *arg,
                                 int weak)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    if (!cb)
        return cio__bad_arg(loop, __func__, "cb is NULL");
    if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP)
        return cio__bad_arg(loop, __func__, "sig is out of range, SIGKILL or SIGSTOP");
    if (loop->closed)
        return CIO_ECLOSED;
    int rc = cio__check_thread(loop, __func__);
    if (rc)
        return rc;
    struct sig_loop *sl = sig_loop_get(loop, &rc);
    if (!sl)
        return rc;
    struct sig_entry *e = &sl->h[sig];
    if (e->cb) {
        count(sl, e->weak, -1);
        e->cb = cb;
        e->arg = arg;
        e->weak = weak;
        count(sl, weak, +1);
        return 0;
    }
    pthread_mutex_lock(&owners_lock);
    if (owners[sig] && owners[sig] != loop) {
        pthread_mutex_unlock(&owners_lock);
        return -EBUSY;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    __atomic_store_n(&wfds[sig], sl->wfd + 1, __ATOMIC_RELEASE);
    if (sigaction(sig, &sa, &e->old) < 0) {
        rc = -errno;
        __atomic_store_n(&wfds[sig], 0, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&owners_lock);
        return rc;
    }
    owners[sig] = loop;
    pthread_mutex_unlock(&owners_lock);
    e->cb = cb;
    e->arg = arg;
    e->weak = weak;
    count(sl, weak, +1);
    return 0;
}

int cio_loop_add_signal_handler(cio_loop *loop, int sig, cio_callback_fn *cb, void *arg)
{
    return cio__loop_add_signal_handler(loop, sig, cb, arg, 0);
}

int cio_loop_remove_signal_handler(cio_loop *loop, int sig)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    if (sig <= 0 || sig >= NSIG)
        return cio__bad_arg(loop, __func__, "sig is out of range");
    struct sig_loop *sl = (struct sig_loop *)cio__loop_ext_find(loop, &sig_key);
    return sl ? remove_handler(sl, sig) : 0;
}
