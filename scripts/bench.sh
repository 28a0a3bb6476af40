#!/usr/bin/env bash
# Builds and runs nvgate's benchmark suite (docs/performance.md) and writes
# bench-results/: results.json and results.md (each figure next to its reference,
# as a ratio, and the performance goals met or not), benchmark.json (Google
# Benchmark's own output), latency.json (per-call samples), and latency.png and
# threads.png where python3-matplotlib can be installed.
#   scripts/bench.sh                  # 5 repetitions, medians reported
#   REPETITIONS=10 scripts/bench.sh
#   BUILD=build-other scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

repetitions=${REPETITIONS:-5}
build=${BUILD:-build-bench}
out=bench-results

./scripts/setup-debian.sh
# Only for the plots: the suite and the tables do without.
python=/usr/bin/python3
if ! "$python" -c 'import matplotlib' 2>/dev/null; then
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  { "${sudo_cmd[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-matplotlib; } ||
    echo "bench: python3-matplotlib not installable; no plots"
fi

cmake -S . -B "$build" -G Ninja -DNVGATE_WERROR=ON -DCMAKE_BUILD_TYPE=Release
ninja -C "$build" bench_nvgate

mkdir -p "$out"
"$build/bench/bench_nvgate" \
  --benchmark_repetitions="$repetitions" --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/benchmark.json" --benchmark_out_format=json \
  --latency_out="$out/latency.json"
"$python" scripts/bench_report.py "$out"
echo "bench: wrote $out/results.md and $out/results.json"
