/* Fuzz target: the unit loader (supervisor/unit.c) on arbitrary text, as a
 * file in conf.d/ could hold. The input, cut at its first NUL as reading a
 * file into a C string would, is parsed as a single unit (instance 0) and
 * as instance 3 of a template ("%i" expanded); the whole text is also
 * split as a command line, and checked as a unit name and a signal (the
 * same functions read the control protocol's "name" and "signal").
 *
 * Beyond what ASan and UBSan catch, it checks unit.h's promises: a unit is
 * refused exactly when there are errors, every error names the file, an
 * accepted unit has a command and a sane restart delay, no "%i" survives
 * expansion, and a split command is a NULL-terminated list of words. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "fuzz.h"
#include "unit.h"

#define FILE_NAME "fuzz.ini"

static void check_strv(const strv *s)
{
    FUZZ_CHECK(s->n == 0 || (s->v && s->n < s->cap && !s->v[s->n]));
    for (size_t i = 0; i < s->n; i++)
        FUZZ_CHECK(s->v[i]);
}

static void parse_as(const char *text, unsigned instance)
{
    unit_def u;
    unit_errors errs = {0};
    int r = unit_parse(FILE_NAME, "web", text, instance, &u, &errs);
    FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
    if (r == -ENOMEM)
        goto out;
    FUZZ_CHECK((r == 0) == (errs.lines.n == 0));
    check_strv(&errs.lines);
    for (size_t i = 0; i < errs.lines.n; i++)
        FUZZ_CHECK(strncmp(errs.lines.v[i], FILE_NAME ":", strlen(FILE_NAME ":")) == 0);
    FUZZ_CHECK(strcmp(u.name, "web") == 0 && u.file && strcmp(u.file, FILE_NAME) == 0);
    FUZZ_CHECK(u.source);
    if (instance)
        FUZZ_CHECK(!strstr(u.source, "%i"));
    else
        FUZZ_CHECK(strcmp(u.source, text) == 0);
    check_strv(&u.requires);
    check_strv(&u.after);
    check_strv(&u.argv);
    check_strv(&u.env);
    if (r == 0) {
        FUZZ_CHECK(u.argv.n > 0);
        FUZZ_CHECK(u.delay_ms <= u.delay_max_ms);
        FUZZ_CHECK(u.nsuccess >= 1 && u.nsuccess <= sizeof u.success_codes / sizeof u.success_codes[0]);
        FUZZ_CHECK(u.stop_signal > 0 && u.stop_signal < NSIG);
        FUZZ_CHECK((unsigned)u.policy <= RESTART_ALWAYS);
        FUZZ_CHECK(unit_def_equal(&u, &u));
        for (size_t i = 0; i < u.requires.n; i++)
            FUZZ_CHECK(unit_name_valid(u.requires.v[i]));
        for (size_t i = 0; i < u.env.n; i++)
            FUZZ_CHECK(u.env.v[i][0] != '=' && strchr(u.env.v[i], '='));
    }
out:
    unit_def_free(&u);
    unit_errors_free(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    parse_as(text, 0);
    parse_as(text, 3);

    strv argv = {0};
    const char *why = NULL;
    int r = unit_split_command(text, &argv, &why);
    FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
    if (r == 0) {
        FUZZ_CHECK(argv.n > 0);
        check_strv(&argv);
        for (size_t i = 0; i < argv.n; i++)
            FUZZ_CHECK(strlen(argv.v[i]) <= strlen(text));
    } else if (r == -EINVAL) {
        FUZZ_CHECK(why && why[0]);
    }
    strv_free(&argv);

    if (unit_name_valid(text))
        FUZZ_CHECK(strlen(text) > 0 && strlen(text) < UNIT_NAME_MAX && !strpbrk(text, " /\n"));
    int sig = sbx_parse_signal(text);
    FUZZ_CHECK(sig == -EINVAL || (sig > 0 && sig < NSIG));

    free(text);
    return 0;
}
