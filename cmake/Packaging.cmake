# Packaging: the pkg-config file sealpub.pc and the Debian package (CPack DEB).
# Included at the end of the top-level CMakeLists.txt, after the install rules
# for the library, the CLI and the public header. docs/PACKAGING.md explains
# how to use both.

# ---------------------------------------------------------------- pkg-config

# The .pc names of what the library links (cmake/SealpubDeps.cmake), as the
# Debian -dev packages ship them. Threads need no flag on glibc >= 2.34;
# -pthread keeps older C libraries right.
set(SEALPUB_PC_DEPS "libcrypto libdeflate liburing libcurl libpq sqlite3")
if(ISAL_FOUND)
  string(APPEND SEALPUB_PC_DEPS " libisal")
endif()
get_target_property(_sealpub_type sealpub TYPE)
if(_sealpub_type STREQUAL "STATIC_LIBRARY")
  # libsealpub.a records none of its dependencies, so every program that
  # links it must link them too. They are public (Requires, Libs) rather
  # than private: pkg-config reads the .private fields only with --static,
  # and plain "pkg-config --libs sealpub" must give a working link line,
  # because the static library is all there is.
  set(SEALPUB_PC_REQUIRES "${SEALPUB_PC_DEPS}")
  set(SEALPUB_PC_LIBS "-pthread")
  set(SEALPUB_PC_REQUIRES_PRIVATE "")
  set(SEALPUB_PC_LIBS_PRIVATE "")
else()
  # libsealpub.so carries its own DT_NEEDED entries; the dependencies matter
  # only to "pkg-config --static".
  set(SEALPUB_PC_REQUIRES "")
  set(SEALPUB_PC_LIBS "")
  set(SEALPUB_PC_REQUIRES_PRIVATE "${SEALPUB_PC_DEPS}")
  set(SEALPUB_PC_LIBS_PRIVATE "-pthread")
endif()

# libdir and includedir relative to ${prefix} where they are relative, so
# the file stays right for any prefix.
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(SEALPUB_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(SEALPUB_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()

# The prefix is known only when installing: "cmake --install build --prefix
# DIR" and CPack (which installs to /usr under a staging DESTDIR) each choose
# their own. So the file is written by the install script, from the template
# with everything but the prefix filled in at configure time.
set(_sealpub_pc_template "${PROJECT_BINARY_DIR}/sealpub.pc.template")
set(_sealpub_pc_out "${PROJECT_BINARY_DIR}/pkgconfig/sealpub.pc")
set(SEALPUB_PC_PREFIX "@SEALPUB_PC_PREFIX@") # kept as a placeholder for install time
configure_file("${PROJECT_SOURCE_DIR}/cmake/sealpub.pc.in" "${_sealpub_pc_template}" @ONLY)
install(CODE "
  file(READ [==[${_sealpub_pc_template}]==] _pc)
  string(REPLACE \"@SEALPUB_PC_PREFIX@\" \"\${CMAKE_INSTALL_PREFIX}\" _pc \"\${_pc}\")
  file(WRITE [==[${_sealpub_pc_out}]==] \"\${_pc}\")
")
install(FILES "${_sealpub_pc_out}" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

# ---------------------------------------------------------------- Debian package

# Debian's names for the target architecture. CPack would otherwise ask
# dpkg, which answers for the build machine even when cross-compiling.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(_sealpub_deb_arch amd64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(_sealpub_deb_arch arm64)
else()
  execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE _sealpub_deb_arch
    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()

set(SEALPUB_DEB_MAINTAINER "sealpub maintainers <maintainers@sealpub.invalid>"
  CACHE STRING "Maintainer field of the Debian package (a placeholder by default)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sealpub)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "compress, encrypt and publish build artifacts to S3 with a PostgreSQL registry")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "sealpub seals build artifacts (docker save archives, TensorRT engines)\n\
with libdeflate and AES-256-GCM, uploads them to S3 (or a local folder) and\n\
records each one in a PostgreSQL (or SQLite) registry, only once the object\n\
is stored. This package holds the sealpub command, the static library\n\
libsealpub.a, its public header and its pkg-config file.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SEALPUB_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "${_sealpub_deb_arch}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Debian packages install under /usr. Configure with
# -DCMAKE_INSTALL_PREFIX=/usr so that GNUInstallDirs picks the multiarch
# libdir (lib/x86_64-linux-gnu, lib/aarch64-linux-gnu) the package should use.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "sealpub: for a .deb, configure with -DCMAKE_INSTALL_PREFIX=/usr (multiarch libdir)")
endif()
# The executable only; CMake never strips static libraries.
set(CPACK_STRIP_FILES ON)

# Explicit, so the same list serves native and cross builds: dpkg-shlibdeps
# looks the libraries up in the build machine's dpkg database, which has no
# arm64 packages when cross-compiling against a sysroot. The minimum
# versions are what dpkg-shlibdeps computed for the amd64 build on Debian 12;
# -DSEALPUB_DEB_SHLIBDEPS=ON recomputes them (native builds only).
option(SEALPUB_DEB_SHLIBDEPS "Compute the .deb Depends with dpkg-shlibdeps (native builds)" OFF)
if(SEALPUB_DEB_SHLIBDEPS AND NOT CMAKE_CROSSCOMPILING)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.34), libcurl4 (>= 7.66.0), libdeflate0 (>= 1.0), libpq5 (>= 9.0~), libsqlite3-0 (>= 3.5.9), libssl3 (>= 3.0.0), liburing2 (>= 2.3)")
  if(ISAL_FOUND)
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libisal2 (>= 2.30)")
  endif()
endif()
# Linking a program against libsealpub.a (pkg-config sealpub) needs the
# dependencies' headers-and-.so packages too; the command does not.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
  "libssl-dev, libdeflate-dev, liburing-dev, libcurl4-openssl-dev, libpq-dev, libsqlite3-dev")

include(CPack)
