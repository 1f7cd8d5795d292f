/* Spawning on Windows: the process is created suspended (inside its job
 * already where the system takes a job list at creation), assigned to the
 * box's job, and only then resumed, so its first instruction runs under
 * the job's limits. Only its three standard handles are inherited. */
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

#include "win.h"

int sbx__win_errno(DWORD error)
{
    switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
        return -ENOENT;
    case ERROR_DIRECTORY:
        return -ENOTDIR;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
        return -EACCES;
    case ERROR_BAD_EXE_FORMAT:
    case ERROR_EXE_MACHINE_TYPE_MISMATCH:
        return -ENOEXEC;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_NOT_ENOUGH_QUOTA:
        return -ENOMEM;
    case ERROR_INVALID_PARAMETER:
        return -EINVAL;
    case ERROR_NOT_SUPPORTED:
    case ERROR_CALL_NOT_IMPLEMENTED:
        return -EOPNOTSUPP;
    default:
        return -EIO;
    }
}

const char *sbx__win_strerror(DWORD error)
{
    static char buf[256];
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             error, 0, buf, sizeof buf, NULL);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '.'))
        buf[--n] = '\0';
    if (n == 0)
        snprintf(buf, sizeof buf, "error %lu", (unsigned long)error);
    return buf;
}

/* ---- text: UTF-8 in, UTF-16 out ---- */

typedef struct wbuf {
    wchar_t *s;
    size_t len, cap;
} wbuf;

static bool wbuf_put(wbuf *b, const wchar_t *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        wchar_t *p = realloc(b->s, cap * sizeof *p);
        if (!p)
            return false;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n * sizeof *s);
    b->len += n;
    b->s[b->len] = 0;
    return true;
}

static bool wbuf_utf8(wbuf *b, const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    if (n <= 0)
        return false;
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (!w)
        return false;
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    bool ok = wbuf_put(b, w, (size_t)n - 1);
    free(w);
    return ok;
}

static wchar_t *utf16(const char *s)
{
    wbuf b = {0};
    if (!wbuf_utf8(&b, s)) {  /* "" still allocates: a put of 0 characters */
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* One argument quoted so that CommandLineToArgvW (and the C runtime) give
 * it back unchanged: backslashes are literal except before a quote. */
static bool quote_arg(wbuf *b, const wchar_t *a)
{
    if (*a && !wcspbrk(a, L" \t\n\v\""))
        return wbuf_put(b, a, wcslen(a));
    bool ok = wbuf_put(b, L"\"", 1);
    for (const wchar_t *p = a;; p++) {
        size_t slashes = 0;
        while (*p == L'\\') {
            p++;
            slashes++;
        }
        size_t twice = *p == L'"' || !*p ? 2 : 1;  /* before a quote or the end */
        for (size_t i = 0; i < slashes * twice; i++)
            ok = ok && wbuf_put(b, L"\\", 1);
        if (!*p)
            break;
        if (*p == L'"')
            ok = ok && wbuf_put(b, L"\\", 1);
        ok = ok && wbuf_put(b, p, 1);
    }
    return ok && wbuf_put(b, L"\"", 1);
}

static wchar_t *command_line(char *const *argv)
{
    wbuf b = {0};
    for (size_t i = 0; argv[i]; i++) {
        wchar_t *a = utf16(argv[i]);
        bool ok = a && (i == 0 || wbuf_put(&b, L" ", 1)) && quote_arg(&b, a);
        free(a);
        if (!ok) {
            free(b.s);
            return NULL;
        }
    }
    return b.s;
}

/* ---- the environment block ---- */

static int env_name_cmp(const void *x, const void *y)
{
    const wchar_t *a = *(wchar_t *const *)x, *b = *(wchar_t *const *)y;
    for (;; a++, b++) {
        wchar_t ca = *a == L'=' ? 0 : towupper(*a), cb = *b == L'=' ? 0 : towupper(*b);
        if (ca != cb || !ca)
            return (ca > cb) - (ca < cb);
    }
}

static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++)
        if (_strnicmp(envp[i], name, n) == 0 && envp[i][n] == '=')
            return envp[i] + n + 1;
    return NULL;
}

/* The sorted block Windows wants. SYSTEMROOT is added from ours when the
 * child's lacks it: without it even Winsock fails to start. */
