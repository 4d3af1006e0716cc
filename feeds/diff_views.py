"""What an edit changed, as readers see it: ``render_html`` shows a :class:`~feeds.diff.WordDiff`
with ``<del>``/``<ins>`` (text escaped, long unchanged runs cut to a few words around each
change), ``summary`` says it in one bounded line for a feed entry or a digest. Pure.
"""

from __future__ import annotations

import html
import unicodedata

from feeds.diff import PARAGRAPH, Kind, WordDiff

CONTEXT_WORDS = 8  # unchanged words shown on each side of a change
SUMMARY_CHARS = 120  # the most a summary line may take
MIN_SUMMARY_CHARS = 60  # room for the counts ("1,234 words added, 1,234 removed in 12 places")
MIN_QUOTE_CHARS = 8  # a shorter quote is left out
ELLIPSIS = "…"
_RTL = {"R", "AL"}


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
