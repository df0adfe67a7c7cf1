/*
 * http_servers.h - real HTTP servers for the client's tests and its
 * benchmark: nginx (from Debian, started on a free port with a config of
 * our own in a temporary directory) and `python3 -m http.server`, both
 * serving files from a temporary directory.  Header-only; a start
 * function returns -1 when the server is not installed (the caller
 * skips).
 */
#ifndef CIO_TEST_HTTP_SERVERS_H
#define CIO_TEST_HTTP_SERVERS_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h" /* test_python() */

typedef struct http_server {
    pid_t pid;     /* the server process */
    int port;      /* where it listens on 127.0.0.1 */
    char dir[256]; /* temporary directory: files under dir/www */
} http_server;

/* A fresh temporary directory with a www/ folder in s->dir. */
static inline int hs_mkdir(http_server *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/cio-http-XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    char www[300];
    snprintf(www, sizeof www, "%s/www", s->dir);
    return mkdir(www, 0755);
}

/* Writes dir/www/name with n bytes of a pattern that depends on the
 * offset (so a misplaced byte shows). */
static inline int hs_file(const http_server *s, const char *name, size_t n)
{
    char path[400];
    snprintf(path, sizeof path, "%s/www/%s", s->dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (size_t i = 0; i < n; i++)
        fputc('a' + (int)(i % 26), f);
    fclose(f);
    return 0;
}

/* 1 if buf[0, n) is the pattern hs_file writes. */
static inline int hs_pattern_ok(const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != 'a' + (int)(i % 26))
            return 0;
    return 1;
}

static inline int hs_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Waits (up to 5 s) until 127.0.0.1:port accepts a connection. */
static inline int hs_wait_port(int port)
{
    for (int i = 0; i < 500; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* Starts nginx (one worker, no daemon) on a free port, serving
 * s->dir/www, with gzip for text/plain, stub_status at /status, a
 * redirect /moved -> /f1.txt.  -1 if nginx is not installed or did not
 * start.  Files may be added to www before or after. */
static inline int hs_start_nginx(http_server *s)
{
    const char *bin = "/usr/sbin/nginx";
    if (access(bin, X_OK) != 0 || hs_mkdir(s) < 0)
        return -1;
    s->port = hs_free_port();
    char conf[400];
    snprintf(conf, sizeof conf, "%s/nginx.conf", s->dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f,
            "daemon off; master_process off; worker_processes 1;\n"
            "pid %1$s/nginx.pid; error_log %1$s/error.log;\n"
            "events { worker_connections 4096; }\n"
            "http {\n"
            "  access_log off; keepalive_requests 1000000; keepalive_timeout 60;\n"
            "  client_body_temp_path %1$s; proxy_temp_path %1$s; fastcgi_temp_path %1$s;\n"
            "  uwsgi_temp_path %1$s; scgi_temp_path %1$s;\n"
            "  default_type text/plain; gzip on; gzip_min_length 100; gzip_types text/plain;\n"
            "  server {\n"
            "    listen 127.0.0.1:%2$d; root %1$s/www;\n"
            "    location = /status { stub_status; }\n"
            "    location = /moved { return 301 /f1.txt; }\n"
            "  }\n"
            "}\n",
            s->dir, s->port);
    fclose(f);
    s->pid = fork();
    if (s->pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(bin, "nginx", "-p", s->dir, "-c", conf, "-e", "stderr", (char *)NULL);
        _exit(127);
    }
    if (s->pid < 0 || hs_wait_port(s->port) < 0) {
        if (s->pid > 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
        return -1;
    }
    return 0;
}

/* Starts python3 -m http.server on a free port serving s->dir/www. */
static inline int hs_start_python(http_server *s)
{
    const char *py = test_python();
    if (access(py, X_OK) != 0 || hs_mkdir(s) < 0)
        return -1;
    s->port = hs_free_port();
    char port[16], www[300];
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(www, sizeof www, "%s/www", s->dir);
    s->pid = fork();
    if (s->pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(py, "python3", "-m", "http.server", port, "--bind", "127.0.0.1", "--directory",
              www, (char *)NULL);
        _exit(127);
    }
    if (s->pid < 0 || hs_wait_port(s->port) < 0) {
        if (s->pid > 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
        return -1;
    }
    return 0;
}

/* Stops the server and removes its directory. */
static inline void hs_stop(http_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    if (s->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", s->dir);
        s->dir[0] = 0;
    }
}

#endif
