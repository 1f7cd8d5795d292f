/* cgroup v2 OOM events: one inotify instance for every box's memory.events
 * (backends/linux/cgroup2_events.h). Plain files stand in for the
 * memory.events files: inotify watches them alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "linux/cgroup2_events.h"

#define NBOX 300  /* beyond the 128 inotify instances a user may have */

typedef struct named {
    int count[NBOX];
    char *base;  /* the address boxes are numbered from */
} named;

static void on_box(sbx_box *box, void *data)
{
    named *n = data;
    n->count[(char *)box - n->base]++;
}

static void touch(const char *dir, int i)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%d", dir, i);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs("oom_kill 1\n", f);
    fclose(f);
}

static void test_one_instance_names_each_box(void **state)
{
    (void)state;
    char dir[] = "/tmp/sbx-v2events-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static char boxes[NBOX];  /* only their addresses matter */
    named n = {.base = boxes};
    sbx__v2_events e;
    sbx__v2_events_init(&e);
    int wd[NBOX];
    for (int i = 0; i < NBOX; i++) {
        touch(dir, i);
        char path[512];
        snprintf(path, sizeof path, "%s/%d", dir, i);
        wd[i] = sbx__v2_events_add(&e, (sbx_box *)&boxes[i], path);
        assert_true(wd[i] >= 0);
    }
    int fd = e.fd;
    assert_int_equal(sbx__v2_events_read(&e, on_box, &n), 0);  /* nothing yet */
    /* Three boxes change, one of them twice; one is removed first. */
    sbx__v2_events_remove(&e, wd[7]);
    touch(dir, 7);
    touch(dir, 5);
    touch(dir, 250);
    touch(dir, 250);
    touch(dir, 299);
    assert_true(sbx__v2_events_read(&e, on_box, &n) >= 3);
    for (int i = 0; i < NBOX; i++)
        assert_int_equal(n.count[i] > 0, i == 5 || i == 250 || i == 299);
    /* Removing most boxes leaves the rest named (the table compacts). */
    for (int i = 0; i < NBOX - 10; i++)
        sbx__v2_events_remove(&e, wd[i]);
    memset(n.count, 0, sizeof n.count);
    touch(dir, 100);
    touch(dir, NBOX - 1);
    sbx__v2_events_read(&e, on_box, &n);
    assert_int_equal(n.count[100], 0);
    assert_true(n.count[NBOX - 1] > 0);
    assert_int_equal(e.fd, fd);  /* one instance throughout */
    sbx__v2_events_close(&e);
    assert_int_equal(e.fd, -1);
    for (int i = 0; i < NBOX; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%d", dir, i);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_instance_names_each_box),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
