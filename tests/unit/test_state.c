/* sbxd's state records (state.c) and the adoption verdict (adopt.c):
 * round trip, and the faults a crash or a stranger can leave (truncated,
 * garbage, another version, a dead or reused pid). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "adopt.h"
#include "state.h"

static state_record sample(void)
{
    state_record r = {.pid = 4242, .pid_start = 123456789, .def_hash = 0xdeadbeefcafef00dull,
                      .started_ms = 1700000000123, .restarts = 7, .failures = 2};
    snprintf(r.cgroup, sizeof r.cgroup, "/sys/fs/cgroup/memory/x/sbxd/web@1");
    return r;
}

static void round_trip(void **st)
{
    (void)st;
    state_record r = sample(), back;
    char buf[1024], why[200];
    int n = state_format(&r, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(state_parse(buf, (size_t)n, &back, why, sizeof why), 0);
    assert_int_equal(back.pid, 4242);
    assert_int_equal(back.pid_start, 123456789);
    assert_int_equal(back.def_hash, 0xdeadbeefcafef00dull);
    assert_int_equal(back.started_ms, 1700000000123);
    assert_int_equal(back.restarts, 7);
    assert_int_equal(back.failures, 2);
    assert_string_equal(back.cgroup, r.cgroup);
    assert_int_equal(state_format(&r, buf, 40), -ENOSPC);
}

/* Every cut of a good record is refused, never half read. */
static void truncated(void **st)
{
    (void)st;
    state_record r = sample(), back;
    char buf[1024], why[200];
    int n = state_format(&r, buf, sizeof buf);
    for (int cut = 0; cut < n; cut++) {
        why[0] = '\0';
        assert_int_equal(state_parse(buf, (size_t)cut, &back, why, sizeof why), -EINVAL);
        assert_true(why[0] != '\0');
    }
}

static void expect_bad(const char *text, const char *reason)
{
    state_record back;
    char why[200] = "";
    assert_int_equal(state_parse(text, strlen(text), &back, why, sizeof why), -EINVAL);
    if (!strstr(why, reason))
        fail_msg("'%s': why is '%s', expected '%s'", text, why, reason);
}

static void garbage(void **st)
{
    (void)st;
    expect_bad("", "empty");
    expect_bad("hello world\n", "not an sbx state record");
    expect_bad("\x7f" "ELF\x02\x01\n", "not an sbx state record");
    expect_bad("sbx-state 2\npid 5\nend\n", "version 2, not 1");
    expect_bad("sbx-state 1\npid five\npid_start 1\ncgroup /x\ndef_hash 1\nstarted_ms 1\n"
               "restarts 0\nfailures 0\nend\n", "line 2: bad pid");
    expect_bad("sbx-state 1\npid 1\npid_start 1\ncgroup /x\ndef_hash 1\nstarted_ms 1\n"
               "restarts 0\nfailures 0\nend\n", "bad pid");  /* never init */
    expect_bad("sbx-state 1\npid 5\npid_start -1\ncgroup /x\ndef_hash 1\nstarted_ms 1\n"
               "restarts 0\nfailures 0\nend\n", "bad pid_start");
    expect_bad("sbx-state 1\npid 5\npid_start 1\ncgroup /x\ndef_hash zz\nstarted_ms 1\n"
               "restarts 0\nfailures 0\nend\n", "bad def_hash");
    expect_bad("sbx-state 1\npid 5\npid_start 1\ncgroup /x\nend\n", "fields missing");
    expect_bad("sbx-state 1\npidnospace\nend\n", "expected 'key value'");
    const char nul[] = "sbx-state 1\npid 5\0\nend\n";
    state_record back;
    char why[200];
    assert_int_equal(state_parse(nul, sizeof nul - 1, &back, why, sizeof why), -EINVAL);
    /* A newer field is ignored. */
    const char newer[] = "sbx-state 1\npid 5\npid_start 1\ncgroup /x\ndef_hash 1\nstarted_ms 1\n"
                         "restarts 0\nfailures 0\nsomething new\nend\n";
    assert_int_equal(state_parse(newer, sizeof newer - 1, &back, why, sizeof why), 0);
}

