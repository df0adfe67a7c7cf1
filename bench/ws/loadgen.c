/*
 * loadgen.c - WebSocket load generator for bench-ws (bench_ws_loadgen).
 *
 *   bench_ws_loadgen PORT MODE CONNS INFLIGHT SECONDS [WARMUP_SECONDS]
 *
 * The client side of RFC 6455 written out in plain C on epoll, with no cio
 * code, so it measures every server alike and costs far less CPU per
 * message than any of them (node's ws client, the previous generator,
 * costs as much as the servers and capped their msgs/s).
 *
 * Opens CONNS connections to 127.0.0.1:PORT one after another, each with
 * its own HTTP upgrade (a random 16-byte Sec-WebSocket-Key, the
 * Sec-WebSocket-Accept checked with the SHA-1 below, no extensions
 * offered and none accepted).  Then:
 *   MODE echo:  on /echo, keeps INFLIGHT 32-byte text messages in flight
 *               on every connection (writes INFLIGHT frames, and one more
 *               per echo that comes back);
 *   MODE bcast: on /bcast, the first connection sends a 32-byte text
 *               message; once every connection (the sender too) received
 *               it, the next is sent.  Counts deliveries, as loadgen.js.
 * Client frames are masked (a fresh mask per frame); server frames are
 * parsed with 7, 16 and 64-bit lengths; pings are answered.
 *
 * Every message received is compared with the one expected: each
 * message's content is a 32-byte window into a fixed random text, shifted
 * by one per message (per connection for echo, per round for broadcast),
 * so a wrong byte, a lost, duplicated or reordered message, a close or a
 * compressed/fragmented frame stops the run with exit code 1 and
 * {"errors": 1}: a broken server cannot score.  So do no message at all
 * for 5 s, and a connection still waiting for a message at the end that
 * has received nothing for 1 s (a message lost there).
 *
 * Runs WARMUP_SECONDS (default 0.5) unmeasured, then prints the line
 * "measuring" (drive.py samples the server's CPU there), runs SECONDS
 * measured and prints one JSON line:
 *   {"msgs": N, "seconds": S, "msgs_per_s": R, "cpu_s": C, "errors": 0}
 * msgs counts messages received in the measured part, cpu_s is this
 * process's user+sys CPU over it (getrusage).  The format is loadgen.js's
 * (plus msgs_per_s and errors), so drive.py reads either.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MSG_SIZE 32      /* payload of every message, as loadgen.js */
#define BUF_SIZE 4096    /* per-connection input and output buffers */
#define PATTERN 256      /* distinct messages before the content repeats */
#define STALL_NS 5000000000LL /* no message at all for this long: fail */
#define LATE_NS 1000000000LL   /* a message unanswered this long at the end: fail */

struct conn {
    int fd;                     /* the socket, non-blocking once upgraded */
    int id;                     /* index in conns[], varies echo content */
    int out_armed;              /* EPOLLOUT is registered (output pending) */
    uint64_t sent;              /* echo: messages sent on this connection */
    uint64_t got;               /* messages received on this connection */
    int64_t last;               /* when it last received (or started) */
    size_t in_len;              /* bytes in in[] not yet parsed */
    size_t out_off, out_len;    /* out[out_off..out_len) is still to send */
    unsigned char in[BUF_SIZE];  /* received bytes, a frame may be partial */
    unsigned char out[BUF_SIZE]; /* frames queued for sending */
};

static int ep;                  /* the epoll instance */
static struct conn *conns;      /* CONNS connections */
static int nconns;
static int bcast;               /* MODE is bcast (else echo) */
static uint64_t msgs;           /* messages received (reset after warm-up) */
static uint64_t rounds;         /* bcast: messages the first connection sent */
static int pending;             /* bcast: receivers still to get this round */
static int64_t last_msg;        /* when a message last arrived (stall check) */
static int64_t loop_now;        /* the event loop's time for this round of events */
static uint64_t rng;            /* xorshift state for the frame masks */
static unsigned char pattern[PATTERN + MSG_SIZE]; /* message k: pattern + k % PATTERN */

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_ws_loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    printf("{\"errors\": 1}\n");
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---- SHA-1 (FIPS 180-4) and base64, for Sec-WebSocket-Accept only ---- */

