#!/usr/bin/env python3
"""Checks packaging/kubernetes without a cluster.

  tests/kubernetes/check_manifests.py [PACKAGING_DIR]
  tests/kubernetes/check_manifests.py --self-test [PACKAGING_DIR]

--self-test checks the checker: each of a few broken copies of the directory
(a misspelt field, a field in the wrong place, another handler, the agent's
socket off the node) must fail, naming what is wrong.

- Every YAML document is validated against manifest_schema.json, the part of
  the Kubernetes API the manifests use (closed objects: an unknown, misspelt or
  misplaced field fails), by its apiVersion and kind; a kind the schema does
  not know fails.
- The containerd and CRI-O snippets parse as TOML and define the runtime
  `nvgate` running nvgate-runtime.
- The pieces agree: the RuntimeClass's handler is the runtime both snippets
  define; the annotation the example pod uses is one both snippets let
  through; the agent's socket is nvgate's default (the shim's listenerPath)
  and lies in a hostPath volume, so that the node's runtime can reach it; the
  agent itself does not run under the nvgate RuntimeClass.
"""
import json
import pathlib
import shutil
import sys
import tempfile
import tomllib

import jsonschema
import yaml

HERE = pathlib.Path(__file__).resolve().parent
SELF_TEST = len(sys.argv) > 1 and sys.argv[1] == "--self-test"
ARGS = sys.argv[2:] if SELF_TEST else sys.argv[1:]
PACKAGING = pathlib.Path(ARGS[0]) if ARGS else HERE.parent.parent / "packaging" / "kubernetes"
RUNTIME = "nvgate"
SHIM = "/usr/bin/nvgate-runtime"
SOCKET = "/run/nvgate/agent.sock"
ANNOTATION = "io.nvgate.driver-capabilities"

errors = []


def fail(where, message):
    errors.append(f"{where}: {message}")


def load_schema():
    schema = json.loads((HERE / "manifest_schema.json").read_text())
    kinds = {}
    for key, kind_schema in schema["kinds"].items():
        kinds[key] = dict(kind_schema, definitions=schema["definitions"])
    return kinds


