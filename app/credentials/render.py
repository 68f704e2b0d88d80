"""Certificates as data plus a two-step renderer (STYLE.md rule 6).

Step 1 (:func:`render_html`): sandboxed Jinja renders ``certificates/<design>/template.html``
with the certificate's context, autoescaped, loading templates from the design's folder only.
Step 2 (:func:`render_pdf`): WeasyPrint lays the HTML out with a URL fetcher that serves only
files inside the design's own folder and ``data:`` URIs; anything else stops the rendering.

The context a design receives (services build it from the certificate's frozen claims):

``name``, ``id_number`` (masked), ``unit``, ``credential`` (title), ``issuer``, ``issued_on``
and ``expires_on`` (ISO dates or None), ``period_year``, ``programs`` (titles),
``training_hours``, ``supervision_hours``, ``transition`` (None or ``from``/``to`` codes and
``from_label``/``to_label``), ``records`` (``date``, ``title``, ``kind``, ``hours``: the hours
statement's rows), ``serial``, ``code``, ``verify_url``;
``qr_svg``: the QR code of ``verify_url`` as an SVG **data URI** (from :func:`qr_svg`), used
as ``<img src="{{ qr_svg }}">`` — a plain string, so it survives autoescaping and a JSON round
trip of the stored inputs, and passes the fetcher as a ``data:`` URI;
``seal_url``: None, or the issuer's seal image as a ``data:`` URI (or a file name inside the
design folder) — any other address is refused by the fetcher.
Optional: ``start_date``/``end_date`` (ISO dates of the training, shown instead of the year).

``metadata.yaml`` holds ``name`` (the folder's), ``title``, ``language`` (zh_CN or en),
``orientation`` (landscape or portrait), ``version`` (an integer or semver, stored with each
issued certificate), ``description`` and optionally ``single_page`` (true lets
:func:`render_many` and :func:`render_each` lay a batch of certificates out as one document).

The same inputs render the same bytes: :func:`render_pdf` for one certificate, :func:`render_each`
for the same batch (a certificate issued in bulk is cut out of its batch's document, whose font
subset covers the whole batch). What is checked against an issued certificate's SHA-256 is the
PDF kept in the store; a re-rendered PDF shows the same text, not necessarily the same bytes.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import functools
import gc
import html as html_text
import itertools
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

import segno
import yaml
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import escape

from ..core import paths

DESIGNS = paths.certificate_designs()
CJK_FAMILY = "Noto Serif CJK SC"
CJK_FONT_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"),
)
LANGUAGES = ("zh_CN", "en")
ORIENTATIONS = ("landscape", "portrait")
_DESIGN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_VERSION = re.compile(r"\d+(\.\d+){0,2}")
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)
_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL | re.IGNORECASE)
PRINT_CHUNK = 100  # certificates drawn per part of a long print (then joined): one part's layout in memory


class RenderUnavailable(RuntimeError):
    """This machine cannot render certificates properly; the message has the install command."""


class DesignError(ValueError):
    """A certificate design is unknown, incomplete or malformed."""


class ResourceRefused(ValueError):
    """A design or its context referred to a resource outside the design's folder."""


# -- environment -------------------------------------------------------------------------------


