# `make package`: a Debian package of the installed files (cpack -G DEB). dpkg-shlibdeps computes
# the library dependencies; the Qt plugins Ferry loads at run time (SQL drivers, platform plugins)
# are not linked, so they are named here.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ferry)
set(CPACK_PACKAGE_VENDOR "The Ferry team")
set(CPACK_PACKAGE_CONTACT "The Ferry team <team@ferry.dev>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "operator console and multi-user data import engine")
set(CPACK_PACKAGE_DESCRIPTION
    "Ferry imports the CSV, TSV, NDJSON and JSON files people upload over its
HTTP API into their own datasets, many users at once, fairly, with rate
limits, quotas, retries and recovery. Operators watch and steer the queue
in a Qt desktop console; the same engine runs headless on servers, on an
embedded SQLite store or on a shared PostgreSQL database.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libqt6sql6-sqlite, libqt6sql6-psql, qt6-qpa-plugins, adduser")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://ferry.dev/")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/postinst ${CMAKE_CURRENT_LIST_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
