"""The downloader middlewares at work in Scrapy's real engine: retries that honour
``Retry-After`` (``crawler/middlewares.py``), checked redirects, and robots.txt
(``crawler/robots.py``). Each fixture is one probe crawl (``tests/crawlprobe.py``: the
project's settings and middlewares, a spider that records what became of each URL) in a
subprocess, against the ICESCO-like site on 127.0.0.1. The rules alone:
``tests/test_politeness.py``."""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakesite import FakeSite, Hit, SiteArticle
from faultkit import CONNECTION_LOST
from helpers import ROOT, cli_env, site_crawl, write_config

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
PROBE = Path(__file__).resolve().parent / "crawlprobe.py"


def articles(n: int) -> list[SiteArticle]:
    return [
        SiteArticle(slug=f"probe-{k}", title=f"Probe {k}", published=NOW - dt.timedelta(hours=k + 1), paragraphs=["."])
        for k in range(n)
    ]


@dataclass
class Probe:
    outcomes: dict[str, dict[str, Any]]  # URL -> what became of it
    errors: list[str]  # reported to the spider
    log: list[str]  # of crawler.*, "LEVEL message"


def probe(folder: Path, urls: list[str], **crawl: Any) -> Probe:
    """One probe crawl of ``urls`` with these crawl settings (hosts: 127.0.0.1)."""
    cfg = write_config(folder, crawl=site_crawl(urls[0], **crawl))
    out = folder / "probe.json"
    cmd = [sys.executable, str(PROBE), str(cfg), str(out), *urls]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=cli_env(), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Probe(**json.loads(out.read_text(encoding="utf-8")))


def fetched(url: str, retries: int = 0, status: int = 200) -> dict[str, Any]:
    """The outcome of a URL answered without a redirect, after ``retries``."""
    return {"status": status, "url": url, "redirects": [], "retries": retries}


def times(hits: list[Hit], path: str) -> list[float]:
    return [h.at for h in hits if h.path == path]


# --- retries --------------------------------------------------------------------------------


@dataclass
class Retries:
    site: FakeSite
    paths: list[str]
    probe: Probe
    hits: list[Hit]


@pytest.fixture(scope="module")
def retries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Retries]:
    """Five articles, each with a fault: 503 once with Retry-After: 1; 429 once with a
    Retry-After date already past; 503 asking for an hour (more than max_retry_delay);
    500 every time, without Retry-After; a connection reset once. Two retries at most."""
    with FakeSite(articles(5)) as site:
        paths = [a.path for a in site.articles]
        site.fail(paths[0], 503, times=1, headers={"Retry-After": "1"})
        site.fail(
            paths[1], 429, times=1, headers={"Retry-After": email.utils.formatdate(time.time() - 60, usegmt=True)}
        )
        site.fail(paths[2], 503, headers={"Retry-After": "3600"})
        site.fail(paths[3], 500)
        site.reset(paths[4], times=1)
        urls = [site.base_url + p for p in paths]
        result = probe(tmp_path_factory.mktemp("retries"), urls, retries=2, max_retry_delay=5)
        yield Retries(site, paths, result, list(site.hits))


def test_every_fault_ends_as_the_retry_rules_say(retries: Retries) -> None:
    base, p = retries.site.base_url, retries.paths
    assert retries.probe.outcomes == {
        base + p[0]: fetched(base + p[0], retries=1),
        base + p[1]: fetched(base + p[1], retries=1),
        base + p[2]: fetched(base + p[2], status=503),  # given up at once
        base + p[3]: fetched(base + p[3], retries=2, status=500),  # given up after two retries
        base + p[4]: fetched(base + p[4], retries=1),
    }
    requests = {path: len(times(retries.hits, path)) for path in p}
    assert requests == {p[0]: 2, p[1]: 2, p[2]: 1, p[3]: 3, p[4]: 2}
    assert (retries.probe.errors, sorted(retries.probe.log)) == (
        [],
        [
            f"INFO {base}{p[0]}: HTTP 503, retrying in 1.0s",
            f"INFO {base}{p[1]}: HTTP 429, retrying in 0.0s",
            f"INFO {base}{p[3]}: HTTP 500, retrying in 0.2s",
            f"INFO {base}{p[3]}: HTTP 500, retrying in 0.4s",
            f"WARNING {base}{p[2]}: server asks to wait 3600s (Retry-After), more than 5s: giving up",
        ],
    )


def test_retry_after_is_waited_with_nothing_sent_meanwhile(retries: Retries) -> None:
    first, second = times(retries.hits, retries.paths[0])
    assert second - first >= 1.0
    meanwhile = [(round(h.at - first, 3), h.path) for h in retries.hits if first < h.at < first + 1.0]
    assert meanwhile == []


def test_without_retry_after_the_wait_doubles_from_the_backoff_base(retries: Retries) -> None:
    """RETRY_BACKOFF_BASE is 0.2 s with no download delay: 0.2 s, then 0.4 s; a lost
    connection waits the same first step."""
    first, second, third = times(retries.hits, retries.paths[3])
    lost, again = times(retries.hits, retries.paths[4])
    assert (second - first >= 0.2, third - second >= 0.4, again - lost >= 0.2) == (True, True, True)


