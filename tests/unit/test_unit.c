/* The unit parser on INI text: every key type with good values, every error
 * path with its exact "FILE:LINE: [section] key: what" message, %i
 * expansion, command splitting, names, signals and equality. No file is
 * read: unit_parse() takes the text itself. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"

#include "unit.h"

/* Each test owns what it parses, freed by the teardown even when an
 * assertion fails, so the suite stays clean under LeakSanitizer. */
typedef struct fixture {
    unit_def u, u2;
    unit_errors errs;
    strv argv;
} fixture;

static int setup(void **state)
{
    return fixture_new(state, sizeof(fixture));
}

static int teardown(void **state)
{
    fixture *f = *state;
    unit_def_free(&f->u);
    unit_def_free(&f->u2);
    unit_errors_free(&f->errs);
    strv_free(&f->argv);
    free(f);
    return 0;
}

/* Parses text as unit "web" from "f.ini", dropping what an earlier parse
 * of the same test left. */
static int parse_as(fixture *f, unit_def *u, const char *text, unsigned instance)
{
    unit_def_free(u);
    unit_errors_free(&f->errs);
    return unit_parse("f.ini", "web", text, instance, u, &f->errs);
}

static int parse(fixture *f, const char *text)
{
    return parse_as(f, &f->u, text, 0);
}

static void show_errors(const fixture *f)
{
    for (size_t i = 0; i < f->errs.lines.n; i++)
        print_message("    got: %s\n", f->errs.lines.v[i]);
}

static bool has_error(const fixture *f, const char *want)
{
    for (size_t i = 0; i < f->errs.lines.n; i++)
        if (strcmp(f->errs.lines.v[i], want) == 0)
            return true;
    return false;
}

static void parse_ok(fixture *f, const char *text, unsigned instance)
{
    int r = parse_as(f, &f->u, text, instance);
    if (r != 0)
        show_errors(f);
    assert_int_equal(r, 0);
    assert_int_equal(f->errs.lines.n, 0);
}

