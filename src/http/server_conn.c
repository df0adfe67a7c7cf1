/*
 * server_conn.c - one HTTP/1.1 server connection: a buffered protocol
 * over a transport that parses requests in place and runs their handlers.
 *
 * The receive buffer.  get_buffer hands the transport the free space
 * after the bytes received (compacting or growing the buffer first: the
 * only place the buffer moves), and buffer_updated parses what arrived.
 * Outside get_buffer, data only ever moves down within [0, len), and a
 * read may be pending into the space we handed out, so buffer_updated
 * finds the new bytes where get_buffer put them (rd_off) and moves them
 * to len if the layout shrank meanwhile (a streamed body was read).
 *
 * One request at a time.  process() parses heads and bodies from
 * buf[pos, len) and dispatches each complete request: an inline handler
 * runs at once and the loop goes on with the next pipelined request (all
 * their responses collect in c->out and leave in one write at the end of
 * the batch); a task handler stops the loop and pauses reading until its
 * response is done (cio__http_request_done), which resumes the loop.  So
 * responses are in request order without a queue.
 *
 * A task handler's request points into its own copy of the head, so the
 * receive buffer may move under it (streamed bodies keep reading); a
 * buffered body stays in the receive buffer, which does not move while
 * reading is paused.
 *
 * Watching (CIO_HTTP_WATCH_CLOSE, streamed-body routes only, so nothing
 * of the request lives in the receive buffer): after the body, reading
 * goes on while the handler runs, only to see the client's end of
 * stream, which then closes the connection (connection_lost cancels the
 * handler).
 *
 * Reading ahead: while a task handler runs whose request keeps nothing
 * in the receive buffer (its head is a copy; a streamed body read to its
 * end, or none), the next requests' bytes are read into the buffer, not
 * parsed, up to READ_AHEAD; only past that does reading pause.  A client
 * that sends its next request as soon as it has a response (before the
 * handler has returned) then costs no pause and resume: nothing on
 * epoll, but on io_uring a cancelled and re-armed multishot receive that
 * cost the kernel more than the request (CPython's ASGI server: 0.42 of
 * each per request).  An end of stream behind such bytes is held
 * (eof_held) until they are served, as a paused socket would have kept
 * it behind them.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

#define INITIAL_BUF 4096u
#define MIN_READ 2048u
#define STREAM_WINDOW (64u * 1024u) /* undelivered streamed body bytes */
#define READ_AHEAD (16u * 1024u) /* next requests' bytes read while a
                                    task handler runs (see the top) */

unsigned long cio__http_server_writes;
unsigned long cio__http_read_pauses;

static void process(cio__http_conn *c);
static int on_eof(cio_transport *t, void *ud);

static void conn_unref(cio__http_conn *c)
{
    if (--c->refs > 0)
        return;
    cio_http_server *srv = c->srv;
    cio__free(c->buf);
    cio__free(c->hdrs);
    cio__http_buf_free(&c->out);
    cio__http_buf_free(&c->req.rh);
    cio__free(c->req.pbuf);
    if (c->t)
        cio_transport_unref(c->t);
    cio__free(c);
    srv->nlive--;
    cio__http_server_maybe_free(srv);
}

void cio__http_conn_ref(cio__http_conn *c)
{
    c->refs++;
}

void cio__http_conn_unref(cio__http_conn *c)
{
    conn_unref(c);
}

/* Frees what a request owned; the connection stays. */
static void request_clear(cio_http_request *req)
{
    cio__free(req->head_copy);
    cio__http_json_free(req);
    req->rh.len = 0;
    cio__http_buf keep = req->rh;
    char *pbuf = req->pbuf; /* kept for the next request: no malloc per request */
    size_t pbuf_cap = req->pbuf_cap;
    cio__http_conn *c = req->conn;
    memset(req, 0, offsetof(cio_http_request, pnames));
    req->rh = keep;
    req->pbuf = pbuf;
    req->pbuf_cap = pbuf_cap;
    req->conn = c;
}

