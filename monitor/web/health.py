"""/healthz and /metrics: whether the last crawl succeeded recently, and the archive's
counters in Prometheus' text format."""

from __future__ import annotations

import datetime as dt
from typing import Any

from monitor.archive import Metrics, RunRow
from monitor.config import Config


def metrics_text(m: Metrics) -> str:
    """Prometheus text exposition of the archive's counters."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, values: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value:g}" for labels, value in values)

    statuses = ("ok", "degraded", "failed", "interrupted")
    metric(
        "icesco_crawls_total",
        "counter",
        "Crawl runs by status.",
        [(f'{{status="{s}"}}', m.runs.get(s, 0)) for s in statuses],
    )
    metric("icesco_pages_fetched_total", "counter", "Pages fetched (or dumps read) by all crawls.", [("", m.pages)])
    metric("icesco_articles_new_total", "counter", "New articles found by all crawls.", [("", m.new)])
    metric("icesco_articles_updated_total", "counter", "Edited articles found by all crawls.", [("", m.updated)])
    metric("icesco_crawl_errors_total", "counter", "Pages or dumps that failed.", [("", m.errors)])
    metric(
        "icesco_crawl_alarms_total",
        "counter",
        "Layout alarms: listings with no article links, articles with no title or body, unreadable REST or feed"
        " answers, start URLs that yielded nothing readable.",
        [("", m.alarms)],
    )
    metric("icesco_articles", "gauge", "Articles in the archive.", [("", m.articles)])
    d = m.deliveries
    metric("icesco_digests_sent_total", "counter", "Digest messages sent.", [("", d.get("sent", 0))])
    metric(
        "icesco_digests_failed_total",
        "counter",
        "Digests that failed for good (permanent errors).",
        [("", d.get("failed", 0))],
    )
    metric(
        "icesco_digests_pending",
        "gauge",
        "Digests waiting for a retry or interrupted.",
        [("", d.get("retry", 0) + d.get("sending", 0))],
    )
    last = m.last_success
    stamp = dt.datetime.fromisoformat(last).timestamp() if last else 0
    metric(
        "icesco_last_crawl_success_timestamp_seconds",
        "gauge",
        "End of the last successful crawl (0: never).",
        [("", stamp)],
    )
    return "\n".join(lines) + "\n"


def _run_summary(run: RunRow) -> dict[str, Any]:
    return {"finished_at": run.finished_at, "status": run.status, "errors": run.errors}


def health(
    cfg: Config, last_success: str | None, now: dt.datetime, last_run: RunRow | None = None
) -> tuple[int, dict[str, Any]]:
    """200 when the last crawl succeeded, recently; 503 otherwise."""
    limit = dt.timedelta(minutes=cfg.service.health_max_age_minutes)
    body: dict[str, Any] = {"last_success": last_success, "max_age_minutes": cfg.service.health_max_age_minutes}
    if last_run is not None and last_run.status == "degraded":
        alarms = list(last_run.alarms)
        body["last_run"] = _run_summary(last_run)
        return 503, {
            "status": "degraded: the last crawl could not read the site (has its layout changed?)",
            "alarms": alarms[:10],
            **body,
        }
    if last_success is None:
        return 503, {"status": "no successful crawl yet", **body}
    if last_run is not None and last_run.status != "ok":
        body["last_run"] = _run_summary(last_run)
        return 503, {"status": "last crawl failed", **body}
    age = now - dt.datetime.fromisoformat(last_success)
    body["age_seconds"] = int(age.total_seconds())
    if age > limit:
        return 503, {"status": "stale", **body}
    return 200, {"status": "ok", **body}
