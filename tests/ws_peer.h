/*
 * ws_peer.h - what the WebSocket conformance tests share: a raw peer over
 * blocking sockets (run in a thread beside the loop) that writes crafted
 * frames and reads frames back, and a cio WebSocket echo server on an
 * HTTP route.  Header-only, like helpers.h.
 */
#ifndef CIO_TEST_WS_PEER_H
#define CIO_TEST_WS_PEER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cio.h"
#include "ws_util.h"

/* ---- raw frames over a blocking socket ----------------------------------------- */

static inline int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static inline void raw_send(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

/* Reads exactly n bytes; 0, or -1 on EOF / error / timeout. */
static inline int raw_read(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = recv(fd, c, n, 0);
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads an HTTP head into out (NUL-terminated); its length or -1. */
static inline int raw_read_head(int fd, char *out, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        if (raw_read(fd, out + n, 1) < 0)
            return -1;
        n++;
        if (n >= 4 && memcmp(out + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    out[n] = 0;
    return (int)n;
}

/* 1 if the peer closed the connection (EOF) within the timeout. */
static inline int raw_eof(int fd)
{
    char c;
    for (;;) {
        ssize_t r = recv(fd, &c, 1, 0);
        if (r == 0)
            return 1;
        if (r < 0)
            return errno == ECONNRESET;
    }
}

/* A frame read back. */
struct raw_frame {
    int fin, rsv, opcode, masked;
    uint8_t *data; /* payload (malloc'd, unmasked, NUL-terminated) */
    size_t len;
};

static inline int raw_read_frame(int fd, struct raw_frame *f)
{
    uint8_t h[14];
    memset(f, 0, sizeof *f);
    if (raw_read(fd, h, 2) < 0)
        return -1;
    f->fin = h[0] >> 7;
    f->rsv = h[0] & 0x70;
    f->opcode = h[0] & 15;
    f->masked = h[1] >> 7;
    uint64_t len = h[1] & 127;
    if (len == 126) {
        if (raw_read(fd, h, 2) < 0)
            return -1;
        len = (uint64_t)h[0] << 8 | h[1];
    } else if (len == 127) {
        if (raw_read(fd, h, 8) < 0)
            return -1;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[i];
    }
    uint8_t key[4] = {0};
    if (f->masked && raw_read(fd, key, 4) < 0)
        return -1;
    f->data = malloc(len + 1);
    f->len = len;
    if (raw_read(fd, f->data, len) < 0) {
        free(f->data);
        f->data = NULL;
        return -1;
    }
    if (f->masked)
        cio__ws_mask(f->data, len, key, 0);
    f->data[len] = 0;
    return 0;
}

/* Sends one masked frame (as a client must). */
static inline void raw_frame(int fd, int opcode, int flags, const void *p, size_t n)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    struct ws_wire w = {0};
    ws_wire_frame(&w, opcode, flags, p, n, key);
    raw_send(fd, w.data, w.len);
    ws_wire_free(&w);
}

/* Reads frames until a close frame: returns its code (1005 for none), -1
 * if the connection ended without one.  Data frames before it are
 * dropped.  *eof: the server then closed TCP. */
static inline int raw_expect_close(int fd, int *eof)
{
    struct raw_frame f;
    for (;;) {
        if (raw_read_frame(fd, &f) < 0)
            return -1;
        if (f.opcode == 8) {
            int code = f.len >= 2 ? f.data[0] << 8 | f.data[1] : 1005;
            free(f.data);
            if (eof)
                *eof = raw_eof(fd);
            return code;
        }
        free(f.data);
    }
}

static const char RAW_UPGRADE[] =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/* Connects and upgrades, with extra header lines (may be ""); returns
 * the socket or -1.  head gets the answer's head. */
static inline int raw_open(int port, const char *extra, char *head, size_t cap)
{
    int fd = raw_connect(port);
    if (fd < 0)
        return -1;
    char req[2048];
    int n = snprintf(req, sizeof req, "%s%s\r\n", RAW_UPGRADE, extra);
    raw_send(fd, req, (size_t)n);
    if (raw_read_head(fd, head, cap) < 0 || strncmp(head, "HTTP/1.1 101", 12) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

#endif
