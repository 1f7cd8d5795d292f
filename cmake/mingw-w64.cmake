# CMake toolchain for the Windows port: cross-builds with Debian's mingw-w64
# (x86_64-w64-mingw32) and runs the .exe files (try_run, ctest) under wine.
#
#   tools/win-deps.sh build-win/deps
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake \
#         -DSBX_WIN_PREFIX=$PWD/build-win/deps
#
# SBX_WIN_PREFIX (cache variable, or the environment variable of that name)
# is where tools/win-deps.sh installed the static libraries and their .pc
# files; it defaults to deps/ in the build tree. SBX_WINEPREFIX is the wine
# prefix the tests run in; it defaults to wine/ in the build tree.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(_sbx_triple x86_64-w64-mingw32)

set(CMAKE_C_COMPILER ${_sbx_triple}-gcc)
set(CMAKE_CXX_COMPILER ${_sbx_triple}-g++)
set(CMAKE_RC_COMPILER ${_sbx_triple}-windres)

# This file is read again for every try_compile, in a scratch build tree with
# an empty cache: pass our two variables on, and remember them in the
# environment as a fallback.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SBX_WIN_PREFIX SBX_WINEPREFIX)
if(NOT SBX_WIN_PREFIX)
  if(DEFINED ENV{SBX_WIN_PREFIX})
    set(SBX_WIN_PREFIX "$ENV{SBX_WIN_PREFIX}")
  else()
    set(SBX_WIN_PREFIX "${CMAKE_BINARY_DIR}/deps")
  endif()
endif()
get_filename_component(SBX_WIN_PREFIX "${SBX_WIN_PREFIX}" ABSOLUTE)
set(SBX_WIN_PREFIX "${SBX_WIN_PREFIX}" CACHE PATH "mingw-w64 dependency prefix (tools/win-deps.sh)")
set(ENV{SBX_WIN_PREFIX} "${SBX_WIN_PREFIX}")
if(NOT SBX_WINEPREFIX)
  set(SBX_WINEPREFIX "${CMAKE_BINARY_DIR}/wine")
endif()
set(SBX_WINEPREFIX "${SBX_WINEPREFIX}" CACHE PATH "wine prefix for running the tests")

# Headers and libraries from the deps prefix and the mingw sysroot only;
# programs (pkg-config, python) from the host.
set(CMAKE_FIND_ROOT_PATH "${SBX_WIN_PREFIX}" /usr/${_sbx_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Static archives first, so nothing needs a DLL copied next to the .exe.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a .lib .dll.a)

# The deps prefix is to this build what /usr is to a native one, also for
# compiler checks (check_include_file, check_symbol_exists), which see only
# the compiler's default paths.
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES "${SBX_WIN_PREFIX}/include")
set(CMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES "${SBX_WIN_PREFIX}/include")

# pkg-config sees the deps prefix alone: PKG_CONFIG_LIBDIR replaces the
# default search path, so the host's Linux .pc files are never picked up.
set(ENV{PKG_CONFIG_LIBDIR} "${SBX_WIN_PREFIX}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
unset(ENV{PKG_CONFIG_SYSROOT_DIR})

# Link libgcc (and winpthread, if the posix compiler is chosen) statically:
# the .exe files then run under wine with no mingw DLL beside them.
# mingw-w64 keeps the stack protector and _FORTIFY_SOURCE's checked functions
# in libssp, which gcc links only when the link line has -fstack-protector*.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -fstack-protector-strong -L${SBX_WIN_PREFIX}/lib")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -fstack-protector-strong -L${SBX_WIN_PREFIX}/lib")

# ctest and try_run start the .exe files through wine, in a prefix of its own.
get_filename_component(_sbx_wine "${CMAKE_CURRENT_LIST_DIR}/../tools/win-wine.sh" ABSOLUTE)
set(CMAKE_CROSSCOMPILING_EMULATOR "${_sbx_wine};--prefix;${SBX_WINEPREFIX}")
