/*
 * pg_util.h - a private PostgreSQL 15 cluster for the pg tests and the
 * pg example: initdb in a temporary directory, the server listening on a
 * Unix socket in that directory and on a free loopback port, fsync off.
 * Torn down at exit: by atexit for a normal exit, and by a watchdog
 * process that stops the server and removes the directory once the test
 * process is gone, so a crash (or a kill) leaves nothing behind either.
 * Run as root, the server runs as the `postgres` user (runuser), which
 * owns the directory.
 *
 *     const char *why = pg_cluster_start();
 *     if (why) TEST_SKIP(why);        // binaries missing: exit 77
 *     ... pg_conninfo() / pg_conninfo_tcp() ...
 */
#ifndef CIO_TEST_PG_UTIL_H
#define CIO_TEST_PG_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG_BIN "/usr/lib/postgresql/15/bin"

/* The cluster's state (one per process). */
struct pg_cluster {
    char dir[64];       /* the temporary directory (socket and data/) */
    int port;           /* the TCP port (also names the socket file) */
    int up;             /* the server was started */
    char as[32];        /* "runuser -u postgres -- " when root, else "" */
    char conninfo[160]; /* over the Unix socket */
    char tcp[160];      /* over 127.0.0.1 */
};

static struct pg_cluster pg_cl;

static inline int pg_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static inline int pg_sh(const char *fmt, const char *a, const char *b)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    return system(cmd);
}

/* Stops the server (immediately) and removes the directory. */
static inline void pg_cluster_stop(void)
{
    char cmd[512];
    if (pg_cl.up) {
        snprintf(cmd, sizeof cmd, "%s" PG_BIN "/pg_ctl -D %s/data -m immediate -w stop >/dev/null 2>&1",
                 pg_cl.as, pg_cl.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "pg_util: pg_ctl stop failed\n");
        pg_cl.up = 0;
    }
    if (pg_cl.dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", pg_cl.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "pg_util: could not remove %s\n", pg_cl.dir);
        pg_cl.dir[0] = 0;
    }
}

static inline void pg_cluster_atexit(void)
{
    pg_cluster_stop();
}

/* Restarts the server (fast shutdown: sessions are terminated); blocks.
 * Returns 0 on success. */
static inline int pg_cluster_restart(void)
{
    char cmd[768];
    snprintf(cmd, sizeof cmd,
             "%s" PG_BIN "/pg_ctl -D %s/data -m fast -w -l %s/log restart >/dev/null 2>&1",
             pg_cl.as, pg_cl.dir, pg_cl.dir);
    return system(cmd);
}

/* Starts the cluster; NULL on success, else why it cannot (skip). */
static inline const char *pg_cluster_start(void)
{
    static char why[256];
    if (access(PG_BIN "/initdb", X_OK) != 0 || access(PG_BIN "/pg_ctl", X_OK) != 0)
        return "PostgreSQL 15 server binaries not found in " PG_BIN
               " (apt-get install postgresql-15)";
    strcpy(pg_cl.dir, "/tmp/cio-pg-XXXXXX");
    if (!mkdtemp(pg_cl.dir))
        return "mkdtemp failed";
    atexit(pg_cluster_atexit);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw)
            return "running as root and there is no postgres user to run the server";
        if (chown(pg_cl.dir, pw->pw_uid, pw->pw_gid) != 0)
            return "chown of the cluster directory failed";
        snprintf(pg_cl.as, sizeof pg_cl.as, "runuser -u postgres -- ");
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s" PG_BIN "/initdb -D %s/data -A trust -U postgres --no-sync -E UTF8 "
             "--locale=C >%s/initdb.log 2>&1",
             pg_cl.as, pg_cl.dir, pg_cl.dir);
    if (system(cmd) != 0) {
        snprintf(why, sizeof why, "initdb failed (see %s/initdb.log)", pg_cl.dir);
        pg_cl.dir[0] = 0; /* keep the log */
        return why;
    }
    /* The watchdog: once this process is gone, stop and clean up. */
    snprintf(cmd, sizeof cmd,
             "setsid sh -c 'while kill -0 %d 2>/dev/null; do sleep 1; done; "
             "%s" PG_BIN "/pg_ctl -D %s/data -m immediate stop >/dev/null 2>&1; rm -rf %s' "
             ">/dev/null 2>&1 </dev/null &",
             (int)getpid(), pg_cl.as, pg_cl.dir, pg_cl.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "pg_util: could not start the watchdog\n");
    for (int attempt = 0; attempt < 5; attempt++) {
        pg_cl.port = pg_free_port();
        snprintf(cmd, sizeof cmd,
                 "%s" PG_BIN "/pg_ctl -D %s/data -l %s/log -w -t 60 -o \"-k %s -p %d "
                 "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                 "-c full_page_writes=off -c max_connections=100\" start >/dev/null 2>&1",
                 pg_cl.as, pg_cl.dir, pg_cl.dir, pg_cl.dir, pg_cl.port);
        if (system(cmd) == 0) {
            pg_cl.up = 1;
            break;
        }
    }
    if (!pg_cl.up) {
        snprintf(why, sizeof why, "the PostgreSQL server did not start (see %s/log)", pg_cl.dir);
        return why;
    }
    snprintf(pg_cl.conninfo, sizeof pg_cl.conninfo,
             "host=%s port=%d user=postgres dbname=postgres", pg_cl.dir, pg_cl.port);
    snprintf(pg_cl.tcp, sizeof pg_cl.tcp,
             "postgresql://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg_cl.port);
    return NULL;
}

/* Conninfo strings of the running cluster. */
static inline const char *pg_conninfo(void) { return pg_cl.conninfo; }
static inline const char *pg_conninfo_tcp(void) { return pg_cl.tcp; }

#endif
