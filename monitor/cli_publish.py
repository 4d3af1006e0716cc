"""``icesco-monitor feed`` and ``digest``: publish the archive (feed files, e-mail digests) once.

The service (``monitor/service.py``) does the same on its schedule.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from monitor.cli_common import fail, open_archive
from monitor.config import Config
from monitor.locks import LockError, LockFileError, file_lock, lock_path


def _now(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--now: expected an ISO 8601 time like 2026-11-21T07:00:00Z, got {value!r}", 2)
    if parsed.tzinfo is None:
        fail("--now: give a time zone (e.g. Z)", 2)
    return parsed


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Folder for feed.xml, atom.xml and feed.json, and LANG/ for each language's (default: feed.out_dir, else .).",
)
@click.pass_obj
def feed(cfg: Config, out_dir: str | None) -> None:
    """Write the feeds (RSS, Atom, JSON Feed; combined and per language) as files (atomically)."""
    from monitor.web import write_feed_files

    out = Path(out_dir or cfg.feed.out_dir or ".")
    with open_archive(cfg) as archive:
        count = len(archive.articles(limit=cfg.feed.items))
        try:
            paths = write_feed_files(out, archive, cfg.feed)
        except OSError as exc:
            fail(f"cannot write the feeds to {out}: {exc.strerror}")
    click.echo(f"{count} articles: " + " ".join(map(str, paths)))


@click.command()
@click.option("--dry-run", is_flag=True, help="Write the .eml files that would be sent to the outbox; record nothing.")
@click.option("--outbox", type=click.Path(file_okay=False), help="Deliver to this folder instead of SMTP.")
@click.option("--now", "now_text", hidden=True, help="Pretend it is this time (ISO 8601, with a zone).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def digest(cfg: Config, dry_run: bool, outbox: str | None, now_text: str | None, as_json: bool) -> None:
    """Send the digests that are due (and retry those that failed for now)."""
    from feeds.delivery import run_digests
    from feeds.digests import TemplateProblem
    from monitor.links import unsubscribe_links

    now = _now(now_text)
    try:
        with file_lock(lock_path(cfg.database, "digest"), "a digest run"), open_archive(cfg) as archive:
            report = run_digests(
                cfg,
                archive,
                now,
                dry_run=dry_run,
                outbox=Path(outbox) if outbox else None,
                unsubscribe_link=unsubscribe_links(cfg, now),
            )
    except LockError as exc:
        fail(f"{exc}; not starting a second one", 3)
    except (LockFileError, TemplateProblem) as exc:
        fail(str(exc))
    result = {
        "subscribed": report.subscribed,
        "sent": report.sent,
        "retrying": report.retrying,
        "failed": report.failed,
        "written": [str(p) for p in report.written],
        "messages": report.messages,
        "dry_run": dry_run,
    }
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        verb = "would send" if dry_run else "sent"
        click.echo(
            f"digests {verb}: {len(report.written) if dry_run else report.sent}, retrying: {report.retrying},"
            f" failed: {report.failed}, new subscribers recorded: {len(report.subscribed)}"
        )
        for path in report.written:
            click.echo(f"  {path}")
        for message in report.messages:
            click.echo(f"  {message}")
    if report.failed:
        sys.exit(1)
