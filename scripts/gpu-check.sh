#!/usr/bin/env bash
# The real-GPU check (docs/gpu-validation.md): runs every step of the kit that
# scripts/gpu-kit.sh built, natively and under nvgate, each under its own
# timeout, and writes into OUTDIR at most four files: report.md, report.json,
# traces.tar.gz (traces and learn reports) and logs.tar.gz (every step's output).
#
#   scripts/gpu-check.sh --kit gpu-kit OUTDIR                 # on the GPU host
#   gpu-kit/gpu-check.sh --backend sim OUTDIR                 # anywhere: the CUDA and
#                                                             # Python steps are skipped
# Options:
#   --kit DIR          the kit (default: the folder holding this script, if it is one)
#   --backend host|sim nvgate's backend (default host: the real driver)
#   --budget SECONDS   the whole check's time (default 360); a step gets at most what is left
#   --cost-reps N      repetitions of each cost measurement, native and under nvgate in
#                      alternation (default 3, or GPU_CHECK_COST_REPS; 0 leaves the section out)
#   --only REGEX       run only the steps whose workload matches REGEX (bash's =~), for a
#                      second, shorter call: e.g. 'nvcc|cuda-vector_add|^torch$' (the CUDA
#                      programs need the nvcc step)
# Exit status: 0 when the report was written (whatever the steps' results), 2 on bad usage.
# Needs bash 5 and coreutils or busybox (timeout, tar, gzip, grep, sed): nothing from the build machine.
set -uo pipefail

usage() {
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

script_dir=$(cd "$(dirname "$0")" && pwd)
kit=""
backend=host
budget=360
cost_reps=${GPU_CHECK_COST_REPS:-3}
only=""
out=""
while (($#)); do
  case "$1" in
    --kit) kit=${2:?--kit needs a folder}; shift 2 ;;
    --backend) backend=${2:?--backend needs host or sim}; shift 2 ;;
    --budget) budget=${2:?--budget needs seconds}; shift 2 ;;
    --cost-reps) cost_reps=${2:?--cost-reps needs a count}; shift 2 ;;
    --only) only=${2:?--only needs a regular expression}; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "gpu-check: unknown option $1" >&2; usage ;;
    *) [[ -z $out ]] || usage; out=$1; shift ;;
  esac
done
[[ -n $out ]] || usage
[[ $backend == host || $backend == sim ]] || { echo "gpu-check: --backend is host or sim" >&2; exit 2; }
# The sim's GPUs are not the machine's: a selection this environment makes for
# real GPUs (a GPU-... UUID, say) names none of them, and nvgate run would stop
# at start. Under the sim every workload gets every simulated GPU.
if [[ $backend == sim ]]; then unset NVIDIA_VISIBLE_DEVICES; fi
[[ $budget =~ ^[0-9]+$ ]] || { echo "gpu-check: --budget is whole seconds" >&2; exit 2; }
[[ $cost_reps =~ ^[0-9]+$ ]] || { echo "gpu-check: --cost-reps is a whole number" >&2; exit 2; }
if [[ -z $kit ]]; then
  [[ -x $script_dir/bin/nvgate ]] && kit=$script_dir || kit=$script_dir/../gpu-kit
fi
kit=$(cd "$kit" 2>/dev/null && pwd) || { echo "gpu-check: no kit folder (build one with scripts/gpu-kit.sh)" >&2; exit 2; }
[[ -x $kit/bin/nvgate ]] || { echo "gpu-check: $kit/bin/nvgate is missing: not a kit" >&2; exit 2; }
mkdir -p "$out" && out=$(cd "$out" && pwd) || { echo "gpu-check: cannot create $out" >&2; exit 2; }

export LC_ALL=C PYTHONUNBUFFERED=1
nvgate=$kit/bin/nvgate
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
mkdir -p "$work/logs" "$work/traces" "$work/cuda"
steps_json=$work/steps.jsonl
steps_md=$work/steps.md
: >"$steps_json"
: >"$steps_md"

