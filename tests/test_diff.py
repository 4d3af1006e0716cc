"""Word diffs of article edits (feeds/diff.py): tables of whole expected values."""

from __future__ import annotations

import unicodedata
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.diff import PARAGRAPH, Kind, Segment, WordDiff, split_body, word_diff, words
from feeds.diff_views import render_html, summary

pytestmark = pytest.mark.unit

SAME, ADDED, REMOVED = Kind.SAME, Kind.ADDED, Kind.REMOVED
P = PARAGRAPH


def seg(kind: Kind, text: str) -> Segment:
    """A segment from its words written with spaces ("¶" for a paragraph break)."""
    return Segment(kind, tuple(P if w == "¶" else w for w in text.split(" ")))


# 1,000 words in ten paragraphs of a hundred: word0 … word999.
LONG = [" ".join(f"word{i}" for i in range(k, k + 100)) for k in range(0, 1000, 100)]


def edited(index: int, new: str) -> list[str]:
    flat = " ".join(LONG).split(" ")
    flat[index] = new
    return [" ".join(flat[k : k + 100]) for k in range(0, 1000, 100)]


def run(first: int, last: int) -> str:
    return " ".join(f"word{i}" for i in range(first, last + 1))


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("ICESCO, in Rabat.", ["ICESCO,", "in", "Rabat."]),
        ("  a\tb\n c ", ["a", "b", "c"]),
        ("", []),
        ("dit « Culture » : « oui » !", ["dit", "« Culture » :", "« oui » !"]),
        ("dit «\u00a0Culture\u00a0»\u00a0:", ["dit", "«\u00a0Culture\u00a0»\u00a0:"]),  # no-break spaces kept
        ("l’ICESCO (Rabat) — Maroc", ["l’ICESCO", "(Rabat) —", "Maroc"]),
        ("— Bonjour à tous", ["— Bonjour", "à", "tous"]),
        ("100 € ou 5 %", ["100 €", "ou", "5 %"]),
        ("« »", ["« »"]),
        (
            "استقبل المدير العام للإيسيسكو ، سفير اليونان",
            ["استقبل", "المدير", "العام", "للإيسيسكو ،", "سفير", "اليونان"],
        ),
        ("هل هذا صحيح ؟", ["هل", "هذا", "صحيح ؟"]),
    ],
)
def test_words_keep_punctuation_with_their_word(paragraph: str, expected: list[str]) -> None:
    assert words(paragraph) == expected


