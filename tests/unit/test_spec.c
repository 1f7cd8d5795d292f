/* Parsers of limit text: sizes, durations, percentages, counts. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sbx.h"

static void sizes(void **state)
{
    (void)state;
    uint64_t v;
    sbx_error e = {0};
    assert_int_equal(sbx_parse_size("512K", &v, &e), 0);
    assert_int_equal(v, 512 * 1024);
    assert_int_equal(sbx_parse_size("64M", &v, &e), 0);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(sbx_parse_size("2G", &v, &e), 0);
    assert_int_equal(v, 2ull << 30);
    assert_int_equal(sbx_parse_size("1.5g", &v, &e), 0);
    assert_int_equal(v, 3ull << 29);
    assert_int_equal(sbx_parse_size("4096", &v, &e), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(sbx_parse_size("10MiB", &v, &e), 0);
    assert_int_equal(v, 10ull << 20);
}

static void bad_sizes(void **state)
{
    (void)state;
    uint64_t v = 7;
    sbx_error e = {0};
    assert_int_equal(sbx_parse_size("12Q", &v, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "unknown unit 'Q'"));
    assert_int_equal(sbx_parse_size("", &v, &e), -EINVAL);
    assert_int_equal(sbx_parse_size("-5M", &v, &e), -EINVAL);
    assert_int_equal(sbx_parse_size("M", &v, &e), -EINVAL);
    assert_int_equal(sbx_parse_size("0", &v, &e), -EINVAL);
    assert_int_equal(sbx_parse_size("1.M", &v, &e), -EINVAL);
    assert_int_equal(sbx_parse_size("99999999999999T", &v, &e), -ERANGE);
    assert_int_equal(sbx_parse_size("99999999999999999999999", &v, &e), -EINVAL);
    assert_int_equal(v, 7);
}

static void durations(void **state)
{
    (void)state;
    uint64_t ms;
    sbx_error e = {0};
    assert_int_equal(sbx_parse_duration("500ms", &ms, &e), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(sbx_parse_duration("10s", &ms, &e), 0);
    assert_int_equal(ms, 10000);
    assert_int_equal(sbx_parse_duration("2m", &ms, &e), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(sbx_parse_duration("1.5s", &ms, &e), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(sbx_parse_duration("3", &ms, &e), 0);
    assert_int_equal(ms, 3000);
    assert_int_equal(sbx_parse_duration("1h", &ms, &e), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(sbx_parse_duration("forever", &ms, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "forever"));
    assert_int_equal(sbx_parse_duration("10x", &ms, &e), -EINVAL);
    assert_int_equal(sbx_parse_duration("0s", &ms, &e), -EINVAL);
    assert_int_equal(sbx_parse_duration("0.1ms", &ms, &e), -EINVAL);
}

static void percents(void **state)
{
    (void)state;
    uint32_t p;
    sbx_error e = {0};
    assert_int_equal(sbx_parse_percent("50%", &p, &e), 0);
    assert_int_equal(p, 50);
    assert_int_equal(sbx_parse_percent("250%", &p, &e), 0);
    assert_int_equal(p, 250);
    assert_int_equal(sbx_parse_percent("150", &p, &e), 0);
    assert_int_equal(p, 150);
    assert_int_equal(sbx_parse_percent("-5%", &p, &e), -EINVAL);
    assert_int_equal(sbx_parse_percent("0%", &p, &e), -ERANGE);
    assert_int_equal(sbx_parse_percent("200000%", &p, &e), -ERANGE);
    assert_int_equal(sbx_parse_percent("5%%", &p, &e), -EINVAL);
    assert_int_equal(sbx_parse_percent("half", &p, &e), -EINVAL);
}

static void counts(void **state)
{
    (void)state;
    uint64_t v;
    sbx_error e = {0};
    assert_int_equal(sbx_parse_count("1", 1, 10, &v, &e), 0);
    assert_int_equal(v, 1);
    assert_int_equal(sbx_parse_count("0", 1, 10, &v, &e), -ERANGE);
    assert_int_equal(sbx_parse_count("11", 1, 10, &v, &e), -ERANGE);
    assert_int_equal(sbx_parse_count("1x", 1, 10, &v, &e), -EINVAL);
    assert_int_equal(sbx_parse_count("", 1, 10, &v, &e), -EINVAL);
    assert_int_equal(sbx_parse_count("99999999999999999999999", 1, 10, &v, &e), -ERANGE);
}

static void format(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(sbx_format_size(512, buf, sizeof buf), "512");
    assert_string_equal(sbx_format_size(64ull << 20, buf, sizeof buf), "64M");
    assert_string_equal(sbx_format_size(3ull << 29, buf, sizeof buf), "1.5G");
}

static void signals(void **state)
{
    (void)state;
    /* Linux's numbers on every platform: SIGTERM is 15 even on Windows. */
    assert_int_equal(sbx_parse_signal("SEGV"), 11);
    assert_int_equal(sbx_parse_signal("sigchld"), 17);
    assert_int_equal(sbx_parse_signal("SYS"), 31);
    assert_int_equal(sbx_parse_signal("TERM"), SIGTERM);
    assert_int_equal(sbx_parse_signal("SIGKILL"), SIGKILL);
    assert_int_equal(sbx_parse_signal("sigint"), SIGINT);
    assert_int_equal(sbx_parse_signal("hup"), SIGHUP);
    assert_int_equal(sbx_parse_signal("USR1"), SIGUSR1);
    assert_int_equal(sbx_parse_signal("WINCH"), SIGWINCH);
    assert_int_equal(sbx_parse_signal("9"), 9);
    assert_int_equal(sbx_parse_signal("15"), 15);
    assert_int_equal(sbx_parse_signal("1"), 1);
    assert_int_equal(sbx_parse_signal("64"), 64);
    assert_int_equal(sbx_parse_signal("bad"), -EINVAL);
    assert_int_equal(sbx_parse_signal("SIG"), -EINVAL);
    assert_int_equal(sbx_parse_signal("SIGFOO"), -EINVAL);
    assert_int_equal(sbx_parse_signal(""), -EINVAL);
    assert_int_equal(sbx_parse_signal("0"), -EINVAL);
    assert_int_equal(sbx_parse_signal("-9"), -EINVAL);
    assert_int_equal(sbx_parse_signal("9x"), -EINVAL);
    assert_int_equal(sbx_parse_signal("65"), -EINVAL);
    assert_int_equal(sbx_parse_signal("99999999999999999999"), -EINVAL);
    assert_string_equal(sbx_signal_name(15), "TERM");
    assert_string_equal(sbx_signal_name(9), "KILL");
    assert_string_equal(sbx_signal_name(31), "SYS");
    assert_null(sbx_signal_name(0));
    assert_null(sbx_signal_name(32));
    assert_null(sbx_signal_name(-1));
    for (int sig = 1; sig < 32; sig++)   /* every name parses back to its number */
        assert_int_equal(sbx_parse_signal(sbx_signal_name(sig)), sig);
}

