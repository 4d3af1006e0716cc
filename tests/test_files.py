"""feeds/files.py: the project's one atomic writer (feeds, feed files, outbox messages)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from feeds.files import write_atomic

pytestmark = pytest.mark.unit


def test_write_atomic_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "feed.xml"
    target.write_bytes(b"old")
    write_atomic(target, b"<new/>")
    assert target.read_bytes() == b"<new/>"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feed.xml"]
    write_atomic(tmp_path / "atom.xml", b"")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atom.xml", "feed.xml"]


def test_write_atomic_cleans_up_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "feed.xml"
    target.write_bytes(b"old")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feed.xml"]


def test_write_atomic_into_a_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "feed.xml", b"x")
    assert list(tmp_path.iterdir()) == []
