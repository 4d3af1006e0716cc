"""The load generator of the feed section: separate client processes, released at once,
each sending a bounded number of GETs to 127.0.0.1 (a new connection per request) within a
time limit; their counts and latencies put together."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from common import cli_env

# The load generator: a separate interpreter per client (the server's threads keep the GIL
# of this process to themselves), one new connection per request ("Connection: close"), a
# bounded number of requests and a time limit. Starts at an agreed wall-clock time.
LOAD_CLIENT = """
import http.client, json, sys, time
port, path, count, limit, start_at, etag = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
headers = {"Connection": "close"}
if etag:
    headers["If-None-Match"] = etag
while time.time() < start_at:
    time.sleep(0.001)
statuses, body, lat, errors = {}, 0, [], 0
t0 = time.time()
deadline = time.perf_counter() + limit
for _ in range(count):
    if time.perf_counter() > deadline:
        break
    s = time.perf_counter()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
    except OSError:
        errors += 1
        continue
    lat.append(time.perf_counter() - s)
    statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    body += len(data)
t1 = time.time()
lat.sort()
pick = lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 2) if lat else None
print(json.dumps({"done": len(lat), "errors": errors, "statuses": statuses, "body_bytes": body,
                  "t0": t0, "t1": t1, "p50_ms": pick(0.5), "p95_ms": pick(0.95), "max_ms": pick(1.0)}))
"""


def load_clients(port: int, path: str, clients: int, per_client: int, limit: float, etag: str) -> list[dict[str, Any]]:
    """What each load client process measured (all started, then released at once)."""
    start_at = time.time() + 1.5  # every client started and waiting
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOAD_CLIENT, str(port), path, str(per_client), str(limit), str(start_at), etag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
        )
        for _ in range(clients)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=limit + 60)
        if proc.returncode != 0:
            raise RuntimeError(f"load client failed: {err[-2000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def feed_load(port: int, path: str, clients: int, per_client: int, limit: float, etag: str) -> dict[str, Any]:
    results = load_clients(port, path, clients, per_client, limit, etag)
    done = sum(r["done"] for r in results)
    span = max(r["t1"] for r in results) - min(r["t0"] for r in results)
    statuses: dict[str, int] = {}
    for r in results:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    return {
        "clients": clients,
        "requests_asked": clients * per_client,
        "requests_done": done,
        "errors": sum(r["errors"] for r in results),
        "statuses": dict(sorted(statuses.items())),
        "body_bytes": sum(r["body_bytes"] for r in results),
        "seconds": round(span, 2),
        "req_per_s": round(done / span, 1) if span > 0 else None,
        "p50_ms": max(r["p50_ms"] or 0 for r in results),
        "p95_ms": max(r["p95_ms"] or 0 for r in results),
        "max_ms": max(r["max_ms"] or 0 for r in results),
        "hit_time_limit": done < clients * per_client,
    }
