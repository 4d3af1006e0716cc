"""Shared fixtures, and the hypothesis profile.

Property tests are derandomised by default, so that a run of the suite (and CI) is
reproducible: the same examples each time. ``ICESCO_HYPOTHESIS=explore`` draws new random
examples (and more of them) to look for new failures; keep each one found as an
``@example`` and a unit test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, max_examples=2000)
settings.load_profile("explore" if os.environ.get("ICESCO_HYPOTHESIS") == "explore" else "default")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"
