"""Configuration: defaults, validation with messages that name the key, hostile files."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_cli

from monitor.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value).replace(str(path), "c.yaml")


ALIAS_BOMB = (
    "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ALIAS_BOMB, "c.yaml: its aliases expand to more than 100,000 values"),
        ("a: " + "[" * 60 + "]" * 60, "c.yaml: nested more than 50 levels deep"),
        ("a: " + "[" * 5000 + "]" * 5000, "c.yaml: nested too deeply"),
        (
            "crawl: {download_delay: '" + "x" * 10_000 + "'}",
            "c.yaml: crawl.download_delay: expected a number, got '" + "x" * 78 + "…",
        ),
        (
            "digest: {sender: not an address}",
            "digest.sender: expected an address like 'Name <user@example.org>', got 'not an address'",
        ),
        (
            'digest: {unsubscribe_url: "https://x.example/u\\r\\nBcc: a@b.c"}',
            "digest.unsubscribe_url: expected an https URL without spaces, control characters, quotes, commas or angle"
            " brackets, got 'https://x.example/u\\r\\nBcc: a@b.c'",
        ),
        ("digest: {unsubscribe_url: 'https://x.example/u>'}", "digest.unsubscribe_url: expected an https URL"),
        (
            "digest: {unsubscribe_mailto: 'u@x.org>, <https://evil.example/x'}",
            "digest.unsubscribe_mailto: expected one address like user@example.org, got 'u@x.org>, <https://evil.example/x'",
        ),
        ("database: ''", "c.yaml: database: a file path is needed"),
        (
            "crawl: {start_urls: ['http://[::1']}",
            "crawl.start_urls[0]: not a valid URL (Invalid IPv6 URL): 'http://[::1'",
        ),
        (
            "crawl: {start_urls: ['http://127.0.0.1:99999/']}",
            "crawl.start_urls[0]: not a valid URL (Port out of range 0-65535): 'http://127.0.0.1:99999/'",
        ),
        ("site: {timezone: Mars/Olympus}", "site.timezone: unknown time zone 'Mars/Olympus'"),
        ("crawl: {source: sitemap}", "crawl.source: expected one of auto, rest, feed, html, got 'sitemap'"),
    ],
)
def test_bad_values_get_one_short_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    got = error(tmp_path, text)
    assert message in got and len(got) < 400, got


def test_a_config_that_is_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^/dev/zero: not a regular file$"):
        load_config("/dev/zero")


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


def test_the_shipped_config_loads_and_matches_the_defaults() -> None:
    shipped = load_config(Path(__file__).resolve().parent.parent / "config.yaml")
    defaults = load_config(None) if not Path("config.yaml").exists() else None
    assert shipped.crawl.start_urls == [
        "https://icesco.org/en/category/news/",
        "https://icesco.org/fr/category/a-la-une/",
        "https://icesco.org/ar/category/%d8%a7%d9%84%d9%85%d8%b3%d8%aa%d8%ac%d8%af%d8%a7%d8%aa/",
    ]
    assert (shipped.crawl.source, shipped.site.timezone, shipped.crawl.robots_cache_hours) == (
        "auto",
        "Africa/Casablanca",
        24,
    )
    if defaults is not None:
        assert defaults.crawl == shipped.crawl


def test_the_config_and_the_digests_agree_on_times_and_weekdays(tmp_path: Path) -> None:
    """One rule for both: '7:00' and 'Mon' are accepted by the config and mean what the digests mean."""
    cfg = load_config(
        write(tmp_path, "subscribers: [{address: a@example.org, cadence: weekly, at: '7:05', weekday: Mon}]")
    )
    (sub,) = cfg.subscribers
    assert (sub.at, sub.weekday) == ("7:05", "monday")
    assert "subscribers[0].at: expected a time like 07:00, got '24:00'" in error(
        tmp_path, "subscribers: [{address: a@example.org, at: '24:00'}]"
    )
    assert "subscribers[0].weekday: expected a day name like monday, got 'mo'" in error(
        tmp_path, "subscribers: [{address: a@example.org, weekday: mo}]"
    )