now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }
started_us=$(now_us)
deadline_us=$((started_us + budget * 1000000))
started_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# A JSON string of $1: printable ASCII only, quotes, backslashes and line ends escaped.
json_str() {
  local s
  s=$(printf '%s' "$1" | tr -c '\11\12\40-\176' '?')
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\n'/\\n}
  printf '"%s"' "$s"
}

declare -A cell         # "workload|mode" -> "status exit seconds denials"
declare -a workloads=() # in the order first seen
declare -A seen_workload
counts_ok=0 counts_fail=0 counts_timeout=0 counts_skipped=0

# record WORKLOAD MODE CAPS STATUS EXIT SECONDS DENIALS RESULT [DENIAL_LINES_FILE]
record() {
  local workload=$1 mode=$2 caps=$3 status=$4 exit=$5 seconds=$6 denials=$7 result=$8 denial_file=${9:-}
  if [[ -z ${seen_workload[$workload]:-} ]]; then
    seen_workload[$workload]=1
    workloads+=("$workload")
  fi
  cell["$workload|$mode"]="$status $exit $seconds $denials"
  case $status in
    ok) ((counts_ok++)) ;;
    fail) ((counts_fail++)) ;;
    timeout) ((counts_timeout++)) ;;
    *) ((counts_skipped++)) ;;
  esac
  local lines="[]"
  if [[ -n $denial_file && -s $denial_file ]]; then
    lines="["
    local first=1 line
    while IFS= read -r line; do
      ((first)) || lines+=","
      first=0
      lines+=$(json_str "$line")
    done < <(head -n 20 "$denial_file")
    lines+="]"
  fi
  local skipped_reason=null
  [[ $status == skipped* ]] && skipped_reason=$(json_str "${status#skipped: }")
  [[ $status == skipped* ]] && status=skipped
  local shown=$result
  [[ $status == skipped ]] && shown=${4#skipped: }
  shown=$(printf '%s' "$shown" | tr -c '\11\40-\176' '?')
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$workload" "$mode" "$status" "${exit:--}" "${seconds:--}" \
    "$denials" "${shown//|/\\|}" >>"$steps_md"
  printf '{"workload":%s,"mode":%s,"caps":%s,"status":%s,"exit":%s,"seconds":%s,"denials":%s,"denial_lines":%s,"result":%s,"skipped_reason":%s}\n' \
    "$(json_str "$workload")" "$(json_str "$mode")" "$(json_str "$caps")" "$(json_str "$status")" \
    "${exit:-null}" "${seconds:-null}" "$denials" "$lines" "$(json_str "$result")" "$skipped_reason" >>"$steps_json"
  printf 'gpu-check: %-22s %-13s %-8s exit %-4s %6ss  denials %-3s %s\n' "$workload" "$mode" "${status%%:*}" \
    "${exit:--}" "${seconds:--}" "$denials" "${shown:0:100}" >&2
}

# Whether --only leaves WORKLOAD out (then it is neither run nor reported).
left_out() { [[ -n $only && ! $1 =~ $only ]]; }

skip() {
  left_out "$1" && return
  record "$1" "$2" "$3" "skipped: $4" "" "" 0 ""
}

# run_step WORKLOAD MODE CAPS LIMIT_SECONDS -- COMMAND...: one step under its own timeout.
run_step() {
  local workload=$1 mode=$2 caps=$3 limit=$4
  shift 5
  left_out "$workload" && return
  local left=$(((deadline_us - $(now_us)) / 1000000))
  if ((left < 5)); then
    skip "$workload" "$mode" "$caps" "out of time (--budget $budget)"
    return
  fi
  ((limit > left)) && limit=$left
  local log=$work/logs/$workload.$mode
  local t0 t1 rc
  t0=$(now_us)
  timeout -k 5 "$limit" "$@" >"$log.out" 2>"$log.err" </dev/null
  rc=$?
  t1=$(now_us)
  local us=$((t1 - t0))
  local seconds
  seconds=$(printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000)))
  local status=ok
  if ((us >= limit * 1000000)); then
    status=timeout
  elif ((rc != 0)); then
    status=fail
  fi
  grep -a 'denied:' "$log.err" >"$log.denials" 2>/dev/null
  local denials
  denials=$(wc -l <"$log.denials" | tr -d ' ')
  local result
  result=$(grep -a '^RESULT ' "$log.out" | tail -n 1)
  [[ -n $result ]] || result=$(grep -a -v '^[[:space:]]*$' "$log.out" | tail -n 1)
  [[ -n $result || $status == ok ]] || result=$(grep -a -v '^[[:space:]]*$' "$log.err" | tail -n 1)
  record "$workload" "$mode" "$caps" "$status" "$rc" "$seconds" "$denials" "${result:0:300}" "$log.denials"
}

