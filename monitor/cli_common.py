"""What every ``icesco-monitor`` command shares: the one-line failure and opening the archive.

The commands live in ``monitor/cli_*.py`` by family and are registered on the group in
``monitor/cli.py``; a named exception inside becomes one line ``icesco-monitor: ...`` on
stderr and an exit code here (1: failed, 2: bad input or configuration, 3: already running).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from monitor.archive import Archive, ArchiveError
from monitor.config import Config


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, then exit with ``code``."""
    click.echo(f"icesco-monitor: {message}", err=True)
    sys.exit(code)


def open_archive(cfg: Config) -> Archive:
    """The configured archive; an unusable database is one line and exit 1."""
    try:
        return Archive(cfg.database)
    except ArchiveError as exc:
        fail(str(exc))


def sources_summary(archive: Archive) -> list[dict[str, Any]]:
    """Per start URL: the source in use, when it was chosen, the REST cursor, why not better."""
    return [
        {
            "start_url": s.start_url,
            "mode": s.mode,
            "checked_at": s.checked_at,
            "cursor": s.cursor,
            "last_error": s.last_error,
        }
        for s in archive.sources()
    ]