def test_split_body_reads_the_archived_body() -> None:
    assert split_body("First one.\n\nSecond one.\n\n\n\n  Third.  \n\n") == ["First one.", "Second one.", "Third."]
    assert split_body("") == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(["Same text."], ["Same text."], [seg(SAME, "Same text.")], id="no-op"),
        pytest.param([], [], [], id="both empty"),
        pytest.param([], ["New text."], [seg(ADDED, "New text.")], id="from nothing"),
        pytest.param(
            ["Un café à Rabat."],
            [unicodedata.normalize("NFD", "Un café à Rabat.")],
            [seg(SAME, unicodedata.normalize("NFD", "Un café à Rabat."))],
            id="NFC or NFD is no edit",
        ),
        pytest.param(
            ["Il a dit « oui » : bien."],
            ["Il a dit «\u00a0oui\u00a0»\u00a0: bien."],
            [Segment(SAME, ("Il", "a", "dit", "«\u00a0oui\u00a0»\u00a0:", "bien."))],
            id="no-break spaces are no edit",
        ),
        pytest.param(
            ["The DG met the ambassador in Rabat on Monday."],
            ["The DG met the ambassador in Tunis on Monday."],
            [
                seg(SAME, "The DG met the ambassador in"),
                seg(REMOVED, "Rabat"),
                seg(ADDED, "Tunis"),
                seg(SAME, "on Monday."),
            ],
            id="one word",
        ),
        pytest.param(
            ["ICESCO, in Rabat, met the delegation."],
            ["ICESCO, in Rabat, Morocco, met the delegation."],
            [seg(SAME, "ICESCO, in Rabat,"), seg(ADDED, "Morocco,"), seg(SAME, "met the delegation.")],
            id="insertion",
        ),
        pytest.param(
            ["The minister met the ambassador in Rabat."],
            ["The director received the delegation in Rabat."],
            [
                seg(SAME, "The"),
                seg(REMOVED, "minister met the ambassador"),
                seg(ADDED, "director received the delegation"),
                seg(SAME, "in Rabat."),
            ],
            id="a lone 'the' between two rewrites joins them",
        ),
        pytest.param(
            ["First paragraph.", "Second paragraph."],
            ["First paragraph.", "A new one.", "Second paragraph."],
            [seg(SAME, "First paragraph. ¶"), seg(ADDED, "A new one. ¶"), seg(SAME, "Second paragraph.")],
            id="paragraph added",
        ),
        pytest.param(
            ["First paragraph.", "Gone now.", "Second paragraph."],
            ["First paragraph.", "Second paragraph."],
            [seg(SAME, "First paragraph. ¶"), seg(REMOVED, "Gone now. ¶"), seg(SAME, "Second paragraph.")],
            id="paragraph removed",
        ),
        pytest.param(
            ["One two.", "Three four."],
            ["One two. Three four."],
            [seg(SAME, "One two."), seg(REMOVED, "¶"), seg(SAME, "Three four.")],
            id="paragraphs joined",
        ),
        pytest.param(
            ["استقبل المدير العام للإيسيسكو، سفير اليونان في الرباط."],
            ["استقبل المدير العام للإيسيسكو، سفيرة اليونان لدى المملكة المغربية."],
            [
                seg(SAME, "استقبل المدير العام للإيسيسكو،"),
                seg(REMOVED, "سفير اليونان في الرباط."),
                seg(ADDED, "سفيرة اليونان لدى المملكة المغربية."),
            ],
            id="Arabic",
        ),
        pytest.param(
            ["Le DG a reçu « l’ambassadeur » à Rabat."],
            ["Le DG a reçu « l’ambassadrice » à Rabat."],
            [
                seg(SAME, "Le DG a reçu"),
                Segment(REMOVED, ("« l’ambassadeur »",)),  # one word: the quotes are its own
                Segment(ADDED, ("« l’ambassadrice »",)),
                seg(SAME, "à Rabat."),
            ],
            id="French, quotes and all",
        ),
    ],
)
def test_word_diff(old: list[str], new: list[str], expected: list[Segment]) -> None:
    assert word_diff(old, new) == WordDiff(tuple(expected))


