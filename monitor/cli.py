"""The ``icesco-monitor`` command: a thin layer over the crawler and the archive."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

import click

from feeds.render import local_date
from monitor.archive import Archive, ArchiveError
from monitor.cli_subscribers import subscribers
from monitor.config import Config, ConfigError, load_config
from monitor.config_checks import url_problem
from monitor.locks import LockError, LockFileError, file_lock, lock_path

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


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"icesco-monitor: {message}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """The command group, with one last net: a database error in the middle of a command
    (the disk filled up, the file went read-only) is one line naming the database."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ArchiveError as exc:
            log.debug("database error", exc_info=True)
            _fail(str(exc))


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
        _fail(f"bad configuration: {exc}", 2)
    if db_path:
        cfg.database = db_path
    ctx.obj = cfg


def _open(cfg: Config) -> Archive:
    try:
        return Archive(cfg.database)
    except ArchiveError as exc:
        _fail(str(exc))
        raise  # unreachable


@main.command()
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
    from monitor.crawl import run_crawl

    if paths and not replay:
        replay = True
    replay_paths = list(paths) or (cfg.replay.paths if replay else [])
    if replay:
        missing = [p for p in replay_paths if not Path(p).exists()]
        if missing:
            _fail(f"no such file or folder: {', '.join(missing)}", 2)
    for url in start_urls:
        problem = url_problem(url)
        if problem:
            _fail(f"--start-url: {problem}", 2)
    _open(cfg).close()  # fail early, with a clear message, on an unusable database
    started = time.monotonic()
    try:
        with file_lock(lock_path(cfg.database, "crawl"), f"a crawl of {cfg.database}"):
            run_id, errors, outcome = run_crawl(
                cfg,
                mode="replay" if replay else "live",
                paths=replay_paths,
                start_urls=list(start_urls) or None,
                full=full,
            )
    except LockError as exc:
        _fail(f"{exc}; not starting a second one", 3)
    except LockFileError as exc:
        _fail(str(exc))
    with _open(cfg) as archive:
        run = archive.run(run_id) if run_id else None
        total = archive.count()
        sources = _sources_summary(archive)
    if run is None:
        _fail("the crawl did not start: " + ("; ".join(errors) or "see the log above"))
        return
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
        "seconds": round(time.monotonic() - started, 2),
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
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        click.echo(
            f"{summary['mode']} run {run_id}: {summary['new']} new, {summary['updated']} updated,"
            f" {summary['unchanged']} unchanged, {summary['errors']} errors"
            f" ({summary['pages_fetched']} pages, {summary['seconds']}s); {total} articles in {summary['database']}"
        )
        for message in summary["messages"]:
            click.echo(f"  error: {message}")
        if summary["alarms"]:
            click.echo(
                f"  DEGRADED: {len(summary['alarms'])} thing(s) could not be read (see above):"
                " has the site's layout changed?"
            )
    if unrecorded:
        click.echo("icesco-monitor: the run could not be recorded as finished; see the errors above", err=True)
        sys.exit(1)
    if summary["status"] == "failed" or outcome.get("unreadable"):
        sys.exit(1)  # a start URL that yielded nothing readable must never look like "no news today"


def _sources_summary(archive: Archive) -> list[dict[str, Any]]:
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


def _parse_since(value: str | None) -> str | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--since: expected a date like 2025-10-30, got {value!r}", 2)
    if len(value) == 10:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat(timespec="seconds")


@main.command()
@click.option("--search", "-s", help="Full-text search in titles and bodies.")
@click.option("--since", help="Only articles published (or first seen) on or after this date.")
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, with the body.")
@click.pass_obj
def articles(cfg: Config, search: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """List stored articles, newest first."""
    with _open(cfg) as archive:
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


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(cfg: Config, as_json: bool) -> None:
    """Database path, counts and the last runs."""
    with _open(cfg) as archive:
        info: dict[str, Any] = {
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
            "sources": _sources_summary(archive),
            "alarms": list(last.alarms) if (last := archive.last_finished_crawl()) else [],
        }
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
        return
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


def _now(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--now: expected an ISO 8601 time like 2026-11-21T07:00:00Z, got {value!r}", 2)
    if parsed.tzinfo is None:
        _fail("--now: give a time zone (e.g. Z)", 2)
    return parsed


@main.command()
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
    with _open(cfg) as archive:
        count = len(archive.articles(limit=cfg.feed.items))
        try:
            paths = write_feed_files(out, archive, cfg.feed)
        except OSError as exc:
            _fail(f"cannot write the feeds to {out}: {exc.strerror}")
            return
    click.echo(f"{count} articles: " + " ".join(map(str, paths)))


@main.command()
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
        with file_lock(lock_path(cfg.database, "digest"), "a digest run"), _open(cfg) as archive:
            report = run_digests(
                cfg,
                archive,
                now,
                dry_run=dry_run,
                outbox=Path(outbox) if outbox else None,
                unsubscribe_link=unsubscribe_links(cfg, now),
            )
    except LockError as exc:
        _fail(f"{exc}; not starting a second one", 3)
    except (LockFileError, TemplateProblem) as exc:
        _fail(str(exc))
        return
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


@main.command()
@click.option("--host", help="Address to bind (default: service.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: service.port, 8080; 0: any free port).")
@click.option("--demo", is_flag=True, help="Offline demo: replay one bundled dump per tick, digests to ./demo-outbox.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, demo: bool) -> None:
    """Run the scheduler and the HTTP server until SIGTERM or Ctrl-C."""
    import signal

    from monitor.service import Service

    cfg: Config = ctx.obj
    if demo:
        _demo_config(cfg, explicit_db=ctx.parent is not None and bool(ctx.parent.params.get("db_path")))
    config_path = ctx.parent.params.get("config_path") if ctx.parent else None
    _open(cfg).close()  # an unusable database: one line, before anything starts
    service = Service(cfg, config_path, host or cfg.service.host, cfg.service.port if port is None else port)

    def stop(signum: int, frame: object) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        service.run()
    except LockError as exc:
        _fail(f"{exc}; not starting a second one", 3)
    except LockFileError as exc:
        _fail(str(exc))
    except ArchiveError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(
            f"cannot serve on {host or cfg.service.host}:{cfg.service.port if port is None else port}: {exc.strerror}"
        )


def _demo_config(cfg: Config, explicit_db: bool) -> None:
    """The offline demo: the bundled dumps, one per crawl tick, digests to a local outbox."""
    from feeds.settings import Subscriber
    from monitor.config import DEMO_DUMPS

    if not explicit_db:
        cfg.database = "icesco-monitor-demo.db"
    cfg.service.mode = "replay"
    cfg.replay.paths = [str(DEMO_DUMPS)]
    cfg.service.crawl_every_minutes = 0.25
    cfg.service.crawl_jitter_seconds = 0
    cfg.service.digest_check_seconds = 5
    cfg.smtp.host = ""
    cfg.digest.outbox = "demo-outbox"
    if not cfg.subscribers:
        cfg.subscribers = [Subscriber(address="reader@example.org", cadence="immediate")]
    click.echo(
        f"demo: replaying {DEMO_DUMPS} one dump every 15 s into {cfg.database};"
        f" digests for {cfg.subscribers[0].address} go to ./{cfg.digest.outbox}/. Ctrl-C stops.",
        err=True,
    )


main.add_command(subscribers)

if __name__ == "__main__":
    main()
