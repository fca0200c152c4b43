"""`config.yaml`, validated into frozen dataclasses at start-up.

Every section is a dataclass whose fields carry their defaults and help text,
so a missing key takes the default and a wrong one fails with its full path
("matcher.answer_threshold: expected a number, got 'high'"). Secrets never
live here: they come from environment variables read by the composition root.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or has a wrong value."""


def _help(text: str, default: Any) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class MatcherConfig:
    """Thresholds of the FAQ matcher, set once for every FAQ (no per-entry tuning)."""

    answer_threshold: float = _help(
        "Lowest score (0-1) at which the bot answers straight away.", 0.42
    )
    answer_margin: float = _help(
        "How far the best entry must lead the runner-up to be answered directly.", 0.2
    )
    clarify_threshold: float = _help(
        "Lowest score at which entries are offered as 'did you mean' choices.", 0.2
    )
    max_candidates: int = _help("How many 'did you mean' choices to offer at most.", 3)

    def __post_init__(self) -> None:
        for name in ("answer_threshold", "answer_margin", "clarify_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"matcher.{name}: must be between 0 and 1, got {value}")
        if self.clarify_threshold > self.answer_threshold:
            raise ConfigError("matcher.clarify_threshold: must not exceed answer_threshold")
        if not 1 <= self.max_candidates <= 10:
            raise ConfigError("matcher.max_candidates: must be between 1 and 10")


@dataclass(frozen=True)
class Config:
    """The whole validated configuration; paths are resolved against the file's folder."""

    knowledge_dir: Path = _help("Folder with faq/*.yaml, systems.yaml, synonyms.yaml.", Path("knowledge"))
    matcher: MatcherConfig = _help("FAQ matcher thresholds.", MatcherConfig())


def _convert(value: Any, kind: Any, key: str) -> Any:
    """Turn a YAML value into the declared field type, or say which key is wrong."""
    if dataclasses.is_dataclass(kind):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return _build(kind, value, key + ".")
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return None if value is None else _convert(value, options[0], key)
    if origin in (list, tuple):
        (item,) = typing.get_args(kind)[:1]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        return tuple(_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if kind is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key}: expected a path, got {value!r}")
        return Path(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if kind is int or kind is bool or kind is str:
        if type(value) is not kind:
            raise ConfigError(f"{key}: expected {kind.__name__}, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {kind!r}")  # pragma: no cover - a coding error


def _build(cls: Any, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key (known: {', '.join(sorted(names))})")
    kwargs = {name: _convert(data[name], hints[name], prefix + name) for name in names if name in data}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - a coding error
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: {exc}") from exc


def load_config(path: Path) -> Config:
    """Read and validate `config.yaml`; relative paths are taken from the file's folder."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    config: Config = _build(Config, raw)
    base = path.resolve().parent
    return dataclasses.replace(config, knowledge_dir=base / config.knowledge_dir)


def settings_help(cls: Any = Config, prefix: str = "") -> list[tuple[str, str]]:
    """List every setting with its help text, for docs and the docs test."""
    rows: list[tuple[str, str]] = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.type) or dataclasses.is_dataclass(typing.get_type_hints(cls)[f.name]):
            rows += settings_help(typing.get_type_hints(cls)[f.name], prefix + f.name + ".")
        else:
            rows.append((prefix + f.name, f.metadata.get("help", "")))
    return rows
