# Finds every library mevi links, through pkg-config, and names the Debian
# package to install when one is missing (.ci/install-deps.sh installs them all).
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config (or run .ci/install-deps.sh)")
endif()

function(mevi_require target module package)
  pkg_check_modules(${target} IMPORTED_TARGET ${module})
  if(NOT ${target}_FOUND)
    message(FATAL_ERROR "${module} not found: apt-get install ${package} (or run .ci/install-deps.sh)")
  endif()
endfunction()

mevi_require(MSGPACK msgpack libmsgpack-dev)
mevi_require(LIBUV libuv libuv1-dev)
mevi_require(LWS libwebsockets libwebsockets-dev)
mevi_require(LIBEVENT libevent_core libevent-dev)
mevi_require(SECCOMP libseccomp libseccomp-dev)
mevi_require(LIBDW libdw "libdw-dev libelf-dev")
mevi_require(JSONC json-c libjson-c-dev)
mevi_require(CMOCKA cmocka libcmocka-dev)

# libwebsockets drives libuv through a plugin it dlopen()s at start-up.
find_file(MEVI_LWS_UV_PLUGIN libwebsockets-evlib_uv.so
  PATHS /usr/lib/x86_64-linux-gnu /usr/lib /usr/local/lib NO_DEFAULT_PATH)
if(NOT MEVI_LWS_UV_PLUGIN)
  message(FATAL_ERROR "libwebsockets' libuv plugin not found: apt-get install libwebsockets-evlib-uv (or run .ci/install-deps.sh)")
endif()
