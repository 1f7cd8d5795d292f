/* sbx's init gives back the memory it took over from its caller.
 *
 * The init is a fork of its caller (sbxd, sbx-run) that never execs: it
 * keeps a copy-on-write view of the caller's whole address space. Every
 * page the caller writes after the fork (its heap, its stack, the arrays
 * of a thousand units) becomes a private copy of the init's, so an init
 * forked from a busy sbxd grew to 100+ kB of its own and kept growing
 * with the caller's churn. The init needs almost none of it: its loop
 * runs on a few stack pages and reads a few globals. So, once it has
 * copied what it needs into locals, it unmaps the caller's heap and its
 * large anonymous mappings (malloc's big blocks, other threads' stacks
 * and arenas) and lets go of the stack pages below its own frame.
 *
 * Kept: the pages of the stack around the init's own frame and its argv
 * area (the caller's frames, dead since the init never returns to them,
 * are dropped), the mapping of the thread pointer
 * (TLS: errno, the stack guard), the data and bss of every loaded object
 * (an anonymous mapping right after a file-backed one), small anonymous
 * mappings (the dynamic loader's). Nothing here allocates: system calls
 * and a buffer on the stack. Under AddressSanitizer nothing is done (its
 * shadow memory is anonymous too). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "initmem.h"

#if defined(__SANITIZE_ADDRESS__)
#define INITMEM_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define INITMEM_OFF 1
#endif
#endif

#ifndef INITMEM_OFF
/* Anonymous mappings below this size are left alone (the loader's). */
#define LARGE ((uintptr_t)128 << 10)

struct mapping {
    uintptr_t start, end;
    bool writable_private;
    bool file;              /* inode != 0 */
    bool heap, stack;
};

static uintptr_t hex(const char **s)
{
    uintptr_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16u;
        if (d == 16)
            return v;
        v = v * 16 + d;
    }
}

static const char *skip_field(const char *s)
{
    while (*s && *s != ' ')
        s++;
    while (*s == ' ')
        s++;
    return s;
}

/* "start-end perms offset dev inode name" */
static bool parse_line(const char *s, struct mapping *m)
{
    m->start = hex(&s);
    if (*s++ != '-')
        return false;
    m->end = hex(&s);
    s = skip_field(s);
    m->writable_private = strncmp(s, "rw-p", 4) == 0;
    s = skip_field(skip_field(skip_field(s)));  /* perms, offset, dev */
    m->file = *s != '0' || (s[1] != ' ' && s[1] != '\0' && s[1] != '\n');
    s = skip_field(s);
    m->heap = strncmp(s, "[heap]", 6) == 0;
    m->stack = strncmp(s, "[stack]", 7) == 0;
    return true;
}

static bool holds(const struct mapping *m, uintptr_t a)
{
    return a >= m->start && a < m->end;
}

/* The heap and large anonymous mappings but bss, never the mapping of
 * the thread pointer or of the stack (trimmed by sbx__init_shed_memory). */
static void shed(const struct mapping *m, uintptr_t prev_file_end, uintptr_t sp, uintptr_t tp)
{
    if (!m->writable_private || holds(m, tp) || holds(m, sp))
        return;
    if (m->heap || (!m->file && m->start != prev_file_end && m->end - m->start >= LARGE))
        munmap((void *)m->start, m->end - m->start);
}

/* Unmaps what shed() picks; returns the bounds of the stack. Its buffer
 * lives in its own frame, dead once it returns. */
static __attribute__((noinline)) void unmap_large(uintptr_t *stack_start, uintptr_t *stack_end)
{
    char buf[1024];
    size_t have = 0;
    uintptr_t sp = (uintptr_t)buf;
    uintptr_t tp = (uintptr_t)&errno;  /* in the static TLS block, by the TCB */
    uintptr_t prev_file_end = 0;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            struct mapping m;
            if (parse_line(line, &m)) {
                shed(&m, prev_file_end, sp, tp);
                if (holds(&m, sp)) {
                    *stack_start = m.start;
                    *stack_end = m.end;
                }
                if (m.file)
                    prev_file_end = m.end;
            }
            line = nl + 1;
        }
        have = (size_t)(buf + have - line);
        memmove(buf, line, have);
        if (have == sizeof buf - 1)
            have = 0;  /* a line longer than the buffer: cannot happen */
    }
    close(fd);
}

#endif /* INITMEM_OFF */

void sbx__init_shed_memory(uintptr_t frame, uintptr_t args)
{
#ifndef INITMEM_OFF
    uintptr_t bounds[2] = {0, 0};
    unmap_large(&bounds[0], &bounds[1]);
    /* The stack below this frame (a page of margin under it, for the
     * system call still to come) is dead data for the init, and so are
     * the caller's frames above its own, up to the page of args. */
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), here = (uintptr_t)bounds;
    uintptr_t below = (here & ~(page - 1)) - page;
    if (bounds[0] && below > bounds[0])
        madvise((void *)bounds[0], below - bounds[0], MADV_DONTNEED);
    uintptr_t above = (frame + page - 1) & ~(page - 1), upto = args & ~(page - 1);
    if (frame > here && args > frame && args < bounds[1] && upto > above)
        madvise((void *)above, upto - above, MADV_DONTNEED);
#else
    (void)frame;
    (void)args;
#endif
}
