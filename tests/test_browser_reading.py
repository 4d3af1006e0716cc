"""The reader's pages in a real browser: the real service (``icesco-monitor serve``, a
subprocess) over the replayed bundled dumps plus an article stored then stored again edited,
and an Arabic one; headless Chromium (tests/browser.py) takes screenshots (saved under the
run's ``browser_out`` folder) and the DOM is checked against the archive. No page may log a
console message (a Content-Security-Policy violation is one)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from browser import Page, load, screenshot
from helpers import DUMPS, run_cli, serving

from crawler.items import ArticleItem
from monitor.archive import Archive
from monitor.config import Config

pytestmark = pytest.mark.integration

log = logging.getLogger(__name__)

EDITED = ArticleItem(
    title="ICESCO Council meets in Rabat",
    paragraphs=["The Executive Council met in Rabat.", "It adopted the plan for the year."],
    published_at="2026-11-20",
    slug="council-meets",
)
EDIT = ArticleItem(
    title=EDITED.title,
    paragraphs=["The Executive Council met in Rabat on Monday.", "It adopted the plan for the year."],
    published_at=EDITED.published_at,
    slug=EDITED.slug,
)
ARABIC = ArticleItem(
    title="الإيسيسكو تعقد ندوة عن التراث",
    paragraphs=[
        "عقدت منظمة العالم الإسلامي للتربية والعلوم والثقافة (إيسيسكو) ندوة في الرباط.",
        "وناقش المشاركون حماية التراث.",
    ],
    lang="ar",
    published_at="2026-11-19",
    slug="nadwa-turath",
)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The real service on a free port over the bundled dumps (replayed first), one article
    stored and then stored edited, and one Arabic article."""
    db = tmp_path / "svc.db"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        json.dumps(
            {
                "database": str(db),
                "replay": {"paths": [str(DUMPS)]},
                "service": {"mode": "replay", "crawl_every_minutes": 60, "crawl_jitter_seconds": 0},
            }
        ),
        encoding="utf-8",
    )
    replayed = run_cli("crawl", "--replay", *[str(f) for f in sorted(DUMPS.glob("*.txt"))], config=cfg)
    assert replayed.returncode == 0, replayed.stderr
    now = dt.datetime.now(dt.UTC)
    with Archive(db) as archive:
        archive.store([EDITED, ARABIC], now - dt.timedelta(days=2))
        assert archive.store([EDIT], now - dt.timedelta(days=1)).updated == [EDITED.id]
    with serving(cfg, tmp_path) as served:
        yield served.base, db
    assert served.returncode == 0, served.log


def _quiet(*pages: Page) -> None:
    """No console message at all on any page (so no CSP violation either)."""
    assert [(p.url, p.console) for p in pages] == [(p.url, ()) for p in pages]
    assert [v for p in pages for v in p.csp_violations] == []


def test_the_reading_pages_in_a_browser(chromium: str, service: tuple[str, Path], browser_out: Path) -> None:
    base, db = service
    started = time.monotonic()
    shots = {
        "index.png": screenshot(f"{base}/", browser_out / "index.png", 1280, 1400),
        "index-narrow.png": screenshot(f"{base}/", browser_out / "index-narrow.png", 390, 844),
        "edited.png": screenshot(f"{base}/articles/{EDITED.id}", browser_out / "edited.png", 1024, 1000),
        "arabic.png": screenshot(f"{base}/articles/{ARABIC.id}", browser_out / "arabic.png", 1024, 800),
        "arabic-index.png": screenshot(f"{base}/?lang=ar", browser_out / "arabic-index.png", 1024, 800),
    }
    index, edited, arabic, searched = (
        load(f"{base}/"),
        load(f"{base}/articles/{EDITED.id}"),
        load(f"{base}/articles/{ARABIC.id}"),
        load(f"{base}/?q=Council&lang=en"),
    )
    log.info("chromium: 9 runs in %.1f s", time.monotonic() - started)
    assert sorted(p.name for p in browser_out.iterdir()) == sorted(shots)
    assert all((browser_out / name).stat().st_size > 5000 for name in shots)  # a page, not a blank
    _quiet(*shots.values(), index, edited, arabic, searched)

    items = Config().feed.items
    with Archive(db, migrate=False) as archive:
        dated = [r.title for r in archive.articles(dated=True, limit=items)]
        undated = [r.title for r in archive.articles(dated=False, limit=items)]
        council = [r.title for r in archive.articles(search="Council", lang="en", dated=True, limit=items)]
        revisions = archive.revisions(EDITED.id)
    assert (len(dated), len(undated), dated[:2]) == (40, 12, [EDITED.title, ARABIC.title])
    assert [r.revision for r in revisions] == [1]

    doc = lxml.html.fromstring(index.dom)
    assert doc.xpath("//section[@aria-labelledby='dated']/ol/li/a[1]/text()") == dated
    assert doc.xpath("//section[@aria-labelledby='undated']/ol/li/a[1]/text()") == undated
    assert doc.xpath("string(//h2[@id='undated'])") == "Date unknown"
    assert doc.xpath("//section[@aria-labelledby='dated']/ol/li[@lang='ar']/a[@dir='rtl']/text()") == [ARABIC.title]

    doc = lxml.html.fromstring(edited.dom)
    assert (doc.get("lang"), doc.get("dir"), doc.xpath("string(//h1)")) == ("en", None, EDITED.title)
    assert [(e.tag, e.text_content()) for e in doc.xpath("//div[@class='diff']//*[self::ins or self::del]")] == [
        ("del", "Rabat."),
        ("ins", "Rabat on Monday."),
    ]
    assert doc.xpath("//h2/text()") == ["Edits"]

    doc = lxml.html.fromstring(arabic.dom)
    assert (doc.get("lang"), doc.get("dir"), doc.xpath("string(//h1)")) == ("ar", "rtl", ARABIC.title)
    assert doc.xpath("//article/p[not(@class)]/text()") == ARABIC.paragraphs

    doc = lxml.html.fromstring(searched.dom)
    assert doc.xpath("//section[@aria-labelledby='dated']/ol/li/a[1]/text()") == council
    assert EDITED.title in council
    assert doc.xpath("//p[@class='results']/a/@href") == ["/feed.xml?q=Council&lang=en"]
    assert doc.xpath("//nav[@aria-label='Languages']//a[@aria-current='page']/@href") == ["/?lang=en"]
