/*
 * cio_ws.c - cio's side of bench-ws: a WebSocket server on 127.0.0.1:PORT
 * (argv[1]) that echoes every message on /echo and, on /bcast, sends each
 * message it receives to every connection of /bcast with
 * cio_ws_broadcast.  Compression is off, as in the peers
 * (bench/peers/ws_node.js, ws_websockets.py).  Runs until killed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cio.h>

static cio_ws *bcast[65536];
static size_t nbcast;

static int echo(cio_ws *ws, void *ud)
{
    (void)ud;
    int type;
    const void *d;
    size_t n;
    while (cio_ws_recv(ws, &type, &d, &n) == 0)
        if ((type == CIO_WS_TEXT ? cio_ws_send_text(ws, d, n) : cio_ws_send_binary(ws, d, n)) < 0)
            break;
    return 0;
}

static int fanout(cio_ws *ws, void *ud)
{
    (void)ud;
    if (nbcast == sizeof bcast / sizeof bcast[0])
        return 0;
    bcast[nbcast++] = ws;
    int type;
    const void *d;
    size_t n;
    while (cio_ws_recv(ws, &type, &d, &n) == 0)
        cio_ws_broadcast(bcast, nbcast, type, d, n);
    for (size_t i = 0; i < nbcast; i++)
        if (bcast[i] == ws) {
            bcast[i] = bcast[--nbcast];
            break;
        }
    return 0;
}

static cio_ws_options opts;

static int route(cio_http_request *req, void *ud)
{
    return cio_ws_serve(req, &opts, (cio_ws_handler_fn *)ud, NULL);
}

static int main_task(void *arg, void **result)
{
    (void)result;
    cio_http_server *srv;
    cio_ws_options_init(&opts);
    opts.no_compression = 1;
    opts.ping_interval = -1;
    int rc = cio_http_server_new(NULL, &srv);
    if (rc < 0)
        return rc;
    cio_http_server_route(srv, "GET", "/echo", route, echo, 0);
    cio_http_server_route(srv, "GET", "/bcast", route, fanout, 0);
    rc = cio_http_server_listen(srv, "127.0.0.1", *(int *)arg);
    if (rc < 0)
        return rc;
    return cio_http_server_serve_forever(srv);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 9000;
    signal(SIGPIPE, SIG_IGN);
    return cio_run(main_task, &port, NULL) < 0;
}
