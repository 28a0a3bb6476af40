#!/usr/bin/env bash
# Builds nvgate's Debian package (nvgate and its nvgate-runtime link, nvprobe,
# man pages, bash and zsh completions) into build-pkg/.
#   scripts/package.sh                  # build-pkg/nvgate_<version>_<arch>.deb
#   scripts/package.sh --install-check  # then, as root: dpkg -i it, run
#                                       # `nvgate --version` and `nvgate doctor`, check
#                                       # /etc/nvgate/nvgate.toml, dpkg --purge
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
cmake -S . -B build-pkg -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNVGATE_WERROR=ON -DNVGATE_BENCH=OFF \
  -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON
cmake --build build-pkg -j "$(nproc)" --target nvgate nvprobe nvgate_man_pages
(cd build-pkg && cpack -G DEB)

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' build-pkg/CMakeCache.txt)
deb=build-pkg/nvgate_${version}_$(dpkg --print-architecture).deb
echo "package: $deb"
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\):/  \1:/p'
dpkg-deb --contents "$deb" | awk '{print "  " $NF}'

$install_check || exit 0

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
man -w nvgate nvprobe
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
trap - EXIT
dpkg --purge nvgate
if [[ -e $config || -e ${config%/*} ]]; then
  echo "package: dpkg --purge left $config behind" >&2
  exit 1
fi
echo "package: install check passed (nvgate doctor exit $doctor_status); nvgate purged"