static void expect_errors_(fixture *f, const char *text, const char *const *want, size_t n)
{
    int r = parse(f, text);
    bool same = r == -EINVAL && f->errs.lines.n == n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(f->errs.lines.v[i], want[i]) == 0;
    if (!same) {
        for (size_t i = 0; i < n; i++)
            print_message("   want: %s\n", want[i]);
        show_errors(f);
    }
    assert_int_equal(r, -EINVAL);
    assert_int_equal(f->errs.lines.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(f->errs.lines.v[i], want[i]);
}

/* The exact list of messages parsing text must give, in order. */
#define EXPECT_ERRORS(f, text, ...)                                          \
    do {                                                                     \
        static const char *const want_[] = {__VA_ARGS__};                    \
        expect_errors_((f), (text), want_, sizeof want_ / sizeof want_[0]);  \
    } while (0)

/* A valid unit is "[exec]" and a command; the key under test follows on
 * line 3 (its own section header) and line 4. */
#define GOOD "[exec]\ncommand = /bin/true\n"

/* ---- good values ---- */

static const char full_unit[] =
    "; a web server\n"                                      /*  1 */
    "[unit]\n"                                              /*  2 */
    "description = The web server\n"                        /*  3 */
    "requires = db cache\n"                                 /*  4 */
    "requires = auth,queue\n"                               /*  5 */
    "after = net\n"                                         /*  6 */
    "instances = 4\n"                                       /*  7 */
    "autostart = no\n"                                      /*  8 */
    "\n"                                                    /*  9 */
    "[exec]\n"                                              /* 10 */
    "command = /usr/bin/web --port 8080 \"--name=my web\"\n" /* 11 */
    "cwd = /srv/web\n"                                      /* 12 */
    "env = PORT=8080\n"                                     /* 13 */
    "env = MODE=prod=1\n"                                   /* 14 */
    "clear_env = yes\n"                                     /* 15 */
    "user = www\n"                                          /* 16 */
    "group = www-data\n"                                    /* 17 */
    "stdin = file:/dev/zero\n"                              /* 18 */
    "stdout = null\n"                                       /* 19 */
    "stderr = file:/var/log/web.err\n"                      /* 20 */
    "\n"                                                    /* 21 */
    "[limits]\n"                                            /* 22 */
    "memory = 64M\n"                                        /* 23 */
    "memory_swap = 128M\n"                                  /* 24 */
    "cpu = 150%\n"                                          /* 25 */
    "cpu_weight = 200\n"                                    /* 26 */
    "pids = 64\n"                                           /* 27 */
    "nofile = 1024\n"                                       /* 28 */
    "runtime_max = 5m\n"                                    /* 29 */
    "start_timeout = 10s\n"                                 /* 30 */
    "stop_timeout = 250ms\n"                                /* 31 */
    "stop_signal = SIGINT\n"                                /* 32 */
    "\n"                                                    /* 33 */
    "[restart]\n"                                           /* 34 */
    "policy = always\n"                                     /* 35 */
    "success_exit_codes = 0, 2 143\n"                       /* 36 */
    "delay = 250ms\n"                                       /* 37 */
    "delay_max = 1m\n"                                      /* 38 */
    "reset_after = 2m\n"                                    /* 39 */
    "burst = 7\n"                                           /* 40 */
    "interval = 30s\n"                                      /* 41 */
    "on_oom = stop\n"                                       /* 42 */
    "\n"                                                    /* 43 */
    "[log]\n"                                               /* 44 */
    "max_size = 1M\n"                                       /* 45 */
    "keep = 5\n";                                           /* 46 */

static void every_key(void **state)
{
    fixture *f = *state;
    parse_ok(f, full_unit, 0);
    const unit_def *u = &f->u;

    assert_string_equal(u->name, "web");
    assert_string_equal(u->file, "f.ini");
    assert_string_equal(u->source, full_unit);

    assert_string_equal(u->description, "The web server");
    assert_int_equal(u->requires.n, 4);
    assert_string_equal(u->requires.v[0], "db");
    assert_string_equal(u->requires.v[1], "cache");
    assert_string_equal(u->requires.v[2], "auth");
    assert_string_equal(u->requires.v[3], "queue");
    assert_null(u->requires.v[4]);
    assert_int_equal(u->requires_line, 5);
    assert_int_equal(u->after.n, 1);
    assert_string_equal(u->after.v[0], "net");
    assert_int_equal(u->after_line, 6);
    assert_int_equal(u->instances, 4);
    assert_false(u->autostart);

    assert_int_equal(u->argv.n, 4);
    assert_string_equal(u->argv.v[0], "/usr/bin/web");
    assert_string_equal(u->argv.v[1], "--port");
    assert_string_equal(u->argv.v[2], "8080");
    assert_string_equal(u->argv.v[3], "--name=my web");
    assert_null(u->argv.v[4]);
    assert_string_equal(u->cwd, "/srv/web");
    assert_int_equal(u->env.n, 2);
    assert_string_equal(u->env.v[0], "PORT=8080");
    assert_string_equal(u->env.v[1], "MODE=prod=1");
    assert_true(u->clear_env);
    assert_string_equal(u->user, "www");
    assert_string_equal(u->group, "www-data");
    assert_string_equal(u->stdin_path, "/dev/zero");
    assert_int_equal(u->out[0].kind, OUT_NULL);
    assert_null(u->out[0].path);
    assert_int_equal(u->out[1].kind, OUT_FILE);
    assert_string_equal(u->out[1].path, "/var/log/web.err");

    assert_int_equal(u->limits.memory, 64ull << 20);
    assert_int_equal(u->limits.memory_swap, 128ull << 20);
    assert_int_equal(u->limits.cpu_percent, 150);
    assert_int_equal(u->limits.cpu_weight, 200);
    assert_int_equal(u->limits.pids, 64);
    assert_int_equal(u->limits.nofile, 1024);
    assert_int_equal(u->runtime_max_ms, 5 * 60000);
    assert_int_equal(u->start_timeout_ms, 10000);
    assert_int_equal(u->stop_timeout_ms, 250);
    assert_int_equal(u->stop_signal, SIGINT);

    assert_int_equal(u->policy, RESTART_ALWAYS);
    assert_int_equal(u->nsuccess, 3);
    assert_int_equal(u->success_codes[0], 0);
    assert_int_equal(u->success_codes[1], 2);
    assert_int_equal(u->success_codes[2], 143);
    assert_int_equal(u->delay_ms, 250);
    assert_int_equal(u->delay_max_ms, 60000);
    assert_int_equal(u->reset_after_ms, 120000);
    assert_int_equal(u->burst, 7);
    assert_int_equal(u->interval_ms, 30000);
    assert_false(u->restart_on_oom);

    assert_int_equal(u->log_max_size, 1u << 20);
    assert_int_equal(u->log_keep, 5);
}

static void defaults(void **state)
{
    fixture *f = *state;
    parse_ok(f, GOOD, 0);
    const unit_def *u = &f->u;
    assert_null(u->description);
    assert_int_equal(u->requires.n, 0);
    assert_int_equal(u->after.n, 0);
    assert_int_equal(u->instances, 0);
    assert_true(u->autostart);
    assert_int_equal(u->argv.n, 1);
    assert_string_equal(u->argv.v[0], "/bin/true");
    assert_null(u->cwd);
    assert_int_equal(u->env.n, 0);
    assert_false(u->clear_env);
    assert_null(u->stdin_path);
    assert_int_equal(u->out[0].kind, OUT_LOG);
    assert_int_equal(u->out[1].kind, OUT_LOG);
    assert_int_equal(u->limits.memory, 0);
    assert_int_equal(u->limits.core, -1);
    assert_int_equal(u->stop_signal, SIGTERM);
    assert_int_equal(u->stop_timeout_ms, 10000);
    assert_int_equal(u->policy, RESTART_ON_FAILURE);
    assert_int_equal(u->nsuccess, 1);
    assert_int_equal(u->success_codes[0], 0);
    assert_int_equal(u->delay_ms, 100);
    assert_int_equal(u->delay_max_ms, 30000);
    assert_int_equal(u->burst, 5);
    assert_int_equal(u->interval_ms, 10000);
    assert_true(u->restart_on_oom);
    assert_int_equal(u->log_keep, 3);
}

static void other_good_values(void **state)
{
    fixture *f = *state;
    parse_ok(f,
             "[unit]\n"
             "autostart = TRUE\n"
             "[exec]\n"
             "command = /bin/true\n"
             "clear_env = off\n"
             "stdin = null\n"
             "stdout = inherit\n"
             "stderr = log\n"
             "[limits]\n"
             "memory_swap = 0\n"
             "cpu = 50\n"
             "runtime_max = 0\n"
             "stop_signal = 9\n"
             "[restart]\n"
             "policy = on-abnormal\n"
             "on_oom = restart\n"
             "delay = 0\n"
             "success_exit_codes = 255\n",
             0);
    const unit_def *u = &f->u;
    assert_true(u->autostart);
    assert_false(u->clear_env);
    assert_null(u->stdin_path);
    assert_int_equal(u->out[0].kind, OUT_INHERIT);
    assert_null(u->out[0].path);
    assert_int_equal(u->out[1].kind, OUT_LOG);
    assert_int_equal(u->limits.memory_swap, 0);
    assert_int_equal(u->limits.cpu_percent, 50);
    assert_int_equal(u->runtime_max_ms, 0);
    assert_int_equal(u->stop_signal, SIGKILL);
    assert_int_equal(u->policy, RESTART_ON_ABNORMAL);
    assert_true(u->restart_on_oom);
    assert_int_equal(u->delay_ms, 0);
    assert_int_equal(u->nsuccess, 1);
    assert_int_equal(u->success_codes[0], 255);
}

static void bools(void **state)
{
    fixture *f = *state;
    static const struct { const char *text; bool value; } cases[] = {
        {"yes", true},  {"true", true},   {"on", true},  {"1", true},  {"YES", true},
        {"no", false},  {"false", false}, {"off", false}, {"0", false}, {"No", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, GOOD "clear_env = %s\n", cases[i].text);
        parse_ok(f, text, 0);
        assert_int_equal(f->u.clear_env, cases[i].value);
    }
}

static void policies(void **state)
{
    fixture *f = *state;
    for (int p = RESTART_NO; p <= RESTART_ALWAYS; p++) {
        char text[128];
        snprintf(text, sizeof text, GOOD "[restart]\npolicy = %s\n",
                 restart_policy_name((restart_policy)p));
        parse_ok(f, text, 0);
        assert_int_equal(f->u.policy, p);
    }
    assert_string_equal(restart_policy_name(RESTART_ON_FAILURE), "on-failure");
    assert_string_equal(restart_policy_name((restart_policy)42), "?");
}

/* Comments and blank lines count as lines; CRLF ends are accepted. */
static void comments_and_crlf(void **state)
{
    fixture *f = *state;
    parse_ok(f, "[exec]\r\ncommand = /bin/true\r\n[limits]\r\nmemory = 64M\r\n", 0);
    assert_int_equal(f->u.limits.memory, 64ull << 20);
    assert_string_equal(f->u.argv.v[0], "/bin/true");

    EXPECT_ERRORS(f,
                  "# first\n"
                  "; second\n"
                  "\n"
                  "[exec]\n"
                  "command = /bin/true   ; inline\n"
                  "colour = red\n",
                  "f.ini:6: [exec] colour: unknown key");
    assert_int_equal(f->u.argv.n, 1);
}

/* ---- one error of each kind, with its exact message ---- */

static void unknown_key(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "colour = red\n", "f.ini:3: [exec] colour: unknown key");
    EXPECT_ERRORS(f, GOOD "[limits]\ncommand = x\n", "f.ini:4: [limits] command: unknown key");
}

