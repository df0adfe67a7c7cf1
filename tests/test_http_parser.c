/*
 * test_http_parser.c - the HTTP/1.1 parser (src/http/parser.h): a case
 * table per rule of RFC 9112 for requests (valid ones and each way a
 * request is refused, with the status the server would answer), for
 * chunked bodies and for responses; pipelined messages; limits.
 *
 * Every case runs through tests/http_driver.h several ways: the whole
 * input at once, one byte at a time, and random splits under several
 * seeds; the traces must be equal and contain what the case expects.  The
 * driver keeps the bytes the parser sees right before a PROT_NONE page and
 * moves them on every call, so an over-read crashes and a stale offset
 * shows.  test_no_rescan also protects the bytes the parser is done with.
 */
#include "test.h"

#define HD_CHECK(cond)                                                                 \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: [%s] invariant broken: %s\n", __FILE__, __LINE__,  \
                    test_current, #cond);                                              \
            test_failures++;                                                           \
        }                                                                              \
    } while (0)
#include "http_driver.h"

#include "http/chars.h"

/* A case: input (may hold NULs), the status a server answers (0: valid),
 * and a piece of text the trace must contain (NULL: none). */
struct tcase {
    const char *name;
    const char *in;
    size_t len;
    int status;
    const char *expect;
};
#define C(name, in, st, exp) {name, in, sizeof(in) - 1, st, exp}
#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

