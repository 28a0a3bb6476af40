#!/usr/bin/env bash
# Runs Docker against nvgate's shim and agent on the simulated driver, with
# nothing installed: Debian's docker.io and containerd packages are downloaded
# and unpacked into a scratch directory, and dockerd and containerd run there
# with their state under it, beside an `nvgate agent --backend sim`.
#
#   tests/containers/docker_check.sh [BUILD_DIR]    # default: build
#
# Needs root and network access to the Debian mirror. Checks, each through
# `docker run --runtime=nvgate`:
#   - NVIDIA_DRIVER_CAPABILITIES=compute: nvprobe's compute steps run, its video
#     and graphics steps are refused, and the agent logs each denial;
#   - a request outside the shim's bound: the container is not created and
#     Docker shows the shim's error;
#   - Docker's own default seccomp profile stays in force as the base.
# Not part of CI: it downloads about 60 MB and runs two daemons.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build=$(cd "${1:-build}" && pwd)
nvgate=$build/src/cli/nvgate
nvprobe=$build/tests/containers/nvprobe_static
for f in "$nvgate" "$nvprobe"; do
  [[ -x $f ]] || { echo "docker_check: $f is missing: build first (cmake --build $build)" >&2; exit 2; }
done
[[ $(id -u) -eq 0 ]] || { echo "docker_check: needs root (dockerd)" >&2; exit 2; }

work=$(mktemp -d /tmp/nvgate-docker.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  # dockerd leaves its overlay mounts behind when killed mid-way.
  grep -o " $work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "docker_check: fetching docker.io and containerd into $work"
(cd "$work" && apt-get download docker.io containerd > /dev/null 2>&1) ||
  { echo "docker_check: apt-get download docker.io containerd failed" >&2; exit 2; }
for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/pkg"; done
export PATH=$work/pkg/usr/bin:$work/pkg/usr/sbin:$PATH
export DOCKER_HOST=unix://$work/docker.sock

echo "docker_check: starting containerd, dockerd and the agent"
containerd --root "$work/containerd" --state "$work/containerd-state" \
  --address "$work/containerd.sock" > "$work/containerd.log" 2>&1 &
pids+=($!)
cat > "$work/daemon.json" << EOF
{"runtimes": {"nvgate": {"path": "$nvgate",
  "runtimeArgs": ["oci", "runtime", "--socket=$work/agent.sock",
                  "--allowed-caps=compute,utility,video", "--"]}}}
EOF
dockerd --config-file "$work/daemon.json" --data-root "$work/docker" --exec-root "$work/docker-exec" \
  --pidfile "$work/dockerd.pid" -H "$DOCKER_HOST" --containerd "$work/containerd.sock" \
  --iptables=false --ip-masq=false --bridge=none > "$work/dockerd.log" 2>&1 &
pids+=($!)
mkdir -p "$work/sim"
"$nvgate" agent --socket "$work/agent.sock" --backend sim --sim-node-dir "$work/sim" \
  --allowed-caps compute,utility,video > "$work/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  docker info > /dev/null 2>&1 && [[ -S $work/agent.sock ]] && break
  sleep 0.2
done
docker info > /dev/null 2>&1 || { tail -5 "$work/dockerd.log" >&2; echo "docker_check: dockerd did not start" >&2; exit 1; }

mkdir -p "$work/rootfs"/{bin,dev,proc,sys,tmp}
cp "$nvprobe" "$work/rootfs/bin/nvprobe"
cp /bin/busybox "$work/rootfs/bin/busybox"  # static: busybox-static, which scripts/setup-debian.sh installs
tar -C "$work/rootfs" -cf - . | docker import - nvgate-check:probe > /dev/null
devices=()
for node in nvidiactl nvidia0 nvidia-uvm; do devices+=(-v "$work/sim/$node:/dev/$node"); done

failed=0
check() {  # DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then echo "docker_check: ok: $what"; else echo "docker_check: FAILED: $what" >&2; failed=1; fi
}

out=$(docker run --rm --runtime=nvgate --network none -e NVIDIA_DRIVER_CAPABILITIES=compute "${devices[@]}" \
  nvgate-check:probe /bin/nvprobe 2>&1) || true
check "compute: compute steps run" grep -q '^\[compute \] compute class 0xcbc0 *ok' <<< "$out"
check "compute: video decoder refused" grep -q '^\[video   \] video decoder 0xb8b0 *refused' <<< "$out"
check "compute: 3D class refused" grep -q '^\[graphics\] 3D class 0xcb97 *refused' <<< "$out"
check "compute: the agent logged the denial" grep -q 'denied: container .*graphics: HOPPER_A' "$work/agent.log"

out=$(docker run --rm --runtime=nvgate --network none -e NVIDIA_DRIVER_CAPABILITIES=graphics "${devices[@]}" \
  nvgate-check:probe /bin/nvprobe 2>&1) && status=0 || status=$?
check "graphics (outside the bound): not created" test "$status" -ne 0
check "graphics (outside the bound): the shim's error reaches Docker" \
  grep -q 'capability request .graphics. .*refused.*the runtime was not called' <<< "$out"

# Docker's default profile refuses unshare(CLONE_NEWUSER); under the shim it
# is the base of nvgate's profile, so it still does.
out=$(docker run --rm --runtime=nvgate --network none nvgate-check:probe /bin/busybox unshare -U /bin/busybox true 2>&1) &&
  status=0 || status=$?
check "Docker's default profile kept: unshare -U refused" test "$status" -ne 0
out=$(docker run --rm --runtime=runc --network none nvgate-check:probe /bin/busybox true 2>&1) && status=0 || status=$?
check "a container with plain runc still runs" test "$status" -eq 0

if [[ $failed -ne 0 ]]; then
  echo "--- agent log" >&2
  tail -20 "$work/agent.log" >&2
  exit 1
fi
echo "docker_check: all checks passed (Docker $(docker version --format '{{.Server.Version}}'))"
