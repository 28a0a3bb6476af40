#!/usr/bin/env python3
"""Turns bench_nvgate's output into bench-results/results.json and results.md.

Reads DIR/benchmark.json (Google Benchmark JSON with repetitions, aggregates
only) and DIR/latency.json (--latency_out), takes the median of the
repetitions, checks the performance goals of docs/performance.md, and draws
DIR/latency.png and DIR/threads.png when matplotlib is importable.

    scripts/bench_report.py bench-results
"""
import json
import os
import platform
import sys

GOALS = {
    "untrapped": 1.3,   # untrapped syscall under nvgate / native
    "trapped": 1.5,     # executed small call / the mechanism's floor
    "startup_ms": 5.0,  # nvgate run -- /bin/true over /bin/true
    "rss_mib": 10.0,    # supervisor VmRSS
    "cliff": 0.8,       # throughput may not fall below this share of the best at fewer threads
}


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    # Other work on the machine moves every figure; the ratios less so.
    load = os.getloadavg()[0]
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu, "load_average_1min": load}


def medians(benchmark_json):
    """{benchmark name: median row}, names without Google Benchmark's suffixes."""
    rows = {}
    for b in benchmark_json["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b["run_name"]
        for suffix in ("/manual_time", "/iterations:1"):
            name = name.replace(suffix, "")
        if b.get("error_occurred"):
            rows[name] = {"error": b.get("error_message", "error")}
        else:
            rows[name] = b
    return rows


def duration(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def comparisons(rows):
    out = []
    for name, b in rows.items():
        if "error" in b:
            out.append({"name": name, "error": b["error"]})
        elif "ref_ns" in b:
            out.append({
                "name": name,
                "compares": b.get("label", ""),
                "subject_ns": b["real_time"],
                "reference_ns": b["ref_ns"],
                "ratio": b["x_ref"],
                "extra_ns": b["extra_ns"],
                "calls_per_s": b["calls_per_s"],
                "reference_calls_per_s": b["ref_calls_per_s"],
            })
    return out


def goals(rows):
    result = []

    def add(goal, target, measured, met, note=""):
        result.append({"goal": goal, "target": target, "measured": measured, "met": met, "note": note})

    untrapped = {n: b for n, b in rows.items() if n.startswith("untrapped/") and ":" not in n and "x_ref" in b}
    if untrapped:
        worst = max(untrapped, key=lambda n: untrapped[n]["x_ref"])
        ratio = untrapped[worst]["x_ref"]
        add("untrapped syscall overhead", f"<= {GOALS['untrapped']}x native",
            f"{ratio:.2f}x (worst: {worst.split('/', 1)[1]})", ratio <= GOALS["untrapped"])
    trapped = rows.get("trapped/version_query:vs_mechanism_floor", {})
    if "x_ref" in trapped:
        add("trapped executed small call", f"<= {GOALS['trapped']}x the floor",
            f"{trapped['x_ref']:.2f}x ({duration(trapped['real_time'])} vs {duration(trapped['ref_ns'])})",
            trapped["x_ref"] <= GOALS["trapped"])
    scaling = sorted((int(n.rsplit("/", 1)[1]), b["calls_per_s"]) for n, b in rows.items()
                     if n.startswith("threads/") and "calls_per_s" in b)
    if scaling:
        cliffs = [t for i, (t, rate) in enumerate(scaling)
                  if i > 0 and rate < GOALS["cliff"] * max(r for _, r in scaling[:i])]
        add("no cliff in thread scaling",
            f"each count >= {GOALS['cliff']:.0%} of the best at fewer threads",
            ", ".join(f"{t}: {rate / 1e3:.1f}k/s" for t, rate in scaling), not cliffs,
            f"cliff at {cliffs}" if cliffs else "")
    startup = rows.get("startup/bin_true", {})
    if "extra_ns" in startup:
        extra_ms = startup["extra_ns"] / 1e6
        add("start-up over native", f"< {GOALS['startup_ms']} ms", f"+{extra_ms:.2f} ms",
            extra_ms < GOALS["startup_ms"])
    memory = rows.get("memory/supervisor_rss", {})
    if "rss_kib" in memory:
        rss_mib = memory["rss_kib"] / 1024
        add("supervisor RSS", f"< {GOALS['rss_mib']} MiB",
            f"{rss_mib:.1f} MiB idle, +{memory['per_1000_objects_kib']:.0f} KiB per 1,000 objects, "
            f"{memory['after_64_threads_kib'] / 1024:.1f} MiB after 64 threads",
            rss_mib < GOALS["rss_mib"] and memory["after_64_threads_kib"] / 1024 < GOALS["rss_mib"])
    return result


def markdown(report):
    m = report["machine"]
    lines = [
        f"Machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}, "
        f"load average {m['load_average_1min']:.1f} at the end of the run. "
        f"Medians of {report['repetitions']} repetitions.",
        "",
        "| benchmark | subject vs reference | subject | reference | ratio | extra per call |",
        "|---|---|---|---|---|---|",
    ]
    for c in report["comparisons"]:
        if "error" in c:
            lines.append(f"| `{c['name']}` | error: {c['error']} | | | | |")
            continue
        subject, reference = duration(c["subject_ns"]), duration(c["reference_ns"])
        if c["name"].startswith("threads/"):
            subject += f" ({c['calls_per_s'] / 1e3:.1f}k calls/s)"
            reference += f" ({c['reference_calls_per_s'] / 1e3:.1f}k calls/s)"
        lines.append(f"| `{c['name']}` | {c['compares']} | {subject} | {reference} | "
                     f"{c['ratio']:.2f}x | {duration(c['extra_ns']) if c['extra_ns'] >= 0 else '-' + duration(-c['extra_ns'])} |")
    memory = report["memory"]
    if memory:
        lines += ["", "| supervisor memory (nvgate process) | KiB |", "|---|---|"]
        lines += [f"| {k} | {v:.0f} |" for k, v in memory.items()]
    agent_memory = report["agent_memory"]
    if agent_memory:
        lines += ["", "| agent memory (the agent and its processes, 8 containers) | KiB or count |", "|---|---|"]
        lines += [f"| {k} | {v:.0f} |" for k, v in agent_memory.items()]
    latency = report["latency"]
    if latency:
        lines += ["", "| trapped call latency (per call) | ns |", "|---|---|"]
        lines += [f"| {k} | {v:.0f} |" for k, v in latency.items()]
    lines += ["", "| goal | target | measured | met |", "|---|---|---|---|"]
    for g in report["goals"]:
        lines.append(f"| {g['goal']} | {g['target']} | {g['measured']} | {'yes' if g['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def plots(out_dir, rows):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench_report: matplotlib not available; no plots")
        return
    latency_path = os.path.join(out_dir, "latency.json")
    if os.path.exists(latency_path):
        with open(latency_path) as f:
            series = json.load(f)
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for name, samples in series.items():
            us = sorted(s / 1e3 for s in samples)
            ax.plot(us, [i / len(us) for i in range(len(us))], label=name)
        ax.set_xscale("log")
        ax.set_xlabel("per-call latency (µs, log scale)")
        ax.set_ylabel("share of calls at or below")
        ax.set_title("Trapped NVIDIA call latency (CDF)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "latency.png"), dpi=120)
    scaling = sorted((int(n.rsplit("/", 1)[1]), b) for n, b in rows.items()
                     if n.startswith("threads/") and "calls_per_s" in b)
    if scaling:
        threads = [t for t, _ in scaling]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        ax.plot(threads, [b["calls_per_s"] / 1e3 for _, b in scaling], "o-", label="nvgate (version query, executed)")
        ax.plot(threads, [b["ref_calls_per_s"] / 1e3 for _, b in scaling], "s--", label="trivial responder (floor)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(threads, [str(t) for t in threads])
        ax.set_xlabel("workload threads calling at once")
        ax.set_ylabel("thousand calls/s")
        ax.set_title("Trapped call throughput by workload threads")
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "threads.png"), dpi=120)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "bench-results"
    with open(os.path.join(out_dir, "benchmark.json")) as f:
        raw = json.load(f)
    rows = medians(raw)
    memory = rows.get("memory/supervisor_rss", {})
    agent_memory = rows.get("memory/agent_rss", {})
    latency = rows.get("latency/trapped", {})
    report = {
        "machine": machine(),
        "repetitions": max((b.get("repetitions", 1) for b in raw["benchmarks"]), default=1),
        "comparisons": comparisons(rows),
        "memory": {k: memory[k] for k in ("rss_kib", "rss_anon_kib", "per_1000_objects_kib", "after_64_threads_kib")
                   if k in memory},
        "agent_memory": {k: agent_memory[k] for k in ("idle_rss_kib", "rss_kib", "pss_kib", "processes",
                                                       "per_container_rss_kib", "per_container_pss_kib")
                         if k in agent_memory},
        "latency": {k: v for k, v in latency.items() if k.endswith("_ns")},
        "goals": goals(rows),
    }
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(markdown(report))
    plots(out_dir, rows)


if __name__ == "__main__":
    main()