static void stat_field_22(void **st)
{
    (void)st;
    uint64_t v = 0;
    const char *t = "77 (a b) c) S 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 "
                    "1000 200 18446744073709551615\n";
    assert_int_equal(state_parse_stat(t, &v), 0);
    assert_int_equal(v, 987654);
    assert_int_equal(state_parse_stat("77 (x) S 1 2 3\n", &v), -EINVAL);
    assert_int_equal(state_parse_stat("no parens at all", &v), -EINVAL);
    assert_int_equal(state_pid_start(getpid(), &v), 0);
    assert_true(v > 0);
    assert_true(state_pid_matches(getpid(), v));
    assert_false(state_pid_matches(getpid(), v + 1));  /* a reused pid */
    assert_false(state_pid_matches(1, 0));
}

static void dead_and_zombie_pids(void **st)
{
    (void)st;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    uint64_t start = 0;
    assert_int_equal(state_pid_start(pid, &start), 0);
    usleep(50000);  /* now a zombie: not alive for adoption */
    assert_false(state_pid_matches(pid, start));
    waitpid(pid, NULL, 0);
    assert_int_equal(state_pid_start(pid, &start), -ESRCH);
    assert_false(state_pid_matches(pid, start));
}

static void verdicts(void **st)
{
    (void)st;
    state_record r = sample();
    assert_int_equal(adopt_judge(&r, -ENOENT, false, false, 1), ADOPT_NOTHING);
    assert_int_equal(adopt_judge(&r, -EINVAL, true, true, r.def_hash), ADOPT_BAD_RECORD);
    assert_int_equal(adopt_judge(&r, 0, false, false, r.def_hash), ADOPT_LOST);
    assert_int_equal(adopt_judge(&r, 0, true, false, r.def_hash), ADOPT_LOST);
    assert_int_equal(adopt_judge(&r, 0, true, true, r.def_hash), ADOPT_TAKE);
    assert_int_equal(adopt_judge(&r, 0, true, true, r.def_hash + 1), ADOPT_TAKE_CHANGED);
    assert_string_equal(adopt_verdict_name(ADOPT_LOST), "lost");
    assert_true(state_hash("a") != state_hash("b"));
    assert_int_equal(state_hash(NULL), state_hash(""));
}

/* The directory: atomic replace, read back, faults on disk, the lock. */
static void directory(void **st)
{
    (void)st;
    char dir[] = "/tmp/sbx-state-test-XXXXXX", why[300], path[512];
    assert_non_null(mkdtemp(dir));
    state_dir sd, other;
    assert_int_equal(state_open(&sd, dir, why, sizeof why), 0);
    state_record r = sample(), back;
    assert_int_equal(state_write(&sd, "web@1", &r), 0);
    r.restarts = 8;
    assert_int_equal(state_write(&sd, "web@1", &r), 0);
    assert_int_equal(state_read(&sd, "web@1", &back, why, sizeof why), 0);
    assert_int_equal(back.restarts, 8);
    assert_int_equal(state_read(&sd, "none", &back, why, sizeof why), -ENOENT);
    snprintf(path, sizeof path, "%s/units/junk", dir);
    FILE *f = fopen(path, "w");
    fputs("sbx-state 1\npid 12", f);  /* cut mid-write (not by us: we rename) */
    fclose(f);
    assert_int_equal(state_read(&sd, "junk", &back, why, sizeof why), -EINVAL);
    /* A second owner (another process: the lock is per process) is
     * refused, naming the first. */
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int)getpid());
    pid_t child = fork();
    if (child == 0)
        _exit(state_open(&other, dir, why, sizeof why) == -EWOULDBLOCK && strstr(why, pid) ? 0 : 1);
    int status = -1;
    waitpid(child, &status, 0);
    assert_int_equal(status, 0);
    state_remove(&sd, "web@1");
    state_remove(&sd, "web@1");
    assert_int_equal(state_read(&sd, "web@1", &back, why, sizeof why), -ENOENT);
    state_remove(&sd, "junk");
    state_close_clean(&sd);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), -1);  /* nothing left: removed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),    cmocka_unit_test(truncated),
        cmocka_unit_test(garbage),       cmocka_unit_test(stat_field_22),
        cmocka_unit_test(dead_and_zombie_pids), cmocka_unit_test(verdicts),
        cmocka_unit_test(directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
