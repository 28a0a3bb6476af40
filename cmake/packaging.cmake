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
add_custom_target(nvgate_man_pages ALL DEPENDS ${compressed_man_pages})
install(FILES ${compressed_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES ${PROJECT_SOURCE_DIR}/packaging/completions/nvgate.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME nvgate)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/completions/_nvgate
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
# Not enabled on install: the operator sets the node's bound first
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

set(NVGATE_PACKAGE_CONTACT "nvgate maintainers"
    CACHE STRING "The Debian package's Maintainer field: 'Name <email>'")

set(CPACK_PACKAGE_NAME nvgate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${NVGATE_PACKAGE_CONTACT})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "NVIDIA driver capability gate for untrusted GPU workloads")
set(CPACK_PACKAGE_DESCRIPTION
    "nvgate runs a workload under a seccomp user-notification filter; its supervisor\n\
executes every NVIDIA driver call itself after checking it against the driver\n\
version's ABI table, so only the calls of the granted NVIDIA driver capabilities\n\
reach the kernel. 'nvgate doctor' says whether this machine can run it.\n\
Includes nvprobe, a driver-level probe to run under nvgate.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from what the binaries actually link, with the versions
# this machine built against.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
