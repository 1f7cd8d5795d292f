/* One HTTP request: who may ask (host, token), what (method, route), and
 * the answer from the provider. */
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* The page, made into a C array at build time (cmake/embed.cmake). */
extern const unsigned char sbx_web_index_html[];
extern const size_t sbx_web_index_html_len;

#define UNITS_PREFIX "/api/v1/units/"
#define UNIT_NAME_MAX 255

/* A page that runs only its own inline script and talks only to us. */
#define PAGE_CSP "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " \
                 "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* ---- answers ---- */

static void common_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

struct MHD_Response *http_page_response(void)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(sbx_web_index_html_len,
        (void *)sbx_web_index_html, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return NULL;
    common_headers(r);
    MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(r, "Content-Security-Policy", PAGE_CSP);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    return r;
}

/* Sends len bytes of body with status; done(done_cls) frees it. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, char *body, size_t len,
                             MHD_ContentReaderFreeCallback done, void *done_cls)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(len, body, done, done_cls);
    if (!r) {
        if (done)
            done(done_cls);
        return MHD_NO;  /* MHD closes the connection */
    }
    common_headers(r);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"sbx\", charset=\"UTF-8\"");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- bodies from the provider ----
 * A 10,000-unit /metrics is 12 MB: a fresh buffer for each scrape spends
 * more time faulting its pages in than writing it. So the buffer of the
 * last answer is kept for the next (up to SPARE_MAX), and a body being
 * sent while another is written just gets a new one. */

#define SPARE_MAX (64u << 20)

typedef struct body {
    http_server *s;
    outbuf buf;
} body;

static void keep_spare(http_server *s, outbuf *buf)
{
    if (!s->spare.p && buf->cap <= SPARE_MAX && !buf->failed)
        s->spare = (outbuf){buf->p, 0, buf->cap, false};
    else
        out_free(buf);
}

static void body_done(void *cls)
{
    body *b = cls;
    keep_spare(b->s, &b->buf);
    free(b);
}

static outbuf take_spare(http_server *s)
{
    outbuf out = s->spare;
    s->spare = (outbuf){0};
    return out;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return reply(c, status, "text/plain; charset=utf-8", (char *)text, strlen(text), NULL, NULL);
}

/* The provider's answer: its body, 404 or 500. */
static enum MHD_Result reply_out(http_server *s, struct MHD_Connection *c, int r, outbuf *out, const char *type)
{
    body *b = r == 0 && !out->failed ? malloc(sizeof *b) : NULL;
    if (b) {
        *b = (body){s, *out};
        return reply(c, MHD_HTTP_OK, type, out->p, out->len, body_done, b);
    }
    keep_spare(s, out);
    if (r == -ENOENT)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "no such unit\n");
    return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
}

/* ---- who may ask ---- */

/* Equal in time that depends only on the token's length, not on where
 * the guess first differs. */
static bool same_secret(const char *guess, size_t guess_len, const char *token, size_t token_len)
{
    volatile unsigned char diff = guess_len != token_len;
    for (size_t i = 0; i < token_len; i++)
        diff |= (unsigned char)((i < guess_len ? guess[i] : 0) ^ token[i]);
    return diff == 0;
}

static bool authorized(const http_server *s, struct MHD_Connection *c)
{
    if (!s->token)
        return true;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        return same_secret(auth + 7, strlen(auth + 7), s->token, s->token_len);
    /* A browser asks the user and sends Basic: the token is the password. */
    char *password = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &password);
    bool ok = password && same_secret(password, strlen(password), s->token, s->token_len);
    MHD_free(user);
    MHD_free(password);
    return ok;
}

/* On loopback only requests for a loopback host are answered: a page from
 * elsewhere that rebinds its name to 127.0.0.1 carries its own name. */
static bool host_allowed(const http_server *s, struct MHD_Connection *c)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!s->loopback || !host)
        return true;  /* no Host: HTTP/1.0 tools, not a browser */
    char name[64];
    size_t n = host[0] == '[' ? strcspn(host + 1, "]") : strcspn(host, ":");
    if (n >= sizeof name)
        return false;
    memcpy(name, host + (host[0] == '['), n);
    name[n] = '\0';
    struct in_addr v4;
    struct in6_addr v6;
    return strcasecmp(name, "localhost") == 0 ||
           (inet_pton(AF_INET, name, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127) ||
           (inet_pton(AF_INET6, name, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6));
}

/* ---- routes ---- */

static bool unit_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n <= UNIT_NAME_MAX &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-") == n;
}

typedef enum { UNITS, UNIT, METRICS } provided;

static enum MHD_Result provide(http_server *s, struct MHD_Connection *c, provided what, const char *name)
{
    const http_provider *p = &s->provider;
    outbuf out = take_spare(s);
    if (what == UNITS)
        return reply_out(s, c, p->units_json(p->ctx, &out), &out, "application/json");
    if (what == UNIT)
        return reply_out(s, c, p->unit_json(p->ctx, name, &out), &out, "application/json");
    return reply_out(s, c, p->metrics(p->ctx, &out), &out, METRICS_CONTENT_TYPE);
}

static enum MHD_Result route(http_server *s, struct MHD_Connection *c, const char *url)
{
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return MHD_queue_response(c, MHD_HTTP_OK, s->page);
    if (strcmp(url, "/api/v1/units") == 0)
        return provide(s, c, UNITS, NULL);
    if (strncmp(url, UNITS_PREFIX, strlen(UNITS_PREFIX)) == 0) {
        const char *name = url + strlen(UNITS_PREFIX);
        if (!unit_name_ok(name))
            return reply_text(c, MHD_HTTP_NOT_FOUND, "no such unit\n");
        return provide(s, c, UNIT, name);
    }
    if (strcmp(url, "/metrics") == 0)
        return provide(s, c, METRICS, NULL);
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

enum MHD_Result http_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                            const char *version, const char *upload, size_t *upload_size, void **req)
{
    http_server *s = cls;
    static int headers_seen;
    (void)version;
    (void)upload;
    /* The first call comes with the headers; answering a GET only on the
     * second (once MHD knows there is no body) lets it keep the
     * connection alive for the page's next poll. */
    if (!*req && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)) {
        *req = &headers_seen;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;  /* a body on GET: read and dropped */
        return MHD_YES;
    }
    if (!host_allowed(s, c))
        return reply_text(c, MHD_HTTP_MISDIRECTED_REQUEST, "this host name is not served here\n");
    if (!authorized(s, c))
        return reply_text(c, MHD_HTTP_UNAUTHORIZED, "a token is required\n");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET and HEAD only\n");
    return route(s, c, url);
}
