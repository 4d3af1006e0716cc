"""Load benchmark of the service's HTTP server, on 127.0.0.1 only.

Starts `icesco-monitor serve` (a subprocess, a free port, an archive of the 50 bundled
articles made by replaying the dumps), then sends REQUESTS requests from CLIENTS concurrent
clients (threads, all released at once; each request on a new connection), alternating
/feed.xml and /, and prints a table of successes and latencies (p50, p95, max) per path.
Exits 1 if a request failed or the slowest took 2 s or more.

    .venv/bin/python tests/benchmarks/http_load.py [--clients 100] [--requests 400] [--port PORT]

With --port, an already running server on 127.0.0.1:PORT is measured instead.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: helpers, test_http_server

PATHS = ("/feed.xml", "/")
LIMIT_S = 2.0


def one(port: int, path: str) -> tuple[str, bool, float, str]:
    """One GET on a new connection (the fault test's own request helper)."""
    from test_http_server import request

    started = time.perf_counter()
    try:
        status, body, seconds = request(port, path, timeout=30)
    except OSError as exc:
        return path, False, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
    ok = status == 200 and len(body) > 0
    return path, ok, seconds, "" if ok else f"HTTP {status}"


def load(port: int, clients: int, requests: int) -> tuple[list[tuple[str, bool, float, str]], float]:
    """requests spread over clients threads (as evenly as possible), started together."""
    results: list[tuple[str, bool, float, str]] = []
    lock = threading.Lock()
    gate = threading.Barrier(clients + 1)
    share = [requests // clients + (1 if k < requests % clients else 0) for k in range(clients)]

    def client(k: int) -> None:
        gate.wait()
        for j in range(share[k]):
            r = one(port, PATHS[(k + j) % len(PATHS)])
            with lock:
                results.append(r)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return results, time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else max(values)


def table(results: list[tuple[str, bool, float, str]], clients: int, seconds: float) -> str:
    lines = [
        f"{len(results)} requests from {clients} concurrent clients in {seconds:.2f} s"
        f" ({len(results) / seconds:.0f} req/s)",
        "",
        f"| {'path':<10} | {'requests':>8} | {'ok':>5} | {'p50 ms':>7} | {'p95 ms':>7} | {'max ms':>7} |",
        f"| {'-' * 10} | {'-' * 8}:| {'-' * 5}:| {'-' * 7}:| {'-' * 7}:| {'-' * 7}:|",
    ]
    for path in (*PATHS, "all"):
        rows = [r for r in results if path in ("all", r[0])]
        times = [1000 * r[2] for r in rows]
        lines.append(
            f"| {path:<10} | {len(rows):>8} | {sum(r[1] for r in rows):>5} | {pct(times, 50):>7.0f}"
            f" | {pct(times, 95):>7.0f} | {max(times):>7.0f} |"
        )
    errors = sorted({r[3] for r in results if not r[1]})
    if errors:
        lines += ["", "errors: " + "; ".join(errors[:5])]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--port", type=int, help="measure the server already on 127.0.0.1:PORT")
    args = parser.parse_args()

    def run(port: int) -> list[tuple[str, bool, float, str]]:
        for path in PATHS:  # warm up: the feed built once, as after the service's start
            assert one(port, path)[1], path
        results, seconds = load(port, args.clients, args.requests)
        print(table(results, args.clients, seconds))
        return results

    if args.port:
        results = run(args.port)
    else:
        from test_http_server import replayed_archive, serve

        with tempfile.TemporaryDirectory(prefix="http-load-") as tmp:
            folder = Path(tmp)
            db = replayed_archive(folder)
            with serve(folder, db) as srv:
                results = run(srv.port)
                print(f"server: {srv.status('Threads')} threads, RSS {srv.status('VmRSS') // 1024} MiB after the run")
    failed = sum(not r[1] for r in results)
    slowest = max(r[2] for r in results)
    if failed or slowest >= LIMIT_S:
        print(f"FAIL: {failed} failed, slowest {slowest:.2f} s (limit {LIMIT_S:.0f} s)")
        return 1
    print(f"ok: all {len(results)} succeeded, slowest {1000 * slowest:.0f} ms (< {LIMIT_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
