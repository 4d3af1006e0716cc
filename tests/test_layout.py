"""The layout tells the truth: ``crawler/`` turns the web and dumps into articles and
imports nothing of ``monitor/`` or ``feeds/`` (its state comes through
``crawler.state.CrawlState``, which the archive implements)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_crawler_imports_nothing_of_the_other_packages() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(imports(p) & {"monitor", "feeds"})
        for p in sorted((ROOT / "crawler").glob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_archive_implements_the_crawl_state() -> None:
    from crawler.state import CrawlState
    from monitor.archive import Archive

    wanted = {name for name in dir(CrawlState) if not name.startswith("_")}
    assert sorted(name for name in wanted if not callable(getattr(Archive, name, None))) == []


def test_every_test_module_declares_one_kind() -> None:
    """Each ``tests/test_*.py`` sets ``pytestmark`` to one kind registered in pyproject.toml,
    so that ``pytest -m unit`` (``integration``, ``faults``) selects by kind."""
    import tomllib

    registered = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    kinds = sorted(marker.split(":")[0] for marker in registered["markers"])
    assert kinds == ["faults", "integration", "unit"]
    declared = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        declared[path.name] = [
            ast.unparse(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["pytestmark"]
        ]
    allowed = [[f"pytest.mark.{kind}"] for kind in kinds]
    assert {name: marks for name, marks in declared.items() if marks not in allowed} == {}