# What can run where.
have_driver=0
[[ $backend == host && -e /dev/nvidiactl ]] && have_driver=1
nvcc_bin=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
python_bin=${GPU_CHECK_PYTHON:-}
if [[ -z $python_bin ]]; then
  for candidate in /opt/torch/.venv/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python_bin=$(command -v "$candidate"); break; fi
  done
fi
no_cuda_reason=""
((have_driver)) || no_cuda_reason="no CUDA (no NVIDIA driver with --backend $backend)"

# nvgate_modes WORKLOAD CAPS LIMIT COMMAND...: the command under nvgate run.
under_nvgate() {
  local workload=$1 caps=$2 limit=$3
  shift 3
  run_step "$workload" nvgate "$caps" "$limit" -- "$nvgate" run --backend "$backend" --caps "$caps" -- "$@"
}
native() {
  local workload=$1 caps=$2 limit=$3
  shift 3
  if ((have_driver)); then
    run_step "$workload" native "$caps" "$limit" -- "$@"
  else
    skip "$workload" native "$caps" "no NVIDIA driver (--backend $backend)"
  fi
}
recordings() {
  local workload=$1 caps=$2 limit=$3
  shift 3
  run_step "$workload" observe-only "$caps" "$limit" -- "$nvgate" trace --observe-only --with-params \
    --backend "$backend" --caps "$caps" -o "$work/traces/$workload.native.trace" -- "$@"
  run_step "$workload" trace "$caps" "$limit" -- "$nvgate" trace --with-params --backend "$backend" \
    --caps "$caps" -o "$work/traces/$workload.trace" -- "$@"
  # From the observe-only trace, which holds every call the workload made with
  # the kernel answering: the same set a run with every capability would show,
  # without running the workload a third time.
  if [[ -s $work/traces/$workload.native.trace ]]; then
    run_step "$workload" learn all "$limit" -- "$nvgate" learn --json -o "$work/traces/$workload.learn.json" \
      "$work/traces/$workload.native.trace"
  fi
}

# ---- the host and nvgate itself ----
uname -a >"$work/logs/host.txt"
cat /proc/driver/nvidia/version >>"$work/logs/host.txt" 2>/dev/null
run_step doctor native "" 30 -- "$nvgate" doctor
timeout -k 5 30 "$nvgate" doctor --json >"$work/logs/doctor.json" 2>&1
# The real driver's version (null without one), not the simulated driver's.
driver_version=$(sed -n '/"host_driver"/,/}/s/^ *"version": *"\([^"]*\)".*/\1/p' "$work/logs/doctor.json" | head -n 1)
run_step abi native "compute,utility" 30 -- "$nvgate" abi --caps compute,utility

if ((have_driver)) && command -v nvidia-smi >/dev/null; then
  run_step nvidia-smi native utility 30 -- nvidia-smi
  under_nvgate nvidia-smi utility 60 nvidia-smi
else
  skip nvidia-smi native utility "no nvidia-smi or no NVIDIA driver"
  skip nvidia-smi nvgate utility "no nvidia-smi or no NVIDIA driver"
fi

# ---- nvprobe: nvgate's own probe of each capability's calls ----
native nvprobe all 30 "$kit/bin/nvprobe"
for caps in compute video graphics all; do
  under_nvgate "nvprobe-$caps" "$caps" 30 "$kit/bin/nvprobe"
done

# ---- CUDA programs, compiled here ----
# cuda_costs is compiled and recorded with the others but run only by the cost section.
cuda_programs=(device_query vector_add copy_bandwidth host_register managed_memory streams_events two_threads
  child_process cuda_costs)
