"""An edited article's feed entry: ``updated`` is the edit's time and its content opens with
a line saying what the edit changed (feeds/diff.py), through the real WSGI app on waitress,
read with feedparser."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import feedparser
import pytest
from helpers import get

from crawler.items import ArticleItem
from monitor.archive import Archive
from monitor.config import Config
from monitor.web import FeedCache, WebServer

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 3, 10, 8, tzinfo=dt.UTC)
EDITED = dt.datetime(2026, 3, 12, 9, 30, tzinfo=dt.UTC)


def _article(n: int, body: list[str], title: str = "") -> ArticleItem:
    return ArticleItem(
        title=title or f"Article {n}",
        paragraphs=body,
        published_at=f"2026-03-0{n}",
        url=f"https://icesco.org/en/2026/03/0{n}/article-{n}/",
        slug=f"article-{n}",
    )


def test_an_edited_entry_says_what_changed(tmp_path: Path) -> None:
    cfg = Config(database=str(tmp_path / "edits.db"))
    with Archive(cfg.database) as a:
        a.store(
            [
                _article(1, ["The forum opens in Rabat today."]),
                _article(2, ["Unchanged text."]),
                _article(3, ["Same body."], title="Old title"),
            ],
            T0,
        )
        a.store(
            [
                _article(1, ["The youth forum opens in Rabat on Monday."]),
                _article(2, ["Unchanged text."]),
                _article(3, ["Same body."], title="New title"),
            ],
            EDITED,
        )
    feeds = FeedCache(cfg)
    srv = WebServer(cfg, feeds, "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        rss, atom, json_feed = (get(f"{base}/{path}")[2] for path in ("feed.xml", "en/atom.xml", "feed.json"))
    finally:
        srv.shutdown()
        srv.server_close()
    note = 'Edited on 12 March 2026: 3 words added, 1 removed in 2 places: "…youth…"'
    for body in (rss, atom):
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0
        entries = {e.title: e for e in parsed.entries}
        assert entries["Article 1"].content[0].value == (
            f'<p dir="ltr" lang="en"><em>{note}</em></p><p>The youth forum opens in Rabat on Monday.</p>'
        )
        assert entries["Article 2"].content[0].value == "<p>Unchanged text.</p>"  # never edited
        assert entries["New title"].content[0].value == (
            '<p dir="ltr" lang="en"><em>Edited on 12 March 2026: title changed</em></p><p>Same body.</p>'
        )
    atom_entries = {e.title: e for e in feedparser.parse(atom).entries}
    assert atom_entries["Article 1"].updated == "2026-03-12T09:30:00+00:00"
    assert atom_entries["Article 2"].updated == "2026-03-02T00:00:00+00:00"
    items = {i["title"]: i for i in json.loads(json_feed)["items"]}
    assert (items["Article 1"]["date_modified"], items["Article 1"]["content_html"]) == (
        "2026-03-12T09:30:00+00:00",
        f'<p dir="ltr" lang="en"><em>{note}</em></p><p>The youth forum opens in Rabat on Monday.</p>',
    )
    assert "date_modified" not in items["Article 2"]


def test_the_revisions_of_all_feeds_are_read_in_one_query(tmp_path: Path) -> None:
    cfg = Config(database=str(tmp_path / "many.db"))
    with Archive(cfg.database) as a:
        a.store([_article(n, [f"Text {n}."]) for n in range(1, 8)], T0)
        a.store([_article(n, [f"Text {n}, edited."]) for n in range(1, 8)], EDITED)
        statements: list[str] = []
        a.conn.set_trace_callback(statements.append)
        try:
            FeedCache(cfg).refresh(a)
        finally:
            a.conn.set_trace_callback(None)
        assert len(a.revisions()) == 7
    reading = [s for s in statements if "FROM revisions" in s]
    # One for every feed of the rebuild (combined, en, fr, ar), whatever the number of
    # edited rows.
    assert len(reading) == 1
