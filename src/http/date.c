/*
 * date.c - HTTP dates (RFC 9110 §5.6.7): the Date header's value, cached
 * and reformatted once a second, and IMF-fixdate formatting and parsing
 * for Last-Modified and If-Modified-Since.
 */
#include <string.h>
#include <time.h>

#include "server.h"

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void cio__http_format_date(time_t t, char out[30])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    /* "Sun, 06 Nov 1994 08:49:37 GMT", by hand: strftime follows the
     * locale, and this runs once a second anyway */
    char *o = out;
    memcpy(o, days[tm.tm_wday], 3);
    o[3] = ',';
    o[4] = ' ';
    o[5] = (char)('0' + tm.tm_mday / 10);
    o[6] = (char)('0' + tm.tm_mday % 10);
    o[7] = ' ';
    memcpy(o + 8, months[tm.tm_mon], 3);
    o[11] = ' ';
    int y = tm.tm_year + 1900;
    o[12] = (char)('0' + y / 1000 % 10);
    o[13] = (char)('0' + y / 100 % 10);
    o[14] = (char)('0' + y / 10 % 10);
    o[15] = (char)('0' + y % 10);
    o[16] = ' ';
    o[17] = (char)('0' + tm.tm_hour / 10);
    o[18] = (char)('0' + tm.tm_hour % 10);
    o[19] = ':';
    o[20] = (char)('0' + tm.tm_min / 10);
    o[21] = (char)('0' + tm.tm_min % 10);
    o[22] = ':';
    o[23] = (char)('0' + tm.tm_sec / 10);
    o[24] = (char)('0' + tm.tm_sec % 10);
    memcpy(o + 25, " GMT", 5); /* with the NUL */
}

/* The cache is per thread: one loop per thread, one Date per loop. */
static CIO_TLS time_t cached_sec = -1;
static CIO_TLS char cached[30];

const char *cio__http_date(void)
{
    time_t now = time(NULL);
    if (now != cached_sec) {
        cio__http_format_date(now, cached);
        cached_sec = now;
    }
    return cached;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

time_t cio__http_parse_date(const char *s)
{
    /* IMF-fixdate only (the obsolete forms are rare enough to ignore:
     * a date we cannot read just means "not modified-since") */
    if (!s || strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
        return -1;
    struct tm tm = {0};
    tm.tm_mday = num(s + 5, 2);
    tm.tm_mon = -1;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, months[i], 3) == 0)
            tm.tm_mon = i;
    int y = num(s + 12, 4);
    tm.tm_hour = num(s + 17, 2);
    tm.tm_min = num(s + 20, 2);
    tm.tm_sec = num(s + 23, 2);
    if (tm.tm_mday < 1 || tm.tm_mon < 0 || y < 1970 || tm.tm_hour < 0 || tm.tm_min < 0 ||
        tm.tm_sec < 0)
        return -1;
    tm.tm_year = y - 1900;
    return timegm(&tm);
}
