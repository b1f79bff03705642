/* timeparse.c: sp_parse_time: dates, times and ages for --since and --older-than. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/sp_common.h"

static sp_status bad_time(const char *text, sp_error *err)
{
    return sp_fail(err, SP_ERR_USAGE,
                   "invalid time '%.40s': expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or an age such as 90m, "
                   "36h, 7d, 2w",
                   text);
}

sp_status sp_parse_time(const char *text, char out[21], sp_error *err)
{
    if (!text || !*text) return bad_time("", err);
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    time_t t;
    size_t n = strlen(text);
    if (isdigit((unsigned char)text[0]) && n >= 2 && strchr("smhdw", text[n - 1]) && strspn(text, "0123456789") == n - 1) {
        errno = 0;
        unsigned long long v = strtoull(text, NULL, 10);
        unsigned long long unit = text[n - 1] == 's' ? 1 : text[n - 1] == 'm' ? 60 : text[n - 1] == 'h' ? 3600
                                : text[n - 1] == 'd' ? 86400 : 7 * 86400;
        if (errno || v > 100ULL * 365 * 86400 / unit) return bad_time(text, err);
        t = time(NULL) - (time_t)(v * unit);
    } else {
        int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
        if (n == 10 && sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &used) == 3 && used == 10) {
        } else if (n == 20 && sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &used) == 6 &&
                   used == 20) {
        } else {
            return bad_time(text, err);
        }
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
            return bad_time(text, err);
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;
        t = timegm(&tm);
        struct tm back;
        if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d) return bad_time(text, err);
    }
    struct tm u;
    if (!gmtime_r(&t, &u)) return bad_time(text, err);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &u);
    return SP_OK;
}