static void key_outside_section(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, "user = www\n" GOOD, "f.ini:1: [] user: key outside of any section");
}

static void unknown_section(void **state)
{
    fixture *f = *state;
    /* Reported once, at its header, whatever it holds. */
    EXPECT_ERRORS(f, GOOD "[sandboxx]\nnet = none\nfs = ro\n",
                  "f.ini:3: unknown section [sandboxx]");
}

static void unknown_empty_section(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "[Exec]\n", "f.ini:3: unknown section [Exec]");
}

static void bad_sizes(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "[limits]\nmemory = 64Q\n",
                  "f.ini:4: [limits] memory: size '64Q': unknown unit 'Q'");
    EXPECT_ERRORS(f, GOOD "[limits]\nmemory = lots\n",
                  "f.ini:4: [limits] memory: size 'lots' is not a number with a unit (512K, 64M, 2G)");
    EXPECT_ERRORS(f, GOOD "[limits]\nmemory = 0\n",
                  "f.ini:4: [limits] memory: size '0' must be more than 0");
    EXPECT_ERRORS(f, GOOD "[limits]\nmemory_swap = -1\n",
                  "f.ini:4: [limits] memory_swap: size '-1' is not a number with a unit (512K, 64M, 2G)");
    EXPECT_ERRORS(f, GOOD "[log]\nmax_size = 1X\n",
                  "f.ini:4: [log] max_size: size '1X': unknown unit 'X'");
}

static void bad_durations(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "[limits]\nruntime_max = soon\n",
                  "f.ini:4: [limits] runtime_max: duration 'soon' is not a number with a unit (500ms, 10s, 2m)");
    EXPECT_ERRORS(f, GOOD "[limits]\nstop_timeout = 5w\n",
                  "f.ini:4: [limits] stop_timeout: duration '5w': unknown unit 'w'");
    EXPECT_ERRORS(f, GOOD "[restart]\ninterval = 0s\n",
                  "f.ini:4: [restart] interval: duration '0s' must be at least 1ms");
}

static void bad_percents(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "[limits]\ncpu = half\n",
                  "f.ini:4: [limits] cpu: CPU 'half' is not a percentage of one core (50%, 250%)");
    EXPECT_ERRORS(f, GOOD "[limits]\ncpu = 0%\n",
                  "f.ini:4: [limits] cpu: CPU '0%' must be between 1% and 102400%");
}

static void bad_counts(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "[limits]\npids = many\n",
                  "f.ini:4: [limits] pids: 'many' is not a whole number");
    EXPECT_ERRORS(f, GOOD "[limits]\ncpu_weight = 10001\n",
                  "f.ini:4: [limits] cpu_weight: '10001' must be between 1 and 10000");
    EXPECT_ERRORS(f, GOOD "[restart]\nburst = 0\n",
                  "f.ini:4: [restart] burst: '0' must be between 1 and 1000");
    EXPECT_ERRORS(f, GOOD "[log]\nkeep = 101\n",
                  "f.ini:4: [log] keep: '101' must be between 1 and 100");
    EXPECT_ERRORS(f, "[unit]\ninstances = 0\n" GOOD,
                  "f.ini:2: [unit] instances: '0' must be between 1 and 100000");
    EXPECT_ERRORS(f, GOOD "[limits]\nnofile = -1\n",
                  "f.ini:4: [limits] nofile: '-1' is not a whole number");
}