void cio__http_conn_wake(cio__http_conn *c, int res)
{
    cio_future *f = c->wake;
    if (!f)
        return;
    c->wake = NULL;
    cio_future_set_result(f, (void *)(intptr_t)res);
    cio_future_unref(f);
}

/* Loop time for deadlines and t_start: read once per process() batch
 * (the sweep checks deadlines a tenth of the shortest timeout apart, so
 * the microseconds a batch takes do not matter), saving a clock read per
 * state change. */
static double conn_now(cio__http_conn *c)
{
    if (c->dispatching) {
        if (!c->now_valid) {
            c->now = cio_loop_time(c->srv->loop);
            c->now_valid = 1;
        }
        return c->now;
    }
    return cio_loop_time(c->srv->loop);
}

static void set_state(cio__http_conn *c, int state, double timeout)
{
    c->state = (uint8_t)state;
    c->deadline = timeout > 0 ? conn_now(c) + timeout : 0;
}

static void pause_reading(cio__http_conn *c)
{
    if (!c->paused) {
        c->paused = 1;
        __atomic_fetch_add(&cio__http_read_pauses, 1, __ATOMIC_RELAXED); /* tests read it */
        cio_transport_pause_reading(c->t);
    }
}

static void resume_reading(cio__http_conn *c)
{
    if (c->paused) {
        c->paused = 0;
        cio_transport_resume_reading(c->t);
    }
}

/* 1 while c's running task handler has its connection watched for the
 * client closing (CIO_HTTP_WATCH_CLOSE): the body read, nothing of a next
 * request received. */
static int watching(const cio__http_conn *c)
{
    const cio_http_request *req = &c->req;
    int want = CIO_HTTP_WATCH_CLOSE | CIO_HTTP_STREAM_BODY;
    return c->state == CIO__CONN_ACTIVE && req->in_task && req->route &&
           (req->route->flags & want) == want && c->parser.phase == CIO__HTTP_PH_DONE &&
           c->len == c->raw;
}

/* 1 while c's running task handler keeps nothing of its request in the
 * receive buffer and what came after it is under READ_AHEAD: reading
 * goes on (see the top). */
static int read_ahead(const cio__http_conn *c)
{
    const cio_http_request *req = &c->req;
    return c->state == CIO__CONN_ACTIVE && req->in_task && !c->eof_held &&
           c->parser.phase == CIO__HTTP_PH_DONE &&
           (req->streaming_body || c->parser.body == CIO__HTTP_BODY_NONE) &&
           c->len - c->raw < READ_AHEAD;
}

/* Closes after the output is flushed; nothing more is read. */
static void conn_close(cio__http_conn *c)
{
    if (c->state == CIO__CONN_CLOSING)
        return;
    c->state = CIO__CONN_CLOSING;
    cio__http_flush(c);
    cio_transport_close(c->t);
}

/* A request the parser refused: answer its status and close. */
static void bad_request(cio__http_conn *c, int status, const char *reason)
{
    cio_http_request *req = &c->req;
    if (req->resp == CIO__RESP_NONE) {
        req->close_after = 1;
        req->keep_alive = 0;
        char body[128];
        int n = snprintf(body, sizeof body, "%d %s: %s\n", status, cio_http_reason(status),
                         reason ? reason : "");
        cio__http_send_simple(c, req, status, "text/plain; charset=utf-8", body, (size_t)n);
    }
    conn_close(c);
}

/* ---- the request's head ----------------------------------------------------- */

/* The head is complete: set up req.  Returns 0 or a status to answer
 * (404/405 are answered after the body, by dispatch). */
