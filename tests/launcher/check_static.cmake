# Checks that a binary needs none of the shared libraries it was meant to link
# statically (cmake/MeviDeps.cmake, MEVI_STATIC_LIBS): readelf -d lists what
# the dynamic loader must map before main().
#   cmake -DBINARY=path -DSTATIC="dw;bpf;..." -P check_static.cmake
execute_process(COMMAND readelf -d ${BINARY} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${BINARY} failed (${rc})")
endif()
string(REGEX MATCHALL "Shared library: \\[[^]]+\\]" needed "${dyn}")
if(NOT needed)
  message(FATAL_ERROR "${BINARY}: no shared library at all, not even libc: readelf said\n${dyn}")
endif()
foreach(lib IN LISTS STATIC)
  foreach(n IN LISTS needed)
    if(n MATCHES "\\[lib${lib}[.-]")
      message(FATAL_ERROR "${BINARY} still needs ${n}: lib${lib} was to be linked statically")
    endif()
  endforeach()
endforeach()
message(STATUS "${BINARY}: ${needed}; none of ${STATIC}")
