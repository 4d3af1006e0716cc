"""A real WordPress on 127.0.0.1, shaped like icesco.org, for tests.

Debian's ``wordpress`` (6.1), ``mariadb-server`` and ``php-cli`` are run from a temporary
folder; nothing here talks to any host but 127.0.0.1 (WordPress itself is barred from any
outgoing HTTP, and its mail goes nowhere).

* MariaDB: its own data folder and socket (``--skip-networking``), database ``wordpress``.
* WordPress: a copy of ``/usr/share/wordpress`` with ``tests/wp/wp-config.php`` serving three
  single sites from one tree, like ICESCO's language sites: ``/en/``, ``/fr/`` and ``/ar/``
  (table prefixes ``en_``, ``fr_``, ``ar_``), pretty permalinks
  ``/%year%/%monthnum%/%day%/%postname%/``, time zone ``Africa/Casablanca``, 10 posts a page,
  theme ``twentytwentyone`` (``twentytwentythree`` available).
* PHP's built-in server (4 workers) with ``tests/wp/router.php``, which logs every request
  (``requests()``).
* ``tests/wp/tool.php``: JSON operations run by PHP CLI in a site (``php()``, ``add_post()``...).
* ``tests/wp/icesco-test-switches.php`` (a must-use plugin): fault switches ``set_rest()`` and
  ``set_layout()``.
* A fixed baseline (``BASELINE``; with ids and links in ``WordPress.baseline``), dumped once;
  ``reset()`` restores it.

Typical use (the ``wordpress`` and ``wp`` fixtures of ``conftest.py`` do this)::

    wp = WordPress.start(tmp_folder)
    try:
        wp.reset()
        listing = wp.fetch(wp.url("en", "category/news/"))
        post = wp.add_post("en", "Title", block_content("A paragraph."), "2025-05-01 10:00:00", ["news"])
        wp.set_rest("403")
    finally:
        wp.close()
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypedDict

from helpers import Reply, fetch, free_port

log = logging.getLogger(__name__)

__all__ = [
    "BASELINE",
    "CATEGORIES",
    "NEWS",
    "REST_MODES",
    "SITES",
    "THEMES",
    "BaselinePost",
    "PostSpec",
    "RestMode",
    "WordPress",
    "WordPressError",
    "block_content",
    "wordpress_missing",
]

WP_SOURCE = Path("/usr/share/wordpress")
HERE = Path(__file__).resolve().parent
WP_FILES = HERE / "wp"
SITES: tuple[str, ...] = ("en", "fr", "ar")
THEMES: tuple[str, ...] = ("twentytwentyone", "twentytwentythree")
DEFAULT_THEME = "twentytwentyone"
PERMALINKS = "/%year%/%monthnum%/%day%/%postname%/"
TIMEZONE = "Africa/Casablanca"
RestMode = Literal["401", "403", "404", "html"]
REST_MODES: tuple[str, ...] = ("401", "403", "404", "html")

DB_NAME = "wordpress"
DB_USER = "wordpress"
DB_PASSWORD = "icesco-test-password"  # a throwaway database on a private socket

#: Categories of each site, slug -> name, in creation order (WordPress stores the Arabic
#: slugs percent-encoded, lower-case: ``%d8%a7%d9%84...``).
CATEGORIES: dict[str, dict[str, str]] = {
    "en": {"news": "News", "director-general": "Director-General"},
    "fr": {"a-la-une": "À la une", "directeur-general": "Directeur général"},
    "ar": {"المستجدات": "المستجدات", "المدير-العام": "المدير العام"},
}
#: The listing category of each site (ICESCO's "news").
NEWS: dict[str, str] = {"en": "news", "fr": "a-la-une", "ar": "المستجدات"}

STARTUP_TIMEOUT = 60.0
PHP_TIMEOUT = 180.0
HTTP_TIMEOUT = 30.0


class WordPressError(RuntimeError):
    """The test WordPress (or its database) failed; the message says where, with log tails."""


def _find(name: str) -> str | None:
    """An executable on PATH, or in the sbin folders (mariadbd is in /usr/sbin)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])
    return shutil.which(name, path=path)