/* 1 if the trace has an error line ("E400 ..."). */
static int has_error(const char *t)
{
    for (const char *l = t; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (l[0] == 'E' && l[1] >= '0' && l[1] <= '9')
            return 1;
    return 0;
}

/* Prints a trace, shortened: some are a megabyte long. */
static void show(const char *what, const char *t)
{
    size_t n = strlen(t);
    fprintf(stderr, "%s:\n%.*s%s---\n", what, (int)(n > 700 ? 700 : n), t, n > 700 ? "...\n" : "");
}

/* Runs one case every way; returns the whole-input trace (to free). */
static char *run_case(int kind, const cio__http_limits *lim, const char *methods,
                      const struct tcase *c)
{
    char *whole = hd_run(kind, lim, methods, c->in, c->len, 0, 0, 1);
    char *bytes = hd_run(kind, lim, methods, c->in, c->len, 1, 0, 1);
    if (strcmp(whole, bytes) != 0) {
        fprintf(stderr, "[%s] whole vs byte-at-a-time\n", c->name);
        show("whole", whole);
        show("bytes", bytes);
        test_failures++;
    }
    free(bytes);
    for (size_t step = 2; step <= 17; step += 5) {
        for (uint64_t seed = 1; seed <= 4; seed++) {
            char *t = hd_run(kind, lim, methods, c->in, c->len, step, seed * 7919, 1);
            if (strcmp(whole, t) != 0) {
                fprintf(stderr, "[%s] whole vs split %zu/%llu\n", c->name, step,
                        (unsigned long long)seed);
                show("whole", whole);
                show("split", t);
                test_failures++;
            }
            free(t);
        }
    }
    char want[16];
    snprintf(want, sizeof(want), "E%d ", c->status);
    int ok = c->status ? strstr(whole, want) != NULL : !has_error(whole);
    if (ok && c->expect && !strstr(whole, c->expect))
        ok = 0;
    if (!ok) {
        fprintf(stderr, "[%s] wanted %s%s%s\n", c->name, c->status ? want : "success",
                c->expect ? " and " : "", c->expect ? c->expect : "");
        show("trace", whole);
        test_failures++;
    }
    return whole;
}

static void run_table(int kind, const cio__http_limits *lim, const char *methods,
                      const struct tcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(run_case(kind, lim, methods, &cases[i]));
}

#define H11 " HTTP/1.1\r\nHost: a\r\n"

/* ---- the byte classes ----------------------------------------------------- */

static void test_char_table(void)
{
    const char *tchar_extra = "!#$%&'*+-.^_`|~";
    for (int c = 0; c < 256; c++) {
        int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        int tchar = alnum || (c && strchr(tchar_extra, c));
        int vchar = c >= 0x21 && c <= 0x7e;
        int ws = c == ' ' || c == '\t';
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        int regname = alnum || (c && strchr("-._~%!$&'()*+,;=", c));
        int qd = ws || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80;
        int scheme = alnum || c == '+' || c == '-' || c == '.';
        CHECK_EQ(cio__http_is((unsigned char)c, CIO__HTTP_TCHAR), tchar);
        CHECK_EQ(cio__http_is((unsigned char)c, CIO__HTTP_TARGET), vchar && c != '#');
        CHECK_EQ(cio__http_is((unsigned char)c, CIO__HTTP_VALUE), ws || vchar || c >= 0x80);
        CHECK_EQ(cio__http_is((unsigned char)c, CIO__HTTP_WS), ws);
        CHECK_EQ(cio__http_is((unsigned char)c, CIO__HTTP_HEX), hex);
        CHECK_EQ(cio__http_is((unsigned char)c, CIO__HTTP_REGNAME), regname);
        CHECK_EQ(cio__http_is((unsigned char)c, CIO__HTTP_QDTEXT), qd);
        CHECK_EQ(cio__http_is((unsigned char)c, CIO__HTTP_SCHEME), scheme);
    }
}

/* ---- requests --------------------------------------------------------------- */

static const struct tcase request_valid[] = {
    C("simple GET", "GET /" H11 "\r\n", 0, "REQ GET / 1.1 m1 f1 b0 cl0 h0 u-1 {Host: a}\nD\n"),
    C("empty lines before", "\r\n\r\nGET /x" H11 "\r\n", 0, "REQ GET /x 1.1"),
    C("HTTP/1.0 no Host closes", "GET / HTTP/1.0\r\n\r\n", 0, "REQ GET / 1.0 m1 f0 b0"),
    C("HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, "1.0 m1 f11 "),
    C("HTTP/1.1 close", "GET /" H11 "Connection: close\r\n\r\n", 0, "1.1 m1 f8 "),
    C("close wins", "GET /" H11 "Connection: keep-alive, close\r\n\r\n", 0, "1.1 m1 f18 "),
    C("HTTP/1.2 is 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0, "1.1 m1 f1 "),
    C("OWS trimmed", "GET /" H11 "X:  \t v w \t \r\n\r\n", 0, "{X: v w}"),
    C("empty value", "GET /" H11 "X:\r\nY: \r\n\r\n", 0, "{X: } {Y: }"),
    C("obs-text in value", "GET /" H11 "X: caf\xc3\xa9\r\n\r\n", 0, "{X: caf\\xc3\\xa9}"),
    C("tchars in name", "GET /" H11 "!#$%&'*+-.^_`|~09az: 1\r\n\r\n", 0, "{!#$%&'*+-.^_`|~09az: 1}"),
    C("custom method origin", "PURGE /a" H11 "\r\n", 0, "REQ PURGE /a 1.1 m0 "),
    C("lower-case method is other", "get /" H11 "\r\n", 0, "REQ get / 1.1 m0 "),
    C("methods", "HEAD /" H11 "\r\n", 0, "m2 "),
    C("query and escapes", "GET /a/b?c=d&e=%20f;g,h{|}[]^" H11 "\r\n", 0, "/a/b?c=d&e=%20f;g,h{|}[]^ "),
    C("absolute-form", "GET http://a.b:80/x?y" H11 "\r\n", 0, "REQ GET http://a.b:80/x?y "),
    C("OPTIONS *", "OPTIONS *" H11 "\r\n", 0, "REQ OPTIONS * 1.1 m7 "),
    C("CONNECT authority", "CONNECT a.b:443" H11 "\r\n", 0, "REQ CONNECT a.b:443 1.1 m6 "),
    C("CONNECT ipv6", "CONNECT [::1]:443" H11 "\r\n", 0, "m6 "),
    C("Host ipv6 and port", "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]:8080\r\n\r\n", 0, "h0 "),
    C("Host empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, "h0 "),
    C("Host after others", "GET / HTTP/1.1\r\nA: b\r\nhOsT: x.y\r\n\r\n", 0, "h1 "),
    C("Content-Length body", "POST /" H11 "Content-Length: 5\r\n\r\nhello", 0, "b1 cl5 h0 u-1 {Host: a} {Content-Length: 5}\nB:hello\nD\n"),
    C("Content-Length 0", "POST /" H11 "Content-Length: 0\r\n\r\n", 0, "f41 b0 cl0"),
    C("Content-Length leading zeros", "POST /" H11 "Content-Length: 003\r\n\r\nabc", 0, "B:abc\nD"),
    C("chunked body", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, "f81 b2 cl0 h0 u-1 {Host: a} {Transfer-Encoding: chunked}\nB:hello\nD\n"),
    C("chunked any case", "POST /" H11 "transfer-encoding: ChunKed\r\n\r\n0\r\n\r\n", 0, "b2 "),
    C("Expect 100-continue", "POST /" H11 "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\nx", 0, "f43 b1"),
    C("Expect ignored on 1.0", "GET / HTTP/1.0\r\nExpect: whatever\r\n\r\n", 0, "f0 "),
    C("Upgrade", "GET /ws" H11 "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 0, "f25 b0 cl0 h0 u2 "),
    C("Upgrade without Connection", "GET /ws" H11 "Upgrade: websocket\r\n\r\n", 0, "f1 b0 cl0 h0 u1 "),
    C("Connection list", "GET /" H11 "Connection: ,  a ,, keep-alive,b\r\n\r\n", 0, "f11 "),
};

static const struct tcase request_invalid[] = {
    /* smuggling: framing */
    C("CL and TE", "POST /" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Content-Length with Transfer-Encoding"),
    C("TE and CL", "POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, "Content-Length with Transfer-Encoding"),
    C("TE gzip", "POST /" H11 "Transfer-Encoding: gzip\r\n\r\n", 501, NULL),
    C("TE gzip, chunked", "POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, NULL),
    C("TE chunked, gzip", "POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 501, NULL),
    C("TE chunked twice in a list", "POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 400, NULL),
    C("TE chunked twice", "POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "duplicate Transfer-Encoding"),
    C("TE chunked with params", "POST /" H11 "Transfer-Encoding: chunked;a=b\r\n\r\n", 400, NULL),
    C("TE empty", "POST /" H11 "Transfer-Encoding:\r\n\r\n", 400, NULL),
    C("TE xchunked", "POST /" H11 "Transfer-Encoding: xchunked\r\n\r\n", 501, NULL),
    C("TE chunked-false", "POST /" H11 "Transfer-Encoding: chunked-false\r\n\r\n", 501, NULL),
    C("TE bad list", "POST /" H11 "Transfer-Encoding: \"chunked\"\r\n\r\n", 400, NULL),
    C("TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, NULL),
    C("CL plus", "POST /" H11 "Content-Length: +5\r\n\r\n", 400, "invalid Content-Length"),
    C("CL minus", "POST /" H11 "Content-Length: -5\r\n\r\n", 400, "invalid Content-Length"),
    C("CL inner space", "POST /" H11 "Content-Length: 5 5\r\n\r\n", 400, NULL),
    C("CL hex", "POST /" H11 "Content-Length: 0x5\r\n\r\n", 400, NULL),
    C("CL list", "POST /" H11 "Content-Length: 5, 5\r\n\r\n", 400, NULL),
    C("CL empty", "POST /" H11 "Content-Length:\r\n\r\n", 400, NULL),
    C("CL duplicate same", "POST /" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 400, "duplicate Content-Length"),
    C("CL duplicate differing", "POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, "duplicate Content-Length"),
    C("CL overflow", "POST /" H11 "Content-Length: 18446744073709551616\r\n\r\n", 400, "Content-Length overflow"),
    C("CL max u64 too large", "POST /" H11 "Content-Length: 18446744073709551615\r\n\r\n", 413, NULL),
    C("CL over max_body", "POST /" H11 "Content-Length: 1048577\r\n\r\n", 413, NULL),
    /* line syntax */
    C("obs-fold", "GET /" H11 "X: a\r\n b\r\n\r\n", 400, "obs-fold"),
    C("obs-fold tab", "GET /" H11 "X: a\r\n\tb\r\n\r\n", 400, "obs-fold"),
    C("space before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, NULL),
    C("bare CR in value", "GET /" H11 "X: a\rb\r\n\r\n", 400, "bare CR"),
    C("bare CR ends value", "GET /" H11 "X: a\r\r\n\r\n", 400, "bare CR"),
    C("bare LF ends field", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "bare LF"),
    C("bare LF ends request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF"),
    C("bare LF ends head", "GET /" H11 "\n", 400, "bare LF"),
    C("bare LF empty line first", "\nGET /" H11 "\r\n", 400, "bare LF"),
    C("bare CR empty line first", "\r\rGET /" H11 "\r\n", 400, "bare CR"),
    C("bare CR ends head", "GET /" H11 "\rX", 400, "bare CR"),
    C("space before colon", "GET /" H11 "X : a\r\n\r\n", 400, "whitespace before colon"),
    C("tab before colon", "GET /" H11 "X\t: a\r\n\r\n", 400, "whitespace before colon"),
    C("empty field name", "GET /" H11 ": a\r\n\r\n", 400, "invalid field name"),
    C("bad char in name", "GET /" H11 "X(y: a\r\n\r\n", 400, "invalid field name"),
    C("no colon", "GET /" H11 "Xy\r\n\r\n", 400, "invalid field name"),
    C("NUL in value", "GET /" H11 "X: a\0b\r\n\r\n", 400, "invalid field value"),
    C("CTL in value", "GET /" H11 "X: a\x01 b\r\n\r\n", 400, "invalid field value"),
    C("DEL in value", "GET /" H11 "X: a\x7f\r\n\r\n", 400, "invalid field value"),
    C("bad char in method", "GE(T /" H11 "\r\n", 400, "invalid method"),
    C("tab after method", "GET\t/" H11 "\r\n", 400, "invalid method"),
    C("empty method", " /" H11 "\r\n", 400, "invalid method"),
    C("two spaces", "GET  /" H11 "\r\n", 400, NULL),
    C("space in target", "GET /a b" H11 "\r\n", 400, NULL),
    C("DEL in target", "GET /a\x7f" H11 "\r\n", 400, "invalid request target"),
    C("obs-text in target", "GET /\xc3\xa9" H11 "\r\n", 400, "invalid request target"),
    C("fragment in target", "GET /a#b" H11 "\r\n", 400, "invalid request target"),
    C("relative target", "GET a/b" H11 "\r\n", 400, "invalid request target"),
    C("* for GET", "GET *" H11 "\r\n", 400, NULL),
    C("CONNECT origin-form", "CONNECT /" H11 "\r\n", 400, "CONNECT needs host:port"),
    C("CONNECT no port", "CONNECT a.b" H11 "\r\n", 400, "CONNECT needs host:port"),
    C("HTTP/0.9", "GET /\r\n\r\n", 400, "no HTTP version"),
    C("version 0.9", "GET / HTTP/0.9\r\n\r\n", 505, NULL),
    C("version 2.0", "GET / HTTP/2.0\r\n\r\n", 505, NULL),
    C("version lower case", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, "invalid HTTP version"),
    C("version short", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400, NULL),
    C("version two digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, NULL),
    C("space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "invalid request line"),
    C("missing Host", "GET / HTTP/1.1\r\n\r\n", 400, "missing Host"),
    C("two Hosts", "GET /" H11 "Host: a\r\n\r\n", 400, "duplicate Host"),
    C("Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid Host"),
    C("Host with path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid Host"),
    C("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "invalid Host"),
    C("Host bad port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400, "invalid Host"),
    C("Host open bracket", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "invalid Host"),
    C("Expect other", "POST /" H11 "Expect: 100-continue-x\r\n\r\n", 417, NULL),
    C("Connection bad", "GET /" H11 "Connection: a b\r\n\r\n", 400, "invalid Connection"),
    C("Connection bad char", "GET /" H11 "Connection: a\"\r\n\r\n", 400, "invalid Connection"),
    /* the body that follows is not a request of its own */
    C("truncated body", "POST /" H11 "Content-Length: 10\r\n\r\nabc", 400, "connection closed"),
    C("truncated head", "GET /" H11, 400, "connection closed"),
};

/* A request line or a trailer that is not what it claims is never taken
 * for something else: body bytes are not requests, a trailer section is
 * not a request either. */
static const struct tcase request_sequences[] = {
    C("pipelined", "GET /1" H11 "\r\nPOST /2" H11 "Content-Length: 3\r\n\r\nabcGET /3" H11 "\r\n", 0,
      "REQ GET /1 1.1 m1 f1 b0 cl0 h0 u-1 {Host: a}\nD\nREQ POST /2 1.1 m3 f41 b1 cl3 h0 u-1 {Host: a} {Content-Length: 3}\nB:abc\nD\nREQ GET /3 1.1"),
    C("body looks like a request", "POST /" H11 "Content-Length: 19\r\n\r\nGET /x HTTP/1.1\r\n\r\n", 0, "B:GET /x HTTP/1.1\\x0d\\x0a\\x0d\\x0a\nD\nEOF"),
    C("chunked then next", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\nGET /n" H11 "\r\n", 0, "B:abc\nT {X: y}\nD\nREQ GET /n "),
    C("close stops the stream", "GET /" H11 "Connection: close\r\n\r\nGET /2" H11 "\r\n", 0, "D\n"),
    C("1.0 stops the stream", "GET / HTTP/1.0\r\n\r\nGARBAGE", 0, "D\n"),
    C("error in second", "GET /1" H11 "\r\nGET /2 HTTP/1.1\r\n\r\n", 400, "D\nE400 missing Host"),
    C("empty lines between", "GET /1" H11 "\r\n\r\n\r\nGET /2" H11 "\r\n", 0, "REQ GET /2 "),
    C("only empty lines", "\r\n\r\n", 0, "EOF"),
    C("nothing", "", 0, NULL),
};

static void test_requests(void)
{
    run_table(CIO__HTTP_REQUEST, NULL, NULL, request_valid, NCASES(request_valid));
    run_table(CIO__HTTP_REQUEST, NULL, NULL, request_invalid, NCASES(request_invalid));
    run_table(CIO__HTTP_REQUEST, NULL, NULL, request_sequences,
              NCASES(request_sequences));
}

/* ---- chunked bodies ------------------------------------------------------ */

#define CH "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"

static const struct tcase chunked_cases[] = {
    C("one chunk", CH "5\r\nhello\r\n0\r\n\r\n", 0, "B:hello\nD\nEOF"),
    C("chunks", CH "3\r\nabc\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n", 0, "B:abcdef\nD\n"),
    C("hex sizes", CH "A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", 0, "B:0123456789abcdefghij\nD"),
    C("leading zeros", CH "0005\r\nhello\r\n000\r\n\r\n", 0, "B:hello\nD"),
    C("CRLF inside data", CH "4\r\n\r\n\r\n\r\n0\r\n\r\n", 0, "B:\\x0d\\x0a\\x0d\\x0a\nD"),
    C("extensions", CH "5;a=b\r\nhello\r\n0;last\r\n\r\n", 0, "B:hello\nD"),
    C("extension BWS", CH "5 ;a = b ; c\r\nhello\r\n0\r\n\r\n", 0, "B:hello\nD"),
    C("extension quoted", CH "5;a=\"x \\\" y;\"\r\nhello\r\n0\r\n\r\n", 0, "B:hello\nD"),
    C("extension quoted then more", CH "5;a=\"\";b\r\nhello\r\n0\r\n\r\n", 0, "B:hello\nD"),
    C("trailers", CH "5\r\nhello\r\n0\r\nA: 1\r\nb-c:  two \r\n\r\n", 0, "B:hello\nT {A: 1} {b-c: two}\nD\nEOF"),
    C("empty body", CH "0\r\n\r\n", 0, "h0 u-1 {Host: a} {Transfer-Encoding: chunked}\nD\n"),
    C("size with space", CH "5 \r\nhello\r\n0\r\n\r\n", 400, "invalid chunk size"),
    C("size minus", CH "-5\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk size"),
    C("size plus", CH "+5\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk size"),
    C("size 0x", CH "0x5\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk size"),
    C("size empty", CH "\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk size"),
    C("size not hex", CH "g\r\n", 400, "invalid chunk size"),
    C("size leading space", CH " 5\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk size"),
    C("size bare LF", CH "5\nhello\r\n0\r\n\r\n", 400, "invalid chunk size"),
    C("size bare CR", CH "5\rhello\r\n0\r\n\r\n", 400, "bare CR in chunk line"),
    C("size 17 digits", CH "00000000000000005\r\nhello\r\n0\r\n\r\n", 400, "chunk size too large"),
    C("size u64 max", CH "ffffffffffffffff\r\nhello\r\n0\r\n\r\n", 413, NULL),
    C("data too long", CH "5\r\nhelloX\r\n0\r\n\r\n", 400, "no CRLF after chunk data"),
    C("data bare LF", CH "5\r\nhello\n0\r\n\r\n", 400, "no CRLF after chunk data"),
    C("data too short", CH "5\r\nhell\r\n0\r\n\r\n", 400, "no CRLF after chunk data"),
    C("ext LF in quotes", CH "5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk extension"),
    C("ext CR in quotes", CH "5;a=\"x\r\n\"\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk extension"),
    C("ext bare LF", CH "5;a\nhello\r\n0\r\n\r\n", 400, "invalid chunk extension"),
    C("ext no value", CH "5;a=\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk extension"),
    C("ext no name", CH "5;=b\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk extension"),
    C("ext trailing space", CH "5;a=b \r\nhello\r\n0\r\n\r\n", 400, NULL),
    C("ext name trailing space", CH "5;a \r\nhello\r\n0\r\n\r\n", 400, "invalid chunk extension"),
    C("ext CTL", CH "5;a=b\x01\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk extension"),
    C("ext unterminated quote", CH "5;a=\"b\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk extension"),
    C("trailer Content-Length", CH "0\r\nContent-Length: 5\r\n\r\n", 400, "forbidden trailer field"),
    C("trailer Transfer-Encoding", CH "0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "forbidden trailer field"),
    C("trailer Host", CH "0\r\nHost: b\r\n\r\n", 400, "forbidden trailer field"),
    C("trailer bare LF", CH "0\r\nA: 1\n\r\n", 400, "bare LF"),
    C("trailer obs-fold", CH "0\r\nA: 1\r\n 2\r\n\r\n", 400, "obs-fold"),
    C("trailer is not a request", CH "0\r\nGET / HTTP/1.1\r\n\r\n", 400, NULL),
    C("trailer bare LF end", CH "0\r\n\n", 400, "bare LF"),
    C("truncated data", CH "5\r\nhel", 400, "connection closed"),
    C("truncated trailer", CH "5\r\nhello\r\n0\r\nA: 1\r\n", 400, "connection closed"),
    C("no last chunk", CH "5\r\nhello\r\n", 400, "connection closed"),
};

static void test_chunked(void)
{
    run_table(CIO__HTTP_REQUEST, NULL, NULL, chunked_cases, NCASES(chunked_cases));

    cio__http_limits lim;
    cio__http_limits_init(&lim);
    lim.max_chunk_ext = 8;
    lim.max_body = 6;
    static const struct tcase limited[] = {
        C("ext within limit", CH "2;abcdef\r\nab\r\n0\r\n\r\n", 0, "B:ab\nD"),
        C("ext over limit", CH "2;abcdefg\r\nab\r\n0\r\n\r\n", 400, "chunk extensions too long"),
        C("ext over limit in total", CH "1;abc\r\na\r\n1;abc\r\nb\r\n0\r\n\r\n", 400, "chunk extensions too long"),
        C("body at limit", CH "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 0, "B:abcdef\nD"),
        C("body over limit", CH "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", 413, "B:abc\nE413"),
        C("Content-Length over limit", "POST /" H11 "Content-Length: 7\r\n\r\n", 413, NULL),
    };
    run_table(CIO__HTTP_REQUEST, &lim, NULL, limited, NCASES(limited));
}

/* In-place decoding: the data of all the chunks, moved together. */
static void test_decode_body(void)
{
    static const char msg[] = CH "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\nNEXT";
    cio__http_header hdrs[8];
    cio__http_parser p;
    CHECK_RC(cio__http_parser_init(&p, CIO__HTTP_REQUEST, NULL, hdrs, 8), 0);
    char buf[sizeof(msg)];
    memcpy(buf, msg, sizeof(msg));
    int h = cio__http_parse_head(&p, buf, sizeof(msg) - 1);
    CHECK(h > 0);
    size_t used = 0;
    int n = cio__http_decode_body(&p, buf + h, sizeof(msg) - 1 - (size_t)h, &used);
    CHECK_EQ(n, 5);
    CHECK(memcmp(buf + h, "abcde", 5) == 0);
    CHECK_EQ(p.phase, CIO__HTTP_PH_DONE);
    CHECK_EQ(h + used, sizeof(msg) - 1 - 4); /* "NEXT" is left */
    CHECK_EQ(p.ntrailers, 1);

    /* the same, a byte at a time as a transport would hand it over */
    CHECK_RC(cio__http_parser_init(&p, CIO__HTTP_REQUEST, NULL, hdrs, 8), 0);
    memcpy(buf, msg, sizeof(msg));
    CHECK_EQ(cio__http_parse_head(&p, buf, (size_t)h), h);
    char out[16];
    size_t nout = 0, start = (size_t)h, end = (size_t)h;
    while (end < sizeof(msg) - 1 && p.phase != CIO__HTTP_PH_DONE) {
        end++;
        size_t c = 0;
        n = cio__http_decode_body(&p, buf + start, end - start, &c);
        CHECK(n >= 0 && n <= 5);
        if (n > 0 && nout + (size_t)n <= sizeof(out)) {
            memcpy(out + nout, buf + start, (size_t)n);
            nout += (size_t)n;
        }
        start += c;
        memcpy(buf, msg, sizeof(msg)); /* the transport's bytes, as received */
    }
    CHECK_EQ(nout, 5);
    CHECK(memcmp(out, "abcde", 5) == 0);
    CHECK_EQ(sizeof(msg) - 1 - start, 4);
}

/* ---- responses -------------------------------------------------------------- */

static const struct tcase response_cases[] = {
    C("Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, "RES 200 OK 1.1 m0 f41 b1 cl5 h-1 u-1 {Content-Length: 5}\nB:hello\nD\nEOF"),
    C("close-delimited", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nabc\r\ndef", 0, "RES 200 OK 1.1 m0 f0 b3 cl0 h-1 u-1 {Server: x}\nB:abc\\x0d\\x0adef\nD\nEOF"),
    C("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, "f81 b2 cl0 h-1 u-1 {Transfer-Encoding: chunked}\nB:abc\nD\nEOF"),
    C("204 has no body", "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 0, "RES 204 No Content 1.1 m0 f1 b0 cl0 h-1 u-1\nD\nRES 200 OK"),
    C("304 has no body", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 0, "f41 b0 cl100 h-1 u-1 {Content-Length: 100}\nD\nRES 200 OK"),
    C("100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, "RES 100 Continue 1.1 m0 f1 b0 cl0 h-1 u-1\nD\nRES 200 OK 1.1 m0 f41 b1 cl2 h-1 u-1 {Content-Length: 2}\nB:ok\nD"),
    C("103 then 200", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", 0, "RES 200 OK"),
    C("101 is a tunnel", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello", 0, "RES 101 Switching Protocols 1.1 m0 f24 b4 cl0 h-1 u0 {Upgrade: websocket} {Connection: Upgrade}\nD\n"),
    C("no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, "RES 200  1.1 m0 f41 b0"),
    C("empty reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", 0, "RES 404  1.1"),
    C("reason text", "HTTP/1.1 200 Very\tOK \xe2\x9c\x93\r\nContent-Length: 0\r\n\r\n", 0, "RES 200 Very\\x09OK \\xe2\\x9c\\x93 1.1"),
    C("HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.0 200 OK", 0, "1.0 m0 f40 b1 cl1 h-1 u-1 {Content-Length: 1}\nB:x\nD\n"),
    C("HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nxHTTP/1.0 204 No\r\n\r\n", 0, "RES 204 No"),
    C("bad status 4 digits", "HTTP/1.1 2000 OK\r\n\r\n", 502, "invalid status line"),
    C("bad status 2 digits", "HTTP/1.1 20 OK\r\n\r\n", 502, "invalid status code"),
    C("bad status 099", "HTTP/1.1 099 X\r\n\r\n", 502, "invalid status code"),
    C("bad status 600", "HTTP/1.1 600 X\r\n\r\n", 502, "invalid status code"),
    C("bad status letters", "HTTP/1.1 2O0 OK\r\n\r\n", 502, "invalid status code"),
    C("two spaces", "HTTP/1.1  200 OK\r\n\r\n", 502, "invalid status code"),
    C("no space", "HTTP/1.1 200OK\r\n\r\n", 502, "invalid status line"),
    C("bare LF status line", "HTTP/1.1 200 OK\n\r\n", 502, "bare LF"),
    C("CTL in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 502, "invalid reason phrase"),
    C("HTTP/2", "HTTP/2 200 OK\r\n\r\n", 502, "HTTP version not supported"),
    C("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", 502, "HTTP version not supported"),
    C("lower-case version", "http/1.1 200 OK\r\n\r\n", 502, NULL),
    C("empty line first", "\r\nHTTP/1.1 200 OK\r\n\r\n", 502, NULL),
    C("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 502, "Content-Length with Transfer-Encoding"),
    C("TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 502, "unsupported transfer coding"),
    C("CL duplicate", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 502, NULL),
    C("CL bad", "HTTP/1.1 200 OK\r\nContent-Length: 3a\r\n\r\nabc", 502, NULL),
    C("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 502, "obs-fold"),
    C("truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 502, "connection closed"),
    C("truncated chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 502, "connection closed"),
    C("truncated head", "HTTP/1.1 200 OK\r\n", 502, "connection closed"),
};

static void test_responses(void)
{
    run_table(CIO__HTTP_RESPONSE, NULL, "G", response_cases, NCASES(response_cases));
    static const struct tcase head_cases[] = {
        C("HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, "cl10 h-1 u-1 {Content-Length: 10}\nD\nRES 200 OK 1.1 m0 f41 b1 cl2 h-1 u-1 {Content-Length: 2}\nB:ok\nD"),
        C("HEAD chunked has no body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nHTTP/1.1 204 x\r\n\r\n", 0, "RES 204 x"),
    };
    run_table(CIO__HTTP_RESPONSE, NULL, "HG", head_cases, NCASES(head_cases));
    static const struct tcase connect_cases[] = {
        C("CONNECT 200 is a tunnel", "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01", 0, "f0 b4 cl0 h-1 u-1\nD\n"),
        C("CONNECT 407 has a body", "HTTP/1.1 407 Auth\r\nContent-Length: 1\r\n\r\nx", 0, "B:x\nD"),
    };
    run_table(CIO__HTTP_RESPONSE, NULL, "C", connect_cases, NCASES(connect_cases));
}

/* ---- limits ------------------------------------------------------------------- */

/* A generated case: runs it, frees the input. */
static void run_generated(const char *name, char *in, size_t len, int status, const char *expect,
                          const cio__http_limits *lim)
{
    struct tcase c = {name, in, len, status, expect};
    free(run_case(CIO__HTTP_REQUEST, lim, NULL, &c));
    free(in);
}

/* "GET /<target> HTTP/1.1\r\nHost: a\r\n" + nfields "X: v" + padding so
 * the head is total bytes (if total is not 0) + "\r\n". */
static char *make_request(size_t target, size_t nfields, size_t total, size_t *len)
{
    size_t cap = target + nfields * 16 + total + 256;
    char *b = malloc(cap);
    size_t n = 0;
    n += (size_t)sprintf(b + n, "GET /");
    memset(b + n, 'a', target - 1);
    n += target - 1;
    n += (size_t)sprintf(b + n, " HTTP/1.1\r\nHost: a\r\n");
    for (size_t i = 0; i < nfields; i++)
        n += (size_t)sprintf(b + n, "X%zu: v\r\n", i);
    if (total) {
        /* "P: " + pad + "\r\n" + "\r\n" must end at total */
        size_t pad = total - n - 3 - 2 - 2;
        n += (size_t)sprintf(b + n, "P: ");
        memset(b + n, 'p', pad);
        n += pad;
        n += (size_t)sprintf(b + n, "\r\n");
    }
    n += (size_t)sprintf(b + n, "\r\n");
    *len = n;
    return b;
}

static void test_limits(void)
{
    size_t n;
    char *r;
    r = make_request(CIO__HTTP_DEFAULT_MAX_TARGET, 0, 0, &n);
    run_generated("target at limit", r, n, 0, "REQ GET /aaaa", NULL);
    r = make_request(CIO__HTTP_DEFAULT_MAX_TARGET + 1, 0, 0, &n);
    run_generated("target over limit", r, n, 414, "URI too long", NULL);
    r = make_request(1, CIO__HTTP_DEFAULT_MAX_HEADERS - 1, 0, &n);
    run_generated("fields at limit", r, n, 0, "{X98: v}\nD", NULL);
    r = make_request(1, CIO__HTTP_DEFAULT_MAX_HEADERS, 0, &n);
    run_generated("fields over limit", r, n, 431, "too many header fields", NULL);
    r = make_request(1, 0, CIO__HTTP_DEFAULT_MAX_HEAD, &n);
    CHECK_EQ(n, CIO__HTTP_DEFAULT_MAX_HEAD);
    run_generated("head at limit", r, n, 0, "pppp}\nD", NULL);
    r = make_request(1, 0, CIO__HTTP_DEFAULT_MAX_HEAD + 1, &n);
    run_generated("head over limit", r, n, 431, "header section too large", NULL);

    /* empty lines before the request line count against the head */
    r = malloc(CIO__HTTP_DEFAULT_MAX_HEAD + 64);
    for (n = 0; n < CIO__HTTP_DEFAULT_MAX_HEAD; n += 2)
        memcpy(r + n, "\r\n", 2);
    n += (size_t)sprintf(r + n, "GET /" H11 "\r\n");
    run_generated("endless empty lines", r, n, 431, NULL, NULL);

    /* Content-Length at max_body, with its body */
    r = malloc(CIO__HTTP_DEFAULT_MAX_BODY + 128);
    n = (size_t)sprintf(r, "POST /" H11 "Content-Length: %u\r\n\r\n", CIO__HTTP_DEFAULT_MAX_BODY);
    memset(r + n, 'b', CIO__HTTP_DEFAULT_MAX_BODY);
    n += CIO__HTTP_DEFAULT_MAX_BODY;
    run_generated("body at limit", r, n, 0, "bbbb\nD\nEOF", NULL);

    /* a trailer section is bounded like a head */
    cio__http_limits lim;
    cio__http_limits_init(&lim);
    lim.max_head = 64;
    lim.max_headers = 3;
    lim.max_target = 4;
    static const struct tcase small[] = {
        C("small target ok", "GET /abc" H11 "\r\n", 0, NULL),
        C("small target over", "GET /abcd" H11 "\r\n", 414, NULL),
        C("small target over, absolute", "GET http://a/" H11 "\r\n", 414, NULL),
        C("small fields over", "GET /" H11 "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431, "too many header fields"),
        C("trailer fields over", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\n\r\n", 431, "too many header fields"),
        C("trailer at size", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nA: 012345678901234567890123456789012345678901234567890123456\r\n\r\n", 0, "D\nEOF"),
        C("trailer over size", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nA: 0123456789012345678901234567890123456789012345678901234567\r\n\r\n", 431, "header section too large"),
    };
    run_table(CIO__HTTP_REQUEST, &lim, NULL, small, NCASES(small));
}

/* ---- no rescans ----------------------------------------------------------------- */

/*
 * A head fed one byte at a time, where the bytes before the current field
 * line are not even mapped: the buffer handed to the parser starts on a
 * PROT_NONE page and only the bytes it may still need are readable.  A
 * parser that rescanned from the start would crash; this one must finish
 * with the same fields as a whole-buffer parse.
 */
static void test_no_rescan(void)
{
    size_t len;
    char *in = make_request(64, 90, 0, &len);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t span = (len + page - 1) / page * page;
    char *m = mmap(NULL, span + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    if (m == MAP_FAILED)
        return;
    CHECK_EQ(mprotect(m, page, PROT_NONE), 0);
    CHECK_EQ(mprotect(m + page + span, page, PROT_NONE), 0);
    char *readable = m + page;
    static cio__http_header hdrs[128];
    cio__http_parser p;
    CHECK_RC(cio__http_parser_init(&p, CIO__HTTP_REQUEST, NULL, hdrs, 128), 0);
    int r = 0;
    size_t k;
    for (k = 1; k <= len && r == 0; k++) {
        /* the parser may still read from the current token or field on */
        size_t lo = p.nheaders ? (p.mark < p.name_off ? p.mark : p.name_off) : 0;
        memcpy(readable, in + lo, k - lo);
        r = cio__http_parse_head(&p, readable - lo, k);
    }
    CHECK_EQ(r, (int)len);
    CHECK_EQ(k - 1, len);
    CHECK_EQ(p.nheaders, 91);
    CHECK_EQ(p.headers[90].name.len, 3);
    CHECK(memcmp(in + p.headers[90].name.off, "X89", 3) == 0);
    munmap(m, span + 2 * page);
    free(in);
}

/* ---- the calls themselves ----------------------------------------------------- */

static void test_api(void)
{
    cio__http_header h[4];
    cio__http_parser p;
    cio__http_limits lim;
    cio__http_limits_init(&lim);
    CHECK_RC(cio__http_parser_init(NULL, CIO__HTTP_REQUEST, NULL, h, 4), -EINVAL);
    CHECK_RC(cio__http_parser_init(&p, CIO__HTTP_REQUEST, NULL, NULL, 4), -EINVAL);
    CHECK_RC(cio__http_parser_init(&p, CIO__HTTP_REQUEST, NULL, h, 0), -EINVAL);
    CHECK_RC(cio__http_parser_init(&p, 7, NULL, h, 4), -EINVAL);
    lim.max_head = (1u << 30) + 1;
    CHECK_RC(cio__http_parser_init(&p, CIO__HTTP_REQUEST, &lim, h, 4), -EINVAL);

    /* the array caps the field count */
    CHECK_RC(cio__http_parser_init(&p, CIO__HTTP_REQUEST, NULL, h, 2), 0);
    const char *m3 = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    CHECK_RC(cio__http_parse_head(&p, m3, strlen(m3)), CIO_ELIMIT);
    CHECK_EQ(p.err_status, 431);
    /* errors are sticky, until a reset */
    CHECK_RC(cio__http_parse_head(&p, m3, strlen(m3)), CIO_ELIMIT);
    cio__http_data d;
    CHECK_RC(cio__http_parse_body(&p, "x", 1, &d), CIO_ELIMIT);
    CHECK_RC(cio__http_parse_eof(&p), CIO_ELIMIT);
    cio__http_parser_reset(&p);
    CHECK_EQ(p.err, 0);
    const char *m2 = "GET / HTTP/1.1\r\nhost: a\r\nContent-TYPE: t\r\n\r\n";
    CHECK_RC(cio__http_parse_head(&p, m2, 10), 0);
    /* a buffer shorter than what was already scanned is a broken call */
    CHECK_RC(cio__http_parse_head(&p, m2, 5), -EINVAL);
    CHECK_RC(cio__http_parse_head(&p, m2, strlen(m2)), (int)strlen(m2));
    CHECK_EQ(cio__http_find_header(&p, m2, "Content-Type", 0), 1);
    CHECK_EQ(cio__http_find_header(&p, m2, "HOST", 0), 0);
    CHECK_EQ(cio__http_find_header(&p, m2, "HOST", 1), -1);
    CHECK_EQ(cio__http_find_header(&p, m2, "Content-Typ", 0), -1);
    /* no body: done at once; body calls take nothing */
    CHECK_EQ(p.phase, CIO__HTTP_PH_DONE);
    CHECK_RC(cio__http_parse_body(&p, "GET", 3, &d), 0);
    CHECK_RC(cio__http_parse_head(&p, m2, strlen(m2)), -EINVAL);
    /* body before head */
    cio__http_parser_reset(&p);
    CHECK_RC(cio__http_parse_body(&p, "x", 1, &d), -EINVAL);
    CHECK_RC(cio__http_parse_body(&p, "x", 1, NULL), -EINVAL);
    CHECK_RC(cio__http_parse_head(&p, NULL, 1), -EINVAL);
    CHECK_RC(cio__http_parse_head(&p, NULL, 0), 0);
    CHECK_RC(cio__http_parse_eof(&p), 0);
    CHECK_RC(cio__http_parse_eof(NULL), -EINVAL);
}

int main(void)
{
    RUN(test_char_table);
    RUN(test_requests);
    RUN(test_chunked);
    RUN(test_decode_body);
    RUN(test_responses);
    RUN(test_limits);
    RUN(test_no_rescan);
    RUN(test_api);
    return test_finish();
}
