"""``icesco-monitor serve``: the long-running service (scheduler and HTTP server), and its
offline ``--demo``."""

from __future__ import annotations

import os
import secrets

import click

from monitor.archive import ArchiveError
from monitor.cli_common import fail, open_archive
from monitor.config import Config
from monitor.locks import LockError, LockFileError


@click.command()
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
    open_archive(cfg).close()  # an unusable database: one line, before anything starts
    service = Service(cfg, config_path, host or cfg.service.host, cfg.service.port if port is None else port)

    def stop(signum: int, frame: object) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        service.run()
    except LockError as exc:
        fail(f"{exc}; not starting a second one", 3)
    except LockFileError as exc:
        fail(str(exc))
    except ArchiveError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot serve on {host or cfg.service.host}:{cfg.service.port if port is None else port}: {exc.strerror}")


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
    secret = ""
    if not os.environ.get(cfg.service.secret_env):
        # The demo's subscribe form works too: links signed with a secret of this run only
        # (they stop working when it ends; a real service sets the variable).
        os.environ[cfg.service.secret_env] = secret = secrets.token_urlsafe(32)
    click.echo(
        f"demo: replaying {DEMO_DUMPS} one dump every 15 s into {cfg.database};"
        f" digests for {cfg.subscribers[0].address} go to ./{cfg.digest.outbox}/. Ctrl-C stops.",
        err=True,
    )
    if secret:
        click.echo(
            f"demo: {cfg.service.secret_env} is not set; /subscribe signs its links with a secret of this run only",
            err=True,
        )
