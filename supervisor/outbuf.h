/* A growing output buffer for text written piece by piece (JSON, the
 * Prometheus exposition): one realloc'd block, doubling, and a sticky
 * failure flag so writers check once at the end instead of after every
 * piece. */
#ifndef SBX_OUTBUF_H
#define SBX_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct outbuf {
    char *p;
    size_t len, cap;
    bool failed;  /* an allocation failed: the contents are incomplete */
} outbuf;

/* Makes room for `more` bytes; on failure sets b->failed. */
void out_grow(outbuf *b, size_t more);
void out_raw(outbuf *b, const char *text, size_t len);
void out_str0(outbuf *b, const char *text);  /* a NUL-terminated string, as is */
void out_fmt(outbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Decimal integers without printf (the hot path of a 10,000-unit scrape). */
void out_u64(outbuf *b, uint64_t v);
void out_i64(outbuf *b, int64_t v);
/* v / 10^decimals as a decimal fraction, trailing zeros dropped: 1500, 3 -> "1.5". */
void out_fixed(outbuf *b, int64_t v, unsigned decimals);
/* Gives up the contents; b is empty again. */
void out_free(outbuf *b);

#endif
