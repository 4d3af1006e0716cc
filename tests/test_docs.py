"""The documentation keeps up with the code (in the habit of sqlite-utils' ``test_docs.py``).

Every config key (found by walking the dataclasses of ``monitor.config.Config`` at run time, so
a new key is caught without touching this file) is in README.md's configuration table and in
the shipped ``config.yaml`` with its default value; every command and option of the CLI is in
README.md's command reference.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from monitor.cli import main
from monitor.config import Config, load_config

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHIPPED = ROOT / "config.yaml"

# Fields of the dataclasses that are not keys of a config file (``_merge`` refuses them).
NOT_KEYS = {"source"}  # Config.source: where the values came from, for messages


# --- the config keys, from the dataclasses ---------------------------------------------------


def _item_class(kind: Any) -> type | None:
    """The dataclass of the items of a ``list[SomeDataclass]`` field, else None."""
    if typing.get_origin(kind) is list:
        (inner,) = typing.get_args(kind)
        if dataclasses.is_dataclass(inner):
            return typing.cast(type, inner)
    return None


def _walk(cls: type, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, field type) of every key below ``cls``; sections are walked, not listed;
    the keys of a list of mappings (``subscribers``) are listed as ``subscribers`` and, for
    their items, ``subscribers[].address``."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if cls is Config and f.name in NOT_KEYS:
            continue
        kind = hints[f.name]
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(kind):
            yield from _walk(typing.cast(type, kind), f"{key}.")
            continue
        yield key, kind
        item = _item_class(kind)
        if item is not None:
            yield from _walk(item, f"{key}[].")


def config_keys() -> list[str]:
    return [key for key, _kind in _walk(Config)]


def section_keys() -> list[str]:
    """Keys whose values are lists of mappings (``subscribers``)."""
    return [key for key, kind in _walk(Config) if _item_class(kind) is not None]


def _lookup(data: Any, key: str) -> Any:
    """The value at a dotted key of a parsed mapping or of a Config; KeyError if absent."""
    for part in key.split("."):
        if isinstance(data, dict):
            data = data[part]
        elif dataclasses.is_dataclass(data):
            data = getattr(data, part)
        else:
            raise KeyError(key)
    return data


def test_the_walk_finds_the_keys() -> None:
    keys = config_keys()
    for key in (
        "database",
        "site.timezone",
        "crawl.download_delay",
        "subscribers",
        "subscribers[].address",
        "service.port",
    ):
        assert key in keys
    assert "source" not in keys and len(keys) == len(set(keys))


# --- README.md ---------------------------------------------------------------------------------


def readme_section(title: str) -> str:
    """The text of README.md's ``## title`` section, up to the next ``## `` heading."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def table_rows(section: str) -> list[list[str]]:
    """The cells of the rows of the Markdown tables in a section (header and rule left out)."""
    rows = []
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in ("key", "command") or set(cells[0]) <= set("-: "):
            continue
        rows.append(cells)
    return rows


def documented_config_keys() -> set[str]:
    """Keys in the first column of the configuration table (```a.b`, `a.c``), and the item
    keys of a list-of-mappings key listed in its row as ``{address, cadence, …}``."""
    keys: set[str] = set()
    lists = set(section_keys())
    for cells in table_rows(readme_section("Configuration")):
        names = re.findall(r"`([^`]+)`", cells[0])
        keys.update(names)
        for name in names:
            if name in lists:
                for group in re.findall(r"\{([^{}]*)\}", " | ".join(cells[1:])):
                    keys.update(f"{name}[].{k.strip(' `')}" for k in group.split(","))
    return keys


def test_every_config_key_is_in_the_readme_table() -> None:
    documented = documented_config_keys()
    missing = [k for k in config_keys() if k not in documented]
    assert not missing, f"config keys missing from README.md's Configuration table: {', '.join(missing)}"


def test_the_readme_table_documents_no_unknown_key() -> None:
    unknown = sorted(documented_config_keys() - set(config_keys()))
    assert not unknown, f"README.md's Configuration table documents keys the code does not have: {', '.join(unknown)}"


def _option_names(param: click.Parameter) -> list[str]:
    return [*param.opts, *param.secondary_opts]


