/* The growing output buffer (outbuf.h). */
#include "outbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void out_grow(outbuf *b, size_t more)
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

void out_raw(outbuf *b, const char *text, size_t len)
{
    out_grow(b, len);
    if (!b->failed) {
        memcpy(b->p + b->len, text, len);
        b->len += len;
    }
}

void out_str0(outbuf *b, const char *text)
{
    out_raw(b, text, strlen(text));
}

void out_fmt(outbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    out_grow(b, (size_t)n + 1);  /* vsnprintf writes a NUL after the text */
    if (b->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void out_u64(outbuf *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_raw(b, tmp + i, sizeof tmp - i);
}

void out_i64(outbuf *b, int64_t v)
{
    if (v < 0) {
        out_raw(b, "-", 1);
        out_u64(b, 0 - (uint64_t)v);  /* also right for INT64_MIN */
    } else {
        out_u64(b, (uint64_t)v);
    }
}

void out_fixed(outbuf *b, int64_t v, unsigned decimals)
{
    uint64_t scale = 1;
    for (unsigned i = 0; i < decimals; i++)
        scale *= 10;
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        out_raw(b, "-", 1);
    out_u64(b, mag / scale);
    uint64_t frac = mag % scale;
    if (!frac)
        return;
    char tmp[20];
    unsigned n = decimals;
    for (unsigned i = n; i-- > 0;) {
        tmp[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    while (n && tmp[n - 1] == '0')
        n--;
    out_raw(b, ".", 1);
    out_raw(b, tmp, n);
}

void out_free(outbuf *b)
{
    free(b->p);
    *b = (outbuf){0};
}
