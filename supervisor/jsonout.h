/* A JSON writer straight into one growing buffer, for big answers (the
 * status of 10,000 units is 2.5 MB): no jansson tree is built. Strings go
 * through jansson's encoder (escapes, invalid UTF-8), as do the small
 * nested values other modules make as jansson trees. A failed allocation
 * is remembered; the caller checks `failed` once at the end. */
#ifndef SBX_JSONOUT_H
#define SBX_JSONOUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct json_out {
    char *p;
    size_t len, cap;
    bool failed;
} json_out;

void json_out_raw(json_out *b, const char *text, size_t len);
void json_out_fmt(json_out *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string (bytes that are not UTF-8 become U+FFFD), or null. */
void json_out_str(json_out *b, const char *text);
/* ,"key":123 or ,"key":null when not known. */
void json_out_num(json_out *b, const char *key, int64_t v, bool known);
/* A jansson value, compact and ASCII; takes v. */
void json_out_value(json_out *b, json_t *v);
/* ,"key": and then a value. */
void json_out_key(json_out *b, const char *key);

#endif
