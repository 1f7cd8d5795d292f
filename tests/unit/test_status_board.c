/* The status board (backends/linux/status_board.h): one memfd for every
 * run behind sbx's init, a page per slot. Children of this test stand in
 * for the inits: each maps its slot, posts a status and exits. The board
 * is one per process, so the cases run in this order. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "linux/status_board.h"

#define NRUN 200  /* beyond the first size of the board (64 slots) */

/* What an init does: maps its slot alone, posts status, exits. */
static void post_as_init(const sbx__board_map *map, int status)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sbx__board_cell *cell = mmap(NULL, map->len, PROT_READ | PROT_WRITE, MAP_SHARED,
                                     map->fd, map->offset);
        if (cell == MAP_FAILED)
            _exit(1);
        cell->status = status;
        __atomic_store_n(&cell->posted, SBX__BOARD_POSTED, __ATOMIC_RELEASE);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_adopt_refuses_what_is_no_board(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(sbx_status_board_adopt(p[0]), -EINVAL);
    close(p[0]);
    close(p[1]);
    int fd = memfd_create("not-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(fd >= 0);
    assert_int_equal(sbx_status_board_adopt(fd), -EINVAL);
    close(fd);
    assert_int_equal(sbx_status_board_fd(), -1);
}

static void test_each_run_gets_its_own_status(void **state)
{
    (void)state;
    unsigned slot[NRUN];
    for (int i = 0; i < NRUN; i++) {
        sbx__board_map map;
        sbx_error err = {0};
        int r = sbx__board_take(&map, &err);
        assert_true(r > 0);
        slot[i] = (unsigned)r;
        for (int k = 0; k < i; k++)
            assert_int_not_equal(slot[k], slot[i]);
        assert_int_equal(map.len, (size_t)sysconf(_SC_PAGESIZE));
        assert_int_equal(map.offset, (off_t)(slot[i] - 1) * (off_t)map.len);
        /* signals as wait statuses: W_EXITCODE-like values, one per run */
        if (i % 3)
            post_as_init(&map, (i & 0x7f) << 8);
    }
    int fd = sbx_status_board_fd();
    assert_true(fd >= 0);
    for (int i = NRUN - 1; i >= 0; i--) {
        int st = -7;
        int posted = sbx__board_collect(slot[i], &st);
        assert_int_equal(posted, i % 3 != 0);
        assert_int_equal(st, i % 3 ? (i & 0x7f) << 8 : -7);
    }
    /* One descriptor for all of them, the same after. */
    assert_int_equal(sbx_status_board_fd(), fd);
}

static void test_a_freed_slot_is_clean_and_taken_again(void **state)
{
    (void)state;
    sbx__board_map map;
    sbx_error err = {0};
    int a = sbx__board_take(&map, &err);
    assert_int_equal(a, 1);  /* the lowest free one */
    post_as_init(&map, SIGKILL);
    sbx__board_put((unsigned)a);  /* released unread: a run that failed */
    int b = sbx__board_take(&map, &err);
    assert_int_equal(b, a);
    int st = 0;
    assert_int_equal(sbx__board_collect((unsigned)b, &st), 0);  /* nothing left of the first */
    assert_int_equal(sbx__board_collect((unsigned)b, &st), 0);  /* freed once */
}

static void test_claimed_slots_are_not_given_out(void **state)
{
    (void)state;
    assert_int_equal(sbx_status_board_claim(2), 0);
    assert_int_equal(sbx_status_board_claim(2), -EBUSY);
    assert_int_equal(sbx_status_board_claim(0), -ENOENT);
    assert_int_equal(sbx_status_board_claim(1u << 30), -ENOENT);
    sbx__board_map map;
    sbx_error err = {0};
    int a = sbx__board_take(&map, &err), b = sbx__board_take(&map, &err);
    assert_int_equal(a, 1);
    assert_int_equal(b, 3);
    sbx__board_put((unsigned)a);
    sbx__board_put((unsigned)b);
    sbx__board_put(2);
    assert_int_equal(sbx_status_board_adopt(sbx_status_board_fd()), -EBUSY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adopt_refuses_what_is_no_board),
        cmocka_unit_test(test_each_run_gets_its_own_status),
        cmocka_unit_test(test_a_freed_slot_is_clean_and_taken_again),
        cmocka_unit_test(test_claimed_slots_are_not_given_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
