/* The HTTP listener (supervisor/http.c) on a libuv loop of its own, with
 * a fake provider in place of sbxd's manager: a fixed demo fleet shaped
 * like `sbxctl status --json`, in which "deploy" goes from starting to
 * running and "batch" from running to failed one second after the units
 * were first asked for (so a browser test sees both states however slowly
 * the browser starts), or --units N generated units for timing. Prints "listening PORT" on stdout when ready; TERM or INT
 * stop it.
 *
 *   http-test-server [--listen ADDR:PORT] [--token FILE] [--units N]
 *                    [--deadline-ms N] [--idle-s N] [--max-conn N] [--per-address N]
 *                    [--conn-memory BYTES]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fake_units.h"
#include "http.h"

static uv_signal_t sig_term, sig_int;
static uv_timer_t change;
static http_server *server;

static void on_change(uv_timer_t *t)
{
    (void)t;
    fake_units_advance();
}

/* The units, and the first time the clock of the state change. */
static int units_then_change(void *ctx, outbuf *out)
{
    static bool asked;
    if (!asked) {
        asked = true;
        uv_timer_start(&change, on_change, 1000, 0);
    }
    return fake_units_json(ctx, out);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    http_stop(server);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&change, NULL);
}

static unsigned number(const char *opt, const char *text)
{
    char *end;
    unsigned long v = strtoul(text ? text : "", &end, 10);
    if (!text || !*text || *end || v > 10000000) {
        fprintf(stderr, "http-test-server: %s wants a number\n", opt);
        exit(2);
    }
    return (unsigned)v;
}

static void parse_args(int argc, char **argv, http_config *cfg, unsigned *nunits)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--listen") == 0 && val)
            cfg->listen = val;
        else if (strcmp(opt, "--token") == 0 && val)
            cfg->token_file = val;
        else if (strcmp(opt, "--units") == 0)
            *nunits = number(opt, val);
        else if (strcmp(opt, "--deadline-ms") == 0)
            cfg->request_deadline_ms = number(opt, val);
        else if (strcmp(opt, "--idle-s") == 0)
            cfg->idle_timeout_s = number(opt, val);
        else if (strcmp(opt, "--max-conn") == 0)
            cfg->max_connections = number(opt, val);
        else if (strcmp(opt, "--conn-memory") == 0)
            cfg->connection_memory = number(opt, val);
        else if (strcmp(opt, "--per-address") == 0)
            cfg->max_per_address = number(opt, val);
        else {
            fprintf(stderr, "http-test-server: unknown or incomplete option %s\n", opt);
            exit(2);
        }
        i++;
    }
}

int main(int argc, char **argv)
{
    http_config cfg = {.listen = "127.0.0.1:0"};
    unsigned nunits = 0;
    parse_args(argc, argv, &cfg, &nunits);
    if (fake_units_init(nunits)) {
        fprintf(stderr, "http-test-server: out of memory\n");
        return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    http_provider provider = {NULL, units_then_change, fake_unit_json, fake_metrics};
    char err[256];
    if (http_start(loop, &cfg, &provider, &server, err, sizeof err)) {
        fprintf(stderr, "http-test-server: %s\n", err);
        return 1;
    }
    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_timer_init(loop, &change);
    printf("listening %u\n", (unsigned)http_port(server));
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    fake_units_free();
    return 0;
}
