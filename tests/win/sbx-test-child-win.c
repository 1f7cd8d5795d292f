/* sbx-test-child-win: the target the Windows tests run under sbx-run.exe.
 * Verbs run in order, each with a fixed number of arguments:
 *
 *   out TEXT        TEXT and a newline on stdout
 *   err TEXT        TEXT and a newline on stderr
 *   env NAME        NAME=value (or NAME unset) on stdout
 *   cwd             the working directory on stdout
 *   injob           "injob 1" when this process is in a job, else "injob 0"
 *   spawn MS        starts a copy of itself that sleeps MS ms, prints
 *                   "child PID injob N"; the copy is not waited for
 *   spawntouch MS PATH  starts a copy of itself that sleeps MS ms and then
 *                   creates PATH; the copy is not waited for
 *   touch PATH      creates PATH
 *   spawnmany N     tries to start N sleeping copies, prints "started K"
 *                   and "refused R" (those CreateProcess refused) and
 *                   "alive A" (those still running 500 ms later)
 *   sleep MS        sleeps
 *   alloc MB        commits and touches MB megabytes, prints "allocated MB"
 *                   or exits 3 when the allocation is refused
 *   crash           an access violation (exit code 0xC0000005)
 *   exit N          exits with N (without a verb, the program exits 0)
 *   stdin           copies stdin to stdout
 *   out8 TEXT       TEXT (from the wide command line) in UTF-8 and a newline
 *   env8 NAME       NAME=value from the wide environment, in UTF-8
 *   pipe-sddl PATH  opens the named pipe PATH, prints its DACL as SDDL
 *                   (or "open failed N" / "query failed N") */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <shellapi.h>

