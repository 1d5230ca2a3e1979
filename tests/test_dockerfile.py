"""Dockerfile and .dockerignore: the invariants that can be checked without a Docker engine,
plus stage 1's wheel build re-run on exactly the files the Dockerfile copies."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from oomguard import __version__
from release_build import CONSTRAINTS, dist, wheel_venv

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
CHART_VALUES = yaml.safe_load((REPO / "charts" / "oomguard" / "values.yaml").read_text())
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[dict]]:
    """Global ARG defaults and the stages, each {base, name, instructions: [(op, args)]}."""
    logical, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # comment inside a continued instruction
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "Dockerfile ends in a line continuation"
    args: dict[str, str] = {}
    stages: list[dict] = []
    for line in logical:
        op, _, rest = line.partition(" ")
        op, rest = op.upper(), rest.strip()
        if op == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif op == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            assert match, line
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], match[1])
            stages.append({"base": base, "name": match[2], "instructions": []})
        else:
            assert stages, f"{op} before FROM"
            stages[-1]["instructions"].append((op, rest))
    return args, stages


ARGS, STAGES = parse_dockerfile(DOCKERFILE.read_text())
BUILD, RUNTIME = STAGES[0], STAGES[-1]


def ops(stage: dict, op: str) -> list[str]:
    return [rest for o, rest in stage["instructions"] if o == op]


def exec_form(value: str) -> list[str]:
    parsed = json.loads(value)  # shell form would not be JSON: it needs /bin/sh at run time
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed)
    return parsed


def test_multi_stage_build_then_runtime():
    assert len(STAGES) == 2
    assert BUILD["name"] == "build" and RUNTIME["name"] == "runtime"


@pytest.mark.parametrize("stage", [0, 1])
def test_base_images_are_pinned_slim_python(stage):
    base, _, digest = STAGES[stage]["base"].partition("@")
    # the digest pins the bytes (a tag can be re-pushed); the tag says which Python it is
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), digest
    image, _, tag = base.partition(":")
    assert image == "python"
    assert tag and tag != "latest" and "latest" not in tag
    assert re.fullmatch(r"3\.\d+\.\d+-slim-[a-z]+", tag), tag  # full patch version + distro
    major_minor = tuple(int(x) for x in tag.split("-")[0].split(".")[:2])
    required = re.fullmatch(r">=(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert major_minor >= (int(required[1]), int(required[2]))
    assert STAGES[0]["base"] == STAGES[1]["base"]  # the wheel is built by the same Python


def test_stage_one_builds_the_wheel_and_stage_two_installs_only_it():
    assert any("pip wheel --no-deps --wheel-dir /dist ." in run for run in ops(BUILD, "RUN"))
    # the dependencies are installed at the versions the test suite ran with
    assert "constraints/test.txt /dist/constraints.txt" in ops(BUILD, "COPY")
    copies = ops(RUNTIME, "COPY")
    assert copies == ["--from=build /dist/ /tmp/dist/"]  # no sources in the runtime image
    (install,) = ops(RUNTIME, "RUN")
    assert "pip install -c /tmp/dist/constraints.txt /tmp/dist/oomguard-*.whl" in install
    assert "rm -rf /tmp/dist" in install


def test_runtime_runs_as_a_non_root_numeric_user():
    users = ops(RUNTIME, "USER")
    assert users, "no USER in the runtime stage"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0
    assert gid.isdigit() and int(gid) > 0
    # USER comes after the last RUN, so nothing after it runs as root.
    names = [op for op, _ in RUNTIME["instructions"]]
    assert names.index("USER") > max(i for i, op in enumerate(names) if op == "RUN")
    # The chart runs the pod with the same IDs.
    for context in ("podSecurityContext", "securityContext"):
        assert CHART_VALUES[context]["runAsUser"] == int(uid)
        assert CHART_VALUES[context]["runAsGroup"] == int(gid)
        assert CHART_VALUES[context]["runAsNonRoot"] is True


def test_entrypoint_is_exec_form_oomguard_serve_without_a_shell():
    (entrypoint,) = ops(RUNTIME, "ENTRYPOINT")
    assert exec_form(entrypoint) == ["oomguard", "serve"]
    (cmd,) = ops(RUNTIME, "CMD")
    args = exec_form(cmd)
    assert args[args.index("--cert") + 1] == "/etc/oomguard/tls/tls.crt"  # the chart's mount
    assert args[args.index("--key") + 1] == "/etc/oomguard/tls/tls.key"
    assert args[args.index("--port") + 1] == str(CHART_VALUES["server"]["port"])
    assert not ops(RUNTIME, "SHELL")
    assert ops(RUNTIME, "EXPOSE") == [str(CHART_VALUES["server"]["port"])]
    assert not ops(RUNTIME, "HEALTHCHECK")  # a shell-form check would need /bin/sh


def test_no_latest_tag_anywhere():
    assert not re.search(r":latest\b", DOCKERFILE.read_text())


def _copied_sources() -> list[str]:
    sources = []
    for copy in ops(BUILD, "COPY"):
        parts = copy.split()
        sources.extend(p.rstrip("/") for p in parts[:-1] if not p.startswith("--"))
    return sources


def test_build_stage_copies_everything_the_wheel_needs():
    sources = _copied_sources()
    assert "." not in sources  # no whole-context copy
    setuptools = PYPROJECT["tool"]["setuptools"]
    package_roots = {path.split("/")[0] for path in setuptools["package-dir"].values()}
    assert package_roots <= set(sources)
    assert {"pyproject.toml", PYPROJECT["project"]["readme"]} <= set(sources)
    for source in sources:
        assert (REPO / source).exists(), source


def _ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _ignored(path: str) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in _ignore_patterns():
        if pattern.startswith("!"):
            raise AssertionError("negated patterns are not modelled here")
        bare = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatchcase(prefix.split("/")[-1], bare)
            ):
                return True
    return False


def test_dockerignore_keeps_the_build_inputs_and_drops_the_rest():
    for source in _copied_sources():
        assert not _ignored(source), source
        for file in (REPO / source).rglob("*.py") if (REPO / source).is_dir() else []:
            rel = file.relative_to(REPO).as_posix()
            assert not _ignored(rel) or "__pycache__" in rel, rel
    for path in (
        ".git",
        ".venv",
        ".venv-helm",
        "tests",
        "charts",
        "bench",
        "docs",
        "oomguard/__pycache__/cli.cpython-311.pyc",
        "oomguard.egg-info",
    ):
        assert _ignored(path), path


def test_wheel_builds_from_exactly_the_copied_files(tmp_path):
    """Stage 1 re-run: copy what the Dockerfile copies, build the wheel the same way."""
    context = tmp_path / "src"
    context.mkdir()
    for source in _copied_sources():
        src = REPO / source
        if src.is_dir():
            shutil.copytree(src, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (context / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, context / source)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path / "dist"),
         "--disable-pip-version-check", "-q", "."],
        cwd=context, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp_path / "dist").glob("oomguard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "oomguard/cli.py",
        "oomguard/rules/__init__.py",
        "oomguard/rules/config.schema.json",
        "oomguard/linter/__init__.py",
        "oomguard/webhook/__init__.py",
    ):
        assert required in names, required
    assert not any(n.startswith(("rules/", "linter/", "webhook/", "tests/")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert re.search(r"^oomguard = oomguard\.cli:main$", text, re.M)
    # the same wheel as the release (`python -m build`, tests/test_release.py): same files,
    # same bytes for each module and data file, same metadata
    _, release = dist()
    with zipfile.ZipFile(wheel) as ours, zipfile.ZipFile(release) as theirs:
        assert sorted(ours.namelist()) == sorted(theirs.namelist())
        for name in ours.namelist():
            if name.endswith(".dist-info/RECORD"):  # the same hashes, perhaps in another order
                assert sorted(ours.read(name).splitlines()) == sorted(
                    theirs.read(name).splitlines()
                )
            else:
                assert ours.read(name) == theirs.read(name), name


def test_build_comment_tags_the_image_with_the_version():
    assert f"docker build -t oomguard:{__version__} ." in DOCKERFILE.read_text()


def test_runtime_dependencies_resolve_for_the_image_python(tmp_path):
    """Stage 2's `pip install -c constraints.txt wheel`, resolved (not installed) for the
    image's CPython and platform with binary wheels only: a pin without a wheel for that
    Python fails here, not in `docker build`. linux/amd64 only (arm64 costs another ~20 s)."""
    tag = RUNTIME["base"].partition("@")[0].partition(":")[2]
    major, minor = tag.split(".")[:2]
    platforms = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
         "--target", str(tmp_path / "t"), "--python-version", f"{major}.{minor}",
         "--implementation", "cp", "--abi", f"cp{major}{minor}",
         *(arg for p in platforms for arg in ("--platform", p)),
         "--only-binary=:all:", "--disable-pip-version-check",
         "-c", str(CONSTRAINTS), str(dist()[1])],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    would = proc.stdout.rsplit("Would install ", 1)[1].split()
    assert f"oomguard-{__version__}" in would
    for package in ("gunicorn", "Flask", "kubernetes", "PyYAML"):
        assert any(w.startswith(package + "-") for w in would), package


def test_installed_wheel_runs_the_entrypoint_without_a_shell():
    """The wheel installed as stage 2 does (tests/release_build.py: a fresh venv, the pinned
    dependencies); the entrypoint then runs with a PATH holding only that bin folder: the
    console script is found there and needs no /bin/sh."""
    bin_dir = wheel_venv()
    (install,) = ops(RUNTIME, "RUN")
    assert install.endswith("&& oomguard --version")
    version = subprocess.run([str(bin_dir / "oomguard"), "--version"], capture_output=True)
    assert version.stdout.decode().strip() == f"oomguard {__version__}"
    entrypoint = exec_form(ops(RUNTIME, "ENTRYPOINT")[0])
    executable = shutil.which(entrypoint[0], path=str(bin_dir))
    assert executable == str(bin_dir / "oomguard")
    proc = subprocess.run(
        [executable, *entrypoint[1:], "--help"],
        env={"PATH": str(bin_dir), "HOME": "/nonexistent"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "--cert" in proc.stdout and "--key" in proc.stdout


def test_package_code_never_starts_a_shell():
    """The image has /bin/sh, but nothing may depend on it: a distroless base stays possible
    and no manifest text can reach a shell."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    pattern = re.compile(r"shell\s*=\s*True|os\.system\(|os\.popen\(|[\"']/bin/(ba)?sh[\"']")
    for folder in set(setuptools["package-dir"].values()):
        for source in (REPO / folder).glob("*.py"):
            for number, line in enumerate(source.read_text().splitlines(), 1):
                assert not pattern.search(line), f"{source.relative_to(REPO)}:{number}: {line}"


DOCKER_SHIM = '''#!{python}
"""STUB of the Docker CLI and engine, named so: no Docker engine runs on the test machine.
`docker run IMAGE ARGS` of the one image built here runs, as the image would, its ENTRYPOINT
(or --entrypoint) from the venv where the release wheel is installed, in the host folder
mounted at --workdir, with the image's PATH and a user without a home. `docker system info`
answers as a rootful engine does; anything else fails. Each call is logged."""
import json, os, shutil, subprocess, sys

args = sys.argv[1:]
with open(os.environ["DOCKER_SHIM_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:2] == ["system", "info"]:
    print(json.dumps({{"SecurityOptions": ["name=seccomp,profile=builtin"]}}))
    sys.exit(0)
if args[:1] != ["run"]:
    sys.exit(1)
options, i = {{}}, 1
while args[i].startswith("-"):
    if args[i] in ("-u", "-v", "--workdir", "--entrypoint", "-e"):
        options.setdefault(args[i], []).append(args[i + 1])
        i += 2
    else:  # --rm, --tty
        i += 1
image, rest = args[i], args[i + 1 :]
if image != os.environ["DOCKER_SHIM_IMAGE"]:
    sys.exit(f"Unable to find image '{{image}}' locally")
if "--entrypoint" in options:  # replaces ENTRYPOINT and CMD
    argv = [options["--entrypoint"][-1], *rest]
else:
    argv = json.loads(os.environ["DOCKER_SHIM_ENTRYPOINT"]) + rest
workdir = options["--workdir"][-1]
(host,) = [v.split(":")[0] for v in options.get("-v", []) if v.split(":")[1] == workdir]
bin_dir = os.environ["DOCKER_SHIM_BIN"]
executable = shutil.which(argv[0], path=bin_dir)
if executable is None:
    sys.exit(f"exec: {{argv[0]}}: executable file not found in $PATH")
env = {{"PATH": bin_dir, "HOME": "/nonexistent"}}  # -u UID:GID has no passwd entry, no home
sys.exit(subprocess.run([executable, *argv[1:]], cwd=host, env=env).returncode)
'''


def test_docker_image_hook_runs_lint_in_the_image(tmp_path):
    """The `oomguard-docker` hook through the real `pre-commit try-repo`: pre-commit builds
    the `docker run` command; the docker STUB above plays the engine with the installed wheel."""
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    hook = hooks["oomguard-docker"]
    assert hook["language"] == "docker_image"
    assert hook["entry"] == f"--entrypoint oomguard oomguard:{__version__} lint"
    assert hook["types_or"] == ["yaml", "json"]

    shim_dir = tmp_path / "bin"
    shim_dir.mkdir()
    (shim_dir / "docker").write_text(DOCKER_SHIM.format(python=sys.executable))
    (shim_dir / "docker").chmod(0o755)
    hook_repo = tmp_path / "hook-repo"
    hook_repo.mkdir()
    shutil.copy2(REPO / ".pre-commit-hooks.yaml", hook_repo)
    project = tmp_path / "project"
    project.mkdir()
    shutil.copyfile(REPO / "examples" / "bad" / "node.yaml", project / "bad.yaml")
    shutil.copyfile(REPO / "examples" / "good" / "shop.yaml", project / "good.yaml")
    # a config: its validation cache cannot be written by a user without a home (noted, not fatal)
    (project / ".oomguard.yaml").write_text("thresholds: {node_heap_ratio: 0.75}\n")
    git = ("git", "-c", "user.name=t", "-c", "user.email=t@oomguard.invalid")
    for cwd in (hook_repo, project):
        subprocess.run([*git, "init", "-q"], cwd=cwd, check=True)
        subprocess.run([*git, "add", "-A"], cwd=cwd, check=True)
    subprocess.run([*git, "commit", "-qm", "hooks"], cwd=hook_repo, check=True)
    log = tmp_path / "docker.log"
    env = {
        **os.environ,
        "PATH": f"{shim_dir}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PRE_COMMIT_COLOR": "never",
        "DOCKER_SHIM_LOG": str(log),
        "DOCKER_SHIM_IMAGE": f"oomguard:{__version__}",
        "DOCKER_SHIM_ENTRYPOINT": ops(RUNTIME, "ENTRYPOINT")[0],
        "DOCKER_SHIM_BIN": str(wheel_venv()),
    }
    env.pop("VIRTUAL_ENV", None)
    pre_commit = Path(sys.executable).with_name("pre-commit")

    def try_repo(*files: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(pre_commit), "try-repo", str(hook_repo), "oomguard-docker", "--files", *files],
            cwd=project, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    bad = try_repo("bad.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "bad.yaml:17:29: error node-heap-exceeds-limit" in bad.stdout
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    (run,) = [r for r in runs if r[0] == "run"]
    assert run[run.index("-v") + 1] == f"{project}:/src:rw,Z"
    assert run[run.index("--workdir") + 1] == "/src"
    tail = run[run.index("--entrypoint") :]
    assert tail == ["--entrypoint", "oomguard", f"oomguard:{__version__}", "lint", "bad.yaml"]

    good = try_repo("good.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