static int head_done(cio__http_conn *c, cio__http_buf *allow, int *route_status)
{
    cio__http_parser *p = &c->parser;
    cio_http_request *req = &c->req;
    cio__http_request_bind(c, c->buf + c->pos);
    req->method_id = p->method;
    req->version = p->version_minor;
    req->is_head = p->method == CIO__HTTP_HEAD;
    req->keep_alive = (p->flags & CIO__HTTP_F_KEEP_ALIVE) != 0;
    req->want_continue = (p->flags & CIO__HTTP_F_CONTINUE) && p->phase != CIO__HTTP_PH_DONE;
    req->t_start = conn_now(c);
    if (c->srv->opts.gzip)
        req->gzip_ok = (uint8_t)cio__http_accepts_gzip(c);
    int st = cio__http_request_split(req, p->target.len);
    if (st)
        return st;
    *route_status = cio__http_route_match(c->srv, req, allow);
    return 0;
}

/* ---- handlers ---------------------------------------------------------------- */

/* The handler returned rc: complete the response if it did not. */
static void handler_returned(cio__http_conn *c, int rc)
{
    cio_http_request *req = &c->req;
    if (c->lost || c->aborted) /* an aborted response stays cut short */
        return;
    if (req->resp == CIO__RESP_NONE) {
        if (rc < 0 && rc != -ECANCELED && !c->body_err)
            cio_log(CIO_LOG_WARNING, "http: handler for %s %s failed: %s", req->method,
                    req->target, cio_strerror(rc));
        if (c->body_err == CIO_ELIMIT)
            cio__http_send_simple(c, req, 413, "text/plain", "413 Content Too Large\n", 22);
        else if (c->body_err == -EPROTO)
            cio__http_send_simple(c, req, 400, "text/plain", "400 Bad Request\n", 16);
        else if (rc < 0)
            cio__http_send_simple(c, req, 500, "text/plain", "500 Internal Server Error\n",
                                  26);
        else
            cio__http_send_simple(c, req, 200, NULL, NULL, 0);
    } else if (req->resp == CIO__RESP_STREAM) {
        cio_http_response_end(req);
    }
}

static int handler_task(void *arg, void **result)
{
    (void)result;
    cio__http_conn *c = arg;
    cio_http_request *req = &c->req;
    int rc = req->route->handler(req, req->route->ud);
    handler_returned(c, rc);
    if (req->task) {
        cio_task_unref(req->task);
        req->task = NULL;
    }
    if (!c->lost && !c->aborted)
        cio__http_request_done(c);
    else
        request_clear(req); /* an aborted one: on_lost follows */
    conn_unref(c);
    return 0;
}

/* The request is complete (or streams its body): run its handler. */
static void dispatch(cio__http_conn *c, int route_status, cio__http_buf *allow)
{
    cio_http_request *req = &c->req;
    set_state(c, CIO__CONN_ACTIVE, 0);
    if (route_status) {
        if (route_status == 405 && allow->len) {
            allow->data[allow->len] = 0;
            cio_http_response_header(req, "Allow", allow->data);
        }
        char body[64];
        int n = snprintf(body, sizeof body, "%d %s\n", route_status,
                         cio_http_reason(route_status));
        cio__http_send_simple(c, req, route_status, "text/plain; charset=utf-8", body,
                              (size_t)n);
        cio__http_request_done(c);
        return;
    }
    if (!req->streaming_body && req->head != c->buf + c->pos)
        cio__http_request_bind(c, c->buf + c->pos); /* the buffer moved (a body arrived) */
    if (c->parser.body != CIO__HTTP_BODY_NONE && !req->streaming_body) {
        req->body = c->buf + c->pos + c->head_len;
        req->body_len = c->body_end - (c->pos + c->head_len);
    }
    if (req->route->flags & CIO_HTTP_INLINE) {
        int rc = req->route->handler(req, req->route->ud);
        handler_returned(c, rc);
        if (!c->lost && !c->aborted)
            cio__http_request_done(c);
        return;
    }
    /* A task: give the request its own copy of the head, stop reading
     * (a streamed body keeps reading) and flush the batch before it. */
    char *copy = cio__malloc(c->head_len + 1);
    cio_task *task = NULL;
    int rc = copy ? 0 : -ENOMEM;
    if (copy) {
        memcpy(copy, c->buf + c->pos, c->head_len);
        req->head_copy = copy;
        cio__http_request_bind(c, copy);
        req->in_task = 1;
        c->refs++;
        rc = cio_loop_create_task(c->srv->loop, handler_task, c, NULL, &task);
        if (rc < 0)
            c->refs--;
    }
    if (rc < 0) {
        req->in_task = 0;
        cio__http_send_simple(c, req, 503, "text/plain", "503 Service Unavailable\n", 24);
        cio__http_request_done(c);
        return;
    }
    req->task = task;
    cio__http_flush(c);
    if ((!req->streaming_body || c->parser.phase == CIO__HTTP_PH_DONE) && !watching(c) &&
        !read_ahead(c))
        pause_reading(c);
}

