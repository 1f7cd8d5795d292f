/* sd_notify messages: see notify.h. */
#include <stdlib.h>
#include <string.h>

#include "notify.h"

static bool is(const char *line, size_t n, const char *key, const char **value)
{
    size_t k = strlen(key);
    if (n < k || memcmp(line, key, k) != 0)
        return false;
    *value = line + k;
    return true;
}

/* One KEY=VALUE line of n bytes; true when it was understood. */
static bool parse_line(const char *line, size_t n, notify_msg *m)
{
    const char *v;
    size_t vn;
    if (is(line, n, "STATUS=", &v)) {
        vn = n - (size_t)(v - line);
        if (vn >= sizeof m->status)
            vn = sizeof m->status - 1;
        memcpy(m->status, v, vn);
        m->status[vn] = '\0';
        return m->has_status = true;
    }
    if (is(line, n, "MAINPID=", &v)) {
        char num[24];
        vn = n - (size_t)(v - line);
        if (vn == 0 || vn >= sizeof num)
            return false;
        memcpy(num, v, vn);
        num[vn] = '\0';
        char *end;
        long pid = strtol(num, &end, 10);
        if (*end || pid <= 0)
            return false;
        m->mainpid = pid;
        return true;
    }
    bool *flag = NULL;
    if (is(line, n, "READY=", &v))
        flag = &m->ready;
    else if (is(line, n, "WATCHDOG=", &v))
        flag = &m->watchdog;
    else if (is(line, n, "STOPPING=", &v))
        flag = &m->stopping;
    else if (is(line, n, "RELOADING=", &v))
        flag = &m->reloading;
    if (!flag || n - (size_t)(v - line) != 1 || *v != '1')
        return false;  /* unknown keys (FDSTORE=, ERRNO=...), or not "1" */
    return *flag = true;
}

int notify_parse(const char *buf, size_t len, notify_msg *m)
{
    memset(m, 0, sizeof *m);
    int understood = 0;
    const char *end = buf + len;
    for (const char *p = buf; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n && !memchr(p, '\0', n) && parse_line(p, n, m))
            understood++;
        p += n + 1;
    }
    return understood;
}
