"""The configuration shared by ``oomguard lint`` and ``oomguard serve``.

One file (``.oomguard.yaml``), one JSON Schema (``config.schema.json`` beside this module).
The schema is checked with jsonschema, imported only when a config file is actually read so
that a lint run without one starts fast; a passed check is remembered (a hash of the config,
the schema and the version, under ``$XDG_CACHE_HOME/oomguard``), so the next run with the
same config does not import jsonschema either.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from oomguard.rules.kinds import KindSpec, PatternError, Registry, registry_for, spec_from_config
from oomguard.rules.quantity import QuantityError, parse_quantity

CONFIG_FILE_NAME = ".oomguard.yaml"
MODES = ("enforce", "warn", "audit")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the bad key."""


@dataclass(frozen=True, eq=False, repr=False)
class Thresholds:
    """The config's ``thresholds:``: limits, and the share of a limit a heap may take."""

    min_limit: Fraction = Fraction(16 * 1024**2)
    max_limit_request_ratio: Fraction = Fraction(2)
    jvm_heap_ratio: Fraction = Fraction(3, 4)
    go_memlimit_ratio: Fraction = Fraction(9, 10)
    node_heap_ratio: Fraction = Fraction(3, 4)
    dotnet_heap_ratio: Fraction = Fraction(3, 4)


@dataclass(frozen=True, eq=False, repr=False)
class RuleSetting:
    """One ``rules:`` entry of the config; None keeps the rule's default."""

    enabled: bool | None = None
    severity: str | None = None


@dataclass(frozen=True, repr=False)
class RenderSetting:
    """How charts and overlays are rendered: one ``render:`` entry of the config (``path`` a
    glob relative to the config file's folder), or the command line's flags (``path`` None).
    Relative ``values`` paths of a config entry are resolved against the config's folder."""

    path: str | None = None
    values: tuple[str, ...] = ()
    set: tuple[str, ...] = ()
    release: str | None = None
    namespace: str | None = None
    kube_version: str | None = None
    kustomize_flags: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False, repr=False)
class Config:
    """A whole config (``.oomguard.yaml`` or the webhook's), read and checked."""

    rules: dict[str, RuleSetting] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    default_memory_request: str | None = None
    default_memory_limit: str | None = None
    fix_limit_ratio: Fraction = Fraction(1)
    fix_enable: frozenset[str] | None = None
    mutate: frozenset[str] = frozenset()
    mode: str = "enforce"
    namespace_modes: dict[str, str] = field(default_factory=dict)
    honor_ignore_annotations: bool = True
    # webhook, enforce mode: may an annotation suppress an error? (any author can write one)
    honor_ignore_annotations_in_enforce: bool = False
    opt_out_label: str = "oomguard.io/ignore"  # webhook: the object opt-out label's key
    opt_out_in_enforce: bool = False  # whether that label also skips enforce mode
    # webhook: identities (usernames or groups) trusted as workload controllers, and owner
    # kinds ("group/Kind") whose Pods are judged at the owner; both add to the built-ins
    trusted_controllers: tuple[str, ...] = ()
    owner_kinds: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    lookup_namespace_labels: bool = False
    lookup_configmaps: bool = False
    lookup_limit_ranges: bool = False  # webhook: LimitRanges through a watch-fed cache
    lookup_vpas: bool = False  # webhook: VerticalPodAutoscalers through a watch-fed cache
    lookup_budget_ms: int = 50
    lookup_cache_seconds: int = 30
    source: str | None = None
    kinds: tuple[KindSpec, ...] = ()  # ``kinds:``: workload kinds added to the registry
    render: tuple[RenderSetting, ...] = ()  # ``render:`` entries, in order
    render_flags: RenderSetting = field(default_factory=RenderSetting)  # lint's flags

    @property
    def folder(self) -> str | None:
        """The config file's folder: ``exclude`` and ``render`` paths are relative to it."""
        if self.source is None or not os.path.isfile(self.source):
            return None
        return os.path.dirname(os.path.abspath(self.source))

    @property
    def registry(self) -> Registry:
        """The workload kinds judged: built-ins, presets and ``kinds:``."""
        return registry_for(self.kinds)


