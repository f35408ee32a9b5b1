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
