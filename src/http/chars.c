/*
 * chars.c - the byte classifier of the HTTP parser: one table lookup tells
 * which grammar sets of RFC 9110/9112 (and RFC 3986 for hosts) a byte
 * belongs to, so every inner loop of the parser is "load, test a bit".
 *
 * The table is written out (not built at run time) so it is shared,
 * read-only and needs no initialisation; tests/test_http_parser.c checks
 * it byte by byte against the grammar's definitions so it cannot drift.
 */
#include "chars.h"

#define T CIO__HTTP_TCHAR
#define G CIO__HTTP_TARGET
#define V CIO__HTTP_VALUE
#define W CIO__HTTP_WS
#define X CIO__HTTP_HEX
#define R CIO__HTTP_REGNAME
#define Q CIO__HTTP_QDTEXT
#define S CIO__HTTP_SCHEME
/* obs-text (0x80-0xff): allowed in field values and quoted strings only. */
#define O8 V | Q, V | Q, V | Q, V | Q, V | Q, V | Q, V | Q, V | Q
#define O64 O8, O8, O8, O8, O8, O8, O8, O8

const uint8_t cio__http_class[256] = {
    0,                0,                0,                0, /* 0x00 0x01 0x02 0x03 */
    0,                0,                0,                0, /* 0x04 0x05 0x06 0x07 */
    0,                V|W|Q,            0,                0, /* 0x08 0x09 0x0a 0x0b */
    0,                0,                0,                0, /* 0x0c 0x0d 0x0e 0x0f */
    0,                0,                0,                0, /* 0x10 0x11 0x12 0x13 */
    0,                0,                0,                0, /* 0x14 0x15 0x16 0x17 */
    0,                0,                0,                0, /* 0x18 0x19 0x1a 0x1b */
    0,                0,                0,                0, /* 0x1c 0x1d 0x1e 0x1f */
    V|W|Q,            T|G|V|R|Q,        G|V,              T|V|Q, /* 0x20 '!' '"' '#' */
    T|G|V|R|Q,        T|G|V|R|Q,        T|G|V|R|Q,        T|G|V|R|Q, /* '$' '%' '&' '\'' */
    G|V|R|Q,          G|V|R|Q,          T|G|V|R|Q,        T|G|V|R|Q|S, /* '(' ')' '*' '+' */
    G|V|R|Q,          T|G|V|R|Q|S,      T|G|V|R|Q|S,      G|V|Q, /* ',' '-' '.' '/' */
    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S, /* '0' '1' '2' '3' */
    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S, /* '4' '5' '6' '7' */
    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S,    G|V|Q,            G|V|R|Q, /* '8' '9' ':' ';' */
    G|V|Q,            G|V|R|Q,          G|V|Q,            G|V|Q, /* '<' '=' '>' '?' */
    G|V|Q,            T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S, /* '@' 'A' 'B' 'C' */
    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S,    T|G|V|R|Q|S, /* 'D' 'E' 'F' 'G' */
    T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S, /* 'H' 'I' 'J' 'K' */
    T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S, /* 'L' 'M' 'N' 'O' */
    T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S, /* 'P' 'Q' 'R' 'S' */
    T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S, /* 'T' 'U' 'V' 'W' */
    T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S,      G|V|Q, /* 'X' 'Y' 'Z' '[' */
    G|V,              G|V|Q,            T|G|V|Q,          T|G|V|R|Q, /* '\\' ']' '^' '_' */
    T|G|V|Q,          T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S, /* '`' 'a' 'b' 'c' */
    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S,    T|G|V|X|R|Q|S,    T|G|V|R|Q|S, /* 'd' 'e' 'f' 'g' */
    T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S, /* 'h' 'i' 'j' 'k' */
    T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S, /* 'l' 'm' 'n' 'o' */
    T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S, /* 'p' 'q' 'r' 's' */
    T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S, /* 't' 'u' 'v' 'w' */
    T|G|V|R|Q|S,      T|G|V|R|Q|S,      T|G|V|R|Q|S,      G|V|Q, /* 'x' 'y' 'z' '{' */
    T|G|V|Q,          G|V|Q,            T|G|V|R|Q,        0, /* '|' '}' '~' 0x7f */
    O64, O64,
};
