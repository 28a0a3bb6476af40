#!/usr/bin/env bash
# Fetches NVIDIA's own user-space driver libraries (libcuda1, libnvidia-ml1)
# from Debian's non-free archive for tests/realclient, without installing them:
# a private apt configuration (its own sources list, lists and cache under
# DEST/apt, non-free enabled there only and for nothing else), `apt-get
# download` of exactly these two packages in the versions nvgate tests, and
# `dpkg -x` into DEST/VERSION. The system's apt configuration and package
# database are not touched; nothing needs root.
#
# Usage: scripts/fetch-nvidia-libs.sh [DEST]   (default: $NVGATE_NVIDIA_LIBS,
#        else build/nvidia-libs in the repository, where tests/realclient looks).
#        Idempotent: versions already unpacked are kept.
# Then DEST/VERSION/libcuda.so.1 and DEST/VERSION/libnvidia-ml.so.1 exist.
#
# The libraries are NVIDIA's, under the NVIDIA driver licence that Debian's
# copyright file quotes (DEST/VERSION/copyright); they are never committed.
set -euo pipefail

dest=${1:-${NVGATE_NVIDIA_LIBS:-$(cd "$(dirname "$0")/.." && pwd)/build/nvidia-libs}}
# version  Debian package version  suite
releases=(
  "535.261.03 535.261.03-1 bookworm"
  "535.216.03 535.216.03-2~bpo12+1 bookworm-backports"
  "550.163.01 550.163.01-2 trixie"
)

missing=()
for r in "${releases[@]}"; do
  read -r version _ _ <<<"$r"
  [[ -e $dest/$version/libcuda.so.1 && -e $dest/$version/libnvidia-ml.so.1 ]] || missing+=("$r")
done
if ((${#missing[@]} == 0)); then
  echo "fetch-nvidia-libs: all versions present in $dest"
  exit 0
fi

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
apt_dir=$dest/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d" \
  "$apt_dir/preferences.d" "$apt_dir/debs"
: >"$apt_dir/status"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
{
  for suite in bookworm bookworm-backports trixie; do
    echo "deb [signed-by=$keyring] http://deb.debian.org/debian $suite non-free"
  done
} >"$apt_dir/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::Etc::Preferences=$apt_dir/preferences" -o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
  -o "Dir::State=$apt_dir" -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::status=$apt_dir/status"
  -o "Dir::Cache=$apt_dir/cache" -o "APT::Architecture=amd64" -o "Acquire::Languages=none"
  -o "APT::Sandbox::User=$(id -un)" -o "Debug::NoLocking=1"
)
echo "fetch-nvidia-libs: enabling Debian non-free in a private apt configuration ($apt_dir) for libcuda1 and libnvidia-ml1 only"
apt-get "${apt_opts[@]}" -qq update
for r in "${missing[@]}"; do
  read -r version debian_version _ <<<"$r"
  echo "fetch-nvidia-libs: libcuda1 and libnvidia-ml1 $debian_version -> $dest/$version"
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" -qq download \
    "libcuda1=$debian_version" "libnvidia-ml1=$debian_version")
  unpack=$(mktemp -d "$dest/.unpack-XXXXXX")
  for deb in "$apt_dir/debs"/libcuda1_"${debian_version/:/%3a}"_amd64.deb \
             "$apt_dir/debs"/libnvidia-ml1_"${debian_version/:/%3a}"_amd64.deb; do
    dpkg -x "$deb" "$unpack"
  done
  mkdir -p "$dest/$version"
  libdir=$unpack/usr/lib/x86_64-linux-gnu/nvidia/current
  cp "$libdir/libcuda.so.$version" "$libdir/libnvidia-ml.so.$version" "$dest/$version/"
  ln -sf "libcuda.so.$version" "$dest/$version/libcuda.so.1"
  ln -sf "libnvidia-ml.so.$version" "$dest/$version/libnvidia-ml.so.1"
  cp "$unpack/usr/share/doc/libcuda1/copyright" "$dest/$version/copyright"
  rm -rf "$unpack"
done
echo "fetch-nvidia-libs: done ($dest)"
