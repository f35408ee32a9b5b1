# MeviPackage: `cpack -G DEB` in a build directory makes a Debian package of
# what `cmake --install` installs (mevi-run, mevid, the systemd user unit, the
# man pages), under /usr. Its Depends come from dpkg-shlibdeps (the libraries
# the binaries link), plus libwebsockets' libuv plugin, which is loaded at run
# time and so invisible to dpkg-shlibdeps.
set(CPACK_PACKAGE_NAME mevi)
set(CPACK_PACKAGE_VENDOR "mevi")
set(CPACK_PACKAGE_CONTACT "mevi developers <mevi@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "live memory visualizer for Linux programs")
set(CPACK_PACKAGE_DESCRIPTION "mevi-run runs a program and shows, live in the browser, \
how it and every process it spawns use memory, page by page; mevid serves the view.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE-MIT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Install with DESTDIR, so that CMAKE_INSTALL_PREFIX is /usr while installing
# and mevid.service's ExecStart names /usr/bin/mevid, not the staging dir.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libwebsockets-evlib-uv")
include(CPack)