/* The response is complete and the handler returned: go on with the
 * next request, or close. */
void cio__http_request_done(cio__http_conn *c)
{
    cio_http_request *req = &c->req;
    cio_http_server *srv = c->srv;
    if (srv->opts.access_log || srv->opts.log_requests) {
        char peer[64] = "-";
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (cio_transport_peername(c->t, (struct sockaddr *)&ss, &sl) == 0)
            cio_sockaddr_format((struct sockaddr *)&ss, sl, peer, sizeof peer);
        cio_http_access_entry e = {
            .method = req->method ? req->method : "-",
            .target = req->target ? req->target : "-",
            .peer = peer,
            .status = req->status,
            .bytes = req->bytes_out,
            .duration = cio_loop_time(srv->loop) - req->t_start,
        };
        if (srv->opts.access_log)
            srv->opts.access_log(srv->opts.access_log_ud, &e);
        if (srv->opts.log_requests)
            cio_log(CIO_LOG_INFO, "%s \"%s %s\" %d %llu %.3fms", e.peer, e.method, e.target,
                    e.status, (unsigned long long)e.bytes, e.duration * 1e3);
    }
    int close = req->close_after || !req->keep_alive || srv->shutting_down ||
                c->parser.phase != CIO__HTTP_PH_DONE;
    int was_task = req->in_task;
    request_clear(req);
    if (close) {
        conn_close(c);
        return;
    }
    /* the next request starts after this one's body */
    c->pos = c->raw;
    c->head_len = 0;
    c->body_err = 0;
    cio__http_parser_reset(&c->parser);
    set_state(c, c->pos < c->len ? CIO__CONN_HEAD : CIO__CONN_IDLE,
              c->pos < c->len ? srv->opts.header_timeout : srv->opts.idle_timeout);
    if (was_task) {
        process(c);
        if (c->eof_held && c->state != CIO__CONN_ACTIVE && c->state != CIO__CONN_CLOSING) {
            /* what was read ahead is served: now the end of stream */
            c->eof_held = 0;
            if (!on_eof(c->t, c))
                conn_close(c);
            return;
        }
        if (c->state != CIO__CONN_ACTIVE && c->state != CIO__CONN_CLOSING)
            resume_reading(c);
    }
}

/* ---- bodies ---------------------------------------------------------------- */

/* Decodes the body bytes in buf[raw, len) down to body_end.  Returns 0,
 * or the parser's error. */
static int decode_body(cio__http_conn *c)
{
    while (c->raw < c->len && c->parser.phase != CIO__HTTP_PH_DONE) {
        size_t consumed = 0;
        int n = cio__http_decode_body(&c->parser, c->buf + c->raw, c->len - c->raw, &consumed);
        if (n < 0)
            return n;
        if ((size_t)n && c->raw != c->body_end)
            memmove(c->buf + c->body_end, c->buf + c->raw, (size_t)n);
        c->body_end += (size_t)n;
        c->raw += consumed;
        if (c->raw != c->body_end) {
            /* close the gap the framing left, so pieces stay contiguous */
            memmove(c->buf + c->body_end, c->buf + c->raw, c->len - c->raw);
            c->len -= c->raw - c->body_end;
            c->raw = c->body_end;
        }
        if (!consumed)
            break; /* an incomplete trailer section */
    }
    return 0;
}

