"""Hostile replays: one bad file is one counted error naming it; the others are stored."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import DUMPS, last_json, run_cli, write_config

pytestmark = pytest.mark.integration


def folder_with(tmp_path: Path) -> Path:
    folder = tmp_path / "dumps"
    folder.mkdir()
    for f in sorted(DUMPS.glob("*.txt")):
        shutil.copy(f, folder / f.name)
    return folder


def replay(tmp_path: Path, *paths: str, config: dict | None = None) -> tuple[int, dict]:
    cfg = write_config(tmp_path, "c.yaml", **{"database": "a.db", **(config or {})})
    proc = run_cli("crawl", "--replay", *paths, "--json", config=cfg)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, last_json(proc)


def make_bad(folder: Path, kind: str) -> Path:
    bad = folder / "005_bad.txt"
    if kind == "fifo":
        os.mkfifo(bad)
        return bad
    shutil.copy(next(iter(sorted(DUMPS.glob("*.txt")))), bad)
    bad.write_text(bad.read_text(encoding="utf-8").replace("ICESCO", "ICESCO (copy)"), encoding="utf-8")
    if kind == "nested-sidecar":
        (folder / "005_bad.txt.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    elif kind == "far-future":
        (folder / "005_bad.txt.json").write_text('{"captured_at": "9999-12-31T23:00:00Z"}', encoding="utf-8")
    elif kind == "too-big":
        bad.write_text("    Title\n\n" + "    A paragraph that goes on.\n\n" * 20_000, encoding="utf-8")
    return bad


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("nested-sidecar", "005_bad.txt.json: unreadable metadata: nested too deeply"),
        ("far-future", "005_bad.txt.json: captured_at '9999-12-31T23:00:00Z' is not a plausible capture time"),
        ("too-big", "005_bad.txt: 620,011 bytes, more than replay.max_dump_bytes (500,000)"),
    ],
)
def test_one_bad_file_is_one_error_and_the_rest_is_stored(tmp_path: Path, kind: str, why: str) -> None:
    folder = folder_with(tmp_path)
    make_bad(folder, kind)
    code, result = replay(tmp_path, str(folder), config={"replay": {"max_dump_bytes": 500_000}})
    assert (code, result["status"], result["new"], result["errors"]) == (0, "ok", 50, 1)
    assert result["messages"] == [f"{folder}/{why}"]


def test_a_fifo_or_a_device_is_refused_not_waited_for(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    code, result = replay(tmp_path, str(fifo), "/dev/zero")
    assert (code, result["status"], result["new"]) == (1, "failed", 0)
    assert result["messages"] == [
        f"{fifo}: not a regular file (a FIFO, device or socket is not read)",
        "/dev/zero: not a regular file (a FIFO, device or socket is not read)",
    ]
