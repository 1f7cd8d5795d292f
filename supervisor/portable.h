/* The few POSIX names the daemon's shared files use, made to mean the same
 * with mingw-w64: files opened not inherited and in binary mode (no CRLF
 * translation, no ^Z end), directories made with a mode. */
#ifndef SBX_PORTABLE_H
#define SBX_PORTABLE_H

#include <fcntl.h>
#include <sys/stat.h>

#ifdef _WIN32
#include <direct.h>
#define O_CLOEXEC O_NOINHERIT
#define mkdir(path, mode) ((void)(mode), _mkdir(path))
#else
#define O_BINARY 0
#endif

#endif
