"""What an edit changed, word by word: a diff of two article bodies for readers.

Pure. ``word_diff(old, new)`` takes the paragraphs of two versions and returns a ``WordDiff``:
segments of kind same, added or removed, in reading order. ``render_html`` shows it with
``<del>``/``<ins>`` (text escaped, long unchanged runs cut to a few words around each change),
``summary`` says it in one bounded line for a feed entry or a digest.

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
import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PARAGRAPH = "\n\n"  # the token between two paragraphs
CONTEXT_WORDS = 8  # unchanged words shown on each side of a change
SUMMARY_CHARS = 120  # the most a summary line may take
MIN_SUMMARY_CHARS = 60  # room for the counts ("1,234 words added, 1,234 removed in 12 places")
MIN_QUOTE_CHARS = 8  # a shorter quote is left out
ELLIPSIS = "…"
_OPENING = {"Ps", "Pi"}  # ( [ « “ ‘: attached to the word after
_KEPT_SPACES = {"\u00a0", "\u202f"}  # no-break spaces (French typography) inside a word stay
_RTL = {"R", "AL"}


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


def render_html(diff: WordDiff, context: int = CONTEXT_WORDS) -> str:
    """The diff as HTML paragraphs (``<p>``, ``<del>``, ``<ins>``; text escaped for element
    content). Unchanged text keeps ``context`` words on each side of a change, the rest is
    one ``…``; a paragraph break that alone was added or removed shows as a marked ``¶``.
    Empty when nothing changed."""
    if context < 1:
        raise ValueError("context must be at least one word")
    if not diff.changed:
        return ""
    paragraphs: list[list[str]] = [[]]
    last = len(diff.segments) - 1
    for i, seg in enumerate(diff.segments):
        shown = seg.words
        if seg.kind is Kind.SAME:
            shown = _collapsed(seg.words, context, first=i == 0, last=i == last)
        run: list[str] = []
        for token in shown:
            if token != PARAGRAPH:
                run.append(token)
                continue
            if run:
                paragraphs[-1].append(_marked(seg.kind, run))
                run = []
            elif seg.kind is not Kind.SAME and not seg.word_count:
                paragraphs[-1].append(_marked(seg.kind, ["¶"]))
            paragraphs.append([])
        if run:
            paragraphs[-1].append(_marked(seg.kind, run))
    return "\n".join(f"<p>{' '.join(p)}</p>" for p in paragraphs if p)


def summary(diff: WordDiff, limit: int = SUMMARY_CHARS) -> str:
    """One plain line: how many words were added and removed, in how many places, and the
    first change quoted (the words added there, else those removed), cut to fit ``limit``
    characters (at least MIN_SUMMARY_CHARS)."""
    if limit < MIN_SUMMARY_CHARS:
        raise ValueError(f"a summary needs at least {MIN_SUMMARY_CHARS} characters")
    if not diff.changed:
        return "no change in the text"
    if not diff.added and not diff.removed:
        return "paragraphs split or joined, no words changed"
    counts = []
    if diff.added:
        counts.append(f"{_n(diff.added)} added")
    if diff.removed:
        counts.append(f"{diff.removed:,} removed" if counts else f"{_n(diff.removed)} removed")
    head = ", ".join(counts) + (f" in {diff.places} places" if diff.places > 1 else "")
    quoted = _quote(diff, limit - len(head) - len(': ""'))
    return f'{head}: "{quoted}"' if quoted else head


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


def _collapsed(tokens: tuple[str, ...], context: int, *, first: bool, last: bool) -> tuple[str, ...]:
    """An unchanged run cut to ``context`` words after the change before it and before the
    change after it (the first run keeps only its end, the last only its start)."""
    positions = [i for i, t in enumerate(tokens) if t != PARAGRAPH]
    keep_head = 0 if first else min(context, len(positions))
    keep_tail = 0 if last else min(context, len(positions) - keep_head)
    if len(positions) - keep_head - keep_tail < 3:  # cutting fewer words hides more than it saves
        return tokens
    head = tokens[: positions[keep_head - 1] + 1] if keep_head else ()
    tail = tokens[positions[len(positions) - keep_tail] :] if keep_tail else ()
    while head and head[-1] == PARAGRAPH:
        head = head[:-1]
    while tail and tail[0] == PARAGRAPH:
        tail = tail[1:]
    return (*head, ELLIPSIS, *tail)


def _marked(kind: Kind, run: list[str]) -> str:
    text = html.escape(" ".join(run), quote=False)
    if kind is Kind.ADDED:
        return f"<ins>{text}</ins>"
    if kind is Kind.REMOVED:
        return f"<del>{text}</del>"
    return text


def _n(count: int) -> str:
    return f"{count:,} word" if count == 1 else f"{count:,} words"


def _quote(diff: WordDiff, budget: int) -> str:
    """The words of the first change that has some (those added, else those removed), with
    ``…`` where the paragraph goes on or the words were cut; right-to-left text (Arabic) in a
    first-strong isolate, so that it reads right inside an English line."""
    segs = diff.segments
    start, end = next((a, b) for a, b in diff.changes() if any(s.word_count for s in segs[a:b]))
    chosen = max(segs[start:end], key=lambda s: (s.word_count > 0, s.kind is Kind.ADDED))
    before = segs[start - 1].words[-1] if start > 0 else PARAGRAPH
    after = segs[end].words[0] if end < len(segs) else PARAGRAPH
    lead = ELLIPSIS if PARAGRAPH not in (before, chosen.words[0]) else ""
    trail = ELLIPSIS if PARAGRAPH not in (after, chosen.words[-1]) else ""
    text = " ".join(" ".join(w for w in chosen.words if w != PARAGRAPH).split())
    rtl = any(unicodedata.bidirectional(c) in _RTL for c in text)
    room = budget - len(lead) - len(ELLIPSIS) - (2 if rtl else 0)
    if room < MIN_QUOTE_CHARS:
        return ""
    if len(text) + len(trail) > room + len(ELLIPSIS):  # does not fit: cut, and say so
        text, trail = _cut(text, room), ELLIPSIS
    return f"{lead}\u2068{text}\u2069{trail}" if rtl else f"{lead}{text}{trail}"


def _cut(text: str, room: int) -> str:
    """The words of ``text`` that fit in ``room`` characters; a first word too long for it is
    cut between characters (never between a letter and its combining marks)."""
    if len(text) <= room:
        return text
    head = text[: room + 1]
    if " " in head:
        return head.rsplit(" ", 1)[0].rstrip()
    cut = text[:room]
    while cut and unicodedata.combining(text[len(cut)]):
        cut = cut[:-1]
    return cut
