/* JSON written straight into an outbuf (outbuf.h), for big answers (the
 * status of 10,000 units is 2.5 MB): no jansson tree is built. Strings go
 * through jansson's encoder (escapes, invalid UTF-8), as do the small
 * nested values other modules make as jansson trees. The buffer is the
 * same one the HTTP listener and the Prometheus writer fill, so the status
 * JSON of `sbxctl status` and of /api/v1/units is one encoder's output. A
 * failed allocation is remembered; the caller checks `failed` once at the
 * end. */
#ifndef SBX_JSONOUT_H
#define SBX_JSONOUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbuf.h"

typedef outbuf json_out;

static inline void json_out_raw(json_out *b, const char *text, size_t len)
{
    out_raw(b, text, len);
}

#define json_out_fmt out_fmt
/* A JSON string (bytes that are not UTF-8 become U+FFFD), or null. */
void json_out_str(json_out *b, const char *text);
/* A JSON string of len bytes of text: plain ASCII (the Prometheus text)
 * escaped here in one pass into the buffer, other text through jansson
 * (a copy and a tree: 10,000 units' metrics are 12 MB). */
void json_out_text(json_out *b, const char *text, size_t len);
/* ,"key":123 or ,"key":null when not known. */
void json_out_num(json_out *b, const char *key, int64_t v, bool known);
/* A jansson value, compact and ASCII; takes v. */
void json_out_value(json_out *b, json_t *v);
/* ,"key": and then a value. */
void json_out_key(json_out *b, const char *key);

#endif
