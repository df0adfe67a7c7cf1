/*
 * extension.h - Sec-WebSocket-Extensions (RFC 6455 §9.1) and the
 * negotiation of permessage-deflate (RFC 7692 §7.1), internal to src/ws.
 *
 * The server reads the client's offers, declines every offer it may not
 * or cannot take (unknown parameter, bad or duplicate value, a
 * configuration zlib cannot honour), accepts the first one left and writes
 * its response; the client writes its offer, then checks the server's
 * response strictly (any fault fails the connection).  Both sides end
 * with the same struct cio__ws_pmd_params, which deflate.h takes.
 *
 * Header values are passed as (pointer, length); several header lines are
 * joined with ", " first (RFC 7230 §3.2.2).  Without zlib in the build
 * (cio__ws_deflate_available() == 0) the server never accepts and the
 * client never offers.
 */
#ifndef CIO_WS_EXTENSION_H
#define CIO_WS_EXTENSION_H

#include <stddef.h>
#include <stdint.h>

/* Room for any header value written here (offer or response). */
#define CIO__WS_PMD_MAX_HEADER 160

/* What one side wants; start from cio__ws_pmd_config_init. */
struct cio__ws_pmd_config {
    uint8_t server_no_context_takeover; /* server: reset our compressor per
                                           message; client: ask the server to */
    uint8_t client_no_context_takeover; /* client: we reset ours per message;
                                           server: ask the client to */
    uint8_t server_max_window_bits;     /* 8..15: server's compression window
                                           (server: ours; client: ask for it) */
    uint8_t client_max_window_bits;     /* 8..15: client's compression window
                                           (client: ours; server: ask for it,
                                           if the client offered the parameter) */
};

/* The agreed parameters, the same on both sides. */
struct cio__ws_pmd_params {
    uint8_t server_no_context_takeover; /* the server resets its compressor
                                           (and the client its decompressor)
                                           after each message */
    uint8_t client_no_context_takeover; /* likewise for the client's messages */
    uint8_t server_max_window_bits;     /* 8..15: window of the server's compressor */
    uint8_t client_max_window_bits;     /* 8..15: window of the client's compressor */
    uint8_t server_bits_in_response;    /* server_max_window_bits goes in the
                                           response (it was offered, or < 15) */
    uint8_t client_bits_in_response;    /* client_max_window_bits goes in the
                                           response (offered and limited) */
};

/* Defaults: context takeover both ways, 15-bit windows.  Cannot fail. */
void cio__ws_pmd_config_init(struct cio__ws_pmd_config *c);

/*
 * Server: reads the client's Sec-WebSocket-Extensions value and picks the
 * first acceptable permessage-deflate offer under cfg.  Returns 1 with
 * *out set (write cio__ws_pmd_response into the 101 answer), 0 if no
 * offer is acceptable (the connection goes on without compression), or
 * -EPROTO if the value is not a syntactically valid extension list (the
 * caller may answer 400), -EINVAL for a bad cfg (a window outside 8..15).
 * Other extensions in the list are ignored.  Nothing is allocated.
 */
int cio__ws_pmd_negotiate(const char *hdr, size_t len, const struct cio__ws_pmd_config *cfg,
                          struct cio__ws_pmd_params *out);

/*
 * Server: writes the response value for the agreed p into buf (cap bytes,
 * CIO__WS_PMD_MAX_HEADER suffice), NUL-terminated.  Returns its length,
 * or -ENOSPC.
 */
int cio__ws_pmd_response(const struct cio__ws_pmd_params *p, char *buf, size_t cap);

/*
 * Client: writes the offer for cfg into buf (NUL-terminated), always with
 * client_max_window_bits (we can honour any window the server asks for).
 * Returns its length, 0 (empty buf) if zlib is not built in, -ENOSPC,
 * -EINVAL for a bad cfg.
 */
int cio__ws_pmd_offer(const struct cio__ws_pmd_config *cfg, char *buf, size_t cap);

/*
 * Client: checks the server's Sec-WebSocket-Extensions value against the
 * offer made from cfg.  Returns 1 with *out set if the server accepted
 * permessage-deflate, 0 if the value is empty (no extension in use), or
 * -EPROTO (fail the connection): bad syntax, an extension we did not
 * offer or more than one, an unknown or duplicate parameter, a bad
 * value, client_max_window_bits above what we offered, a missing or
 * larger server_max_window_bits when we asked for one, a missing
 * server_no_context_takeover when we asked for it.
 */
int cio__ws_pmd_check_response(const char *hdr, size_t len,
                               const struct cio__ws_pmd_config *cfg,
                               struct cio__ws_pmd_params *out);

#endif
