#!/usr/bin/env bash
# Builds the GPU check kit (docs/gpu-validation.md): a folder holding all that
# scripts/gpu-check.sh needs on a GPU host where nothing is installed.
#
#   scripts/gpu-kit.sh              # from build/ (built first if needed) into gpu-kit/
#   scripts/gpu-kit.sh --build DIR --kit DIR
#
# The kit:
#   bin/     nvgate, nvprobe, bench_nvgate, bench_workload, stripped; run path $ORIGIN/../lib;
#            egl_check and vulkan_queue (tools/gpu-check/gl), built here with cc, needing
#            only glibc (vulkan_queue only where apt fetches Vulkan's headers)
#   lib/     every shared library they need that is not glibc's (libstdc++, libgcc_s,
#            libfmt, libspdlog, libtomlplusplus, libsystemd...), run path $ORIGIN: glibc stays the host's, and the
#            binaries, built against Debian 12's glibc 2.36, run on any glibc >= 2.36
#   cuda/    the CUDA programs' sources (tools/gpu-check/cuda), compiled on the GPU host
#   python/  the PyTorch, JAX, CuPy and JPEG checks (tools/gpu-check/python)
#   graphics/ vulkan_check.sh and the sources of egl_check and vulkan_queue (tools/gpu-check/gl)
#   loaders/ Debian 12's .deb files of the Vulkan and EGL loaders (glvnd), vulkaninfo
#            and the libraries they load that a bare Ubuntu image lacks, fetched with
#            apt-get download where it works (else left out, with a note):
#            gpu-check.sh unpacks them into its work folder for the Vulkan and EGL steps
#   gpu-check.sh, MANIFEST (revision, files, sizes)
# Fails if any binary would still load a library from this machine, or if the
# kit is over 48 MiB (the device tool carries at most 64 MiB with the repository).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
kit=gpu-kit
while (($#)); do
  case "$1" in
    --build) build=${2:?}; shift 2 ;;
    --kit) kit=${2:?}; shift 2 ;;
    *) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done

binaries=(src/cli/nvgate tools/nvprobe/nvprobe bench/bench_nvgate bench/bench_workload)
if [[ ! -f $build/build.ninja ]]; then
  cmake -S . -B "$build" -G Ninja -DNVGATE_WERROR=ON
fi
cmake --build "$build" -j "$(nproc)" --target nvgate nvprobe bench_nvgate bench_workload

rm -rf "$kit"
mkdir -p "$kit/bin" "$kit/lib"
for b in "${binaries[@]}"; do
  cp "$build/$b" "$kit/bin/"
done
cc -O2 -Wall -Wextra -Werror -o "$kit/bin/egl_check" tools/gpu-check/gl/egl_check.c

# The GPU host has the driver's Vulkan ICD and EGL vendor files but no loader
# and reaches no registry: the packages travel in the kit (1.8 MB). Besides the
# loaders (glvnd's libEGL, libGLdispatch, libGLESv2, libOpenGL; libvulkan) and
# vulkaninfo: the X11, xcb and Wayland client libraries vulkaninfo loads (ldd),
# and libXext, which the driver's libGLX_nvidia (its Vulkan ICD) loads; a bare
# Ubuntu image has none of them. Debian 12's libraries need glibc 2.36 at most.
gl_packages=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 vulkan-tools
  libx11-6 libxext6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0 libwayland-client0 libffi8)
# A private package index (apt-get update removes what else is in its folder).
apt_work=$(mktemp -d)
mkdir -p "$apt_work/lists/partial" "$kit/loaders"
apt_options=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$apt_work/lists")
if ! { timeout 120 apt-get "${apt_options[@]}" update &&
  (cd "$kit/loaders" && timeout 120 apt-get "${apt_options[@]}" download "${gl_packages[@]}"); } \
  >"$apt_work/log" 2>&1; then
  echo "gpu-kit: note: apt-get could not fetch the Vulkan and EGL packages (last lines below):" \
    "the check will skip its Vulkan and EGL steps" >&2
  tail -n 3 "$apt_work/log" >&2
  rm -rf "$kit/loaders"
fi
# vulkan_queue is compiled against Debian's Vulkan headers, fetched for that only.
if (cd "$apt_work" && timeout 120 apt-get "${apt_options[@]}" download libvulkan-dev) >>"$apt_work/log" 2>&1 &&
  dpkg-deb -x "$apt_work"/libvulkan-dev_*.deb "$apt_work/root"; then
  cc -O2 -Wall -Wextra -Werror -I"$apt_work/root/usr/include" -o "$kit/bin/vulkan_queue" \
    tools/gpu-check/gl/vulkan_queue.c
else
  echo "gpu-kit: note: no Vulkan headers (libvulkan-dev): the kit has no vulkan_queue" >&2
fi
rm -rf "$apt_work"

# glibc's own libraries (and the vDSO): the host's are used.
is_glibc() {
  case "$1" in
    linux-vdso.so.* | ld-linux*.so.* | libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | \
      libresolv.so.* | libutil.so.*) return 0 ;;
  esac
  return 1
}
for b in "$kit"/bin/*; do
  while read -r name _ path _; do
    is_glibc "$name" && continue
    [[ -f $path ]] || { echo "gpu-kit: $b needs $name, which ldd cannot find" >&2; exit 1; }
    [[ -f $kit/lib/$name ]] || cp -L "$path" "$kit/lib/$name"
  done < <(ldd "$b" | awk '/=>/ {print $1, $2, $3, $4}')
done
strip --strip-unneeded "$kit"/bin/* "$kit"/lib/*
for b in "$kit"/bin/*; do patchelf --set-rpath '$ORIGIN/../lib' "$b"; done
for l in "$kit"/lib/*; do patchelf --set-rpath '$ORIGIN' "$l"; done

# Every library but glibc's must now come from the kit.
for f in "$kit"/bin/* "$kit"/lib/*; do
  while read -r name _ path _; do
    is_glibc "$name" && continue
    case "$(readlink -f "$path")" in
      "$(cd "$kit" && pwd)"/lib/*) ;;
      *) echo "gpu-kit: $f loads $name from $path, outside the kit" >&2; exit 1 ;;
    esac
  done < <(ldd "$f" | awk '/=>/ {print $1, $2, $3, $4}')
done

cp -r tools/gpu-check/cuda "$kit/cuda"
cp -r tools/gpu-check/python "$kit/python"
cp -r tools/gpu-check/gl "$kit/graphics"
cp scripts/gpu-check.sh "$kit/gpu-check.sh"

size=$(du -sb "$kit" | cut -f1)
{
  echo "nvgate GPU check kit, built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "revision $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (modified)')"
  echo "built on $(. /etc/os-release && echo "$PRETTY_NAME"), $(ldd --version | head -n 1)"
  echo "size $size bytes"
  (cd "$kit" && find . -type f ! -name MANIFEST | sort | xargs du -b)
} >"$kit/MANIFEST"
limit=$((48 * 1024 * 1024))
if ((size > limit)); then
  echo "gpu-kit: the kit is $size bytes, over $limit" >&2
  exit 1
fi
echo "gpu-kit: $kit ($((size / 1024)) KiB); on a GPU host: scripts/gpu-check.sh --kit $kit OUTDIR"
