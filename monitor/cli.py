"""The ``icesco-monitor`` command: a thin layer over the crawler and the archive.

This module is the group (its shared options, logging, the terminal-safe output, the last net
for database errors) and the entry point ``main``; the commands live by family in
``cli_crawl`` (crawl), ``cli_inspect`` (articles, status), ``cli_publish`` (feed, digest),
``cli_serve`` (serve) and ``cli_subscribers`` (subscribers), and are registered here.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from typing import Any

import click

from monitor.archive import ArchiveError
from monitor.cli_common import fail
from monitor.cli_crawl import crawl
from monitor.cli_inspect import articles, status
from monitor.cli_publish import digest, feed
from monitor.cli_serve import serve
from monitor.cli_subscribers import subscribers
from monitor.config import ConfigError, load_config

log = logging.getLogger(__name__)


class _LogFilter(logging.Filter):
    """Our own loggers at the chosen level; libraries (Scrapy, Twisted) at WARNING."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name.split(".")[0] in ("crawler", "monitor", "feeds")
        return record.levelno >= (self.level if ours else max(self.level, logging.WARNING))


_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """Text with control characters shown as escapes: a title or file name never sends
    escape sequences or bidi overrides to a terminal. (In JSON output the escapes are
    JSON escapes of the same characters.)"""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


class _SafeStream(io.TextIOBase):
    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(terminal_safe(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return bool(self.stream.isatty())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.stream, "encoding", "utf-8"))


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose >= 0 else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(_LogFilter(level))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)  # no records below it are even made (Scrapy logs every item at DEBUG)


class _Group(click.Group):
    """The command group, with one last net: a database error in the middle of a command
    (the disk filled up, the file went read-only) is one line naming the database."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ArchiveError as exc:
            log.debug("database error", exc_info=True)
            fail(str(exc))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Config file (default: ./config.yaml if present)."
)
@click.option(
    "--db", "db_path", type=click.Path(dir_okay=False), help="SQLite archive (overrides the config's 'database')."
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, db_path: str | None, verbose: int, quiet: bool) -> None:
    """Follow ICESCO's news article by article: crawl, archive, publish."""
    if not isinstance(sys.stdout, _SafeStream):
        sys.stdout, sys.stderr = _SafeStream(sys.stdout), _SafeStream(sys.stderr)  # type: ignore[assignment]
    _setup_logging(-1 if quiet else verbose)
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        fail(f"bad configuration: {exc}", 2)
    if db_path:
        cfg.database = db_path
    ctx.obj = cfg


for command in (crawl, articles, status, feed, digest, serve, subscribers):
    main.add_command(command)

if __name__ == "__main__":
    main()
