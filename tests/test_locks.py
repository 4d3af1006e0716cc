"""Locks are keyed on the database file, not on the name it is reached by."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.locks import LockError, file_lock, lock_path

pytestmark = pytest.mark.unit


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with file_lock(lock_path(db, "crawl"), "a crawl"):
        with pytest.raises(LockError, match=rf"^a crawl is already running \(pid {os.getpid()}; lock file "):
            with file_lock(lock_path(db, "crawl"), "a crawl"):
                pass
        with file_lock(lock_path(db, "digest"), "a digest run"):  # another kind of work: allowed
            pass
    with file_lock(lock_path(db, "crawl"), "a crawl"):  # released
        pass


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_another_name_of_the_same_database_meets_the_same_lock(tmp_path: Path, link: str) -> None:
    db = tmp_path / "a.db"
    db.write_bytes(b"")
    other = tmp_path / "sub" / "b.db"
    other.parent.mkdir()
    (other.symlink_to if link == "symlink" else other.hardlink_to)(db)
    with file_lock(lock_path(db, "service"), "a service"):
        with pytest.raises(LockError, match=r"^a service is already running on the same database file"):
            with file_lock(lock_path(other, "service"), "a service"):
                pass
