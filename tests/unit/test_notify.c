/* sd_notify messages as sbxd reads them (notify_parse), and the health
 * verdict (health_judge): pure functions, no socket, no loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "health.h"
#include "notify.h"

static int parse(const char *text, notify_msg *m)
{
    return notify_parse(text, strlen(text), m);
}

static void ready_and_status(void **state)
{
    (void)state;
    notify_msg m;
    assert_int_equal(parse("READY=1", &m), 1);
    assert_true(m.ready);
    assert_false(m.watchdog);
    assert_false(m.has_status);
    /* systemd-notify --ready --status=...: several lines, a final newline. */
    assert_int_equal(parse("READY=1\nSTATUS=db up\n", &m), 2);
    assert_true(m.ready);
    assert_true(m.has_status);
    assert_string_equal(m.status, "db up");
    /* An empty STATUS= clears the text. */
    assert_int_equal(parse("STATUS=", &m), 1);
    assert_true(m.has_status);
    assert_string_equal(m.status, "");
}

static void every_key(void **state)
{
    (void)state;
    notify_msg m;
    assert_int_equal(parse("WATCHDOG=1\nSTOPPING=1\nRELOADING=1\nMAINPID=4242", &m), 4);
    assert_true(m.watchdog);
    assert_true(m.stopping);
    assert_true(m.reloading);
    assert_int_equal(m.mainpid, 4242);
    assert_false(m.ready);
}

static void ignored(void **state)
{
    (void)state;
    notify_msg m;
    /* Unknown keys, values other than 1, bad pids, no '=': nothing. */
    assert_int_equal(parse("FDSTORE=1\nERRNO=2\nBUSERROR=x", &m), 0);
    assert_int_equal(parse("READY=0\nREADY=11\nREADY=\nREADY", &m), 0);
    assert_false(m.ready);
    assert_int_equal(parse("MAINPID=-1\nMAINPID=12x\nMAINPID=", &m), 0);
    assert_int_equal(m.mainpid, 0);
    assert_int_equal(parse("", &m), 0);
    assert_int_equal(parse("\n\n\n", &m), 0);
    /* Keys are case-sensitive and whole. */
    assert_int_equal(parse("ready=1\n READY=1\nXREADY=1", &m), 0);
    /* A line with a NUL inside is not trusted; the others are. */
    static const char nul[] = "READY=1\0x\nWATCHDOG=1";
    assert_int_equal(notify_parse(nul, sizeof nul - 1, &m), 1);
    assert_false(m.ready);
    assert_true(m.watchdog);
}

static void long_status_cut(void **state)
{
    (void)state;
    notify_msg m;
    char text[1000] = "STATUS=";
    memset(text + 7, 'x', 900);
    text[907] = '\0';
    assert_int_equal(parse(text, &m), 1);
    assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 1);
    /* Without a terminating NUL in the buffer. */
    assert_int_equal(notify_parse("READY=1garbage", 7, &m), 1);
    assert_true(m.ready);
}

static void health_verdicts(void **state)
{
    (void)state;
    unsigned streak = 0;
    /* Docker: failures count only after the start period (until healthy). */
    assert_int_equal(health_judge(HEALTH_STARTING, &streak, false, true, 3), HEALTH_STARTING);
    assert_int_equal(streak, 0);
    assert_int_equal(health_judge(HEALTH_STARTING, &streak, true, true, 3), HEALTH_HEALTHY);
    assert_int_equal(health_judge(HEALTH_HEALTHY, &streak, false, false, 3), HEALTH_HEALTHY);
    assert_int_equal(health_judge(HEALTH_HEALTHY, &streak, false, false, 3), HEALTH_HEALTHY);
    assert_int_equal(streak, 2);
    /* One success resets the streak. */
    assert_int_equal(health_judge(HEALTH_HEALTHY, &streak, true, false, 3), HEALTH_HEALTHY);
    assert_int_equal(streak, 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(health_judge(HEALTH_HEALTHY, &streak, false, false, 3), HEALTH_HEALTHY);
    assert_int_equal(health_judge(HEALTH_HEALTHY, &streak, false, false, 3), HEALTH_UNHEALTHY);
    /* Once healthy, the start period no longer excuses a failure. */
    streak = 0;
    assert_int_equal(health_judge(HEALTH_HEALTHY, &streak, false, true, 1), HEALTH_UNHEALTHY);
    assert_int_equal(health_judge(HEALTH_UNHEALTHY, &streak, true, false, 1), HEALTH_HEALTHY);
    assert_string_equal(health_state_name(HEALTH_UNHEALTHY), "unhealthy");
    assert_string_equal(health_state_name((health_state)9), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ready_and_status),
        cmocka_unit_test(every_key),
        cmocka_unit_test(ignored),
        cmocka_unit_test(long_status_cut),
        cmocka_unit_test(health_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
