"""Shared test helpers: paths, and running the real command line in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from crawler.site import WORDPRESS_BOILERPLATE, SiteProfile

ROOT = Path(__file__).resolve().parent.parent
DUMPS = ROOT / "monitor" / "demo" / "dumps"
SAMPLES = ROOT / "tests" / "fixtures" / "samples"

# A second site: a hypothetical WordPress newspaper with its own hosts, furniture, title suffix.
EXAMPLE_SITE = SiteProfile(
    name="example",
    hosts=("example.org", "news.example.org"),
    news=(("", "news"),),
    title_names=("Example Times",),
    boilerplate=(*WORDPRESS_BOILERPLATE, r"subscribe to (the )?example times( newsletter)?\W*"),
    timezone="Europe/London",
)
# The command line with EXAMPLE_SITE registered, as a built-in profile of crawler/site.py would be.
_WITH_EXAMPLE_SITE = (
    "import crawler.site, helpers; crawler.site.register(helpers.EXAMPLE_SITE);"
    " from monitor.cli import main; main(prog_name='icesco-monitor')"
)


def run_cli(
    *args: str, db: Path | None = None, config: Path | None = None, timeout: float = 120, example_site: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``icesco-monitor`` in a subprocess (a real crawl needs its own process); with
    ``example_site``, profile ``example`` (EXAMPLE_SITE) can be picked in its config."""
    cmd = [sys.executable, "-c", _WITH_EXAMPLE_SITE] if example_site else [sys.executable, "-m", "monitor.cli"]
    if config is not None:
        cmd += ["--config", str(config)]
    if db is not None:
        cmd += ["--db", str(db)]
    cmd += list(args)
    path = [str(ROOT), str(ROOT / "tests")] if example_site else [str(ROOT)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), NO_PROXY="*", no_proxy="*")
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(var, None)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def crawl_json(*args: str, db: Path, config: Path | None = None) -> dict[str, Any]:
    proc = run_cli("crawl", "--json", *args, db=db, config=config)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- a synthetic corpus of dumps, built from the bundled ones ---------------------------

# The page furniture that opens every ICESCO listing capture (see monitor/demo/dumps/).
DUMP_HEADER = (
    "Disclaimer: You are using Google Translate. The ICESCO is not responsible for the accuracy"
    " of the information in the translated language .\n\n"
    "your opinion\n\n"
    "User Feedback\n\n"
    "Overall, how satisfied are you about the website?\n\n"
    "    Extremely Dissatisfied Extremely Satisfied\n\n"
)


def synthetic_dump(sources: list[Any], first: int, per_file: int) -> str:
    """One listing capture in the bundled dumps' format: header, then articles (title,
    maybe subtitle, paragraphs), all indented 4 spaces; each article made unique."""
    parts = [DUMP_HEADER]
    for k in range(first, first + per_file):
        src = sources[k % len(sources)]
        paragraphs = [f"{src.paragraphs[0]} Copy {k}.", *src.paragraphs[1:]]
        blocks = [f"{src.title} (copy {k})", *([src.subtitle] if src.subtitle else []), *paragraphs]
        parts.append("".join(f"    {b}\n\n" for b in blocks))
    return "".join(parts)


def real_articles() -> list[Any]:
    """The 50 articles of the bundled dumps, parsed."""
    from crawler.dumps import read_dump

    return [item for path in sorted(DUMPS.glob("*.txt")) for item in read_dump(path)[0]]


def write_corpus(folder: Path, files: int, per_file: int) -> int:
    """``files`` dumps of ``per_file`` unique articles each; returns their size in bytes."""
    sources = real_articles()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (folder / f"{i:05d}.txt").write_text(synthetic_dump(sources, i * per_file, per_file), encoding="utf-8")
    return sum(f.stat().st_size for f in folder.iterdir())
