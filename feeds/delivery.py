"""Digest runs: who is due, what they get, and a ledger so nothing is sent twice or lost.

Per subscriber and scheduled time: the first run after a subscriber appears records the
subscription and sends nothing; later, at each scheduled time (``immediate``: at every
check), the matching articles stored after the subscription and never sent to them go
out in one digest. "After" is by the articles' sequence numbers, not their times, so
nothing depends on which second things happened in. The digest is written
to the ledger (its exact bytes, its articles reserved) *before* it is sent, and marked
sent after: a crash in between re-sends the same message, with the same Message-ID, once.
Where it goes is a channel (:mod:`feeds.channels`: SMTP or an outbox folder), used only
through its protocol; temporary failures are retried with backoff, permanent ones recorded.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from feeds import channels
from feeds.channels import Channel
from feeds.digests import message_id, render_digest
from feeds.envelope import message_bytes
from feeds.ledger import DigestLedger
from feeds.mailer import DeliveryError
from feeds.rows import DigestRow, EditRow, SubscriptionRow
from feeds.settings import PublishConfig, Subscriber
from feeds.subscribers import previous_due, subscribers_of

log = logging.getLogger(__name__)


@dataclass
class DigestReport:
    subscribed: list[str] = field(default_factory=list)  # new subscribers recorded (nothing sent)
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    written: list[Path] = field(default_factory=list)  # .eml files (outbox or dry run)
    messages: list[str] = field(default_factory=list)


def _utc(when: dt.datetime) -> str:
    """An aware time in UTC to the second, as digest keys and messages show it."""
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def _message_id(data: bytes) -> str:
    """The Message-ID of a message the ledger keeps (its headers only are read)."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(data)
    return str(headers.get("Message-ID") or "")


