"""Generate the lint throughput inputs: N workload objects in multi-document YAML files.

Objects come from two sources, interleaved deterministically (seeded):

* every workload object of the real-world corpus (``../shared/corpus/real``), re-emitted
  as block YAML with a unique name, cycled until N is reached;
* generated runtime-flag cases: JVM (``-Xmx``, ``JAVA_TOOL_OPTIONS``, ``MaxRAMPercentage``,
  ``sh -c`` wrappers), Go (``GOMEMLIMIT``, ``GOGC=off``), Node (``--max-old-space-size``,
  ``NODE_OPTIONS``) and .NET (hexadecimal ``DOTNET_GCHeapHardLimitPercent`` /
  ``DOTNET_GCHeapHardLimit``), with limits, requests and the occasional ConfigMap
  reference, so every resolver and most rules run.

Every file holds at most ``--per-file`` objects (default 100), so the largest file stays
the same size whatever N is: peak memory should follow the largest file, not the input.

    python bench/gen_inputs.py 1000 10000 100000          # -> bench/out/inputs/<N>/
    python bench/gen_inputs.py 1000 --out /tmp/inputs --per-file 50
"""

from __future__ import annotations

import argparse
import copy
import random
import shutil
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "real"
DEFAULT_OUT = REPO / "bench" / "out" / "inputs"
WORKLOAD_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
        "PodTemplate",
    }
)
SEED = 20260601
RUNTIME_SHARE = 0.3  # fraction of generated runtime-flag objects in the mix

_LIMITS = ["64Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi", "1500M", "3G", "536870912", "128e6"]
_JVM_HEAPS = ["256m", "512m", "768M", "1g", "2g", "3G", "1572864k", "2GB", "0x40000000", "1.5g"]
_GO_LIMITS = ["900MiB", "1GiB", "1800MiB", "1073741824", "512Mi", "1G", "off", ""]
_NODE_SIZES = ["256", "512", "1024", "1536", "2048", "4096", "2g"]
_DOTNET_PERCENTS = ["0x4B", "4B", "75", "0x32", "1E", "64", "0", "100"]
_DOTNET_LIMITS = ["0x20000000", "20000000", "209715200", "0x40000000"]


def corpus_workloads(corpus: Path = CORPUS) -> list[dict]:
    """Every workload object of the corpus (List items expanded), in a stable order."""
    found = []
    for path in sorted(corpus.rglob("*.y*ml")):
        try:
            documents = list(yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader))
        except yaml.YAMLError:
            continue
        for doc in documents:
            items = doc.get("items") if isinstance(doc, dict) else None
            listed = isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List")
            for obj in items if listed and isinstance(items, list) else [doc]:
                if isinstance(obj, dict) and obj.get("kind") in WORKLOAD_KINDS:
                    found.append(obj)
    return found


def runtime_case(rng: random.Random, index: int) -> dict:
    """One Deployment whose containers set heap flags the way real manifests do."""
    containers = [_runtime_container(rng, f"c{n}") for n in range(rng.choice((1, 1, 2, 3)))]
    kind = rng.choice(("Deployment", "StatefulSet", "Deployment", "Pod"))
    metadata = {"name": f"gen-{index}", "namespace": rng.choice(("default", "shop", "ops"))}
    if kind == "Pod":  # a core v1 Pod holds its containers in spec itself
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": metadata,
            "spec": {"containers": containers},
        }
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": metadata,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": f"gen-{index}"}},
            "template": {
                "metadata": {"labels": {"app": f"gen-{index}"}},
                "spec": {"containers": containers},
            },
        },
    }


