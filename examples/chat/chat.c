/*
 * Chat: a real-time chat that browsers use, page and WebSocket on one port
 *
 * Scenario 14: many browsers connected, every message delivered to
 * everyone at once.  One cio process serves the page (index.html from this
 * folder, plain HTML and JavaScript) on "/" and the WebSocket endpoint on
 * "/ws" of the same HTTP server.  A browser's first message is its
 * nickname; then each message it sends is said to the room.  Newcomers get
 * the last 50 messages; joins and leaves are announced.
 *
 * The asyncio program it mirrors (Python's websockets library):
 *
 *     members, history = set(), collections.deque(maxlen=50)
 *     async def chat(ws):
 *         nick = await ws.recv()
 *         for m in history: await ws.send(m)
 *         members.add(ws)
 *         websockets.broadcast(members, json.dumps({"type": "join", "nick": nick}))
 *         try:
 *             async for text in ws:
 *                 m = json.dumps({"type": "msg", "nick": nick, "text": text})
 *                 history.append(m)
 *                 websockets.broadcast(members, m)
 *         finally:
 *             members.remove(ws)
 *             websockets.broadcast(members, json.dumps({"type": "leave", "nick": nick}))
 *
 * Run it: `make chat` (or build/examples/chat [port], default 8080), then
 * open http://localhost:8080/ in several browser windows.  With port 0 it
 * picks a free port; the first line it prints is the address.
 *
 * What to observe: a message typed in one window appears in all of them
 * at once (cio_ws_broadcast encodes the frame once for everyone); a
 * window that joins later sees the history; closing a window is announced
 * to the others.  A slow browser cannot make the server buffer without
 * bound: broadcast fails a connection whose unsent bytes pass 1 MiB.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cio.h>

#ifndef CHAT_DIR
#define CHAT_DIR "examples/chat"
#endif

#define MAX_MEMBERS 1024
#define HISTORY 50

/* One connected browser. */
struct member {
    cio_ws *ws;     /* its connection */
    char nick[33];  /* its nickname */
};

static struct member *members[MAX_MEMBERS];
static cio_ws *conns[MAX_MEMBERS]; /* members[i]->ws, for broadcast */
static size_t nmembers;
static char *history[HISTORY]; /* JSON texts, oldest first from hist_start */
static size_t hist_start, hist_len;

/* Appends s to out as a JSON string (quotes included). */
static size_t json_str(char *out, const char *s, size_t n)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = 0;
    return o;
}

/* Sends a JSON text to every member. */
static void say_all(const char *json)
{
    cio_ws_broadcast(conns, nmembers, CIO_WS_TEXT, json, strlen(json));
}

static void notice(const char *type, const char *nick)
{
    char buf[320], q[3 * 33 * 2];
    json_str(q, nick, strlen(nick));
    snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"nick\":%s}", type, q);
    say_all(buf);
    /* the list of who is online */
    char *users = malloc(nmembers * 200 + 64);
    size_t o = (size_t)sprintf(users, "{\"type\":\"users\",\"nicks\":[");
    for (size_t i = 0; i < nmembers; i++) {
        if (i)
            users[o++] = ',';
        o += json_str(users + o, members[i]->nick, strlen(members[i]->nick));
    }
    strcpy(users + o, "]}");
    say_all(users);
    free(users);
}

static void remember(char *json)
{
    if (hist_len == HISTORY) {
        free(history[hist_start]);
        history[hist_start] = json;
        hist_start = (hist_start + 1) % HISTORY;
    } else {
        history[(hist_start + hist_len++) % HISTORY] = json;
    }
}

/* One browser's conversation (the connection's task). */
static int chat(cio_ws *ws, void *ud)
{
    (void)ud;
    int type;
    const void *data;
    size_t len;
    int rc = cio_ws_recv(ws, &type, &data, &len);
    if (rc < 0)
        return 0;
    if (type != CIO_WS_TEXT || len == 0 || len > 32 || nmembers == MAX_MEMBERS) {
        cio_ws_close(ws, 1008, "a nickname of 1 to 32 bytes, please");
        return 0;
    }
    struct member me = {.ws = ws};
    memcpy(me.nick, data, len);
    for (size_t i = 0; i < hist_len; i++) {
        const char *h = history[(hist_start + i) % HISTORY];
        if (cio_ws_send_text(ws, h, strlen(h)) < 0)
            return 0;
    }
    members[nmembers] = &me;
    conns[nmembers++] = ws;
    notice("join", me.nick);
    while (cio_ws_recv(ws, &type, &data, &len) == 0) {
        if (type != CIO_WS_TEXT || len > 4000)
            continue;
        char *json = malloc(len * 6 + 200);
        size_t o = (size_t)sprintf(json, "{\"type\":\"msg\",\"nick\":");
        o += json_str(json + o, me.nick, strlen(me.nick));
        o += (size_t)sprintf(json + o, ",\"text\":");
        o += json_str(json + o, data, len);
        strcpy(json + o, "}");
        say_all(json);
        remember(json);
    }
    for (size_t i = 0; i < nmembers; i++)
        if (members[i] == &me) {
            members[i] = members[--nmembers];
            conns[i] = conns[nmembers];
            break;
        }
    notice("leave", me.nick);
    return 0;
}

static int page(cio_http_request *req, void *ud)
{
    (void)ud;
    return cio_http_respond_file(req, CHAT_DIR "/index.html", "text/html; charset=utf-8");
}

static int ws_route(cio_http_request *req, void *ud)
{
    (void)ud;
    return cio_ws_serve(req, NULL, chat, NULL);
}

static int main_task(void *arg, void **result)
{
    (void)result;
    int port = *(int *)arg;
    cio_http_server *srv;
    int rc = cio_http_server_new(NULL, &srv);
    if (rc < 0)
        return rc;
    cio_http_server_route(srv, "GET", "/", page, NULL, 0);
    cio_http_server_route(srv, "GET", "/ws", ws_route, NULL, 0);
    rc = cio_http_server_listen(srv, NULL, port);
    if (rc < 0) {
        fprintf(stderr, "chat: cannot listen on port %d: %s\n", port, cio_strerror(rc));
        cio_http_server_free(srv);
        return rc;
    }
    printf("chat: http://localhost:%d/\n", cio_http_server_port(srv));
    fflush(stdout);
    rc = cio_http_server_serve_forever(srv);
    cio_http_server_free(srv);
    return rc;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    signal(SIGPIPE, SIG_IGN);
    int rc = cio_run(main_task, &port, NULL);
    for (size_t i = 0; i < hist_len; i++)
        free(history[(hist_start + i) % HISTORY]);
    return rc < 0 ? 1 : 0;
}
