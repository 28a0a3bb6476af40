#!/usr/bin/env bash
# Proves that the GPU check kit needs nothing from the machine that built it:
# runs KIT/gpu-check.sh --backend sim in a fresh mount namespace, chrooted into
# a root that holds only the kit and a minimal base system (glibc, bash,
# busybox-static's tools), then checks its report with check_report.py.
#   tests/gpu_kit/chroot_check.sh KIT     # as root (CI: scripts/test.sh --gpu-kit)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kit=$(cd "${1:?usage: $0 KIT}" && pwd)
root=$(mktemp -d /tmp/nvgate-kit-root.XXXXXX)
trap '[[ -n ${NVGATE_KEEP_ROOT:-} ]] || rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,dev,proc,tmp,out,lib64,lib/x86_64-linux-gnu,usr/bin}
cp -r "$kit" "$root/kit"
# The base system: bash and what it loads (glibc, libtinfo), the dynamic
# loader, glibc's libm for the kit's binaries, and busybox for the rest.
cp /usr/bin/busybox "$root/bin/busybox"
for applet in $(/usr/bin/busybox --list); do
  [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
done
cp /bin/bash "$root/bin/bash"
for lib in $(ldd /bin/bash | awk '/=>/ {print $3}') /lib/x86_64-linux-gnu/libm.so.6; do
  cp -L "$lib" "$root/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
ln -s /bin/env "$root/usr/bin/env"

unshare --mount --fork -- bash -euc '
  root=$1
  mount --make-rprivate /
  # A mount of its own, as a container root is: nvgate makes / private for its workload.
  mount --bind "$root" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/tmp"
  # A clean environment: nothing from the build machine but the kernel.
  env -i PATH=/bin HOME=/ "$(command -v chroot)" "$root" /bin/bash /kit/gpu-check.sh --backend sim \
    --budget 240 /out
' _ "$root"
python3 "$here/check_report.py" --backend sim "$root/out"
