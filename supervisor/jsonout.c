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
