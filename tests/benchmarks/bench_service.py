"""4b. The service over many scheduled polls: `icesco-monitor serve` (live mode) against the
fake site, one poll a second by default, its RSS, threads and open files read from /proc
after each poll, and the peak of each crawl subprocess it starts."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import Options, cli_env, mib, progress, site_articles, statuses_text, table, write_config
from fakesite import FakeSite, Hit
from procfs import children, open_fds, proc_status

from monitor.archive import Archive

NAME = "service"
ABOUT = "the service (serve) over many scheduled polls: its RSS, threads and fds, each crawl's peak"

# `icesco-monitor serve` with a crawl interval below the config's minimum (3 s): the real
# command line (monitor.cli.main) with the interval set after the config was loaded and
# validated, as `serve --demo` sets its own. The crawl subprocesses it starts read the
# same config file, whose interval is the (valid) minimum.
SERVICE_WRAPPER = """
import os, sys
import monitor.cli as cli
_load = cli.load_config
def load_config(*args, **kwargs):
    cfg = _load(*args, **kwargs)
    cfg.service.crawl_every_minutes = float(os.environ["BENCH_CRAWL_EVERY_S"]) / 60
    return cfg
cli.load_config = load_config
sys.argv[0] = "icesco-monitor"
cli.main()
"""


def config_min_interval_s() -> float:
    """The smallest crawl interval a config file may set (monitor/config_file.py: 0.05 minutes, 3 s)."""
    from monitor.config_file import RULES

    low = RULES.get("service.crawl_every_minutes", (0.05, None))[0]
    return 60 * float(low if low is not None else 0.05)


CONFIG_MIN_INTERVAL_S = config_min_interval_s()
LISTING = "/en/category/news/"  # the start URL's path on the fake site


def run(work: Path, opts: Options) -> dict[str, Any]:
    polls = opts.service_polls or (40 if opts.quick else 100)
    progress(f"[service] {polls} polls, one every {opts.service_interval} s ...")
    return bench_service(work / "service", polls, opts.service_interval, 12)


# --- the run -------------------------------------------------------------------------------------


def service_command(work: Path, db: Path, start_url: str, interval_s: float) -> tuple[list[str], dict[str, str], bool]:
    """The config file and the command line of the service: (command, environment, wrapped)."""
    cfg = write_config(work, db, start_url)
    data = json.loads(cfg.read_text())
    data["service"] = {
        "crawl_every_minutes": max(interval_s, CONFIG_MIN_INTERVAL_S) / 60,
        "crawl_jitter_seconds": 0,
        "health_max_age_minutes": 60,
    }
    data["feed"] = {"out_dir": ""}
    cfg.write_text(json.dumps(data), encoding="utf-8")
    args = ["--config", str(cfg), "serve", "--host", "127.0.0.1", "--port", "0"]
    wrapped = interval_s < CONFIG_MIN_INTERVAL_S
    cmd = [sys.executable, "-c", SERVICE_WRAPPER, *args] if wrapped else [sys.executable, "-m", "monitor.cli", *args]
    env = dict(cli_env(), BENCH_CRAWL_EVERY_S=str(interval_s))
    return cmd, env, wrapped


@dataclass
class Watched:
    """What the sampling of the running service saw."""

    after_poll: dict[int, dict[str, Any]] = field(default_factory=dict)  # the last sample while n polls had started
    child_peak: dict[int, int] = field(default_factory=dict)  # crawl pid -> highest VmHWM seen (in order of birth)
    samples: int = 0
    reached: int = 0
    elapsed: float = 0.0
    alive: bool = False


def watch(proc: subprocess.Popen[bytes], site: FakeSite, polls: int, limit: float) -> Watched:
    """Sample the service every 0.1 s until `polls` polls are over (or it dies, or the limit)."""
    started = time.perf_counter()
    seen = Watched()

    def polls_seen() -> int:
        # Every poll asks for the first listing page once (robots.txt is kept for a day, so
        # it is fetched by the first poll only and cannot count them).
        return sum(1 for h in list(site.hits) if h.path == LISTING)

    while proc.poll() is None and time.perf_counter() - started < limit:
        n = polls_seen()
        kids = children(proc.pid)
        st = proc_status(proc.pid)
        if st is None:
            break
        for kid in kids:
            kst = proc_status(kid)
            if kst and "VmHWM" in kst:
                seen.child_peak[kid] = max(seen.child_peak.get(kid, 0), kst["VmHWM"])
        # Prefer a sample taken between crawls (no crawl subprocess, so no pipes to it).
        if n and (not kids or not seen.after_poll.get(n, {}).get("idle")):
            t = round(time.perf_counter() - started, 1)
            seen.after_poll[n] = {**st, "fds": open_fds(proc.pid), "t": t, "idle": not kids}
        if n >= polls and not kids:
            break  # the last poll is over
        seen.samples += 1
        time.sleep(0.1)
    seen.reached = polls_seen()
    seen.elapsed = time.perf_counter() - started
    seen.alive = proc.poll() is None
    return seen


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM (SIGKILL to the group after 20 s): the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def bench_service(work: Path, polls: int, interval_s: float, site_size: int) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    db = work / "service.db"
    with FakeSite(site_articles(site_size, prefix="svc"), per_page=10) as site:
        cmd, env, wrapped = service_command(work, db, f"{site.base_url}{LISTING}", interval_s)
        every = interval_s if wrapped else max(interval_s, CONFIG_MIN_INTERVAL_S)
        limit = 30 + polls * max(every, 1.5) * 2  # a bound, far above the expected time
        err_path = work / "service.stderr"
        site.clear_hits()
        with open(err_path, "w") as err:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=work, start_new_session=True
            )
        try:
            seen = watch(proc, site, polls, limit)
        finally:
            code = stop(proc)
        hits = list(site.hits)
        if site.errors:
            raise RuntimeError(f"fake site errors: {site.errors!r}")
    stderr = err_path.read_text(errors="replace")
    with Archive(db) as archive:
        runs = archive.conn.execute(
            "SELECT status, count(*), sum(new), sum(errors) FROM runs GROUP BY status"
        ).fetchall()
        stored = archive.count()
    return {
        "polls_asked": polls,
        "polls_reached": seen.reached,
        "interval_s": interval_s,
        "interval_set_by": "wrapper (below the config minimum)" if wrapped else "config file",
        "seconds": round(seen.elapsed, 1),
        "alive_until_sigterm": seen.alive,
        "exit_code": code,
        "samples": seen.samples,
        "requests": len(hits),
        "statuses": status_counts(hits),
        "runs": [{"status": r[0], "count": r[1], "new": r[2], "errors": r[3]} for r in runs],
        "articles_stored": stored,
        **peaks(seen, polls),
        "skipped_ticks": stderr.count("maximum number of running instances reached"),
        "stderr_errors": [ln for ln in stderr.splitlines() if " ERROR " in ln or "Traceback" in ln][:5],
        "stderr_lines": len(stderr.splitlines()),
    }


def status_counts(hits: list[Hit]) -> dict[str, int]:
    return dict(sorted({str(s): sum(1 for h in hits if h.status == s) for s in {h.status for h in hits}}.items()))


def peaks(seen: Watched, polls: int) -> dict[str, Any]:
    """The service's samples and its crawl subprocesses' peaks at a few marks (poll 1, 2, 10, ...)."""
    marks = sorted(
        {p for p in (1, 2, 10, 50, 100, polls // 2, polls) if 1 <= p <= seen.reached and p in seen.after_poll}
    )
    # The k-th crawl subprocess seen is poll k (one at a time: max_instances=1).
    by_poll = {k: peak for k, peak in enumerate(seen.child_peak.values(), start=1)}
    child_peak = seen.child_peak
    return {
        "at_poll": {str(n): seen.after_poll[n] for n in marks},
        "crawl_children": len(child_peak),
        "crawl_child_peak_kb": {str(n): by_poll[n] for n in marks if n in by_poll},
        "crawl_child_peak_kb_max": max(child_peak.values(), default=0),
        "crawl_child_peak_kb_median": int(statistics.median(child_peak.values())) if child_peak else 0,
    }


# --- report --------------------------------------------------------------------------------------


def report(v: dict[str, Any]) -> list[str]:
    return [*_samples(v), *_summary(v)]


def _samples(v: dict[str, Any]) -> list[str]:
    rows = []
    for n, st in v["at_poll"].items():
        kid = v["crawl_child_peak_kb"].get(n)
        rows.append(
            [
                n,
                st["t"],
                mib(st["VmRSS"]),
                mib(st["VmHWM"]),
                st["Threads"],
                st["fds"] if st["idle"] else f"{st['fds']}*",
                mib(kid) if kid else "",
            ]
        )
    headers = [
        "after poll",
        "t s",
        "service VmRSS MiB",
        "service VmHWM MiB",
        "threads",
        "open fds",
        "that poll's crawl subprocess peak MiB (sampled)",
    ]
    out = [
        "",
        f"4b. The service (`icesco-monitor serve`, live mode, fake site) over {v['polls_reached']} scheduled polls"
        f" (asked {v['polls_asked']}), one every {v['interval_s']} s ({v['interval_set_by']}); RSS from /proc",
        table(headers, rows),
    ]
    if not all(st["idle"] for st in v["at_poll"].values()):
        out.append("   * sampled while the next crawl subprocess was already running (its pipes are open)")
    return out


def _summary(v: dict[str, Any]) -> list[str]:
    out = []
    marks = list(v["at_poll"].values())
    if len(marks) >= 2:
        changes = [
            f"from poll {k}: {(marks[-1]['VmRSS'] - st['VmRSS']) / 1024:+.1f} MiB"
            for k, st in v["at_poll"].items()
            if k in ("1", "10") and st is not marks[-1]
        ]
        out.append(f"   service VmRSS at the last poll, change {', '.join(changes)}; target: flat")
    runs = ", ".join(f"{r['status']} {r['count']} ({r['new']} new, {r['errors']} errors)" for r in v["runs"])
    out.append(
        f"   {v['seconds']} s; crawl runs recorded: {runs}; {v['crawl_children']} crawl subprocesses seen"
        f" (peak median {mib(v['crawl_child_peak_kb_median'])} MiB, max {mib(v['crawl_child_peak_kb_max'])} MiB);"
        f" site hits {v['requests']} ({statuses_text(v['statuses'])});"
        f" skipped ticks {v['skipped_ticks']} (a crawl still running at the next tick);"
        f" {'alive until SIGTERM' if v['alive_until_sigterm'] else 'DIED BEFORE SIGTERM'},"
        f" exit code {v['exit_code']}"
    )
    if v["interval_set_by"].startswith("wrapper"):
        out.append(
            f"   interval: the config's minimum is {CONFIG_MIN_INTERVAL_S:g} s (service.crawl_every_minutes);"
            " the benchmark runs the"
            " real command line with the interval lowered after validation (as serve --demo sets its own);"
            " --service-interval 3 runs it unwrapped"
        )
    out.extend(f"   service stderr: {line[:200]}" for line in v["stderr_errors"])
    return out
