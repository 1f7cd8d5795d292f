/* Whether a control peer runs inside one of sbxd's units (peer_cgroup.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "peer_cgroup.h"
#include "procfs.h"

#define LEAF "/sbx-supervisor"  /* backends/linux/cgroup2.c: sbxd's own leaf */

/* The line of text for hierarchy `key` ("4:memory:", "0::"): its path, with
 * its length in *len, or NULL. */
static const char *path_of(const char *text, const char *key, size_t klen, size_t *len)
{
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (strncmp(l, key, klen) == 0) {
            *len = strcspn(l + klen, "\n");
            return l + klen;
        }
    return NULL;
}

/* Whether p (length n) is base (length bn) + "/" + root, or below it. */
static bool below(const char *p, size_t n, const char *base, size_t bn, const char *root)
{
    if (bn == 1 && base[0] == '/')
        bn = 0;  /* sbxd at the hierarchy's root */
    size_t rn = strlen(root), full = bn + 1 + rn;
    return n >= full && strncmp(p, base, bn) == 0 && p[bn] == '/' &&
           strncmp(p + bn + 1, root, rn) == 0 && (n == full || p[full] == '/');
}

static bool line_in_units(const char *line, size_t n, const char *own, const char *root)
{
    /* The key: "ID:controllers:" */
    const char *c1 = memchr(line, ':', n);
    const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;
    if (!c2)
        return false;
    size_t klen = (size_t)(c2 + 1 - line), olen;
    const char *o = path_of(own, line, klen, &olen);
    if (!o)
        return false;
    const char *p = c2 + 1;
    size_t plen = n - klen, leaf = strlen(LEAF);
    if (below(p, plen, o, olen, root))
        return true;
    return olen > leaf && strncmp(o + olen - leaf, LEAF, leaf) == 0 &&
           below(p, plen, o, olen - leaf, root);
}

bool peer_cgroup_in_units(const char *peer, const char *own, const char *root)
{
    if (!root || !*root)
        return false;
    for (const char *l = peer; l && *l; ) {
        size_t n = strcspn(l, "\n");
        if (line_in_units(l, n, own, root))
            return true;
        l = l[n] ? l + n + 1 : NULL;
    }
    return false;
}

int peer_cgroup_check(pid_t pid, const char *base, const char *root)
{
    char path[64], peer[4096], own[4096];
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    if (base)
        snprintf(own, sizeof own, "0::%s\n", base);
    else if (procfs_read("/proc/self/cgroup", own, sizeof own) <= 0)
        return 1;
    if (procfs_read(path, peer, sizeof peer) <= 0)
        return 1;
    return peer_cgroup_in_units(peer, own, root) ? 1 : 0;
}
