"""What the command line prints never carries raw control characters or bidi overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import DUMP_HEADER, run_cli

from crawler.pages import parse_article

pytestmark = pytest.mark.integration


def test_titles_and_file_names_are_escaped_on_the_terminal(tmp_path: Path) -> None:
    folder = tmp_path / "dumps"
    folder.mkdir()
    title = "ICESCO title with a \u202eoverride"
    name = folder / "000_title.txt"
    name.write_text(
        DUMP_HEADER + f"    {title}\n\n    A paragraph that ends.\n\n    Latest articles\n", encoding="utf-8"
    )
    (folder / "001_\x1b[2Jbroken.txt").write_bytes(b"\x00\x01\x02")
    db = tmp_path / "a.db"
    crawl = run_cli("crawl", "--replay", str(folder), db=db)
    listing = run_cli("articles", db=db)
    as_json = run_cli("articles", "--json", db=db)
    for proc in (crawl, listing, as_json):
        assert not any(c in proc.stdout + proc.stderr for c in "\x1b\u202e"), proc
    assert "ICESCO title with a \\u202eoverride" in listing.stdout
    assert json.loads(as_json.stdout.splitlines()[0])["title"] == title  # JSON escapes decode to the same text
    assert "broken.txt: binary file (NUL bytes), not a text dump" in crawl.stdout


def test_pages_lose_control_characters_and_bidi_overrides() -> None:
    html = (
        "<html><body><article><h1 class='entry-title'>Title\x1b[31m \u202eevil</h1>"
        "<div class='entry-content'><p>Body\x07 text.</p></div></article></body></html>"
    )
    item = parse_article(html, "https://icesco.org/en/2024/07/11/title/")
    assert (item.title, item.paragraphs) == ("Title[31m evil", ["Body text."])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--config", "/dev/zero", "status"), "icesco-monitor: bad configuration: /dev/zero: not a regular file\n"),
        (
            ("crawl", "--start-url", "http://[::1"),
            "icesco-monitor: --start-url: not a valid URL (Invalid IPv6 URL): 'http://[::1'\n",
        ),
        (
            ("crawl", "--start-url", "http://127.0.0.1:99999/"),
            "icesco-monitor: --start-url: not a valid URL (Port out of range 0-65535): 'http://127.0.0.1:99999/'\n",
        ),
    ],
)
def test_command_line_errors_are_one_line_with_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = run_cli(*args, db=tmp_path / "a.db")
    assert (proc.returncode, proc.stderr, proc.stdout) == (2, message, "")