static void bad_bool(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, "[unit]\nautostart = maybe\n" GOOD,
                  "f.ini:2: [unit] autostart: expected yes or no");
    EXPECT_ERRORS(f, GOOD "clear_env = 2\n", "f.ini:3: [exec] clear_env: expected yes or no");
}

static void bad_signal(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "[limits]\nstop_signal = SIGFOO\n",
                  "f.ini:4: [limits] stop_signal: not a signal name or number");
    EXPECT_ERRORS(f, GOOD "[limits]\nstop_signal = 0\n",
                  "f.ini:4: [limits] stop_signal: not a signal name or number");
}

/* ---- readiness, health, critical ---- */

static void ready_keys(void **state)
{
    fixture *f = *state;
    parse_ok(f, GOOD, 0);
    assert_int_equal(f->u.ready.kind, READY_EXEC);
    assert_int_equal(f->u.ready.timeout_ms, 30000);
    assert_int_equal(f->u.health.interval_ms, 30000);
    assert_int_equal(f->u.health.timeout_ms, 5000);
    assert_int_equal(f->u.health.retries, 3);
    assert_int_equal(f->u.health.on_unhealthy, UNHEALTHY_RESTART);
    assert_false(f->u.critical);
#ifdef _WIN32
    EXPECT_ERRORS(f, GOOD "ready = notify\n", "f.ini:3: [exec] ready: notify is not supported on "
                  "Windows (use exec, port:, file: or command:)");
    EXPECT_ERRORS(f, GOOD "ready = fd:3\n", "f.ini:3: [exec] ready: fd:N is not supported on "
                  "Windows (use exec, port:, file: or command:)");
#else
    parse_ok(f, GOOD "ready = notify\nready_timeout = 10s\nwatchdog = 2s\n"
                "[unit]\ncritical = yes\n", 0);
    assert_int_equal(f->u.ready.kind, READY_NOTIFY);
    assert_int_equal(f->u.ready.timeout_ms, 10000);
    assert_int_equal(f->u.ready.watchdog_ms, 2000);
    assert_true(f->u.critical);
    parse_ok(f, GOOD "ready = fd:3\n", 0);
    assert_int_equal(f->u.ready.kind, READY_FD);
    assert_int_equal(f->u.ready.fd, 3);
#endif
    parse_ok(f, GOOD "ready = port:8080\n", 0);
    assert_int_equal(f->u.ready.port, 8080);
    parse_ok(f, GOOD "ready = file:/run/app.pid\n", 0);
    assert_string_equal(f->u.ready.path, "/run/app.pid");
    parse_ok(f, GOOD "ready = command:pg_isready -h '127.0.0.1'\n", 0);
    assert_int_equal(f->u.ready.kind, READY_COMMAND);
    assert_int_equal(f->u.ready.argv.n, 3);
    assert_string_equal(f->u.ready.argv.v[2], "127.0.0.1");
    parse_ok(f, GOOD "[health]\ncommand = curl -fsS http://127.0.0.1/\ninterval = 10s\n"
                "timeout = 1s\nretries = 5\nstart_period = 20s\non_unhealthy = report\n", 0);
    assert_int_equal(f->u.health.argv.n, 3);
    assert_int_equal(f->u.health.interval_ms, 10000);
    assert_int_equal(f->u.health.timeout_ms, 1000);
    assert_int_equal(f->u.health.retries, 5);
    assert_int_equal(f->u.health.start_period_ms, 20000);
    assert_int_equal(f->u.health.on_unhealthy, UNHEALTHY_REPORT);
}

static void bad_ready_keys(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "ready = socket\n", "f.ini:3: [exec] ready: " "expected exec, notify, "
                  "fd:N, port:N, file:/PATH or command:CMD");
    EXPECT_ERRORS(f, GOOD "ready = fd:2\n",
                  "f.ini:3: [exec] ready: fd:N needs a descriptor number from 3 to 1023");
    EXPECT_ERRORS(f, GOOD "ready = fd:x\n",
                  "f.ini:3: [exec] ready: fd:N needs a descriptor number from 3 to 1023");
    EXPECT_ERRORS(f, GOOD "ready = port:70000\n",
                  "f.ini:3: [exec] ready: port:N needs a TCP port from 1 to 65535");
    EXPECT_ERRORS(f, GOOD "ready = file:relative\n",
                  "f.ini:3: [exec] ready: file: needs an absolute path");
    EXPECT_ERRORS(f, GOOD "ready = command:\n", "f.ini:3: [exec] ready: empty command");
    EXPECT_ERRORS(f, GOOD "watchdog = 1s\n",
                  "f.ini:3: [exec] watchdog: needs ready = notify (WATCHDOG=1 comes on its socket)");
    EXPECT_ERRORS(f, GOOD "ready = port:80\n[sandbox]\nnetwork = no\n",
                  "f.ini:3: [exec] ready: port: cannot be reached in a unit with network = no");
    EXPECT_ERRORS(f, GOOD "[health]\ncommand = true\ninterval = 0\n",
                  "f.ini:5: [health] interval: must be more than 0");
    EXPECT_ERRORS(f, GOOD "[health]\nretries = 0\n",
                  "f.ini:4: [health] retries: '0' must be between 1 and 1000");
    EXPECT_ERRORS(f, GOOD "[health]\non_unhealthy = panic\n",
                  "f.ini:4: [health] on_unhealthy: expected restart, stop or report");
    EXPECT_ERRORS(f, GOOD "[health]\ninterval = soon\n",
                  "f.ini:4: [health] interval: duration 'soon' is not a number with a unit (500ms, 10s, 2m)");
}

static void bad_policy(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "[restart]\npolicy = sometimes\n",
                  "f.ini:4: [restart] policy: expected no, on-failure, on-abnormal or always");
    EXPECT_ERRORS(f, GOOD "[restart]\npolicy = On-Failure\n",
                  "f.ini:4: [restart] policy: expected no, on-failure, on-abnormal or always");
}

