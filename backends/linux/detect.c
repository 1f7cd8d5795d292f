/* Which cgroup hierarchies the host has, where they are mounted, and where
 * the caller sits in each: from /proc/self/mountinfo, /proc/self/cgroup,
 * cgroup.controllers and statfs(/sys/fs/cgroup). The parsers take text. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>

#include "cgroup.h"

static const char *const ctrl_names[SBX_CTRL_COUNT] = {
    [SBX_CTRL_MEMORY] = "memory",
    [SBX_CTRL_CPU] = "cpu",
    [SBX_CTRL_CPUACCT] = "cpuacct",
    [SBX_CTRL_PIDS] = "pids",
    [SBX_CTRL_FREEZER] = "freezer",
};

const char *sbx__ctrl_name(sbx__ctrl c)
{
    return (unsigned)c < SBX_CTRL_COUNT ? ctrl_names[c] : "?";
}

static int ctrl_from_name(const char *name, size_t len)
{
    for (int c = 0; c < SBX_CTRL_COUNT; c++)
        if (strlen(ctrl_names[c]) == len && memcmp(ctrl_names[c], name, len) == 0)
            return c;
    return -1;
}

/* The mask of the controllers named in list[0..len), words split by sep. */
static unsigned mask_of_words(const char *list, size_t len, char sep)
{
    unsigned mask = 0;
    const char *end = list + len;
    while (list < end) {
        const char *w = list;
        while (list < end && *list != sep)
            list++;
        int c = ctrl_from_name(w, (size_t)(list - w));
        if (c >= 0)
            mask |= 1u << c;
        if (list < end)
            list++;
    }
    return mask;
}

unsigned sbx__parse_controllers(const char *text)
{
    size_t len = strcspn(text, "\n");
    return mask_of_words(text, len, ' ');
}

/* Copies a mountinfo field, undoing its octal escapes (\040 is a space). */
static void copy_unescaped(char *dst, size_t size, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        if (src[i] == '\\' && i + 3 < len &&
            src[i + 1] >= '0' && src[i + 1] <= '3') {
            dst[o++] = (char)((src[i + 1] - '0') * 64 + (src[i + 2] - '0') * 8 +
                              (src[i + 3] - '0'));
            i += 3;
        } else {
            dst[o++] = src[i];
        }
    }
    dst[o] = '\0';
}

/* Splits one line into space-separated fields; returns how many. */
static int split_fields(const char *line, size_t len, const char **f, size_t *flen, int max)
{
    int n = 0;
    const char *p = line, *end = line + len;
    while (p < end && n < max) {
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        f[n] = p;
        while (p < end && *p != ' ')
            p++;
        flen[n] = (size_t)(p - f[n]);
        n++;
    }
    return n;
}

static void set_mount(sbx__hier *h, const char *root, size_t rlen,
                      const char *point, size_t plen)
{
    if (h->mount[0])
        return;  /* the first mount of a hierarchy wins */
    copy_unescaped(h->mount, sizeof h->mount, point, plen);
    copy_unescaped(h->mount_root, sizeof h->mount_root, root, rlen);
}

static int parse_mount_line(const char *line, size_t len, sbx__layout *lay)
{
    const char *f[64];
    size_t fl[64];
    int n = split_fields(line, len, f, fl, 64);
    int dash = -1;
    for (int i = 6; i < n; i++)
        if (fl[i] == 1 && f[i][0] == '-') {
            dash = i;
            break;
        }
    if (n < 10 || dash < 0 || dash + 3 >= n + 1 || dash + 2 >= n)
        return -EINVAL;
    const char *fstype = f[dash + 1];
    size_t tlen = fl[dash + 1];
    if (tlen == 7 && memcmp(fstype, "cgroup2", 7) == 0) {
        set_mount(&lay->v2, f[3], fl[3], f[4], fl[4]);
    } else if (tlen == 6 && memcmp(fstype, "cgroup", 6) == 0 && dash + 3 < n) {
        unsigned mask = mask_of_words(f[dash + 3], fl[dash + 3], ',');
        for (int c = 0; c < SBX_CTRL_COUNT; c++)
            if (mask & (1u << c)) {
                set_mount(&lay->v1[c], f[3], fl[3], f[4], fl[4]);
                lay->v1_mask |= 1u << c;
            }
    }
    return 0;
}

