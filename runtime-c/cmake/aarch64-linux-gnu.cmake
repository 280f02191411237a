# Cross-build runtime-c for 64-bit ARM Linux (Raspberry Pi 5, Jetson, RK3588, Graviton) on an x86
# host with Debian's gcc-aarch64-linux-gnu, against the aarch64 openvino wheel:
#   cmake -S runtime-c -B build/arm64 -DCMAKE_TOOLCHAIN_FILE=runtime-c/cmake/aarch64-linux-gnu.cmake \
#         -DOpenVINO_DIR=<aarch64 wheel>/openvino/cmake
# /usr/aarch64-linux-gnu is the cross toolchain's sysroot: without it in the search path, find_library
# finds no aarch64 libm.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# OpenVINO's package config lies in the wheel, outside the sysroot: found through OpenVINO_DIR.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