static void bad_on_oom(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "[restart]\non_oom = ignore\n",
                  "f.ini:4: [restart] on_oom: expected restart or stop");
}

static void bad_output(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "stdout = file:relative.log\n",
                  "f.ini:3: [exec] stdout: expected log, null, inherit or file:/ABSOLUTE/PATH");
    EXPECT_ERRORS(f, GOOD "stderr = syslog\n",
                  "f.ini:3: [exec] stderr: expected log, null, inherit or file:/ABSOLUTE/PATH");
}

static void bad_stdin(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "stdin = log\n",
                  "f.ini:3: [exec] stdin: expected null or file:/ABSOLUTE/PATH");
    EXPECT_ERRORS(f, GOOD "stdin = file:in.txt\n",
                  "f.ini:3: [exec] stdin: expected null or file:/ABSOLUTE/PATH");
}

static void bad_env(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "env = PORT\n", "f.ini:3: [exec] env: expected NAME=VALUE");
    EXPECT_ERRORS(f, GOOD "env = =8080\n", "f.ini:3: [exec] env: expected NAME=VALUE");
}

static void bad_codes(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "[restart]\nsuccess_exit_codes = 0 256\n",
                  "f.ini:4: [restart] success_exit_codes: expected exit codes 0..255");
    EXPECT_ERRORS(f, GOOD "[restart]\nsuccess_exit_codes = -1\n",
                  "f.ini:4: [restart] success_exit_codes: expected exit codes 0..255");
    EXPECT_ERRORS(f, GOOD "[restart]\nsuccess_exit_codes = 0 ok\n",
                  "f.ini:4: [restart] success_exit_codes: expected exit codes 0..255");
    EXPECT_ERRORS(f, GOOD "[restart]\nsuccess_exit_codes = 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
                  "f.ini:4: [restart] success_exit_codes: at most 16 codes");
    parse_ok(f, GOOD "[restart]\nsuccess_exit_codes = 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n", 0);
    assert_int_equal(f->u.nsuccess, 16);
    assert_int_equal(f->u.success_codes[15], 15);
}

static void bad_names(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, "[unit]\nrequires = db ../etc\n" GOOD,
                  "f.ini:2: [unit] requires: not a valid unit name");
    EXPECT_ERRORS(f, "[unit]\nafter = a/b\n" GOOD, "f.ini:2: [unit] after: not a valid unit name");
}

static void duplicate_key(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "cwd = /a\ncwd = /b\n", "f.ini:4: [exec] cwd: given twice (it is not repeatable)");
    /* The first value stays. */
    assert_string_equal(f->u.cwd, "/a");
    EXPECT_ERRORS(f, GOOD "[limits]\nmemory = 1M\n[restart]\ndelay = 1s\n[limits]\nmemory = 2M\n",
                  "f.ini:8: [limits] memory: given twice (it is not repeatable)");
    EXPECT_ERRORS(f, GOOD "command = /bin/false\n",
                  "f.ini:3: [exec] command: given twice (it is not repeatable)");

    /* env, requires and after may repeat. */
    parse_ok(f,
             "[unit]\nrequires = a\nafter = x\nrequires = b\nafter = y\n"
             "[exec]\ncommand = /bin/true\nenv = A=1\nenv = B=2\nenv = A=3\n",
             0);
    assert_int_equal(f->u.requires.n, 2);
    assert_int_equal(f->u.after.n, 2);
    assert_int_equal(f->u.requires_line, 4);
    assert_int_equal(f->u.after_line, 5);
    assert_int_equal(f->u.env.n, 3);
    assert_string_equal(f->u.env.v[2], "A=3");
}

static void unterminated_quote(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, "[exec]\ncommand = /bin/echo \"hello\n",
                  "f.ini:2: [exec] command: unterminated quote");
    EXPECT_ERRORS(f, "[exec]\ncommand = 'it\n",
                  "f.ini:2: [exec] command: unterminated quote",
                  "f.ini: [exec] command: missing (every unit needs a command)");
}

static void missing_command(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, "[exec]\ncwd = /\n", "f.ini: [exec] command: missing (every unit needs a command)");
    EXPECT_ERRORS(f, "", "f.ini: [exec] command: missing (every unit needs a command)");
    EXPECT_ERRORS(f, "[exec]\ncommand =\n",
                  "f.ini:2: [exec] command: empty command",
                  "f.ini: [exec] command: missing (every unit needs a command)");
}

static void delay_max_below_delay(void **state)
{
    fixture *f = *state;
    int r = parse(f, GOOD "[restart]\ndelay = 10s\ndelay_max = 5s\n");
    assert_int_equal(r, -EINVAL);
    assert_int_equal(f->errs.lines.n, 1);
    assert_non_null(strstr(f->errs.lines.v[0], "[restart] delay_max: smaller than delay"));
    /* A delay above the default delay_max (30s) is refused too. */
    r = parse(f, GOOD "[restart]\ndelay = 1m\n");
    assert_int_equal(r, -EINVAL);
    assert_int_equal(f->errs.lines.n, 1);
    assert_non_null(strstr(f->errs.lines.v[0], "[restart] delay: larger than delay_max"));
    parse_ok(f, GOOD "[restart]\ndelay = 5s\ndelay_max = 5s\n", 0);
}

/* The issue's contract is FILE:LINE for every problem: the line of the
 * delay_max key is known here. */
static void delay_max_below_delay_names_line(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "[restart]\ndelay = 10s\ndelay_max = 5s\n",
                  "f.ini:5: [restart] delay_max: smaller than delay");
}

