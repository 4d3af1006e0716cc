"""What a feed entry says of an article's last edit: one paragraph at the top of its
content, "Edited on 12 March 2026: 3 words added, 1 removed: "…"", from the article's last
revision (its previous version) and its current text, with :mod:`feeds.diff`. Pure."""

from __future__ import annotations

import datetime as dt
import html

from feeds.diff import split_body, word_diff
from feeds.diff_views import summary
from feeds.rows import ArticleRow, RevisionRow

_OTHER_FIELDS = ("title", "subtitle")  # what an edit may change besides the body


def edit_line(row: ArticleRow, revision: RevisionRow, when: dt.datetime) -> str:
    """One plain line: the edit's date (``when``, UTC) and what changed."""
    said = []
    if "body" in revision.changed_fields:
        said.append(summary(word_diff(split_body(revision.old_body), split_body(row.body))))
    for name in _OTHER_FIELDS:
        if name in revision.changed_fields:
            said.append(f"{name} changed")
    what = "; ".join(said) or "changed"
    day = when.astimezone(dt.UTC)
    return f"Edited on {day.day} {day:%B %Y}: {what}"


def edit_html(row: ArticleRow, revision: RevisionRow, when: dt.datetime) -> str:
    """The line as the first paragraph of an entry's HTML (escaped; left to right: it is English)."""
    return f'<p dir="ltr" lang="en"><em>{html.escape(edit_line(row, revision, when), quote=False)}</em></p>'
