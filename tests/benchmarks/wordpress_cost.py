"""What a poll costs the site, measured on the real WordPress of the tests (Debian's 6.1,
MariaDB, PHP's server on 127.0.0.1), side by side in one run, per start URL (the English
news category, 14 posts at the start):

- this crawler reading the REST API (``crawl.source: auto``), the category feed
  (``feed``), the HTML listings and pages only (``html``);
- a naive recrawl (every listing page and every article, each poll);
- urlwatch 2.x watching the listing URL (from PyPI, in a virtualenv of its own; left out
  with ``--no-urlwatch`` or when it cannot be installed).

Rows: the first poll, an idle poll, a poll with 3 new articles, and a simulated day of 24
hourly polls with 8 new articles and 2 edits of old ones (the first poll of the day pays
for robots.txt and the daily re-check of the source, as a new day would). Requests and
body bytes are counted by WordPress's own request log.

    .venv/bin/python tests/benchmarks/wordpress_cost.py [--no-urlwatch] [--out DIR]

Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import zoneinfo
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
for _p in (str(ROOT), str(TESTS), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from helpers import last_json, run_cli, write_config  # noqa: E402
from wordpress import WordPress, block_content, wordpress_missing  # noqa: E402

from crawler.pages import parse_listing  # noqa: E402

MODES = ("auto", "feed", "html")
LABELS = {
    "auto": "REST API (auto)",
    "feed": "category feed",
    "html": "HTML only",
    "naive": "naive recrawl",
    "urlwatch": "urlwatch on the listing",
}


def traffic(wp: WordPress) -> dict[str, Any]:
    log = wp.requests()
    return {"requests": len(log), "bytes": sum(r["bytes"] for r in log), "statuses": sorted({r["status"] for r in log})}


def crawl_config(folder: Path, wp: WordPress, mode: str) -> Path:
    crawl = {"start_urls": [wp.url("en", "category/news/")], "download_delay": 0, "source": mode}
    return write_config(folder, database="a.db", crawl=crawl)


def crawl(cfg: Path) -> dict[str, Any]:
    proc = run_cli("crawl", "--json", config=cfg, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"crawl failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return last_json(proc)


def new_day(cfg: Path) -> None:
    """What a day changes: robots.txt and the source choice are a day old."""
    with sqlite3.connect(cfg.parent / "a.db") as conn:
        conn.execute("UPDATE robots SET fetched_at = '2000-01-01T00:00:00+00:00'")
        conn.execute("UPDATE sources SET checked_at = '2000-01-01T00:00:00+00:00'")


def naive_poll(wp: WordPress) -> None:
    """Every listing page and every article on them, as a crawler with no state would."""
    url: str | None = wp.url("en", "category/news/")
    while url:
        with urllib.request.urlopen(url, timeout=30) as r:  # 127.0.0.1 only
            html = r.read().decode("utf-8")
        links, url = parse_listing(html, r.url, {"127.0.0.1"})
        for link in links:
            with urllib.request.urlopen(link, timeout=30) as a:
                a.read()


class Urlwatch:
    def __init__(self, folder: Path, url: str) -> None:
        from urlwatch_venv import ensure_urlwatch  # the poll benchmark's installer (own virtualenv)

        self.exe, self.info = ensure_urlwatch()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "urls.yaml").write_text(f"name: ICESCO news listing\nurl: {url}\n", encoding="utf-8")

    def poll(self) -> None:
        assert self.exe is not None
        f = self.folder
        cmd = [
            str(self.exe),
            "--urls",
            str(f / "urls.yaml"),
            "--config",
            str(f / "urlwatch.yaml"),
            "--cache",
            str(f / "cache.db"),
            "--hooks",
            str(f / "hooks.py"),
        ]
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            cwd=f,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "NO_PROXY": "*", "HOME": str(f)},
        )
        if proc.returncode != 0:
            raise RuntimeError(f"urlwatch failed: {proc.stderr[-1000:]}")


def local_now() -> str:
    return dt.datetime.now(zoneinfo.ZoneInfo("Africa/Casablanca")).strftime("%Y-%m-%d %H:%M:%S")


def changes(wp: WordPress, n_new: int, edits: int, tag: str) -> None:
    for i in range(n_new):
        wp.add_post(
            "en",
            f"ICESCO news {tag} {i}: a new short item",
            block_content(f"Item {tag} {i}, one paragraph."),
            local_now(),
            ["news"],
        )  # as an editor publishes: dated now (site time)
    for post in wp.baseline_posts("en", "news")[-edits:] if edits else []:
        wp.edit_post("en", post["id"], content=block_content(f"Edited ({tag}).", "Second paragraph."))


def measure(wp: WordPress, who: str, poll: Any) -> dict[str, Any]:
    """One contender through the four rows, from the baseline."""
    wp.reset()
    rows: dict[str, Any] = {}
    wp.clear_log()
    poll()
    rows["first"] = traffic(wp)
    wp.clear_log()
    poll()
    rows["idle"] = traffic(wp)
    changes(wp, 3, 0, "a")
    wp.clear_log()
    poll()
    rows["three_new"] = traffic(wp)
    # A day: 24 hourly polls; 8 new articles and 2 edits spread over it.
    schedule = {2: (2, 0), 5: (1, 1), 9: (2, 0), 13: (1, 0), 16: (1, 1), 20: (1, 0)}
    wp.clear_log()
    for hour in range(24):
        n_new, n_edit = schedule.get(hour, (0, 0))
        if n_new or n_edit:
            log = wp.requests()
            changes(wp, n_new, n_edit, f"d{hour}")
            assert len(wp.requests()) == len(log)  # changes are made in PHP, not over HTTP
        if hour == 0 and hasattr(poll, "new_day"):
            poll.new_day()
        poll()
    rows["day"] = traffic(wp)
    return rows


class CrawlerPoll:
    def __init__(self, folder: Path, wp: WordPress, mode: str) -> None:
        self.cfg = crawl_config(folder, wp, mode)
        self.results: list[dict[str, Any]] = []

    def __call__(self) -> None:
        self.results.append(crawl(self.cfg))

    def new_day(self) -> None:
        new_day(self.cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-urlwatch", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    args = parser.parse_args(argv)
    missing = wordpress_missing()
    if missing:
        print(f"the test WordPress cannot run here: {missing}", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="icesco-wp-bench-") as tmp:
        work = Path(tmp)
        with WordPress.start(work / "wordpress") as wp:
            results: dict[str, Any] = {}
            for mode in MODES:
                print(f"[wordpress] crawler, source {mode} ...", file=sys.stderr, flush=True)
                poll = CrawlerPoll(work / mode, wp, mode)
                results[mode] = measure(wp, mode, poll)
                results[mode]["new_stored"] = sum(r["new"] for r in poll.results)
                results[mode]["updated_stored"] = sum(r["updated"] for r in poll.results)
            print("[wordpress] naive recrawl ...", file=sys.stderr, flush=True)
            results["naive"] = measure(wp, "naive", lambda: naive_poll(wp))
            if not args.no_urlwatch:
                watcher = Urlwatch(work / "urlwatch", wp.url("en", "category/news/"))
                if watcher.exe is not None:
                    print("[wordpress] urlwatch ...", file=sys.stderr, flush=True)
                    results["urlwatch"] = measure(wp, "urlwatch", watcher.poll)
                    results["urlwatch"]["version"] = watcher.info.get("version")
                else:
                    results["urlwatch"] = {"error": watcher.info.get("error")}
    results["seconds"] = round(time.monotonic() - started, 1)
    text = report(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "wordpress_cost.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (args.out / "wordpress_cost.txt").write_text(text + "\n", encoding="utf-8")
    return 0


def report(results: dict[str, Any]) -> str:
    who = [w for w in ("auto", "feed", "html", "naive", "urlwatch") if w in results and "first" in results[w]]
    lines = [
        "Cost per start URL at the site (real WordPress 6.1, English news category, 14 posts at the start);"
        " requests / response body bytes, counted by the server",
        "",
        "| poll | " + " | ".join(LABELS[w] for w in who) + " |",
        "|---" * (len(who) + 1) + "|",
    ]
    names = {
        "first": "first poll",
        "idle": "idle poll",
        "three_new": "poll with 3 new articles",
        "day": "a day: 24 hourly polls, 8 new, 2 edits",
    }
    for row, name in names.items():
        cells = [f"{results[w][row]['requests']} / {results[w][row]['bytes']:,} B" for w in who]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    stored = [
        f"{LABELS[m]}: {results[m]['new_stored']} new, {results[m]['updated_stored']} edits stored"
        for m in MODES
        if m in results
    ]
    lines += ["", "archived over all polls: " + "; ".join(stored) + " (naive recrawl and urlwatch archive nothing)"]
    if "urlwatch" in results and "error" in results["urlwatch"]:
        lines.append(f"urlwatch: NOT MEASURED - {results['urlwatch']['error']}")
    elif "urlwatch" in results:
        lines.append(
            f"urlwatch {results['urlwatch'].get('version')}: one GET of the listing per run;"
            " WordPress sends no validators on HTML, so every run downloads the whole listing"
        )
    lines.append(f"(run took {results['seconds']} s)")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