# --- redirects ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redirects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeSite, Probe, list[Hit]]]:
    with FakeSite(articles(1)) as site:
        target = site.articles[0].path
        site.redirect("/en/moved/", target)  # relative Location, same host
        for k in range(1, 5):
            site.redirect(f"/en/chain-{k}/", f"/en/chain-{k + 1}/", status=301)
        site.redirect("/en/chain-5/", target, status=307)  # five redirects: the most allowed
        for k in range(1, 7):
            site.redirect(f"/en/hop-{k}/", f"{site.base_url}/en/hop-{k + 1}/")  # six: one too many
        site.redirect("/en/loop-a/", f"{site.base_url}/en/loop-b/")
        site.redirect("/en/loop-b/", f"{site.base_url}/en/loop-a/")
        site.redirect("/en/away/", f"http://localhost:{site.port}{target}")  # the same server by another name
        site.redirect("/en/elsewhere/", f"http://127.0.0.2:{site.port}{target}")
        paths = ["/en/moved/", target.rstrip("/"), "/en/chain-1/", "/en/hop-1/", "/en/loop-a/"]
        paths += ["/en/away/", "/en/elsewhere/"]
        result = probe(tmp_path_factory.mktemp("redirects"), [site.base_url + p for p in paths])
        yield site, result, list(site.hits)


def test_redirects_are_followed_on_the_allowed_hosts_and_refused_off_them(
    redirects: tuple[FakeSite, Probe, list[Hit]],
) -> None:
    site, result, hits = redirects
    base, target = site.base_url, site.base_url + site.articles[0].path
    chain = [f"{base}/en/chain-{k}/" for k in range(1, 6)]
    assert result.outcomes == {
        f"{base}/en/moved/": {"status": 200, "url": target, "redirects": [f"{base}/en/moved/"], "retries": 0},
        target.rstrip("/"): {"status": 200, "url": target, "redirects": [target.rstrip("/")], "retries": 0},
        f"{base}/en/chain-1/": {"status": 200, "url": target, "redirects": chain, "retries": 0},
        f"{base}/en/hop-1/": {"error": "IgnoreRequest: max redirections reached"},
        f"{base}/en/loop-a/": {"error": f"IgnoreRequest: redirect loop: {base}/en/loop-b/ -> {base}/en/loop-a/"},
        f"{base}/en/away/": {
            "error": f"IgnoreRequest: redirect to another host refused: http://localhost:{site.port}{site.articles[0].path}"
        },
        f"{base}/en/elsewhere/": {
            "error": f"IgnoreRequest: redirect to another host refused: http://127.0.0.2:{site.port}{site.articles[0].path}"
        },
    }
    assert ({h.host for h in hits}, result.errors, result.log) == ({"127.0.0.1"}, [], [])
    assert [h.path for h in hits if h.path.startswith("/en/hop-")] == [f"/en/hop-{k}/" for k in range(1, 7)]


# --- robots.txt -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def robots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, FakeSite], Probe]]:
    """Five sites (five hosts to robots.txt: one per port), one answer each to robots.txt."""
    with contextlib.ExitStack() as stack:
        sites = {
            kind: stack.enter_context(FakeSite(articles(2), robots_txt="User-agent: *\nDisallow: /en/category/\n"))
            for kind in ("rules", "404", "503", "429", "reset")
        }
        sites["404"].fail("/robots.txt", 404)
        sites["503"].fail("/robots.txt", 503)
        sites["429"].fail("/robots.txt", 429)
        sites["reset"].reset("/robots.txt")
        urls = [s.base_url + s.articles[0].path for s in sites.values()]
        urls.append(sites["rules"].base_url + "/en/category/news/")
        yield sites, probe(tmp_path_factory.mktemp("robots"), urls, retries=1)


def test_robots_txt_rules_a_host_by_its_answer(robots: tuple[dict[str, FakeSite], Probe]) -> None:
    sites, result = robots
    page = {kind: s.base_url + s.articles[0].path for kind, s in sites.items()}
    forbidden = {"error": "IgnoreRequest: Forbidden by robots.txt"}
    assert result.outcomes == {
        page["rules"]: fetched(page["rules"]),  # allowed by its rules
        sites["rules"].base_url + "/en/category/news/": forbidden,  # disallowed by them
        page["404"]: fetched(page["404"]),  # no robots.txt: everything allowed
        page["503"]: forbidden,  # unavailable: nothing fetched
        page["429"]: forbidden,
        page["reset"]: forbidden,  # unreachable: nothing fetched
    }
    requests = {kind: [(h.path, h.status) for h in s.hits] for kind, s in sites.items()}
    assert requests == {
        "rules": [("/robots.txt", 200), (sites["rules"].articles[0].path, 200)],
        "404": [("/robots.txt", 404), (sites["404"].articles[0].path, 200)],
        "503": [("/robots.txt", 503), ("/robots.txt", 503)],  # robots.txt itself is retried
        "429": [("/robots.txt", 429), ("/robots.txt", 429)],
        "reset": [("/robots.txt", 0), ("/robots.txt", 0)],
    }


def test_an_unavailable_robots_txt_is_reported(robots: tuple[dict[str, FakeSite], Probe]) -> None:
    sites, result = robots
    netloc = {kind: f"127.0.0.1:{s.port}" for kind, s in sites.items()}
    assert sorted(result.errors) == sorted(
        [
            f"http://{netloc['503']}/robots.txt: HTTP 503: robots.txt unavailable, so nothing is fetched from"
            f" {netloc['503']} (RFC 9309)",
            f"http://{netloc['429']}/robots.txt: HTTP 429: robots.txt unavailable, so nothing is fetched from"
            f" {netloc['429']} (RFC 9309)",
            f"{netloc['reset']}: robots.txt unreachable (DownloadFailedError: [{CONNECTION_LOST}]), so nothing is"
            " fetched from it (RFC 9309)",
        ]
    )
