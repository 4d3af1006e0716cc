"""The project's one Jinja environment: every template readers get (the web pages, the
digests) is rendered by :data:`env`, with the same options and filters.

``env`` is Jinja2's sandbox, so the shipped templates run under the same rules as an
operator's own (``digest.template_dir``): :func:`with_folder` is ``env`` looking in the
operator's folder first, and a template there cannot reach Python internals (that raises
SecurityError). HTML templates (``*.html.j2``) are autoescaped, text ones are not; an
undefined name is an error, never an empty string.

Filters: ``local_date(value, timezone)``, the date a stored time falls on in the site's time
zone (``YYYY-MM-DD``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from feeds.entries import local_date

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith((".html.j2", ".html"))


env = SandboxedEnvironment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=_autoescape,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["local_date"] = local_date


@functools.lru_cache(maxsize=4)
def with_folder(folder: str | None) -> jinja2.Environment:
    """``env``, or with ``folder`` (the operator's templates) searched before the shipped ones."""
    if not folder:
        return env
    return env.overlay(loader=jinja2.FileSystemLoader([folder, str(TEMPLATES)]))
