/* The HTTP listener's settings: the address to listen on and the token. */
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_MAX 4096

static int parse_port(const char *text, uint16_t *port)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (!*text || *end || errno || v > 65535 || text[0] == '-' || text[0] == '+')
        return -EINVAL;
    *port = (uint16_t)v;
    return 0;
}

/* "ADDR:PORT", "[V6]:PORT", "localhost:PORT" or "PORT"; numbers only, no
 * name lookup (sbxd must not wait on DNS while starting). */
int http_parse_listen(const char *text, struct sockaddr_storage *sa, char *err, size_t errlen)
{
    char host[64] = "127.0.0.1";
    const char *port = text;
    const char *colon = strrchr(text, ':');
    if (colon) {
        const char *h = text;
        size_t n = (size_t)(colon - text);
        if (n >= 2 && h[0] == '[' && h[n - 1] == ']')
            h++, n -= 2;
        if (n == 0 || n >= sizeof host)
            goto bad;
        memcpy(host, h, n);
        host[n] = '\0';
        port = colon + 1;
    }
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    uint16_t p;
    if (parse_port(port, &p))
        goto bad;
    memset(sa, 0, sizeof *sa);
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(p);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(p);
    } else {
        goto bad;
    }
    return 0;
bad:
    snprintf(err, errlen, "'%s': expected ADDRESS:PORT, [IPV6]:PORT or PORT (numeric address)", text);
    return -EINVAL;
}

bool http_is_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    return sa->ss_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* What is wrong with a token file, or NULL. */
static const char *token_file_problem(const struct stat *st, ssize_t n)
{
    if (!S_ISREG(st->st_mode))
        return "not a regular file";
    if (st->st_mode & 077)
        return "readable by others or its group (chmod 600)";
    if (st->st_uid != geteuid())
        return "not owned by the user sbxd runs as (chown)";
    if (n < 0)
        return "cannot read";
    return n > TOKEN_MAX ? "longer than 4096 bytes" : NULL;
}

/* The token is the file's first line, without trailing blanks. A file
 * others may read, or one another user owns (and may loosen later), would
 * hand the token to units running as other users: refused. */
int http_read_token(const char *path, char **token, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    char *buf = malloc(TOKEN_MAX + 1);
    ssize_t n = -1;
    if (buf && !token_file_problem(&st, 0))
        n = read(fd, buf, TOKEN_MAX + 1);
    close(fd);
    const char *why = buf ? token_file_problem(&st, n) : "out of memory";
    size_t l = 0;
    if (!why) {
        buf[n] = '\0';  /* n <= TOKEN_MAX: buf has room */
        l = strcspn(buf, "\r\n");
        buf[l] = '\0';
        while (l && (buf[l - 1] == ' ' || buf[l - 1] == '\t'))
            buf[--l] = '\0';
        why = l < 16 ? "token shorter than 16 characters" : NULL;
    }
    if (why) {
        snprintf(err, errlen, "%s: %s", path, why);
        free(buf);
        return -EINVAL;
    }
    *token = buf;
    *len = l;
    return 0;
}
