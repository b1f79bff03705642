# Finds sealpub's dependencies: CMake's own modules where they exist, pkg-config otherwise.
# 1.1.1 (Debian 11) and 3.x: src/lib/crypto/hkdf.c bridges the one 3.0-only
# call (HKDF through EVP_KDF).
find_package(OpenSSL 1.1.1 REQUIRED COMPONENTS Crypto)
find_package(CURL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
if(CMAKE_VERSION VERSION_LESS 3.20)
  # FindPostgreSQL before CMake 3.20 also wants the server's headers
  # (PostgreSQL_TYPE_INCLUDE_DIR, postgresql-server-dev); libpq's own .pc
  # file is all a client needs. Same target name as the module's.
  pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
  add_library(PostgreSQL::PostgreSQL INTERFACE IMPORTED)
  set_property(TARGET PostgreSQL::PostgreSQL PROPERTY INTERFACE_LINK_LIBRARIES PkgConfig::LIBPQ)
  set(PostgreSQL_VERSION_STRING "${LIBPQ_VERSION}")
else()
  find_package(PostgreSQL REQUIRED)
endif()
pkg_check_modules(LIBDEFLATE QUIET IMPORTED_TARGET libdeflate)
if(NOT LIBDEFLATE_FOUND)
  # libdeflate before 1.9 (Debian 11 has 1.7) installs no .pc file: the
  # header and the library, under the target name pkg-config would give.
  find_path(LIBDEFLATE_INCLUDE_DIR libdeflate.h)
  find_library(LIBDEFLATE_LIBRARY deflate)
  if(NOT LIBDEFLATE_INCLUDE_DIR OR NOT LIBDEFLATE_LIBRARY)
    message(FATAL_ERROR "libdeflate not found (Debian: libdeflate-dev)")
  endif()
  add_library(PkgConfig::LIBDEFLATE INTERFACE IMPORTED)
  set_target_properties(PkgConfig::LIBDEFLATE PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${LIBDEFLATE_INCLUDE_DIR}" INTERFACE_LINK_LIBRARIES "${LIBDEFLATE_LIBRARY}")
  file(STRINGS "${LIBDEFLATE_INCLUDE_DIR}/libdeflate.h" _sp_ld REGEX "define LIBDEFLATE_VERSION_STRING")
  string(REGEX MATCH "[0-9][0-9.]*" LIBDEFLATE_VERSION "${_sp_ld}")
  set(LIBDEFLATE_FOUND TRUE)
endif()
# liburing is optional: the default reader is pread, and without liburing
# "--io auto" reads with pread and "--io uring" says it is not built in.
option(SEALPUB_URING "Use liburing for --io uring/auto when found" ON)
if(SEALPUB_URING)
  pkg_check_modules(LIBURING QUIET IMPORTED_TARGET liburing)
endif()
# ISA-L backs level 1 when present (docs/SCALING.md measured 2.6x libdeflate 1
# per core on images for 4.4% more output, 5.4x on fp16 for the same size).
option(SEALPUB_ISAL "Use ISA-L for level 1 when libisal is found" ON)
if(SEALPUB_ISAL)
  pkg_check_modules(ISAL QUIET IMPORTED_TARGET libisal)
endif()
if(SEALPUB_TESTS)
  pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion)
endif()
