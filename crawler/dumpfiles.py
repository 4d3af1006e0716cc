"""Dump files: reading them safely (regular files, a size limit, UTF-8 text, not binary),
their metadata (a ``NAME.json`` sidecar or a folder manifest) and the folders given to
``crawl --replay``. What the text means is :mod:`crawler.dumps`."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import stat
from pathlib import Path

from crawler.dumps import DumpError, DumpMeta, parse_dump
from crawler.items import ArticleItem
from crawler.site import ICESCO, SiteProfile

log = logging.getLogger(__name__)

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def decode(data: bytes, where: str) -> str:
    """Bytes of a dump as text, or a DumpError that says what is wrong."""
    if not data.strip():
        raise DumpError(f"{where}: empty file")
    if b"\x00" in data[:8192]:
        raise DumpError(f"{where}: binary file (NUL bytes), not a text dump")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DumpError(f"{where}: invalid UTF-8 at byte {exc.start} (line {line})") from None
    controls = len(_CONTROL_RE.findall(text, 0, 8192))
    if controls > 8:
        raise DumpError(f"{where}: binary content ({controls} control characters), not a text dump")
    return text


MAX_DUMP_BYTES = 20 * 1024 * 1024  # replay.max_dump_bytes


def read_limited(path: Path, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit`` of them (a FIFO, a device or a file larger
    than the limit is a DumpError: it would hang the replay or fill the memory)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise DumpError(f"{path}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise DumpError(f"{path}: not a regular file (a FIFO, device or socket is not read)")
    if st.st_size > limit:
        raise DumpError(f"{path}: {st.st_size:,} bytes, more than replay.max_dump_bytes ({limit:,})")
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise DumpError(f"{path}: more than replay.max_dump_bytes ({limit:,}) bytes")
    return data


def read_dump(
    path: Path, max_bytes: int = MAX_DUMP_BYTES, site: SiteProfile = ICESCO
) -> tuple[list[ArticleItem], str | None]:
    """The articles of one dump file of ``site``, or an error message that says what and where.
    Never raises: whatever is wrong with one file (its bytes, its metadata, a bug it
    triggers) is that file's error alone. (A plain function of a path, so that worker
    processes can run it.)"""
    try:
        data = read_limited(path, max_bytes)
        return parse_dump(decode(data, str(path)), load_meta(path), where=str(path), site=site), None
    except DumpError as exc:
        return [], str(exc)
    except OSError as exc:
        return [], f"{path}: cannot read: {exc.strerror or exc}"
    except Exception as exc:  # a surprise in one dump must not void the others
        log.debug("%s: unexpected error", path, exc_info=True)
        return [], f"{path}: cannot be read: {type(exc).__name__}: {str(exc)[:200]}"


MANIFEST_NAMES = ("manifest.json", "sources.json")


def _meta_from_dict(raw: dict[str, object], where: str) -> DumpMeta:
    if not isinstance(raw, dict):
        raise DumpError(f"{where}: expected an object with url, captured_at, lang, kind")
    url = raw.get("url")
    captured = raw.get("captured_at")
    captured_at = None
    if captured is not None:
        try:
            captured_at = dt.datetime.fromisoformat(str(captured).replace("Z", "+00:00"))
        except ValueError:
            raise DumpError(f"{where}: captured_at {captured!r} is not an ISO 8601 time") from None
        if captured_at.tzinfo is None:
            raise DumpError(f"{where}: captured_at {captured!r} needs a time zone (e.g. Z)")
        if not 1990 <= captured_at.year <= dt.datetime.now(dt.UTC).year + 1:
            raise DumpError(f"{where}: captured_at {captured!r} is not a plausible capture time")
    lang = raw.get("lang")
    kind = raw.get("kind")
    if kind not in (None, "listing", "article"):
        raise DumpError(f"{where}: kind must be 'listing' or 'article', not {kind!r}")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise DumpError(f"{where}: url must be an http(s) URL, not {url!r}")
    return DumpMeta(
        url=url,
        captured_at=captured_at,
        lang=str(lang) if lang else None,
        kind=str(kind) if kind else None,
        complete=None if raw.get("complete") is None else bool(raw.get("complete")),
    )


def load_meta(path: Path) -> DumpMeta:
    """The metadata of a dump: ``NAME.json`` beside it, else an entry in the folder's
    ``manifest.json`` or ``sources.json`` (``{"NAME": {"url": ..., "captured_at": ...}}``)."""
    sidecar = path.with_name(path.name + ".json")
    if sidecar.is_file():
        return _meta_from_dict(_read_json(sidecar), str(sidecar))
    for name in MANIFEST_NAMES:
        manifest = path.with_name(name)
        if manifest.is_file():
            data = _read_json(manifest)
            entries = data.get("files", data) if isinstance(data, dict) else None
            if isinstance(entries, dict) and path.name in entries:
                return _meta_from_dict(entries[path.name], f"{manifest} [{path.name}]")
    return DumpMeta()


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(read_limited(path, 1024 * 1024).decode("utf-8"))
    except RecursionError:
        raise DumpError(f"{path}: unreadable metadata: nested too deeply") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DumpError(f"{path}: unreadable metadata: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise DumpError(f"{path}: metadata must be a JSON object")
    return data


def expand_paths(paths: list[Path]) -> list[Path]:
    """Dump files named or found in named folders (``*.txt``), in file-name order."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            root = p.resolve()
            for f in sorted(p.iterdir()):
                if not (f.suffix == ".txt" and f.is_file()):
                    continue
                if not f.resolve().is_relative_to(root):  # a link out of the folder given
                    log.warning("%s: links outside %s; not read", f, p)
                    continue
                files.append(f)
        elif p.exists() or p.is_symlink():
            files.append(p)  # a FIFO or device is refused when read, as that file's error
        else:
            raise DumpError(f"{p}: no such file or folder")
    return files
