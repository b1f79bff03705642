# Finds sealpub's dependencies: CMake's own modules where they exist, pkg-config otherwise.
find_package(OpenSSL 3.0 REQUIRED COMPONENTS Crypto)
find_package(CURL REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBDEFLATE REQUIRED IMPORTED_TARGET libdeflate)
pkg_check_modules(LIBURING REQUIRED IMPORTED_TARGET liburing)
# ISA-L backs level 1 when present (docs/SCALING.md measured 2.6x libdeflate 1
# per core on images for 4.4% more output, 5.4x on fp16 for the same size).
option(SEALPUB_ISAL "Use ISA-L for level 1 when libisal is found" ON)
if(SEALPUB_ISAL)
  pkg_check_modules(ISAL QUIET IMPORTED_TARGET libisal)
endif()
if(SEALPUB_TESTS)
  pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion)
endif()
