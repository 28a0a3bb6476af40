# What `cmake --install` puts where, and the Debian package CPack builds from it
# (scripts/package.sh). Included last by the top-level CMakeLists.txt: it names
# targets defined in the subdirectories.
include(GNUInstallDirs)

# nvprobe is installed beside nvgate as a diagnostic: run it under
# `nvgate run` to see which driver steps a capability set allows.
install(TARGETS nvgate nvprobe RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# nvgate-runtime -> nvgate: `nvgate oci runtime` for containerd's BinaryName,
# CRI-O's runtime_path and Docker's runtime path (docs/containers.md). A
# symlink in the build tree, installed as a symlink.
install(FILES $<TARGET_FILE_DIR:nvgate>/nvgate-runtime DESTINATION ${CMAKE_INSTALL_BINDIR})

# Debian wants man pages compressed, without a timestamp (gzip -n) so that
# builds are reproducible.
set(NVGATE_MAN_PAGES nvgate.1 nvprobe.1)
set(compressed_man_pages)
foreach(page IN LISTS NVGATE_MAN_PAGES)
  set(compressed ${PROJECT_BINARY_DIR}/man/${page}.gz)
  add_custom_command(
    OUTPUT ${compressed}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND gzip -9 -n -c ${PROJECT_SOURCE_DIR}/docs/man/${page} > ${compressed}
    DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/${page}
    COMMENT "Compressing man page ${page}"
    VERBATIM)
  list(APPEND compressed_man_pages ${compressed})
endforeach()
# nvgate-runtime is `nvgate oci runtime`, which nvgate(1) describes: its page is
# a link to nvgate's.
set(runtime_man_page ${PROJECT_BINARY_DIR}/man/nvgate-runtime.1.gz)
add_custom_command(
  OUTPUT ${runtime_man_page}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
  COMMAND ${CMAKE_COMMAND} -E create_symlink nvgate.1.gz ${runtime_man_page}
  DEPENDS ${PROJECT_BINARY_DIR}/man/nvgate.1.gz
  VERBATIM)
add_custom_target(nvgate_man_pages ALL DEPENDS ${compressed_man_pages} ${runtime_man_page})
install(FILES ${compressed_man_pages} ${runtime_man_page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES ${PROJECT_SOURCE_DIR}/packaging/completions/nvgate.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME nvgate)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/completions/_nvgate
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
# Not enabled on install (packaging/debian/postinst): the operator sets the node's bound first
# (docs/containers.md), then `systemctl enable --now nvgate-agent`.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/nvgate-agent.service
        DESTINATION lib/systemd/system)
# The site configuration: where nvgate looks for it whatever the prefix, so an
# absolute path. Every key in it is commented out: installing it changes
# nothing. A conffile, so dpkg keeps the operator's edits on upgrade and
# removes it on purge.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/nvgate.toml DESTINATION /etc/nvgate)
file(WRITE ${PROJECT_BINARY_DIR}/debian/conffiles "/etc/nvgate/nvgate.toml\n")
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/install.md ${PROJECT_SOURCE_DIR}/docs/containers.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The package's revision: its version is PROJECT_VERSION-NVGATE_DEBIAN_REVISION,
# the first entry of packaging/debian/changelog, which must say so.
set(NVGATE_DEBIAN_REVISION 1)
file(STRINGS ${PROJECT_SOURCE_DIR}/packaging/debian/changelog changelog_head LIMIT_COUNT 1)
if(NOT changelog_head MATCHES "^nvgate \\(${PROJECT_VERSION}-${NVGATE_DEBIAN_REVISION}\\) ")
  message(FATAL_ERROR "packaging/debian/changelog starts with '${changelog_head}', not an entry for "
                      "${PROJECT_VERSION}-${NVGATE_DEBIAN_REVISION}: add one")
endif()
# Debian's copyright file (machine-readable) and changelog, compressed without
# a timestamp like the man pages.
set(compressed_changelog ${PROJECT_BINARY_DIR}/debian/changelog.Debian.gz)
add_custom_command(
  OUTPUT ${compressed_changelog}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/debian
  COMMAND gzip -9 -n -c ${PROJECT_SOURCE_DIR}/packaging/debian/changelog > ${compressed_changelog}
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/debian/changelog
  COMMENT "Compressing the Debian changelog"
  VERBATIM)
add_custom_target(nvgate_debian_changelog ALL DEPENDS ${compressed_changelog})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/copyright ${compressed_changelog}
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(NVGATE_PACKAGE_CONTACT "nvgate maintainers <maintainers@nvgate.invalid>"
    CACHE STRING "The Debian package's Maintainer field: 'Name <email>'")

set(CPACK_PACKAGE_NAME nvgate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# lintian's malformed-contact: an error. A build directory configured before the
# default had an address keeps the old one: `cmake -U NVGATE_PACKAGE_CONTACT`.
if(NOT NVGATE_PACKAGE_CONTACT MATCHES "^[^<>]+ <[^<>@ ]+@[^<> ]+>$")
  message(WARNING "NVGATE_PACKAGE_CONTACT '${NVGATE_PACKAGE_CONTACT}' is not 'Name <email>'")
endif()
set(CPACK_PACKAGE_CONTACT "${NVGATE_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "NVIDIA driver capability gate for untrusted GPU workloads")
set(CPACK_PACKAGE_DESCRIPTION
    "nvgate runs a workload under a seccomp user-notification filter; its\n\
supervisor executes every NVIDIA driver call itself after checking it\n\
against the driver version's ABI table, so only the calls of the granted\n\
NVIDIA driver capabilities reach the kernel. 'nvgate doctor' says whether\n\
this machine can run it. Includes nvprobe, a driver-level probe to run\n\
under nvgate.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from what the binaries actually link, with the versions
# this machine built against.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The maintainer scripts call deb-systemd-helper (debian-installed,
# was-enabled, update-state: 1.8) and deb-systemd-invoke.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "init-system-helpers (>= 1.8)")
set(CPACK_DEBIAN_PACKAGE_RELEASE ${NVGATE_DEBIAN_REVISION})
# What dh_installsystemd would write for nvgate-agent.service, not enabled on
# install (packaging/debian/postinst says what each does).
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/debian/conffiles ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
