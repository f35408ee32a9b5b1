# Finds every library mevi links, through pkg-config, at the oldest versions it
# is built and tested with (Debian 12's), and names the Debian package to
# install when one is missing or too old (.ci/install-deps.sh installs them all).
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config (or run .ci/install-deps.sh)")
endif()
include(CheckSymbolExists)

# mevi_require(PREFIX PACKAGE "module>=version" [more alternatives...])
function(mevi_require prefix package)
  pkg_search_module(${prefix} IMPORTED_TARGET ${ARGN})
  if(NOT ${prefix}_FOUND)
    string(REPLACE ";" " or " wanted "${ARGN}")
    message(FATAL_ERROR "${wanted} not found (or too old): apt-get install ${package} "
                        "(or run .ci/install-deps.sh)")
  endif()
endfunction()

# msgpack-c 6 renamed its pkg-config module from msgpack to msgpack-c.
mevi_require(MSGPACK libmsgpack-dev "msgpack>=4.0" "msgpack-c>=4.0")
mevi_require(LIBUV libuv1-dev "libuv>=1.44")
mevi_require(LWS libwebsockets-dev "libwebsockets>=4.1")
mevi_require(LIBEVENT libevent-dev "libevent_core>=2.1")
mevi_require(SECCOMP libseccomp-dev "libseccomp>=2.5")
mevi_require(LIBDW "libdw-dev libelf-dev" "libdw>=0.188")
mevi_require(JSONC libjson-c-dev "json-c>=0.16")
if(MEVI_BUILD_TESTS)
  mevi_require(CMOCKA libcmocka-dev "cmocka>=1.1")
endif()

# mevid runs libwebsockets on libuv's loop: libwebsockets must have been built
# with libuv support (LWS_WITH_LIBUV in its lws_config.h). Debian's builds it as
# a plugin that libwebsockets loads at start-up, shipped apart in
# libwebsockets-evlib-uv: a run-time dependency (the .deb depends on it), which
# mevid names when it is missing.
set(CMAKE_REQUIRED_INCLUDES ${LWS_INCLUDE_DIRS})
check_symbol_exists(LWS_WITH_LIBUV "lws_config.h" MEVI_LWS_HAS_LIBUV)
unset(CMAKE_REQUIRED_INCLUDES)
if(NOT MEVI_LWS_HAS_LIBUV)
  message(FATAL_ERROR "libwebsockets ${LWS_VERSION} was built without libuv support "
                      "(LWS_WITH_LIBUV): mevid needs it (Debian: libwebsockets-dev and "
                      "libwebsockets-evlib-uv)")
endif()

# Static linking of the libraries mevi-run starts with. The dynamic loader maps
# and relocates each shared library before main() runs, and mevi-run's start-up
# is paid by every traced launch before PROGRAM can begin: on the 2-vCPU VM the
# engines are measured on, its 11 shared libraries cost 1.0 ms of the 6.5 ms
# mevi-run adds to /bin/true. With MEVI_STATIC_LIBS (the default) the five named
# below are linked from their archives (Debian's -dev packages ship them), with
# the libraries pkg-config --static says they need; when an archive is missing,
# they are linked shared as before, and configure says so. Packagers who want
# shared linking turn it off.
option(MEVI_STATIC_LIBS "Link libevent, libseccomp, libdw, libbpf and msgpack-c statically" ON)
set(MEVI_SYSTEM_LIBS c m dl rt pthread)

# mevi_archive_chain(OK_VAR lib...): an imported static target mevi_a_<lib> for
# each archive, each linking the next (pkg-config --static lists a library
# before those it needs). OK_VAR is false when an archive is missing.
function(mevi_archive_chain ok_var)
  set(prev "")
  foreach(lib IN LISTS ARGN)
    if(lib IN_LIST MEVI_SYSTEM_LIBS)
      continue()
    endif()
    if(NOT TARGET mevi_a_${lib})
      find_library(MEVI_ARCHIVE_${lib} NAMES lib${lib}.a)
      if(NOT MEVI_ARCHIVE_${lib})
        set(${ok_var} OFF PARENT_SCOPE)
        return()
      endif()
      add_library(mevi_a_${lib} STATIC IMPORTED)
      set_target_properties(mevi_a_${lib} PROPERTIES IMPORTED_LOCATION ${MEVI_ARCHIVE_${lib}})
    endif()
    if(prev AND NOT prev STREQUAL lib)
      get_target_property(deps mevi_a_${prev} INTERFACE_LINK_LIBRARIES)
      if(NOT mevi_a_${lib} IN_LIST deps)
        set_property(TARGET mevi_a_${prev} APPEND PROPERTY INTERFACE_LINK_LIBRARIES mevi_a_${lib})
      endif()
    endif()
    set(prev ${lib})
  endforeach()
  set(${ok_var} ON PARENT_SCOPE)
endfunction()

# mevi_link_static(PREFIX): points PkgConfig::PREFIX (found by mevi_require or
# pkg_check_modules) at the archives, when MEVI_STATIC_LIBS and they are all there,
# and adds the library's name to the global property MEVI_STATIC_LINKED (which
# tests/launcher checks mevi-run against).
function(mevi_link_static prefix)
  if(NOT MEVI_STATIC_LIBS)
    return()
  endif()
  mevi_archive_chain(ok ${${prefix}_STATIC_LIBRARIES})
  if(NOT ok)
    message(STATUS "${prefix}: no static archive of ${${prefix}_STATIC_LIBRARIES}: linked shared")
    return()
  endif()
  list(GET ${prefix}_STATIC_LIBRARIES 0 main)
  set_property(GLOBAL APPEND PROPERTY MEVI_STATIC_LINKED ${main})
  set_property(TARGET PkgConfig::${prefix} PROPERTY INTERFACE_LINK_LIBRARIES mevi_a_${main})
  set_property(TARGET PkgConfig::${prefix} PROPERTY INTERFACE_LINK_OPTIONS "")
  set_property(TARGET PkgConfig::${prefix} PROPERTY INTERFACE_LINK_DIRECTORIES "")
endfunction()

foreach(prefix MSGPACK LIBEVENT SECCOMP LIBDW)
  mevi_link_static(${prefix})
endforeach()
