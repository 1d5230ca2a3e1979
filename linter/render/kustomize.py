"""Render a kustomize overlay with the real kustomize.

Backend: ``kustomize build`` when ``kustomize`` is on PATH, else ``kubectl kustomize``
(kubectl embeds kustomize); neither is :class:`RendererMissing`. The engine runs as a
subprocess with a timeout (:data:`TIMEOUT_SECONDS`) and bounded output
(:data:`MAX_OUTPUT_BYTES`); its refusal becomes :class:`RenderError` with kustomize's own
message (paths made relative like the unit, control characters escaped) and the
kustomization it names, at the line that names the missing entry when one does.

The overlay is built through a wrapper kustomization in a temporary directory
(``resources: [<relative path to the overlay>]`` — kustomize refuses absolute paths — and
``buildMetadata: [originAnnotations, transformerAnnotations]``). Each rendered object then
carries ``config.kubernetes.io/origin`` (its resource file, or the kustomization whose
generator made it) and ``alpha.config.kubernetes.io/transformations`` (the kustomizations
whose transformers ran over it). Both annotations are removed from the returned text (and
an annotations map left empty), so linting sees the object as kustomize outputs it.
``source`` of a document is its resource file (for generated objects and objects from
remote bases: the kustomization), relative like the unit path given. How
``Rendered.origin`` uses the annotations: :mod:`.kustomize_origin`.

``Rendered.inputs`` (and :func:`overlay_inputs`, without rendering) are the files of the
kustomization tree: every kustomization of the overlay, its bases and components, and the
resource, patch, generator (``files``/``envs``), replacement and configuration files they
name; remote bases are not followed; the walk stops at :data:`MAX_DEPTH` levels and
:data:`MAX_KUSTOMIZATIONS` kustomizations.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from typing import Any

import yaml
from oomguard.linter.render import (
    Rendered,
    RenderedDocument,
    RendererMissing,
    RenderError,
    RenderOptions,
)
from oomguard.linter.render.kustomize_origin import (
    KUSTOMIZATION_FILES,
    ORIGIN_ANNOTATION,
    TRANSFORMATIONS_ANNOTATION,
    FileCache,
    Tracer,
    UnitPaths,
    kustomization_file,
)

TIMEOUT_SECONDS = 120
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
MAX_STDERR_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_KUSTOMIZATIONS = 1000
MAX_MESSAGE = 2000
MAX_NOTICES = 20

INSTALL_HINT = (
    "rendering a kustomize overlay needs `kustomize` or `kubectl` on PATH: install kustomize "
    "(https://kubectl.docs.kubernetes.io/installation/kustomize/) or kubectl"
)
_REMOTE = re.compile(r"^(https?://|git@|ssh://|git::|github\.com/|gitlab\.com/|bitbucket\.org/)")
# an absolute path in kustomize's message (not the tail of a relative one like ../a/b)
_ABSOLUTE = re.compile(r"(?<![\w.\-/])/[^\s'\":]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# --------------------------------------------------------------------------- backend


def find_backend() -> tuple[list[str], str]:
    """(argv prefix, engine name) for the kustomize found on PATH (looked up in the real
    ``PATH`` of this process, so tests choose the backend by setting ``PATH``)."""
    found = shutil.which("kustomize")
    if found:
        return [found, "build"], "kustomize build"
    found = shutil.which("kubectl")
    if found:
        return [found, "kustomize"], "kubectl kustomize"
    raise RendererMissing(INSTALL_HINT)


def _run(argv: list[str], cwd: str) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with a timeout, reading at most MAX_OUTPUT_BYTES of stdout (the process
    is killed beyond that, so a runaway render cannot take unbounded memory); stderr is kept
    up to MAX_STDERR_BYTES and drained beyond."""
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as error:
        raise RenderError(f"cannot run {argv[0]}: {error.strerror or error}") from None
    buffers: dict[str, list[bytes]] = {"out": [], "err": []}
    over = threading.Event()

    def pump(stream: Any, name: str) -> None:
        size = 0
        while chunk := stream.read(65536):
            size += len(chunk)
            if name == "out" and size > MAX_OUTPUT_BYTES:
                over.set()
                proc.kill()
                break
            if name == "out" or size <= MAX_STDERR_BYTES:
                buffers[name].append(chunk)

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        code = proc.wait(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RenderError(f"kustomize did not finish within {TIMEOUT_SECONDS} s") from None
    for thread in threads:
        thread.join(timeout=5)
    if over.is_set():
        raise RenderError(
            f"kustomize output exceeds the {_size(MAX_OUTPUT_BYTES)} bound; overlay not linted"
        )
    return code, b"".join(buffers["out"]), b"".join(buffers["err"])


def _size(count: int) -> str:
    mib = 1024 * 1024
    return f"{count // mib} MiB" if count % mib == 0 else f"{count} bytes"


# --------------------------------------------------------------------------- build


def build(path: str, options: RenderOptions) -> Rendered:
    """Render the overlay at ``path`` (a directory holding kustomization.yaml, or that file).

    Raises :class:`RendererMissing` when neither kustomize nor kubectl is on PATH and
    :class:`RenderError` when kustomize refuses the overlay.
    """
    unit = path
    if os.path.isfile(path) and os.path.basename(path) in KUSTOMIZATION_FILES:
        unit = os.path.dirname(path) or "."
    unit_real = os.path.realpath(unit)
    if kustomization_file(unit_real) is None:
        raise RenderError(f"{unit}: no kustomization.yaml here", file=unit)
    argv, engine = find_backend()
    temp = tempfile.mkdtemp(prefix="oomguard-kustomize-")
    try:
        temp_real = os.path.realpath(temp)
        try:
            relative = os.path.relpath(unit_real, temp_real)
        except ValueError:  # the temp dir is on another drive: place it beside the overlay
            shutil.rmtree(temp, ignore_errors=True)
            temp = tempfile.mkdtemp(prefix=".oomguard-kustomize-", dir=os.path.dirname(unit_real))
            temp_real = os.path.realpath(temp)
            relative = os.path.relpath(unit_real, temp_real)
        relative = relative.replace(os.sep, "/")
        with open(os.path.join(temp_real, "kustomization.yaml"), "w", encoding="utf-8") as fh:
            fh.write(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                f"resources:\n  - {_quote(relative)}\n"
                "buildMetadata: [originAnnotations, transformerAnnotations]\n"
            )
        paths = UnitPaths(unit=unit, unit_real=unit_real, temp_real=temp_real)
        code, out, err = _run([*argv, *options.kustomize_flags, temp_real], cwd=temp_real)
        if code != 0:
            raise _render_error(err.decode("utf-8", "replace"), paths, relative)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    cache = FileCache()
    kustomizations, inputs = _walk(unit_real, cache)
    tracer = Tracer(paths, cache, kustomizations)
    documents = []
    # kustomize's warnings on success (deprecated fields, …) are said, never dropped
    warnings = [w.lstrip("# ").strip() for w in err.decode("utf-8", "replace").splitlines()]
    notices = [f"{unit}: kustomize: {escape_control(w)}" for w in warnings if w][:MAX_NOTICES]
    for text in _split(out.decode("utf-8", "replace")):
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if not isinstance(data, dict):
            continue
        info = tracer.add(data)
        documents.append(
            RenderedDocument(text=_strip_annotations(text, info.obj), source=info.source)
        )
    remote = sum(1 for info in tracer.objects if info.remote)
    if remote:
        notices.append(
            f"{unit}: {remote} object(s) come from remote bases; their values are reported at "
            "the overlay's kustomization, not traced to a file"
        )
    return Rendered(
        unit=path,
        engine=engine,
        documents=documents,
        origin=tracer.origin,
        inputs=[paths.show(p) for p in inputs],
        notices=notices,
    )


def overlay_inputs(path: str) -> list[str]:
    """The files rendering the overlay at ``path`` would read (its kustomization tree, no
    kustomize run), relative like ``path``: for pre-commit, to find the overlays a changed
    file belongs to without rendering them all."""
    unit = path
    if os.path.isfile(path) and os.path.basename(path) in KUSTOMIZATION_FILES:
        unit = os.path.dirname(path) or "."
    unit_real = os.path.realpath(unit)
    paths = UnitPaths(unit=unit, unit_real=unit_real, temp_real=unit_real)
    return [paths.show(p) for p in _walk(unit_real, FileCache())[1]]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _split(output: str) -> list[str]:
    chunks = re.split(r"(?m)^---[ \t]*\n", output)
    return [chunk for chunk in chunks if chunk.strip()]


def escape_control(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _render_error(stderr: str, paths: UnitPaths, relative: str) -> RenderError:
    """kustomize's own message, paths made relative like the unit, and the kustomization
    it names (the innermost directory the message mentions that holds one)."""
    message = stderr.strip()
    quoted = re.search(r'err="((?:[^"\\]|\\.)*)"', message)  # kubectl's klog wrapping
    if quoted:
        # a Go-quoted string (\", \\, \n, \x1b, \u00e9); printable Unicode is kept as is
        message = quoted.group(1).encode("latin-1", "backslashreplace").decode("unicode_escape")
    message = re.sub(r"^(Error|error):\s*", "", message)
    # the wrapper's own level ("accumulating resources from '../../x': ... must resolve to a
    # file': ") only repeats the unit; kustomize's message for the overlay follows it
    wrapper = re.match(
        r"accumulating resources: accumulation err='accumulating resources from '"
        + re.escape(relative)
        + r"': '[^']*' must resolve to a file': (.*)'?$",
        message,
        re.S,
    )
    if wrapper:
        message = wrapper.group(1)
    message = message.replace(f"'{relative}'", f"'{paths.unit}'")
    named: str | None = None
    for found in _ABSOLUTE.findall(stderr):
        if found.startswith(paths.temp_real):
            continue  # the wrapper is ours, never the user's file
        if os.path.isdir(found) and kustomization_file(found):
            named = found  # the last one is the innermost accumulation
    for found in sorted(set(_ABSOLUTE.findall(message)), key=len, reverse=True):
        if found.startswith(paths.temp_real):
            message = message.replace(found, "<wrapper>")
        else:
            message = message.replace(found, paths.show(found))
    message = escape_control(re.sub(r"\s*\n\s*", " ", message.strip()))  # one line
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    file = line = None
    if named:
        kfile = kustomization_file(named)
        if kfile:
            file = paths.show(kfile)
            line = _line_naming(kfile, stderr)
    return RenderError(f"kustomize: {message}", file=file, line=line)


def _line_naming(kfile: str, stderr: str) -> int | None:
    """The 0-based line of ``kfile`` that holds an entry the error quotes ('missing.yaml')."""
    try:
        with open(kfile, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for entry in re.findall(r"'([^'/][^']*)'", stderr):
        pattern = re.compile(r"(^|[\s\[,:\-])['\"]?" + re.escape(entry) + r"['\"]?\s*(,|\]|$)")
        for number, text in enumerate(lines):
            if pattern.search(text.split("#", 1)[0]):
                return number
    match = re.search(r"yaml: line (\d+)", stderr)
    return int(match.group(1)) - 1 if match else None


def _strip_annotations(text: str, clean: dict) -> str:
    """``text`` without the two build-metadata annotations (and an annotations map left
    empty). kustomize writes them in a fixed layout; any other layout is re-dumped."""
    lines = text.splitlines(keepends=True)
    result: list[str] = []
    in_metadata = in_annotations = dropping = False
    annotations_at = None
    kept_annotations = 0
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        if dropping and (indent > 4 or not stripped):
            continue
        dropping = False
        if indent == 0 and stripped:
            in_metadata = line.startswith("metadata:")
            in_annotations = False
        elif in_metadata and indent == 2 and stripped:
            in_annotations = stripped == "annotations:"
            if in_annotations:
                annotations_at = len(result)
                kept_annotations = 0
        elif in_annotations and indent == 4:
            key = stripped.split(":", 1)[0]
            if key in (ORIGIN_ANNOTATION, TRANSFORMATIONS_ANNOTATION):
                dropping = True
                continue
            kept_annotations += 1
        if annotations_at is not None and not in_annotations and kept_annotations == 0:
            del result[annotations_at]
            annotations_at = None
        elif not in_annotations:
            annotations_at = None
        result.append(line)
    if annotations_at is not None and kept_annotations == 0:
        del result[annotations_at]
    stripped_text = "".join(result)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if yaml.load(stripped_text, Loader=loader) == clean:
        return stripped_text
    return yaml.safe_dump(clean, default_flow_style=False, sort_keys=False)


def _walk(unit_real: str, files: FileCache) -> tuple[list[str], list[str]]:
    """(kustomization files nearest the unit first, every file the build reads)."""
    kustomizations: list[str] = []
    inputs: list[str] = []
    seen: set[str] = set()
    queue: deque[tuple[str, int]] = deque([(unit_real, 0)])
    while queue and len(kustomizations) < MAX_KUSTOMIZATIONS:
        directory, depth = queue.popleft()
        kfile = kustomization_file(directory)
        if kfile is None or kfile in seen:
            continue
        seen.add(kfile)
        kustomizations.append(kfile)
        inputs.append(kfile)
        parsed = files.get(kfile)
        doc = parsed.documents[0] if parsed.documents else None
        if not isinstance(doc, dict):
            continue
        for entry in _referenced(doc):
            if _REMOTE.match(entry) or "?ref=" in entry or "\n" in entry:
                continue
            target = os.path.normpath(os.path.join(directory, entry))
            if os.path.isdir(target):
                if depth + 1 <= MAX_DEPTH:
                    queue.append((os.path.realpath(target), depth + 1))
            elif os.path.isfile(target) and target not in inputs:
                inputs.append(target)
    return kustomizations, inputs


def _referenced(doc: dict) -> list[str]:
    """File and directory names a kustomization refers to."""
    names: list[str] = []

    def strings(value: Any) -> list[str]:
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    for key in ("resources", "bases", "components", "crds", "configurations"):
        names += strings(doc.get(key))
    for key in ("generators", "transformers", "validators", "patchesStrategicMerge"):
        names += strings(doc.get(key))
    for key in ("patches", "patchesJson6902", "replacements"):
        for item in doc.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                names.append(item["path"])
    for key in ("configMapGenerator", "secretGenerator"):
        for gen in doc.get(key) or []:
            if not isinstance(gen, dict):
                continue
            names += [f.split("=", 1)[-1] for f in strings(gen.get("files"))]
            names += strings(gen.get("envs"))
            if isinstance(gen.get("env"), str):
                names.append(gen["env"])
    openapi = doc.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        names.append(openapi["path"])
    return names