int sbx__parse_mountinfo(const char *text, sbx__layout *lay)
{
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        if (len > 0 && parse_mount_line(p, len, lay) < 0)
            return -EINVAL;
        p += len;
        if (*p == '\n')
            p++;
    }
    return 0;
}

/* Lines "ID:CONTROLLERS:PATH"; ID 0 with empty controllers is v2. */
int sbx__parse_proc_cgroup(const char *text, sbx__layout *lay)
{
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        const char *c1 = memchr(p, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - p)) : NULL;
        if (len > 0 && !c2)
            return -EINVAL;
        if (c2) {
            const char *path = c2 + 1;
            size_t plen = len - (size_t)(path - p);
            size_t clen = (size_t)(c2 - c1 - 1);
            if (clen == 0 && c1 - p == 1 && p[0] == '0') {
                copy_unescaped(lay->v2.self, sizeof lay->v2.self, path, plen);
            } else {
                unsigned mask = mask_of_words(c1 + 1, clen, ',');
                for (int c = 0; c < SBX_CTRL_COUNT; c++)
                    if (mask & (1u << c))
                        copy_unescaped(lay->v1[c].self, sizeof lay->v1[c].self, path, plen);
            }
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    return 0;
}

sbx_cgroup_mode sbx__decide_mode(const sbx__layout *lay, unsigned long fs_type)
{
    if (fs_type == SBX_CGROUP2_MAGIC && lay->v2.mount[0])
        return SBX_CGROUP_V2;
    if (lay->v1_mask)
        return lay->v2.mount[0] ? SBX_CGROUP_HYBRID : SBX_CGROUP_V1;
    return lay->v2.mount[0] ? SBX_CGROUP_V2 : SBX_CGROUP_NONE;
}

int sbx__hier_self_dir(const sbx__hier *h, char *buf, size_t len)
{
    const char *self = h->self;
    size_t rlen = strlen(h->mount_root);
    /* In a cgroup namespace or a bind mount, the mount shows a subtree:
     * strip its root from our path. */
    if (rlen > 1 && strncmp(self, h->mount_root, rlen) == 0)
        self += rlen;
    int n = snprintf(buf, len, "%s%s%s", h->mount, *self == '/' ? "" : "/", self);
    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    size_t l = strlen(buf);
    if (l > 1 && buf[l - 1] == '/')
        buf[l - 1] = '\0';
    return 0;
}

static int read_text(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, len - 1, f);
    int r = ferror(f) ? -EIO : 0;
    fclose(f);
    buf[n] = '\0';
    if (r == 0 && n == len - 1)
        r = -EFBIG;
    return r;
}

int sbx__detect(sbx__layout *lay, sbx_error *err)
{
    static char text[1 << 17];
    memset(lay, 0, sizeof *lay);
    int r = read_text("/proc/self/mountinfo", text, sizeof text);
    if (r < 0 || sbx__parse_mountinfo(text, lay) < 0)
        return sbx_error_set(err, r < 0 ? r : -EINVAL, "cannot read /proc/self/mountinfo");
    r = read_text("/proc/self/cgroup", text, sizeof text);
    if (r < 0 || sbx__parse_proc_cgroup(text, lay) < 0)
        return sbx_error_set(err, r < 0 ? r : -EINVAL, "cannot read /proc/self/cgroup");
    struct statfs sfs;
    unsigned long fs_type = statfs("/sys/fs/cgroup", &sfs) == 0 ? (unsigned long)sfs.f_type : 0;
    lay->mode = sbx__decide_mode(lay, fs_type);
    if (lay->v2.mount[0]) {
        char dir[PATH_MAX];
        char ctl[512];
        if (sbx__hier_self_dir(&lay->v2, dir, sizeof dir) == 0 &&
            sbx__read_file(dir, "cgroup.controllers", ctl, sizeof ctl) >= 0)
            lay->v2_mask = sbx__parse_controllers(ctl);
        /* cpuacct's figures live in v2's cpu controller. */
        if (lay->v2_mask & (1u << SBX_CTRL_CPU))
            lay->v2_mask |= 1u << SBX_CTRL_CPUACCT;
    }
    return 0;
}

sbx_cgroup_mode sbx_detect_cgroup_mode(void)
{
    sbx__layout lay;
    return sbx__detect(&lay, NULL) == 0 ? lay.mode : SBX_CGROUP_NONE;
}
