/* The JSON writer: see jsonout.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "protocol.h"

static void grow(json_out *b, size_t more)
{
    if (b->failed || b->len + more < b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap <= b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

void json_out_raw(json_out *b, const char *text, size_t len)
{
    grow(b, len);
    if (!b->failed) {
        memcpy(b->p + b->len, text, len);
        b->len += len;
    }
}

void json_out_fmt(json_out *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        json_out_raw(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void json_out_value(json_out *b, json_t *v)
{
    char *enc = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
    json_decref(v);
    if (enc) {
        json_out_raw(b, enc, strlen(enc));
        free(enc);
    } else {
        b->failed = true;
    }
}

void json_out_str(json_out *b, const char *text)
{
    if (text)
        json_out_value(b, proto_text(text, strlen(text)));
    else
        json_out_raw(b, "null", 4);
}

void json_out_key(json_out *b, const char *key)
{
    json_out_fmt(b, ",\"%s\":", key);
}

void json_out_num(json_out *b, const char *key, int64_t v, bool known)
{
    if (known)
        json_out_fmt(b, ",\"%s\":%lld", key, (long long)v);
    else
        json_out_fmt(b, ",\"%s\":null", key);
}
