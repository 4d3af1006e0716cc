"""Configuration: defaults, validation with messages that name the key, hostile files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config
from monitor.config_file import CHOICES as _CHOICES
from monitor.config_file import RULES as _RULES

pytestmark = pytest.mark.unit


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
        (
            "digest: {unsubscribe_url: 'https://x.example/u>'}",
            "digest.unsubscribe_url: expected an https URL without spaces, control characters, quotes, commas or angle"
            " brackets, got 'https://x.example/u>'",
        ),
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
        ("crawl: {source: sitemap}", "c.yaml: crawl.source: expected one of auto, rest, feed, html, got 'sitemap'"),
    ],
)
def test_bad_values_get_one_short_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    assert error(tmp_path, text) == message


def test_a_config_that_is_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^/dev/zero: not a regular file$"):
        load_config("/dev/zero")


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
    assert error(tmp_path, "subscribers: [{address: a@example.org, at: '24:00'}]") == (
        "subscribers[0].at: expected a time like 07:00, got '24:00'"
    )
    assert error(tmp_path, "subscribers: [{address: a@example.org, weekday: mo}]") == (
        "subscribers[0].weekday: expected a day name like monday, got 'mo'"
    )


# --- every rule names its key ------------------------------------------------------------------

# (key, a value out of its range, what the error says after "c.yaml: KEY: ")
RANGES = [
    ("crawl.backfill_pages", 0, "expected a value from 1 to 10000, got 0"),
    ("crawl.backfill_pages", 10001, "expected a value from 1 to 10000, got 10001"),
    ("crawl.revisit_after_hours", -1, "expected a value ≥ 0, got -1.0"),
    ("crawl.revisit_max_age_days", -1, "expected a value ≥ 0, got -1.0"),
    ("crawl.download_delay", -1, "expected a value from 0 to 3600, got -1.0"),
    ("crawl.download_delay", 3601, "expected a value from 0 to 3600, got 3601.0"),
    ("crawl.timeout", 0, "expected a value from 1 to 3600, got 0.0"),
    ("crawl.timeout", 3601, "expected a value from 1 to 3600, got 3601.0"),
    ("crawl.retries", -1, "expected a value from 0 to 20, got -1"),
    ("crawl.retries", 21, "expected a value from 0 to 20, got 21"),
    ("crawl.max_retry_delay", -1, "expected a value from 0 to 86400, got -1.0"),
    ("crawl.max_retry_delay", 86401, "expected a value from 0 to 86400, got 86401.0"),
    ("crawl.max_response_bytes", 1023, "expected a value from 1024 to 2147483648, got 1023"),
    ("crawl.max_response_bytes", 2147483649, "expected a value from 1024 to 2147483648, got 2147483649"),
    ("crawl.source_recheck_hours", -1, "expected a value from 0 to 8760, got -1.0"),
    ("crawl.source_recheck_hours", 8761, "expected a value from 0 to 8760, got 8761.0"),
    ("crawl.rest_per_page", 0, "expected a value from 1 to 100, got 0"),
    ("crawl.rest_per_page", 101, "expected a value from 1 to 100, got 101"),
    ("crawl.robots_cache_hours", -1, "expected a value from 0 to 24, got -1.0"),
    ("crawl.robots_cache_hours", 25, "expected a value from 0 to 24, got 25.0"),
    ("replay.max_dump_bytes", 1023, "expected a value from 1024 to 2147483648, got 1023"),
    ("replay.max_dump_bytes", 2147483649, "expected a value from 1024 to 2147483648, got 2147483649"),
    ("feed.items", 0, "expected a value from 1 to 1000, got 0"),
    ("feed.items", 1001, "expected a value from 1 to 1000, got 1001"),
    ("smtp.port", 0, "expected a value from 1 to 65535, got 0"),
    ("smtp.port", 65536, "expected a value from 1 to 65535, got 65536"),
    ("smtp.timeout", 0, "expected a value from 1 to 600, got 0.0"),
    ("smtp.timeout", 601, "expected a value from 1 to 600, got 601.0"),
    ("digest.max_items", 0, "expected a value from 1 to 10000, got 0"),
    ("digest.max_items", 10001, "expected a value from 1 to 10000, got 10001"),
    ("digest.retry_minutes", -1, "expected a value from 0 to 1440, got -1.0"),
    ("digest.retry_minutes", 1441, "expected a value from 0 to 1440, got 1441.0"),
    ("digest.retry_max_minutes", 0, "expected a value from 1 to 10080, got 0.0"),
    ("digest.retry_max_minutes", 10081, "expected a value from 1 to 10080, got 10081.0"),
    ("digest.retention_days", -1, "expected a value from 0 to 36500, got -1.0"),
    ("digest.retention_days", 36501, "expected a value from 0 to 36500, got 36501.0"),
    ("service.port", -1, "expected a value from 0 to 65535, got -1"),
    ("service.port", 65536, "expected a value from 0 to 65535, got 65536"),
    ("service.crawl_every_minutes", 0.04, "expected a value from 0.05 to 100000, got 0.04"),
    ("service.crawl_every_minutes", 100001, "expected a value from 0.05 to 100000, got 100001.0"),
    ("service.crawl_jitter_seconds", -1, "expected a value from 0 to 86400, got -1.0"),
    ("service.crawl_jitter_seconds", 86401, "expected a value from 0 to 86400, got 86401.0"),
    ("service.crawl_timeout_minutes", 0.09, "expected a value from 0.1 to 1440, got 0.09"),
    ("service.crawl_timeout_minutes", 1441, "expected a value from 0.1 to 1440, got 1441.0"),
    ("service.digest_check_seconds", 0, "expected a value from 1 to 86400, got 0.0"),
    ("service.digest_check_seconds", 86401, "expected a value from 1 to 86400, got 86401.0"),
    ("service.misfire_grace_seconds", 0, "expected a value from 1 to 10000000, got 0.0"),
    ("service.misfire_grace_seconds", 10000001, "expected a value from 1 to 10000000, got 10000001.0"),
    ("service.health_max_age_minutes", 0, "expected a value from 1 to 1000000, got 0.0"),
    ("service.health_max_age_minutes", 1000001, "expected a value from 1 to 1000000, got 1000001.0"),
]
CHOICES = [
    ("crawl.source", "sitemap", "expected one of auto, rest, feed, html, got 'sitemap'"),
    ("smtp.security", "ssl", "expected one of plain, starttls, tls, got 'ssl'"),
    ("service.mode", "demo", "expected one of live, replay, got 'demo'"),
]


def section_yaml(key: str, value: object) -> str:
    section, name = key.split(".")
    return json.dumps({section: {name: value}})


@pytest.mark.parametrize(("key", "value", "says"), RANGES + CHOICES, ids=[f"{r[0]}={r[1]}" for r in RANGES + CHOICES])
def test_a_value_out_of_range_names_its_key_and_range(tmp_path: Path, key: str, value: object, says: str) -> None:
    assert error(tmp_path, section_yaml(key, value)) == f"c.yaml: {key}: {says}"


def test_every_range_and_choice_rule_is_in_the_tables() -> None:
    assert ({r[0] for r in RANGES}, {c[0] for c in CHOICES}) == (set(_RULES), set(_CHOICES))


# (YAML, the whole error): a value of the wrong type, or in the wrong place
WRONG_SHAPES = [
    ("crawl: {retries: x}", "c.yaml: crawl.retries: expected a whole number, got 'x'"),
    ("crawl: {retries: true}", "c.yaml: crawl.retries: expected a whole number, got True"),
    ("crawl: {retries: 1.5}", "c.yaml: crawl.retries: expected a whole number, got 1.5"),
    ("crawl: {download_delay: fast}", "c.yaml: crawl.download_delay: expected a number, got 'fast'"),
    ("crawl: {download_delay: .nan}", "c.yaml: crawl.download_delay: expected a number, got nan"),
    ("crawl: {download_delay: false}", "c.yaml: crawl.download_delay: expected a number, got False"),
    ("crawl: {obey_robots_txt: maybe}", "c.yaml: crawl.obey_robots_txt: expected true or false, got 'maybe'"),
    ("crawl: {obey_robots_txt: 1}", "c.yaml: crawl.obey_robots_txt: expected true or false, got 1"),
    ("crawl: {contact: [1]}", "c.yaml: crawl.contact: expected text, got [1]"),
    ("crawl: {contact: true}", "c.yaml: crawl.contact: expected text, got True"),
    ("crawl: {start_urls: {a: 1}}", "c.yaml: crawl.start_urls: expected a list, got {'a': 1}"),
    ("crawl: {hosts: [[1]]}", "c.yaml: crawl.hosts[0]: expected text, got [1]"),
    ("crawl: 5", "c.yaml: crawl: expected a mapping of settings, got 5"),
    ("site: {zone: x}", "c.yaml: site.zone: unknown key (known: profile, timezone)"),
    ("- a", "c.yaml: expected a mapping of settings at the top level"),
    ("subscribers: x", "c.yaml: subscribers: expected a list of mappings, got 'x'"),
    ("subscribers: [x]", "c.yaml: subscribers[0]: expected a mapping of settings, got 'x'"),
    (
        "subscribers: [{address: a@example.org, at: 7:30}]",
        'c.yaml: subscribers[0].at: write the time in quotes, like "07:30" (YAML reads 7:30 as a number)',
    ),
]


@pytest.mark.parametrize(("text", "message"), WRONG_SHAPES, ids=[row[0] for row in WRONG_SHAPES])
def test_a_value_of_the_wrong_shape_names_its_key(tmp_path: Path, text: str, message: str) -> None:
    assert error(tmp_path, text) == message


# (YAML, the whole error): the checks made once every value is read
CHECKS = [
    ("crawl: {start_urls: ['ftp://x/']}", "crawl.start_urls[0]: expected an http(s) URL, got 'ftp://x/'"),
    ("crawl: {start_urls: ['http:///x']}", "crawl.start_urls[0]: no host in 'http:///x'"),
    ("crawl: {start_urls: []}", "crawl.start_urls: at least one URL is needed"),
    (
        "crawl: {allow_addresses: [nope]}",
        "crawl.allow_addresses[0]: expected an IP address or network, maybe with a port (127.0.0.1:8080), got 'nope'",
    ),
    ("feed: {base_url: 'ftp://x/'}", "feed.base_url: expected an http(s) URL, got 'ftp://x/'"),
    ('digest: {list_id: "a\\nb"}', "digest.list_id: no line breaks, got 'a\\nb'"),
    ("digest: {template_dir: /nonexistent-folder}", "digest.template_dir: no such folder: '/nonexistent-folder'"),
    (
        "subscribers: [{address: not-an-address}]",
        "subscribers[0].address: expected exactly one '@' in an e-mail address, got 'not-an-address'",
    ),
    (
        "subscribers: [{address: a@example.org}, {address: a@example.org}]",
        "subscribers[1].address: a@example.org is listed twice",
    ),
    (
        "subscribers: [{address: a@example.org, cadence: monthly}]",
        "subscribers[0].cadence: expected daily, weekly, hourly or immediate, got 'monthly'",
    ),
    (
        "subscribers: [{address: a@example.org, timezone: Mars/Base}]",
        "subscribers[0].timezone: unknown time zone 'Mars/Base'",
    ),
]


@pytest.mark.parametrize(("text", "message"), CHECKS, ids=[row[1].split(":")[0] for row in CHECKS])
def test_every_check_names_its_key(tmp_path: Path, text: str, message: str) -> None:
    assert error(tmp_path, text) == message


def test_a_config_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"crawl: {contact: caf\xe9}")
    big = tmp_path / "big.yaml"
    big.write_text("#" * (1024 * 1024 + 1), encoding="utf-8")
    messages = []
    for path in (latin, big, tmp_path / "missing.yaml"):
        with pytest.raises(ConfigError) as info:
            load_config(path)
        messages.append(str(info.value))
    assert messages == [
        f"{latin}: the config file is not UTF-8 text",
        f"{big}: 1,048,577 bytes; a config file is at most 1,048,576",
        f"{tmp_path / 'missing.yaml'}: cannot read the config file: No such file or directory",
    ]
