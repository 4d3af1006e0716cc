"""Benchmarks of icesco-monitor, side by side in one run; a module per section (``--list``):

1. replay throughput, and the share of it spent inside SQLite (``bench_replay.py``);
2. the cost of a poll at the server, nothing new and 3 new articles, against a naive full
   recrawl and urlwatch on the same listing URL (``bench_poll.py``, ``urlwatch_venv.py``);
3. feed build time on a large archive, /feed.xml requests per second (200 and 304) served
   by monitor.web.WebServer to load clients in other processes (``bench_feed.py``);
4. peak memory: of a crawl (4a, ``bench_memory.py``) and of the service over many
   scheduled polls (4b, ``bench_service.py``). Shared helpers: ``common.py``.

Run from the repository root::

    .venv/bin/python tests/benchmarks/run.py                # all sections (about 4 minutes)
    .venv/bin/python tests/benchmarks/run.py feed service   # only the sections named
    .venv/bin/python tests/benchmarks/run.py --quick        # smaller sizes (about 1.5 minutes)

Prints a plain-text table and writes the same figures to ``bench-out/results.json`` (``--out
DIR`` elsewhere). Every crawl is the real command line in a subprocess; every crawl, urlwatch
run and load client talks only to 127.0.0.1. Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_feed
import bench_memory
import bench_poll
import bench_replay
import bench_service
from common import OUT, Options, mib, progress, run_measured

# In the order they run (the feed section reuses the memory section's archives) ...
SECTIONS = {m.NAME: m for m in (bench_replay, bench_poll, bench_memory, bench_feed, bench_service)}
# ... and in the order of the report (its numbers).
REPORT_ORDER = ("replay", "poll", "feed", "memory", "service")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", metavar="SECTION", help=f"run only these ({', '.join(SECTIONS)})")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--only", action="append", default=[], metavar="SECTION", help="the same as naming it")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--profile", action="store_true", help="also run the replay under cProfile, print the top")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (corpus, databases)")
    parser.add_argument("--no-urlwatch", action="store_true", help="poll: leave out the urlwatch comparison")
    parser.add_argument("--service-polls", type=int, help="service: scheduled polls to watch (default 100; quick 40)")
    parser.add_argument(
        "--service-interval",
        type=float,
        default=1.0,
        help="service: seconds between polls (default 1; the config's minimum, 3, or more runs serve unwrapped)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for results.json and results.txt ({OUT})")
    args = parser.parse_args(argv)
    args.sections += args.only
    if unknown := sorted(set(args.sections) - set(SECTIONS)):
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return args


def collect_meta(quick: bool) -> dict[str, Any]:
    import scrapy

    return {
        "quick": quick,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "scrapy": scrapy.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "launcher_floor_rss_kb": run_measured([sys.executable, "-c", "pass"]).maxrss_kb,
    }


def run_sections(names: set[str], opts: Options, results: dict[str, Any], keep: bool) -> None:
    """Run the sections named, in their order, each in a subfolder of one work folder."""
    work = Path(tempfile.mkdtemp(prefix="icesco-bench-"))
    meta = results["meta"]
    meta["loadavg_start"] = round(os.getloadavg()[0], 2)
    meta["section_s"] = {}
    try:
        for name, section in SECTIONS.items():
            if name in names:
                mark = time.perf_counter()
                results[name] = section.run(work, opts)
                meta["section_s"][name] = round(time.perf_counter() - mark, 1)
    finally:
        if keep:
            progress(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    meta["loadavg_end"] = round(os.getloadavg()[0], 2)


def report_header(m: dict[str, Any]) -> list[str]:
    out = [
        f"icesco-monitor benchmarks ({'quick' if m['quick'] else 'full'}) - {m['started_at']}",
        f"python {m['python']}, sqlite {m['sqlite']}, scrapy {m['scrapy']}, {m['cpus']} CPUs, {m['machine']}",
        f"peak RSS: max RSS of the crawl process, read by a launcher with os.wait4;"
        f" launcher floor (python -c pass) {mib(m['launcher_floor_rss_kb'])} MiB",
    ]
    if "loadavg_start" in m:
        out.append(
            f"load average (1 min) at start {m['loadavg_start']}, at end {m['loadavg_end']};"
            " seconds per section: " + ", ".join(f"{k} {v}" for k, v in m["section_s"].items())
        )
    return out


def report(results: dict[str, Any]) -> str:
    out = report_header(results["meta"])
    for name in REPORT_ORDER:
        if name in results:
            out += SECTIONS[name].report(results[name])
    out += ["", f"total benchmark time: {results['meta']['total_s']} s"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print("\n".join(f"{name:8}  {section.ABOUT}" for name, section in SECTIONS.items()))
        return 0
    opts = Options(args.quick, args.profile, not args.no_urlwatch, args.service_polls, args.service_interval)
    started = time.perf_counter()
    results: dict[str, Any] = {"meta": collect_meta(args.quick)}
    run_sections(set(args.sections or SECTIONS), opts, results, args.keep)
    results["meta"]["total_s"] = round(time.perf_counter() - started, 1)
    text = report(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out / "results.txt").write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out / 'results.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
