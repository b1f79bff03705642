# What "sealpub version --verbose --json" reports about the build itself
# (src/lib/buildinfo.c): the commit, the compiler and flags, the optional
# features and the versions of the libraries built against. Included by the
# top-level CMakeLists.txt after cmake/SealpubDeps.cmake.

# The commit at configure time ("unknown" outside a git checkout, e.g. a
# source tarball); "-dirty" when the tree had uncommitted changes then.
set(SEALPUB_COMMIT "unknown")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${PROJECT_SOURCE_DIR}" rev-parse --short=12 HEAD
    OUTPUT_VARIABLE _sp_commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _sp_rc)
  if(_sp_rc EQUAL 0 AND _sp_commit)
    set(SEALPUB_COMMIT "${_sp_commit}")
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${PROJECT_SOURCE_DIR}" diff --quiet HEAD --
      RESULT_VARIABLE _sp_dirty ERROR_QUIET)
    if(NOT _sp_dirty EQUAL 0)
      string(APPEND SEALPUB_COMMIT "-dirty")
    endif()
  endif()
endif()

string(TOUPPER "${CMAKE_BUILD_TYPE}" _sp_bt)
string(STRIP "${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${_sp_bt}}" _sp_flags)
set(_sp_features "")
foreach(_f ISAL LIBURING)
  if(${_f}_FOUND)
    list(APPEND _sp_features "${_f}")
  endif()
endforeach()
string(REPLACE ";" "," _sp_features "${_sp_features}")

# Strings only: no quote or backslash can come from these.
set_property(SOURCE "${PROJECT_SOURCE_DIR}/src/lib/buildinfo.c" APPEND PROPERTY COMPILE_DEFINITIONS
  "SP_BUILD_COMMIT=\"${SEALPUB_COMMIT}\""
  "SP_BUILD_TYPE=\"${CMAKE_BUILD_TYPE}\""
  "SP_BUILD_COMPILER=\"${CMAKE_C_COMPILER_ID} ${CMAKE_C_COMPILER_VERSION}\""
  "SP_BUILD_TARGET=\"${CMAKE_SYSTEM_PROCESSOR}\""
  "SP_BUILD_CFLAGS=\"${_sp_flags}\""
  "SP_BUILD_SANITIZE=\"${SEALPUB_SANITIZE}\""
  "SP_BUILD_FEATURES=\"${_sp_features}\""
  "SP_BUILD_CMAKE=\"${CMAKE_VERSION}\""
  "SP_BUILT_LIBDEFLATE=\"${LIBDEFLATE_VERSION}\""
  "SP_BUILT_LIBURING=\"${LIBURING_VERSION}\""
  "SP_BUILT_ISAL=\"${ISAL_VERSION}\""
  "SP_BUILT_OPENSSL=\"${OPENSSL_VERSION}\""
  "SP_BUILT_CURL=\"${CURL_VERSION_STRING}\""
  "SP_BUILT_LIBPQ=\"${PostgreSQL_VERSION_STRING}\"")
