"""The layout tells the truth (ARCHITECTURE.md).

- ``crawler/`` turns the web and dumps into articles and imports nothing of ``monitor/`` or
  ``feeds/`` (its state comes through ``crawler.state.CrawlState``, which the archive
  implements).
- ``feeds/`` is everything published to readers and imports nothing of ``crawler/`` or
  ``monitor/``; it is given rows (``feeds.rows``) and settings (``feeds.settings``), and
  reaches the archive through ``feeds.ledger.DigestLedger``.
- Each concept has one home: one Jinja environment, one atomic writer, one place for the
  defaults of the published side.
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

from crawler.site import ICESCO
from feeds.settings import SiteSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names, in any block, type-checking ones too)."""
    found: set[str] = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_crawler_imports_nothing_of_the_other_packages() -> None:
    offenders = {name(p): sorted(top_level(imported(p)) & {"monitor", "feeds"}) for p in modules("crawler")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_feeds_imports_nothing_of_the_crawler() -> None:
    offenders = {name(p): sorted(top_level(imported(p)) & {"crawler"}) for p in modules("feeds")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_feeds_imports_nothing_of_monitor() -> None:
    """Rows and settings are passed in: the rows the archive gives it are feeds.rows (the
    archive implements feeds/'s interface, as it does the crawler's)."""
    offenders = {name(p): sorted(top_level(imported(p)) & {"monitor"}) for p in modules("feeds")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_archive_implements_the_crawl_state() -> None:
    from crawler.state import CrawlState
    from monitor.archive import Archive

    wanted = {name for name in dir(CrawlState) if not name.startswith("_")}
    assert sorted(name for name in wanted if not callable(getattr(Archive, name, None))) == []


def test_the_archive_implements_the_digest_ledger() -> None:
    from feeds.ledger import DigestLedger
    from monitor.archive import Archive

    wanted = {name for name in dir(DigestLedger) if not name.startswith("_")}
    assert sorted(wanted) == [
        "create_delivery",
        "delivery_failed",
        "delivery_sent",
        "edited",
        "forget_subscribers_except",
        "last_revision",
        "last_seq",
        "mark_due_done",
        "open_deliveries",
        "opted_out",
        "prune_messages",
        "readers",
        "subscribe",
        "subscriptions",
        "undelivered",
    ]
    assert sorted(name for name in wanted if not callable(getattr(Archive, name, None))) == []


def test_the_config_is_what_the_published_side_reads() -> None:
    """``monitor.config.Config`` has each section of ``feeds.settings.PublishConfig``, of the
    very class feeds/ uses (one class per concept, no copies to map between)."""
    from feeds.settings import PublishConfig
    from monitor.config import Config

    wanted = typing.get_type_hints(PublishConfig)
    have = typing.get_type_hints(Config)
    assert sorted(wanted) == ["digest", "feed", "site", "smtp", "subscribers"]
    assert {key: have.get(key) for key in wanted} == wanted


def calls(path: Path) -> set[str]:
    """The dotted names of what ``path`` calls (``os.replace``, ``SandboxedEnvironment``)."""
    found = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Call):
            func, parts = node.func, []
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                parts.append(func.id)
            found.add(".".join(reversed(parts)))
    return found


def everywhere() -> list[Path]:
    return [p for package in ("crawler", "monitor", "feeds") for p in modules(package)]


def test_one_jinja_environment() -> None:
    makers = {
        name(p): sorted(c for c in calls(p) if c.split(".")[-1] in ("Environment", "SandboxedEnvironment"))
        for p in everywhere()
    }
    assert {k: v for k, v in makers.items() if v} == {"feeds/templating.py": ["SandboxedEnvironment"]}


def test_one_atomic_writer() -> None:
    renames = {"os.replace", "os.rename", "shutil.move", "tempfile.mkstemp", "tempfile.NamedTemporaryFile"}
    writers = {name(p): sorted(calls(p) & renames) for p in everywhere()}
    assert {k: v for k, v in writers.items() if v} == {"feeds/files.py": ["os.replace", "tempfile.mkstemp"]}


def test_the_published_sides_defaults_are_written_once() -> None:
    """The default base URL, sender, feed title and site time zone: in feeds/settings.py only."""
    defaults = [
        '"http://127.0.0.1:8080/"',
        '"icesco-monitor <icesco-monitor@localhost>"',
        '"ICESCO news (icesco-monitor)"',
        '"Africa/Casablanca"',
    ]
    homes = {d: sorted(name(p) for p in everywhere() if d in p.read_text(encoding="utf-8")) for d in defaults}
    # The time zone is also the ICESCO profile's (crawler/ and feeds/ do not import each other);
    # the two must agree, and nowhere else may write it.
    assert homes == {d: ["feeds/settings.py"] for d in defaults} | {
        '"Africa/Casablanca"': ["crawler/site.py", "feeds/settings.py"]
    }
    assert SiteSettings().timezone == ICESCO.timezone
    assert SiteSettings().profile == ICESCO.name


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