def wordpress_missing() -> str | None:
    """Why the test WordPress cannot run here (a missing program, package or PHP extension), or None."""
    for program in ("php", "mariadbd", "mariadb-install-db", "mariadb", "mariadb-dump"):
        if _find(program) is None:
            return f"{program} not found (Debian: php-cli, mariadb-server, mariadb-client)"
    if not (WP_SOURCE / "wp-settings.php").is_file():
        return f"{WP_SOURCE} not found (Debian package wordpress)"
    for theme in THEMES:
        if not (WP_SOURCE / "wp-content" / "themes" / theme / "style.css").is_file():
            return f"WordPress theme {theme} not found in {WP_SOURCE}/wp-content/themes"
    php = _find("php")
    assert php is not None
    try:
        modules = subprocess.run([php, "-m"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"php -m failed: {exc}"
    if "mysqli" not in {line.strip().lower() for line in modules.splitlines()}:
        return "PHP extension mysqli not found (Debian package php-mysql)"
    return None


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"({path}: {exc})"
    return f"--- last lines of {path} ---\n" + "\n".join(text.splitlines()[-lines:])


def _wait(what: str, ready: Callable[[], bool], timeout: float, failed: Callable[[], str | None]) -> None:
    """Poll ``ready()`` until true; raise when ``failed()`` says why, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if ready():
            return
        reason = failed()
        if reason is not None:
            raise WordPressError(f"{what}: {reason}")
        if time.monotonic() > deadline:
            raise WordPressError(f"{what}: not ready after {timeout:.0f}s")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def _stop(proc: subprocess.Popen[Any] | None, what: str, group: bool = False, timeout: float = 20.0) -> None:
    """Terminate, wait, kill: a process we started (with ``group``, its own process group)."""
    if proc is None or proc.poll() is not None:
        return

    def send(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)

    send(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("%s (pid %d) did not stop in %.0fs: killing it", what, proc.pid, timeout)
        send(signal.SIGKILL)
        proc.wait(timeout=timeout)
    if group:  # Workers that outlived their parent.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def _php_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def block_content(*paragraphs: str) -> str:
    """Post content as the block editor saves it: one paragraph block per paragraph (HTML allowed)."""
    return "\n\n".join(f"<!-- wp:paragraph -->\n<p>{p}</p>\n<!-- /wp:paragraph -->" for p in paragraphs)


# --- MariaDB ------------------------------------------------------------------------------


class MariaDB:
    """A private MariaDB server: data folder, Unix socket only (``--skip-networking``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.datadir = folder / "data"
        self.pid_file = folder / "mariadbd.pid"
        self.error_log = folder / "mariadbd.err"
        self.socket = folder / "mysql.sock"
        self._socket_dir: Path | None = None
        if len(str(self.socket).encode()) > 100:  # sun_path holds 108 bytes
            self._socket_dir = Path(tempfile.mkdtemp(prefix="icesco-mdb-"))
            self.socket = self._socket_dir / "mysql.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def _root_user(self) -> list[str]:
        return ["--user=root"] if os.geteuid() == 0 else []

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        install = [
            _find("mariadb-install-db") or "mariadb-install-db",
            "--no-defaults",
            "--auth-root-authentication-method=normal",
            f"--datadir={self.datadir}",
            "--skip-test-db",
            "--skip-name-resolve",
            *self._root_user(),
        ]
        install_log = self.folder / "mariadb-install-db.log"
        with install_log.open("wb") as out:
            try:
                done = subprocess.run(install, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
            except subprocess.TimeoutExpired as exc:
                raise WordPressError(
                    f"mariadb-install-db: no result after {timeout:.0f}s\n{_tail(install_log)}"
                ) from exc
        if done.returncode != 0:
            raise WordPressError(f"mariadb-install-db failed (exit {done.returncode})\n{_tail(install_log)}")
        server = [
            _find("mariadbd") or "mariadbd",
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            "--skip-networking",
            f"--pid-file={self.pid_file}",
            f"--log-error={self.error_log}",
            *self._root_user(),
            "--skip-name-resolve",
            "--skip-log-bin",
            "--performance-schema=OFF",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
        ]
        self.proc = subprocess.Popen(
            server, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def failed() -> str | None:
            assert self.proc is not None
            code = self.proc.poll()
            return None if code is None else f"mariadbd exited with status {code}"

        def ready() -> bool:
            if not self.socket.exists():
                return False
            try:
                probe = subprocess.run(
                    [*self._client(), "-e", "SELECT 1"], capture_output=True, timeout=10, check=False
                )
            except subprocess.TimeoutExpired:
                return False
            return probe.returncode == 0

        try:
            _wait(f"mariadbd on {self.socket}", ready, timeout, failed)
        except WordPressError as exc:
            self.stop()
            raise WordPressError(f"{exc}\n{_tail(self.error_log)}") from None
        log.info("mariadbd (pid %d) ready on %s", self.proc.pid, self.socket)

    def _client(self, program: str = "mariadb") -> list[str]:
        return [_find(program) or program, "--no-defaults", f"--socket={self.socket}", "--user=root"]

    def sql(self, statements: str, database: str | None = None, timeout: float = 60.0) -> str:
        """Run SQL as root; the output (tab-separated, no column names)."""
        cmd = [*self._client(), "--batch", "--skip-column-names", *([database] if database else [])]
        done = subprocess.run(cmd, input=statements.encode(), capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise WordPressError(
                f"mariadb: {done.stderr.decode(errors='replace').strip()}\nSQL: {statements[:500]}\n{_tail(self.error_log)}"
            )
        return done.stdout.decode()

    def dump(self, database: str, target: Path, timeout: float = 120.0) -> None:
        cmd = [*self._client("mariadb-dump"), "--single-transaction", "--skip-dump-date", "--add-drop-table", database]
        with target.open("wb") as out:
            done = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, timeout=timeout, check=False)
        if done.returncode != 0:
            raise WordPressError(f"mariadb-dump: {done.stderr.decode(errors='replace').strip()}")

    def restore(self, database: str, source: Path, timeout: float = 120.0) -> None:
        with source.open("rb") as dump:
            done = subprocess.run(
                [*self._client(), database], stdin=dump, capture_output=True, timeout=timeout, check=False
            )
        if done.returncode != 0:
            raise WordPressError(f"restoring {source}: {done.stderr.decode(errors='replace').strip()}")

    def stop(self) -> None:
        _stop(self.proc, "mariadbd", timeout=30.0)
        self.proc = None
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None


# --- the baseline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PostSpec:
    """A baseline post: the site, the title, the site-local date, category slugs, paragraphs."""

    site: str
    title: str
    date: str
    categories: tuple[str, ...]
    paragraphs: tuple[str, ...]

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)

    @property
    def kind(self) -> str:
        """``short`` (under 55 words: twentytwentyone lists it whole, with no "Continue reading"
        link), ``long`` (over 120 words, several paragraphs) or ``medium`` (none in the baseline)."""
        return "short" if self.words < 55 else "long" if self.words > 120 else "medium"


class BaselinePost(TypedDict):
    site: str
    title: str
    date: str
    categories: list[str]
    link: str
    id: int
    slug: str
    kind: str
    words: int


_EN_DG = "Dr. Salim M. AlMalik, Director-General of the Islamic World Educational, Scientific and Cultural Organization (ICESCO)"

#: The baseline, oldest first (the order in which the posts are created, so ids grow with dates).
#: Two posts are dated 00:30 site-local time: on 2025-01-15 Casablanca is UTC+1, so that post's
#: GMT date is the day before its URL's date; on 2025-03-10 (Ramadan) Casablanca is UTC+0.
BASELINE: tuple[PostSpec, ...] = (
    PostSpec(
        "en",
        "ICESCO and Finland Explore Opportunities in Education",
        "2024-02-12 10:15:00",
        ("news",),
        (
            f"{_EN_DG}, explored today with Mr. Pekka Hyvönen, Ambassador of Finland to Morocco, "
            "cooperation prospects between the Organization and Finland. The discussions focused on education, "
            "given the republic’s pioneering and successful educational system.",
            "Dr. AlMalik highlighted ICESCO’s open-door policy. He added that the Organization seeks to sustain "
            "productive partnerships in education, science, and culture with non-Member States, international "
            "organizations, and civil society institutions.",
            "The talks also revolved around ICESCO’s specialized centers for strategic foresight, artificial "
            "intelligence, Arabic courses for non-native speakers, heritage, dialogue and cultural diversity.",
            "The country’s robust educational system is based on three key pillars: great respect and appreciation "
            "for teachers, premium training for teachers, and harnessing students’ creativity and honing their skills.",
        ),
    ),
    PostSpec(
        "en",
        "ICESCO Participates in 9th Education ODA Conference",
        "2024-04-03 16:40:00",
        ("news",),
        (
            "ICESCO took part in the 9th Education ODA Conference, where its representative highlighted the "
            "Organization’s vision and efforts to support digital education in its Member States.",
        ),
    ),
    PostSpec(
        "en",
        "ICESCO Director-General Receives Ambassador of Greece to Rabat",
        "2024-06-18 09:00:00",
        ("news", "director-general"),
        (
            f"{_EN_DG}, received Mr. Nicolaos Argyos, Ambassador of Greece to Morocco, at the Organization’s "
            "headquarters in Rabat. The two officials explored cooperation prospects between ICESCO and Greece.",
            "Dr. AlMalik reaffirmed ICESCO’s great progress over the past year following the Executive Council’s "
            "adoption of the General Directorate’s plans, and highlighted the Organization’s strategy to ensure "
            "effective communication with Member and non-Member States.",
            "“Greece has an extensive background in the preservation and conservation of heritage. We should "
            "cooperate and capitalize on its experience in this field,” said the Director-General.",
            "ICESCO adopted a new Charter allowing non-Member States to join the Organization as observers. "
            "The DG invited Greece to join ICESCO as an observer state.",
        ),
    ),
    PostSpec(
        "en",
        "ICESCO Reviews its Efforts in Field of Education for Global Citizenship",
        "2024-09-21 11:30:00",
        ("news",),
        (
            "The Islamic World Educational, Scientific and Cultural Organization (ICESCO) reviewed its efforts "
            "in the field of education for global citizenship at an international meeting of experts.",
            "ICESCO’s representative highlighted the need for transformative education and learning, which nurture "
            "shared values and respect for diversity, equity and inclusion, noting that ICESCO stresses the "
            "importance of knowledge as a tool for positive transformation in our societies.",
            "She cited new and innovative initiatives such as ICESCO International Think Tank “Culture for "
            "Rethinking the World”, the Societies We Want initiative, and ICESCO’s Leadership Training for Peace "
            "and Security Programme, which are comprehensive mechanisms to build peace and develop youth.",
            "The meeting concluded with recommendations to integrate global citizenship education into national "
            "curricula, to train teachers in its methods, and to strengthen cooperation between Member States in "
            "exchanging good practices.",
        ),
    ),
    PostSpec(
        "en",
        "ICESCO and IOM Explore Strengthening Cooperation",
        "2024-10-30 15:05:00",
        ("news",),
        (
            "ICESCO and the International Organization for Migration (IOM) discussed ways to strengthen their "
            "cooperation in education and the protection of migrant children.",
        ),
    ),
    PostSpec(
        "en",
        "On Global Forum for Alliance of Civilizations, ICESCO Director-General Calls for Consolidating "
        "Justice, Fraternity and Equality",
        "2024-11-22 18:45:00",
        ("news", "director-general"),
        (
            "ICESCO is participating in the activities and sessions of the Global Forum for the Alliance of "
            "Civilizations in Fez, with a high-level delegation headed by Dr. AlMalik, and including several "
            "Heads of Sectors and Directors of Departments and Centers of the Organization.",
            "In his address, the Director-General called for consolidating the values of justice, fraternity and "
            "equality, and for making dialogue between cultures a daily practice rather than an occasional event.",
            "The UNAOC Global Forum is held in the presence of the ministers of culture of several countries as "
            "well as high-level officials of regional and international organizations, and eminent international "
            "figures.",
            "Dr. AlMalik also reviewed ICESCO’s efforts to promote the values of coexistence and mutual respect, "
            "including the Islamic World Heritage List, the Capitals of Culture Program, and the programs of the "
            "Center of Civilizational Dialogue.",
        ),
    ),
    PostSpec(
        "en",
        "ICESCO Workshop for Training Women on Income-Generating Activities Kicks off in Cameroon",
        "2024-12-09 08:20:00",
        ("news",),
        (
            "The workshop focuses on storing, processing and packaging agricultural products, on project "
            "management, and on marketing and e-commerce skills.",
        ),
    ),
    PostSpec(
        "en",
        "ICESCO and Omani National Commission Hold Symposium on Digital Entrepreneurship in Muscat",
        "2025-01-15 00:30:00",
        ("news",),
        (
            "The Islamic World Educational, Scientific and Cultural Organization (ICESCO) and the Omani National "
            "Commission for Education, Culture and Science held a symposium on digital entrepreneurship in Muscat.",
            "The symposium reviewed the efforts of ICESCO Strategic Foresight Center, which launched several "
            "initiatives, including an international conference on the skills and jobs of tomorrow, training "
            "sessions and workshops in the field of artificial intelligence and strategic foresight.",
            "Participants also discussed a dictionary of artificial intelligence vocabulary, the project of the "
            "future as imagined by youth, and a report on the impact of artificial intelligence on the world of "
            "tomorrow.",
            "At the end of the symposium, the participants recommended creating incubators for young entrepreneurs, "
            "training programs in digital skills, and a regional network to share the experiences of the Member "
            "States in this field.",
        ),
    ),
    PostSpec(
        "en",
        "ICESCO and TURKSOY Explore Cooperation Prospects",
        "2025-02-04 13:00:00",
        ("news",),
        (
            "ICESCO and the International Organization of Turkic Culture (TURKSOY) explored cooperation "
            "prospects in culture, heritage and the arts.",
        ),
    ),
    PostSpec(
        "en",
        "ICESCO Director-General Calls for Development of Museums",
        "2025-03-10 00:30:00",
        ("news", "director-general"),
        (
            "The Director-General called for the development of museums and the consolidation of museum "
            "culture to enrich inter-civilizational dialogue.",
        ),
    ),
    PostSpec(
        "en",
        "On Occasion of World Children’s Day… Children Try to Be in Charge at ICESCO",
        "2025-04-22 10:00:00",
        ("news",),
        (
            "On the occasion of World Children’s Day, ICESCO opened its headquarters in Rabat to a group of "
            "children who took the place of the Organization’s officials for a day.",
            "The children chaired a meeting of the Executive Council, presented the programs of the sectors, "
            "and discussed their vision of education, science and culture in the world of tomorrow.",
            "The initiative aims to raise children’s awareness of their rights, to encourage them to express their "
            "opinions, and to build their leadership skills from an early age, in line with ICESCO’s programs on "
            "youth capacity building.",
            "At the end of the day, the children handed the Director-General a list of recommendations on the "
            "protection of the environment, access to quality education for all, and the use of new technologies "
            "in schools.",
        ),
    ),
    PostSpec(
        "en",
        "ICESCO: Building Peace is a Shared Responsibility",
        "2025-06-05 17:25:00",
        ("news", "director-general"),
        (
            "Dr. AlMalik highlighted ICESCO’s programs in the field of promoting the culture of peace, namely the "
            "Leadership Training for Peace and Security Program, and the Program of Integrating ICESCO’s Peace 360° "
            "Approach in Academic Spheres.",
            "The Director-General also cast light on the Young Professionals Programme and the Leaderships "
            "Incubator, which both aim to build young people’s leadership and professional capacities.",
            "“Building peace is a shared responsibility that every individual must aspire to achieve,” he said, "
            "calling on universities and research centers to join the Organization’s efforts.",
            "The Director-General made these remarks at a meeting with a delegation of students and researchers, "
            "during which he reviewed the Organization’s vision and strategic orientations for the coming years.",
            "He stressed that education, science and culture are the strongest foundations of lasting peace, and "
            "that ICESCO will continue to support its Member States in building the capacities of youth and women.",
        ),
    ),
    PostSpec(
        "en",
        "ICESCO Launches Arabic Language Courses for Non-Native Speakers",
        "2025-09-16 12:10:00",
        ("news",),
        (
            "ICESCO launched a new session of its Arabic language courses for non-native speakers, online and "
            "at its headquarters in Rabat.",
        ),
    ),
    PostSpec(
        "en",
        "ICESCO Strategic Foresight Center Publishes Report on Artificial Intelligence & the World of Tomorrow",
        "2025-11-03 09:45:00",
        ("news",),
        (
            "The Islamic World Educational, Scientific and Cultural Organization (ICESCO) organized a training "
            "workshop on “Strategic Foresight for Decision-Making” at the headquarters of the Moroccan National "
            "Commission for Education, Science and Culture in Rabat.",
            "The workshop, organized by ICESCO’s Center for Strategic Foresight and Artificial Intelligence, aimed "
            "to equip participants with an understanding of foresight tools as an effective methodology for future "
            "planning, addressing complex challenges, and supporting decision-making.",
            "The workshop included theoretical, practical, and interactive sessions, during which participants "
            "explored foresight tools such as horizon scanning, trend analysis, and the development of proactive "
            "scenarios.",
            "It concluded with a group brainstorming session that underscored the importance of integrating "
            "strategic foresight practices into public planning.",
            "Participants expressed strong interest in applying these tools in their institutional work, and called "
            "for similar workshops for the other National Commissions of the Member States.",
        ),
    ),
    PostSpec(
        "fr",
        "L’ICESCO et la Finlande explorent les perspectives de coopération dans le domaine de l’éducation",
        "2024-05-14 10:00:00",
        ("a-la-une",),
        (
            "Le Dr Salim M. AlMalik, Directeur général de l’Organisation du monde islamique pour l’éducation, "
            "les sciences et la culture (ICESCO), a examiné avec l’ambassadeur de Finlande au Maroc les "
            "perspectives de coopération entre l’Organisation et la Finlande.",
            "Les discussions ont porté sur l’éducation, compte tenu du système éducatif pionnier de ce pays, "
            "fondé sur le respect des enseignants, leur formation de haut niveau et la créativité des élèves.",
            "Le Directeur général a souligné la politique d’ouverture de l’ICESCO et son souhait de nouer des "
            "partenariats fructueux avec les États non membres, les organisations internationales et la société "
            "civile.",
            "Il a invité la Finlande à rejoindre l’ICESCO en qualité d’État observateur, conformément à la nouvelle "
            "Charte de l’Organisation, qui permet aux États non membres de participer à ses activités, programmes "
            "et conférences.",
        ),
    ),
    PostSpec(
        "fr",
        "Le Directeur général de l’ICESCO reçoit l’ambassadeur de Grèce à Rabat",
        "2024-11-20 15:30:00",
        ("a-la-une", "directeur-general"),
        (
            "Les deux responsables ont examiné les perspectives de coopération entre l’ICESCO et la Grèce, "
            "notamment dans le domaine de la préservation du patrimoine.",
        ),
    ),
    PostSpec(
        "fr",
        "Journée mondiale de l’enfance : des enfants aux commandes à l’ICESCO",
        "2025-02-27 09:15:00",
        ("a-la-une",),
        (
            "À l’occasion de la Journée mondiale de l’enfance, l’ICESCO a ouvert son siège à Rabat à un groupe "
            "d’enfants qui ont pris la place des responsables de l’Organisation pendant une journée.",
            "Les enfants ont présidé une réunion du Conseil exécutif, présenté les programmes des secteurs et "
            "exposé leur vision de l’éducation, des sciences et de la culture dans le monde de demain.",
            "Cette initiative vise à sensibiliser les enfants à leurs droits, à les encourager à exprimer leurs "
            "opinions et à développer leurs compétences de leadership dès le plus jeune âge.",
            "À la fin de la journée, les enfants ont remis au Directeur général une liste de recommandations sur "
            "la protection de l’environnement, l’accès de tous à une éducation de qualité et l’usage des nouvelles "
            "technologies à l’école.",
        ),
    ),
    PostSpec(
        "fr",
        "L’ICESCO lance au Cameroun un atelier de formation des femmes aux activités génératrices de revenus",
        "2025-07-08 00:30:00",
        ("a-la-une",),
        (
            "L’atelier porte sur le stockage, la transformation et l’emballage des produits agricoles, ainsi que "
            "sur la gestion de projets et le commerce électronique.",
        ),
    ),
    PostSpec(
        "ar",
        "الإيسيسكو وفنلندا تبحثان آفاق التعاون في مجال التربية",
        "2024-03-19 11:00:00",
        ("المستجدات",),
        (
            "بحث الدكتور سالم بن محمد المالك، المدير العام لمنظمة العالم الإسلامي للتربية والعلوم والثقافة "
            "(إيسيسكو)، مع سفير جمهورية فنلندا لدى المملكة المغربية، آفاق التعاون بين المنظمة وفنلندا.",
            "وتركزت المباحثات على مجال التربية والتعليم، بالنظر إلى النظام التعليمي الرائد في فنلندا، القائم "
            "على احترام المعلمين وتقديرهم وتدريبهم تدريبا متميزا وتنمية إبداع التلاميذ.",
            "وأكد المدير العام سياسة الانفتاح التي تنتهجها الإيسيسكو، وسعيها إلى بناء شراكات مثمرة مع الدول "
            "غير الأعضاء والمنظمات الدولية ومؤسسات المجتمع المدني.",
            "ودعا المدير العام فنلندا إلى الانضمام إلى الإيسيسكو بصفة دولة مراقب، وفقا للميثاق الجديد للمنظمة "
            "الذي يتيح للدول غير الأعضاء المشاركة في أنشطتها وبرامجها ومؤتمراتها، باستثناء حق التصويت.",
            "كما استعرض جهود مراكز الإيسيسكو المتخصصة في الاستشراف الاستراتيجي والذكاء الاصطناعي وتعليم اللغة "
            "العربية للناطقين بغيرها والتراث والحوار الحضاري، ودورها في دعم الدول الأعضاء ومواكبة التحولات التي "
            "يشهدها العالم الإسلامي.",
        ),
    ),
    PostSpec(
        "ar",
        "المدير العام للإيسيسكو يستقبل سفير اليونان في الرباط",
        "2024-12-18 10:30:00",
        ("المستجدات", "المدير-العام"),
        ("بحث الجانبان آفاق التعاون بين الإيسيسكو واليونان، ولا سيما في مجال صون التراث الثقافي.",),
    ),
    PostSpec(
        "ar",
        "الإيسيسكو تنظم في الكاميرون ورشة لتدريب النساء على الأنشطة المدرة للدخل",
        "2025-05-12 16:00:00",
        ("المستجدات",),
        (
            "انطلقت في الكاميرون أعمال ورشة تنظمها منظمة العالم الإسلامي للتربية والعلوم والثقافة (إيسيسكو) "
            "لتدريب النساء على الأنشطة المدرة للدخل.",
            "وتركز الورشة على توعية المشاركات بأفضل الممارسات في تخزين المنتجات الزراعية وتحويلها وتعبئتها، "
            "وبناء قدراتهن في مجالات إدارة المشاريع والموارد المالية.",
            "كما تسعى الورشة إلى مساعدة المشاركات على تحسين مهاراتهن في التسويق والتجارة الإلكترونية، في إطار "
            "برامج الإيسيسكو لتمكين المرأة اقتصاديا في الدول الأعضاء.",
            "وأكد ممثل الإيسيسكو في كلمته خلال الافتتاح أن المنظمة تولي أهمية كبيرة لتمكين المرأة في المجالات "
            "الاقتصادية والاجتماعية، بوصفها شريكا أساسيا في تحقيق التنمية المستدامة في الدول الأعضاء.",
            "وفي ختام الورشة، أوصت المشاركات بإنشاء تعاونيات نسائية لتسويق المنتجات المحلية، وتنظيم دورات تدريبية "
            "مماثلة في مناطق أخرى من البلاد، وتعزيز الشراكة بين الإيسيسكو والمؤسسات الوطنية المعنية.",
            "ويأتي تنظيم هذه الورشة في إطار البرامج التي تنفذها الإيسيسكو لفائدة النساء والشباب في الدول "
            "الأعضاء، بهدف تطوير مهاراتهم وتعزيز فرصهم في سوق العمل.",
        ),
    ),
    PostSpec(
        "ar",
        "الإيسيسكو تطلق دورات لتعليم اللغة العربية للناطقين بغيرها",
        "2025-10-06 09:00:00",
        ("المستجدات",),
        ("أطلقت الإيسيسكو دورة جديدة لتعليم اللغة العربية للناطقين بغيرها، عن بعد وفي مقرها بالرباط.",),
    ),
)


# --- HTTP -----------------------------------------------------------------------------------


# --- WordPress ------------------------------------------------------------------------------


@dataclass(repr=False)
class WordPress:
    """The running test WordPress; see the module docstring. Build it with ``WordPress.start()``."""

    base: Path
    port: int = 0
    db: MariaDB = field(init=False)
    root: Path = field(init=False)
    docroot: Path = field(init=False)
    switches: Path = field(init=False)
    request_log: Path = field(init=False)
    php_log: Path = field(init=False)
    php_error_log: Path = field(init=False)
    dump_file: Path = field(init=False)
    baseline: list[BaselinePost] = field(default_factory=list)
    category_ids: dict[str, dict[str, int]] = field(default_factory=dict)
    startup_seconds: float = 0.0
    _server: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.db = MariaDB(self.base / "db")
        self.root = self.base / "wordpress"
        self.docroot = self.base / "docroot"
        self.switches = self.base / "switches"
        self.request_log = self.base / "requests.jsonl"
        self.php_log = self.base / "php-server.log"
        self.php_error_log = self.base / "php-errors.log"
        self.dump_file = self.base / "baseline.sql"

    def __repr__(self) -> str:
        return f"WordPress({self.base_url}, {self.base})"

    # --- life cycle ---

    @classmethod
    def start(cls, base: Path, timeout: float = STARTUP_TIMEOUT) -> WordPress:
        """MariaDB, the WordPress copy, PHP's server, three installed sites with the baseline, dumped."""
        began = time.monotonic()
        base.mkdir(parents=True, exist_ok=True)
        wp = cls(base=base, port=free_port())
        atexit.register(wp.close)
        copy_errors: list[BaseException] = []

        def copy() -> None:
            try:
                wp._copy_wordpress()
            except BaseException as exc:  # re-raised below
                copy_errors.append(exc)

        copier = threading.Thread(target=copy, name="copy-wordpress", daemon=True)
        try:
            copier.start()  # while MariaDB starts
            wp.db.start(timeout)
            log.debug("startup: mariadbd ready after %.2fs", time.monotonic() - began)
            wp.db.sql(
                f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n"
                f"CREATE USER '{DB_USER}'@'localhost' IDENTIFIED BY '{DB_PASSWORD}';\n"
                f"GRANT ALL PRIVILEGES ON {DB_NAME}.* TO '{DB_USER}'@'localhost';\n"
            )
            copier.join(timeout)
            if copier.is_alive():
                raise WordPressError(f"copying {WP_SOURCE}: not done after {timeout:.0f}s")
            if copy_errors:
                raise WordPressError(f"copying {WP_SOURCE}: {copy_errors[0]}") from copy_errors[0]
            log.debug("startup: WordPress copied after %.2fs", time.monotonic() - began)
            wp._start_server(timeout)
            with ThreadPoolExecutor(max_workers=len(SITES)) as pool:
                created = dict(zip(SITES, pool.map(wp._install_site, SITES), strict=True))
            by_spec: dict[PostSpec, dict[str, Any]] = {}
            for site in SITES:
                categories, posts = created[site]
                wp.category_ids[site] = {c["slug"]: int(c["id"]) for c in categories}
                by_spec.update(posts)
            wp.baseline = [wp._baseline_entry(spec, by_spec[spec]) for spec in BASELINE]
            log.debug("startup: sites installed after %.2fs", time.monotonic() - began)
            wp.db.dump(DB_NAME, wp.dump_file)
            wp.clear_log()
        except BaseException:
            if copier.is_alive():
                copier.join(timeout)
            wp.close()
            raise
        wp.startup_seconds = time.monotonic() - began
        log.info("WordPress on %s ready in %.1fs (%s)", wp.base_url, wp.startup_seconds, base)
        return wp

    def close(self) -> None:
        """Stop PHP's server and MariaDB (idempotent), then delete the WordPress copy and the
        database files (some 250 MB; the logs and the dump stay) unless ICESCO_KEEP_WORDPRESS=1."""
        with self._lock:
            _stop(self._server, "php -S", group=True)
            self._server = None
            self.db.stop()
            if os.environ.get("ICESCO_KEEP_WORDPRESS") != "1":
                shutil.rmtree(self.root, ignore_errors=True)
                shutil.rmtree(self.db.datadir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _copy_wordpress(self) -> None:
        def ignore(folder: str, names: list[str]) -> set[str]:
            # Debian's wp-config.php reads /etc/wordpress; its .htaccess links to /etc/wordpress/htaccess.
            return {"wp-config.php", ".htaccess"} & set(names) if Path(folder) == WP_SOURCE else set()

        # copyfile, not copy2: copying metadata (xattrs) took three times as long.
        shutil.copytree(WP_SOURCE, self.root, symlinks=True, ignore=ignore, copy_function=shutil.copyfile)
        # Debian links some libraries relatively (../../../javascript/...): point them at the originals.
        for folder, dirs, files in os.walk(self.root):
            for name in dirs + files:
                link = Path(folder) / name
                if link.is_symlink() and not os.path.isabs(os.readlink(link)):
                    original = WP_SOURCE / link.relative_to(self.root)
                    link.unlink()
                    link.symlink_to(original.resolve())
        config = self.base / "config.json"
        config.write_text(
            json.dumps(
                {
                    "sites": list(SITES),
                    "base_url": self.base_url,
                    "db_name": DB_NAME,
                    "db_user": DB_USER,
                    "db_password": DB_PASSWORD,
                    "db_socket": str(self.db.socket),
                    "switches": str(self.switches),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        template = (WP_FILES / "wp-config.php").read_text(encoding="utf-8")
        (self.root / "wp-config.php").write_text(
            template.replace("'@ICESCO_TEST_CONFIG@'", _php_string(str(config))), encoding="utf-8"
        )
        mu_plugins = self.root / "wp-content" / "mu-plugins"
        mu_plugins.mkdir(parents=True, exist_ok=True)
        shutil.copy(WP_FILES / "icesco-test-switches.php", mu_plugins / "icesco-test-switches.php")
        self.docroot.mkdir()
        for site in SITES:
            (self.docroot / site).symlink_to(self.root, target_is_directory=True)
        self.switches.mkdir()

    def _start_server(self, timeout: float) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PHP_CLI_SERVER_WORKERS": "4",
            "ICESCO_WP_LOG": str(self.request_log),
            "ICESCO_WP_SWITCHES": str(self.switches),
        }
        cmd = [
            _find("php") or "php",
            "-d", "display_errors=0",
            "-d", "log_errors=1",
            "-d", f"error_log={self.php_error_log}",
            "-d", "memory_limit=256M",
            "-d", "opcache.enable_cli=1",
            "-S", f"127.0.0.1:{self.port}",
            "-t", str(self.docroot),
            str(WP_FILES / "router.php"),
        ]  # fmt: skip
        with self.php_log.open("wb") as out:
            self._server = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.base,
                start_new_session=True,
            )  # fmt: skip
        server = self._server

        def ready() -> bool:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        def failed() -> str | None:
            code = server.poll()
            return None if code is None else f"exited with status {code}"

        try:
            _wait(f"php -S 127.0.0.1:{self.port}", ready, timeout, failed)
        except WordPressError as exc:
            raise WordPressError(f"{exc}\n{_tail(self.php_log)}\n{_tail(self.php_error_log)}") from None
        log.info("php -S (pid %d) serving %s", server.pid, self.base_url)

    def _install_site(self, site: str) -> tuple[list[dict[str, Any]], dict[PostSpec, dict[str, Any]]]:
        self.php(site, [{"op": "install", "title": "ICESCO", "user": "admin", "password": "icesco-admin",
                         "email": "webmaster@icesco.test"}])  # fmt: skip
        options: dict[str, Any] = {
            "timezone_string": TIMEZONE,
            "gmt_offset": "",
            "posts_per_page": 10,
            "posts_per_rss": 10,
            "rss_use_excerpt": 0,
            "blogdescription": "Islamic World Educational, Scientific and Cultural Organization",
            "default_comment_status": "closed",
            "default_ping_status": "closed",
            "default_pingback_flag": 0,
            "ping_sites": "",
            "blog_public": 1,
        }
        specs = [spec for spec in BASELINE if spec.site == site]
        ops: list[dict[str, Any]] = [
            {"op": "set_options", "options": options},
            {"op": "delete_all_posts"},
            {"op": "switch_theme", "name": DEFAULT_THEME},
            *({"op": "add_category", "slug": slug, "name": name} for slug, name in CATEGORIES[site].items()),
            {"op": "set_permalinks", "structure": PERMALINKS},
            *(
                {
                    "op": "add_post",
                    "title": s.title,
                    "content": block_content(*s.paragraphs),
                    "date": s.date,
                    "categories": list(s.categories),
                }
                for s in specs
            ),  # fmt: skip
            {"op": "categories"},
        ]
        results = self.php(site, ops)
        posts = dict(zip(specs, results[-1 - len(specs) : -1], strict=True))
        return results[-1], posts

    def _baseline_entry(self, spec: PostSpec, created: Mapping[str, Any]) -> BaselinePost:
        return BaselinePost(
            site=spec.site,
            title=spec.title,
            date=spec.date,
            categories=list(spec.categories),
            link=str(created["link"]),
            id=int(created["id"]),
            slug=str(created["slug"]),
            kind=spec.kind,
            words=spec.words,
        )

    # --- state ---

    def reset(self) -> None:
        """Back to the baseline: the database dump (theme twentytwentyone, the baseline posts and
        nothing else), no switches, an empty request log."""
        began = time.monotonic()
        self.check_alive()
        self.db.restore(DB_NAME, self.dump_file)
        for switch in self.switches.iterdir():
            switch.unlink()
        self.clear_log()
        log.debug("WordPress reset in %.2fs", time.monotonic() - began)

    def check_alive(self) -> None:
        """Raise (with the end of the logs) when PHP's server or MariaDB has stopped."""
        if self._server is None or self._server.poll() is not None:
            raise WordPressError(f"php -S is not running\n{_tail(self.php_log)}\n{_tail(self.php_error_log)}")
        if self.db.proc is None or self.db.proc.poll() is not None:
            raise WordPressError(f"mariadbd is not running\n{_tail(self.db.error_log)}")

    def set_rest(self, mode: RestMode | None) -> None:
        """REST as usual (None), or every REST request answers "401"/"403"/"404" with a JSON
        error, or ("html") 200 with an HTML "Access denied" page."""
        if mode is not None and mode not in REST_MODES:
            raise ValueError(f"set_rest: {mode!r} is not one of None, {', '.join(REST_MODES)}")
        self._switch("rest", mode)

    def set_layout(self, broken: bool) -> None:
        """With ``broken``, every front-end HTML page gets an empty JavaScript shell as its <body>:
        no post links, titles or bodies (REST and feeds are unaffected; <head> is unchanged)."""
        self._switch("layout", "broken" if broken else None)

    def set_robots(self, text: str | None) -> None:
        """/robots.txt: ``text``, or (None) the default, which only disallows the wp-admin folders."""
        self._switch("robots.txt", text)

    def _switch(self, name: str, value: str | None) -> None:
        path = self.switches / name
        if value is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(value, encoding="utf-8")

    # --- the request log ---

    def requests(self) -> list[dict[str, Any]]:
        """One dict per request served since the last ``clear_log()``: method, uri, status, bytes,
        if_none_match, if_modified_since, user_agent, site, kind (wordpress/static/router), time,
        duration."""
        try:
            text = self.request_log.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def clear_log(self) -> None:
        self.request_log.write_bytes(b"")

    def php_errors(self) -> str:
        """What PHP's server logged as errors (warnings, fatal errors) so far; "" when none."""
        try:
            return self.php_error_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    # --- URLs and HTTP ---

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, site: str, path: str = "") -> str:
        """``http://127.0.0.1:PORT/SITE/PATH`` (``path`` is quoted, so Arabic slugs may be given as text)."""
        return f"{self.base_url}/{site}/{urllib.parse.quote(path.lstrip('/'), safe='/%?=&')}"

    def fetch(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        follow_redirects: bool = False,
        timeout: float = HTTP_TIMEOUT,
    ) -> Reply:
        """An HTTP request to this server (only): any status is returned, not raised."""
        if not url.startswith(self.base_url + "/"):
            raise ValueError(f"fetch: {url} is not on {self.base_url}")
        return fetch(url, headers, method, follow_redirects=follow_redirects, timeout=timeout)

    # --- PHP ---

    def php(self, site: str, ops: Sequence[Mapping[str, Any]], timeout: float = PHP_TIMEOUT) -> list[Any]:
        """Run ``tests/wp/tool.php`` in ``site`` with these JSON operations; their results."""
        if site not in SITES:
            raise ValueError(f"php: unknown site {site!r}")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "ICESCO_WP_SITE": site,
            "ICESCO_WP_HOST": f"127.0.0.1:{self.port}",
        }
        cmd = [
            _find("php") or "php",
            "-d", "display_errors=stderr",
            "-d", "log_errors=0",
            "-d", "memory_limit=512M",
            str(WP_FILES / "tool.php"),
            str(self.root),
        ]  # fmt: skip
        names = ", ".join(str(op.get("op")) for op in ops)
        try:
            done = subprocess.run(
                cmd, input=json.dumps(list(ops)).encode(), capture_output=True, env=env, timeout=timeout,
                cwd=self.root, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise WordPressError(f"tool.php [{site}] ({names}): no answer after {timeout:.0f}s") from exc
        stderr = done.stderr.decode(errors="replace").strip()
        lines = done.stdout.decode(errors="replace").strip().splitlines()
        try:
            reply = json.loads(lines[-1]) if lines else None
        except json.JSONDecodeError:
            reply = None
        if not isinstance(reply, dict):
            raise WordPressError(
                f"tool.php [{site}] ({names}): exit {done.returncode}, no JSON reply\n"
                f"stdout: {done.stdout.decode(errors='replace')[-2000:]}\nstderr: {stderr[-2000:]}"
            )
        if not reply.get("ok"):
            index = int(reply.get("index", -1))
            op = ops[index].get("op") if 0 <= index < len(ops) else None
            raise WordPressError(f"tool.php [{site}] op {index} ({op}): {reply.get('error')}\nstderr: {stderr[-2000:]}")
        if stderr:
            log.debug("tool.php [%s] stderr: %s", site, stderr[-2000:])
        results = reply["results"]
        assert isinstance(results, list)
        return results

    def add_post(
        self,
        site: str,
        title: str,
        content: str,
        date: str,
        categories: Iterable[str] = (),
        slug: str | None = None,
        excerpt: str | None = None,
        status: str = "publish",
    ) -> dict[str, Any]:
        """A new post; ``date`` is site-local ``YYYY-MM-DD HH:MM:SS`` (a future date with status
        ``publish`` makes it scheduled); ``content`` is HTML (see ``block_content()``); ``categories``
        are slugs (Arabic ones as text). Returns ``{"id", "link", "slug"}``."""
        op: dict[str, Any] = {"op": "add_post", "title": title, "content": content, "date": date,
                              "categories": list(categories), "status": status}  # fmt: skip
        if slug is not None:
            op["slug"] = slug
        if excerpt is not None:
            op["excerpt"] = excerpt
        result = self.php(site, [op])[0]
        assert isinstance(result, dict)
        return result

    def edit_post(
        self, site: str, id: int, title: str | None = None, content: str | None = None, excerpt: str | None = None
    ) -> dict[str, Any]:
        """Change a post (``post_modified`` becomes now); returns it as ``posts()`` lists it."""
        op: dict[str, Any] = {"op": "edit_post", "id": id}
        for key, value in (("title", title), ("content", content), ("excerpt", excerpt)):
            if value is not None:
                op[key] = value
        result = self.php(site, [op])[0]
        assert isinstance(result, dict)
        return result

    def set_theme(self, name: str) -> None:
        """Switch all three sites to a theme (``twentytwentyone`` or ``twentytwentythree``)."""
        with ThreadPoolExecutor(max_workers=len(SITES)) as pool:
            list(pool.map(lambda site: self.php(site, [{"op": "switch_theme", "name": name}]), SITES))

    def set_option(self, site: str, name: str, value: Any) -> None:
        self.php(site, [{"op": "set_options", "options": {name: value}}])

    def get_option(self, site: str, name: str) -> Any:
        return self.php(site, [{"op": "get_option", "name": name}])[0]

    def posts(self, site: str, status: str = "publish") -> list[dict[str, Any]]:
        """The site's posts, newest first: id, link, slug (as stored: Arabic percent-encoded), title,
        status, date, date_gmt, modified, modified_gmt, categories (slugs as text)."""
        result = self.php(site, [{"op": "posts", "status": status}])[0]
        assert isinstance(result, list)
        return result

    def categories(self, site: str) -> list[dict[str, Any]]:
        """id, slug (as text), slug_db (as stored), name, link, count; ``Uncategorized`` included."""
        result = self.php(site, [{"op": "categories"}])[0]
        assert isinstance(result, list)
        return result

    def category_id(self, site: str, slug: str) -> int:
        """The term id of a baseline category (the same after every reset)."""
        return self.category_ids[site][slug]

    def baseline_posts(self, site: str, category: str | None = None) -> list[BaselinePost]:
        """Baseline posts of a site (in a category), newest first, as listings show them."""
        chosen = [p for p in self.baseline if p["site"] == site and (category is None or category in p["categories"])]
        return sorted(chosen, key=lambda p: p["date"], reverse=True)
