#!/usr/bin/env python3
"""Checks what scripts/gpu-check.sh wrote into OUTDIR: at most 8 files of at
most 16 MiB (what the device tool brings back), a report.json that follows
schema nvgate.gpu-check/1, and, with --backend sim, the steps that a run
without a GPU must show: the CUDA, Python, JPEG, Vulkan and EGL steps skipped,
nvprobe run, traced, traced observe-only and learned under nvgate's sim,
and the cost section's table empty with a "no GPU" note.

    tests/gpu_kit/check_report.py --backend sim OUTDIR
"""
import argparse
import io
import json
import os
import sys
import tarfile

MAX_FILES = 8
MAX_FILE_BYTES = 16 * 1024 * 1024
STATUSES = {"ok", "fail", "timeout", "skipped"}
MODES = {"native", "nvgate", "observe-only", "trace", "learn"}
STEP_KEYS = {"workload", "mode", "caps", "status", "exit", "seconds", "denials", "denial_lines", "result",
             "skipped_reason"}
CUDA_WORKLOADS = ["cuda-" + p for p in ("device_query", "vector_add", "copy_bandwidth", "host_register",
                                        "managed_memory", "streams_events", "two_threads", "child_process")]
PYTHON_WORKLOADS = ["torch", "jax", "cupy"]
# (workload, mode, why it is skipped without a GPU): each natively and under
# nvgate with its capabilities, and under nvgate without the one its engine needs.
VIDEO_GRAPHICS_STEPS = [(w, m, reason) for name, fewer, reason in (("jpeg", "novideo", "no CUDA"),
                                                                   ("vulkan", "nographics", "no NVIDIA driver"),
                                                                   ("vulkan-queue", "nographics", "no NVIDIA driver"),
                                                                   ("egl", "nographics", "no NVIDIA driver"))
                        for w, m in ((name, "native"), (name, "nvgate"), (f"{name}-{fewer}", "nvgate"))]
COST_WORKLOADS = ["cost-cuda", "cost-torch"]
COST_METRIC_KEYS = {"program", "metric", "native_median", "nvgate_median", "ratio", "native_runs", "nvgate_runs"}