/* The limits table: each row parses into its own field, with its range,
 * and prints as unit files write it. */
static void limit_table(void **state)
{
    (void)state;
    sbx_limits l;
    sbx_error e = {0};
    char buf[32];
    sbx_limits_init(&l);
    assert_int_equal(sbx_limit_set(&l, "memory", "64M", &e), 0);
    assert_int_equal(l.memory, 64ull << 20);
    assert_int_equal(sbx_limit_set(&l, "memory_swap", "0", &e), 0);
    assert_int_equal(l.memory_swap, 0);
    assert_int_equal(sbx_limit_set(&l, "cpu", "150%", &e), 0);
    assert_int_equal(l.cpu_percent, 150);
    assert_int_equal(sbx_limit_set(&l, "cpu_weight", "200", &e), 0);
    assert_int_equal(l.cpu_weight, 200);
    assert_int_equal(sbx_limit_set(&l, "pids", "4194304", &e), 0);
    assert_int_equal(l.pids, 4194304);
    assert_int_equal(sbx_limit_set(&l, "pids", "4194305", &e), -ERANGE);
    assert_string_equal(e.msg, "'4194305' must be between 1 and 4194304");
    assert_int_equal(sbx_limit_set(&l, "nofile", "1024", &e), 0);
    assert_int_equal(l.nofile, 1024);
    assert_int_equal(l.core, -1);   /* not a row: untouched */
    assert_int_equal(sbx_limit_set(&l, "memory", "0", &e), -EINVAL);
    assert_int_equal(sbx_limit_set(&l, "memory-swap", "1M", &e), -ENOENT);
    assert_string_equal(e.msg, "unknown limit 'memory-swap'");

    const sbx_limit_info *k;
    size_t n = 0;
    for (size_t i = 0; (k = sbx_limit_at(i)); i++, n++)
        assert_ptr_equal(sbx_limit_find(k->name), k);
    assert_true(n >= 6 && n <= SBX_LIMITS_MAX);
    assert_int_equal(sbx_limit_get(sbx_limit_find("cpu_weight"), &l), 200);
    assert_string_equal(sbx_limit_format(sbx_limit_find("memory"), 64ull << 20, buf, sizeof buf), "64M");
    assert_string_equal(sbx_limit_format(sbx_limit_find("cpu"), 150, buf, sizeof buf), "150%");
    assert_string_equal(sbx_limit_format(sbx_limit_find("memory_swap"), 0, buf, sizeof buf), "0");
    assert_null(sbx_limit_format(sbx_limit_find("pids"), 0, buf, sizeof buf));
    assert_false(sbx_limit_find("nofile")->live);
    assert_true(sbx_limit_find("memory")->live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes),     cmocka_unit_test(bad_sizes),
        cmocka_unit_test(durations), cmocka_unit_test(percents),
        cmocka_unit_test(counts),    cmocka_unit_test(format),
        cmocka_unit_test(signals),   cmocka_unit_test(limit_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