static wchar_t *env_block(char *const *envp)
{
    size_t n = 0;
    while (envp && envp[n])
        n++;
    char sysroot[MAX_PATH + 16] = "";
    const char *ours = getenv("SYSTEMROOT");
    if (!env_get(envp, "SYSTEMROOT") && ours)
        snprintf(sysroot, sizeof sysroot, "SYSTEMROOT=%s", ours);
    wchar_t **vars = calloc(n + 2, sizeof *vars);
    size_t k = 0;
    bool ok = vars != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (vars[k++] = utf16(envp[i])) != NULL;
    if (ok && sysroot[0])
        ok = (vars[k++] = utf16(sysroot)) != NULL;
    wbuf b = {0};
    if (ok) {
        qsort(vars, k, sizeof *vars, env_name_cmp);
        for (size_t i = 0; ok && i < k; i++)
            ok = wbuf_put(&b, vars[i], wcslen(vars[i]) + 1);
        ok = ok && wbuf_put(&b, L"\0", 1);
    }
    for (size_t i = 0; vars && i < k; i++)
        free(vars[i]);
    free(vars);
    if (!ok) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---- finding the program in the child's PATH ---- */

static bool is_file(const wchar_t *path)
{
    DWORD a = GetFileAttributesW(path);
    return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

/* dir\name, then dir\name.exe and .com when the name has no extension. */
static wchar_t *try_dir(const char *dir, size_t dlen, const char *name)
{
    static const char *const ext[] = {"", ".exe", ".com"};
    bool has_ext = strrchr(name, '.') > strrchr(name, '\\') && strrchr(name, '.') > strrchr(name, '/');
    for (size_t i = 0; i < (has_ext ? 1u : 3u); i++) {
        char path[MAX_PATH * 2];
        snprintf(path, sizeof path, "%.*s%s%s%s", (int)dlen, dir,
                 dlen && !strchr("\\/", dir[dlen - 1]) ? "\\" : "", name, ext[i]);
        wchar_t *w = utf16(path);
        if (w && is_file(w))
            return w;
        free(w);
    }
    return NULL;
}

static wchar_t *find_program(const char *name, char *const *envp)
{
    if (strpbrk(name, "\\/:"))
        return try_dir("", 0, name);
    const char *path = env_get(envp, "PATH");
    for (const char *p = path; p && *p;) {
        size_t len = strcspn(p, ";");
        wchar_t *w = len ? try_dir(p, len, name) : NULL;
        if (w)
            return w;
        p += len + (p[len] == ';');
    }
    return NULL;
}

/* ---- standard handles ---- */

struct stdio_plan {
    HANDLE child[3];  /* inheritable, ours to close */
};

static HANDLE inheritable(HANDLE h)
{
    HANDLE dup = NULL;
    if (h && h != INVALID_HANDLE_VALUE &&
        DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0, TRUE,
                        DUPLICATE_SAME_ACCESS))
        return dup;
    return NULL;
}

static HANDLE open_for(const wchar_t *path, int i)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    return CreateFileW(path, i == 0 ? GENERIC_READ : FILE_APPEND_DATA,
                       FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa,
                       i == 0 ? OPEN_EXISTING : OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
}

static int open_stdio(const sbx_command *cmd, struct stdio_plan *sp, sbx_process *proc,
                      sbx_error *err)
{
    for (int i = 0; i < 3; i++) {
        const sbx_stdio *s = &cmd->stdio[i];
        HANDLE h = NULL;
        switch (s->kind) {
        case SBX_STDIO_INHERIT:
            h = inheritable(GetStdHandle(i == 0 ? STD_INPUT_HANDLE : i == 1 ? STD_OUTPUT_HANDLE
                                                                            : STD_ERROR_HANDLE));
            break;
        case SBX_STDIO_FD:
            h = inheritable((HANDLE)_get_osfhandle(s->fd));
            break;
        case SBX_STDIO_NULL:
        case SBX_STDIO_FILE: {
            wchar_t *w = utf16(s->kind == SBX_STDIO_NULL ? "NUL" : s->path);
            h = w ? open_for(w, i) : INVALID_HANDLE_VALUE;
            free(w);
            if (h == INVALID_HANDLE_VALUE) {
                DWORD e = GetLastError();
                return sbx_error_set(err, sbx__win_errno(e), "stdio: open %s: %s",
                                     s->kind == SBX_STDIO_NULL ? "NUL" : s->path,
                                     sbx__win_strerror(e));
            }
            break;
        }
        case SBX_STDIO_PIPE: {
            HANDLE r, w;
            SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
            if (!CreatePipe(&r, &w, &sa, 0)) {
                DWORD e = GetLastError();
                return sbx_error_set(err, sbx__win_errno(e), "stdio: pipe: %s", sbx__win_strerror(e));
            }
            HANDLE mine = i == 0 ? w : r;
            h = inheritable(i == 0 ? r : w);
            CloseHandle(i == 0 ? r : w);
            proc->stdio_fd[i] = _open_osfhandle((intptr_t)mine, i == 0 ? _O_WRONLY : _O_RDONLY);
            break;
        }
        }
        sp->child[i] = h;
    }
    return 0;
}

static void close_stdio(struct stdio_plan *sp)
{
    for (int i = 0; i < 3; i++)
        if (sp->child[i])
            CloseHandle(sp->child[i]);
}

/* ---- the spawn ---- */

static int fail(sbx_process *proc, sbx_stage stage, int neg_errno, sbx_error *err,
                const char *what, DWORD error)
{
    proc->failed_stage = stage;
    proc->failed_errno = -neg_errno;
    return sbx_error_set(err, neg_errno, "%s: %s", what, sbx__win_strerror(error));
}

/* Only the three standard handles go to the child, and (where the system
 * can) the job: with both in the attribute list. */
static LPPROC_THREAD_ATTRIBUTE_LIST attributes(HANDLE *handles, DWORD nhandles, HANDLE *job)
{
    SIZE_T size = 0;
    InitializeProcThreadAttributeList(NULL, 2, 0, &size);
    LPPROC_THREAD_ATTRIBUTE_LIST list = malloc(size);
    if (!list || !InitializeProcThreadAttributeList(list, 2, 0, &size)) {
        free(list);
        return NULL;
    }
    if (nhandles)
        UpdateProcThreadAttribute(list, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, handles,
                                  nhandles * sizeof *handles, NULL, NULL);
    if (job)
        UpdateProcThreadAttribute(list, 0, PROC_THREAD_ATTRIBUTE_JOB_LIST, job, sizeof *job,
                                  NULL, NULL);
    return list;
}

static BOOL create(wchar_t *app, wchar_t *cmdline, wchar_t *env, wchar_t *cwd, DWORD flags,
                   struct stdio_plan *sp, HANDLE *job, PROCESS_INFORMATION *pi)
{
    HANDLE handles[3];
    DWORD n = 0;
    for (int i = 0; i < 3; i++) {
        bool seen = false;
        for (DWORD j = 0; j < n; j++)
            seen |= handles[j] == sp->child[i];
        if (sp->child[i] && !seen)
            handles[n++] = sp->child[i];
    }
    STARTUPINFOEXW si;
    memset(&si, 0, sizeof si);
    si.StartupInfo.cb = sizeof si;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = sp->child[0];
    si.StartupInfo.hStdOutput = sp->child[1];
    si.StartupInfo.hStdError = sp->child[2];
    si.lpAttributeList = attributes(handles, n, job);
    if (!si.lpAttributeList)
        return FALSE;
    BOOL ok = CreateProcessW(app, cmdline, NULL, NULL, n > 0,
                             flags | CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT |
                                 EXTENDED_STARTUPINFO_PRESENT,
                             env, cwd, &si.StartupInfo, pi);
    DWORD e = GetLastError();
    DeleteProcThreadAttributeList(si.lpAttributeList);
    free(si.lpAttributeList);
    SetLastError(e);
    return ok;
}

static int check_supported(sbx_box *box, const sbx_command *cmd, sbx_process *proc,
                           sbx_error *err)
{
    const sbx_isolation *iso = cmd->iso;
    if (cmd->set_ids) {
        proc->failed_stage = SBX_STAGE_USER;
        proc->failed_errno = EOPNOTSUPP;
        return sbx_error_set(err, -EOPNOTSUPP, "user: switching users is not supported on Windows");
    }
    if (iso && sbx_isolation_wanted(iso) && !(box->flags & SBX_BEST_EFFORT)) {
        proc->failed_stage = SBX_STAGE_SANDBOX;
        proc->failed_errno = EOPNOTSUPP;
        return sbx_error_set(err, -EOPNOTSUPP, "sandbox: filesystem, network and namespace "
                             "isolation are not available on Windows");
    }
    return 0;
}

int sbx_spawn(sbx_box *box, const sbx_command *cmd, sbx_process *proc, sbx_error *err)
{
    memset(proc, 0, sizeof *proc);
    proc->report_fd = -1;
    for (int i = 0; i < 3; i++)
        proc->stdio_fd[i] = -1;
    int r = check_supported(box, cmd, proc, err);
    if (r < 0)
        return r;
    struct stdio_plan sp = {{NULL, NULL, NULL}};
    wchar_t *app = NULL, *line = NULL, *env = NULL, *cwd = NULL;
    PROCESS_INFORMATION pi = {0};
    if (cmd->cwd) {
        cwd = utf16(cmd->cwd);
        DWORD a = cwd ? GetFileAttributesW(cwd) : INVALID_FILE_ATTRIBUTES;
        if (a == INVALID_FILE_ATTRIBUTES || !(a & FILE_ATTRIBUTE_DIRECTORY)) {
            DWORD e = a == INVALID_FILE_ATTRIBUTES ? GetLastError() : ERROR_DIRECTORY;
            r = fail(proc, SBX_STAGE_CWD, sbx__win_errno(e), err, "cwd", e);
            goto out;
        }
    }
    app = find_program(cmd->argv[0], cmd->envp);
    if (!app) {
        r = fail(proc, SBX_STAGE_EXEC, -ENOENT, err, cmd->argv[0], ERROR_FILE_NOT_FOUND);
        goto out;
    }
    line = command_line(cmd->argv);
    env = env_block(cmd->envp);
    if (!line || !env) {
        r = sbx_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if ((r = open_stdio(cmd, &sp, proc, err)) < 0) {
        proc->failed_stage = SBX_STAGE_STDIO;
        proc->failed_errno = -r;
        goto out;
    }
    HANDLE job = sbx__job_handle(box);
    /* A new session's counterpart: a process group of its own, which the
     * console's Ctrl-C does not reach (sbxd stops its units in order). */
    DWORD flags = cmd->new_session ? CREATE_NEW_PROCESS_GROUP : 0;
    bool in_job = create(app, line, env, cwd, flags, &sp, &job, &pi);
    if (!in_job && !create(app, line, env, cwd, flags, &sp, NULL, &pi)) {
        DWORD e = GetLastError();
        r = fail(proc, SBX_STAGE_EXEC, sbx__win_errno(e), err, cmd->argv[0], e);
        goto out;
    }
    box->used = true;
    BOOL inside = FALSE;  /* wine accepts the job list and ignores it */
    if (in_job && (!IsProcessInJob(pi.hProcess, job, &inside) || !inside))
        in_job = false;
    if (!in_job && !AssignProcessToJobObject(job, pi.hProcess)) {
        DWORD e = GetLastError();
        TerminateProcess(pi.hProcess, 1);
        WaitForSingleObject(pi.hProcess, INFINITE);
        CloseHandle(pi.hThread);
        CloseHandle(pi.hProcess);
        r = fail(proc, SBX_STAGE_CGROUP, sbx__win_errno(e), err, "AssignProcessToJobObject", e);
        goto out;
    }
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);
    proc->pid = (pid_t)pi.dwProcessId;
    proc->handle = pi.hProcess;
out:
    if (r < 0)
        for (int i = 0; i < 3; i++)
            if (proc->stdio_fd[i] >= 0) {
                _close(proc->stdio_fd[i]);
                proc->stdio_fd[i] = -1;
            }
    close_stdio(&sp);
    free(app);
    free(line);
    free(env);
    free(cwd);
    return r;
}

int sbx_spawn_outcome(sbx_process *proc)
{
    (void)proc;
    return 0;  /* the spawn is never asynchronous here */
}

void sbx_spawn_program_status(sbx_process *proc, int *status)
{
    (void)proc;
    (void)status;
}

pid_t sbx_process_program_pid(sbx_process *proc)
{
    return proc->pid;  /* no init of sbx's on Windows */
}

void sbx_process_release(sbx_process *proc)
{
    if (proc->handle) {
        CloseHandle(proc->handle);
        proc->handle = NULL;
    }
}

bool sbx_namespaces_available(void)
{
    return false;
}

bool sbx_isolation_by_landlock(const sbx_isolation *iso)
{
    (void)iso;
    return false;
}

sbx_cgroup_mode sbx_detect_cgroup_mode(void)
{
    return SBX_CGROUP_NONE;
}

/* What a job object gives of the containment (see README, Windows): the
 * whole job ends when sbx's handle closes (its supervisor died), and only
 * the three standard handles are inherited. No namespaces, capabilities
 * or seccomp exist there; `privileged` changes nothing of it. */
size_t sbx_isolation_pieces(const sbx_isolation *iso, const char **out, size_t max)
{
    static const char *const pieces[] = {"close-fds", "die-with-parent"};
    size_t n = 0;
    if (!iso)
        return 0;
    for (; n < 2 && n < max; n++)
        out[n] = pieces[n];
    return n;
}
