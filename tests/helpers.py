"""Shared test helpers: paths, and running the real command line in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DUMPS = ROOT / "monitor" / "demo" / "dumps"
SAMPLES = ROOT / "tests" / "fixtures" / "samples"


def run_cli(
    *args: str, db: Path | None = None, config: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``icesco-monitor`` in a subprocess (a real crawl needs its own process)."""
    cmd = [sys.executable, "-m", "monitor.cli"]
    if config is not None:
        cmd += ["--config", str(config)]
    if db is not None:
        cmd += ["--db", str(db)]
    cmd += list(args)
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_PROXY="*", no_proxy="*")
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(var, None)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def crawl_json(*args: str, db: Path, config: Path | None = None) -> dict[str, Any]:
    proc = run_cli("crawl", "--json", *args, db=db, config=config)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])
