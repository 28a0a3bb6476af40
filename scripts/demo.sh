#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds nvgate and runs its main job:
# nvprobe, a program that does at the driver level what CUDA, NVML, video and
# graphics users do, under `nvgate run` with the compute capability. Without a
# GPU it runs on nvgate's simulated 580 driver; compute calls succeed, video and
# graphics calls are refused, and nvgate logs each refusal.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-debian.sh
cmake -S . -B build -G Ninja
cmake --build build -j "$(nproc)" --target nvgate nvprobe

backend=sim
[[ -e /dev/nvidiactl ]] && backend=host
echo "== nvgate abi: the attack surface of the default capability set"
./build/src/cli/nvgate abi | tail -n 16
echo "== nvgate run --backend $backend --caps compute -- nvprobe"
exec ./build/src/cli/nvgate run --backend "$backend" --caps "${CAPS:-compute}" -- ./build/tools/nvprobe/nvprobe