/* Streamed body: copies up to n decoded bytes out and closes the gap. */
size_t cio__http_body_take(cio__http_conn *c, void *dst, size_t n)
{
    size_t start = c->pos + c->head_len;
    size_t avail = c->body_end - start;
    if (n > avail)
        n = avail;
    if (!n)
        return 0;
    memcpy(dst, c->buf + start, n);
    memmove(c->buf + start, c->buf + start + n, c->len - start - n);
    c->body_end -= n;
    c->raw -= n;
    c->len -= n;
    if (c->paused && c->state == CIO__CONN_ACTIVE &&
        ((c->body_end - start < STREAM_WINDOW / 2 && c->parser.phase != CIO__HTTP_PH_DONE) ||
         watching(c) || read_ahead(c)))
        resume_reading(c);
    return n;
}

/* ---- the parse loop ------------------------------------------------------------ */

static void process(cio__http_conn *c)
{
    if (c->dispatching)
        return;
    c->dispatching = 1;
    c->now_valid = 0;
    cio_http_server *srv = c->srv;
    cio__http_buf allow = {0};
    while (!c->lost && c->state != CIO__CONN_CLOSING) {
        cio_http_request *req = &c->req;
        if (c->state == CIO__CONN_ACTIVE) {
            /* only a streamed body is read while a handler runs (and,
             * watched, the client's end of stream: a next request's
             * bytes stop that) */
            if (!req->streaming_body || c->parser.phase == CIO__HTTP_PH_DONE) {
                if (!watching(c) && !read_ahead(c))
                    pause_reading(c);
                break;
            }
            int rc = decode_body(c);
            if (rc < 0) {
                c->body_err = rc;
                cio__http_conn_wake(c, rc);
                pause_reading(c);
                break;
            }
            if (c->body_end > c->pos + c->head_len || c->parser.phase == CIO__HTTP_PH_DONE)
                cio__http_conn_wake(c, 0);
            if (c->body_end - (c->pos + c->head_len) >= STREAM_WINDOW ||
                (c->parser.phase == CIO__HTTP_PH_DONE && !watching(c) && !read_ahead(c)))
                pause_reading(c);
            break;
        }
        int route_status = 0;
        if (!c->head_len) {
            if (c->pos == c->len) {
                if (c->state != CIO__CONN_IDLE)
                    set_state(c, CIO__CONN_IDLE, srv->opts.idle_timeout);
                break;
            }
            if (c->state == CIO__CONN_IDLE)
                set_state(c, CIO__CONN_HEAD, srv->opts.header_timeout);
            int r = cio__http_parse_head(&c->parser, c->buf + c->pos, c->len - c->pos);
            if (r == 0)
                break;
            if (r < 0) {
                bad_request(c, c->parser.err_status, c->parser.err_reason);
                break;
            }
            c->head_len = (size_t)r;
            c->body_end = c->raw = c->pos + (size_t)r;
            allow.len = 0;
            int st = head_done(c, &allow, &route_status);
            if (st) {
                bad_request(c, st, "bad request-target");
                break;
            }
            c->req.route_status = (uint16_t)route_status;
            if (c->parser.phase != CIO__HTTP_PH_DONE) {
                if (route_status && req->want_continue) {
                    /* refuse the body unread: the answer, then close */
                    req->close_after = 1;
                    dispatch(c, route_status, &allow);
                    break;
                }
                if (!route_status && (req->route->flags & CIO_HTTP_STREAM_BODY) &&
                    !(req->route->flags & CIO_HTTP_INLINE)) {
                    req->streaming_body = 1;
                    dispatch(c, 0, &allow);
                    continue; /* decode what came with the head */
                }
                if (req->want_continue) {
                    req->want_continue = 0;
                    cio__http_write_now(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                }
                set_state(c, CIO__CONN_BODY, srv->opts.body_timeout);
            }
        }
        if (c->parser.phase != CIO__HTTP_PH_DONE) {
            int rc = decode_body(c);
            if (rc < 0) {
                bad_request(c, c->parser.err_status, c->parser.err_reason);
                break;
            }
            if (c->parser.phase != CIO__HTTP_PH_DONE)
                break;
        }
        dispatch(c, c->req.route_status, &allow);
    }
    cio__http_buf_free(&allow);
    cio__http_flush(c);
    c->dispatching = 0;
}

/* ---- the protocol ---------------------------------------------------------------- */

static void *on_get_buffer(cio_transport *t, size_t sizehint, size_t *len, void *ud)
{
    (void)t;
    (void)sizehint;
    cio__http_conn *c = ud;
    /* Nothing refers into buf[0, pos) any more: move the rest down. */
    if (c->pos && c->state != CIO__CONN_ACTIVE) {
        size_t keep = c->len - c->pos;
        if (keep)
            memmove(c->buf, c->buf + c->pos, keep);
        c->len = keep;
        c->body_end -= c->body_end >= c->pos ? c->pos : c->body_end;
        c->raw -= c->raw >= c->pos ? c->pos : c->raw;
        c->pos = 0;
    }
    if (c->cap - c->len < MIN_READ) {
        size_t ncap = c->cap ? c->cap * 2 : INITIAL_BUF;
        while (ncap - c->len < MIN_READ)
            ncap *= 2;
        char *nb = cio__realloc(c->buf, ncap);
        if (!nb)
            return NULL; /* the transport fails the connection */
        c->buf = nb;
        c->cap = ncap;
    }
    c->rd_off = c->len;
    *len = c->cap - c->len;
    return c->buf + c->len;
}

static void on_buffer_updated(cio_transport *t, size_t n, void *ud)
{
    (void)t;
    cio__http_conn *c = ud;
    if (c->rd_off != c->len)
        memmove(c->buf + c->len, c->buf + c->rd_off, n);
    c->len += n;
    c->rd_off = c->len;
    if (c->state == CIO__CONN_CLOSING)
        return;
    process(c);
}

static int on_eof(cio_transport *t, void *ud)
{
    (void)t;
    cio__http_conn *c = ud;
    if (watching(c))
        return 0; /* the client left: close, which cancels the handler */
    if (c->state == CIO__CONN_ACTIVE && c->parser.phase == CIO__HTTP_PH_DONE && c->len > c->raw) {
        /* behind requests read ahead: served first (request_done) */
        c->eof_held = 1;
        return 1;
    }
    if (c->state == CIO__CONN_ACTIVE) {
        /* the client half-closed: finish the response, then close */
        c->req.close_after = 1;
        if (c->req.streaming_body && c->parser.phase != CIO__HTTP_PH_DONE) {
            c->body_err = CIO_EINCOMPLETE;
            cio__http_conn_wake(c, CIO_EINCOMPLETE);
        }
        return 1;
    }
    if (c->state == CIO__CONN_HEAD || c->state == CIO__CONN_BODY) {
        if (cio__http_parse_eof(&c->parser) < 0 && c->pos < c->len) {
            bad_request(c, c->parser.err_status ? c->parser.err_status : 400, "truncated");
            return 1;
        }
    }
    return 0;
}

static void on_made(cio_transport *t, void *ud)
{
    cio__http_conn *c = ud;
    cio_http_server *srv = c->srv;
    c->t = cio_transport_ref(t);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    /* the first request's head is due within header_timeout */
    set_state(c, CIO__CONN_IDLE, srv->opts.header_timeout);
    if (srv->shutting_down)
        conn_close(c);
}

static void on_lost(cio_transport *t, int error, void *ud)
{
    (void)t;
    (void)error;
    cio__http_conn *c = ud;
    cio_http_server *srv = c->srv;
    c->lost = 1;
    c->state = CIO__CONN_CLOSING;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    cio__http_conn_wake(c, CIO_ECLOSED);
    if (c->req.task)
        cio_task_cancel(c->req.task, "http: client disconnected");
    else
        request_clear(&c->req);
    cio__http_server_check_closed(srv);
    conn_unref(c);
}

static void on_pause_writing(cio_transport *t, void *ud)
{
    (void)t;
    cio__http_conn *c = ud;
    c->write_paused = 1;
    c->write_stall = cio_loop_time(c->srv->loop);
}

static void on_resume_writing(cio_transport *t, void *ud)
{
    (void)t;
    cio__http_conn *c = ud;
    c->write_paused = 0;
    c->write_stall = 0;
    cio__http_conn_wake(c, 0);
}

static const cio_protocol http_protocol = {
    .connection_made = on_made,
    .eof_received = on_eof,
    .connection_lost = on_lost,
    .pause_writing = on_pause_writing,
    .resume_writing = on_resume_writing,
    .get_buffer = on_get_buffer,
    .buffer_updated = on_buffer_updated,
};

int cio__http_conn_factory(void *arg, const cio_protocol **proto, void **ud)
{
    cio_http_server *srv = arg;
    if (srv->shutting_down)
        return -1;
    cio__http_conn *c = cio__calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->hdrs = cio__malloc(srv->lim.max_headers * sizeof *c->hdrs);
    if (!c->hdrs ||
        cio__http_parser_init(&c->parser, CIO__HTTP_REQUEST, &srv->lim, c->hdrs,
                              srv->lim.max_headers) < 0) {
        cio__free(c->hdrs);
        cio__free(c);
        return -1;
    }
    c->srv = srv;
    c->refs = 1;
    srv->nlive++;
    c->req.conn = c;
    *proto = &http_protocol;
    *ud = c;
    return 0;
}

/* Sweep: the timeouts of one connection at loop time now. */
void cio__http_conn_check(cio__http_conn *c, double now)
{
    cio_http_server *srv = c->srv;
    if (c->write_paused && srv->opts.write_timeout > 0 &&
        now - c->write_stall >= srv->opts.write_timeout) {
        cio_transport_abort(c->t);
        return;
    }
    if (c->state <= CIO__CONN_BODY && c->deadline && now >= c->deadline) {
        if (c->state == CIO__CONN_BODY) {
            bad_request(c, 408, "body timeout");
        } else {
            c->state = CIO__CONN_CLOSING;
            cio_transport_close(c->t);
        }
    }
}

/* Shutdown: close c now if it is between requests. */
void cio__http_conn_close_idle(cio__http_conn *c)
{
    if (c->state == CIO__CONN_IDLE || c->state == CIO__CONN_HEAD)
        conn_close(c);
}

/* Shutdown deadline: abort c and cancel its handler. */
void cio__http_conn_abort(cio__http_conn *c)
{
    if (c->req.task)
        cio_task_cancel(c->req.task, "http: server shutdown");
    cio_transport_abort(c->t);
}

/* Upgrade: the connection leaves the server.  Marked lost, so the handler
 * task's end frees it without touching the transport, whose protocol is
 * the new one's now; the transport's reference is dropped here. */
size_t cio__http_conn_detach(cio__http_conn *c)
{
    cio_http_server *srv = c->srv;
    size_t extra = c->len > c->raw ? c->len - c->raw : 0;
    c->lost = 1;
    c->upgraded = 1;
    c->state = CIO__CONN_CLOSING;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    srv->nconns--;
    cio__http_server_check_closed(srv);
    conn_unref(c);
    return extra;
}