DEFAULT_CONFIG = Config()


def schema() -> dict[str, Any]:
    """The shipped JSON Schema of the config file."""
    import json  # here and below, not at the top: a lint run without a config needs neither
    from importlib import resources  # (with tempfile, shutil, random: ~3 % of a cold start)

    text = resources.files("oomguard.rules").joinpath("config.schema.json").read_text("utf-8")
    return json.loads(text)


def config_from_data(data: Any, source: str = "config") -> Config:
    """Validate a parsed config document and build a :class:`Config`."""
    if data is None:
        data = {}
    _validate(data, source)
    thresholds = data.get("thresholds", {})
    defaults = data.get("defaults", {})
    fix = data.get("fix", {})
    lookups = data.get("lookups", {})
    parsed_defaults = {
        key: _quantity(value, source, f"defaults.{key}") for key, value in defaults.items()
    }
    _check_defaults(parsed_defaults, defaults, source)
    kinds = []
    for index, entry in enumerate(data.get("kinds", ())):
        try:
            kinds.append(spec_from_config(entry))
        except PatternError as exc:
            raise ConfigError(f"config {source}: kinds.{index}: {exc}") from None
    return Config(
        kinds=tuple(kinds),
        rules={
            rule: RuleSetting(setting.get("enabled"), setting.get("severity"))
            for rule, setting in data.get("rules", {}).items()
        },
        thresholds=_thresholds(thresholds, source),
        default_memory_request=_text(defaults.get("memory_request")),
        default_memory_limit=_text(defaults.get("memory_limit")),
        fix_limit_ratio=Fraction(str(fix.get("limit_ratio", 1))),
        fix_enable=frozenset(fix["enable"]) if "enable" in fix else None,
        mutate=frozenset(data.get("mutate", ())),
        mode=data.get("mode", "enforce"),
        namespace_modes=dict(data.get("namespace_modes", {})),
        honor_ignore_annotations=data.get("honor_ignore_annotations", True),
        honor_ignore_annotations_in_enforce=data.get("honor_ignore_annotations_in_enforce", False),
        opt_out_label=data.get("opt_out_label", {}).get("key", "oomguard.io/ignore"),
        opt_out_in_enforce=data.get("opt_out_label", {}).get("honor_in_enforce", False),
        exclude=tuple(data.get("exclude", ())),
        trusted_controllers=tuple(data.get("admission", {}).get("trusted_controllers", ())),
        owner_kinds=tuple(data.get("admission", {}).get("owner_kinds", ())),
        lookup_namespace_labels=lookups.get("namespace_labels", False),
        lookup_configmaps=lookups.get("configmaps", False),
        lookup_limit_ranges=lookups.get("limit_ranges", False),
        lookup_vpas=lookups.get("vpas", False),
        lookup_budget_ms=lookups.get("budget_ms", 50),
        lookup_cache_seconds=lookups.get("cache_seconds", 30),
        source=source,
        render=tuple(_render_setting(entry) for entry in data.get("render", ())),
    )


def _render_setting(entry: dict[str, Any]) -> RenderSetting:
    return RenderSetting(
        path=entry["path"],
        values=tuple(entry.get("values", ())),
        set=tuple(entry.get("set", ())),
        release=entry.get("release"),
        namespace=entry.get("namespace"),
        kube_version=_text(entry.get("kube_version")),
        kustomize_flags=tuple(entry.get("kustomize_flags", ())),
    )


def _thresholds(values: dict[str, Any], source: str) -> Thresholds:
    """``thresholds:`` by the type each rule declares for its keys (rules/__init__.py)."""
    from oomguard.rules import OPTIONS  # here: the rule modules import this module

    parsed: dict[str, Fraction] = {}
    for option in OPTIONS:
        if option.type == "quantity":  # always parsed: the default is written as in a file
            value = values.get(option.name, option.default)
            parsed[option.name] = _quantity(value, source, f"thresholds.{option.name}")
        elif option.name in values:
            parsed[option.name] = Fraction(str(values[option.name]))
    return Thresholds(**parsed)


