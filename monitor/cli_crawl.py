"""``icesco-monitor crawl``: one pass of the crawler (live or replayed dumps) into the archive.

The command checks its input, runs the crawl under the database's crawl lock, reads the run
back from the archive and prints its summary (a line, or one JSON object); it exits 1 when the
run failed, could not be recorded, or a start URL yielded nothing readable.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from monitor.cli_common import fail, open_archive, sources_summary
from monitor.config import Config
from monitor.config_checks import url_problem
from monitor.locks import LockError, LockFileError, file_lock, lock_path


@click.command()
@click.option(
    "--replay",
    is_flag=True,
    help="Replay text dumps instead of fetching (default paths: the config's replay.paths, the bundled dumps).",
)
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--start-url",
    "start_urls",
    multiple=True,
    help="Listing URL to start from instead of the configured ones; its host is allowed.",
)
@click.option(
    "--full", is_flag=True, help="Walk every listing page (default: stop at the first page with nothing new)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_obj
def crawl(
    cfg: Config, replay: bool, paths: tuple[str, ...], start_urls: tuple[str, ...], full: bool, as_json: bool
) -> None:
    """One pass: fetch new articles (or replay dumps) into the archive."""
    replay = replay or bool(paths)
    replay_paths = list(paths) or (cfg.replay.paths if replay else [])
    _check_input(cfg, replay, replay_paths, start_urls)
    started = time.monotonic()
    run_id, errors, outcome = _run_locked(cfg, replay, replay_paths, start_urls, full)
    summary, unrecorded = _summary(cfg, run_id, errors, outcome, time.monotonic() - started)
    _print(summary, as_json)
    if unrecorded:
        click.echo("icesco-monitor: the run could not be recorded as finished; see the errors above", err=True)
        sys.exit(1)
    if summary["status"] == "failed" or outcome.get("unreadable"):
        sys.exit(1)  # a start URL that yielded nothing readable must never look like "no news today"


def _check_input(cfg: Config, replay: bool, replay_paths: list[str], start_urls: tuple[str, ...]) -> None:
    """Exit 2 on a missing dump or a bad start URL, 1 on an unusable database."""
    if replay:
        missing = [p for p in replay_paths if not Path(p).exists()]
        if missing:
            fail(f"no such file or folder: {', '.join(missing)}", 2)
    for url in start_urls:
        problem = url_problem(url)
        if problem:
            fail(f"--start-url: {problem}", 2)
    open_archive(cfg).close()  # fail early, with a clear message, on an unusable database


def _run_locked(
    cfg: Config, replay: bool, replay_paths: list[str], start_urls: tuple[str, ...], full: bool
) -> tuple[int, list[str], dict[str, Any]]:
    """The crawl under the database's crawl lock: exit 3 if one is running already."""
    from monitor.crawl import run_crawl

    try:
        with file_lock(lock_path(cfg.database, "crawl"), f"a crawl of {cfg.database}"):
            return run_crawl(
                cfg,
                mode="replay" if replay else "live",
                paths=replay_paths,
                start_urls=list(start_urls) or None,
                full=full,
            )
    except LockError as exc:
        fail(f"{exc}; not starting a second one", 3)
    except LockFileError as exc:
        fail(str(exc))


def _summary(
    cfg: Config, run_id: int, errors: list[str], outcome: dict[str, Any], seconds: float
) -> tuple[dict[str, Any], bool]:
    """The run as recorded, and False; if its end could not be recorded: as the crawl reported
    it, failed, and True. Exit 1 if the crawl did not start."""
    with open_archive(cfg) as archive:
        run = archive.run(run_id) if run_id else None
        total = archive.count()
        sources = sources_summary(archive)
    if run is None:
        fail("the crawl did not start: " + ("; ".join(errors) or "see the log above"))
    summary: dict[str, Any] = {
        "run": run_id,
        "mode": run.mode,
        "status": run.status,
        "new": run.new,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "errors": run.errors,
        "pages_fetched": run.pages_fetched,
        "articles_total": total,
        "seconds": round(seconds, 2),
        "database": str(Path(cfg.database).resolve()),
        "messages": list(run.messages),
        "alarms": list(run.alarms),
        "sources": sources,
    }
    unrecorded = run.status == "running"  # the end of the run could not be written (disk full…)
    if unrecorded:
        summary.update({k: v for k, v in outcome.items() if k in summary})
        summary["status"] = "failed"
        if not summary["messages"]:
            summary["messages"] = errors or [f"database {cfg.database}: the end of run {run_id} could not be recorded"]
    return summary, unrecorded


def _print(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    click.echo(
        f"{summary['mode']} run {summary['run']}: {summary['new']} new, {summary['updated']} updated,"
        f" {summary['unchanged']} unchanged, {summary['errors']} errors"
        f" ({summary['pages_fetched']} pages, {summary['seconds']}s);"
        f" {summary['articles_total']} articles in {summary['database']}"
    )
    for message in summary["messages"]:
        click.echo(f"  error: {message}")
    if summary["alarms"]:
        click.echo(
            f"  DEGRADED: {len(summary['alarms'])} thing(s) could not be read (see above):"
            " has the site's layout changed?"
        )
