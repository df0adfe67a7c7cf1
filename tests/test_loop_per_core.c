/*
 * test_loop_per_core.c - the one-loop-per-core example
 * (examples/loop_per_core.c) as a user runs it: started with a port and
 * a number of loops, it serves connections from this process (each
 * echoed), both loops serve some (SO_REUSEPORT spreads them), and a
 * SIGTERM (then, with three loops, a SIGINT) ends it cleanly: exit
 * status 0, every loop reporting what it served.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#ifndef LOOP_PER_CORE_BIN
#define LOOP_PER_CORE_BIN ""
#endif

#define CLIENTS 40

/* Reads from fd into buf (NUL-terminated, appended at *len) until want
 * appears or ms pass; 1 if it appeared. */
static int read_until(int fd, char *buf, size_t cap, size_t *len, const char *want, int ms)
{
    for (int waited = 0; !strstr(buf, want) && waited < ms; waited += 10) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) <= 0)
            continue;
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0)
            break;
        *len += (size_t)n;
        buf[*len] = 0;
    }
    return strstr(buf, want) != NULL;
}

static void run_example(int loops, int sig)
{
    int out[2];
    CHECK_RC(pipe(out), 0);
    char nloops[8];
    snprintf(nloops, sizeof nloops, "%d", loops);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
#ifdef LOOP_PER_CORE_EMULATOR
        /* "qemu-aarch64 -L /usr/aarch64-linux-gnu": words, then the
         * example and its arguments. */
        char emu[] = LOOP_PER_CORE_EMULATOR;
        char *argv[16];
        int argc = 0;
        for (char *w = strtok(emu, " "); w && argc < 12; w = strtok(NULL, " "))
            argv[argc++] = w;
        argv[argc++] = (char *)LOOP_PER_CORE_BIN;
        argv[argc++] = (char *)"0";
        argv[argc++] = nloops;
        argv[argc] = NULL;
        execvp(argv[0], argv);
#else
        execl(LOOP_PER_CORE_BIN, "loop_per_core", "0", nloops, (char *)NULL);
#endif
        _exit(127);
    }
    close(out[1]);
    char buf[4096] = {0};
    size_t len = 0;
    CHECK(read_until(out[0], buf, sizeof buf, &len, "\n", 10000));
    int port = 0;
    CHECK_EQ(sscanf(buf, "port %d", &port), 1);
    int echoed = 0;
    for (int i = 0; i < CLIENTS && port > 0; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        char got[5] = {0};
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && write(fd, "ping", 4) == 4 &&
            recv(fd, got, 4, MSG_WAITALL) == 4 && !memcmp(got, "ping", 4))
            echoed++;
        close(fd);
    }
    CHECK_EQ(echoed, CLIENTS);
    CHECK_RC(kill(pid, sig), 0);
    char last[32];
    snprintf(last, sizeof last, "loop %d served", loops - 1);
    CHECK(read_until(out[0], buf, sizeof buf, &len, last, 10000));
    read_until(out[0], buf, sizeof buf, &len, "\n\n", 200); /* the rest */
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    int total = 0, serving = 0;
    for (int i = 0; i < loops; i++) {
        char key[32];
        snprintf(key, sizeof key, "loop %d served ", i);
        const char *p = strstr(buf, key);
        CHECK(p != NULL);
        int n = p ? atoi(p + strlen(key)) : 0;
        total += n;
        serving += n > 0;
    }
    CHECK_EQ(total, CLIENTS);
    /* SO_REUSEPORT hashes connections over the listeners: with 40 of
     * them, a loop left without any would mean it did not listen. */
    CHECK_EQ(serving, loops);
    close(out[0]);
}

static void test_sigterm_two_loops(void) { run_example(2, SIGTERM); }
static void test_sigint_three_loops(void) { run_example(3, SIGINT); }

int main(void)
{
    if (access(LOOP_PER_CORE_BIN, X_OK) != 0) {
        printf("skipped: examples/loop_per_core not built (CIO_BUILD_EXAMPLES=OFF)\n");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    RUN(test_sigterm_two_loops);
    RUN(test_sigint_three_loops);
    return test_finish();
}
