#!/usr/bin/env bash
# Installs every Debian package nvgate's build, tests, fuzzers and benchmarks need.
# Idempotent; run as root (or through sudo) on Debian 12.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev libfuzzer-14-dev
  libseccomp-dev libsystemd-dev libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libexpected-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  runc busybox-static patchelf python3 lintian
  podman crun containerd python3-yaml python3-jsonschema
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi

# NVIDIA's own libcuda1 and libnvidia-ml1 for tests/realclient: Debian's
# non-free component, enabled for these two packages only in a private apt
# configuration (not the system's), downloaded and unpacked, never installed.
echo "setup: fetching libcuda1 and libnvidia-ml1 from Debian non-free (these two only) for tests/realclient"
"$(dirname "$0")/fetch-nvidia-libs.sh" ||
  echo "setup: warning: could not fetch NVIDIA's libraries; the realclient tests will be skipped"