def load_config(path: str | Path) -> Config:
    """Read, parse and validate a config file. Raises :class:`ConfigError`."""
    import yaml  # the libyaml reader the linter already uses; safe loading only

    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {_reason(exc)}") from None
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"config {path}{where}: {problem}") from None
    return config_from_data(data, str(path))


def find_config(start: Path) -> Path | None:
    """The nearest ``.oomguard.yaml`` in ``start`` or a parent folder."""
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        path = candidate / CONFIG_FILE_NAME
        if path.is_file():
            return path
    return None


def _validate(data: Any, source: str) -> None:
    verdict = _verdict_path(data)
    if verdict is not None and verdict.is_file():
        return
    import jsonschema  # only when a config is read and not known valid: ~50 ms to import

    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        message = error.message
        if error.validator == "enum" and _is_rule_enum(error.validator_value):
            message = f"{error.instance!r} is not a rule ID (`oomguard rules` lists them)"
        raise ConfigError(f"config {source}: {where}: {message}")
    if verdict is not None:
        try:
            verdict.parent.mkdir(parents=True, exist_ok=True)
            verdict.touch()
        except OSError:
            pass  # a read-only home only costs the next run the validation again


def _is_rule_enum(values: Any) -> bool:
    """Whether a violated ``enum`` is the one of rule IDs: its values are the catalogue's."""
    from oomguard.rules import RULES  # here: the rule modules import this module

    return isinstance(values, list) and set(values) == RULES.keys()


def _verdict_path(data: Any) -> Path | None:
    """Where a passed validation of exactly ``data`` against this schema and version is
    remembered. pre-commit lints with the same config on every commit, and importing
    jsonschema is a third of a cold start. Only passes are remembered."""
    import hashlib  # here, not at the top: a run without a config never needs it
    import json
    from importlib import resources

    from oomguard import __version__

    try:
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    except (TypeError, ValueError, RuntimeError):  # not JSON-like data, or no home
        return None
    schema_text = resources.files("oomguard.rules").joinpath("config.schema.json").read_text()
    key = f"{__version__}\0{schema_text}\0{canonical}".encode("utf-8", "surrogatepass")
    return Path(cache) / "oomguard" / "valid-configs" / hashlib.sha256(key).hexdigest()


def _quantity(value: Any, source: str, key: str) -> Fraction:
    try:
        return Fraction(parse_quantity(value))  # thresholds stay Fractions, as the defaults
    except QuantityError as exc:
        raise ConfigError(f"config {source}: {key}: {exc}") from None


def _check_defaults(parsed: dict[str, Fraction], written: dict[str, Any], source: str) -> None:
    """A container given both defaults (memory-request-missing and memory-limit-missing fix
    the same container in one round) must come out admissible: the API server rejects a
    request above the limit (``ValidateResourceRequirements``), and a mutation must not break
    a validation (Kubernetes' "Admission Webhook Good Practices")."""
    request, limit = parsed.get("memory_request"), parsed.get("memory_limit")
    if request is not None and limit is not None and limit != 0 and request > limit:
        raise ConfigError(
            f"config {source}: defaults.memory_request ({written['memory_request']}) is above "
            f"defaults.memory_limit ({written['memory_limit']}): the API server rejects a "
            "container whose request exceeds its limit"
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def namespace_mode(config: Config, namespace: str | None, label: str | None = None) -> str:
    """The webhook mode for a namespace: its ``oomguard.io/mode`` label (when namespace
    look-ups are on and the label holds a valid mode), else ``namespace_modes``, else ``mode``."""
    if label in MODES:
        return label
    return config.namespace_modes.get(namespace or "", config.mode)
