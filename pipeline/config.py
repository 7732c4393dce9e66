"""Frozen configuration dataclasses (their defaults are the documentation) and the one TOML
loader that validates them. Reads an optional TOML file; produces a `PipelineConfig`."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A user error in a config file: the message names the key and what is wrong."""


@dataclass(frozen=True)
class IngestConfig:
    """How input files are read and which records are kept."""

    # Abstracts with fewer words than this are rejected: too little text to cluster.
    min_abstract_words: int = 20
    # Force one reader for every input ("auto" picks from extension and content).
    # One of: auto, listing, csv, tsv, json, jsonl, parquet, arxiv-atom, arxiv-oai, bibtex, hf-daily.
    format: str = "auto"
    # Explicit table column mapping, field -> column name, e.g. {abstract = "summary_text"}.
    # Fields: title, abstract, published, authors, id, arxiv_id, doi, url, categories.
    columns: dict[str, str] = field(default_factory=dict)
    # Metadata sidecar CSV joined by normalised title onto listing-page dumps. When empty, a file
    # named `<listing stem>.meta.csv` next to the listing is used if it exists.
    sidecar: str = ""


@dataclass(frozen=True)
class PipelineConfig:
    """All pipeline settings, one section per stage (`[ingest]`, ... in the TOML file)."""

    ingest: IngestConfig = field(default_factory=IngestConfig)


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    """Validate (and lightly coerce) one TOML value against a dataclass field annotation."""
    hint = annotation
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        hint, origin = args[0], typing.get_origin(args[0])
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return _build(hint, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return {str(k): v for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        return tuple(value) if origin is tuple else list(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (
        not isinstance(value, hint) or (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def _build(cls: type, data: dict[str, Any], where: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        prefix = f"[{where}] " if where else ""
        raise ConfigError(
            f"{prefix}unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    kwargs = {
        key: _check_type(value, hints[key], f"{where}.{key}" if where else key)
        for key, value in data.items()
    }
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any]) -> PipelineConfig:
    """Build a validated `PipelineConfig` from a plain mapping (as parsed from TOML)."""
    return _build(PipelineConfig, data)


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Read an optional TOML config file; defaults everywhere it is silent."""
    if path is None:
        return PipelineConfig()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def config_to_dict(config: PipelineConfig) -> dict[str, Any]:
    """The resolved config as plain data, for the run manifest."""
    return dataclasses.asdict(config)