cuda_ready=0
if [[ -n $no_cuda_reason ]]; then
  skip nvcc native "" "$no_cuda_reason"
elif [[ -z $nvcc_bin ]]; then
  no_cuda_reason="no CUDA (nvcc not found)"
  skip nvcc native "" "$no_cuda_reason"
else
  # Hopper (H100, H200) unless told otherwise; every program at once.
  compile_all() {
    local p pids=() rc=0
    for p in "${cuda_programs[@]}"; do
      "$nvcc_bin" -O2 -std=c++17 ${GPU_CHECK_NVCC_ARCH:--arch=sm_90} -I"$kit/cuda" -o "$work/cuda/$p" \
        "$kit/cuda/$p.cu" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    return $rc
  }
  export -f compile_all
  export nvcc_bin kit work
  export cuda_programs_list="${cuda_programs[*]}"
  run_step nvcc native "" 150 -- bash -c 'cuda_programs=($cuda_programs_list); compile_all'
  cuda_ready=1
fi

# ---- Python frameworks ----
python_workloads=(torch jax cupy)
declare -A python_missing
for framework in "${python_workloads[@]}"; do
  if [[ -n $no_cuda_reason ]]; then
    python_missing[$framework]=$no_cuda_reason
  elif [[ -z $python_bin ]]; then
    python_missing[$framework]="no CUDA (no python3)"
  elif ! "$python_bin" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$framework') is None)" 2>/dev/null; then
    python_missing[$framework]="no CUDA ($framework not installed for $python_bin)"
  fi
done

