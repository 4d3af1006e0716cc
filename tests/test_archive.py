"""The archive's dedup, revision and migration rules, on a real SQLite file."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from crawler.items import ArticleItem
from monitor.archive import Archive, ArchiveError, ArticleRow, RevisionRow

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)


def item(title: str = "ICESCO Holds a “Test” Event", paras: list[str] | None = None, **kw: object) -> ArticleItem:
    return ArticleItem(title=title, paragraphs=paras or ["It’s the first paragraph.", "The second – and last."], **kw)  # type: ignore[arg-type]


def counts(result) -> tuple[int, int, int]:
    return len(result.new), len(result.updated), len(result.unchanged)


def test_whitespace_and_typography_are_not_edits(db: Path) -> None:
    with Archive(db) as a:
        assert counts(a.store([item()], T0)) == (1, 0, 0)
        retyped = item('ICESCO  Holds a "Test" Event', ["It's the first\u00a0paragraph.", "The second - and last. "])
        assert counts(a.store([retyped], T1)) == (0, 0, 1)
        assert a.revisions() == []
        (row,) = a.articles()
        assert (row.title, row.first_seen_at, row.last_seen_at) == (
            "ICESCO Holds a “Test” Event",
            "2026-01-01T12:00:00+00:00",
            "2026-01-01T13:00:00+00:00",
        )


def test_an_edit_is_one_revision_with_the_previous_text(db: Path) -> None:
    with Archive(db) as a:
        a.store([item()], T0, fetched=True)
        result = a.store([item(paras=["It’s the first paragraph.", "A new ending."])], T1, fetched=True)
        assert counts(result) == (0, 1, 0)
        (rev,) = a.revisions()
        assert rev == RevisionRow(
            id=1,
            article_id=item().id,
            revision=1,
            changed_at="2026-01-01T13:00:00+00:00",
            changed_fields=("body",),
            old_title="ICESCO Holds a “Test” Event",
            old_subtitle=None,
            old_body="It’s the first paragraph.\n\nThe second – and last.",
            old_hash=item().content_hash,
            new_hash=item(paras=["It’s the first paragraph.", "A new ending."]).content_hash,
            source="",
        )
        assert a.revisions(item().id) == [rev]
        assert a.revisions("0000000000000000") == []
        (row,) = a.articles()
        assert (row.body, row.revision, row.updated_at) == (
            "It’s the first paragraph.\n\nA new ending.",
            1,
            "2026-01-01T13:00:00+00:00",
        )


def test_a_dump_article_met_on_the_live_site_is_the_same_row(db: Path) -> None:
    with Archive(db) as a:
        a.store([item(published_at=None)], T0)
        live = item(
            url="https://icesco.org/en/2026/01/01/icesco-holds-a-test-event/",
            slug="icesco-holds-a-test-event",
            published_at="2026-01-01T09:00:00+00:00",
            categories=["News"],
        )
        assert counts(a.store([live], T1, fetched=True)) == (0, 0, 1)
        (row,) = a.articles()
        assert (row.url, row.published_at, row.categories, row.last_fetched_at) == (
            "https://icesco.org/en/2026/01/01/icesco-holds-a-test-event/",
            "2026-01-01T09:00:00+00:00",
            ("News",),
            "2026-01-01T13:00:00+00:00",
        )


def test_a_cut_article_is_completed_not_revised(db: Path) -> None:
    with Archive(db) as a:
        a.store([item(paras=["It’s the first paragraph.", "The sec"], partial=True)], T0)
        assert counts(a.store([item()], T1, fetched=True)) == (0, 1, 0)
        assert a.revisions() == []
        (row,) = a.articles()
        assert (row.body, row.partial, row.revision) == (
            "It’s the first paragraph.\n\nThe second – and last.",
            0,
            0,
        )


def test_the_same_article_twice_in_a_snapshot_is_one_row(db: Path) -> None:
    with Archive(db) as a:
        assert counts(a.store([item(), item()], T0)) == (1, 0, 0)
        assert a.count() == 1


def test_times_must_be_timezone_aware(db: Path) -> None:
    with Archive(db) as a, pytest.raises(ValueError, match="timezone-aware"):
        a.store([item()], dt.datetime(2026, 1, 1))


def test_migrations_are_recorded_and_idempotent(db: Path) -> None:
    Archive(db).close()
    Archive(db).close()
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert names == [
            "m001_articles",
            "m002_publishing",
            "m003_pending_articles",
            "m004_fts_merging",
            "m005_sources",
            "m006_sequence",
            "m007_order",
            "m008_web_subscribers",
            "m009_one_published_index",
        ]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT k, v FROM articles_fts_config WHERE k = 'automerge'").fetchall() == [
            ("automerge", 16)
        ]


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ArchiveError, match=f"database {bad}: file is not a database"):
        Archive(bad)


def test_full_text_search_follows_edits_but_not_touches(db: Path) -> None:
    with Archive(db) as a:
        a.store([item()], T0)
        assert [r.title for r in a.articles(search="second")] == ["ICESCO Holds a “Test” Event"]
        a.store([item()], T1)  # unchanged: only last_seen_at moves
        a.store([item(paras=["It’s the first paragraph.", "A new ending."])], T1 + dt.timedelta(hours=1), fetched=True)
        assert a.articles(search="second") == []
        assert [r.title for r in a.articles(search="ending")] == ["ICESCO Holds a “Test” Event"]
        integrity = a.conn.execute("INSERT INTO articles_fts(articles_fts) VALUES('integrity-check')")
        assert integrity.fetchall() == []


def test_articles_by_language_and_with_or_without_a_date(db: Path) -> None:
    with Archive(db) as a:
        a.store([item("Undated one"), item("Dated en", published_at="2025-12-01")], T0)
        a.store([item("Dated ar", lang="ar", published_at="2025-12-02"), item("Undated two", lang="ar")], T1)
        a.store([item("Undated three", published_at=None)], T1 + dt.timedelta(hours=1))
        # all: newest first by date; an undated article is dated by the newest dated one stored
        # before it (after it on that date), or, with none before it, by when it was first seen
        assert [r.title for r in a.articles()] == [
            "Undated one",
            "Dated ar",
            "Undated three",
            "Undated two",
            "Dated en",
        ]
        assert [r.title for r in a.articles(dated=True)] == ["Dated ar", "Dated en"]
        assert [r.title for r in a.articles(dated=False)] == ["Undated three", "Undated two", "Undated one"]  # by seq
        assert [r.title for r in a.articles(dated=False, order="oldest")] == [
            "Undated one",
            "Undated two",
            "Undated three",
        ]
        assert [r.title for r in a.articles(lang="ar")] == ["Dated ar", "Undated two"]
        assert [r.title for r in a.articles(lang="ar", dated=False, search="undated")] == ["Undated two"]
        assert [r.title for r in a.articles(search='" "', lang="fr")] == []  # no words: no search, no French
        assert [r.title for r in a.articles(search='""', dated=True)] == ["Dated ar", "Dated en"]


def test_an_old_database_is_migrated_without_loss(db: Path) -> None:
    from sqlite_utils import Database

    from monitor.archive import migrations

    old = Database(db)
    migrations.apply(old, stop_before="m002_publishing")
    old.conn.close()
    with sqlite3.connect(db) as conn:  # a version-1 archive with one article
        conn.execute(
            "INSERT INTO articles (id, lang, title, body, first_seen_at, last_seen_at, content_hash)"
            " VALUES ('0123456789abcdef', 'en', 'T', 'B', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', 'h')"
        )
    with Archive(db) as a:
        assert [(r.id, r.title, r.body, r.seq) for r in a.articles()] == [("0123456789abcdef", "T", "B", 1)]
        assert a.start_run("replay", T0, ["x.txt"]) == 1
        assert a.replayed_sources() == set()


def test_a_shorter_text_is_an_edit_unless_the_copy_may_be_cut(db: Path) -> None:
    with Archive(db) as a:
        a.store([item()], T0)
        # A dump whose last article may have been cut between paragraphs: not an edit.
        assert counts(a.store([item(paras=["It’s the first paragraph."], maybe_cut=True)], T1)) == (0, 0, 1)
        # The same shorter text anywhere else is a real edit (a paragraph was retracted).
        assert counts(a.store([item(paras=["It’s the first paragraph."])], T1)) == (0, 1, 0)
        # So is a changed last word, even in a cut copy.
        a.store([item(paras=["It’s the first paragraph.", "The second – and first."], partial=True)], T1)
        assert [r.changed_fields for r in a.revisions()] == [("body",), ("body",)]


def test_snapshots_committed_together_are_still_stored_one_by_one(db: Path) -> None:
    with Archive(db) as a:
        results = a.store_snapshots([[item()], [item(paras=["It’s the first paragraph.", "Edited."])]], T0)
        assert [counts(r) for r in results] == [(1, 0, 0), (0, 1, 0)]
        assert [r.revision for r in a.revisions()] == [1]


def test_an_article_reads_back_as_one_typed_row(db: Path) -> None:
    live = item(
        url="https://icesco.org/en/2026/01/01/icesco-holds-a-test-event/",
        published_at="2026-01-01T09:00:00+00:00",
        categories=["News", "Events", "News"],
        source="https://icesco.org/en/2026/01/01/icesco-holds-a-test-event/",
    )
    with Archive(db) as a:
        a.store([live], T0, fetched=True)
        expected = ArticleRow(
            id=live.id,
            url="https://icesco.org/en/2026/01/01/icesco-holds-a-test-event/",
            lang="en",
            slug="icesco-holds-a-test-event",
            title="ICESCO Holds a “Test” Event",
            subtitle=None,
            body="It’s the first paragraph.\n\nThe second – and last.",
            published_at="2026-01-01T09:00:00+00:00",
            modified_at=None,
            categories=("Events", "News"),
            first_seen_at="2026-01-01T12:00:00+00:00",
            last_seen_at="2026-01-01T12:00:00+00:00",
            last_fetched_at="2026-01-01T12:00:00+00:00",
            updated_at=None,
            content_hash=live.content_hash,
            revision=0,
            partial=0,
            source="https://icesco.org/en/2026/01/01/icesco-holds-a-test-event/",
            seq=1,
        )
        assert a.article(live.id) == expected
        assert a.articles() == [expected]
        assert a.article("0000000000000000") is None


# --- one exception at the edge, naming the database -----------------------------------------


def corrupt_table(db: Path, table: str) -> None:
    """Overwrite the root page of ``table`` in the database file, as a bad disk or a stray
    write would (the database is closed and its WAL checkpointed first)."""
    with Archive(db) as a:
        a.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (root,) = a.conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        (size,) = a.conn.execute("PRAGMA page_size").fetchone()
    with open(db, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xff" * size)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda a: a.articles(), id="articles"),
        pytest.param(lambda a: a.article(item().id), id="article"),
        pytest.param(lambda a: a.store([item(paras=["Edited."])], T1), id="store"),
        pytest.param(lambda a: a.undelivered("reader@example.org", 0, 9, 10), id="undelivered"),
        pytest.param(lambda a: a.due_for_revisit(T1, T0 - dt.timedelta(days=14)), id="due_for_revisit"),
    ],
)
def test_a_corrupted_database_file_is_an_archive_error_naming_it(db: Path, call) -> None:
    with Archive(db) as a:
        a.store([item(), item("Another Event")], T0, fetched=True)
    corrupt_table(db, "articles")
    with Archive(db) as a, pytest.raises(ArchiveError) as caught:
        call(a)
    assert str(caught.value) == f"database {db}: database disk image is malformed"
    assert (caught.value.path, caught.value.reason) == (db, "database disk image is malformed")
    assert type(caught.value.__cause__) is sqlite3.DatabaseError


def test_a_refused_write_is_an_archive_error_and_the_snapshot_is_not_half_stored(db: Path) -> None:
    with Archive(db) as a:
        a.store([item()], T0)
        a.conn.execute(
            "CREATE TRIGGER full_disk BEFORE INSERT ON revisions BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
        edited = item(paras=["It’s the first paragraph.", "A new ending."])
        with pytest.raises(ArchiveError) as caught:
            a.store([item("A New Article"), edited], T1)
        assert str(caught.value) == f"database {db}: database or disk is full"
        assert type(caught.value.__cause__) is sqlite3.IntegrityError
        assert [(r.title, r.body, r.revision) for r in a.articles()] == [
            ("ICESCO Holds a “Test” Event", "It’s the first paragraph.\n\nThe second – and last.", 0)
        ]


def test_every_public_method_raises_only_archive_errors() -> None:
    public = [name for name in dir(Archive) if not name.startswith("_") and callable(getattr(Archive, name))]
    assert [name for name in public if not hasattr(getattr(Archive, name), "__wrapped__")] == []
    # every part's methods are there: articles, frontier (the crawl state), runs, ledger
    assert {"store", "articles", "source", "get_listing", "finish_run", "create_delivery", "close"} <= set(public)


def test_published_at_has_one_index(db: Path) -> None:
    """m007 added a second index on published_at beside m001's; m009 drops it (every write
    kept both)."""
    with Archive(db) as a:
        indexes = a.conn.execute(
            "SELECT il.name FROM pragma_index_list('articles') AS il"
            " WHERE (SELECT group_concat(name) FROM pragma_index_info(il.name)) = 'published_at'"
        ).fetchall()
    assert indexes == [("idx_articles_published_at",)]