def documents(packaging):
    for path in sorted(packaging.glob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc is not None:
                yield f"{path.name}[{index}]", doc


def validate(kinds, packaging):
    objects = {}
    for where, doc in documents(packaging):
        if not isinstance(doc, dict):
            fail(where, "not a mapping")
            continue
        key = f"{doc.get('apiVersion')}/{doc.get('kind')}"
        if key not in kinds:
            fail(where, f"{key} is not a kind manifest_schema.json knows")
            continue
        validator = jsonschema.Draft7Validator(kinds[key])
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            path = "/".join(str(p) for p in error.absolute_path) or "(top)"
            fail(where, f"{path}: {error.message}")
        objects.setdefault(doc["kind"], []).append((where, doc))
    return objects


def snippets(packaging):
    containerd = tomllib.loads((packaging / "containerd-nvgate.toml").read_text())
    runtimes = containerd["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
    crio = tomllib.loads((packaging / "crio-nvgate.conf").read_text())["crio"]["runtime"]["runtimes"]
    if RUNTIME not in runtimes:
        fail("containerd-nvgate.toml", f"no runtime '{RUNTIME}'")
    else:
        runtime = runtimes[RUNTIME]
        if runtime.get("runtime_type") != "io.containerd.runc.v2":
            fail("containerd-nvgate.toml", "runtime_type is not io.containerd.runc.v2")
        if runtime.get("options", {}).get("BinaryName") != SHIM:
            fail("containerd-nvgate.toml", f"options.BinaryName is not {SHIM}")
    if RUNTIME not in crio:
        fail("crio-nvgate.conf", f"no runtime '{RUNTIME}'")
    elif crio[RUNTIME].get("runtime_path") != SHIM:
        fail("crio-nvgate.conf", f"runtime_path is not {SHIM}")
    return runtimes.get(RUNTIME, {}), crio.get(RUNTIME, {})


def agree(objects, containerd, crio, packaging):
    for where, rc in objects.get("RuntimeClass", []):
        if rc.get("handler") != RUNTIME:
            fail(where, f"handler is not '{RUNTIME}', the runtime the snippets define")
    for where, pod in objects.get("Pod", []):
        asked = pod["metadata"].get("annotations", {})
        if ANNOTATION in asked:
            for name, allowed in (("containerd pod_annotations", containerd.get("pod_annotations", [])),
                                  ("CRI-O allowed_annotations", crio.get("allowed_annotations", []))):
                if ANNOTATION not in allowed:
                    fail(where, f"{ANNOTATION} would not pass {name}")
    daemonsets = objects.get("DaemonSet", [])
    if not daemonsets:
        fail(str(packaging), "no DaemonSet for the agent")
    for where, ds in daemonsets:
        spec = ds["spec"]["template"]["spec"]
        if "runtimeClassName" in spec:
            fail(where, "the agent runs under a RuntimeClass; it cannot supervise itself")
        if not spec.get("hostPID"):
            fail(where, "the agent needs hostPID to reach the containers' processes")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        agent = spec["containers"][0]
        command = agent.get("command", []) + agent.get("args", [])
        if "--socket" not in command or command[command.index("--socket") + 1] != SOCKET:
            fail(where, f"the agent's --socket is not {SOCKET}, the shim's default listenerPath")
            continue
        socket_dir = str(pathlib.PurePosixPath(SOCKET).parent)
        mounted = [m for m in agent.get("volumeMounts", []) if m["mountPath"] == socket_dir]
        if not mounted or volumes.get(mounted[0]["name"], {}).get("hostPath", {}).get("path") != socket_dir:
            fail(where, f"{socket_dir} is not the node's {socket_dir} (a hostPath volume)")


def check(packaging):
    """The errors found in `packaging`, and how many manifests it holds."""
    errors.clear()
    objects = validate(load_schema(), packaging)
    containerd, crio = snippets(packaging)
    agree(objects, containerd, crio, packaging)
    return list(errors), sum(len(v) for v in objects.values())


# (file, text replaced, its replacement, what the error must say)
BREAKAGES = [
    ("agent-daemonset.yaml", "hostPID: true", "hostPid: true", "'hostPid' was unexpected"),
    ("agent-daemonset.yaml", "      priorityClassName:", "      runtimeClass:", "'runtimeClass' was unexpected"),
    ("runtimeclass.yaml", "handler: nvgate", "handler: nvgate-other", "handler is not 'nvgate'"),
    ("agent-daemonset.yaml", "path: /run/nvgate\n", "path: /var/run/nvgate-elsewhere\n",
     "is not the node's /run/nvgate"),
    ("containerd-nvgate.toml", 'BinaryName = "/usr/bin/nvgate-runtime"', 'BinaryName = "/usr/bin/runc"',
     "options.BinaryName is not"),
    ("example-pod.yaml", "runtimeClassName: nvgate", "runtimeClassName: Nvgate", "does not match"),
]


def self_test():
    failures = []
    for name, old, new, expected in BREAKAGES:
        with tempfile.TemporaryDirectory() as scratch:
            broken = pathlib.Path(scratch) / "kubernetes"
            shutil.copytree(PACKAGING, broken)
            text = (broken / name).read_text()
            if old not in text:
                failures.append(f"{name} no longer holds {old!r}: update BREAKAGES")
                continue
            (broken / name).write_text(text.replace(old, new, 1))
            found, _ = check(broken)
            if not any(expected in error for error in found):
                failures.append(f"{name} with {new!r}: expected an error with {expected!r}, got {found}")
    for failure in failures:
        print(f"check_manifests: self-test: {failure}", file=sys.stderr)
    if failures:
        return 1
    print(f"check_manifests: self-test: {len(BREAKAGES)} broken copies each refused")
    return 0


def main():
    if SELF_TEST:
        return self_test()
    found, count = check(PACKAGING)
    for error in found:
        print(f"check_manifests: {error}", file=sys.stderr)
    if found:
        return 1
    print(f"check_manifests: {count} manifests and 2 runtime snippets in {PACKAGING} are consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
