/* sbx-import-supervisord FILE [-o DIR] [--force]: a supervisord
 * configuration (and its [include] files) as sbx units, one NAME.ini per
 * process, in DIR (or on stdout); every setting not carried over is listed
 * on stderr as FILE:LINE: [section] key: what to do. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert.h"

static const char usage[] =
    "usage: sbx-import-supervisord FILE [-o DIR] [--force]\n"
    "  FILE          supervisord's configuration (its [include] files are read too)\n"
    "  -o, --output DIR  write one unit per process, DIR/NAME.ini (default: print them)\n"
    "  -f, --force   replace units that exist in DIR\n"
    "Settings that are not carried over are listed on stderr as\n"
    "FILE:LINE: [section] key: what to do. Exit status: 0 converted, 1 errors, 2 usage.\n";

static int write_unit(const char *dir, unit_out *u, bool force)
{
    char *path = xasprintf("%s/%s.ini%s", dir, u->name, u->todo ? ".todo" : "");
    char *text = unit_text(u);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | (force ? 0 : O_EXCL), 0644);
    int r = 0;
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        fprintf(stderr, "sbx-import-supervisord: %s: %s%s\n", path, strerror(errno),
                errno == EEXIST ? " (--force replaces it)" : "");
        r = -1;
    }
    if (fd >= 0)
        close(fd);
    free(text);
    free(path);
    return r;
}

static int write_units(units *out, const char *dir, bool force)
{
    int r = 0;
    if (dir && mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "sbx-import-supervisord: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < out->n; i++) {
        if (dir) {
            r |= write_unit(dir, &out->v[i], force);
        } else {
            char *text = unit_text(&out->v[i]);
            printf("%s; ---- %s.ini%s\n%s", i ? "\n" : "", out->v[i].name,
                   out->v[i].todo ? ".todo" : "", text);
            free(text);
        }
    }
    return r;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "o:fh", longs, NULL)) != -1) {
        switch (c) {
        case 'o': dir = optarg; break;
        case 'f': force = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        fputs(usage, stderr);
        return 2;
    }
    sv_conf conf = {0};
    notes n = {0};
    units out = {0};
    if (sv_read(&conf, argv[optind], &n) == 0)
        convert_conf(&conf, &out, &n);
    int bad = write_units(&out, dir, force) < 0;
    notes_sort(&n, conf.files, conf.nfiles);
    for (size_t i = 0; i < n.n; i++)
        fprintf(stderr, "%s\n", n.lines[i]);
    size_t todo = 0;
    for (size_t i = 0; i < out.n; i++)
        todo += out.v[i].todo;
    fprintf(stderr, "sbx-import-supervisord: %zu unit(s)%s%s, %zu to finish by hand (.ini.todo), "
            "%zu note(s), %u error(s)\n", out.n, dir ? " written to " : "", dir ? dir : "",
            todo, n.n - n.errors, n.errors);
    units_free(&out);
    sv_free(&conf);
    bad |= n.errors > 0;
    notes_free(&n);
    return bad ? 1 : 0;
}
