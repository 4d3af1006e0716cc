"""Search feeds: ``/feed.xml?q=WORDS&category=…&lang=…`` (and every other format) from the
archive's full-text index, at bounded cost: a query's length is limited, a feed holds at
most ``feed.items`` articles, and built feeds are kept in a small LRU cache keyed by the
normalised query, the format and the archive's change marker (an archive change makes
every cached search stale, as it does the main feeds)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from feeds.formats import LANGUAGES

MAX_QUERY = 200  # characters of q, at most
MAX_CATEGORY = 100  # characters of category, at most
CACHED_SEARCHES = 128  # built search feeds kept (each at most feed.items articles)


K = TypeVar("K")
V = TypeVar("V")


class BadSearch(ValueError):
    """A search that is not answered (too long, an unknown language); its message says why."""


@dataclass(frozen=True)
class Search:
    """A search, normalised: words separated by one space, case folded, no quotes (they
    would be FTS syntax); the category as given (the archive ignores the case of its ASCII
    letters); the language one of LANGUAGES or ""."""

    words: str = ""
    category: str = ""
    lang: str = ""

    def __bool__(self) -> bool:
        return bool(self.words or self.category or self.lang)

    @classmethod
    def parse(cls, q: str, category: str, lang: str) -> Search:
        """The search of the query parameters; raises BadSearch."""
        if len(q) > MAX_QUERY:
            raise BadSearch(f"the search is too long: {len(q)} characters, at most {MAX_QUERY}")
        if len(category) > MAX_CATEGORY:
            raise BadSearch(f"the category is too long: {len(category)} characters, at most {MAX_CATEGORY}")
        lang = lang.strip().lower()
        if lang and lang not in LANGUAGES:
            raise BadSearch(f"unknown language {lang[:20]!r}: one of {', '.join(LANGUAGES)}")
        words = " ".join(q.replace('"', " ").casefold().split())
        return cls(words, " ".join(category.split()), lang)  # (SQLite folds the case of ASCII letters only)


class Recent(Generic[K, V]):
    """A mapping that keeps the ``size`` most recently used entries (thread-safe)."""

    def __init__(self, size: int = CACHED_SEARCHES) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        with self.lock:
            if key not in self.entries:
                return None
            self.entries.move_to_end(key)
            return self.entries[key]

    def put(self, key: K, value: V) -> None:
        with self.lock:
            self.entries[key] = value
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self.entries)
