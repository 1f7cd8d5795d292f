/* Small /proc files (Linux). */
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int procfs_read(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    ssize_t n = 0;
    while (len + 1 < size) {
        n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    int err = n < 0 ? -errno : 0;
    close(fd);
    buf[len] = '\0';
    return err ? err : (int)len;
}

int procfs_stat_field(const char *stat, int field, unsigned long long *v)
{
    const char *p = strrchr(stat, ')');
    if (!p || field < 3)
        return -EINVAL;
    p++;
    for (int at = 3; at < field; at++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -EINVAL;
        p += strcspn(p, " ");
    }
    char *end;
    errno = 0;
    unsigned long long value = strtoull(p, &end, 10);
    if (end == p || errno || (*end && *end != ' ' && *end != '\n'))
        return -EINVAL;
    *v = value;
    return 0;
}