static void syntax_error(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "this is not ini\n",
                  "f.ini:3: syntax error (expected [section] or key = value)");
    /* A broken header: its keys stay in the section before, where they
     * are unknown. Both are reported (in any order). */
    assert_int_equal(parse(f, GOOD "[limits\nmemory = 1M\n"), -EINVAL);
    if (f->errs.lines.n != 2)
        show_errors(f);
    assert_int_equal(f->errs.lines.n, 2);
    assert_true(has_error(f, "f.ini:3: syntax error: section header without ']'"));
    assert_true(has_error(f, "f.ini:4: [exec] memory: unknown key"));
}

/* Every problem is reported, syntax errors included. */
static void two_syntax_errors(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "bad one\nbad two\n",
                  "f.ini:3: syntax error (expected [section] or key = value)",
                  "f.ini:4: syntax error (expected [section] or key = value)");
}

static void long_line(void **state)
{
    fixture *f = *state;
    /* Under inih's buffer (200 bytes in Debian's build): whole. */
    char value[151], text[2200];
    memset(value, 'x', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    snprintf(text, sizeof text, GOOD "cwd = /%s\n", value);
    parse_ok(f, text, 0);
    assert_int_equal(strlen(f->u.cwd), 151);

    /* Over it: refused with its line, not cut. */
    char big[2001];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(text, sizeof text, "[exec]\ncolour = red\ncommand = /bin/true\ncwd = /%s\n", big);
    int r = parse(f, text);
    if (f->errs.lines.n != 2)
        show_errors(f);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(f->errs.lines.n, 2);
    assert_string_equal(f->errs.lines.v[0], "f.ini:2: [exec] colour: unknown key");
    const char *prefix = "f.ini:4: line longer than ";
    assert_int_equal(strncmp(f->errs.lines.v[1], prefix, strlen(prefix)), 0);
    assert_non_null(strstr(f->errs.lines.v[1], " bytes"));
    assert_null(f->u.cwd);

    /* Just over: 250 bytes, which inih would have cut at 199. */
    char mid[244];
    memset(mid, 'z', sizeof mid - 1);
    mid[sizeof mid - 1] = '\0';
    snprintf(text, sizeof text, GOOD "cwd = /%s\n", mid);
    r = parse(f, text);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(f->errs.lines.n, 1);
    prefix = "f.ini:3: line longer than ";
    assert_int_equal(strncmp(f->errs.lines.v[0], prefix, strlen(prefix)), 0);
}

static void several_errors(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f,
                  "[unit]\n"               /* 1 */
                  "autostart = perhaps\n"  /* 2 */
                  "[exec]\n"               /* 3 */
                  "colour = red\n"         /* 4 */
                  "env = NOEQUALS\n"       /* 5 */
                  "[limits]\n"             /* 6 */
                  "memory = lots\n"        /* 7 */
                  "memory = 1M\n"          /* 8 */
                  "[restart]\n"            /* 9 */
                  "policy = never\n"       /* 10 */
                  "delay = 1m\n",          /* 11 */
                  "f.ini:2: [unit] autostart: expected yes or no",
                  "f.ini:4: [exec] colour: unknown key",
                  "f.ini:5: [exec] env: expected NAME=VALUE",
                  "f.ini:7: [limits] memory: size 'lots' is not a number with a unit (512K, 64M, 2G)",
                  "f.ini:8: [limits] memory: given twice (it is not repeatable)",
                  "f.ini:10: [restart] policy: expected no, on-failure, on-abnormal or always",
                  "f.ini: [exec] command: missing (every unit needs a command)",
                  "f.ini:11: [restart] delay: larger than delay_max");
}

/* The errors of a second unit are appended to the same list. */
static void errors_accumulate(void **state)
{
    fixture *f = *state;
    unit_errors_free(&f->errs);
    assert_int_equal(unit_parse("a.ini", "a", GOOD "colour = 1\n", 0, &f->u, &f->errs), -EINVAL);
    assert_int_equal(unit_parse("b.ini", "b", GOOD, 0, &f->u2, &f->errs), 0);
    unit_def_free(&f->u);
    assert_int_equal(unit_parse("c.ini", "c", GOOD "shape = 2\n", 0, &f->u, &f->errs), -EINVAL);
    assert_int_equal(f->errs.lines.n, 2);
    assert_string_equal(f->errs.lines.v[0], "a.ini:3: [exec] colour: unknown key");
    assert_string_equal(f->errs.lines.v[1], "c.ini:3: [exec] shape: unknown key");
}

/* INI files commonly indent the keys of a section. */
static void indented_keys(void **state)
{
    fixture *f = *state;
    parse_ok(f, "[exec]\n    command = /bin/true\n    cwd = /tmp\n[limits]\n    memory = 1M\n", 0);
    assert_int_equal(f->u.argv.n, 1);
    assert_string_equal(f->u.cwd, "/tmp");
    assert_int_equal(f->u.limits.memory, 1u << 20);
}

/* The same for a repeatable key: the indented line must not be taken as a
 * continuation and added to env as "env = B=2". */
static void indented_repeatable_key(void **state)
{
    fixture *f = *state;
    parse_ok(f, GOOD "env = A=1\n    env = B=2\n", 0);
    assert_int_equal(f->u.env.n, 2);
    assert_string_equal(f->u.env.v[0], "A=1");
    assert_string_equal(f->u.env.v[1], "B=2");
}

/* Quotes are honoured in a command: a " ; " inside them is an argument,
 * not an inline comment. */
/* inih takes " ;" as the start of a comment, even inside quotes: a
 * semicolon in a command is written "\;" (documented in the README). */
static void command_semicolon_in_quotes(void **state)
{
    fixture *f = *state;
    parse_ok(f, "[exec]\ncommand = sh -c \"echo a \\; echo b\"\n", 0);
    assert_int_equal(f->u.argv.n, 3);
    assert_string_equal(f->u.argv.v[2], "echo a ; echo b");
}

