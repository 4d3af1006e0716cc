"""What counts as an edit: the archive's pure rules (monitor.archive.edits), without a database."""

from __future__ import annotations

import pytest

from crawler.items import ArticleItem
from monitor.archive.edits import StoredText, Verdict, categories_json, changed_fields, extends, judge, paragraph_prefix

pytestmark = pytest.mark.unit

TITLE = "ICESCO Holds a “Test” Event"
BODY = "It’s the first paragraph.\n\nThe second – and last."


def item(title: str = TITLE, paras: list[str] | None = None, **kw: object) -> ArticleItem:
    return ArticleItem(title=title, paragraphs=paras or BODY.split("\n\n"), **kw)  # type: ignore[arg-type]


def stored(body: str = BODY, *, partial: int = 0, categories: str | None = '["News"]', revision: int = 2) -> StoredText:
    return StoredText(
        id=item().id,
        title=TITLE,
        subtitle=None,
        body=body,
        categories=categories,
        content_hash=item(paras=body.split("\n\n")).content_hash,
        revision=revision,
        partial=partial,
    )


def test_paragraph_prefix_is_whole_first_paragraphs() -> None:
    assert paragraph_prefix("One.", "One.\n\nTwo.") is True
    assert paragraph_prefix("One .\u00a0", "One.\n\nTwo.") is False  # white space inside a word counts
    assert paragraph_prefix("One.\n\nTwo.", "One.\n\nTwo.") is False  # not shorter
    assert paragraph_prefix("On", "One.\n\nTwo.") is False  # cut inside a paragraph
    assert paragraph_prefix("Two.", "One.\n\nTwo.") is False


def test_extends_ignores_the_cut_last_word() -> None:
    assert extends("The second – and la", "The second – and last.") is True
    assert extends("The second - and", "The second – and last.") is True  # typography folded
    assert extends("The second – and last.", "The second – and last.") is False  # not longer
    assert extends("The third", "The second – and last.") is True  # only "The" is sure: "third" may be cut
    assert extends("A second", "The second – and last.") is False
    assert extends("Word", "Wordy and more") is True  # one word: the word itself is the cut


def test_categories_are_merged_sorted_and_once_each() -> None:
    assert categories_json(["News", "Events", "News"]) == '["Events", "News"]'
    assert categories_json(["أخبار"], '["News"]') == '["News", "أخبار"]'
    assert categories_json([], None) == "[]"


def test_changed_fields_fold_white_space_and_typography() -> None:
    old = stored()
    assert changed_fields(old, item('ICESCO  Holds a "Test" Event'), BODY.replace("–", "-")) == ()
    assert changed_fields(old, item(subtitle="New"), "Another body.") == ("subtitle", "body")
    assert changed_fields(old, item("Another title"), BODY) == ("title",)


def test_a_new_article() -> None:
    new = item(categories=["News", "Events"])
    assert judge(None, new) == Verdict("new", BODY, new.content_hash, '["Events", "News"]')


def test_a_retyped_copy_is_unchanged_and_merges_categories() -> None:
    retyped = item('ICESCO  Holds a "Test" Event', ["It's the first\u00a0paragraph.", "The second - and last. "])
    assert judge(stored(), item(categories=["Events"])) == Verdict(
        "unchanged", BODY, item().content_hash, '["Events", "News"]'
    )
    assert judge(stored(), retyped).kind == "unchanged"


@pytest.mark.parametrize(
    ("copy", "kind"),
    [
        (item(paras=["It’s the first paragraph.", "The sec"], partial=True), "unchanged"),  # cut inside
        (item(paras=["It’s the first paragraph."], maybe_cut=True), "unchanged"),  # maybe cut between
        (item(paras=["It’s the first paragraph."]), "edited"),  # a paragraph retracted
        (item(paras=["It’s the first paragraph.", "The second – and first."], partial=True), "edited"),
        (item("Another title", paras=["It’s the first paragraph."], maybe_cut=True), "edited"),
    ],
)
def test_a_shorter_copy_is_an_edit_unless_it_may_be_cut(copy: ArticleItem, kind: str) -> None:
    assert judge(stored(), copy).kind == kind


def test_a_stored_cut_copy_is_completed_without_a_revision() -> None:
    full = item()
    assert judge(stored("It’s the first paragraph.\n\nThe sec", partial=1), full) == Verdict(
        "completed", BODY, full.content_hash, '["News"]'
    )
    # The same longer text after a complete copy is an edit (a paragraph was added).
    assert judge(stored("It’s the first paragraph.", partial=0), full) == Verdict(
        "edited", BODY, full.content_hash, '["News"]', ("body",)
    )


def test_an_edit_names_the_fields_that_changed() -> None:
    edited = item("ICESCO Holds Another Event", ["It’s the first paragraph.", "A new ending."], subtitle="Sub")
    assert judge(stored(categories=None), edited) == Verdict(
        "edited", "It’s the first paragraph.\n\nA new ending.", edited.content_hash, "[]", ("title", "subtitle", "body")
    )
