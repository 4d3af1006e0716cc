"""Shared fixtures, and the hypothesis profile.

Property tests are derandomised by default, so that a run of the suite (and CI) is
reproducible: the same examples each time. ``ICESCO_HYPOTHESIS=explore`` draws new random
examples (and more of them) to look for new failures; keep each one found as an
``@example`` and a unit test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings
from smtpsink import SmtpSink

if TYPE_CHECKING:
    from faultkit import Corpus

settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, max_examples=2000)
settings.load_profile("explore" if os.environ.get("ICESCO_HYPOTHESIS") == "explore" else "default")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A real SMTP server on 127.0.0.1 (``smtpsink.py``), for one test."""
    with SmtpSink() as s:
        yield s


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """150 listing dumps of 10 articles each, every title unique (``faultkit.py``), built once
    for the fault modules."""
    from faultkit import build_corpus

    return build_corpus(tmp_path_factory.mktemp("corpus"))


# --- a real WordPress on 127.0.0.1 (tests/wordpress.py) --------------------------------------
# (Imported here, not at the top, so that this section stays one addition at the end.)

import logging  # noqa: E402

from wordpress import WordPress, wordpress_missing  # noqa: E402


@pytest.fixture(scope="session")
def wordpress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordPress]:
    """The test WordPress, started once per session (MariaDB, PHP's server, three sites with
    the baseline). Skipped when Debian's packages are missing, unless ICESCO_REQUIRE_WORDPRESS=1
    (CI), which makes that a failure. Use ``wp`` in tests: it resets the site first."""
    reason = wordpress_missing()
    if reason is not None:
        if os.environ.get("ICESCO_REQUIRE_WORDPRESS") == "1":
            pytest.fail(f"ICESCO_REQUIRE_WORDPRESS=1 but the test WordPress cannot run: {reason}", pytrace=False)
        pytest.skip(f"test WordPress unavailable: {reason}")
    site = WordPress.start(tmp_path_factory.mktemp("wordpress"))
    logging.getLogger(__name__).info("test WordPress started in %.1fs", site.startup_seconds)
    try:
        yield site
    finally:
        site.close()


@pytest.fixture
def wp(wordpress: WordPress) -> Iterator[WordPress]:
    """The test WordPress at its baseline: database restored, no switches, empty request log."""
    wordpress.reset()
    yield wordpress


# --- headless chromium (tests/browser.py) ---------------------------------------------------

from browser import add_options, browser_out, chromium  # noqa: E402,F401


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
