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

# The Maintainer field: -DSEALPUB_DEB_MAINTAINER, else Debian's own
# convention (DEBFULLNAME and DEBEMAIL, as dch uses them), else git's
# user.name and user.email. Only when none is set does the placeholder
# remain, with a warning: a release .deb must name a real person or list.
set(_sealpub_maint "")
if(DEFINED ENV{DEBEMAIL} AND DEFINED ENV{DEBFULLNAME})
  set(_sealpub_maint "$ENV{DEBFULLNAME} <$ENV{DEBEMAIL}>")
else()
  find_package(Git QUIET)
  if(GIT_FOUND)
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${PROJECT_SOURCE_DIR}" config user.name
      OUTPUT_VARIABLE _sp_gn OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${PROJECT_SOURCE_DIR}" config user.email
      OUTPUT_VARIABLE _sp_ge OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_sp_gn AND _sp_ge)
      set(_sealpub_maint "${_sp_gn} <${_sp_ge}>")
    endif()
  endif()
endif()
if(NOT _sealpub_maint)
  set(_sealpub_maint "sealpub maintainers <maintainers@sealpub.invalid>")
endif()
set(SEALPUB_DEB_MAINTAINER "${_sealpub_maint}" CACHE STRING "Maintainer field of the Debian package")
if(SEALPUB_DEB_MAINTAINER MATCHES "\\.invalid>$")
  message(STATUS "sealpub: the .deb Maintainer is a placeholder; set DEBFULLNAME/DEBEMAIL or -DSEALPUB_DEB_MAINTAINER for a release")
endif()

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
  # One list from what the build links, in the same order for amd64 and
  # arm64: scripts/check-packages.sh fails when the two .debs differ (the
  # arm64 sysroot of scripts/cross-arm64.sh holds liburing-dev and
  # libisal-dev like scripts/install-deps.sh does on amd64).
  if(OPENSSL_VERSION VERSION_LESS 3.0)
    set(_sealpub_ssl "libssl1.1 (>= 1.1.1)")
  else()
    set(_sealpub_ssl "libssl3 (>= 3.0.0)")
  endif()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.34), libcurl4 (>= 7.66.0), libdeflate0 (>= 1.0), libpq5 (>= 9.0~), libsqlite3-0 (>= 3.5.9), ${_sealpub_ssl}")
  if(LIBURING_FOUND)
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", liburing2 (>= 2.3)")
  endif()
  if(ISAL_FOUND)
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libisal2 (>= 2.30)")
  endif()
endif()
# Linking a program against libsealpub.a (pkg-config sealpub) needs the
# dependencies' headers-and-.so packages too; the command does not.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
  "libssl-dev, libdeflate-dev, liburing-dev, libcurl4-openssl-dev, libpq-dev, libsqlite3-dev")

# What Debian policy asks of every package (lintian: no-copyright-file,
# no-changelog, uncompressed-manual-page): the copyright file, a changelog,
# both under /usr/share/doc/sealpub, and gzip'd man pages. The lintian
# override names the one false positive, with its reason.
set(_sealpub_doc "${CMAKE_INSTALL_DATADIR}/doc/sealpub")
string(TIMESTAMP _sealpub_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE "${PROJECT_BINARY_DIR}/changelog"
  "sealpub (${PROJECT_VERSION}) unstable; urgency=medium\n\n"
  "  * Release ${PROJECT_VERSION}; see the project's git history.\n\n"
  " -- ${SEALPUB_DEB_MAINTAINER}  ${_sealpub_date}\n")
install(FILES "${PROJECT_SOURCE_DIR}/cmake/copyright" DESTINATION "${_sealpub_doc}")
install(FILES "${PROJECT_SOURCE_DIR}/cmake/lintian-overrides" DESTINATION "${CMAKE_INSTALL_DATADIR}/lintian/overrides"
  RENAME sealpub)
# gzip -n: no name or time in the header, so the package is reproducible.
# Runs when installing (DESTDIR is CPack's staging folder then), after
# every other install rule: this file is included last.
install(CODE "
  set(_doc \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${_sealpub_doc}\")
  file(MAKE_DIRECTORY \"\${_doc}\")
  execute_process(COMMAND gzip -9nc [==[${PROJECT_BINARY_DIR}/changelog]==]
    OUTPUT_FILE \"\${_doc}/changelog.gz\" RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR \"gzip of the changelog failed\")
  endif()
  file(GLOB _man \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_MANDIR}/man*/*.[0-9]\")
  foreach(_m IN LISTS _man)
    execute_process(COMMAND gzip -9nf \"\${_m}\" RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR \"gzip of \${_m} failed\")
    endif()
  endforeach()
")

include(CPack)