def _runtime_container(rng: random.Random, name: str) -> dict:
    runtime = rng.choice(("jvm", "go", "node", "dotnet"))
    container: dict = {"name": name}
    env: list[dict] = []
    if runtime == "jvm":
        heap = rng.choice(_JVM_HEAPS)
        container["image"] = rng.choice(("eclipse-temurin:21", "openjdk:17", "registry/app:1"))
        style = rng.randrange(4)
        if style == 0:
            container["command"] = ["java", f"-Xmx{heap}", "-jar", "/app.jar"]
        elif style == 1:
            container["command"] = ["sh", "-c", f"exec java $JAVA_OPTS -Xmx{heap} -jar /app.jar"]
            env.append({"name": "JAVA_OPTS", "value": "-XX:+UseG1GC"})
        elif style == 2:
            env.append({"name": "JAVA_TOOL_OPTIONS", "value": f"-Xms256m -Xmx{heap}"})
        else:
            percent = rng.randint(40, 99)
            env.append({"name": "JAVA_TOOL_OPTIONS", "value": f"-XX:MaxRAMPercentage={percent}"})
    elif runtime == "go":
        container["image"] = rng.choice(("gcr.io/distroless/static", "golang:1.22", "app:1"))
        container["command"] = ["/server"]
        env.append({"name": "GOMEMLIMIT", "value": rng.choice(_GO_LIMITS)})
        if rng.random() < 0.3:
            env.append({"name": "GOGC", "value": "off"})
    elif runtime == "node":
        size = rng.choice(_NODE_SIZES)
        container["image"] = "node:20-alpine"
        if rng.random() < 0.5:
            container["command"] = ["node", f"--max-old-space-size={size}", "server.js"]
        else:
            container["command"] = ["node", "server.js"]
            env.append({"name": "NODE_OPTIONS", "value": f"--max_old_space_size={size}"})
    else:
        container["image"] = "mcr.microsoft.com/dotnet/aspnet:8.0"
        if rng.random() < 0.6:
            percent = rng.choice(_DOTNET_PERCENTS)
            env.append({"name": "DOTNET_GCHeapHardLimitPercent", "value": percent})
        else:
            env.append({"name": "DOTNET_GCHeapHardLimit", "value": rng.choice(_DOTNET_LIMITS)})
    if rng.random() < 0.1:
        env.append(
            {
                "name": "HEAP_FROM_CONFIG",
                "valueFrom": {"configMapKeyRef": {"name": "not-in-input", "key": "heap"}},
            }
        )
    if env:
        container["env"] = env
    limit = rng.choice(_LIMITS)
    resources: dict = {}
    if rng.random() < 0.85:
        resources["limits"] = {"memory": limit, "cpu": "500m"}
    if rng.random() < 0.7:
        resources["requests"] = {"memory": rng.choice((limit, "128Mi", "1Gi")), "cpu": "500m"}
    if resources:
        container["resources"] = resources
    return container


def objects(count: int, corpus: list[dict], seed: int = SEED):
    """``count`` objects: corpus workloads cycled, runtime-flag cases mixed in."""
    rng = random.Random(seed)
    next_corpus = 0
    for index in range(count):
        if rng.random() < RUNTIME_SHARE or not corpus:
            yield runtime_case(rng, index)
            continue
        obj = copy.deepcopy(corpus[next_corpus % len(corpus)])
        next_corpus += 1
        metadata = obj.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
            metadata["name"] = f"{metadata['name']}-{index}"
        yield obj


def generate(count: int, out: Path, per_file: int, corpus: list[dict]) -> Path:
    """Write ``count`` objects to ``out/<count>/`` (replacing it); return that folder."""
    folder = out / str(count)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    batch: list[dict] = []
    files = 0

    def flush() -> None:
        nonlocal files
        text = yaml.dump_all(batch, Dumper=yaml.CSafeDumper, sort_keys=False, width=120)
        (folder / f"objects-{files:05d}.yaml").write_text(text, "utf-8")
        files += 1
        batch.clear()

    for obj in objects(count, corpus):
        batch.append(obj)
        if len(batch) == per_file:
            flush()
    if batch:
        flush()
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="+", type=int, help="object counts, e.g. 1000 10000")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--per-file", type=int, default=100)
    args = parser.parse_args(argv)
    corpus = corpus_workloads()
    for count in args.counts:
        folder = generate(count, args.out, args.per_file, corpus)
        size = sum(p.stat().st_size for p in folder.iterdir())
        largest = max(p.stat().st_size for p in folder.iterdir())
        print(
            f"{folder}: {count} objects, {len(list(folder.iterdir()))} files, "
            f"{size / 2**20:.1f} MiB (largest file {largest / 2**10:.0f} KiB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