static HANDLE start_copy(const char *verb, const char *arg)
{
    char self[MAX_PATH], cmd[3 * MAX_PATH];
    GetModuleFileNameA(NULL, self, sizeof self);
    snprintf(cmd, sizeof cmd, "\"%s\" %s %s", self, verb, arg);
    STARTUPINFOA si = {sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
        return NULL;
    CloseHandle(pi.hThread);
    return pi.hProcess;
}

static void v_spawn(const char *ms)
{
    HANDLE h = start_copy("sleep", ms);
    BOOL in = FALSE;
    if (h)
        IsProcessInJob(h, NULL, &in);
    printf("child %lu injob %d\n", h ? (unsigned long)GetProcessId(h) : 0ul, in ? 1 : 0);
}

static void v_spawntouch(const char *ms, const char *path)
{
    char arg[2 * MAX_PATH];
    snprintf(arg, sizeof arg, "%s touch \"%s\"", ms, path);
    HANDLE h = start_copy("sleep", arg);
    printf("spawned %d\n", h != NULL);
}

static void v_spawnmany(const char *count)
{
    int n = atoi(count), started = 0, refused = 0, alive = 0;
    HANDLE h[64];
    for (int i = 0; i < n && i < 64; i++)
        if ((h[started] = start_copy("sleep", "5000")))
            started++;
        else
            refused++;
    Sleep(500);
    for (int i = 0; i < started; i++)
        alive += WaitForSingleObject(h[i], 0) == WAIT_TIMEOUT;
    printf("started %d\nrefused %d\nalive %d\n", started, refused, alive);
}

static void v_alloc(const char *mb)
{
    SIZE_T size = (SIZE_T)atoi(mb) << 20;
    char *p = VirtualAlloc(NULL, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if (!p)
        exit(3);
    memset(p, 1, size);
    printf("allocated %s\n", mb);
}

/* Ends the process with the exception's code, as Windows does for an
 * unhandled exception, without the post-mortem debugger wine would start. */
static LONG WINAPI no_debugger(EXCEPTION_POINTERS *e)
{
    (void)e;
    return EXCEPTION_EXECUTE_HANDLER;
}

static void v_stdin(void)
{
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        fwrite(buf, 1, n, stdout);
}

static void v_pipe_sddl(const char *path)
{
    HANDLE h = CreateFileA(path, READ_CONTROL | GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        printf("open failed %lu\n", GetLastError());
        return;
    }
    PSECURITY_DESCRIPTOR sd = NULL;
    char *text = NULL;
    DWORD e = GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, NULL,
                              NULL, &sd);
    if (e == ERROR_SUCCESS &&
        ConvertSecurityDescriptorToStringSecurityDescriptorA(sd, SDDL_REVISION_1,
                                                             DACL_SECURITY_INFORMATION, &text,
                                                             NULL))
        printf("%s\n", text);
    else
        printf("query failed %lu\n", e ? e : GetLastError());
    LocalFree(text);
    LocalFree(sd);
    CloseHandle(h);
}

static void v_out8(int i)
{
    int n;
    wchar_t **w = CommandLineToArgvW(GetCommandLineW(), &n);
    char s[4096];
    if (w && i < n && WideCharToMultiByte(CP_UTF8, 0, w[i], -1, s, sizeof s, NULL, NULL) > 0)
        printf("%s\n", s);
    LocalFree(w);
}

static void v_env8(const char *name)
{
    wchar_t wname[256], value[4096];
    char s[3 * 4096];
    MultiByteToWideChar(CP_UTF8, 0, name, -1, wname, 256);
    if (!GetEnvironmentVariableW(wname, value, 4096)) {
        printf("%s unset\n", name);
        return;
    }
    WideCharToMultiByte(CP_UTF8, 0, value, -1, s, sizeof s, NULL, NULL);
    printf("%s=%s\n", name, s);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *v = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (strcmp(v, "out") == 0 && a)
            printf("%s\n", a);
        else if (strcmp(v, "err") == 0 && a)
            fprintf(stderr, "%s\n", a);
        else if (strcmp(v, "env") == 0 && a)
            getenv(a) ? printf("%s=%s\n", a, getenv(a)) : printf("%s unset\n", a);
        else if (strcmp(v, "cwd") == 0) {
            char d[MAX_PATH];
            GetCurrentDirectoryA(sizeof d, d);
            printf("%s\n", d);
            used = 0;
        } else if (strcmp(v, "injob") == 0) {
            BOOL in = FALSE;
            IsProcessInJob(GetCurrentProcess(), NULL, &in);
            printf("injob %d\n", in ? 1 : 0);
            used = 0;
        } else if (strcmp(v, "spawn") == 0 && a)
            v_spawn(a);
        else if (strcmp(v, "spawntouch") == 0 && a && i + 2 < argc) {
            v_spawntouch(a, argv[i + 2]);
            used = 2;
        } else if (strcmp(v, "touch") == 0 && a) {
            FILE *f = fopen(a, "w");
            if (!f)
                return 1;
            fclose(f);
        } else if (strcmp(v, "spawnmany") == 0 && a)
            v_spawnmany(a);
        else if (strcmp(v, "sleep") == 0 && a)
            Sleep((DWORD)atoi(a));
        else if (strcmp(v, "alloc") == 0 && a)
            v_alloc(a);
        else if (strcmp(v, "crash") == 0) {
            fflush(NULL);
            SetUnhandledExceptionFilter(no_debugger);
            RaiseException(EXCEPTION_ACCESS_VIOLATION, EXCEPTION_NONCONTINUABLE, 0, NULL);
        } else if (strcmp(v, "exit") == 0 && a) {
            fflush(NULL);
            exit(atoi(a));
        } else if (strcmp(v, "env8") == 0 && a) {
            v_env8(a);
        } else if (strcmp(v, "out8") == 0 && a) {
            v_out8(i + 1);
        } else if (strcmp(v, "pipe-sddl") == 0 && a) {
            v_pipe_sddl(a);
        } else if (strcmp(v, "stdin") == 0) {
            v_stdin();
            used = 0;
        } else {
            fprintf(stderr, "sbx-test-child-win: bad verb '%s'\n", v);
            return 2;
        }
        fflush(NULL);
        i += used;
    }
    return 0;
}
