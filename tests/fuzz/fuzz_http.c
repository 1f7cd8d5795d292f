/* Fuzz target: the HTTP listener's request path (supervisor/http.c,
 * http_request.c and libmicrohttpd's parser under them) on arbitrary bytes
 * from a client. Two listeners run on a libuv loop of this process with
 * the test server's fake fleet (tests/http/fake_units.c): one open, one
 * wanting the token "fuzz-token-0123456789" (the dictionary has it). Each
 * input is sent to both over loopback TCP, the write side is closed, and
 * the loop runs until the server has closed the connection. (libmicrohttpd
 * does not close a kept-alive connection when the client half-closes it,
 * nor answer some garbage at all: the listeners' request deadline, 100 ms
 * here, is what ends those, as it ends a slow client in sbxd.)
 *
 * Beyond what ASan and UBSan catch, it checks: the server ends every
 * connection within a few seconds (no hang on any input); whatever it
 * answers begins with an HTTP/1.x status line; the token-protected
 * listener never answers 200 to an input without the token; and the
 * listener still serves a plain GET after the input. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "fake_units.h"
#include "fuzz.h"
#include "http.h"

#define TOKEN "fuzz-token-0123456789"
#define REPLY_MAX (1u << 20)   /* kept of a reply; the rest is read and dropped */

static uv_loop_t loop;
static http_server *open_srv, *token_srv;

static void start(void)
{
    static char token_path[] = "/tmp/sbx-fuzz-http-XXXXXX";
    FUZZ_CHECK(uv_loop_init(&loop) == 0);
    FUZZ_CHECK(fake_units_init(0) == 0);
    int fd = mkstemp(token_path);
    FUZZ_CHECK(fd >= 0 && write(fd, TOKEN "\n", sizeof TOKEN) == (ssize_t)sizeof TOKEN);
    close(fd);
    const http_provider p = {NULL, fake_units_json, fake_unit_json, fake_metrics};
    char err[256];
    http_config open_cfg = {.listen = "127.0.0.1:0", .request_deadline_ms = 100};
    http_config token_cfg = {.listen = "127.0.0.1:0", .token_file = token_path, .request_deadline_ms = 100};
    FUZZ_CHECK(http_start(&loop, &open_cfg, &p, &open_srv, err, sizeof err) == 0);
    FUZZ_CHECK(http_start(&loop, &token_cfg, &p, &token_srv, err, sizeof err) == 0);
    unlink(token_path);
}

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Runs the loop for at most ms, or until fd is ready for events. */
static void turn(int fd, short events, int ms)
{
    struct pollfd p[2] = {{fd, events, 0}, {uv_backend_fd(&loop), POLLIN, 0}};
    poll(p, 2, ms);
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* Sends data to port, closes the write side, and reads the reply until the
 * server closes. Returns the reply's length (at most REPLY_MAX kept). */
static size_t exchange(uint16_t port, const uint8_t *data, size_t size, char *reply)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    FUZZ_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 || errno == EINPROGRESS);
    uint64_t deadline = now_ms() + 8000;
    size_t sent = 0, got = 0;
    bool closed = false;
    while (!closed && now_ms() < deadline) {
        if (sent < size) {
            ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (errno != EAGAIN && errno != EINPROGRESS && errno != ENOTCONN)
                sent = size;  /* the server closed early: fine, it may refuse */
            if (sent == size)
                shutdown(fd, SHUT_WR);
        }
        char buf[65536];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            size_t keep = got < REPLY_MAX ? REPLY_MAX - got : 0;
            memcpy(reply + got, buf, (size_t)n < keep ? (size_t)n : keep);
            got += (size_t)n < keep ? (size_t)n : keep;
        } else if (n == 0 || (errno != EAGAIN && errno != ENOTCONN)) {
            closed = true;
        } else {
            turn(fd, sent < size ? POLLOUT | POLLIN : POLLIN, 5);
        }
    }
    close(fd);
    FUZZ_CHECK(closed);  /* every connection ends: no input hangs the server */
    return got;
}

static int status_of(const char *reply, size_t len)
{
    if (len == 0)
        return 0;  /* closed without a word: allowed for garbage */
    FUZZ_CHECK(len >= 12 && memcmp(reply, "HTTP/1.", 7) == 0 && reply[8] == ' ');
    int status = atoi(reply + 9);
    FUZZ_CHECK(status >= 100 && status <= 599);
    return status;
}

static bool has_token(const uint8_t *data, size_t size)
{
    return memmem(data, size, TOKEN, strlen(TOKEN)) != NULL ||
           memmem(data, size, "ZnV6ei10b2tlbi0wMTIzNDU2Nzg5", 28) != NULL;  /* base64 of the token */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *reply;
    if (!reply) {
        reply = malloc(REPLY_MAX);
        FUZZ_CHECK(reply);
        start();
    }
    status_of(reply, exchange(http_port(open_srv), data, size, reply));
    /* The protected listener answers 200 only to an input with the token
     * (as a bearer token, or in a Basic header). */
    size_t len = exchange(http_port(token_srv), data, size, reply);
    if (!has_token(data, size) && !memmem(data, size, "asic ", 5))
        FUZZ_CHECK(status_of(reply, len) != 200);
    static const char plain[] = "GET /api/v1/units/web HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    FUZZ_CHECK(status_of(reply, exchange(http_port(open_srv), (const uint8_t *)plain, strlen(plain), reply)) == 200);
    return 0;
}
