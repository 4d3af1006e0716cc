"""What an edit changed, word by word: a diff of two article bodies for readers.

Pure. ``word_diff(old, new)`` takes the paragraphs of two versions and returns a ``WordDiff``:
segments of kind same, added or removed, in reading order. How readers see it (HTML, one
line) is :mod:`feeds.diff_views`.

Words are what whitespace separates, punctuation attached: ``Rabat,`` is one word, and a
mark standing alone (French ``Rabat :``, ``« Culture »``, an Arabic ``،`` after a space, a
dash) joins its neighbour (an opening mark the next word, any other the previous one), so an
edit never shows a lone colon. Words are compared in Unicode NFC with any whitespace inside
them as one space: re-encoding or a no-break space is not an edit. A paragraph break is a
token of its own (``PARAGRAPH``), so a paragraph added, removed, split or joined shows too.
"""

from __future__ import annotations

import difflib
import enum
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PARAGRAPH = "\n\n"  # the token between two paragraphs
_OPENING = {"Ps", "Pi"}  # ( [ « “ ‘: attached to the word after
_KEPT_SPACES = {"\u00a0", "\u202f"}  # no-break spaces (French typography) inside a word stay


class Kind(enum.StrEnum):
    SAME = "same"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class Segment:
    kind: Kind
    words: tuple[str, ...]  # PARAGRAPH marks a paragraph break

    @property
    def word_count(self) -> int:
        return sum(1 for w in self.words if w != PARAGRAPH)


@dataclass(frozen=True)
class WordDiff:
    segments: tuple[Segment, ...]

    @property
    def added(self) -> int:
        return sum(s.word_count for s in self.segments if s.kind is Kind.ADDED)

    @property
    def removed(self) -> int:
        return sum(s.word_count for s in self.segments if s.kind is Kind.REMOVED)

    @property
    def changed(self) -> bool:
        return any(s.kind is not Kind.SAME for s in self.segments)

    @property
    def places(self) -> int:
        """How many places in the text have words changed (a removal and an addition side by
        side are one place)."""
        return sum(1 for start, end in self.changes() if any(s.word_count for s in self.segments[start:end]))

    def changes(self) -> list[tuple[int, int]]:
        """The changes as slices of ``segments`` (start, end): a removal, an addition, or both."""
        out: list[tuple[int, int]] = []
        for i, seg in enumerate(self.segments):
            if seg.kind is Kind.SAME:
                continue
            if out and out[-1][1] == i:
                out[-1] = (out[-1][0], i + 1)
            else:
                out.append((i, i + 1))
        return out


def split_body(body: str) -> list[str]:
    """The paragraphs of an archived body (paragraphs are separated by a blank line)."""
    return [p.strip() for p in body.split("\n\n") if p.strip()]


def words(paragraph: str) -> list[str]:
    """A paragraph's words, punctuation attached (see the module's docstring)."""
    groups: list[list[tuple[str, str]]] = []
    waiting = False  # the last group holds marks only, waiting for their word
    for sep, piece in re.findall(r"(\s*)(\S+)", paragraph):
        sep = sep if sep in _KEPT_SPACES else " "
        mark = _is_mark(piece)
        opening = mark and all(unicodedata.category(c) in _OPENING for c in piece)
        if groups and (waiting or (mark and not opening)):
            groups[-1].append((sep, piece))  # a word after its opening marks, or a closing mark
        else:
            groups.append([("", piece)])
        waiting = mark and (waiting or opening or len(groups[-1]) == 1)
    return ["".join(sep + piece for sep, piece in group) for group in groups]


def word_diff(old: Sequence[str], new: Sequence[str]) -> WordDiff:
    """The word diff from the paragraphs ``old`` to the paragraphs ``new``."""
    a, b = _tokens(old), _tokens(new)
    matcher = difflib.SequenceMatcher(None, [_key(w) for w in a], [_key(w) for w in b], autojunk=False)
    raw: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            raw.append(Segment(Kind.SAME, tuple(b[j1:j2])))
            continue
        if i2 > i1:
            raw.append(Segment(Kind.REMOVED, tuple(a[i1:i2])))
        if j2 > j1:
            raw.append(Segment(Kind.ADDED, tuple(b[j1:j2])))
    return WordDiff(tuple(_absorb_short_equalities(_merged(raw))))


# --- helpers ---------------------------------------------------------------------------------


def _tokens(paragraphs: Iterable[str]) -> list[str]:
    out: list[str] = []
    for paragraph in paragraphs:
        found = words(paragraph)
        if found:
            if out:
                out.append(PARAGRAPH)
            out.extend(found)
    return out


def _key(word: str) -> str:
    return word if word == PARAGRAPH else " ".join(unicodedata.normalize("NFC", word).split())


def _absorb_short_equalities(segments: list[Segment]) -> list[Segment]:
    """An unchanged run between two rewrites (words removed and added on each side), no
    longer than either, becomes part of one rewrite (after diff-match-patch's semantic
    clean-up): a lone "the" left standing between two rewritten phrases reads worse than the
    two phrases. Insertions and deletions keep their context; paragraph breaks stay."""
    segs = segments
    i = 1
    while i < len(segs) - 1:
        seg = segs[i]
        if seg.kind is Kind.SAME and PARAGRAPH not in seg.words:
            if seg.word_count <= min(_rewrite_size(segs, i, -1), _rewrite_size(segs, i, 1)):
                segs = _merged(
                    [*segs[:i], Segment(Kind.REMOVED, seg.words), Segment(Kind.ADDED, seg.words), *segs[i + 1 :]]
                )
                i = 1
                continue
        i += 1
    return segs


def _rewrite_size(segs: list[Segment], i: int, step: int) -> int:
    """The longer side of the rewrite next to segs[i]; 0 when it is not a rewrite."""
    j = i + step
    group = []
    while 0 <= j < len(segs) and segs[j].kind is not Kind.SAME:
        group.append(segs[j])
        j += step
    if {s.kind for s in group} != {Kind.REMOVED, Kind.ADDED}:
        return 0
    return max(s.word_count for s in group)


def _is_mark(piece: str) -> bool:
    return all(unicodedata.category(c)[0] in "PS" for c in piece)


def _merged(segments: Iterable[Segment]) -> list[Segment]:
    """Runs of unchanged segments as one; runs of changes as one removal then one addition."""
    out: list[Segment] = []
    for seg in segments:
        if not seg.words:
            continue
        if seg.kind is Kind.SAME:
            if out and out[-1].kind is Kind.SAME:
                out[-1] = Segment(Kind.SAME, out[-1].words + seg.words)
            else:
                out.append(seg)
            continue
        start = len(out)
        while start > 0 and out[start - 1].kind is not Kind.SAME:
            start -= 1
        change = [*out[start:], seg]
        removed = tuple(w for s in change if s.kind is Kind.REMOVED for w in s.words)
        added = tuple(w for s in change if s.kind is Kind.ADDED for w in s.words)
        out[start:] = [Segment(k, ws) for k, ws in ((Kind.REMOVED, removed), (Kind.ADDED, added)) if ws]
    return out