def _has_cjk_font() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list:
        try:
            # A fixed argument list, no shell, no user input.
            out = subprocess.run(  # noqa: S603
                [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=30, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        if CJK_FAMILY in out:
            return True
    return any(path.is_file() for path in CJK_FONT_FILES)


def _has_harfbuzz_subset() -> bool:
    return ctypes.util.find_library("harfbuzz-subset") is not None


@functools.cache
def _missing_packages() -> tuple[str, ...]:
    missing = []
    if not _has_cjk_font():
        missing.append("fonts-noto-cjk")
    if not _has_harfbuzz_subset():
        missing.append("libharfbuzz-subset0")
    return tuple(missing)


def check_environment() -> None:
    """Raise RenderUnavailable with the exact install command when the CJK font or HarfBuzz subsetting is missing."""
    missing = _missing_packages()
    if missing:
        why = []
        if "fonts-noto-cjk" in missing:
            why.append(f"the {CJK_FAMILY} font (without it Chinese prints as empty boxes)")
        if "libharfbuzz-subset0" in missing:
            why.append("HarfBuzz font subsetting (without it a CJK page takes ~10 s and embeds whole fonts)")
        raise RenderUnavailable(
            "Certificates cannot be rendered: missing "
            + " and ".join(why)
            + ". Install with: sudo apt-get install -y "
            + " ".join(missing)
        )


# -- designs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Design:
    """A certificate design: its folder and validated metadata."""

    name: str
    folder: Path
    title: str
    language: str
    orientation: str
    version: str
    description: str
    single_page: bool


def load_design(name: str, root: Path | None = None) -> Design:
    """Read and validate ``<root>/<name>/metadata.yaml`` and return the design."""
    root = (root or DESIGNS).resolve()
    if not isinstance(name, str) or not _DESIGN_NAME.fullmatch(name):
        raise DesignError(f"unknown certificate design {name!r}: {_available(root)}")
    folder = root / name
    if not (folder / "metadata.yaml").is_file():
        raise DesignError(f"unknown certificate design {name!r}: {_available(root)}")
    for required in ("template.html", "theme.css"):
        if not (folder / required).is_file():
            raise DesignError(f"certificate design {name!r} has no {required}")
    try:
        meta = yaml.safe_load((folder / "metadata.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DesignError(f"{name}/metadata.yaml cannot be read: {exc}") from None
    if not isinstance(meta, dict):
        raise DesignError(f"{name}/metadata.yaml must be a mapping")
    problems = []
    for key in ("name", "title", "language", "orientation", "version", "description"):
        if meta.get(key) in (None, ""):
            problems.append(f"{key} is missing")
    if meta.get("name") not in (None, "", name):
        problems.append(f"name {meta['name']!r} differs from the folder name")
    if meta.get("language") not in (None, "", *LANGUAGES):
        problems.append(f"language must be one of {', '.join(LANGUAGES)}")
    if meta.get("orientation") not in (None, "", *ORIENTATIONS):
        problems.append(f"orientation must be one of {', '.join(ORIENTATIONS)}")
    version = meta.get("version")
    if version not in (None, "") and (isinstance(version, bool) or not _VERSION.fullmatch(str(version))):
        problems.append("version must be an integer or a semantic version such as 1.2.0")
    single_page = meta.get("single_page", False)
    if not isinstance(single_page, bool):
        problems.append("single_page must be true or false")
    if problems:
        raise DesignError(f"{name}/metadata.yaml: " + "; ".join(problems))
    return Design(
        name=name,
        folder=folder,
        title=str(meta["title"]),
        language=meta["language"],
        orientation=meta["orientation"],
        version=str(version),
        description=str(meta["description"]).strip(),
        single_page=single_page,
    )


def available_designs(root: Path | None = None) -> list[str]:
    """The names of the designs under ``certificates/`` (folders with a metadata.yaml)."""
    root = (root or DESIGNS).resolve()
    return sorted(p.parent.name for p in root.glob("*/metadata.yaml")) if root.is_dir() else []


def _available(root: Path) -> str:
    names = sorted(p.parent.name for p in root.glob("*/metadata.yaml")) if root.is_dir() else []
    return "available designs: " + (", ".join(names) or "none")


# -- step 1: sandboxed Jinja -------------------------------------------------------------------

_CN_DIGITS = "〇一二三四五六七八九"


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _cn_number(n: int) -> str:
    """1..31 in Chinese numerals, as in 十二月二十一日."""
    tens, ones = divmod(n, 10)
    return (("" if tens == 1 else _CN_DIGITS[tens]) + "十" if tens else "") + (_CN_DIGITS[ones] if ones else "")


def cn_date(value) -> str:
    """Format a date in Chinese numerals, the way a signature date is printed (二〇二二年十二月二十日)."""
    d = _as_date(value)
    return "".join(_CN_DIGITS[int(c)] for c in str(d.year)) + f"年{_cn_number(d.month)}月{_cn_number(d.day)}日"


def zh_date(value) -> str:
    """Format a date the way body text prints it (2022年12月20日)."""
    d = _as_date(value)
    return f"{d.year}年{d.month}月{d.day}日"


def en_date(value) -> str:
    """Format a date in English (20 December 2022)."""
    d = _as_date(value)
    return f"{d.day} {d:%B} {d.year}"


def hours(value) -> str:
    """Format hours without useless decimals (20.0 → 20, 1.5 → 1.5)."""
    text = f"{float(value or 0):.2f}".rstrip("0").rstrip(".")
    return text or "0"


@functools.cache
def _environment(folder: Path) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(cn_date=cn_date, zh_date=zh_date, en_date=en_date, hours=hours)
    return env


def render_html(design: Design, context: dict) -> str:
    """Render the design's template with the context in a Jinja sandbox, autoescaped."""
    return _environment(design.folder).get_template("template.html").render(context)


def qr_svg(url: str) -> str:
    """Return the QR code of the URL as an SVG data URI for ``<img src>``."""
    return segno.make(url, error="m").svg_data_uri(border=0, dark="#1a1a1a")


# -- step 2: WeasyPrint with a locked fetcher --------------------------------------------------


def _fetcher(folder: Path):
    from weasyprint.urls import URLFetcher

    root = folder.resolve()

    class DesignFetcher(URLFetcher):
        """Serve files of the design's own folder and data: URIs; refuse everything else."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file" and parts.netloc in ("", "localhost"):
                try:
                    # resolve() collapses ../ and follows symbolic links before the check.
                    path = Path(unquote(parts.path)).resolve()
                    inside = path.is_relative_to(root) and path.is_file()
                except (OSError, ValueError):
                    inside = False
                if inside:
                    return super().fetch(path.as_uri(), headers)
            # Remembered as well as raised: WeasyPrint swallows errors met while drawing SVG.
            self.refused.append(url)
            raise ResourceRefused(f"certificate designs may only load files of their own folder, not {url[:200]!r}")

    # fail_on_errors: a refused or missing resource stops the layout instead of printing a
    # certificate without its seal; _document turns the stop into a ResourceRefused.
    return DesignFetcher(allowed_protocols=("file", "data"), fail_on_errors=True, timeout=5)


def _document(design: Design, html: str, font_config=None, cache=None):
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    fetcher = _fetcher(design.folder)
    try:
        return HTML(string=html, base_url=design.folder.as_uri() + "/", url_fetcher=fetcher).render(
            font_config=font_config, cache=cache
        )
    except FatalURLFetchingError as exc:  # a BaseException in WeasyPrint: never let it escape
        cause = exc.__cause__
        if isinstance(cause, ResourceRefused):
            raise ResourceRefused(str(cause)) from None
        raise ResourceRefused(f"{design.name}: {exc} ({cause})") from None


def _write_pdf(document, documents) -> bytes:
    """Write the PDF, then fail if drawing met a refused resource (WeasyPrint only logs those).

    The PDF is tagged (a structure tree for screen readers), with the design's language and its
    <title> as the document's title.
    """
    pdf = document.write_pdf(pdf_tags=True)
    _check_refused(documents)
    return pdf


def _check_refused(documents) -> None:
    refused = [url for d in documents for url in d.url_fetcher.refused]
    if refused:
        raise ResourceRefused(f"certificate designs may only load files of their own folder, not {refused[0][:200]!r}")


def render_pdf(design: Design, html: str) -> bytes:
    """Lay the rendered HTML out with WeasyPrint (fetching only the design's folder) and return the PDF."""
    check_environment()
    document = _document(design, html)
    return _write_pdf(document, [document])


def render_archival(design: Design, html: str, attachment: bytes, name: str, description: str) -> bytes:
    """One certificate as PDF/A-3b (tagged), with ``attachment`` embedded as an associated file ``name``.

    The archival copy: PDF/A-3 keeps the fonts, colours and metadata a reader needs in decades, and
    allows the machine-readable credential to travel inside the paper's own file.
    """
    import warnings

    from weasyprint import Attachment

    check_environment()
    document = _document(design, html)
    with warnings.catch_warnings():
        # WeasyPrint reads the sRGB output intent of PDF/A from a file it leaves to the collector to close.
        warnings.simplefilter("ignore", ResourceWarning)
        pdf = document.write_pdf(
            pdf_variant="pdf/a-3b",
            pdf_tags=True,
            attachments=[Attachment(string=attachment, name=name, description=description, relationship="Alternative")],
        )
    _check_refused([document])
    return pdf


def _body(html: str) -> str:
    match = _BODY.search(html)
    if match is None:
        raise DesignError("a certificate template must have one <body> element")
    return match.group(1)


_gc_lock = threading.Lock()
_gc_pausers = 0


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a bulk PDF is laid out.

    WeasyPrint builds large object graphs; the collector rescanning them costs a fifth of a
    bulk run. Reference counting still frees memory; the last bulk render re-enables it and
    collects the youngest generation at once: what the pause left there (a laid-out batch the
    caller has let go of) is freed before the next batch, so memory stays flat batch after batch.
    """
    global _gc_pausers
    with _gc_lock:
        if _gc_pausers == 0 and not gc.isenabled():
            paused = False  # someone else turned it off: leave it as it is
        else:
            paused = True
            _gc_pausers += 1
            gc.disable()
    try:
        yield
    finally:
        if paused:
            with _gc_lock:
                _gc_pausers -= 1
                if _gc_pausers == 0:
                    gc.enable()
                    gc.collect(0)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def render_many(
    design: Design,
    contexts: Iterable[dict],
    progress: Callable[[int, int], None] | None = None,
    batch: int = 20,
    chunk: int = PRINT_CHUNK,
) -> bytes:
    """Render many certificates into one PDF, a page (or a statement's pages) each, fonts embedded once per part.

    Laid out ``batch`` at a time; a part of ``chunk`` certificates is drawn (fonts subset once)
    before the next is laid out, and the parts are joined: what memory holds is one part's
    layout and the joined PDF so far, however many certificates there are.
    """
    check_environment()
    from weasyprint.text.fonts import FontConfiguration

    from . import pdfpages

    contexts = list(contexts)
    total = len(contexts)
    if not total:
        raise ValueError("no certificates to render")
    # Multi-page designs number their pages "第 N 页 / 共 M 页": each needs a document of its own.
    size = max(1, batch) if design.single_page else 1
    chunk = max(size, chunk)
    font_config, parts = FontConfiguration(), pdfpages.Joiner()
    for start in range(0, total, chunk):
        end, documents, cache = min(start + chunk, total), [], {}  # images parsed once per part
        with _gc_paused():
            for first in range(start, end, size):
                htmls = [render_html(design, c) for c in contexts[first : min(first + size, end)]]
                documents.extend(_batch_documents(design, htmls, font_config, cache))
                if progress:
                    progress(min(first + size, end), total)
            document = documents[0].copy([page for d in documents for page in d.pages])
            if total <= chunk:
                return _write_pdf(document, documents)
            parts.add(_captured(document, documents))
            del documents, document, cache  # the part's layout goes before the next is laid out (see _gc_paused)
    return parts.write()


def render_each(design: Design, contexts: Iterable[dict], batch: int = 20) -> Iterator[bytes]:
    """Render each certificate into a PDF of its own, in order, a batch laid out as one document.

    Single-page designs: the batch's document (fonts subset once for the batch) is cut into one
    PDF per certificate, each keeping its fonts, tags, outline entry and its own title.
    Multi-page designs number their pages per certificate: a document each. Contexts are read a
    batch at a time, so memory does not grow with their number.
    """
    check_environment()
    from weasyprint.text.fonts import FontConfiguration

    from . import pdfpages

    size = max(1, batch) if design.single_page else 1
    font_config = FontConfiguration()
    for chunk in _chunks(contexts, size):
        htmls = [render_html(design, c) for c in chunk]
        with _gc_paused():
            documents = _batch_documents(design, htmls, font_config, {})
            if len(documents) < len(htmls):
                pdfs = pdfpages.split(_captured(documents[0], documents), [_title(html) for html in htmls])
            else:
                pdfs = [_write_pdf(document, [document]) for document in documents]
            del documents  # let go before the collector comes back (see _gc_paused)
        yield from pdfs


def _captured(document, documents):
    """WeasyPrint's PDF objects of the document, unwritten; as :func:`_write_pdf`, refused resources fail."""
    from . import pdfpages

    pdf = pdfpages.capture(document, pdf_tags=True)
    _check_refused(documents)
    return pdf


def _title(html: str) -> str:
    """The text of the document's <title>, as WeasyPrint puts it in the PDF's metadata."""
    match = _TITLE.search(html)
    return " ".join(html_text.unescape(match.group(1)).split()) if match else ""


def _batch_documents(design: Design, htmls: list[str], font_config, cache) -> list:
    """Lay a batch out as one document (one pass, stylesheet and images parsed once) when each fits a page."""
    if len(htmls) > 1:
        sheets = "".join(
            f'<div class="lms-sheet"{" style=break-before:page" if i else ""}>{_body(html)}</div>'
            for i, html in enumerate(htmls)
        )
        head = htmls[0][: htmls[0].lower().index("<body")]
        head = _TITLE.sub(f"<title>{escape(design.title)}</title>", head, count=1)
        document = _document(design, f"{head}<body>{sheets}</body></html>", font_config, cache)
        if len(document.pages) == len(htmls):
            return [document]
        # A certificate ran over its page: lay them out one by one so each keeps all its pages.
    return [_document(design, html, font_config, cache) for html in htmls]
