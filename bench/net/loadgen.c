/*
 * loadgen.c - TCP echo load generator for bench-net.
 *
 *   loadgen HOST PORT CONNS SIZE SECONDS [WARMUP_SECONDS]
 *
 * Opens CONNS connections; on each, sends SIZE bytes, waits for exactly
 * those SIZE bytes to come back, checks every byte, and sends again (one
 * message in flight per connection).  Runs WARMUP_SECONDS (default 0.5)
 * unmeasured, then SECONDS measured.  Prints one JSON object:
 *   {"msgs": N, "seconds": S, "msgs_per_s": R, "p50_us": .., "p99_us": ..,
 *    "cpu_s": user+sys of this process during the measured part,
 *    "errors": 0}
 * A mismatched byte or a closed connection counts as an error and stops
 * the run with exit code 1, so a server that corrupts data cannot score.
 *
 * Latency is measured per message, from the send to the last byte back,
 * into a log-linear histogram (1 us .. ~1 s, 3% resolution).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;             /* socket */
    size_t sent;        /* bytes of the current message sent */
    size_t got;         /* bytes of it received back */
    uint8_t seed;       /* varies the message content per round */
    int64_t t0;         /* when the message's first byte was sent */
};

static size_t msg_size;
static unsigned char *out_buf;  /* pattern source, 2 * msg_size + 256 bytes */
static unsigned char *in_buf;

#define HBUCKETS 800
static uint64_t hist[HBUCKETS];

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int bucket_of(int64_t ns)
{
    double us = (double)ns / 1000.0;
    if (us < 1)
        return 0;
    int b = (int)(log2(us) * 32.0);
    return b >= HBUCKETS ? HBUCKETS - 1 : b;
}

static double bucket_us(int b) { return exp2((b + 0.5) / 32.0); }

static double percentile(double p)
{
    uint64_t total = 0, acc = 0;
    for (int i = 0; i < HBUCKETS; i++)
        total += hist[i];
    if (!total)
        return 0;
    uint64_t want = (uint64_t)(p * (double)total);
    for (int i = 0; i < HBUCKETS; i++) {
        acc += hist[i];
        if (acc > want)
            return bucket_us(i);
    }
    return bucket_us(HBUCKETS - 1);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    printf("{\"errors\": 1}\n");
    exit(1);
}

/* Sends what is left of c's message; 0 ok, -1 fatal. */
static int pump_send(struct conn *c)
{
    while (c->sent < msg_size) {
        ssize_t n = send(c->fd, out_buf + c->seed + c->sent, msg_size - c->sent, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->sent += (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: loadgen HOST PORT CONNS SIZE SECONDS [WARMUP]\n");
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    int nconns = atoi(argv[3]);
    msg_size = (size_t)atol(argv[4]);
    double seconds = atof(argv[5]);
    double warmup = argc > 6 ? atof(argv[6]) : 0.5;
    if (nconns < 1 || msg_size < 1 || seconds <= 0)
        return 2;

    out_buf = malloc(msg_size + 256);
    in_buf = malloc(msg_size);
    for (size_t i = 0; i < msg_size + 256; i++)
        out_buf[i] = (unsigned char)(i * 7 + 13);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: HOST must be an IPv4 address\n");
        return 2;
    }
    int ep = epoll_create1(0);
    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            die("socket");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
            die("connect");
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
            die("fcntl");
        conns[i].fd = fd;
        conns[i].seed = (uint8_t)i;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    int64_t start = now_ns();
    int64_t measure_from = start + (int64_t)(warmup * 1e9);
    int64_t end = measure_from + (int64_t)(seconds * 1e9);
    double cpu0 = 0;
    int measuring = 0;
    uint64_t msgs = 0;
    for (int i = 0; i < nconns; i++) {
        conns[i].t0 = now_ns();
        if (pump_send(&conns[i]) < 0)
            die("send");
    }
    struct epoll_event evs[512];
    for (;;) {
        int64_t t = now_ns();
        if (!measuring && t >= measure_from) {
            measuring = 1;
            cpu0 = cpu_seconds();
            memset(hist, 0, sizeof hist);
            msgs = 0;
            measure_from = t;
        }
        if (t >= end)
            break;
        int n = epoll_wait(ep, evs, 512, 100);
        for (int k = 0; k < n; k++) {
            struct conn *c = evs[k].data.ptr;
            if (evs[k].events & EPOLLOUT)
                if (pump_send(c) < 0)
                    die("send");
            for (;;) {
                if (c->got >= c->sent)
                    break; /* nothing outstanding to read */
                ssize_t r = recv(c->fd, in_buf + c->got, c->sent - c->got, 0);
                if (r == 0) {
                    errno = ECONNRESET;
                    die("server closed a connection");
                }
                if (r < 0) {
                    if (errno == EAGAIN)
                        break;
                    die("recv");
                }
                if (memcmp(in_buf + c->got, out_buf + c->seed + c->got, (size_t)r) != 0) {
                    fprintf(stderr, "loadgen: echoed bytes differ from what was sent\n");
                    printf("{\"errors\": 1}\n");
                    return 1;
                }
                c->got += (size_t)r;
                if (c->got == msg_size) {
                    int64_t done = now_ns();
                    hist[bucket_of(done - c->t0)]++;
                    msgs++;
                    c->seed = (uint8_t)(c->seed + 1);
                    c->sent = c->got = 0;
                    c->t0 = done;
                    if (pump_send(c) < 0)
                        die("send");
                }
            }
        }
    }
    double elapsed = (double)(now_ns() - measure_from) / 1e9;
    double cpu = cpu_seconds() - cpu0;
    printf("{\"msgs\": %llu, \"seconds\": %.3f, \"msgs_per_s\": %.1f, \"p50_us\": %.1f, "
           "\"p99_us\": %.1f, \"cpu_s\": %.3f, \"errors\": 0}\n",
           (unsigned long long)msgs, elapsed, (double)msgs / elapsed, percentile(0.50),
           percentile(0.99), cpu);
    return 0;
}
