/* Whether a control peer runs inside sbxd's units, on canned
 * /proc/PID/cgroup texts (peer_cgroup.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "peer_cgroup.h"

/* sbxd on this development machine: v1, its memory cgroup not the root. */
static const char hybrid_own[] =
    "9:name=systemd:/\n8:pids:/\n6:freezer:/\n"
    "4:memory:/process_api/a862b\n2:cpu,cpuacct:/\n0::/\n";

static void test_v1_unit_in_every_hierarchy(void **state)
{
    (void)state;
    const char peer[] =
        "9:name=systemd:/\n8:pids:/sbxd/web\n6:freezer:/sbxd/web\n"
        "4:memory:/process_api/a862b/sbxd/web\n2:cpu,cpuacct:/sbxd/web\n0::/\n";
    assert_true(peer_cgroup_in_units(peer, hybrid_own, "sbxd"));
}

static void test_v1_one_hierarchy_is_enough(void **state)
{
    (void)state;
    /* A unit that moved its memory cgroup out is still in the pids one. */
    const char peer[] =
        "9:name=systemd:/\n8:pids:/sbxd/web\n6:freezer:/\n"
        "4:memory:/process_api/a862b\n2:cpu,cpuacct:/\n0::/\n";
    assert_true(peer_cgroup_in_units(peer, hybrid_own, "sbxd"));
}

static void test_v1_host_process_outside(void **state)
{
    (void)state;
    assert_false(peer_cgroup_in_units(hybrid_own, hybrid_own, "sbxd"));
    /* A sibling whose name starts the same is not the root. */
    const char near[] =
        "9:name=systemd:/\n8:pids:/sbxd-other/x\n6:freezer:/\n"
        "4:memory:/process_api/a862b/sbxdx\n2:cpu,cpuacct:/\n0::/\n";
    assert_false(peer_cgroup_in_units(near, hybrid_own, "sbxd"));
    /* The same name elsewhere in the tree is not ours. */
    const char elsewhere[] = "4:memory:/other/sbxd/web\n";
    assert_false(peer_cgroup_in_units(elsewhere, hybrid_own, "sbxd"));
}

static void test_root_itself_counts(void **state)
{
    (void)state;
    assert_true(peer_cgroup_in_units("8:pids:/sbxd\n", hybrid_own, "sbxd"));
}

static void test_v2_leaf_of_sbxd(void **state)
{
    (void)state;
    const char own[] = "0::/system.slice/sbxd.service/sbx-supervisor\n";
    assert_true(peer_cgroup_in_units("0::/system.slice/sbxd.service/sbxd/web\n", own, "sbxd"));
    assert_false(peer_cgroup_in_units("0::/system.slice/other.service\n", own, "sbxd"));
    assert_false(peer_cgroup_in_units(own, own, "sbxd"));
}

static void test_v2_no_leaf(void **state)
{
    (void)state;
    const char own[] = "0::/a\n";
    assert_true(peer_cgroup_in_units("0::/a/sbxd/web/sub\n", own, "sbxd"));
    assert_false(peer_cgroup_in_units("0::/b/sbxd/web\n", own, "sbxd"));
}

static void test_no_root_no_answer(void **state)
{
    (void)state;
    assert_false(peer_cgroup_in_units("8:pids:/sbxd/web\n", hybrid_own, ""));
    assert_false(peer_cgroup_in_units("8:pids:/sbxd/web\n", hybrid_own, NULL));
    assert_false(peer_cgroup_in_units("", hybrid_own, "sbxd"));
    assert_false(peer_cgroup_in_units("garbage without colons\n", hybrid_own, "sbxd"));
}

static void test_live_process(void **state)
{
    (void)state;
    /* This test is not in a unit; a pid that cannot exist is refused. */
    assert_int_equal(peer_cgroup_check(getpid(), NULL, "sbxd-no-such-root"), 0);
    assert_int_equal(peer_cgroup_check(-5, NULL, "sbxd"), 1);
}

/* With a base (the units in a systemd scope): the root is below the base,
 * wherever sbxd itself is. Our own v2 cgroup, split into base and root,
 * puts us inside; another base puts us outside. */
static void test_live_process_below_a_base(void **state)
{
    (void)state;
    char text[4096] = "";
    FILE *f = fopen("/proc/self/cgroup", "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *v2 = strstr(text, "0::/");
    if (!v2 || (v2 != text && v2[-1] != '\n')) {
        fprintf(stderr, "skipped: no cgroup v2 hierarchy\n");
        skip();
    }
    char base[4096];
    snprintf(base, sizeof base, "%.*s", (int)strcspn(v2 + 3, "\n"), v2 + 3);
    char *last = strrchr(base, '/');
    if (!last || !last[1]) {
        fprintf(stderr, "skipped: this process is at the root of the v2 hierarchy\n");
        skip();
    }
    char root[4096];
    snprintf(root, sizeof root, "%s", last + 1);
    *last = '\0';
    assert_int_equal(peer_cgroup_check(getpid(), base, root), 1);
    assert_int_equal(peer_cgroup_check(getpid(), "/elsewhere.slice/units.scope", root), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_unit_in_every_hierarchy),
        cmocka_unit_test(test_live_process_below_a_base),
        cmocka_unit_test(test_v1_one_hierarchy_is_enough),
        cmocka_unit_test(test_v1_host_process_outside),
        cmocka_unit_test(test_root_itself_counts),
        cmocka_unit_test(test_v2_leaf_of_sbxd),
        cmocka_unit_test(test_v2_no_leaf),
        cmocka_unit_test(test_no_root_no_answer),
        cmocka_unit_test(test_live_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
