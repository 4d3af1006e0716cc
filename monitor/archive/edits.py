"""What counts as an edit: pure rules that compare a newly read copy of an article with
what the archive holds of it, and say what storing the copy comes to.

- ``new``: the archive does not have it.
- ``unchanged``: the same text (white space and typography do not count), or a cut copy of
  the stored text (a dump cut inside the article, or maybe between its paragraphs): only
  when and where it was seen moves.
- ``completed``: the stored text was a cut copy and this one completes it: the text is
  replaced, no revision is kept.
- ``edited``: anything else; the stored text becomes a revision.

No SQL here: :mod:`monitor.archive.articles` reads the stored state and writes the verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from crawler.items import ArticleItem, normalise_text

Kind = Literal["new", "unchanged", "completed", "edited"]


@dataclass(frozen=True)
class StoredText:
    """What the rules read of a stored article (its row in ``articles``)."""

    id: str
    title: str
    subtitle: str | None
    body: str
    categories: str | None  # the JSON list as stored
    content_hash: str
    revision: int
    partial: int


@dataclass(frozen=True)
class Verdict:
    """What storing a copy comes to, and the values to write (computed once)."""

    kind: Kind
    body: str  # the copy's body and content hash
    content_hash: str
    categories: str  # JSON list to store: the copy's, with the stored ones of a known article
    changed: tuple[str, ...] = ()  # edited: the fields that changed (title, subtitle, body)


def paragraph_prefix(short: str, long: str) -> bool:
    """True if the paragraphs of ``short`` are the first paragraphs of ``long``."""
    a = [normalise_text(p) for p in short.split("\n\n")]
    b = [normalise_text(p) for p in long.split("\n\n")]
    return len(a) < len(b) and b[: len(a)] == a


def extends(old_body: str, new_body: str) -> bool:
    """True if new_body is old_body completed (a dump cut inside the article)."""
    old, new = normalise_text(old_body), normalise_text(new_body)
    cut = old.rsplit(" ", 1)[0] if " " in old else old
    return len(new) > len(old) and new.startswith(cut)


def categories_json(categories: Iterable[str], stored: str | None = None) -> str:
    """The categories to store (sorted, once each), with those of the stored JSON list."""
    return json.dumps(sorted(set(categories).union(json.loads(stored or "[]"))), ensure_ascii=False)


def is_copy(old: StoredText, item: ArticleItem, body: str, content_hash: str) -> bool:
    """The same text, or a cut copy of the stored one (not an edit)."""
    if old.content_hash == content_hash:
        return True
    return normalise_text(old.title) == normalise_text(item.title) and (
        (item.partial and extends(body, old.body)) or (item.maybe_cut and paragraph_prefix(body, old.body))
    )


def changed_fields(old: StoredText, item: ArticleItem, body: str) -> tuple[str, ...]:
    """The fields whose text differs (white space and typography do not count)."""
    pairs = (("title", old.title, item.title), ("subtitle", old.subtitle, item.subtitle), ("body", old.body, body))
    return tuple(name for name, a, b in pairs if normalise_text(a or "") != normalise_text(b or ""))


def judge(old: StoredText | None, item: ArticleItem) -> Verdict:
    """What storing ``item`` comes to, given what the archive holds of it (``old``)."""
    body, content_hash = item.body, item.content_hash
    if old is None:
        return Verdict("new", body, content_hash, categories_json(item.categories))
    categories = categories_json(item.categories, old.categories)
    if is_copy(old, item, body, content_hash):
        return Verdict("unchanged", body, content_hash, categories)
    if old.partial and extends(old.body, body):
        return Verdict("completed", body, content_hash, categories)
    return Verdict("edited", body, content_hash, categories, changed_fields(old, item, body))
