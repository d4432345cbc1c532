"""Typed server settings.

Settings arrive as JSON under the section ``r1lsp`` from three places, in this order:
``initializationOptions`` at start-up, ``workspace/configuration`` (pulled when the client
supports it) and ``workspace/didChangeConfiguration``. Each source is merged onto the settings
in force; a value of the wrong type or out of range is reported and the previous value kept,
so one bad setting never takes the server down nor resets the others.

Keys are accepted in camelCase (what editors send) or snake_case.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin, Literal

SECTION = "r1lsp"


@dataclass(frozen=True)
class ModelSettings:
    """Which checkpoint the engine loads and how."""

    path: str | None = None  # a checkpoint folder; None = the shipped r1-tiny
    device: Literal["auto", "cpu", "cuda"] = "auto"
    quantization: Literal["int8", "none"] = "int8"
    max_tokens: int = 48  # longest model continuation (ghost text), in tokens
    threads: int = 0  # CPU threads for the model; 0 = OMP_NUM_THREADS if set, else half the cores (at most 8)
    cache_mb: int = 96  # memory for the model's caches: each document's prompt cache (3/4; ~20 MB per prompt of r1-tiny) and results (1/4)


@dataclass(frozen=True)
class FeatureSettings:
    """A switch for each feature the server offers."""

    completion: bool = True
    inline_completion: bool = True
    translate: bool = True
    expert_diagnostics: bool = True


@dataclass(frozen=True)
class DiagnosticsSettings:
    """How expert diagnostics are shown."""

    severity: Literal["hint", "information"] = "hint"  # hint: a faint mark on the header, no squiggle
    sentences: bool = False  # also one diagnostic per statement, not only per class / method / function
    mode: Literal["all", "unusual"] = "all"  # unusual: only units whose routing or surprise stands out in the file
    debounce_ms: int = 300


@dataclass(frozen=True)
class PythonSettings:
    """Python analysis (jedi)."""

    environment: str | None = None  # interpreter (executable or virtualenv folder) jedi resolves imports with; None = the server's own
    analysis_budget_ms: int = 40  # a completion waits this long for jedi, then answers with the file's names (incomplete); jedi's answer serves the next request


@dataclass(frozen=True)
class InlineSettings:
    """Ghost text."""

    min_confidence: float = -1.0  # the model's mean token log-probability under which its suggestion is not shown (tuned on the dev set)
    monitor: bool = True  # constrain names after `receiver.` to the analysis' candidates
    cross_file_context: bool = True  # other files' signatures and recent edits in the prompt (r1lsp.inline_context)
    retrieval: bool = True  # a line's rest copied from the lines that start alike, where they agree (r1lsp.line_retrieval)


@dataclass(frozen=True)
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    features: FeatureSettings = field(default_factory=FeatureSettings)
    diagnostics: DiagnosticsSettings = field(default_factory=DiagnosticsSettings)
    python: PythonSettings = field(default_factory=PythonSettings)
    inline: InlineSettings = field(default_factory=InlineSettings)
    log_level: Literal["error", "warning", "info", "debug"] = "info"


# Bounds for numeric settings: (minimum, maximum).
_BOUNDS = {
    ("model", "max_tokens"): (1, 1024),
    ("model", "threads"): (0, 256),
    ("model", "cache_mb"): (0, 1 << 20),
    ("diagnostics", "debounce_ms"): (0, 10_000),
    ("inline", "min_confidence"): (-100.0, 0.0),
    ("python", "analysis_budget_ms"): (1, 60_000),
}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _check_value(path: tuple[str, ...], annotation: Any, value: Any) -> tuple[bool, Any]:
    """Return (ok, coerced value) for ``value`` against a field's type annotation."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation is bool:
        return isinstance(value, bool), value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False, value
        lo, hi = _BOUNDS.get(path, (None, None))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return False, value
        return True, float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return False, value
        lo, hi = _BOUNDS.get(path, (None, None))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return False, value
        return True, value
    if annotation is str:
        return isinstance(value, str), value
    if origin is Literal:
        if isinstance(value, str) and value.lower() in args:
            return True, value.lower()
        return False, value
    if args and type(None) in args:  # Optional[X]
        if value is None or value == "":
            return True, None
        inner = [a for a in args if a is not type(None)]
        return _check_value(path, inner[0], value)
    return False, value


def _describe(annotation: Any, path: tuple[str, ...]) -> str:
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(annotation))
    if annotation is int and path in _BOUNDS:
        lo, hi = _BOUNDS[path]
        return f"an integer from {lo} to {hi}"
    if annotation is float and path in _BOUNDS:
        lo, hi = _BOUNDS[path]
        return f"a number from {lo} to {hi}"
    names = {bool: "true or false", int: "an integer", str: "a string"}
    if annotation in names:
        return names[annotation]
    args = [a for a in get_args(annotation) if a is not type(None)]
    return (names.get(args[0], "a value") + " or null") if args else "a value"


def _merge(obj: Any, raw: dict, path: tuple[str, ...], errors: list[str]) -> Any:
    hints = {f.name: f for f in dataclasses.fields(obj)}
    types_ = _resolved_types(type(obj))
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        name = _snake(key)
        if name not in hints:
            errors.append(f"unknown setting {'.'.join(path + (key,))!s}")
            continue
        annotation = types_[name]
        current = getattr(obj, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                errors.append(f"setting {'.'.join(path + (key,))} must be an object")
                continue
            changes[name] = _merge(current, value, path + (name,), errors)
            continue
        ok, coerced = _check_value(path + (name,), annotation, value)
        if ok:
            changes[name] = coerced
        else:
            dotted = ".".join((SECTION,) + path + (key,))
            errors.append(
                f"setting {dotted} = {value!r} is not {_describe(annotation, path + (name,))}; "
                f"keeping {current!r}"
            )
    return dataclasses.replace(obj, **changes) if changes else obj


_TYPES_CACHE: dict[type, dict[str, Any]] = {}


def _resolved_types(cls: type) -> dict[str, Any]:
    if cls not in _TYPES_CACHE:
        import typing

        _TYPES_CACHE[cls] = typing.get_type_hints(cls)
    return _TYPES_CACHE[cls]


def merge_settings(base: Settings, raw: Any) -> tuple[Settings, list[str]]:
    """Merge client-sent JSON onto ``base``.

    ``raw`` may be the ``r1lsp`` section itself or an object holding it under ``"r1lsp"``
    (what ``didChangeConfiguration`` usually carries). Returns the new settings and a list of
    human-readable problems (each already names the setting and what was kept).
    """
    if raw is None:
        return base, []
    if not isinstance(raw, dict):
        return base, [f"settings must be a JSON object, got {type(raw).__name__}; keeping the current settings"]
    if SECTION in raw and isinstance(raw[SECTION], dict):
        raw = raw[SECTION]
    errors: list[str] = []
    return _merge(base, raw, (), errors), errors


def settings_to_dict(settings: Settings) -> dict:
    """The settings as JSON (camelCase keys, as editors write them)."""

    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    def convert(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {camel(f.name): convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return value

    return convert(settings)