static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20)
            f = (b & c) | (~b & d), k = 0x5A827999;
        else if (i < 40)
            f = b ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
        else
            f = b ^ c ^ d, k = 0xCA62C1D6;
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rol32(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void sha1(const void *data, size_t n, unsigned char out[20])
{
    const unsigned char *p = data;
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        sha1_block(h, p + i);
    unsigned char tail[128] = {0};
    size_t rest = n - i;
    memcpy(tail, p + i, rest);
    tail[rest] = 0x80;
    size_t len = rest + 1 + 8 <= 64 ? 64 : 128; /* room for the 64-bit bit count */
    uint64_t bits = (uint64_t)n * 8;
    for (int k = 0; k < 8; k++)
        tail[len - 1 - k] = (unsigned char)(bits >> (8 * k));
    for (size_t off = 0; off < len; off += 64)
        sha1_block(h, tail + off);
    for (int k = 0; k < 5; k++)
        for (int b = 0; b < 4; b++)
            out[4 * k + b] = (unsigned char)(h[k] >> (24 - 8 * b));
}

static void base64(const unsigned char *p, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? abc[v & 63] : '=';
    }
    out[o] = 0;
}

/* The Sec-WebSocket-Accept a server must answer to key (RFC 6455 4.2.2). */
static void accept_of(const char *key, char out[29])
{
    char buf[128];
    unsigned char digest[20];
    int n = snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    sha1(buf, (size_t)n, digest);
    base64(digest, 20, out);
}

/* ---- frames ---- */

static uint32_t next_mask(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* The content of message k on a connection whose sequence starts at base. */
static const unsigned char *message(uint64_t base, uint64_t k)
{
    return pattern + (base + k) % PATTERN;
}

static uint64_t base_of(const struct conn *c) { return bcast ? 0 : (uint64_t)c->id * 37; }

static void set_out(struct conn *c, int on)
{
    if (c->out_armed == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        fail("epoll_ctl: %s", strerror(errno));
    c->out_armed = on;
}

/* Queues one masked client frame (FIN set, payload n <= 125 bytes). */
static void queue_frame(struct conn *c, int opcode, const unsigned char *p, size_t n)
{
    if (c->out_len + 6 + n > BUF_SIZE) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + 6 + n > BUF_SIZE)
            fail("connection %d: output backed up (the server does not read)", c->id);
    }
    unsigned char *f = c->out + c->out_len;
    uint32_t m = next_mask();
    f[0] = (unsigned char)(0x80 | opcode);
    f[1] = (unsigned char)(0x80 | n);
    memcpy(f + 2, &m, 4);
    for (size_t i = 0; i < n; i++)
        f[6 + i] = p[i] ^ f[2 + (i & 3)];
    c->out_len += 6 + n;
}

/* Sends what c has queued; what the socket does not take waits for
 * EPOLLOUT. */
static void flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                set_out(c, 1);
                return;
            }
            fail("connection %d: send: %s", c->id, strerror(errno));
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    set_out(c, 0);
}

/* A text message arrived on c: checks it is the next one expected, counts
 * it and sends what it calls for. */
static void on_message(struct conn *c, const unsigned char *p, uint64_t n)
{
    if (bcast ? c->got >= rounds : c->got >= c->sent)
        fail("connection %d: a message nobody sent (message %llu)", c->id,
             (unsigned long long)c->got);
    if (n != MSG_SIZE || memcmp(p, message(base_of(c), c->got), MSG_SIZE) != 0)
        fail("connection %d: message %llu is not the one sent (%llu bytes%s)", c->id,
             (unsigned long long)c->got, (unsigned long long)n,
             n == MSG_SIZE ? ", other content or order" : "");
    c->got++;
    c->last = loop_now;
    msgs++;
    if (!bcast) {
        queue_frame(c, 0x1, message(base_of(c), c->sent), MSG_SIZE);
        c->sent++;
    } else if (--pending == 0) {
        pending = nconns;
        queue_frame(&conns[0], 0x1, message(0, rounds), MSG_SIZE);
        rounds++;
        flush(&conns[0]);
    }
}

