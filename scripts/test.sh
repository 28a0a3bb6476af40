#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds nvgate and runs every test.
#   scripts/test.sh              # the normal build, warnings as errors
#   scripts/test.sh --sanitize   # an ASan+UBSan build of the same tests
#   scripts/test.sh --fuzz       # builds the libFuzzer targets with clang, runs each briefly
#   scripts/test.sh --gpu-kit    # the GPU check kit from the normal build, run with the sim in a
#                                # chroot holding only the kit and a minimal base system (as root)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-normal}
./scripts/setup-debian.sh

jobs=$(nproc)
case "$mode" in
  normal)
    cmake -S . -B build -G Ninja -DNVGATE_WERROR=ON
    cmake --build build -j "$jobs"
    ctest --test-dir build --output-on-failure -j "$jobs"
    ;;
  --sanitize)
    cmake -S . -B build-asan -G Ninja -DNVGATE_WERROR=ON -DNVGATE_SANITIZE=ON -DNVGATE_BENCH=OFF \
      -DCMAKE_BUILD_TYPE=Debug
    cmake --build build-asan -j "$jobs"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir build-asan --output-on-failure -j "$jobs"
    ;;
  --fuzz)
    # One per decoder, then one per handler kind; committed seeds in fuzz/corpus.
    targets=(caps gpus table facts proxy metrics trace config)
    for handler in deny simple no_params bytes rm_control rm_alloc rm_alloc_memory rm_vid_heap rm_free \
                   root_client uvm_initialize export_dmabuf caller_memory; do
      targets+=("handler_$handler")
    done
    CXX=clang++ CC=clang cmake -S . -B build-fuzz -G Ninja -DNVGATE_FUZZ=ON -DNVGATE_BENCH=OFF
    cmake --build build-fuzz -j "$jobs" --target "${targets[@]/#/fuzz_}"
    for target in "${targets[@]}"; do
      echo "fuzz: $target (${NVGATE_FUZZ_SECONDS:-30}s)"
      seeds=fuzz/corpus/$target
      [[ $target == handler_* ]] && seeds=fuzz/corpus/handlers
      seed_dirs=()
      [[ -d $seeds ]] && seed_dirs=("$seeds")
      mkdir -p "build-fuzz/corpus/$target"
      "build-fuzz/fuzz/fuzz_$target" -max_total_time="${NVGATE_FUZZ_SECONDS:-30}" \
        -print_final_stats=1 "build-fuzz/corpus/$target" "${seed_dirs[@]}" 2>&1 | tail -n 3
    done
    ;;
  --gpu-kit)
    # docs/gpu-validation.md: proves the kit needs nothing from this machine.
    scripts/gpu-kit.sh --build build --kit build/gpu-kit
    tests/gpu_kit/chroot_check.sh build/gpu-kit
    ;;
  *)
    echo "usage: $0 [--sanitize|--fuzz|--gpu-kit]" >&2
    exit 2
    ;;
esac