def run_digests(
    cfg: PublishConfig,
    archive: DigestLedger,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    outbox: Path | None = None,
    unsubscribe_link: Callable[[str], str] | None = None,
) -> DigestReport:
    """Send what is due at ``now``. With dry_run, write the .eml files that would be sent
    (to ``outbox`` or the configured one) and record nothing. ``unsubscribe_link`` gives
    the one-click unsubscribe URL of an address (``List-Unsubscribe``); without it,
    digests carry the mailto one only.

    What a subscriber gets is decided by the articles' numbers (``seq``, in the order
    they were first stored), never by their times: a subscription starts after the last
    number stored when it was recorded, and keeps a position (every article numbered up
    to it was sent or did not match). A check therefore costs what is new: with nothing
    new it reads no article at all; otherwise it reads, per subscriber due, the numbers
    past their position, filtered in SQL, and the rows of the articles it sends.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    report = DigestReport()
    # A dry run writes what would be sent to a folder, whatever the config says.
    channel = channels.channel_for(
        cfg, outbox if outbox is not None else (Path(cfg.digest.outbox) if dry_run else None)
    )
    subscribers = subscribers_of(cfg.subscribers, archive.readers("active"), archive.opted_out())
    configured = {s.address for s in subscribers}

    if not dry_run:
        for address in archive.forget_subscribers_except(configured):
            log.info("%s: no longer subscribed; nothing more will be sent", address)

    # 1. Interrupted sends and retries whose time has come: the very same bytes again.
    _resend(cfg, archive, channel, now, report, dry_run, configured)

    # 2. New digests for the subscribers whose time has come. What is new is numbered above
    # a subscriber's position, up to the last article (for edits: revision) number.
    run = _Run(
        cfg, archive, channel, now, report, dry_run, archive.last_seq(), archive.last_revision(), unsubscribe_link
    )
    subscriptions = archive.subscriptions()
    for sub in subscribers:
        sub_row = subscriptions.get(sub.address)
        if sub_row is None:
            _subscribe(run, sub.address)
        else:
            _digest_for(run, sub, sub_row)

    if not dry_run:
        _prune(cfg, archive, now)
    return report


def _resend(
    cfg: PublishConfig,
    archive: DigestLedger,
    channel: Channel,
    now: dt.datetime,
    report: DigestReport,
    dry_run: bool,
    configured: set[str],
) -> None:
    """Interrupted sends and retries whose time has come, to those still subscribed."""
    for row in archive.open_deliveries(now):
        if row.address not in configured:
            continue  # unsubscribed: no more mail, ever
        if row.message is None:  # pragma: no cover - pruning keeps what a re-send needs
            log.error("digest %s to %s: its bytes are gone; not re-sent", row.id, row.address)
            continue
        data = bytes(row.message)
        mid = _message_id(data)
        _attempt(cfg, archive, channel, row.id, data, mid, row.address, row.attempts, now, report, dry_run)


def _subscribe(run: _Run, address: str) -> None:
    """A new subscriber: recorded (not in a dry run), nothing sent."""
    if not run.dry_run:
        run.archive.subscribe(address, run.now)
    run.report.subscribed.append(address)
    log.info("%s: new subscriber recorded; articles stored from now on will be sent", address)


def _prune(cfg: PublishConfig, archive: DigestLedger, now: dt.datetime) -> None:
    """Sent digests keep their bytes for digest.retention_days; a re-send needs none after."""
    pruned = archive.prune_messages(now - dt.timedelta(days=cfg.digest.retention_days))
    if pruned:
        log.info("%d sent digest(s) older than %g days: bytes dropped", pruned, cfg.digest.retention_days)


@dataclass(frozen=True)
class _Run:
    """What one digest run shares among its subscribers."""

    cfg: PublishConfig
    archive: DigestLedger
    channel: Channel
    now: dt.datetime
    report: DigestReport
    dry_run: bool
    top: int  # the last article number
    top_edit: int  # the last revision number
    unsubscribe_link: Callable[[str], str] | None


def _digest_for(run: _Run, sub: Subscriber, sub_row: SubscriptionRow) -> None:
    """The digest of one recorded subscriber, if their time has come and something is new."""
    cfg, archive, now, dry_run = run.cfg, run.archive, run.now, run.dry_run
    top, top_edit, address = run.top, run.top_edit, sub.address
    slot = previous_due(sub, now)
    done_up_to = sub_row.last_due_at
    if sub.cadence != "immediate" and done_up_to and slot <= dt.datetime.fromisoformat(done_up_to):
        return  # this scheduled time is done
    position = int(sub_row.position or 0)
    edit_from = int(sub_row.edit_position or 0)
    edits_due = sub.edits and edit_from < top_edit
    if position >= top and not edits_due:
        if sub.cadence != "immediate" and not dry_run:
            archive.mark_due_done(address, slot, position, edit_position=top_edit)
        return  # nothing new: no article is read
    rows: list[DigestRow] = []
    if position < top:
        rows = archive.undelivered(
            address,
            position,
            top,
            cfg.digest.max_items,
            keywords=sub.keywords,
            categories=sub.categories,
            languages=sub.languages,
        )
    # Considered: up to the last article taken when the digest is full (the rest
    # wait for the next one), else everything up to top.
    last = rows[-1].seq if len(rows) >= cfg.digest.max_items else top
    edited = archive.edited(address, edit_from, top_edit, cfg.digest.max_items) if edits_due else []
    if not rows and not edited:
        if not dry_run:
            archive.mark_due_done(address, slot, last, edit_position=top_edit)
        return  # no empty digests
    # Distinct for every digest, even two in one second: the numbers it covers.
    key = f"{sub.cadence}:{_utc(slot)}:{position + 1}-{last}"
    if edited:
        key += f":edits:{edit_from + 1}-{top_edit}"
    _send(run, sub, slot, key, rows, edited, (position + 1, last))


def _send(
    run: _Run,
    sub: Subscriber,
    slot: dt.datetime,
    key: str,
    rows: list[DigestRow],
    edited: list[EditRow],
    seqs: tuple[int, int],
) -> None:
    """Render one digest, record it in the ledger (its articles, the numbers ``seqs`` it
    covers, the edits up to the last revision) and send it."""
    cfg, archive, channel, now, report, dry_run = run.cfg, run.archive, run.channel, run.now, run.report, run.dry_run
    address = sub.address
    rows.sort(key=lambda r: (r.published_at or r.first_seen_at[:10], r.first_seen_at), reverse=True)
    msg = render_digest(
        sub,
        rows,
        now,
        cfg.digest,
        digest_key=key,
        site_url=cfg.feed.base_url,
        site_timezone=cfg.site.timezone,
        unsubscribe_link=run.unsubscribe_link(address) if run.unsubscribe_link else None,
        edited=edited,
    )
    # What the ledger keeps is what every channel is given, the first time and on a re-send
    # (which reads the Message-ID from the bytes, as here).
    data, mid = message_bytes(msg), str(msg["Message-ID"])
    if dry_run:
        _attempt(cfg, archive, channel, 0, data, mid, address, 0, now, report, dry_run)
        return
    delivery_id = archive.create_delivery(
        address,
        key,
        message_id(address, key),
        data,
        [r.id for r in rows],
        slot,
        now,
        first_seq=seqs[0],
        last_seq=seqs[1],
        edit_position=run.top_edit,
    )
    _attempt(cfg, archive, channel, delivery_id, data, mid, address, 0, now, report, dry_run)


def _attempt(
    cfg: PublishConfig,
    archive: DigestLedger,
    channel: Channel,
    delivery_id: int,
    data: bytes,
    mid: str,
    address: str,
    attempts: int,
    now: dt.datetime,
    report: DigestReport,
    dry_run: bool,
) -> None:
    if dry_run:  # nothing is recorded; a folder that cannot be written stops the run
        path = channel.deliver(data, message_id=mid, recipient=address)
        if path is not None:
            report.written.append(path)
        return
    try:
        path = channel.deliver(data, message_id=mid, recipient=address)
    except DeliveryError as exc:
        # Temporary failures are retried for as long as it takes (a failure never loses
        # an article), with doubling waits up to digest.retry_max_minutes; permanent ones
        # (the server refused for good) are recorded and reported.
        text = str(exc)
        wait = min(cfg.digest.retry_minutes * 2 ** min(attempts, 20), cfg.digest.retry_max_minutes)
        retry_at = None if exc.permanent else now + dt.timedelta(minutes=wait)
        archive.delivery_failed(delivery_id, text, permanent=exc.permanent, retry_at=retry_at, now=now)
        if exc.permanent:
            report.failed += 1
            report.messages.append(f"digest to {address} failed for good: {text}")
            log.error("digest to %s failed for good: %s", address, text)
        else:
            report.retrying += 1
            report.messages.append(f"digest to {address} will be retried at {_utc(retry_at or now)}: {text}")
            log.warning("digest to %s will be retried at %s: %s", address, _utc(retry_at or now), text)
        return
    archive.delivery_sent(delivery_id, now)
    report.sent += 1
    if path is not None:
        report.written.append(path)
    log.info("digest sent to %s (%s) via %s", address, mid, channel.where)
