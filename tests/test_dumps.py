"""The dump parser on the five real dumps and the samples: exact titles and dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from helpers import DUMPS, SAMPLES

from crawler.dumpfiles import decode, load_meta
from crawler.dumps import DumpError, DumpMeta, parse_dump

pytestmark = pytest.mark.unit

EXPECTED: dict[str, list[tuple[str, str | None]]] = {
    "000_84405bf65da9c262.txt": [
        ("ICESCO DG Receives Ambassador of Greece to Rabat", None),
        ("ICESCO and Finland Explore Opportunities in Education", None),
        ("ICESCO Organizes Strategic Planning Workshop in Ifrane", None),
        ("ICESCO DG: Foresight Most Efficient Way to Preserve Cultural Heritage", None),
        ("ICESCO Releases Study on AI and Requirements for Fundamental Rights and Freedoms Protection", None),
        ("ICESCO-Afghanistan: Explore Cooperation Opportunities", None),
        ("ICESCO Director-General Meets Turkish Ambassador to Rabat", None),
        ("ICESCO and New Zealand Explore Cooperation Opportunities", None),
        ("AlMalik: ICESCO Works Unwaveringly to Protect Islamic World Heritage", None),
        ("ICESCO and Belgium Review Cooperation Opportunities", None),
    ],
    "001_5d01d3af697e6fda.txt": [
        ("ICESCO Participates in 9th Education ODA Conference", "2022-11-23"),
        (
            "ICESCO: Building peace is a shared responsibility that every individual must aspire to achieve",
            "2022-11-23",
        ),
        ("ICESCO Reviews its Efforts in Field of Education for Global Citizenship", "2022-11-22"),
        ("ICESCO and IOM explore strengthening cooperation", "2022-11-22"),
        ("ICESCO and TURKSOY Explore Cooperation Prospects", "2022-11-22"),
        (
            "On Global Forum for Alliance of Civilizations, ICESCO Director-General Calls for Consolidating Justice,"
            " Fraternity and Equality",
            "2022-11-22",
        ),
        (
            "ICESCO and Omani National Commission are Holding Symposium on Digital Entrepreneurship in Muscat",
            "2022-11-22",
        ),
        (
            "ICESCO Director-General calls for development of museums and consolidation of museum culture to enrich"
            " inter-civilizational dialogue",
            "2022-11-21",
        ),
        ("ICESCO Workshop for Training Women on Income-Generating Activities Kicks off in Cameroon", "2022-11-22"),
        ("On Occasion of World Children’s Day… Children Try to Be in Charge at ICESCO", "2022-11-21"),
    ],
    "002_6d19791ecb33e012.txt": [
        ("ICESCO and Indonesia Discuss Ways to Strengthen Cooperation in Education, Science and Culture", "2025-05-15"),
        ("Tatarstan President Reaffirms Strengthened Cooperation with ICESCO", "2025-05-15"),
        ("ICESCO Holds Regional Workshop on Cybersecurity Enhancement Skills in Cairo", "2025-05-08"),
        (
            "ICESCO’s Training Workshop on the Role of Strategic Foresight in Decision-Making Concludes in Rabat",
            "2025-05-06",
        ),
        ("ICESCO Concludes Training Workshop in Derna to Enhance Psychosocial Response During Disasters", "2025-05-07"),
        (
            "ICESCO Director-General: Riyadh Charter on AI Ethics a Moral Compass Anchored in Islamic World Values",
            "2025-05-05",
        ),
        ("ICESCO and Qatar Explore Prospects to Bolster Cooperation in Green Education", "2025-05-04"),
        (
            "ICESCO Director-General Participates in 26th Session of Council of International Islamic Fiqh Academy",
            "2025-05-04",
        ),
        (
            "ICESCO, COMSATS Hold Session on Leveraging Technology for Better Outcomes in Maternal and Child Health",
            "2025-04-29",
        ),
        (
            "ICESCO Participates in the International Conference on the Heritage of Imam Al-Maturidi in Uzbekistan",
            "2025-04-29",
        ),
    ],
    "003_2135c32ebc42c8fc.txt": [
        (
            "ICESCO Holds Workshop on Artificial Intelligence and Graphic Creation within its series"
            " “ICESCO Immersiv’Art”",
            "2025-10-30",
        ),
        (
            "ICESCO Participates in the International Conference on Combating Illicit Trafficking of Cultural Property"
            " in Riyadh",
            "2025-10-29",
        ),
        ("ICESCO Launches “Al-Kalima” Podcast on Monday", "2025-11-03"),
        (
            "ICESCO Inaugurates a Studio Equipped with the Latest Technologies to Enhance the Organization’s Media"
            " Capabilities",
            None,
        ),
        ("ICESCO, Heydar Aliyev Foundation Extend Deadline for “Natavan Heritage Excellence Award” Nominations", None),
        (
            "ICESCO Director-General, Moroccan Minister of Endowments Discuss Cooperation Prospects on Prophetic"
            " Biography and Waqf",
            "2025-10-29",
        ),
        (
            "ICESCO Director-General, Moroccan Minister of Education Explore Prospects for Bilateral Cooperation",
            "2025-10-27",
        ),
        (
            "ICESCO Organizes International Conference in Uganda on Food Systems Transformation for Climate Action",
            "2025-10-28",
        ),
        ("New Prospects for Cooperation Between ICESCO, Gabon", "2025-10-23"),
        ("ICESCO Organizes Regional Conference on Greening Education in Baku", "2025-10-20"),
    ],
    "004_e43dae5bf61759dd.txt": [
        (
            "Exploring Prospects for Cooperation between ICESCO and the National Documentation Center of Morocco",
            "2026-02-10",
        ),
        (
            "ICESCO Director-General Participates in 10th International Parliamentary Forum for Social Justice in Morocco",
            "2026-02-09",
        ),
        ("Naseer Shamma Hosted by ICESCO: Music as a Bridge Between Nations", "2026-02-05"),
        (
            "ICESCO, Tatarstan Sign New Cultural Agreement in Celebration of Kazan as 2026 Cultural Capital in the"
            " Islamic World",
            "2026-02-08",
        ),
        (
            "ICESCO Director-General Attends Jeddah Panel Marking Saudi–Russian Relations Centenary, with Tatarstan"
            " President Present",
            "2026-02-08",
        ),
        ("ICESCO Training Program on AI Use in Media Content Production Concludes in Kuwait", "2026-02-05"),
        (
            "ICESCO Director-General Meets Omani Minister of Endowments and Religious Affairs to Discuss Prospects for"
            " Cooperation",
            "2026-02-05",
        ),
        (
            "ICESCO, Oman’s Ministry of Culture Discuss Strengthening Creative Industries and Heritage Documentation",
            "2026-02-05",
        ),
        (
            "ICESCO Director-General Discusses with Oman’s Minister of Heritage and Tourism Ways to Strengthen"
            " Cooperation in Safeguarding Cultural Heritage",
            "2026-02-05",
        ),
        (
            "Dr. AlMalik at the Opening of the International Conference on the Teaching Profession in Muscat:"
            " However Advanced, AI Can Never Replace the Teacher",
            "2026-02-04",
        ),
    ],
}

BOILERPLATE = [
    "Disclaimer",
    "Google Translate",
    "your opinion",
    "User Feedback",
    "how satisfied",
    "Extremely",
    "By messaging ICESCO",
    "Alem AI",
    "Latest articles",
    "Skip to content",
]


def parse_file(path: Path, meta: DumpMeta | None = None) -> list:
    return parse_dump(decode(path.read_bytes(), str(path)), meta or load_meta(path), where=str(path))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_dump_gives_its_ten_titles_and_dates(name: str) -> None:
    items = parse_file(DUMPS / name)
    assert [(i.title, i.published_at) for i in items] == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bodies_are_free_of_boilerplate(name: str) -> None:
    for item in parse_file(DUMPS / name):
        text = "\n".join([item.title, item.subtitle or "", item.body]).lower()
        for phrase in BOILERPLATE:
            assert phrase.lower() not in text, (item.title, phrase)
        assert item.paragraphs and all(p == p.strip() and p for p in item.paragraphs)
        assert not item.partial


def test_subtitles_and_short_lines_stay_in_their_article() -> None:
    by_title = {i.title: i for n in EXPECTED for i in parse_file(DUMPS / n)}
    foresight = by_title["ICESCO DG: Foresight Most Efficient Way to Preserve Cultural Heritage"]
    assert foresight.subtitle == "ICESCO seeks to revive and entrench foresight thought in the Islamic world"
    forum = by_title[EXPECTED["004_e43dae5bf61759dd.txt"][1][0]]
    assert forum.subtitle == (
        "Dr. AlMalik: Integrating education within development policies is a sine qua non for achieving social justice"
    )
    award = by_title[EXPECTED["003_2135c32ebc42c8fc.txt"][4][0]]
    assert "• Project Category: USD 100,000" in award.paragraphs
    assert "https://icesco.org/s80u" in award.paragraphs
    assert "Nominations must be submitted via email to heritage@icesco.org" in award.paragraphs
    waqf = by_title[EXPECTED["003_2135c32ebc42c8fc.txt"][5][0]]
    assert waqf.paragraphs[0] == "Rabat: 29 October 2025"
    study = by_title["ICESCO Releases Study on AI and Requirements for Fundamental Rights and Freedoms Protection"]
    assert study.paragraphs[-2:] == [
        "The full text of the study is available at the following link:",
        "http://www.icesco.org/wp-content/uploads/2019/12/Ai-developements.pdf",
    ]
    # Lines not separated by blank lines are still separate paragraphs.
    finland = by_title["ICESCO and Finland Explore Opportunities in Education"]
    assert finland.paragraphs[1] == (
        "The discussions focused on education, given the republic’s pioneering successful educational system."
    )
    assert len(finland.paragraphs) == 15


def test_year_less_dates_resolve_against_the_capture_time() -> None:
    meta = DumpMeta(captured_at=dt.datetime(2020, 9, 23, 9, 0, tzinfo=dt.UTC))
    items = parse_file(DUMPS / "000_84405bf65da9c262.txt", meta)
    assert [i.published_at for i in items[:3]] == ["2020-09-21", "2020-09-21", "2020-09-17"]
    # Read in January, "September 21" is last year's.
    meta = DumpMeta(captured_at=dt.datetime(2021, 1, 5, tzinfo=dt.UTC))
    assert parse_file(DUMPS / "000_84405bf65da9c262.txt", meta)[0].published_at == "2020-09-21"


def test_article_samples_read_as_one_article_with_their_date_line() -> None:
    got = {}
    for name in (
        "article-en-2020-03-28.txt",
        "article-en-2020-04-14-old-layout.txt",
        "article-en-2022-11-30.txt",
        "article-fr-2022-12-05.txt",
    ):
        (item,) = parse_file(SAMPLES / name)
        got[name] = (item.title, item.published_at, item.lang, item.url, len(item.paragraphs))
    assert got == {
        "article-en-2020-03-28.txt": (
            "ICESCO supports G20’s decisions to face Covid-19",
            "2020-03-28",
            "en",
            "https://icesco.org/en/2020/03/28/icesco-supports-g20s-decisions-to-face-covid-19/",
            3,
        ),
        "article-en-2020-04-14-old-layout.txt": (
            "ICESCO supports Mohammed VI African initiative to face Coronavirus",
            "2020-04-14",
            "en",
            "https://icesco.org/en/2020/04/14/icesco-supports-mohammed-vi-african-initiative-to-face-coronavirus/",
            3,
        ),
        "article-en-2022-11-30.txt": (
            "ICESCO Director-General receives delegation from Kazakhstan Ministry of Foreign Affairs",
            "2022-11-30",
            "en",
            "https://icesco.org/en/2022/11/30/icesco-director-general-receives-delegation-from-kazakhstan-ministry-of-foreign-affairs/",
            4,
        ),
        "article-fr-2022-12-05.txt": (
            "L’ICESCO participe à la Semaine nationale de l’artisanat",
            "2022-12-05",
            "fr",
            None,
            2,
        ),
    }


def test_a_dump_title_gets_the_id_of_the_live_slug() -> None:
    (page,) = parse_file(SAMPLES / "article-en-2022-11-30.txt")
    text = (SAMPLES / "article-en-2022-11-30.txt").read_text(encoding="utf-8")
    (as_listing,) = parse_dump(text, DumpMeta(), where="no-url")
    assert as_listing.url is None
    assert as_listing.id == page.id


def test_a_cut_dump_marks_its_last_article_partial() -> None:
    items = parse_file(SAMPLES / "listing-en-executive-council.txt")
    assert [(i.title, i.subtitle, i.partial) for i in items] == [
        (
            "41st Session of ICESCO Executive Council Closed",
            "General Directorate’s Reports and Projects Adopted and Egypt to Host 42nd Executive Council",
            True,
        )
    ]


def test_other_header_wordings_and_tails_are_stripped() -> None:
    text = (
        "Skip to content\n\nDISCLAIMER: You are using Google Translate. Whatever.\n\nYOUR OPINION\n\nuser feedback\n\n"
        "Overall, how satisfied are you with the website?\n\n    Extremely dissatisfied Extremely satisfied\n\n"
        "    ICESCO Holds a Test Event\n\n    11 July 2024\n\n    The event took place in Rabat.\n\n"
        "    Latest articles\n\n    Another Title That Is a Link\n\n    Skip to content\n"
    )
    (item,) = parse_dump(text, DumpMeta(), where="variant")
    assert (item.title, item.published_at, item.paragraphs) == (
        "ICESCO Holds a Test Event",
        "2024-07-11",
        ["The event took place in Rabat."],
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"   \n\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("Titre\n\nParagraphe é".encode("latin-1"), "invalid UTF-8 at byte 18 (line 3)"),
        (b"Disclaimer: You are using Google Translate. x\n\nyour opinion\n\nUser Feedback\n", "no content"),
        (b"just one line of text without any article", "no article found"),
    ],
)
def test_bad_dumps_raise_clear_errors(data: bytes, message: str) -> None:
    with pytest.raises(DumpError) as err:
        parse_dump(decode(data, "bad.txt"), DumpMeta(), where="bad.txt")
    assert str(err.value).startswith("bad.txt: ")
    assert message in str(err.value)


def test_sidecar_metadata_is_validated(tmp_path: Path) -> None:
    dump = tmp_path / "a.txt"
    dump.write_text("Title Here\n\nBody.\n", encoding="utf-8")
    (tmp_path / "a.txt.json").write_text('{"captured_at": "2024-07-11 10:00"}', encoding="utf-8")
    with pytest.raises(DumpError, match=r"a.txt.json: captured_at '2024-07-11 10:00' needs a time zone"):
        load_meta(dump)
    (tmp_path / "a.txt.json").write_text('{"url": "javascript:alert(1)"}', encoding="utf-8")
    with pytest.raises(DumpError, match="url must be an http"):
        load_meta(dump)
    (tmp_path / "a.txt.json").write_text(
        '{"url": "https://icesco.org/en/2024/07/11/title-here/", "captured_at": "2024-07-11T10:00:00Z"}',
        encoding="utf-8",
    )
    meta = load_meta(dump)
    assert (meta.url, meta.captured_at) == (
        "https://icesco.org/en/2024/07/11/title-here/",
        dt.datetime(2024, 7, 11, 10, tzinfo=dt.UTC),
    )


def test_arabic_and_french_renderings() -> None:
    arabic = (
        "تنويه: أنت تستخدم ترجمة Google. الإيسيسكو غير مسؤولة عن دقة المعلومات في اللغة المترجمة.\n\nرأيك\n\n"
        "    الإيسيسكو تشارك في المؤتمر الدولي للتراث في الرباط\n\n    ١١ يوليو ٢٠٢٤\n\n"
        "    شارك المدير العام لمنظمة العالم الإسلامي للتربية والعلوم والثقافة (الإيسيسكو) في المؤتمر الدولي.\n\n"
        "    أحدث المقالات\n\n    عنوان آخر\n"
    )
    (item,) = parse_dump(arabic, DumpMeta(), where="ar")
    assert (item.title, item.published_at, item.lang, item.slug, item.paragraphs) == (
        "الإيسيسكو تشارك في المؤتمر الدولي للتراث في الرباط",
        "2024-07-11",
        "ar",
        "الإيسيسكو-تشارك-في-المؤتمر-الدولي-للت",  # cut at 200 encoded characters, as WordPress cuts it
        ["شارك المدير العام لمنظمة العالم الإسلامي للتربية والعلوم والثقافة (الإيسيسكو) في المؤتمر الدولي."],
    )
    french = (
        "Avertissement : Vous utilisez Google Traduction. L’ICESCO n’est pas responsable.\n\nVOTRE AVIS\n\n"
        "    L’ICESCO participe à la Semaine nationale de l’artisanat\n\n    5 décembre 2022\n\n"
        "    L’ICESCO prend part, ce lundi 5 décembre 2022, à la cérémonie.\n\n    Derniers articles\n\n    Autre titre\n"
    )
    (item,) = parse_dump(french, DumpMeta(), where="fr")
    assert (item.title, item.published_at, item.lang, item.slug, item.paragraphs) == (
        "L’ICESCO participe à la Semaine nationale de l’artisanat",
        "2022-12-05",
        "fr",
        "licesco-participe-a-la-semaine-nationale-de-lartisanat",
        ["L’ICESCO prend part, ce lundi 5 décembre 2022, à la cérémonie."],
    )


def test_two_articles_with_one_title_are_two_articles() -> None:
    text = "Press Release\n\nFirst text.\n\nPress Release\n\nSecond text.\n\nPress Release\n\nFirst text.\n"
    items = parse_dump(text, DumpMeta(), where="dup")
    assert [(i.slug, i.paragraphs) for i in items] == [
        ("press-release", ["First text."]),
        ("press-release-2", ["Second text."]),
    ]


@pytest.mark.parametrize(
    "header",
    [
        "How satisfied are you with the website?\n\nVery dissatisfied Very satisfied",
        "Overall, how satisfied are you about the website ?\n\nExtremely Dissatisfied\n\nExtremely Satisfied",
        "تعليقات المستخدمين\n\nبشكل عام، ما مدى رضاك عن الموقع؟",
    ],
)
def test_feedback_widget_variants_are_boilerplate(header: str) -> None:
    text = f"{header}\n\n    ICESCO Holds a Test Event\n\n    The event took place.\n\n    Read More\n\n    Another Event Here\n\n    It took place too.\n"
    items = parse_dump(text, DumpMeta(), where="variant")
    assert [(i.title, i.paragraphs) for i in items] == [
        ("ICESCO Holds a Test Event", ["The event took place."]),
        ("Another Event Here", ["It took place too."]),
    ]


def test_chat_widget_variants_end_the_text() -> None:
    text = (
        "ICESCO Holds a Test Event\n\nThe event took place.\n\nAlem, your AI assistant\n\nHow can I help you today?\n"
    )
    (item,) = parse_dump(text, DumpMeta(), where="chat")
    assert item.paragraphs == ["The event took place."]


OLDER_LAYOUT = (
    "Disclaimer: You are using Google Translate. The ICESCO is not responsible for the accuracy"
    " of the information in the translated language .\n\n"
    "    ICESCO Holds a Test Event\n\n    20 June 2019\n\n    Rabat: 20/06/2019\n\n    ICESCO Holds a Test Event\n\n"
    "    The first paragraph of the body ends here.\n\n    The second paragraph.\n\n"
    "    Another Article Title Here\n\n    Its body ends with a stop.\n"
)


def test_older_layout_repeating_its_title_below_the_dateline_is_one_article() -> None:
    items = parse_dump(OLDER_LAYOUT, DumpMeta(), where="old")
    assert [(i.title, i.published_at, i.paragraphs) for i in items] == [
        (
            "ICESCO Holds a Test Event",
            "2019-06-20",
            ["The first paragraph of the body ends here.", "The second paragraph."],
        ),
        ("Another Article Title Here", None, ["Its body ends with a stop."]),
    ]
    (page,) = parse_dump(OLDER_LAYOUT.split("    Another")[0], DumpMeta(kind="article"), where="old")
    assert (page.title, page.paragraphs) == (
        "ICESCO Holds a Test Event",
        ["The first paragraph of the body ends here.", "The second paragraph."],
    )
