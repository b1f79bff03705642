# Cross-compiles sealpub for arm64 (aarch64) with Debian's gcc-aarch64-linux-gnu
# against an arm64 sysroot of Debian -dev packages, and runs the test
# executables under qemu-user. scripts/cross-arm64.sh makes the sysroot and
# uses this file; by hand:
#
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
#         -DSEALPUB_ARM64_SYSROOT=/path/to/sysroot
#
# Why a sysroot and not packages installed into / with "dpkg
# --add-architecture arm64": on Debian 12, libpq-dev and libnanomsg5 (pulled
# in by libcriterion-dev) are not Multi-Arch: same, so installing their arm64
# builds removes the native libpq-dev and libcriterion-dev and breaks the
# native build. A machine that does only arm64 work may install them into /
# and pass -DSEALPUB_ARM64_SYSROOT=/ instead.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# The sysroot: -D beats the environment beats the default folder beside the
# source tree. The try_compile projects CMake runs while configuring read
# this file again and see only the variables listed below, hence the list.
if(NOT SEALPUB_ARM64_SYSROOT)
  if(DEFINED ENV{SEALPUB_ARM64_SYSROOT})
    set(SEALPUB_ARM64_SYSROOT "$ENV{SEALPUB_ARM64_SYSROOT}")
  else()
    get_filename_component(SEALPUB_ARM64_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build-arm64-sysroot" ABSOLUTE)
  endif()
endif()
set(SEALPUB_ARM64_SYSROOT "${SEALPUB_ARM64_SYSROOT}" CACHE PATH "arm64 sysroot (Debian -dev packages unpacked)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SEALPUB_ARM64_SYSROOT)
if(NOT EXISTS "${SEALPUB_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/libc.so")
  message(FATAL_ERROR "no arm64 sysroot at ${SEALPUB_ARM64_SYSROOT} (libc6-dev:arm64 missing); run scripts/cross-arm64.sh or set SEALPUB_ARM64_SYSROOT")
endif()

if(NOT SEALPUB_ARM64_SYSROOT STREQUAL "/")
  set(CMAKE_SYSROOT "${SEALPUB_ARM64_SYSROOT}")
  # The C library and its start files from the sysroot too: Debian's cross
  # gcc searches its own libc6-dev-arm64-cross (Debian 12's glibc 2.36)
  # before the sysroot, which links but mixes two glibcs when the sysroot is
  # another release (Debian 11's libpthread then lacks GLIBC_PRIVATE
  # symbols). -B puts the sysroot's crt*.o and libc.so first.
  set(_sp_lib "${SEALPUB_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu")
  set(CMAKE_EXE_LINKER_FLAGS_INIT "-B${_sp_lib}/ -Wl,-rpath-link,${_sp_lib}")
  set(CMAKE_SHARED_LINKER_FLAGS_INIT "-B${_sp_lib}/ -Wl,-rpath-link,${_sp_lib}")
endif()
# Libraries, headers and CMake packages come from the sysroot only; programs
# (pkg-config, python3) from the build machine.
set(CMAKE_FIND_ROOT_PATH "${SEALPUB_ARM64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The build machine's pkg-config, reading the arm64 .pc files. The sysroot
# prefix is added to the -I and -L paths it prints.
set(ENV{PKG_CONFIG_LIBDIR} "${SEALPUB_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${SEALPUB_ARM64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
if(NOT SEALPUB_ARM64_SYSROOT STREQUAL "/")
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${SEALPUB_ARM64_SYSROOT}")
endif()

# ctest runs every test executable through qemu-user; -L makes the arm64
# dynamic loader and libraries come from the sysroot. No binfmt_misc needed.
find_program(SEALPUB_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(SEALPUB_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${SEALPUB_QEMU_AARCH64};-L;${SEALPUB_ARM64_SYSROOT}")
endif()
