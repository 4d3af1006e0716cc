"""Reading a config file into the model: YAML within limits, then each value checked
against its field's type and range, every error naming the key
(``crawl.download_delay: expected a value from 0 to 3600, got -1``).

A config file is a regular UTF-8 file of at most 1 MiB; YAML nested more than 50 levels
deep, or whose aliases expand to more than 100,000 values (an "alias bomb"), is refused.
"""

from __future__ import annotations

import dataclasses
import math
import stat
import types
import typing
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


def show(value: Any, limit: int = 80) -> str:
    """A value as an error shows it: its repr, cut (an error never echoes a whole value)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


MAX_CONFIG_BYTES = 1024 * 1024
MAX_YAML_VALUES = 100_000  # values after aliases are expanded
MAX_YAML_DEPTH = 50


def _check_yaml_size(node: yaml.Node, file: Path) -> None:
    """Refuse a document whose aliases expand beyond a sane size or depth (an alias bomb)."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node, depth: int) -> int:
        if depth > MAX_YAML_DEPTH:
            raise ConfigError(f"{file}: nested more than {MAX_YAML_DEPTH} levels deep")
        if id(n) in sizes:
            return sizes[id(n)]
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(c, depth + 1) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in n.value)
        if total > MAX_YAML_VALUES:
            raise ConfigError(f"{file}: its aliases expand to more than {MAX_YAML_VALUES:,} values")
        sizes[id(n)] = total
        return total

    size(node, 0)


def read_yaml(file: Path) -> Any:
    """The document in ``file`` (``{}`` when empty); ConfigError when it cannot be read or is too big."""
    try:
        st = file.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{file}: not a regular file")
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{file}: {st.st_size:,} bytes; a config file is at most {MAX_CONFIG_BYTES:,}")
        text = file.read_bytes()[: MAX_CONFIG_BYTES + 1].decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: the config file is not UTF-8 text") from None
    loader = yaml.SafeLoader(text)
    try:  # composed once: its size is checked before anything is built from it
        node = loader.get_single_node()
        if node is None:
            return {}
        _check_yaml_size(node, file)
        return loader.construct_document(node) or {}
    except RecursionError:
        raise ConfigError(f"{file}: nested too deeply") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {str(exc)[:300]}") from None
    finally:
        loader.dispose()


RULES: dict[str, tuple[float | None, float | None]] = {
    "crawl.backfill_pages": (1, 10_000),
    "crawl.revisit_after_hours": (0, None),
    "crawl.revisit_max_age_days": (0, None),
    "crawl.download_delay": (0, 3600),
    "crawl.timeout": (1, 3600),
    "crawl.retries": (0, 20),
    "crawl.max_retry_delay": (0, 86_400),
    "crawl.max_response_bytes": (1024, 1 << 31),
    "crawl.source_recheck_hours": (0, 24 * 365),
    "crawl.rest_per_page": (1, 100),
    "replay.max_dump_bytes": (1024, 1 << 31),
    "crawl.robots_cache_hours": (0, 24),
    "feed.items": (1, 1000),
    "smtp.port": (1, 65535),
    "smtp.timeout": (1, 600),
    "digest.max_items": (1, 10_000),
    "digest.retry_minutes": (0, 1440),
    "digest.retry_max_minutes": (1, 10_080),
    "digest.retention_days": (0, 36_500),
    "service.port": (0, 65535),
    "service.crawl_every_minutes": (0.05, 100_000),
    "service.crawl_jitter_seconds": (0, 86_400),
    "service.crawl_timeout_minutes": (0.1, 1440),
    "service.digest_check_seconds": (1, 86_400),
    "service.misfire_grace_seconds": (1, 10**7),
    "service.health_max_age_minutes": (1, 10**6),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "smtp.security": ("plain", "starttls", "tls"),
    "service.mode": ("live", "replay"),
    "crawl.source": ("auto", "rest", "feed", "html"),
}


def coerce(key: str, value: Any, kind: Any) -> Any:
    """``value`` as the type ``kind`` of the field at ``key``, within its RULES and CHOICES."""
    origin = typing.get_origin(kind)
    if origin is list:
        (inner,) = typing.get_args(kind)
        if dataclasses.is_dataclass(inner):
            if not isinstance(value, list):
                raise ConfigError(f"{key}: expected a list of mappings, got {show(value)}")
            out = []
            for i, v in enumerate(value):
                if not isinstance(v, dict):
                    raise ConfigError(f"{key}[{i}]: expected a mapping of settings, got {show(v)}")
                obj = inner()  # type: ignore[operator]
                merge(obj, v, f"{key}[{i}].")
                out.append(obj)
            return out
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {show(value)}")
        return [coerce(f"{key}[{i}]", v, inner) for i, v in enumerate(value)]
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {show(value)}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {show(value)}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{key}: expected a number, got {show(value)}")
        value = float(value)
    elif kind is str:
        if key.endswith(".at") and isinstance(value, int) and not isinstance(value, bool):
            raise ConfigError(f'{key}: write the time in quotes, like "07:30" (YAML reads 7:30 as a number)')
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected text, got {show(value)}")
        value = str(value)
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{key}: expected one of {', '.join(CHOICES[key])}, got {show(value)}")
    if key in RULES:
        lo, hi = RULES[key]
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            span = f"from {lo} to {hi}" if hi is not None else f"≥ {lo}"
            raise ConfigError(f"{key}: expected a value {span}, got {show(value)}")
    return value


def merge(obj: Any, data: dict[str, Any], prefix: str) -> None:
    """Set the fields of the dataclass ``obj`` from ``data`` (nested sections and lists of
    them too); ``prefix`` names where ``data`` is (``"digest."``). A field whose metadata
    says ``key=False`` is not a key."""
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj) if f.metadata.get("key", True)}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"{full}: unknown key (known: {', '.join(sorted(names))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{full}: expected a mapping of settings, got {show(value)}")
            merge(current, value, f"{full}.")
        else:
            kind = hints[key]
            if isinstance(kind, types.UnionType):
                kind = next(a for a in typing.get_args(kind) if a is not type(None))
            setattr(obj, key, coerce(full, value, kind))