def test_counts_and_places() -> None:
    diff = word_diff(["a b c d e f g h i j"], ["a B c d e f g h I J K"])
    assert (diff.added, diff.removed, diff.places, diff.changed, diff.changes()) == (4, 3, 2, True, [(1, 3), (4, 6)])
    same = word_diff(["a b"], ["a b"])
    assert (same.added, same.removed, same.places, same.changed, same.changes()) == (0, 0, 0, False, [])
    joined = word_diff(["a b", "c d"], ["a b c d"])
    assert (joined.added, joined.removed, joined.places, joined.changed) == (0, 0, 0, True)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(["Same text."], ["Same text."], "", id="no-op"),
        pytest.param(
            LONG,
            edited(455, "changed"),
            f"<p>… {run(447, 454)} <del>word455</del> <ins>changed</ins> {run(456, 463)} …</p>",
            id="one word in 1,000",
        ),
        pytest.param(
            LONG,
            edited(402, "changed"),
            f"<p>… {run(394, 399)}</p>\n<p>word400 word401 <del>word402</del> <ins>changed</ins> {run(403, 410)} …</p>",
            id="context across a paragraph break",
        ),
        pytest.param(
            LONG,
            edited(3, "changed"),
            f"<p>word0 word1 word2 <del>word3</del> <ins>changed</ins> {run(4, 11)} …</p>",
            id="near the start: nothing cut before",
        ),
        pytest.param(
            ["a b c d e f g h i j k l m n o p q r s t u v w x y z"],
            ["a b c d e f g h i J k l m n o p q r s t u v w x y Z"],
            "<p>a b c d e f g h i <del>j</del> <ins>J</ins> k l m n o p q r s t u v w x y <del>z</del> <ins>Z</ins></p>",
            id="two changes with 15 words between: all shown",
        ),
        pytest.param(
            ["a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5"],
            ["a b c d e f g h i J k l m n o p q r s t u v w x y z 1 2 3 4 5 6"],
            "<p>a b c d e f g h i <del>j</del> <ins>J</ins> k l m n o p q r … x y z 1 2 3 4 5 <ins>6</ins></p>",
            id="two changes far apart: the middle cut",
        ),
        pytest.param(
            ["Tom & Jerry <b>here</b>."],
            ["Tom & Jerry <script>alert(1)</script>."],
            "<p>Tom &amp; Jerry <del>&lt;b&gt;here&lt;/b&gt;.</del> <ins>&lt;script&gt;alert(1)&lt;/script&gt;.</ins></p>",
            id="escaped",
        ),
        pytest.param(
            ["First paragraph.", "Second paragraph."],
            ["First paragraph.", "A new one.", "Second paragraph."],
            "<p>First paragraph.</p>\n<p><ins>A new one.</ins></p>\n<p>Second paragraph.</p>",
            id="paragraph added",
        ),
        pytest.param(
            ["One two.", "Three four."],
            ["One two. Three four."],
            "<p>One two. <del>¶</del></p>\n<p>Three four.</p>",
            id="paragraphs joined",
        ),
        pytest.param(
            ["One two. Three four."],
            ["One two.", "Three four."],
            "<p>One two. <ins>¶</ins></p>\n<p>Three four.</p>",
            id="paragraph split",
        ),
        pytest.param(
            ["استقبل المدير العام للإيسيسكو، سفير اليونان في الرباط."],
            ["استقبل المدير العام للإيسيسكو، سفيرة اليونان لدى المملكة المغربية."],
            "<p>استقبل المدير العام للإيسيسكو، <del>سفير اليونان في الرباط.</del>"
            " <ins>سفيرة اليونان لدى المملكة المغربية.</ins></p>",
            id="Arabic",
        ),
    ],
)
def test_render_html(old: list[str], new: list[str], expected: str) -> None:
    assert render_html(word_diff(old, new)) == expected


def test_render_html_context() -> None:
    diff = word_diff(LONG, edited(455, "changed"))
    assert (
        render_html(diff, context=2)
        == "<p>… word453 word454 <del>word455</del> <ins>changed</ins> word456 word457 …</p>"
    )
    with pytest.raises(ValueError, match="^context must be at least one word$"):
        render_html(diff, context=0)


BIG_OLD = ["Intro.", "The end."]
BIG_NEW = ["Intro.", " ".join(f"added{i}" for i in range(200)), "The end."]