/* ---- %i ---- */

static void instance_expansion(void **state)
{
    fixture *f = *state;
    static const char text[] =
        "[unit]\n"
        "description = worker %i\n"
        "[exec]\n"
        "command = /srv/worker --port 80%i --id=%i \"%i %i\"\n"
        "cwd = /srv/%i\n"
        "env = ID=%i\n"
        "[limits]\n"
        "memory = %iM\n"
        "pids = 1%i\n"
        "[restart]\n"
        "delay = %is\n";
    parse_ok(f, text, 12);
    const unit_def *u = &f->u;
    assert_string_equal(u->description, "worker 12");
    assert_int_equal(u->argv.n, 5);
    assert_string_equal(u->argv.v[2], "8012");
    assert_string_equal(u->argv.v[3], "--id=12");
    assert_string_equal(u->argv.v[4], "12 12");
    assert_string_equal(u->cwd, "/srv/12");
    assert_string_equal(u->env.v[0], "ID=12");
    assert_int_equal(u->limits.memory, 12ull << 20);
    assert_int_equal(u->limits.pids, 112);
    assert_int_equal(u->delay_ms, 12000);
    assert_non_null(strstr(u->source, "--port 8012 --id=12"));
    assert_null(strstr(u->source, "%i"));

    parse_ok(f, text, 3);
    assert_string_equal(f->u.argv.v[2], "803");
    assert_int_equal(f->u.limits.memory, 3ull << 20);
    assert_int_equal(f->u.limits.pids, 13);

    /* Instance 0: no expansion, %i stays as written. */
    EXPECT_ERRORS(f, "[exec]\ncommand = /bin/echo %i\n[limits]\nmemory = %iM\n",
                  "f.ini:4: [limits] memory: size '%iM' is not a number with a unit (512K, 64M, 2G)");
    assert_string_equal(f->u.argv.v[1], "%i");
}

/* ---- command splitting ---- */

static void split_ok(fixture *f, const char *line, size_t n, ...)
{
    strv_free(&f->argv);
    const char *why = NULL;
    int r = unit_split_command(line, &f->argv, &why);
    if (r != 0)
        print_message("    split '%s': %s\n", line, why ? why : "?");
    assert_int_equal(r, 0);
    assert_int_equal(f->argv.n, n);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(f->argv.v[i], va_arg(ap, const char *));
    va_end(ap);
    assert_null(f->argv.v[n]);
}

static void split_bad(fixture *f, const char *line, const char *want_why)
{
    strv_free(&f->argv);
    const char *why = NULL;
    assert_int_equal(unit_split_command(line, &f->argv, &why), -EINVAL);
    assert_non_null(why);
    assert_string_equal(why, want_why);
}

static void split_command(void **state)
{
    fixture *f = *state;
    split_ok(f, "/bin/true", 1, "/bin/true");
    split_ok(f, "  a\t b   c  ", 3, "a", "b", "c");
    split_ok(f, "echo \"a b\" 'c  d'", 3, "echo", "a b", "c  d");
    split_ok(f, "x\"y z\"w", 1, "xy zw");
    split_ok(f, "a \"\" ''", 3, "a", "", "");
    split_ok(f, "a\\ b c", 2, "a b", "c");
    split_ok(f, "\"a\\\"b\" \"c\\\\d\"", 2, "a\"b", "c\\d");
    split_ok(f, "'a\\b' '\\'", 2, "a\\b", "\\");
    split_ok(f, "\"it's\" 'say \"hi\"'", 2, "it's", "say \"hi\"");
    split_ok(f, "\\'x\\'", 1, "'x'");
    split_ok(f, "end\\", 1, "end\\");
    split_ok(f, "sh -c 'echo $HOME; exit 3'", 3, "sh", "-c", "echo $HOME; exit 3");
    split_bad(f, "echo \"open", "unterminated quote");
    split_bad(f, "echo 'open", "unterminated quote");
    split_bad(f, "echo \"a\\\"", "unterminated quote");
    split_bad(f, "", "empty command");
    split_bad(f, "  \t ", "empty command");
}

/* ---- names, signals, equality ---- */

static void name_valid(void **state)
{
    (void)state;
    assert_true(unit_name_valid("web"));
    assert_true(unit_name_valid("Web_2.api-v1"));
    assert_true(unit_name_valid("worker@12"));
    assert_true(unit_name_valid("a"));
    char name[UNIT_NAME_MAX + 1];
    memset(name, 'n', UNIT_NAME_MAX - 1);
    name[UNIT_NAME_MAX - 1] = '\0';
    assert_true(unit_name_valid(name));
    name[UNIT_NAME_MAX - 1] = 'n';
    name[UNIT_NAME_MAX] = '\0';
    assert_false(unit_name_valid(name));
    assert_false(unit_name_valid(""));
    assert_false(unit_name_valid(".hidden"));
    assert_false(unit_name_valid(".."));
    assert_false(unit_name_valid("-x"));
    assert_false(unit_name_valid("a/b"));
    assert_false(unit_name_valid("a b"));
    assert_false(unit_name_valid("a:b"));
    assert_false(unit_name_valid("caf\xc3\xa9"));
}

/* unit.h: "[A-Za-z0-9_.-]+ (and @N for instances)": '@' only before a
 * number at the end. */
static void name_at_only_for_instances(void **state)
{
    (void)state;
    assert_true(unit_name_valid("worker@1"));
    assert_false(unit_name_valid("@"));
    assert_false(unit_name_valid("@1"));
    assert_false(unit_name_valid("worker@"));
    assert_false(unit_name_valid("worker@x"));
    assert_false(unit_name_valid("a@1@2"));
}

