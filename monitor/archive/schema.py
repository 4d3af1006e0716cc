"""The archive's tables, as migrations m001..m009 (sqlite-utils records which ones a
database has had; each runs once, in order). A change of schema is a new migration at the
end, never an edit of one that has run.

Tables: ``articles`` (one row per article, the latest version; ``articles_fts`` its
full-text index), ``revisions`` (the previous version of each edit), ``runs`` (one row per
crawl), ``listing_cache`` and ``pending_articles`` (the crawl frontier), ``sources`` and
``robots`` (how each start URL and host is read), ``subscriptions``, ``deliveries`` and
``delivered`` (the digest ledger), ``web_subscribers`` and ``opt_outs`` (readers who
subscribed or unsubscribed on the web).
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("icesco-monitor")

# The order of feeds, pages and 'articles': newest first (the index of m007 serves it). An
# article without a known date sorts at its order_date (m007), else the day it was first seen.
NEWEST = "COALESCE(published_at, order_date, substr(first_seen_at, 1, 10))"
# Then, on the same date, dated articles before undated ones, then the later seen first (as before).
NEWEST_ORDER = f"{NEWEST} DESC, (published_at IS NULL) ASC, first_seen_at DESC, id DESC"
OLDEST_ORDER = f"{NEWEST} ASC, (published_at IS NULL) DESC, first_seen_at ASC, id ASC"


@migrations()
def m001_articles(db: Database) -> None:
    _m001_articles_table(db)
    _m001_articles_index(db)
    _m001_revisions_runs_listings(db)


def _m001_articles_table(db: Database) -> None:
    db.table("articles").create(
        {
            "id": str,
            "url": str,
            "lang": str,
            "slug": str,
            "title": str,
            "subtitle": str,
            "body": str,
            "published_at": str,
            "modified_at": str,
            "categories": str,  # JSON list
            "first_seen_at": str,
            "last_seen_at": str,
            "last_fetched_at": str,  # last time its page was fetched (live crawls)
            "updated_at": str,  # last real edit
            "content_hash": str,
            "revision": int,
            "partial": int,
            "source": str,
        },
        pk="id",
        not_null={"title", "body", "first_seen_at", "last_seen_at", "content_hash", "lang"},
        defaults={"revision": 0, "partial": 0, "categories": "[]"},
    )


def _m001_articles_index(db: Database) -> None:
    db.table("articles").create_index(["url"])
    db.table("articles").create_index(["first_seen_at"])
    db.table("articles").create_index(["published_at"])
    db.table("articles").enable_fts(["title", "body"], tokenize="unicode61 remove_diacritics 2")
    # Index maintenance by trigger; an update re-indexes only when the text changed
    # (a crawl touches last_seen_at of every article it meets).
    db.execute(
        "CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN"
        " INSERT INTO articles_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body); END"
    )
    db.execute(
        "CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN"
        " INSERT INTO articles_fts (articles_fts, rowid, title, body)"
        " VALUES ('delete', old.rowid, old.title, old.body); END"
    )
    db.execute(
        "CREATE TRIGGER articles_au AFTER UPDATE OF title, body ON articles BEGIN"
        " INSERT INTO articles_fts (articles_fts, rowid, title, body)"
        " VALUES ('delete', old.rowid, old.title, old.body);"
        " INSERT INTO articles_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body); END"
    )


def _m001_revisions_runs_listings(db: Database) -> None:
    db.table("revisions").create(
        {
            "id": int,
            "article_id": str,
            "revision": int,
            "changed_at": str,
            "changed_fields": str,  # JSON list: title, subtitle, body
            "old_title": str,
            "old_subtitle": str,
            "old_body": str,
            "old_hash": str,
            "new_hash": str,
            "source": str,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db.table("revisions").create_index(["article_id", "revision"], unique=True)
    db.table("runs").create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "mode": str,  # live, replay
            "status": str,  # running, ok, failed
            "pages_fetched": int,
            "new": int,
            "updated": int,
            "unchanged": int,
            "errors": int,
            "messages": str,  # JSON list of error messages (first 50)
        },
        pk="id",
        defaults={"pages_fetched": 0, "new": 0, "updated": 0, "unchanged": 0, "errors": 0},
    )
    db.table("listing_cache").create(
        {
            "url": str,
            "page": int,
            "status": str,  # ok; pending: asked for but not read yet (retried by the next run)
            "etag": str,
            "last_modified": str,
            "links": str,
            "next_url": str,
            "fetched_at": str,
        },
        pk="url",
    )


@migrations()
def m002_publishing(db: Database) -> None:
    db.table("runs").add_column("source", str)  # what was crawled: start URLs or dump files (JSON)
    db.table("subscriptions").create(
        {"address": str, "subscribed_at": str, "last_due_at": str},
        pk="address",
    )
    db.table("deliveries").create(
        {
            "id": int,
            "address": str,
            "digest_key": str,  # the scheduled time the digest is for
            "message_id": str,
            "message": bytes,  # the exact bytes sent, so a re-send is the same message
            "article_ids": str,  # JSON list
            "status": str,  # sending, retry, sent, failed
            "attempts": int,
            "created_at": str,
            "next_attempt_at": str,
            "sent_at": str,
            "last_error": str,
        },
        pk="id",
        defaults={"attempts": 0},
    )
    db.table("deliveries").create_index(["address", "digest_key"], unique=True)
    db.table("deliveries").create_index(["status"])
    db.table("delivered").create(
        {"address": str, "article_id": str, "delivery_id": int},
        pk=("address", "article_id"),
    )


@migrations()
def m003_pending_articles(db: Database) -> None:
    # Article links met on a listing and not stored yet: the next run fetches them again.
    db.table("pending_articles").create(
        {"id": str, "url": str, "listed_at": str, "attempts": int}, pk="id", defaults={"attempts": 0}
    )
    db.table("articles").create_index(["updated_at"])
    # The order of feeds, pages and 'articles': newest first, without sorting the table.
    db.execute(
        "CREATE INDEX articles_newest ON articles"
        " (COALESCE(published_at, substr(first_seen_at, 1, 10)), first_seen_at, id)"
    )


@migrations()
def m004_fts_merging(db: Database) -> None:
    # Bulk replays write many small FTS segments; merging them 16 at a time instead of 4
    # cuts the indexing work by a tenth (a crisis merge still bounds the segment count).
    db.execute("INSERT INTO articles_fts (articles_fts, rank) VALUES ('automerge', 16)")


@migrations()
def m005_sources(db: Database) -> None:
    # How each start URL is read (rest, feed or html), what was discovered, and the REST
    # cursor (the newest modified_gmt stored) or the feed's validators.
    db.table("sources").create(
        {
            "start_url": str,
            "mode": str,
            "api_root": str,
            "category_id": int,
            "categories": str,  # JSON {id: name} of the site's categories (REST)
            "feed_url": str,
            "feed_etag": str,
            "feed_last_modified": str,
            "cursor": str,
            "checked_at": str,  # when the listing was last read to choose the source
            "last_error": str,  # why a better source was not used
        },
        pk="start_url",
    )
    # robots.txt per host, kept up to 24 hours (RFC 9309 allows it).
    db.table("robots").create({"host": str, "status": int, "body": bytes, "fetched_at": str}, pk="host")
    # Layout alarms of a run: what could not be read, and why (JSON list).
    db.table("runs").add_column("alarms", str)


@migrations()
def m006_sequence(db: Database) -> None:
    # Digests follow the order in which articles were first stored, by number, not by
    # time (stored times have one-second resolution, and a crawl stamps its articles
    # with the time it started, not the time it committed).
    #
    # Why a column of its own and not the rowid: articles has a TEXT primary key, so its
    # rowid is an implicit one that VACUUM may renumber, and the largest rowid may be
    # given again after a delete. `seq` is set once, by the trigger below, inside the
    # writing transaction: writers are serialised, so numbers grow in commit order (a
    # reader that saw max(seq) = n will never later meet an article numbered <= n that
    # it had not seen). Existing rows are numbered in first-seen order.
    db.execute("ALTER TABLE articles ADD COLUMN seq INTEGER")
    db.execute(
        "WITH numbered AS (SELECT rowid AS r, row_number() OVER (ORDER BY first_seen_at, rowid) AS n FROM articles)"
        " UPDATE articles SET seq = numbered.n FROM numbered WHERE numbered.r = articles.rowid"
    )
    db.execute("CREATE UNIQUE INDEX articles_seq ON articles (seq)")
    db.execute(
        "CREATE TRIGGER articles_seq_ai AFTER INSERT ON articles WHEN new.seq IS NULL BEGIN"
        " UPDATE articles SET seq = (SELECT COALESCE(max(seq), 0) + 1 FROM articles) WHERE rowid = new.rowid; END"
    )
    # A subscription starts after a number (articles numbered above it are for the
    # subscriber) and keeps a position: every article numbered up to it was either put
    # in a digest or did not match the subscriber's filters. Existing subscriptions start
    # after what was first seen before they were recorded (the old rule, `>=`, kept
    # exactly once: no article is lost, and the ledger stops any one being sent twice).
    db.execute("ALTER TABLE subscriptions ADD COLUMN after_seq INTEGER")
    db.execute("ALTER TABLE subscriptions ADD COLUMN position INTEGER")
    db.execute(
        "UPDATE subscriptions SET after_seq ="
        " (SELECT COALESCE(max(seq), 0) FROM articles WHERE first_seen_at < subscriptions.subscribed_at)"
    )
    db.execute("UPDATE subscriptions SET position = after_seq")
    # The numbers a digest covers: (first_seq - 1, last_seq]; its matching articles are in it.
    db.execute("ALTER TABLE deliveries ADD COLUMN first_seq INTEGER")
    db.execute("ALTER TABLE deliveries ADD COLUMN last_seq INTEGER")
    # Sent messages whose bytes are still kept, by age: pruning reads only those.
    db.execute("CREATE INDEX deliveries_kept ON deliveries (sent_at) WHERE message IS NOT NULL AND status = 'sent'")


@migrations()
def m007_order(db: Database) -> None:
    # An article without a known date (the 2020 dump has no years) is not newer than the
    # dated ones stored before it: it sorts at `order_date`, the newest publication among
    # the articles with a smaller `seq` (by sequence, not by the clock; set at insert by
    # monitor/archive/articles.py), and feeds date it so. NULL for a dated article (its
    # own date counts) and for an undated one with no dated article before it.
    db.execute("ALTER TABLE articles ADD COLUMN order_date TEXT")
    newest: str | None = None
    dates: list[tuple[str, int]] = []
    for rowid, published in db.execute("SELECT rowid, published_at FROM articles ORDER BY seq").fetchall():
        if published:
            newest = published if newest is None else max(newest, published)
        elif newest is not None:
            dates.append((newest, rowid))
    db.conn.executemany("UPDATE articles SET order_date = ? WHERE rowid = ?", dates)
    db.execute("DROP INDEX articles_newest")
    db.execute(f"CREATE INDEX articles_newest ON articles ({NEWEST_ORDER})")
    # The newest publication so far, read at each insert: an index look-up (m001's
    # idx_articles_published_at; this second one is dropped by m009).
    db.execute("CREATE INDEX articles_published ON articles (published_at)")


@migrations()
def m008_web_subscribers(db: Database) -> None:
    # Readers who subscribed on the web (or whom the operator added with `subscribers add`):
    # their choices and their state (pending until the mailed link is confirmed, active,
    # ended). Their digest ledger is that of every subscriber (subscriptions, deliveries),
    # started when they become active. `token_at` is when the last confirmation mail was
    # asked for: a confirmation link carries it, so only the latest link confirms.
    db.table("web_subscribers").create(
        {
            "address": str,
            "cadence": str,
            "languages": str,  # JSON list; empty: all
            "keywords": str,  # JSON list; empty: all
            "edits": int,  # 1: edited articles are listed in digests too
            "status": str,  # pending, active, ended
            "source": str,  # web (the form), cli (the operator)
            "created_at": str,
            "token_at": str,
            "confirmed_at": str,
            "ended_at": str,
        },
        pk="address",
        not_null={"cadence", "status", "source", "created_at"},
        defaults={"languages": "[]", "keywords": "[]", "edits": 0},
    )
    # Subscribers who opted in to edits (`edits: true`) get the articles they were sent
    # that were edited since their last digest: the revisions numbered up to
    # `edit_position` have been considered (a revision's id only grows). NULL: none yet.
    db.execute("ALTER TABLE subscriptions ADD COLUMN edit_position INTEGER")
    db.execute("UPDATE subscriptions SET edit_position = (SELECT max(id) FROM revisions)")
    # Subscribers of config.yaml who unsubscribed with a digest's link: no more mail to them
    # (RFC 8058 one-click), whatever the file says, until the operator adds them again.
    db.table("opt_outs").create({"address": str, "at": str}, pk="address")


@migrations()
def m009_one_published_index(db: Database) -> None:
    # m007 indexed published_at again (articles_published) beside m001's
    # idx_articles_published_at: every write kept two equal indexes. One is enough.
    db.execute("DROP INDEX IF EXISTS articles_published")