@pytest.mark.parametrize(
    ("old", "new", "limit", "expected"),
    [
        pytest.param(["Same text."], ["Same text."], 120, "no change in the text", id="no-op"),
        pytest.param(["One two.", "Three."], ["One two. Three."], 120, "paragraphs split or joined, no words changed"),
        pytest.param(
            ["The DG met the ambassador in Rabat on Monday."],
            ["The DG met the new ambassador of Greece in Tunis on Monday."],
            120,
            '4 words added, 1 removed in 3 places: "…new…"',
            id="three places: the first quoted",
        ),
        pytest.param(
            ["The DG met the ambassador on Monday."],
            ["The DG met the ambassador of Greece to Rabat on Monday."],
            120,
            '4 words added: "…of Greece to Rabat…"',
            id="added only",
        ),
        pytest.param(
            ["The DG met the ambassador on Monday in Rabat."],
            ["The DG met the ambassador in Rabat."],
            120,
            '2 words removed: "…on Monday…"',
            id="removed only",
        ),
        pytest.param(
            ["The DG met the ambassador on Monday."],
            ["The DG received the ambassador on Monday."],
            120,
            '1 word added, 1 removed: "…received…"',
            id="one for one",
        ),
        pytest.param(
            ["First paragraph."],
            ["First paragraph.", "A whole new paragraph here."],
            120,
            '5 words added: "A whole new paragraph here."',
            id="a paragraph: no ellipsis",
        ),
        pytest.param(
            BIG_OLD,
            BIG_NEW,
            120,
            '200 words added: "' + " ".join(f"added{i}" for i in range(13)) + '…"',
            id="cut to the limit at a word",
        ),
        pytest.param(
            BIG_OLD,
            BIG_NEW,
            60,
            '200 words added: "added0 added1 added2 added3 added4…"',
            id="a smaller limit",
        ),
        pytest.param(
            ["See this now."],
            ["See https://www.icesco.org/en/2026/01/02/a-very-long-address-that-goes-on-and-on-and-on/ now."],
            60,
            '1 word added, 1 removed: "…https://www.icesco.org/en/2026/…"',
            id="one word longer than the room: cut between letters",
        ),
        pytest.param(
            [" ".join(f"w{i}" for i in range(1000))],
            [" ".join(f"x{i}" for i in range(1000))],
            120,
            '1,000 words added, 1,000 removed: "' + " ".join(f"x{i}" for i in range(23)) + '…"',
            id="thousands",
        ),
        pytest.param(
            ["استقبل المدير العام للإيسيسكو، سفير اليونان في الرباط."],
            ["استقبل المدير العام للإيسيسكو، سفيرة اليونان لدى المملكة المغربية."],
            120,
            '5 words added, 4 removed: "…\u2068سفيرة اليونان لدى المملكة المغربية.\u2069"',
            id="Arabic in an isolate",
        ),
        pytest.param(
            ["Le DG a reçu l’ambassadeur.", "Fin."],
            ["Le DG a reçu l’ambassadeur de Grèce,", "puis la délégation.", "Fin."],
            120,
            '6 words added, 1 removed: "…l’ambassadeur de Grèce, puis la délégation."',
            id="across paragraphs: one line",
        ),
    ],
)
def test_summary(old: list[str], new: list[str], limit: int, expected: str) -> None:
    line = summary(word_diff(old, new), limit)
    assert line == expected
    assert len(line) <= limit and "\n" not in line


def test_summary_limit_has_a_floor() -> None:
    with pytest.raises(ValueError, match="^a summary needs at least 60 characters$"):
        summary(word_diff(["a"], ["b"]), 59)


# --- properties: the diff is both texts; the renderings stay well-formed and bounded ---------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.seen: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(tag)
        self.seen.add(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack.pop() == tag


_WORDS = st.sampled_from(["a", "b", "Rabat,", "«", "»", ":", "—", "في", "الرباط،", "<b>", "&", "café", "é"])
_PARAGRAPHS = st.lists(st.lists(_WORDS, max_size=12).map(" ".join), max_size=4)


@given(_PARAGRAPHS, _PARAGRAPHS, st.integers(min_value=60, max_value=200))
def test_properties(old: list[str], new: list[str], limit: int) -> None:
    diff = word_diff(old, new)

    def side(kinds: set[Kind]) -> list[str]:
        return [w for s in diff.segments if s.kind in kinds for w in s.words]

    def norm(ws: list[str]) -> list[str]:
        return [" ".join(unicodedata.normalize("NFC", w).split()) for w in ws]

    def tokens(paragraphs: list[str]) -> list[str]:
        out: list[str] = []
        for p in paragraphs:
            if words(p):
                out += ([P] if out else []) + words(p)
        return out

    assert side({SAME, ADDED}) == tokens(new)  # the new text, word for word
    assert norm(side({SAME, REMOVED})) == norm(tokens(old))  # the old text, up to NFC and spaces
    assert all(s.words for s in diff.segments)
    line = summary(diff, limit)
    assert len(line) <= limit and "\n" not in line
    html = render_html(diff)
    assert (html == "") == (not diff.changed)
    parser = _Tags()
    parser.feed(html)
    parser.close()
    assert parser.stack == [] and parser.seen <= {"p", "ins", "del"}
