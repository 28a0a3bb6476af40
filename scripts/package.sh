#!/usr/bin/env bash
# Builds nvgate's Debian package (nvgate and its nvgate-runtime link, nvprobe,
# man pages, bash and zsh completions, the agent's unit) into build-pkg/.
#   scripts/package.sh                  # build-pkg/nvgate_<version>-<revision>_<arch>.deb
#   scripts/package.sh --install-check  # then: lintian, and as root: dpkg -i it, run
#                                       # `nvgate --version` and `nvgate doctor`, check
#                                       # /etc/nvgate/nvgate.toml, enable (and start,
#                                       # where systemd runs) the agent, upgrade in
#                                       # place, remove, purge, check nothing is left
set -euo pipefail
cd "$(dirname "$0")/.."

install_check=false
case ${1:-} in
  "") ;;
  --install-check) install_check=true ;;
  *)
    echo "usage: $0 [--install-check]" >&2
    exit 2
    ;;
esac

./scripts/setup-debian.sh

# The build type the tests run (-O2; cpack strips the debug info). Release's -O3
# trips a GCC 12 -Wrestrict false positive inside libstdc++'s string operator+.
# Installing must not build every test first: only what the package holds is built.
# Debian's hardening flags (stack protector, relro, bindnow), as
# dpkg-buildpackage would set them, but its CPPFLAGS: _FORTIFY_SOURCE marks calls
# whose result nvgate ignores (launch.cc's symlink) warn_unused_result, which
# -Werror fails on (docs/install.md, "What lintian says").
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cmake -S . -B build-pkg -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNVGATE_WERROR=ON -DNVGATE_BENCH=OFF \
  -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON \
  -DCMAKE_CXX_FLAGS="$(dpkg-buildflags --get CXXFLAGS)" -DCMAKE_C_FLAGS="$(dpkg-buildflags --get CFLAGS)" \
  -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)"
cmake --build build-pkg -j "$(nproc)" --target nvgate nvprobe nvgate_man_pages nvgate_debian_changelog
(cd build-pkg && cpack -G DEB)

# The changelog's first entry: cmake/packaging.cmake checks it is the package's version.
version=$(sed -n '1s/^nvgate (\([^)]*\)).*/\1/p' packaging/debian/changelog)
deb=build-pkg/nvgate_${version}_$(dpkg --print-architecture).deb
echo "package: $deb"
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\):/  \1:/p'
dpkg-deb --contents "$deb" | awk '{print "  " $NF}'

$install_check || exit 0

# Errors fail the check; the warnings and infos left are explained in
# docs/install.md ("What lintian says").
if command -v lintian >/dev/null; then
  lintian --fail-on error "$deb"
else
  echo "package: lintian is not installed (apt-get install lintian); not checked" >&2
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "package: --install-check runs dpkg -i and needs root" >&2
  exit 1
fi
if dpkg-query -W -f='${Status}' nvgate 2>/dev/null | grep -q 'install ok installed'; then
  echo "package: nvgate is already installed here; not replacing it for a throwaway check" >&2
  exit 1
fi

config=/etc/nvgate/nvgate.toml
trap 'dpkg --purge nvgate >/dev/null' EXIT
dpkg -i "$deb"
nvgate --version
# The shim's name for containerd's BinaryName and Docker's runtime path.
[[ $(readlink /usr/bin/nvgate-runtime) == nvgate ]]
man -w nvgate nvgate-runtime nvprobe
systemd-analyze verify /usr/lib/systemd/system/nvgate-agent.service
# The site configuration: installed as a conffile, and parsed; every table is
# read whatever the command, and an unknown key or a bad value fails it.
test -f "$config"
dpkg-query -W -f='${Conffiles}\n' nvgate | grep -q "^ $config "
nvgate --config "$config" abi --summary-markdown >/dev/null
nvgate --config "$config" agent --help >/dev/null
# Exit 0, 1 and 2 are doctor's verdicts (host usable, only sim, neither); any
# other status means the installed nvgate itself is broken.
doctor_status=0
nvgate doctor || doctor_status=$?
if ((doctor_status > 2)); then
  echo "package: nvgate doctor failed with status $doctor_status" >&2
  exit 1
fi
# As an operator would: enable the agent (and start it where systemd runs),
# upgrade in place, remove, purge. The operator's choice survives the upgrade
# and the removal; purge takes the link enabling the agent away.
wants=/etc/systemd/system/multi-user.target.wants/nvgate-agent.service
systemd_runs=false
[[ -d /run/systemd/system ]] && systemd_runs=true
systemctl enable nvgate-agent.service
test -L "$wants"
if $systemd_runs; then
  systemctl start nvgate-agent.service
  systemctl is-active --quiet nvgate-agent.service
fi
dpkg -i "$deb"
test -L "$wants"
if $systemd_runs; then systemctl is-active --quiet nvgate-agent.service; fi
dpkg --remove nvgate
if $systemd_runs && systemctl is-active --quiet nvgate-agent.service; then
  echo "package: dpkg --remove left the agent running" >&2
  exit 1
fi
test -L "$wants"
trap - EXIT
dpkg --purge nvgate
if [[ -e $config || -e ${config%/*} ]]; then
  echo "package: dpkg --purge left $config behind" >&2
  exit 1
fi
if [[ -L $wants || -e $wants ]]; then
  echo "package: dpkg --purge left $wants behind" >&2
  exit 1
fi
echo "package: install check passed (nvgate doctor exit $doctor_status; systemd running: $systemd_runs); nvgate upgraded in place, removed and purged"