static void def_equal(void **state)
{
    fixture *f = *state;
    static const char a[] = GOOD "[limits]\nmemory = 64M\n";
    static const char b[] = GOOD "[limits]\nmemory = 65M\n";
    assert_int_equal(parse_as(f, &f->u, a, 0), 0);
    assert_int_equal(parse_as(f, &f->u2, a, 0), 0);
    assert_true(unit_def_equal(&f->u, &f->u2));
    assert_true(unit_def_equal(&f->u2, &f->u));
    assert_true(unit_def_equal(&f->u, &f->u));

    assert_int_equal(parse_as(f, &f->u2, b, 0), 0);
    assert_false(unit_def_equal(&f->u, &f->u2));

    /* Same text, another unit. */
    unit_def_free(&f->u2);
    assert_int_equal(unit_parse("f.ini", "api", a, 0, &f->u2, &f->errs), 0);
    assert_false(unit_def_equal(&f->u, &f->u2));

    /* %i expanded: instances differ; same instance, same unit. */
    static const char c[] = "[exec]\ncommand = /bin/sleep %i\n";
    assert_int_equal(parse_as(f, &f->u, c, 1), 0);
    assert_int_equal(parse_as(f, &f->u2, c, 2), 0);
    assert_false(unit_def_equal(&f->u, &f->u2));
    assert_int_equal(parse_as(f, &f->u2, c, 1), 0);
    assert_true(unit_def_equal(&f->u, &f->u2));
}

static void sandbox_keys(void **state)
{
    fixture *f = *state;
    parse_ok(f, GOOD "[sandbox]\nreadonly = /srv/data\nallow = /tmp/box\nallow = /var/tmp\n"
             "network = no\nprivate_tmp = yes\npid_namespace = yes\nuser = nobody\n"
             "no_new_privileges = no\nseccomp = default\nhostname = box1\n", 0);
    const unit_def *u = &f->u;
    assert_int_equal(u->readonly.n, 1);
    assert_string_equal(u->readonly.v[0], "/srv/data");
    assert_int_equal(u->allow.n, 2);
    assert_string_equal(u->allow.v[1], "/var/tmp");
    assert_true(u->no_net);
    assert_true(u->private_tmp);
    assert_int_equal(u->pid_ns, SBX_PID_NS_PROGRAM);
    assert_false(u->no_new_privs);
    assert_string_equal(u->seccomp, "default");
    assert_string_equal(u->hostname, "box1");
    sbx_isolation iso;
    unit_isolation(u, &iso);
    assert_int_equal(iso.pid_ns, SBX_PID_NS_PROGRAM);
    assert_int_equal(iso.seccomp, SBX_SECCOMP_DEFAULT);

    static const struct { const char *text; sbx_pid_ns value; } pidns[] = {
        {"init", SBX_PID_NS_INIT}, {"no", SBX_PID_NS_NONE}, {"on", SBX_PID_NS_PROGRAM},
    };
    for (size_t i = 0; i < sizeof pidns / sizeof pidns[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, GOOD "[sandbox]\npid_namespace = %s\n", pidns[i].text);
        parse_ok(f, text, 0);
        assert_int_equal(f->u.pid_ns, pidns[i].value);
    }
    /* Contained by default: sbx's init as PID 1 (Windows: none, the job is
     * the box); privileged: none, unless asked. */
    parse_ok(f, GOOD, 0);
#ifdef _WIN32
    assert_int_equal(f->u.pid_ns, SBX_PID_NS_NONE);
#else
    assert_int_equal(f->u.pid_ns, SBX_PID_NS_INIT);
#endif
    parse_ok(f, GOOD "[sandbox]\nprivileged = yes\n", 0);
    assert_int_equal(f->u.pid_ns, SBX_PID_NS_NONE);
    parse_ok(f, GOOD "[sandbox]\nprivileged = yes\npid_namespace = init\n", 0);
    assert_int_equal(f->u.pid_ns, SBX_PID_NS_INIT);
}

static void bad_sandbox(void **state)
{
    fixture *f = *state;
    EXPECT_ERRORS(f, GOOD "[sandbox]\npid_namespace = program\n",
                  "f.ini:4: [sandbox] pid_namespace: expected yes, no or init");
    EXPECT_ERRORS(f, GOOD "[sandbox]\nseccomp = strict\n",
                  "f.ini:4: [sandbox] seccomp: expected default, none or an absolute profile path");
    EXPECT_ERRORS(f, GOOD "[sandbox]\nnetwork = maybe\n",
                  "f.ini:4: [sandbox] network: expected yes or no");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(every_key),
        T(defaults),
        T(other_good_values),
        T(bools),
        T(policies),
        T(comments_and_crlf),
        T(unknown_key),
        T(key_outside_section),
        T(unknown_section),
        T(unknown_empty_section),
        T(bad_sizes),
        T(bad_durations),
        T(bad_percents),
        T(bad_counts),
        T(bad_bool),
        T(bad_signal),
        T(bad_policy),
        T(ready_keys),
        T(bad_ready_keys),
        T(bad_on_oom),
        T(bad_output),
        T(bad_stdin),
        T(bad_env),
        T(bad_codes),
        T(bad_names),
        T(duplicate_key),
        T(unterminated_quote),
        T(missing_command),
        T(delay_max_below_delay),
        T(delay_max_below_delay_names_line),
        T(syntax_error),
        T(two_syntax_errors),
        T(long_line),
        T(several_errors),
        T(errors_accumulate),
        T(indented_keys),
        T(indented_repeatable_key),
        T(command_semicolon_in_quotes),
        T(instance_expansion),
        T(split_command),
        T(name_valid),
        T(name_at_only_for_instances),
        T(def_equal),
        T(sandbox_keys),
        T(bad_sandbox),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
