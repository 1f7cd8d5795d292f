/* What the Windows files of libsbx share. Internal. */
#ifndef SBX_WIN_H
#define SBX_WIN_H

#include <windows.h>

#include "../backend.h"

/* A Win32 error as a negative errno, and as text (a static buffer: for
 * messages made at once). */
int sbx__win_errno(DWORD error);
const char *sbx__win_strerror(DWORD error);

HANDLE sbx__job_handle(sbx_box *box);
/* Feeds a job message to the box's port as Windows would (for tests). */
int sbx__job_post(sbx_box *box, DWORD msg, DWORD pid);

#endif
