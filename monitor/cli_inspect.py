"""``icesco-monitor articles`` and ``status``: read the archive (nothing is written)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from feeds.entries import local_date
from monitor.archive import Archive
from monitor.cli_common import fail, open_archive, sources_summary
from monitor.config import Config


def _parse_since(value: str | None) -> str | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--since: expected a date like 2025-10-30, got {value!r}", 2)
    if len(value) == 10:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat(timespec="seconds")


@click.command()
@click.option("--search", "-s", help="Full-text search in titles and bodies.")
@click.option("--since", help="Only articles published (or first seen) on or after this date.")
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, with the body.")
@click.pass_obj
def articles(cfg: Config, search: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """List stored articles, newest first."""
    with open_archive(cfg) as archive:
        rows = archive.articles(search=search, since=_parse_since(since), limit=limit)
    for row in rows:
        if as_json:
            click.echo(json.dumps(dataclasses.asdict(row), ensure_ascii=False))
        else:
            date = local_date(row.published_at, cfg.site.timezone) or "no date"
            rev = f"  (rev {row.revision})" if row.revision else ""
            click.echo(f"{date}  {row.id}  {row.title}{rev}")
            if row.url:
                click.echo(f"{'':12}{row.url}")
    if not as_json:
        click.echo(f"{len(rows)} article(s)", err=True)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(cfg: Config, as_json: bool) -> None:
    """Database path, counts and the last runs."""
    with open_archive(cfg) as archive:
        info = _status(cfg, archive)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
    else:
        _print_status(info)


def _status(cfg: Config, archive: Archive) -> dict[str, Any]:
    return {
        "database": str(Path(cfg.database).resolve()),
        "config": cfg.source,
        "articles": archive.count(),
        "revisions": archive.revision_count(),
        "runs": [dataclasses.asdict(r) for r in archive.last_runs(10)],
        "digests": archive.delivery_counts(),
        "failed_digests": [
            {
                "address": d.address,
                "digest_key": d.digest_key,
                "message_id": d.message_id,
                "attempts": d.attempts,
                "last_error": d.last_error,
            }
            for d in archive.deliveries("failed")[-10:]
        ],
        "subscribers": [s.address for s in cfg.subscribers],
        "sources": sources_summary(archive),
        "alarms": list(last.alarms) if (last := archive.last_finished_crawl()) else [],
    }


def _print_status(info: dict[str, Any]) -> None:
    click.echo(f"database:  {info['database']}\nconfig:    {info['config']}")
    click.echo(f"articles:  {info['articles']}\nrevisions: {info['revisions']}")
    click.echo("last runs:")
    for r in info["runs"]:
        click.echo(
            f"  #{r['id']} {r['started_at']} {r['mode']:6} {r['status']:7} {r['new']} new, {r['updated']} updated,"
            f" {r['unchanged']} unchanged, {r['errors']} errors, {r['pages_fetched']} pages"
        )
    if not info["runs"]:
        click.echo("  (none yet: run 'icesco-monitor crawl')")
    if info["sources"]:
        click.echo("sources:")
    for src in info["sources"]:
        why = f" ({src['last_error']})" if src["last_error"] else ""
        click.echo(f"  {src['start_url']}: {src['mode'] or 'not chosen yet'}, chosen {src['checked_at'] or '-'}{why}")
    for alarm in info["alarms"]:
        click.echo(f"  ALARM (last crawl): {alarm}")
    digests = info["digests"]
    click.echo(
        f"digests:   {digests.get('sent', 0)} sent, {digests.get('retry', 0) + digests.get('sending', 0)} waiting,"
        f" {digests.get('failed', 0)} failed; subscribers: {', '.join(info['subscribers']) or 'none'}"
    )
    for d in info["failed_digests"]:
        click.echo(f"  failed: {d['address']} {d['digest_key']} after {d['attempts']} attempt(s): {d['last_error']}")
