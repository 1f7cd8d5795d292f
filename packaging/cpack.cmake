# CPack: sbx_VERSION_ARCH.deb with dependencies computed by dpkg-shlibdeps,
# conffiles marked, maintainer scripts that start nothing by themselves.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sbx)
set(CPACK_PACKAGE_VERSION ${SBX_PACKAGE_VERSION})
set(CPACK_PACKAGE_CONTACT ${SBX_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "supervisor for sandboxed processes")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "sbxd starts many named programs from INI units, each in its own cgroup\n"
  "with CPU, memory and process-count limits applied before its first\n"
  "instruction, restarts them by policy, and answers sbxctl over a local\n"
  "socket. sbx-run runs one program in the same sandbox in the foreground\n"
  "and reports how it ended; sbx-import-supervisord converts a supervisord\n"
  "configuration into units.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${debdir}/conffiles ${debdir}/postinst ${debdir}/prerm ${debdir}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