/* Parses the complete frames in c->in[0..in_len). */
static void parse(struct conn *c)
{
    size_t pos = 0;
    for (;;) {
        size_t avail = c->in_len - pos;
        const unsigned char *f = c->in + pos;
        if (avail < 2)
            break;
        if (f[1] & 0x80)
            fail("connection %d: a masked server frame", c->id);
        if (f[0] & 0x70)
            fail("connection %d: RSV bits set (an extension nobody agreed to)", c->id);
        uint64_t len = f[1] & 0x7f;
        size_t hdr = 2;
        if (len == 126) {
            if (avail < 4)
                break;
            len = (uint64_t)f[2] << 8 | f[3];
            hdr = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | f[2 + i];
            hdr = 10;
        }
        if (len > BUF_SIZE - hdr)
            fail("connection %d: a %llu-byte frame (messages are %d bytes)", c->id,
                 (unsigned long long)len, MSG_SIZE);
        if (avail < hdr + len)
            break;
        int opcode = f[0] & 0x0f;
        if (!(f[0] & 0x80))
            fail("connection %d: a fragmented message", c->id);
        switch (opcode) {
        case 0x1:
            on_message(c, f + hdr, len);
            break;
        case 0x9: /* ping: answer with its payload (<= 125 bytes) */
            if (len > 125)
                fail("connection %d: a ping of %llu bytes", c->id, (unsigned long long)len);
            queue_frame(c, 0xA, f + hdr, (size_t)len);
            break;
        case 0xA:
            break;
        case 0x8:
            fail("connection %d: the server closed the WebSocket", c->id);
            break;
        default:
            fail("connection %d: unexpected opcode %d", c->id, opcode);
        }
        pos += hdr + (size_t)len;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
}

/* One recv per readiness (epoll is level-triggered: what is left wakes it
 * again), then the frames it completed, then what they queued. */
static void on_readable(struct conn *c)
{
    ssize_t r = recv(c->fd, c->in + c->in_len, BUF_SIZE - c->in_len, 0);
    if (r == 0)
        fail("connection %d: the server closed the connection", c->id);
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        fail("connection %d: recv: %s", c->id, strerror(errno));
    }
    c->in_len += (size_t)r;
    parse(c);
    if (c->out_len > c->out_off)
        flush(c);
}

/* ---- the upgrade (blocking, one connection at a time, as loadgen.js) ---- */

/* The value of header name in the response head (NUL-terminated), or NULL. */
static const char *header(char *head, const char *name, char *val, size_t cap)
{
    size_t nl = strlen(name);
    for (char *line = strstr(head, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, name, nl) != 0 || line[nl] != ':')
            continue;
        const char *v = line + nl + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t n = strcspn(v, "\r");
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (n >= cap)
            n = cap - 1;
        memcpy(val, v, n);
        val[n] = 0;
        return val;
    }
    return NULL;
}

