"""urlwatch (https://thp.io/2008/urlwatch/), the usual "watch a page for changes" tool, as a
contender of the poll benchmarks (``bench_poll.py``, ``wordpress_cost.py``): installed from
PyPI in a virtualenv of its own, kept between runs in the temp folder (installing takes a
while), removed and made anew when it does not work."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import cli_env, traffic
from fakesite import FakeSite

URLWATCH_VENV = Path(tempfile.gettempdir()) / "icesco-bench-urlwatch-venv"


def ensure_urlwatch() -> tuple[Path | None, dict[str, Any]]:
    """urlwatch from PyPI in its own virtualenv: (path of the command or None, what happened)."""
    exe = URLWATCH_VENV / "bin" / "urlwatch"
    info: dict[str, Any] = {"venv": str(URLWATCH_VENV)}

    def version() -> str | None:
        try:
            out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
        except OSError:
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    if exe.exists() and (v := version()):
        return exe, {**info, "version": v, "installed_now": False}
    shutil.rmtree(URLWATCH_VENV, ignore_errors=True)
    print(f"[poll] installing urlwatch from PyPI into {URLWATCH_VENV} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-m", "venv", str(URLWATCH_VENV)], check=True, capture_output=True, timeout=120)
        pip = subprocess.run(
            [str(URLWATCH_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "urlwatch"],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, {**info, "error": f"cannot make the virtualenv: {exc}"}
    info["install_s"] = round(time.perf_counter() - started, 1)
    if pip.returncode != 0 or not (v := version()):
        tail = (pip.stderr or pip.stdout).strip().splitlines()[-3:]
        return None, {**info, "error": "pip install urlwatch failed: " + " | ".join(tail)}
    return exe, {**info, "version": v, "installed_now": True}


@dataclass
class Urlwatch:
    """One `url:` job on a listing URL, run against the fake site, its traffic counted."""

    folder: Path
    url: str
    exe: Path | None
    install_info: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.exe is not None

    @classmethod
    def create(cls, folder: Path, url: str) -> Urlwatch:
        exe, info = ensure_urlwatch()
        folder.mkdir(parents=True, exist_ok=True)
        # One `url:` job: the listing URL, as a user of urlwatch would watch it.
        (folder / "urls.yaml").write_text(f"name: ICESCO news listing\nurl: {url}\n", encoding="utf-8")
        return cls(folder, url, exe, info)

    def run(self, site: FakeSite) -> dict[str, Any]:
        assert self.exe is not None
        site.clear_hits()
        f = self.folder
        # No config file yet at the first run: urlwatch writes its default one (stdout
        # reporter only; e-mail, chat etc. disabled) and uses it.
        cmd = [
            str(self.exe),
            "--urls", str(f / "urls.yaml"),
            "--config", str(f / "urlwatch.yaml"),
            "--cache", str(f / "cache.db"),
            "--hooks", str(f / "hooks.py"),
        ]  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=cli_env(), cwd=f, timeout=120)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"urlwatch failed ({proc.returncode}): {proc.stderr[-2000:]}")
        reported = [w for w in ("NEW", "CHANGED", "ERROR") if f". {w}: " in proc.stdout]
        added = sum(1 for line in proc.stdout.splitlines() if line.startswith("+") and "entry-title" in line)
        return {
            **traffic(list(site.hits)),
            "new": 0,
            "reported": " ".join(reported) or "unchanged (nothing printed)",
            "diff_added_entry_lines": added,
            "wall_s": round(wall, 2),
        }
