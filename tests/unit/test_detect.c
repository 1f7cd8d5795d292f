/* The cgroup mode detector on canned /proc texts for each kind of host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "linux/cgroup.h"

#define BIT(c) (1u << (c))

/* This development machine: v1 controllers, an empty v2 tree. */
static const char hybrid_mountinfo[] =
    "24 1 0:22 / / rw,relatime - overlay overlay rw\n"
    "30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
    "32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd\n"
    "33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory\n"
    "34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:16 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 30 0:31 / /sys/fs/cgroup/pids rw,nosuid shared:17 - cgroup cgroup rw,pids\n"
    "36 30 0:32 / /sys/fs/cgroup/freezer rw,nosuid shared:18 - cgroup cgroup rw,freezer\n";
static const char hybrid_cgroup[] =
    "9:name=systemd:/\n8:pids:/\n6:freezer:/\n"
    "4:memory:/process_api/a862b\n2:cpu,cpuacct:/\n0::/\n";

static const char v2_mountinfo[] =
    "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
    "26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
static const char v2_cgroup[] = "0::/user.slice/user-1000.slice/session-2.scope\n";

static const char v1_mountinfo[] =
    "30 24 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
    "33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "34 30 0:30 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
    "35 30 0:31 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
static const char v1_cgroup[] = "5:pids:/a\n4:memory:/a\n3:cpu:/a\n";

static void hybrid(void **state)
{
    (void)state;
    sbx__layout lay;
    memset(&lay, 0, sizeof lay);
    assert_int_equal(sbx__parse_mountinfo(hybrid_mountinfo, &lay), 0);
    assert_int_equal(sbx__parse_proc_cgroup(hybrid_cgroup, &lay), 0);
    assert_int_equal(sbx__decide_mode(&lay, SBX_TMPFS_MAGIC), SBX_CGROUP_HYBRID);
    assert_int_equal(lay.v1_mask, BIT(SBX_CTRL_MEMORY) | BIT(SBX_CTRL_CPU) |
                     BIT(SBX_CTRL_CPUACCT) | BIT(SBX_CTRL_PIDS) | BIT(SBX_CTRL_FREEZER));
    assert_string_equal(lay.v1[SBX_CTRL_CPU].mount, "/sys/fs/cgroup/cpu,cpuacct");
    assert_string_equal(lay.v1[SBX_CTRL_CPUACCT].mount, "/sys/fs/cgroup/cpu,cpuacct");
    assert_string_equal(lay.v2.mount, "/sys/fs/cgroup/unified");
    char dir[512];
    assert_int_equal(sbx__hier_self_dir(&lay.v1[SBX_CTRL_MEMORY], dir, sizeof dir), 0);
    assert_string_equal(dir, "/sys/fs/cgroup/memory/process_api/a862b");
    assert_int_equal(sbx__hier_self_dir(&lay.v1[SBX_CTRL_PIDS], dir, sizeof dir), 0);
    assert_string_equal(dir, "/sys/fs/cgroup/pids");
}

static void unified(void **state)
{
    (void)state;
    sbx__layout lay;
    memset(&lay, 0, sizeof lay);
    assert_int_equal(sbx__parse_mountinfo(v2_mountinfo, &lay), 0);
    assert_int_equal(sbx__parse_proc_cgroup(v2_cgroup, &lay), 0);
    assert_int_equal(sbx__decide_mode(&lay, SBX_CGROUP2_MAGIC), SBX_CGROUP_V2);
    assert_int_equal(lay.v1_mask, 0);
    char dir[512];
    assert_int_equal(sbx__hier_self_dir(&lay.v2, dir, sizeof dir), 0);
    assert_string_equal(dir, "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope");
    /* statfs failing must not change a clear answer */
    assert_int_equal(sbx__decide_mode(&lay, 0), SBX_CGROUP_V2);
}

static void v1_only(void **state)
{
    (void)state;
    sbx__layout lay;
    memset(&lay, 0, sizeof lay);
    assert_int_equal(sbx__parse_mountinfo(v1_mountinfo, &lay), 0);
    assert_int_equal(sbx__parse_proc_cgroup(v1_cgroup, &lay), 0);
    assert_int_equal(sbx__decide_mode(&lay, SBX_TMPFS_MAGIC), SBX_CGROUP_V1);
    assert_int_equal(lay.v1_mask, BIT(SBX_CTRL_MEMORY) | BIT(SBX_CTRL_CPU) | BIT(SBX_CTRL_PIDS));
    assert_string_equal(lay.v1[SBX_CTRL_MEMORY].self, "/a");
}

static void none(void **state)
{
    (void)state;
    sbx__layout lay;
    memset(&lay, 0, sizeof lay);
    assert_int_equal(sbx__parse_mountinfo("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", &lay), 0);
    assert_int_equal(sbx__parse_proc_cgroup("", &lay), 0);
    assert_int_equal(sbx__decide_mode(&lay, 0), SBX_CGROUP_NONE);
}

static void escapes_and_namespaces(void **state)
{
    (void)state;
    sbx__layout lay;
    memset(&lay, 0, sizeof lay);
    /* a mount point with a space, and a cgroup namespace's subtree mount */
    assert_int_equal(sbx__parse_mountinfo(
        "26 22 0:23 /ns/root /sys/fs/my\\040cg rw - cgroup2 cgroup2 rw\n", &lay), 0);
    assert_string_equal(lay.v2.mount, "/sys/fs/my cg");
    assert_int_equal(sbx__parse_proc_cgroup("0::/ns/root/app\n", &lay), 0);
    char dir[512];
    assert_int_equal(sbx__hier_self_dir(&lay.v2, dir, sizeof dir), 0);
    assert_string_equal(dir, "/sys/fs/my cg/app");
}

static void malformed(void **state)
{
    (void)state;
    sbx__layout lay;
    memset(&lay, 0, sizeof lay);
    assert_int_equal(sbx__parse_mountinfo("garbage line\n", &lay), -22);
    assert_int_equal(sbx__parse_proc_cgroup("no colons here\n", &lay), -22);
}

static void controllers(void **state)
{
    (void)state;
    assert_int_equal(sbx__parse_controllers("cpuset cpu io memory hugetlb pids rdma misc\n"),
                     BIT(SBX_CTRL_CPU) | BIT(SBX_CTRL_MEMORY) | BIT(SBX_CTRL_PIDS));
    assert_int_equal(sbx__parse_controllers("hugetlb\n"), 0);
    assert_int_equal(sbx__parse_controllers(""), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hybrid), cmocka_unit_test(unified),
        cmocka_unit_test(v1_only), cmocka_unit_test(none),
        cmocka_unit_test(escapes_and_namespaces), cmocka_unit_test(malformed),
        cmocka_unit_test(controllers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
