/* The process's arguments and environment in UTF-8: what libsbx takes on
 * Windows as everywhere. The C runtime's argv and environ use the ANSI code
 * page, which loses every character it cannot show. */
#include <windows.h>
#include <shellapi.h>
#include <stdlib.h>

#include "sbx.h"

static char *utf8(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = n > 0 ? malloc((size_t)n) : NULL;
    if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
        free(s);
        s = NULL;
    }
    return s;
}

/* A NULL-terminated copy of n wide strings; NULL when out of memory. */
static char **utf8_list(wchar_t *const *w, size_t n)
{
    char **v = calloc(n + 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        if (!(v[i] = utf8(w[i]))) {
            while (i > 0)
                free(v[--i]);
            free(v);
            v = NULL;
        }
    return v;
}

char **sbx_utf8_argv(int *argc)
{
    static char **argv;
    static int n;
    if (!argv) {
        wchar_t **w = CommandLineToArgvW(GetCommandLineW(), &n);
        if (!w || !(argv = utf8_list(w, (size_t)n)))
            abort();  /* at start-up, with no memory for the arguments */
        LocalFree(w);
    }
    *argc = n;
    return argv;
}

char **sbx_utf8_environ(void)
{
    static char **env;
    if (env)
        return env;
    wchar_t *block = GetEnvironmentStringsW();
    size_t n = 0;
    for (wchar_t *p = block; p && *p; p += wcslen(p) + 1)
        n++;
    wchar_t **vars = calloc(n + 1, sizeof *vars);
    size_t k = 0;
    for (wchar_t *p = block; vars && p && *p; p += wcslen(p) + 1)
        if (*p != L'=')  /* "=C:=C:\dir": the shell's per-drive directories */
            vars[k++] = p;
    env = vars ? utf8_list(vars, k) : NULL;
    free(vars);
    FreeEnvironmentStringsW(block);
    if (!env)
        abort();
    return env;
}