def _documented(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def _options(command: click.Command) -> list[str]:
    return [name for p in command.params if isinstance(p, click.Option) and not p.hidden for name in _option_names(p)]


def test_every_command_and_option_is_in_the_command_reference() -> None:
    section = readme_section("Command reference")
    rows = table_rows(section)
    missing: list[str] = []
    # The group's own options are in the synopsis, above the table.
    synopsis = re.split(r"^\|", section, maxsplit=1, flags=re.M)[0]
    help_names = set(main.context_settings.get("help_option_names", ["--help"]))
    missing += [f"icesco-monitor {o}" for o in _options(main) if o not in help_names and not _documented(o, synopsis)]
    for name, command in sorted(main.commands.items()):
        if command.hidden:
            continue
        # The command's rows: their first cell starts with the command's name.
        mine = " ".join(" | ".join(cells) for cells in rows if re.match(rf"`{re.escape(name)}(?![\w-])", cells[0]))
        if not mine:
            missing.append(f"command {name}")
            continue
        missing += [f"{name} {o}" for o in _options(command) if o not in help_names and not _documented(o, mine)]
    assert not missing, f"missing from README.md's Command reference: {', '.join(missing)}"


# --- the shipped config.yaml -------------------------------------------------------------------


@pytest.fixture(scope="module")
def defaults(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """load_config(None) where there is no ./config.yaml: the defaults, checked as at start."""
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("no-config"))
    try:
        return load_config(None)
    finally:
        os.chdir(here)


def shipped_yaml() -> dict[str, Any]:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_shipped_config_loads() -> None:
    assert load_config(SHIPPED).source == str(SHIPPED)


def test_the_shipped_config_lists_every_key() -> None:
    data = shipped_yaml()
    missing = []
    for key in config_keys():
        if "[]" in key:
            continue  # an item key: see the commented example below
        try:
            _lookup(data, key)
        except KeyError:
            missing.append(key)
    assert not missing, f"keys missing from the shipped config.yaml: {', '.join(missing)}"


def _same(loaded: Any, default: Any) -> bool:
    """Equal, or (a path the config file made absolute) equal to the default taken relative
    to the config file's folder, which is what it means when run from there."""
    if isinstance(loaded, list) and isinstance(default, list):
        return len(loaded) == len(default) and all(_same(a, b) for a, b in zip(loaded, default, strict=True))
    if loaded == default:
        return True
    if isinstance(loaded, str) and isinstance(default, str) and default and Path(loaded).is_absolute():
        return Path(loaded).resolve() == (SHIPPED.parent / default).resolve()
    return False


def test_the_shipped_config_shows_the_defaults(defaults: Config) -> None:
    shipped = load_config(SHIPPED)
    data = shipped_yaml()
    differ = []
    for key in config_keys():
        if "[]" in key:
            continue
        loaded, default = _lookup(shipped, key), _lookup(defaults, key)
        if not _same(loaded, default):
            differ.append(f"{key}: {_lookup(data, key)!r} in config.yaml, {default!r} in the defaults")
    assert not differ, "the shipped config.yaml differs from the defaults:\n" + "\n".join(differ)


def commented_example(key: str) -> Any:
    """The commented-out example under ``key:`` in config.yaml, parsed: the comment lines
    that follow it, up to the next top-level key, with their ``# `` taken off."""
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(key)}:", line)), None)
    assert start is not None, f"config.yaml has no top-level {key}: key"
    example = []
    for line in lines[start + 1 :]:
        if line and not line.startswith((" ", "#")):
            break
        stripped = line.strip()
        if stripped.startswith("# ") or stripped == "#":
            example.append(stripped[2:])
    return yaml.safe_load("\n".join(example)) if example else None


def test_the_shipped_config_has_an_example_of_each_list_item() -> None:
    for key in section_keys():
        example = commented_example(key)
        assert isinstance(example, list) and example and isinstance(example[0], dict), (
            f"config.yaml: no commented example under {key}: (an uncommented YAML list of mappings)"
        )
        item_keys = {k[len(key) + 3 :] for k in config_keys() if k.startswith(f"{key}[].")}
        missing = sorted(item_keys - set(example[0]))
        assert not missing, f"config.yaml: the example of {key} lacks: {', '.join(missing)}"
        # The example is valid as it stands, once uncommented.
        assert len(_lookup(load_config(SHIPPED, overrides={key: example}), key)) == len(example)