static void upgrade(struct conn *c, const struct sockaddr_in *addr, int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 10}; /* a server that never answers fails the run */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) < 0)
        fail("connection %d: connect: %s", c->id, strerror(errno));
    c->fd = fd;

    unsigned char raw[16];
    char key[25], want[29], got[64], req[512];
    if (getrandom(raw, sizeof raw, 0) != sizeof raw)
        fail("getrandom: %s", strerror(errno));
    base64(raw, sizeof raw, key);
    accept_of(key, want);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, port, key);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        fail("connection %d: sending the upgrade: %s", c->id, strerror(errno));

    /* The head goes into in[] (NUL-terminated for the string functions);
     * bytes after it, if any, stay there as the first frame bytes. */
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len >= BUF_SIZE - 1)
            fail("connection %d: the upgrade response head is over %d bytes", c->id, BUF_SIZE);
        ssize_t r = recv(fd, c->in + len, BUF_SIZE - 1 - len, 0);
        if (r <= 0)
            fail("connection %d: no upgrade response (%s)", c->id,
                 r == 0 ? "closed" : strerror(errno));
        len += (size_t)r;
        c->in[len] = 0;
        end = strstr((char *)c->in, "\r\n\r\n");
    }
    char *head = (char *)c->in;
    size_t head_len = (size_t)(end - head) + 4;
    end[2] = 0; /* the head ends after its last header line's CRLF */
    if (strncmp(head, "HTTP/1.1 101", 12) != 0)
        fail("connection %d: the server answered \"%.*s\", not 101", c->id,
             (int)strcspn(head, "\r"), head);
    if (!header(head, "Upgrade", got, sizeof got) || strcasecmp(got, "websocket") != 0)
        fail("connection %d: no \"Upgrade: websocket\" in the 101", c->id);
    if (!header(head, "Sec-WebSocket-Accept", got, sizeof got) || strcmp(got, want) != 0)
        fail("connection %d: Sec-WebSocket-Accept is \"%s\", not \"%s\"", c->id,
             header(head, "Sec-WebSocket-Accept", got, sizeof got) ? got : "", want);
    if (header(head, "Sec-WebSocket-Extensions", got, sizeof got))
        fail("connection %d: the server chose extensions nobody offered (%s)", c->id, got);
    c->in_len = len - head_len;
    memmove(c->in, c->in + head_len, c->in_len);

    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        fail("fcntl: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        fail("epoll_ctl: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: bench_ws_loadgen PORT echo|bcast CONNS INFLIGHT SECONDS [WARMUP]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    bcast = strcmp(argv[2], "bcast") == 0;
    nconns = atoi(argv[3]);
    int inflight = atoi(argv[4]);
    double seconds = atof(argv[5]);
    double warmup = argc > 6 ? atof(argv[6]) : 0.5;
    if ((!bcast && strcmp(argv[2], "echo") != 0) || port <= 0 || nconns < 1 || inflight < 1 ||
        inflight > BUF_SIZE / (6 + MSG_SIZE) - 4 || seconds <= 0 || warmup < 0) {
        fprintf(stderr, "bench_ws_loadgen: bad arguments\n");
        return 2;
    }

    /* The SHA-1 and base64 above against RFC 6455's own example. */
    char check[29];
    accept_of("dGhlIHNhbXBsZSBub25jZQ==", check);
    if (strcmp(check, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0)
        fail("Sec-WebSocket-Accept self-test failed (%s)", check);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nconns + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrandom(&rng, sizeof rng, 0) != sizeof rng || rng == 0)
        rng = 0x9E3779B97F4A7C15ull;
    /* Letters from a fixed LCG: the 32-byte windows are all distinct, and
     * valid UTF-8 text. */
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof pattern; i++) {
        s = s * 1103515245u + 12345u;
        pattern[i] = (unsigned char)letters[(s >> 16) % 62];
    }

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ep = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)nconns, sizeof *conns);
    if (ep < 0 || !conns)
        fail("setup: %s", strerror(errno));
    for (int i = 0; i < nconns; i++) {
        conns[i].id = i;
        upgrade(&conns[i], &addr, port, bcast ? "/bcast" : "/echo");
    }

    if (bcast) {
        /* A server may register a connection for broadcast just after its
         * 101 went out (Go's handler goroutine): give the last ones a
         * moment, or the first message could miss them and the run stall. */
        struct timespec settle = {.tv_nsec = 50000000};
        nanosleep(&settle, NULL);
        pending = nconns;
        queue_frame(&conns[0], 0x1, message(0, 0), MSG_SIZE);
        rounds = 1;
        flush(&conns[0]);
    } else {
        for (int i = 0; i < nconns; i++) {
            struct conn *c = &conns[i];
            for (int k = 0; k < inflight; k++, c->sent++)
                queue_frame(c, 0x1, message(base_of(c), c->sent), MSG_SIZE);
            flush(c);
        }
    }

    int64_t measure_from = now_ns() + (int64_t)(warmup * 1e9);
    int64_t end = measure_from + (int64_t)(seconds * 1e9);
    int measuring = 0;
    double cpu0 = 0;
    last_msg = now_ns();
    for (int i = 0; i < nconns; i++)
        conns[i].last = last_msg;
    struct epoll_event evs[1024];
    for (;;) {
        int64_t t = loop_now = now_ns();
        if (!measuring && t >= measure_from) {
            measuring = 1;
            printf("measuring\n");
            fflush(stdout);
            cpu0 = cpu_seconds();
            msgs = 0;
            measure_from = now_ns();
            end = measure_from + (int64_t)(seconds * 1e9);
        }
        if (t >= end)
            break;
        int64_t next = measuring ? end : measure_from;
        int wait_ms = (int)((next - t) / 1000000) + 1;
        uint64_t before = msgs;
        int n = epoll_wait(ep, evs, 1024, wait_ms < 100 ? wait_ms : 100);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait: %s", strerror(errno));
        for (int k = 0; k < n; k++) {
            struct conn *c = evs[k].data.ptr;
            if (evs[k].events & EPOLLOUT)
                flush(c);
            if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(c);
        }
        if (msgs != before)
            last_msg = t;
        else if (t - last_msg > STALL_NS)
            fail("no message for %d s (%llu received; a lost or unanswered message?)",
                 (int)(STALL_NS / 1000000000), (unsigned long long)msgs);
    }
    double elapsed = (double)(now_ns() - measure_from) / 1e9;
    double cpu = cpu_seconds() - cpu0;
    if (msgs == 0)
        fail("no message in the measured %.1f s", elapsed);
    /* A message lost on one connection stalls only that one (echo) or
     * the run's last round (broadcast): the others would still score. */
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        if ((bcast ? c->got < rounds : c->got < c->sent) && loop_now - c->last > LATE_NS)
            fail("connection %d: message %llu unanswered for %.1f s", c->id,
                 (unsigned long long)c->got, (double)(loop_now - c->last) / 1e9);
    }
    printf("{\"msgs\": %llu, \"seconds\": %.3f, \"msgs_per_s\": %.1f, \"cpu_s\": %.3f, "
           "\"conns\": %d, \"inflight\": %d, \"errors\": 0}\n",
           (unsigned long long)msgs, elapsed, (double)msgs / elapsed, cpu, nconns,
           bcast ? 1 : inflight);
    fflush(stdout);
    return 0;
}
