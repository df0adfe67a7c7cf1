/*
 * net_peer.h - helpers the network tests share: starting a Python peer
 * (/usr/bin/python3 running a script given inline) that prints its port on
 * its first line, counting open descriptors, raising RLIMIT_NOFILE.
 */
#ifndef CIO_TEST_NET_PEER_H
#define CIO_TEST_NET_PEER_H

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* The interpreter the peers run (test.h: $CIO_TEST_PYTHON overrides it,
 * e.g. to try the skip paths). */
#define PYTHON test_python()

typedef struct peer {
    pid_t pid;                 /* the python process */
    int port;                  /* what it printed first */
} peer;

/* Starts python3 -c script; returns 0 and fills p, or -1 (no python, or
 * it did not start).  Cases use peer_start_case. */
static inline int peer_start(peer *p, const char *script)
{
    if (access(PYTHON, X_OK) != 0)
        return -1;
    int pfd[2];
    if (pipe(pfd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(PYTHON, PYTHON, "-u", "-c", script, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char line[64] = {0};
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t r = read(pfd[0], line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    close(pfd[0]);
    p->pid = pid;
    p->port = atoi(line);
    return p->port > 0 ? 0 : -1;
}

/* 0 if PYTHON is there; else the current case is skipped (the caller
 * returns) and -1. */
static inline int need_python(void)
{
    if (access(PYTHON, X_OK) == 0)
        return 0;
    char why[300];
    snprintf(why, sizeof why, "no %s (the case needs Python)", PYTHON);
    test_skip_case(why);
    return -1;
}

/* peer_start for a case: 0, or -1 after skipping the case (no python) or
 * failing it (python is there but the peer did not start). */
static inline int peer_start_case(peer *p, const char *script)
{
    if (need_python() < 0)
        return -1;
    if (peer_start(p, script) < 0) {
        CHECK(!"the python peer did not start");
        return -1;
    }
    return 0;
}

/* Waits for the peer to exit; returns its exit status (or 128+signal). */
static inline int peer_wait(peer *p)
{
    int st = 0;
    if (waitpid(p->pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline void peer_kill(peer *p)
{
    kill(p->pid, SIGKILL);
    peer_wait(p);
}

static inline int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the DIR's own descriptor */
}

/*
 * In a task: the descriptor count once it has fallen to want, or what it
 * is after a second.  On a completion backend (io_uring) a closed
 * connection's descriptor goes only when its cancelled operations are
 * confirmed, a loop iteration or two later (DESIGN.md section 6), so a
 * leak check waits for that instead of counting at once.
 */
static inline int count_fds_settled(int want)
{
    int n = count_fds();
    for (int i = 0; i < 1000 && n > want; i++) {
        cio_sleep(0.001);
        n = count_fds();
    }
    return n;
}

/* Raises the soft descriptor limit toward want; returns the new limit. */
static inline long raise_nofile(long want)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)want > rl.rlim_max)
        want = (long)rl.rlim_max;
    if (rl.rlim_cur < (rlim_t)want) {
        rl.rlim_cur = (rlim_t)want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}

/* Starts a Python peer from script and runs fn(&peer) as cio_run's main
 * task: it must return 0 and the peer must exit 0.  Without Python the
 * case is skipped (peer_start_case). */
static inline void run_with_peer(const char *script, cio_coro_fn *fn)
{
    peer p;
    if (peer_start_case(&p, script) < 0)
        return;
    CHECK_RC(cio_run(fn, &p, NULL), 0);
    CHECK_EQ(peer_wait(&p), 0);
}

#endif
