/* The JSON writer: see jsonout.h. */
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "protocol.h"

void json_out_value(json_out *b, json_t *v)
{
    char *enc = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
    json_decref(v);
    if (enc) {
        out_str0(b, enc);
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
        out_raw(b, "null", 4);
}

static bool plain_ascii(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] >= 0x80)
            return false;
    return true;
}

void json_out_text(json_out *b, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (!plain_ascii(text, len)) {
        json_out_value(b, proto_text(text, len));
        return;
    }
    out_grow(b, len + len / 8 + 2);  /* a line break in about 8 bytes escaped */
    out_raw(b, "\"", 1);
    const char *run = text;
    for (const char *p = text; p < text + len; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        out_raw(b, run, (size_t)(p - run));
        char esc[6] = {'\\', (char)ch, 0, 0, 0, 0};
        size_t n = 2;
        if (ch == '\n')
            esc[1] = 'n';
        else if (ch == '\t')
            esc[1] = 't';
        else if (ch < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            n = 6;
        }
        out_raw(b, esc, n);
        run = p + 1;
    }
    out_raw(b, run, (size_t)(text + len - run));
    out_raw(b, "\"", 1);
}

void json_out_key(json_out *b, const char *key)
{
    out_raw(b, ",\"", 2);
    out_str0(b, key);
    out_raw(b, "\":", 2);
}

void json_out_num(json_out *b, const char *key, int64_t v, bool known)
{
    json_out_key(b, key);
    if (known)
        out_i64(b, v);
    else
        out_raw(b, "null", 4);
}