def check(out_dir, backend):
    problems = []
    files = sorted(os.listdir(out_dir))
    if len(files) > MAX_FILES:
        problems.append(f"{len(files)} files in {out_dir}, more than {MAX_FILES}")
    for name in files:
        size = os.path.getsize(os.path.join(out_dir, name))
        if size > MAX_FILE_BYTES:
            problems.append(f"{name} is {size} bytes, more than {MAX_FILE_BYTES}")
    for name in ("report.md", "report.json", "traces.tar.gz", "logs.tar.gz"):
        if name not in files:
            problems.append(f"{name} missing")
    if problems:
        return problems

    with open(os.path.join(out_dir, "report.json")) as f:
        report = json.load(f)
    if report.get("schema") != "nvgate.gpu-check/1":
        problems.append(f"schema is {report.get('schema')!r}")
    if report.get("backend") != backend:
        problems.append(f"backend is {report.get('backend')!r}, not {backend}")
    steps = report.get("steps", [])
    counts = {s: 0 for s in STATUSES}
    by_key = {}
    for step in steps:
        missing = STEP_KEYS - step.keys()
        if missing:
            problems.append(f"step {step} lacks {sorted(missing)}")
            continue
        if step["status"] not in STATUSES:
            problems.append(f"step {step['workload']} {step['mode']}: status {step['status']!r}")
            continue
        if step["mode"] not in MODES:
            problems.append(f"step {step['workload']}: mode {step['mode']!r}")
        if (step["status"] == "skipped") != (step["skipped_reason"] is not None):
            problems.append(f"step {step['workload']} {step['mode']}: skipped_reason and status disagree")
        if step["status"] != "skipped" and not isinstance(step["exit"], int):
            problems.append(f"step {step['workload']} {step['mode']}: exit {step['exit']!r}")
        if step["denials"] != len(step["denial_lines"]) and len(step["denial_lines"]) < 20:
            problems.append(f"step {step['workload']} {step['mode']}: {step['denials']} denials but "
                            f"{len(step['denial_lines'])} lines")
        counts[step["status"]] += 1
        by_key[(step["workload"], step["mode"])] = step
    if report.get("counts") != counts:
        problems.append(f"counts {report.get('counts')} disagree with the steps {counts}")

    costs = report.get("costs")
    if not isinstance(costs, dict) or not isinstance(costs.get("repetitions"), int) \
            or not isinstance(costs.get("metrics"), list):
        problems.append(f"costs is {costs!r}, not an object with repetitions and metrics")
        costs = {"metrics": [], "note": None}
    for metric in costs["metrics"]:
        if not isinstance(metric, dict) or metric.keys() != COST_METRIC_KEYS:
            problems.append(f"cost metric {metric!r} lacks or adds keys (expected {sorted(COST_METRIC_KEYS)})")

    def expect(workload, mode, status, reason_prefix=None):
        step = by_key.get((workload, mode))
        if step is None:
            problems.append(f"no step {workload} {mode}")
        elif step["status"] != status:
            problems.append(f"{workload} {mode}: {step['status']}, expected {status} ({step['result']})")
        elif reason_prefix and not step["skipped_reason"].startswith(reason_prefix):
            problems.append(f"{workload} {mode}: skipped because {step['skipped_reason']!r}")
        return step

    if backend == "sim":
        for workload in CUDA_WORKLOADS + PYTHON_WORKLOADS:
            for mode in ("native", "nvgate"):
                expect(workload, mode, "skipped", "no CUDA")
        for workload in COST_WORKLOADS:
            for mode in ("native", "nvgate"):
                expect(workload, mode, "skipped", "no CUDA")
        if costs["metrics"] or not (costs.get("note") or "").startswith("no GPU"):
            problems.append(f"costs without a GPU: {costs!r}, expected no metrics and a 'no GPU' note")
        expect("nvcc", "native", "skipped", "no CUDA")
        for workload, mode, reason in VIDEO_GRAPHICS_STEPS:
            expect(workload, mode, "skipped", reason)
        expect("nvprobe", "native", "skipped")
        all_caps = expect("nvprobe-all", "nvgate", "ok")
        if all_caps and " 0 refused, 0 failed" not in all_caps["result"]:
            problems.append(f"nvprobe under all: {all_caps['result']}")
        compute = expect("nvprobe-compute", "nvgate", "ok")
        if compute and compute["denials"] == 0:
            problems.append("nvprobe under compute: no denial lines recorded")
        for mode in ("observe-only", "trace", "learn"):
            expect("nvprobe", mode, "ok")
        expect("abi", "native", "ok")
        doctor = by_key.get(("doctor", "native"))
        if doctor is None or doctor["exit"] != 1:
            problems.append(f"doctor: exit {doctor and doctor['exit']}, expected 1 (only the sim is usable)")

        with tarfile.open(os.path.join(out_dir, "traces.tar.gz")) as tar:
            names = set(tar.getnames())
            for name in ("traces/nvprobe.trace", "traces/nvprobe.native.trace", "traces/nvprobe.learn.json"):
                if name not in names:
                    problems.append(f"traces.tar.gz lacks {name}")
            if "traces/nvprobe.native.trace" in names:
                header = json.loads(io.TextIOWrapper(tar.extractfile("traces/nvprobe.native.trace")).readline())
                if header.get("observe_only") is not True:
                    problems.append("nvprobe.native.trace is not marked observe_only")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["host", "sim"], default="host")
    parser.add_argument("out_dir")
    args = parser.parse_args()
    problems = check(args.out_dir, args.backend)
    for p in problems:
        print(f"check_report: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_report: {args.out_dir} is a complete gpu-check report ({args.backend})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
