/* sbx_error: a negative errno plus a message that says what was being done. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sbx.h"

int sbx_error_set(sbx_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void sbx_error_prefix(sbx_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char head[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    char tail[sizeof err->msg];
    memcpy(tail, err->msg, sizeof tail);
    snprintf(err->msg, sizeof err->msg, "%s: %s", head, tail);
}
