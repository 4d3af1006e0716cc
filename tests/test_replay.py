"""Replaying dumps through the real spider and pipeline, and the command line around it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from helpers import DUMPS, SAMPLES, crawl_json, run_cli

pytestmark = pytest.mark.integration


def count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])


def test_replaying_the_five_dumps_gives_50_articles_and_again_none(db: Path) -> None:
    first = crawl_json("--replay", str(DUMPS), db=db)
    assert (first["mode"], first["status"], first["new"], first["updated"], first["unchanged"], first["errors"]) == (
        "replay",
        "ok",
        50,
        0,
        0,
        0,
    )
    assert first["pages_fetched"] == 5
    second = crawl_json("--replay", str(DUMPS), db=db)
    assert (second["new"], second["updated"], second["unchanged"], second["errors"]) == (0, 0, 50, 0)
    assert count(db) == 50
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT mode, status, pages_fetched, new, updated, unchanged, errors FROM runs").fetchall()
    assert runs == [("replay", "ok", 5, 50, 0, 0, 0), ("replay", "ok", 5, 0, 0, 50, 0)]


def test_crawl_replay_without_paths_reads_the_bundled_dumps(db: Path) -> None:
    assert crawl_json("--replay", db=db)["new"] == 50


def test_the_stored_row_is_whole(db: Path) -> None:
    crawl_json("--replay", str(SAMPLES / "article-en-2022-11-30.txt"), db=db)
    proc = run_cli("articles", "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    (row,) = [json.loads(line) for line in proc.stdout.splitlines()]
    stamps = {k: row.pop(k) for k in ("first_seen_at", "last_seen_at")}
    assert stamps["first_seen_at"] == stamps["last_seen_at"]
    assert stamps["first_seen_at"].endswith("+00:00")
    assert row.pop("body").startswith("Dr. Salim M. AlMalik, Director-General of the Islamic World")
    assert row == {
        "id": row["id"],
        "url": "https://icesco.org/en/2022/11/30/icesco-director-general-receives-delegation-from-kazakhstan-ministry-of-foreign-affairs/",
        "lang": "en",
        "slug": "icesco-director-general-receives-delegation-from-kazakhstan-ministry-of-foreign-affairs",
        "title": "ICESCO Director-General receives delegation from Kazakhstan Ministry of Foreign Affairs",
        "subtitle": None,
        "published_at": "2022-11-30",
        "modified_at": None,
        "categories": [],
        "last_fetched_at": None,
        "updated_at": None,
        "content_hash": row["content_hash"],
        "revision": 0,
        "partial": 0,
        "source": f"{SAMPLES / 'article-en-2022-11-30.txt'}#1",
        "seq": 1,  # the first article stored: digests follow this number, not the clock
        "order_date": None,  # dated: its own date orders it
    }
    assert len(row["id"]) == 16 and len(row["content_hash"]) == 64


def test_bad_dumps_fail_alone_and_nothing_stored_is_lost(tmp_path: Path, db: Path) -> None:
    good = crawl_json("--replay", str(DUMPS), db=db)
    assert good["new"] == 50
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "01-empty.txt").write_bytes(b"")
    (bad / "02-binary.txt").write_bytes(bytes(range(256)) * 4)
    (bad / "03-latin1.txt").write_bytes("Titre\n\nUn paragraphe accentué.\n".encode("latin-1"))
    (bad / "04-boilerplate-only.txt").write_text(
        "Disclaimer: You are using Google Translate.\n\nyour opinion\n\nUser Feedback\n", encoding="utf-8"
    )
    (bad / "05-truncated.txt").write_bytes((DUMPS / "001_5d01d3af697e6fda.txt").read_bytes()[:3000])
    (bad / "06-good.txt").write_text(
        "A Fresh Title Never Seen\n\nIts one paragraph, on 3 May 2024.\n", encoding="utf-8"
    )
    result = crawl_json("--replay", str(bad), db=db)
    assert result["status"] == "ok"
    # The cut dump's two articles are cut copies of stored ones: unchanged, not edits.
    assert (result["new"], result["updated"], result["unchanged"], result["errors"]) == (1, 0, 2, 4)
    assert result["messages"] == [
        f"{bad / '01-empty.txt'}: empty file",
        f"{bad / '02-binary.txt'}: binary file (NUL bytes), not a text dump",
        f"{bad / '03-latin1.txt'}: invalid UTF-8 at byte 28 (line 3)",
        f"{bad / '04-boilerplate-only.txt'}: no content after removing page boilerplate",
    ]
    assert count(db) == 51
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM revisions").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM articles WHERE partial = 1").fetchone() == (0,)


def test_a_missing_path_is_a_clear_error(db: Path, tmp_path: Path) -> None:
    proc = run_cli("crawl", "--replay", str(tmp_path / "nope"), db=db)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"icesco-monitor: no such file or folder: {tmp_path / 'nope'}"


def test_a_bad_config_value_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("crawl:\n  download_delay: fast\n", encoding="utf-8")
    proc = run_cli("status", config=cfg)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"icesco-monitor: bad configuration: {cfg}: crawl.download_delay: expected a number, got 'fast'"
    )
    cfg.write_text("crawl:\n  dowload_delay: 1\n", encoding="utf-8")
    proc = run_cli("status", config=cfg)
    assert proc.returncode == 2
    assert "crawl.dowload_delay: unknown key" in proc.stderr


def test_articles_search_since_and_status(db: Path) -> None:
    crawl_json("--replay", str(DUMPS), db=db)
    proc = run_cli("articles", "--search", "Tatarstan", "--json", db=db)
    titles = [json.loads(line)["title"] for line in proc.stdout.splitlines()]
    assert titles == [  # newest first (same day: by id); the Indonesia one names Tatarstan in its body only
        "ICESCO, Tatarstan Sign New Cultural Agreement in Celebration of Kazan as 2026 Cultural Capital in the Islamic World",
        "ICESCO Director-General Attends Jeddah Panel Marking Saudi–Russian Relations Centenary, with Tatarstan President Present",
        "ICESCO and Indonesia Discuss Ways to Strengthen Cooperation in Education, Science and Culture",
        "Tatarstan President Reaffirms Strengthened Cooperation with ICESCO",
    ]
    proc = run_cli("articles", "--since", "2026-02-09", "--json", db=db)
    dated = [(json.loads(line)["published_at"], json.loads(line)["title"][:40]) for line in proc.stdout.splitlines()]
    assert [d for d, _ in dated if d is not None and d < "2026-11-01"] == ["2026-02-10", "2026-02-09"]
    proc = run_cli("status", "--json", db=db)
    info = json.loads(proc.stdout)
    assert (info["articles"], info["revisions"], len(info["runs"])) == (50, 0, 1)
    assert info["database"] == str(db.resolve())


def test_config_rejects_non_finite_numbers_and_unquoted_times(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("service:\n  crawl_every_minutes: .nan\n", encoding="utf-8")
    proc = run_cli("status", config=cfg)
    assert (proc.returncode, proc.stderr.strip()) == (
        2,
        f"icesco-monitor: bad configuration: {cfg}: service.crawl_every_minutes: expected a number, got nan",
    )
    cfg.write_text("subscribers:\n  - address: reader@example.org\n    at: 7:30\n", encoding="utf-8")
    proc = run_cli("status", config=cfg)
    assert proc.returncode == 2
    assert 'subscribers[0].at: write the time in quotes, like "07:30"' in proc.stderr
    cfg.write_text("subscribers:\n  - address: 'a@b.com, c@d.com'\n", encoding="utf-8")
    proc = run_cli("status", config=cfg)
    assert proc.returncode == 2 and "subscribers[0].address:" in proc.stderr


def test_replay_reads_only_the_folder_it_was_given(tmp_path: Path, db: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("A Secret Title Outside\n\nNot to be read.\n", encoding="utf-8")
    folder = tmp_path / "dumps"
    folder.mkdir()
    (folder / "a.txt").write_text("A Title Inside\n\nRead this.\n", encoding="utf-8")
    (folder / "b.txt").symlink_to(outside)
    result = crawl_json("--replay", str(folder), db=db)
    assert (result["new"], result["pages_fetched"]) == (1, 1)
    proc = run_cli("articles", "--json", db=db)
    assert [json.loads(line)["title"] for line in proc.stdout.splitlines()] == ["A Title Inside"]
