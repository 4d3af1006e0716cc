"""``icesco-monitor subscribers``: list, add and remove the subscribers.

Subscribers come from two places: ``config.yaml`` (the operator's file, read-only here) and
the archive (readers who subscribed on the web, and those added with ``subscribers add``).
``list`` shows both with their source and status; ``add`` records an active subscriber at
once (the operator's act: no confirmation mail; what is stored from then on is for them);
``remove`` ends one at once. A subscriber of the file is removed by editing the file.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from feeds.subscribers import CADENCES, AddressError, validate_address
from monitor.cli_common import fail, open_archive
from monitor.config import Config


def _words(value: str) -> list[str]:
    return sorted({w.strip() for w in value.split(",") if w.strip()})


@click.group()
def subscribers() -> None:
    """List, add and remove digest subscribers (config.yaml's and the archive's)."""


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def list_(cfg: Config, as_json: bool) -> None:
    """Every subscriber, with its source (config, web, cli) and status."""
    with open_archive(cfg) as archive:
        readers, opted_out = archive.readers(), archive.opted_out()
    rows: list[dict[str, Any]] = [
        {
            "address": s.address,
            "source": "config",
            "status": "opted-out" if s.address in opted_out else "active",
            "cadence": s.cadence,
            "languages": list(s.languages),
            "keywords": list(s.keywords),
        }
        for s in cfg.subscribers
    ]
    rows += [
        {
            "address": r.address,
            "source": r.source,
            "status": r.status,
            "cadence": r.cadence,
            "languages": list(r.languages),
            "keywords": list(r.keywords),
        }
        for r in readers
    ]
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            filters = ", ".join(filter(None, [" ".join(row["languages"]), " ".join(row["keywords"])]))
            click.echo(f"{row['address']}  {row['source']}  {row['status']}  {row['cadence']}  {filters or 'all'}")
    if not rows and not as_json:
        click.echo("no subscribers")


@subscribers.command()
@click.argument("address")
@click.option("--cadence", type=click.Choice(CADENCES), default="daily", show_default=True, help="How often.")
@click.option("--languages", default="", help="Comma-separated languages (en,fr,ar); none: all.")
@click.option("--keywords", default="", help="Comma-separated keywords; none: all articles.")
@click.option("--edits", is_flag=True, help="List edited articles in digests too.")
@click.pass_obj
def add(cfg: Config, address: str, cadence: str, languages: str, keywords: str, edits: bool) -> None:
    """Add an active subscriber (no confirmation mail): articles stored from now on are for them."""
    try:
        address = validate_address(address, where="ADDRESS")
    except AddressError as exc:
        fail(str(exc), 2)
    configured = {s.address for s in cfg.subscribers}
    with open_archive(cfg) as archive:
        archive.add_reader(
            address, cadence, _words(languages), _words(keywords), edits, dt.datetime.now(dt.UTC),
            fresh=address not in configured,
        )  # fmt: skip
    note = " (config.yaml's entry for it is the one used)" if address in configured else ""
    click.echo(f"{address}: subscribed, {cadence}{note}")


@subscribers.command()
@click.argument("address")
@click.pass_obj
def remove(cfg: Config, address: str) -> None:
    """End a subscription at once (a subscriber of config.yaml: remove it from the file)."""
    if address in {s.address for s in cfg.subscribers}:
        fail(f"{address} is a subscriber of {cfg.source} (subscribers): remove it there", 2)
    with open_archive(cfg) as archive:
        row = archive.reader(address)
        if row is None or row.status == "ended":
            fail(f"{address}: not subscribed")
        archive.end_reader(address, dt.datetime.now(dt.UTC))
    click.echo(f"{address}: unsubscribed")