# ---- JPEG decode, Vulkan and EGL: the video and graphics capabilities ----
# Each natively and under nvgate with the capabilities it needs (WORKLOAD), and
# under nvgate without the one its engine needs (WORKLOAD-noX: refusals expected).
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia_egl_vendor=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
# The kit's loaders (scripts/gpu-kit.sh), unpacked here and named to the
# programs through their environment only: nothing is installed.
gl_root=$work/loaders
graphics_env=(env "LD_LIBRARY_PATH=$gl_root/usr/lib/x86_64-linux-gnu")
for lib in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [[ -d $lib ]] && graphics_env[1]+=:$lib; done
graphics_env[1]+=${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
graphics_env+=("VK_DRIVER_FILES=$nvidia_icd" "__EGL_VENDOR_LIBRARY_FILENAMES=$nvidia_egl_vendor")
# three_ways WORKLOAD CAPS SUFFIX FEWER_CAPS LIMIT COMMAND...: natively and under
# nvgate with CAPS as WORKLOAD, under nvgate with FEWER_CAPS as WORKLOAD-SUFFIX.
three_ways() {
  local workload=$1 caps=$2 suffix=$3 fewer=$4 limit=$5
  shift 5
  native "$workload" "$caps" "$limit" "$@"
  under_nvgate "$workload" "$caps" "$limit" "$@"
  under_nvgate "$workload-$suffix" "$fewer" "$limit" "$@"
}
skip_three_ways() {
  skip "$1" native "$2" "$5"
  skip "$1" nvgate "$2" "$5"
  skip "$1-$3" nvgate "$4" "$5"
}
video_graphics_steps() {
  local reason=$no_cuda_reason
  if [[ -z $reason && -z $python_bin ]]; then
    reason="no CUDA (no python3)"
  elif [[ -z $reason ]] && ! "$python_bin" -c \
    "import importlib.util, sys; sys.exit(importlib.util.find_spec('torchvision') is None)" 2>/dev/null; then
    reason="no torchvision for $python_bin"
  fi
  if [[ -n $reason ]]; then
    skip_three_ways jpeg compute,utility,video novideo compute,utility "$reason"
  else
    three_ways jpeg compute,utility,video novideo compute,utility 30 "$python_bin" "$kit/python/jpeg_check.py"
  fi

  reason=""
  if ((!have_driver)); then
    reason="no NVIDIA driver (--backend $backend)"
  elif [[ ! -d $kit/loaders ]]; then
    reason="no Vulkan and EGL loaders in the kit (gpu-kit.sh could not fetch them)"
  elif ! command -v dpkg-deb >/dev/null; then
    reason="no dpkg-deb to unpack the kit's loaders"
  else
    mkdir -p "$gl_root"
    for deb in "$kit"/loaders/*.deb; do
      dpkg-deb -x "$deb" "$gl_root" 2>>"$work/logs/loaders.err" || reason="cannot unpack $(basename "$deb")"
    done
  fi
  local vulkan_reason=$reason egl_reason=$reason
  [[ -n $reason || -f $nvidia_icd ]] || vulkan_reason="no NVIDIA Vulkan ICD file $nvidia_icd"
  [[ -n $reason || -f $nvidia_egl_vendor ]] || egl_reason="no NVIDIA EGL vendor file $nvidia_egl_vendor"
  [[ -n $reason || -x $kit/bin/egl_check ]] || egl_reason="no egl_check in the kit"
  if [[ -n $vulkan_reason ]]; then
    skip_three_ways vulkan graphics nographics compute "$vulkan_reason"
  else
    three_ways vulkan graphics nographics compute 30 "${graphics_env[@]}" bash "$kit/graphics/vulkan_check.sh" \
      "$gl_root/usr/bin/vulkaninfo"
  fi
  [[ -n $vulkan_reason || -x $kit/bin/vulkan_queue ]] || vulkan_reason="no vulkan_queue in the kit (no Vulkan headers)"
  if [[ -n $vulkan_reason ]]; then
    skip_three_ways vulkan-queue graphics nographics compute "$vulkan_reason"
  else
    three_ways vulkan-queue graphics nographics compute 30 "${graphics_env[@]}" "$kit/bin/vulkan_queue"
  fi
  if [[ -n $egl_reason ]]; then
    skip_three_ways egl graphics nographics compute "$egl_reason"
  else
    three_ways egl graphics nographics compute 30 "${graphics_env[@]}" "$kit/bin/egl_check"
  fi
}

# ---- cost: the same measurements natively and under nvgate, in alternation ----
# Each repetition i runs cost-cuda-i (cuda_costs) and cost-torch-i
# (torch_perf_check.py) natively, then under nvgate, so that a drift of the
# host's speed falls on both modes alike. The key=value numbers of each RESULT
# line (FAIL lines too: they carry what could be measured) are collected per
# program, metric and mode; the report gives the medians and nvgate/native.
declare -A cost_samples # "program|metric|mode" -> "value value ..."
declare -a cost_metrics=() # "program|metric", in the order first seen
cost_note=""

# collect_costs PROGRAM WORKLOAD MODE: the numeric key=value pairs of the step's RESULT line.
collect_costs() {
  local program=$1 mode=$3 result words word key value
  result=$(grep -a "^RESULT $program " "$work/logs/$2.$3.out" 2>/dev/null | tail -n 1)
  read -ra words <<<"$result"
  for word in "${words[@]}"; do
    [[ $word =~ ^([a-z0-9_]+)=([0-9]+(\.[0-9]+)?)$ ]] || continue
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    [[ -n ${cost_samples["$program|$key|native"]+x}${cost_samples["$program|$key|nvgate"]+x} ]] ||
      cost_metrics+=("$program|$key")
    cost_samples["$program|$key|$mode"]+="$value "
  done
}

cost_section() {
  ((cost_reps > 0)) || { cost_note="left out (--cost-reps 0)"; return; }
  local cuda_reason="" torch_reason=${python_missing[torch]:-} i
  if ((!cuda_ready)) || [[ ! -x $work/cuda/cuda_costs ]]; then
    cuda_reason=${no_cuda_reason:-"no CUDA (cuda_costs did not compile: logs/nvcc.native.err)"}
  fi
  [[ -n $torch_reason || -n $python_bin ]] || torch_reason="no CUDA (no python3)"
  if [[ -n $cuda_reason ]]; then
    skip cost-cuda native compute,utility "$cuda_reason"
    skip cost-cuda nvgate compute,utility "$cuda_reason"
  fi
  if [[ -n $torch_reason ]]; then
    skip cost-torch native compute,utility "$torch_reason"
    skip cost-torch nvgate compute,utility "$torch_reason"
  fi
  if [[ -n $cuda_reason && -n $torch_reason ]]; then
    if [[ -n $no_cuda_reason ]]; then
      cost_note="no GPU: $no_cuda_reason"
    else
      cost_note="no figures: cuda_costs: $cuda_reason; torch_perf: $torch_reason"
    fi
    return
  fi
  for ((i = 1; i <= cost_reps; i++)); do
    if [[ -z $cuda_reason ]]; then
      native "cost-cuda-$i" compute,utility 30 "$work/cuda/cuda_costs"
      under_nvgate "cost-cuda-$i" compute,utility 45 "$work/cuda/cuda_costs"
      collect_costs cuda_costs "cost-cuda-$i" native
      collect_costs cuda_costs "cost-cuda-$i" nvgate
    fi
    if [[ -z $torch_reason ]]; then
      native "cost-torch-$i" compute,utility 45 "$python_bin" "$kit/python/torch_perf_check.py"
      under_nvgate "cost-torch-$i" compute,utility 60 "$python_bin" "$kit/python/torch_perf_check.py"
      collect_costs torch_perf "cost-torch-$i" native
      collect_costs torch_perf "cost-torch-$i" nvgate
    fi
  done
  ((${#cost_metrics[@]})) || cost_note="no measurements: every cost step failed or was skipped"
}

# Decimal numbers as integers in millionths, so that bash can compare and divide them.
to_millionths() {
  local whole=${1%%.*} fraction=000000
  [[ $1 == *.* ]] && fraction=${1#*.}000000
  echo $((10#$whole * 1000000 + 10#${fraction:0:6}))
}
# Millionths back to a decimal with three places.
from_millionths() { printf '%d.%03d' $(($1 / 1000000)) $(($1 % 1000000 / 1000)); }
# The median (in millionths) of the decimals given, the mean of the middle two
# for an even count; nothing when none is given.
median_millionths() {
  (($#)) || return 0
  local sorted=() v
  for v in "$@"; do sorted+=("$(to_millionths "$v")"); done
  mapfile -t sorted < <(printf '%s\n' "${sorted[@]}" | sort -n)
  local n=${#sorted[@]}
  if ((n % 2)); then echo "${sorted[n / 2]}"; else echo $(((sorted[n / 2 - 1] + sorted[n / 2]) / 2)); fi
}

# Every workload: natively and under nvgate run first, then the video and
# graphics steps and the cost section, then the recordings, so that a short
# budget loses the recordings first.
for pass in run record; do
  if [[ $pass == record ]]; then
    video_graphics_steps
    cost_section
  fi
  for p in "${cuda_programs[@]}"; do
    [[ $p == cuda_costs && $pass == run ]] && continue
    if ((!cuda_ready)) || [[ ! -x $work/cuda/$p ]]; then
      [[ $pass == run ]] || continue
      reason=${no_cuda_reason:-"no CUDA (the program did not compile: logs/nvcc.native.err)"}
      skip "cuda-$p" native compute,utility "$reason"
      skip "cuda-$p" nvgate compute,utility "$reason"
      continue
    fi
    if [[ $pass == run ]]; then
      native "cuda-$p" compute,utility 30 "$work/cuda/$p"
      under_nvgate "cuda-$p" compute,utility 45 "$work/cuda/$p"
    else
      recordings "cuda-$p" compute,utility 45 "$work/cuda/$p"
    fi
  done
  for framework in "${python_workloads[@]}"; do
    script=$kit/python/${framework}_check.py
    if [[ -n ${python_missing[$framework]:-} ]]; then
      [[ $pass == run ]] || continue
      skip "$framework" native compute,utility "${python_missing[$framework]}"
      skip "$framework" nvgate compute,utility "${python_missing[$framework]}"
      continue
    fi
    if [[ $pass == run ]]; then
      native "$framework" compute,utility 60 "$python_bin" "$script"
      under_nvgate "$framework" compute,utility 90 "$python_bin" "$script"
    else
      recordings "$framework" compute,utility 90 "$python_bin" "$script"
    fi
  done
  if [[ $pass == record ]]; then
    recordings nvprobe compute,utility 30 "$kit/bin/nvprobe"
    ((have_driver)) && command -v nvidia-smi >/dev/null && recordings nvidia-smi utility 30 nvidia-smi
  fi
done

# ---- nvgate's own cost on this kernel (the simulated driver: no GPU needed) ----
# With the real driver, also an executed call on it (host/, latency/host):
# natively, under nvgate run --backend host, and the mechanism's floor.
if [[ -x $kit/bin/bench_nvgate ]]; then
  bench_host=()
  ((have_driver)) && bench_host=(--backend=host)
  run_step bench native "" 90 -- env NVGATE_BENCH_NVGATE="$nvgate" NVGATE_BENCH_WORKLOAD="$kit/bin/bench_workload" \
    "$kit/bin/bench_nvgate" --benchmark_min_time=0.01 --latency_samples=500 "${bench_host[@]}"
fi

# ---- the report ----
finished_us=$(now_us)
total_seconds=$(((finished_us - started_us) / 1000000))

# Compresses a folder into OUTDIR/NAME.tar.gz, leaving out its largest files
# while the archive is over 15 MiB (each return is at most 16 MiB).
dropped=()
pack() {
  local name=$1 dir=$2 limit=$((15 * 1024 * 1024))
  while :; do
    tar -C "$work" -czf "$out/$name.tar.gz" "$dir"
    local size
    size=$(wc -c <"$out/$name.tar.gz")
    ((size <= limit)) && return
    local largest
    largest=$(ls -S "$work/$dir" | head -n 1)
    [[ -n $largest ]] || return
    dropped+=("$dir/$largest")
    rm -f "$work/$dir/$largest"
  done
}
pack traces traces
pack logs logs

# The cost table: one row per program and metric, as JSON objects and as markdown rows.
costs_json_rows=() costs_md_rows=()
for metric in "${cost_metrics[@]}"; do
  program=${metric%%|*} key=${metric#*|}
  read -ra native_values <<<"${cost_samples["$metric|native"]:-}"
  read -ra nvgate_values <<<"${cost_samples["$metric|nvgate"]:-}"
  native_median=$(median_millionths "${native_values[@]}")
  nvgate_median=$(median_millionths "${nvgate_values[@]}")
  native_text=null nvgate_text=null ratio_text=null
  [[ -n $native_median ]] && native_text=$(from_millionths "$native_median")
  [[ -n $nvgate_median ]] && nvgate_text=$(from_millionths "$nvgate_median")
  if [[ -n $native_median && -n $nvgate_median ]] && ((native_median > 0)); then
    ratio_text=$(from_millionths $(((nvgate_median * 1000000 + native_median / 2) / native_median)))
  fi
  # Times (_ms): above 1 means nvgate is slower; rates: below 1 means nvgate is slower.
  costs_json_rows+=("$(printf '{"program":%s,"metric":%s,"native_median":%s,"nvgate_median":%s,"ratio":%s,"native_runs":%d,"nvgate_runs":%d}' \
    "$(json_str "$program")" "$(json_str "$key")" "$native_text" "$nvgate_text" "$ratio_text" \
    "${#native_values[@]}" "${#nvgate_values[@]}")")
  costs_md_rows+=("| $program | $key | ${native_text/null/-} (${#native_values[@]}) | ${nvgate_text/null/-} (${#nvgate_values[@]}) | ${ratio_text/null/-} |")
done

calls_in() { [[ -f $1 ]] && echo $(($(wc -l <"$1") - 1)) || echo -; }
learned() { [[ -f $1 ]] && sed -n 's/^  "caps": *"\([^"]*\)".*/\1/p' "$1" | head -n 1 || echo -; }
cell_text() {
  local v=${cell["$1|$2"]:-}
  [[ -n $v ]] || { echo "-"; return; }
  local status exit seconds denials
  read -r status exit seconds denials <<<"$v"
  case $status in
    skipped*) echo "skipped" ;;
    *) echo "$status (exit $exit, ${seconds}s${denials:+, $denials denials})" ;;
  esac
}

