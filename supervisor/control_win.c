/* The control endpoint on Windows: a named pipe (\\.\pipe\NAME) whose DACL
 * admits only SYSTEM, Administrators and the account sbxd runs as. Whoever
 * could open it may control: the DACL is the check. */
#include "control_os.h"  /* first: uv.h brings winsock2.h before windows.h */

#include <windows.h>
#include <aclapi.h>
#include <errno.h>
#include <sddl.h>
#include <stdio.h>
#include <string.h>

#define PIPE_PREFIX "\\\\.\\pipe\\"

/* "D:P(...)" for SYSTEM, Administrators and our own user; protected, so
 * nothing (Everyone's default read access) is inherited or added. */
static PSECURITY_DESCRIPTOR own_descriptor(void)
{
    HANDLE tok;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return NULL;
    union { TOKEN_USER user; char buf[256]; } u;
    DWORD n;
    BOOL ok = GetTokenInformation(tok, TokenUser, &u, sizeof u, &n);
    CloseHandle(tok);
    wchar_t *sid = NULL;
    if (!ok || !ConvertSidToStringSidW(u.user.User.Sid, &sid))
        return NULL;
    wchar_t sddl[256];
    _snwprintf(sddl, sizeof sddl / sizeof sddl[0], L"D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;%ls)",
               sid);
    sddl[sizeof sddl / sizeof sddl[0] - 1] = L'\0';
    LocalFree(sid);
    PSECURITY_DESCRIPTOR sd = NULL;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL))
        return NULL;
    return sd;
}

/* The DACL goes on the first instance before anyone is listened for; the
 * instances libuv adds later share the pipe's one descriptor. */
static int restrict_access(uv_pipe_t *server)
{
    uv_os_fd_t h;
    if (uv_fileno((uv_handle_t *)server, &h) < 0)
        return -EBADF;
    PSECURITY_DESCRIPTOR sd = own_descriptor();
    PACL dacl = NULL;
    BOOL present = FALSE, defaulted = FALSE;
    DWORD e = ERROR_INVALID_SECURITY_DESCR;
    if (sd && GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) && present)
        e = SetSecurityInfo(h, SE_KERNEL_OBJECT,
                            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                            NULL, NULL, dacl, NULL);
    LocalFree(sd);
    return e == ERROR_SUCCESS ? 0 : -EACCES;
}

/* Another sbxd's pipe: FILE_FLAG_FIRST_PIPE_INSTANCE refuses the bind on
 * Windows, but not every implementation honours it, so look first. */
static bool in_use(const char *path)
{
    HANDLE h = CreateFileA(path, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (h != INVALID_HANDLE_VALUE) {
        CloseHandle(h);
        return true;
    }
    DWORD e = GetLastError();
    return e == ERROR_PIPE_BUSY || e == ERROR_ACCESS_DENIED;
}

int control_os_bind(uv_pipe_t *server, const control_settings *cfg, sbx_error *err)
{
    size_t plen = strlen(PIPE_PREFIX);
    if (strncmp(cfg->path, PIPE_PREFIX, plen) != 0 || !cfg->path[plen] ||
        strchr(cfg->path + plen, '\\'))
        return sbx_error_set(err, -EINVAL, "%s: on Windows the control socket is a named "
                             "pipe, " PIPE_PREFIX "NAME", cfg->path);
    if (cfg->has_control_gid || cfg->has_read_gid)
        return sbx_error_set(err, -ENOTSUP, "control and read groups are POSIX only: the "
                             "pipe admits SYSTEM, Administrators and sbxd's own account");
    if (in_use(cfg->path))
        return sbx_error_set(err, -EADDRINUSE, "%s: another sbxd is listening there",
                             cfg->path);
    int r = uv_pipe_bind(server, cfg->path);
    if (r < 0)
        return sbx_error_set(err, r, "bind %s: %s", cfg->path,
                             r == UV_EADDRINUSE ? "another sbxd is listening there"
                                                : uv_strerror(r));
    if ((r = restrict_access(server)) < 0)
        return sbx_error_set(err, r, "%s: cannot restrict its access (%lu)", cfg->path,
                             GetLastError());
    return 0;
}

const char *control_os_access(const control_settings *cfg, uv_pipe_t *client, char *who,
                              size_t len)
{
    (void)cfg;
    (void)client;
    snprintf(who, len, "a client");
    return "control";
}

bool control_os_fds_short(uv_pipe_t *client, uint64_t *in_use, uint64_t *limit)
{
    (void)client;  /* handles have no such small limit */
    *in_use = *limit = 0;
    return false;
}

void control_os_unbind(const char *path)
{
    (void)path;  /* a named pipe goes with its last handle */
}
