/* The job backend's event handling, fed the completion-port messages
 * Windows posts (wine enforces no job memory limit, so the memory message
 * is posted here by hand, through the real port and its thread). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "win/win.h"

static HANDLE woken;

static void on_notify(void *data)
{
    (void)data;
    SetEvent(woken);
}

static sbx_backend *open_job(void)
{
    sbx_backend *be = NULL;
    sbx_error e = {0};
    sbx_backend_options o = {.name = "job"};
    assert_int_equal(sbx_backend_open(&o, &be, &e), 0);
    woken = CreateEventW(NULL, FALSE, FALSE, NULL);
    sbx_backend_set_notify(be, on_notify, NULL);
    return be;
}

static sbx_box *make_box(sbx_backend *be, uint64_t pids)
{
    sbx_limits l;
    sbx_limits_init(&l);
    l.memory = 50 << 20;
    l.pids = pids;
    sbx_box *box = NULL;
    sbx_error e = {0};
    assert_int_equal(sbx_box_create(be, "t", &l, 0, &box, &e), 0);
    return box;
}

/* Posts msg for the box and waits until the port thread has handled it. */
static void feed(sbx_box *box, DWORD msg, DWORD pid)
{
    assert_int_equal(sbx__job_post(box, msg, pid), 0);
    assert_int_equal(WaitForSingleObject(woken, 5000), WAIT_OBJECT_0);
}

static void test_memory_limit_message_counts_as_oom(void **state)
{
    (void)state;
    sbx_backend *be = open_job();
    sbx_box *box = make_box(be, 0);
    sbx_stats st;
    assert_int_equal(sbx_box_stats(box, &st, NULL), 0);
    assert_int_equal(st.oom_kills, 0);
    feed(box, JOB_OBJECT_MSG_JOB_MEMORY_LIMIT, 1234);
    feed(box, JOB_OBJECT_MSG_PROCESS_MEMORY_LIMIT, 1234);
    assert_int_equal(sbx_box_stats(box, &st, NULL), 0);
    assert_int_equal(st.oom_kills, 2);
    assert_int_equal(st.pids_limit_hits, 0);
    sbx_box_free(box);
    sbx_backend_close(be);
}

static void test_process_limit_messages_are_counted(void **state)
{
    (void)state;
    sbx_backend *be = open_job();
    sbx_box *box = make_box(be, 2);
    feed(box, JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT, 0);
    feed(box, JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT, 0);
    feed(box, JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT, 0);
    sbx_stats st;
    assert_int_equal(sbx_box_stats(box, &st, NULL), 0);
    assert_int_equal(st.pids_limit_hits, 3);
    assert_int_equal(st.oom_kills, 0);
    sbx_box_free(box);
    sbx_backend_close(be);
}

static void test_processes_are_counted_in_and_out(void **state)
{
    (void)state;
    sbx_backend *be = open_job();
    sbx_box *box = make_box(be, 0);
    feed(box, JOB_OBJECT_MSG_NEW_PROCESS, 0x7ffffff0);
    feed(box, JOB_OBJECT_MSG_NEW_PROCESS, 0x7ffffff4);
    sbx_stats st;
    sbx_box_stats(box, &st, NULL);
    assert_int_equal(st.pids_peak, 2);
    feed(box, JOB_OBJECT_MSG_EXIT_PROCESS, 0x7ffffff0);
    feed(box, JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO, 0);
    sbx_box_stats(box, &st, NULL);
    assert_int_equal(st.pids_peak, 2);
    assert_int_equal(st.pids_current, 0);
    assert_int_equal(sbx_box_is_empty(box), 1);
    sbx_box_free(box);
    sbx_backend_close(be);
}

static void test_messages_of_a_freed_box_are_dropped(void **state)
{
    (void)state;
    sbx_backend *be = open_job();
    sbx_box *box = make_box(be, 0);
    sbx_box *other = make_box(be, 0);
    sbx_box_free(box);  /* its key is gone: a late message must not touch it */
    feed(other, JOB_OBJECT_MSG_JOB_MEMORY_LIMIT, 1);
    sbx_stats st;
    sbx_box_stats(other, &st, NULL);
    assert_int_equal(st.oom_kills, 1);
    sbx_box_free(other);
    sbx_backend_close(be);
}

static void test_limits_are_listed_as_enforced(void **state)
{
    (void)state;
    sbx_backend *be = open_job();
    sbx_box *box = make_box(be, 4);
    const sbx_enforced *list;
    size_t n = sbx_box_enforced(box, &list);
    bool memory = false, pids = false;
    for (size_t i = 0; i < n; i++) {
        memory |= strcmp(list[i].what, "memory") == 0 && list[i].how;
        pids |= strcmp(list[i].what, "pids") == 0 && list[i].how;
    }
    assert_true(memory);
    assert_true(pids);
    sbx_box_free(box);
    sbx_backend_close(be);
}

static void test_rlimits_are_refused_without_best_effort(void **state)
{
    (void)state;
    sbx_backend *be = open_job();
    sbx_limits l;
    sbx_limits_init(&l);
    l.nofile = 64;
    sbx_box *box = NULL;
    sbx_error e = {0};
    assert_int_equal(sbx_box_create(be, "t", &l, 0, &box, &e), -EOPNOTSUPP);
    assert_non_null(strstr(e.msg, "nofile"));
    assert_int_equal(sbx_box_create(be, "t", &l, SBX_BEST_EFFORT, &box, &e), 0);
    sbx_box_free(box);
    sbx_backend_close(be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_limit_message_counts_as_oom),
        cmocka_unit_test(test_processes_are_counted_in_and_out),
        cmocka_unit_test(test_process_limit_messages_are_counted),
        cmocka_unit_test(test_messages_of_a_freed_box_are_dropped),
        cmocka_unit_test(test_limits_are_listed_as_enforced),
        cmocka_unit_test(test_rlimits_are_refused_without_best_effort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