{
  printf '{"schema":"nvgate.gpu-check/1","backend":%s,"started":%s,"seconds":%s,"budget":%s,' \
    "$(json_str "$backend")" "$(json_str "$started_utc")" "$total_seconds" "$budget"
  driver_json=null
  [[ -n ${driver_version:-} ]] && driver_json=$(json_str "$driver_version")
  printf '"host":{"kernel":%s,"driver":%s},' "$(json_str "$(uname -r)")" "$driver_json"
  printf '"nvgate":%s,' "$(json_str "$("$nvgate" --version 2>&1)")"
  printf '"counts":{"ok":%d,"fail":%d,"timeout":%d,"skipped":%d},' "$counts_ok" "$counts_fail" "$counts_timeout" \
    "$counts_skipped"
  printf '"costs":{"repetitions":%d,"note":%s,"metrics":[' "$cost_reps" \
    "$([[ -n $cost_note ]] && json_str "$cost_note" || echo null)"
  first=1
  for row in "${costs_json_rows[@]}"; do ((first)) || printf ','; first=0; printf '%s' "$row"; done
  printf ']},'
  printf '"files":["report.md","report.json","traces.tar.gz","logs.tar.gz"],"dropped":['
  first=1
  for d in "${dropped[@]}"; do ((first)) || printf ','; first=0; json_str "$d"; done
  printf '],"steps":['
  first=1
  while IFS= read -r line; do ((first)) || printf ','; first=0; printf '%s' "$line"; done <"$steps_json"
  printf ']}\n'
} >"$out/report.json"

