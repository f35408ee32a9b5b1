# MeviBpf: builds launcher/bpf/mevi.bpf.c into a libbpf light skeleton header.
#   vmlinux.h    <- bpftool btf dump file /sys/kernel/btf/vmlinux format c
#   mevi.bpf.o   <- clang -target bpf -g -O2 (CO-RE: relocated at load time)
#   mevi.lskel.h <- bpftool gen object (strips DWARF) + bpftool gen skeleton -L
#   mevi_bpf_id.h <- the skeleton's hash (cmake/MeviBpfId.cmake)
# A light skeleton is loaded by a small loader program that the kernel runs:
# the kernel relocates the programs against its own BTF, so mevi-run never
# reads and parses the kernel's 5 MB BTF itself (40-55 ms of every start).
# Sets MEVI_EBPF (ON/OFF), MEVI_BPF_GEN_DIR and the target mevi_bpf_skel.
# Anything missing turns the engine off with one configure message saying what.
option(MEVI_EBPF_ENGINE "Build mevi-run's eBPF engine when its tools are present" ON)
set(MEVI_EBPF OFF CACHE INTERNAL "mevi-run has the eBPF engine")
set(MEVI_BPF_GEN_DIR ${CMAKE_CURRENT_BINARY_DIR}/bpf)
set(MEVI_BPF_SRC_DIR ${CMAKE_CURRENT_SOURCE_DIR}/bpf)
if(NOT MEVI_EBPF_ENGINE)
  message(STATUS "mevi-run: eBPF engine disabled (MEVI_EBPF_ENGINE=OFF): ptrace engine only")
  return()
endif()
pkg_check_modules(LIBBPF IMPORTED_TARGET libbpf>=0.8)
if(LIBBPF_FOUND)
  mevi_link_static(LIBBPF) # MeviDeps.cmake
endif()
find_program(MEVI_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
find_program(MEVI_BPF_CLANG NAMES clang clang-14 clang-15 clang-16)
set(MEVI_VMLINUX_BTF /sys/kernel/btf/vmlinux)
set(missing "")
if(NOT LIBBPF_FOUND)
  list(APPEND missing "libbpf (apt-get install libbpf-dev)")
endif()
if(NOT MEVI_BPFTOOL)
  list(APPEND missing "bpftool (apt-get install bpftool)")
endif()
if(NOT MEVI_BPF_CLANG)
  list(APPEND missing "clang")
endif()
if(NOT EXISTS ${MEVI_VMLINUX_BTF})
  list(APPEND missing "the kernel's BTF (${MEVI_VMLINUX_BTF}; CONFIG_DEBUG_INFO_BTF)")
endif()
if(missing)
  string(REPLACE ";" ", " missing "${missing}")
  message(STATUS "mevi-run: no eBPF engine: missing ${missing}; ptrace engine only")
  return()
endif()
set(MEVI_EBPF ON CACHE INTERNAL "mevi-run has the eBPF engine")
message(STATUS "mevi-run: eBPF engine on (${MEVI_BPFTOOL}, ${MEVI_BPF_CLANG}, libbpf ${LIBBPF_VERSION})")
file(MAKE_DIRECTORY ${MEVI_BPF_GEN_DIR})
add_custom_command(
  OUTPUT ${MEVI_BPF_GEN_DIR}/vmlinux.h
  COMMAND ${MEVI_BPFTOOL} btf dump file ${MEVI_VMLINUX_BTF} format c > ${MEVI_BPF_GEN_DIR}/vmlinux.h.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${MEVI_BPF_GEN_DIR}/vmlinux.h.tmp ${MEVI_BPF_GEN_DIR}/vmlinux.h
  COMMENT "Generating vmlinux.h from the kernel's BTF"
  VERBATIM)
add_custom_command(
  OUTPUT ${MEVI_BPF_GEN_DIR}/mevi.lskel.h ${MEVI_BPF_GEN_DIR}/mevi_bpf_id.h
  COMMAND ${MEVI_BPF_CLANG} -target bpf -D__TARGET_ARCH_x86 -g -O2 -Wall -Werror
          -I${MEVI_BPF_GEN_DIR} -I${MEVI_BPF_SRC_DIR}
          -c ${MEVI_BPF_SRC_DIR}/mevi.bpf.c -o ${MEVI_BPF_GEN_DIR}/mevi.tmp.o
  COMMAND ${MEVI_BPFTOOL} gen object ${MEVI_BPF_GEN_DIR}/mevi.bpf.o ${MEVI_BPF_GEN_DIR}/mevi.tmp.o
  COMMAND ${MEVI_BPFTOOL} gen skeleton -L ${MEVI_BPF_GEN_DIR}/mevi.bpf.o name mevi_bpf > ${MEVI_BPF_GEN_DIR}/mevi.lskel.h.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${MEVI_BPF_GEN_DIR}/mevi.lskel.h.tmp ${MEVI_BPF_GEN_DIR}/mevi.lskel.h
  COMMAND ${CMAKE_COMMAND} -DIN=${MEVI_BPF_GEN_DIR}/mevi.lskel.h -DOUT=${MEVI_BPF_GEN_DIR}/mevi_bpf_id.h
          -P ${PROJECT_SOURCE_DIR}/cmake/MeviBpfId.cmake
  DEPENDS ${MEVI_BPF_SRC_DIR}/mevi.bpf.c ${MEVI_BPF_SRC_DIR}/mevi_bpf.h ${MEVI_BPF_GEN_DIR}/vmlinux.h
  COMMENT "Building the eBPF programs and their skeleton"
  VERBATIM)
add_custom_target(mevi_bpf_skel DEPENDS ${MEVI_BPF_GEN_DIR}/mevi.lskel.h ${MEVI_BPF_GEN_DIR}/mevi_bpf_id.h)
