"""The cost of one digest check (``feeds.delivery.run_digests``) on a long-running archive.

Archives of 1,000, 10,000 and 100,000 articles (built with direct SQL inserts into a temp
folder: realistic bodies of about 80 words, three languages, four categories, a fifth of
the bodies saying "heritage") and 1, 10 or 100 subscribers, cadence ``immediate``, every
second one with a filter (a keyword, "heritage", or a category, "Culture"). The
subscribers are older than every article and what matched them was sent: their positions
are at the last article. (The ``delivered`` ledger is left empty: a check looks up only
the new articles in it, by primary key, so its size changes nothing but the depth of one
B-tree; filling it would mean millions of rows at 100 × 100,000.)

Two rows per archive: a check with **nothing new**, and a check after **10 new**
articles were stored (the digests are rendered and written to an outbox folder, as the
service does without an SMTP host). Each figure is the median of several checks, each
check in a fresh process per cell; peak RSS is that process's (Python, the imports and
the archive's page cache included).

Run from the repository root::

    .venv/bin/python tests/benchmarks/digest_check.py             # 1k/10k/100k x 1/10/100
    .venv/bin/python tests/benchmarks/digest_check.py --sizes 1000,10000 --subscribers 1,10

Not a test module (no ``test_`` names): pytest does not collect it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitor.archive import Archive  # noqa: E402

NOW = dt.datetime(2026, 11, 21, 10, 15, 30, tzinfo=dt.UTC)
CATEGORIES = ["Culture", "Education", "Science", "News"]
LANGS = ["en", "fr", "ar"]
NEW = 10
REPEATS_IDLE = 5
REPEATS_NEW = 3


def _words(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(3000)]


def _article(rng: random.Random, vocab: list[str], n: int, first_seen: dt.datetime) -> tuple[object, ...]:
    words = rng.choices(vocab, k=80)
    if rng.random() < 0.2:
        words[rng.randrange(80)] = "heritage"
    title = " ".join(rng.choices(vocab, k=8)).capitalize()
    body = " ".join(words[:40]) + ".\n\n" + " ".join(words[40:]) + "."
    stamp = first_seen.isoformat(timespec="seconds")
    lang = LANGS[n % 3]
    return (
        f"bench-{n}",
        f"https://icesco.org/{lang}/2026/01/01/article-{n}/",
        lang,
        f"article-{n}",
        title,
        None,
        body,
        first_seen.date().isoformat(),
        json.dumps([CATEGORIES[n % 4]]),
        stamp,
        stamp,
        f"hash-{n}",
    )


INSERT = (
    "INSERT INTO articles (id, url, lang, slug, title, subtitle, body, published_at, categories, first_seen_at,"
    " last_seen_at, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)


def build(path: Path, articles: int) -> None:
    """An archive of ``articles`` articles first seen over the past year (numbered by the
    archive's own trigger, as store() has them numbered)."""
    rng = random.Random(articles)
    vocab = _words(rng)
    with Archive(path) as a:
        start = NOW - dt.timedelta(days=365)
        step = dt.timedelta(days=365) / articles
        rows = [_article(rng, vocab, n, start + n * step) for n in range(articles)]
        with a.db.atomic():
            a.conn.executemany(INSERT, rows)


def subscribe(path: Path, subscribers: int) -> None:
    with Archive(path) as a:
        top = a.last_seq()
        a.conn.executemany(
            "INSERT INTO subscriptions (address, subscribed_at, last_due_at, after_seq, position) VALUES (?,?,?,0,?)",
            [
                (f"reader{i}@example.org", "2020-01-01T00:00:00+00:00", "2020-01-01T00:00:00+00:00", top)
                for i in range(subscribers)
            ],
        )


def config(path: Path, subscribers: int, outbox: Path):  # type: ignore[no-untyped-def]
    from feeds.settings import Subscriber
    from monitor.config import Config

    cfg = Config()
    cfg.database = str(path)
    cfg.digest.outbox = str(outbox)
    subs = []
    for i in range(subscribers):
        extra: dict[str, list[str]] = {}
        if i % 2 == 1:
            extra = {"keywords": ["heritage"]} if i % 4 == 1 else {"categories": ["Culture"]}
        subs.append(Subscriber(address=f"reader{i}@example.org", cadence="immediate", **extra))
    cfg.subscribers = subs
    return cfg


def child(path: Path, subscribers: int, mode: str) -> None:
    """One cell, in a process of its own: prints {"seconds": median, "rss_mb": peak}."""
    from feeds.delivery import run_digests

    outbox = Path(tempfile.mkdtemp(prefix="digest-outbox-"))
    cfg = config(path, subscribers, outbox)
    times: list[float] = []
    sent = 0
    rng = random.Random(7)
    vocab = _words(rng)
    with Archive(path) as a:
        base = a.last_seq()
        for k in range(REPEATS_IDLE if mode == "idle" else REPEATS_NEW):
            now = NOW + dt.timedelta(minutes=k)
            if mode == "new":
                rows = [_article(rng, vocab, base + k * NEW + j, now) for j in range(NEW)]
                with a.db.atomic():
                    a.conn.executemany(INSERT, rows)
            started = time.perf_counter()
            report = run_digests(cfg, a, now)
            times.append(time.perf_counter() - started)
            sent += report.sent
    shutil.rmtree(outbox, ignore_errors=True)
    rss = _peak_rss_mb()
    print(json.dumps({"seconds": statistics.median(times), "rss_mb": rss, "sent": sent}))


def _peak_rss_mb() -> float:
    """This process's peak RSS. /proc's VmHWM belongs to the process's own memory map;
    getrusage's ru_maxrss survives exec on Linux and would report the parent's peak
    (the one that built the archive)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_cell(path: Path, subscribers: int, mode: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(path), str(subscribers), mode],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--subscribers", default="1,10,100")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), int(args.child[1]), args.child[2])
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    counts = [int(s) for s in args.subscribers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="digest-check-"))
    lines = [
        f"{'articles':>9} {'subscribers':>11}  {'check':<12} {'seconds':>8} {'peak RSS':>9} {'digests sent':>12}",
    ]
    print(lines[0], flush=True)
    try:
        for size in sizes:
            base = tmp / f"base-{size}.db"
            started = time.perf_counter()
            build(base, size)
            print(f"# built {size} articles in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
            for n in counts:
                for mode, label in (("idle", "nothing new"), ("new", f"{NEW} new")):
                    cell = tmp / f"cell-{size}-{n}-{mode}.db"
                    shutil.copy(base, cell)
                    subscribe(cell, n)
                    r = run_cell(cell, n, mode)
                    sent = f"{r['sent'] / (REPEATS_NEW if mode == 'new' else REPEATS_IDLE):.0f}/check"
                    line = f"{size:>9,} {n:>11}  {label:<12} {r['seconds']:>8.4f} {r['rss_mb']:>6.0f} MB {sent:>12}"
                    print(line, flush=True)
                    lines.append(line)
                    cell.unlink()
            base.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