{
  echo "# nvgate GPU check"
  echo
  echo "- started $started_utc, took ${total_seconds}s of a ${budget}s budget; backend \`$backend\`"
  echo "- host: $(uname -r); NVIDIA driver ${driver_version:-none}; $("$nvgate" --version 2>&1)"
  echo "- steps: $counts_ok ok, $counts_fail failed, $counts_timeout timed out, $counts_skipped skipped"
  ((${#dropped[@]})) && echo "- left out of the archives (over 15 MiB): ${dropped[*]}"
  echo
  echo "| workload | caps | native | nvgate run | observe-only calls | trace calls | learned caps |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for w in "${workloads[@]}"; do
    caps=$(grep -a "^{\"workload\":\"$w\"," "$steps_json" | head -n 1 | sed -n 's/.*"caps":"\([^"]*\)".*/\1/p')
    echo "| $w | $caps | $(cell_text "$w" native) | $(cell_text "$w" nvgate) |" \
      "$(calls_in "$work/traces/$w.native.trace") | $(calls_in "$work/traces/$w.trace") |" \
      "$(learned "$work/traces/$w.learn.json") |"
  done
  echo
  echo "## Costs: nvgate against native"
  echo
  echo "Medians of $cost_reps repetitions each, run in alternation (section \`cost\`); in brackets, how many"
  echo "runs gave the number. Ratio = nvgate / native: for times (\`_ms\`) above 1 is slower under nvgate,"
  echo "for rates (GB/s, steps/s, TFLOP/s) below 1 is."
  echo
  if [[ -n $cost_note ]]; then
    echo "$cost_note"
  fi
  if ((${#costs_md_rows[@]})); then
    ((${#cost_note})) && echo
    echo "| program | metric | native | nvgate | ratio |"
    echo "| --- | --- | --- | --- | --- |"
    printf '%s\n' "${costs_md_rows[@]}"
  fi
  echo
  echo "## Every step"
  echo
  echo "| workload | mode | status | exit | seconds | denials | result |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  cat "$steps_md"
  echo
  echo "Denial lines, outputs and errors of each step: logs.tar.gz (logs/WORKLOAD.MODE.{out,err,denials})."
  echo "Traces: traces.tar.gz (WORKLOAD.trace under nvgate, WORKLOAD.native.trace observe-only, WORKLOAD.learn.json)."
} >"$out/report.md"

rm -rf "$work"
echo "gpu-check: report in $out (${total_seconds}s): $counts_ok ok, $counts_fail failed, $counts_timeout timed out, $counts_skipped skipped" >&2
exit 0
