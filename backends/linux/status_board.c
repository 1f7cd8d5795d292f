/* The status board: how sbx's init (PID 1 of a program's PID namespace)
 * passes the program's wait status to the process that spawned it,
 * without a descriptor per run.
 *
 * The init's own exit status cannot carry it (a program killed by a
 * signal would look like one that exited 128+N), and a pipe per run costs
 * the supervisor a descriptor for as long as the run lives: 10,000 units
 * behind an init would need 10,000 more. Instead the whole process keeps
 * one memfd, a page per slot. A spawn takes a free slot; the child maps
 * that page (only it: the mapping covers none of the other slots) before
 * it closes every descriptor and becomes the init; the init writes the
 * status there before it exits; the supervisor reads it with pread once
 * it has reaped the init, and frees the slot.
 *
 * What the program can reach: nothing. The memfd is close-on-exec and
 * closed by the init (close_range), so neither the program nor /proc/1/fd
 * shows it; the page mapped in the init is the run's own slot, reachable
 * only by a program allowed to ptrace its init, which could post no more
 * than its own status. The pages cost nothing until an init posts (a
 * sparse file: a read of a hole allocates nothing) and are punched out
 * again when the slot is freed. F_SEAL_SHRINK: nobody can cut the file
 * under a mapping (an init would die of SIGBUS).
 *
 * Across a re-exec the descriptor is handed over (sbx_status_board_fd,
 * sbx_status_board_adopt) with the slots of the runs that go on
 * (sbx_status_board_claim). Not thread-safe: spawns and reaps of one
 * process come from one thread (the supervisor's loop). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status_board.h"

#define MAX_SLOTS (1u << 20)
#define SEALS (F_SEAL_SHRINK | F_SEAL_SEAL)

static struct {
    int fd;             /* -1 until the first spawn behind an init */
    size_t page;
    unsigned cap;       /* slots the file holds */
    uint64_t *used;     /* a bit per slot, slot 1 at bit 0 */
    unsigned hint;      /* no free slot below this one */
} B = {.fd = -1};

static off_t slot_offset(unsigned slot)
{
    return (off_t)(slot - 1) * (off_t)B.page;
}

static bool slot_used(unsigned slot)
{
    unsigned i = slot - 1;
    return B.used[i / 64] >> (i % 64) & 1;
}

static void mark(unsigned slot, bool used)
{
    unsigned i = slot - 1;
    if (used)
        B.used[i / 64] |= (uint64_t)1 << (i % 64);
    else
        B.used[i / 64] &= ~((uint64_t)1 << (i % 64));
}

/* Zeroes the slot's page and gives its memory back. */
static void clear(unsigned slot)
{
    fallocate(B.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, slot_offset(slot),
              (off_t)B.page);
}

/* Room for cap slots: the file (sparse) and the bitmap. */
static int grow(unsigned cap)
{
    if (cap > MAX_SLOTS)
        return -ENOSPC;
    size_t words = (cap + 63) / 64, had = (B.cap + 63) / 64;
    if (words > had) {
        uint64_t *u = realloc(B.used, words * sizeof *u);
        if (!u)
            return -ENOMEM;
        memset(u + had, 0, (words - had) * sizeof *u);
        B.used = u;
    }
    if (ftruncate(B.fd, (off_t)cap * (off_t)B.page) < 0)
        return -errno;
    B.cap = cap;
    return 0;
}

static int create(void)
{
    B.page = (size_t)sysconf(_SC_PAGESIZE);
    int fd = memfd_create("sbx-status", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    if (fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    B.fd = fd;
    return 0;
}

int sbx__board_take(sbx__board_map *map, sbx_error *err)
{
    int r = B.fd < 0 ? create() : 0;
    unsigned slot = B.hint ? B.hint : 1;
    while (r == 0 && slot <= B.cap && slot_used(slot))
        slot++;
    if (r == 0 && slot > B.cap)
        r = grow(B.cap < 64 ? 64 : B.cap * 2);
    if (r < 0)
        return sbx_error_set(err, r, "status board for sbx's init: %s", strerror(-r));
    mark(slot, true);
    B.hint = slot + 1;
    clear(slot);  /* what a run before left there */
    map->fd = B.fd;
    map->offset = slot_offset(slot);
    map->len = B.page;
    return (int)slot;
}

void sbx__board_put(unsigned slot)
{
    if (B.fd < 0 || slot == 0 || slot > B.cap || !slot_used(slot))
        return;
    clear(slot);
    mark(slot, false);
    if (slot < B.hint || !B.hint)
        B.hint = slot;
}

int sbx__board_collect(unsigned slot, int *status)
{
    if (B.fd < 0 || slot == 0 || slot > B.cap || !slot_used(slot))
        return 0;
    sbx__board_cell cell;
    ssize_t n = pread(B.fd, &cell, sizeof cell, slot_offset(slot));
    bool posted = n == (ssize_t)sizeof cell && cell.posted == SBX__BOARD_POSTED;
    if (posted)
        *status = cell.status;
    sbx__board_put(slot);
    return posted;
}

int sbx_status_board_fd(void)
{
    return B.fd;
}

int sbx_status_board_adopt(int fd)
{
    struct stat st;
    if (B.fd >= 0)
        return -EBUSY;
    /* Ours, as we made it: a memfd sealed so, and whole pages. */
    if (fcntl(fd, F_GET_SEALS) != SEALS || fstat(fd, &st) < 0)
        return -EINVAL;
    B.page = (size_t)sysconf(_SC_PAGESIZE);
    if (st.st_size < 0 || st.st_size % (off_t)B.page || st.st_size / (off_t)B.page > MAX_SLOTS)
        return -EINVAL;
    B.fd = fd;
    unsigned cap = (unsigned)(st.st_size / (off_t)B.page);
    B.cap = 0;
    int r = grow(cap);
    if (r < 0)
        B.fd = -1;
    return r;
}

int sbx_status_board_claim(unsigned slot)
{
    if (B.fd < 0 || slot == 0 || slot > B.cap)
        return -ENOENT;
    if (slot_used(slot))
        return -EBUSY;
    mark(slot, true);
    return 0;
}
