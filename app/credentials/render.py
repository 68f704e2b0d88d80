"""Certificates as data plus a two-step renderer (STYLE.md rule 6).

Step 1: sandboxed Jinja renders ``certificates/<design>/template.html`` with the
certificate's context. Step 2: WeasyPrint lays it out with a URL fetcher that
serves only files of the design's own folder (and ``data:`` URIs).
"""

from __future__ import annotations

import ctypes.util
import functools
import io
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import segno
import yaml
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

DESIGNS = Path(__file__).resolve().parents[2] / "certificates"
CJK_FAMILY = "Noto Serif CJK SC"


class RenderUnavailable(RuntimeError):
    """This machine cannot render certificates properly; the message has the install command."""


class DesignError(ValueError):
    """A certificate design is missing or malformed."""


@functools.cache
def _missing_packages() -> tuple[str, ...]:
    missing = []
    fc_list = shutil.which("fc-list")
    families = ""
    if fc_list:
        families = subprocess.run(  # noqa: S603 - a fixed command, no user input
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=20, check=False
        ).stdout  # noqa: S603
    if CJK_FAMILY not in families:
        missing.append("fonts-noto-cjk")
    if ctypes.util.find_library("harfbuzz-subset") is None:
        missing.append("libharfbuzz-subset0")
    return tuple(missing)


def check_environment() -> None:
    """Refuse to render, with the exact install command, without the CJK font or HarfBuzz subsetting."""
    missing = _missing_packages()
    if missing:
        raise RenderUnavailable(
            "certificates need " + " and ".join(missing) + " (without HarfBuzz subsetting a page takes ~10 s; "
            "without the font Chinese prints as boxes). Install with: sudo apt-get install -y " + " ".join(missing)
        )


@dataclass(frozen=True)
class Design:
    name: str
    folder: Path
    title: str
    language: str
    orientation: str
    version: str


def load_design(name: str, root: Path = DESIGNS) -> Design:
    """Read ``<root>/<name>/metadata.yaml`` and check the design is complete."""
    folder = (root / name).resolve()
    if folder.parent != root.resolve() or not (folder / "template.html").is_file():
        raise DesignError(f"unknown certificate design {name!r}")
    try:
        meta = yaml.safe_load((folder / "metadata.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DesignError(f"{name}/metadata.yaml: {exc}") from None
    for key in ("title", "language", "version"):
        if key not in meta:
            raise DesignError(f"{name}/metadata.yaml: missing {key}")
    return Design(
        name,
        folder,
        str(meta["title"]),
        str(meta["language"]),
        str(meta.get("orientation", "landscape")),
        str(meta["version"]),
    )


@functools.cache
def _environment(folder: Path) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
    )


def render_html(design: Design, context: dict) -> str:
    """Step 1: the design's template, in a Jinja sandbox, with autoescaping."""
    return _environment(design.folder).get_template("template.html").render(**context)


def qr_svg(url: str) -> Markup:
    """An inline SVG QR code of the URL (safe to place in a template)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, border=0, xmldecl=False, svgns=True, dark="#1a1a1a")
    return Markup(out.getvalue().decode())  # noqa: S704 - segno's own SVG, no user markup


def _fetcher(folder: Path):
    from weasyprint.urls import URLFetcher

    class DesignFetcher(URLFetcher):
        """Serve only the design's own folder and data: URIs; refuse everything else."""

        def fetch(self, url, headers=None):
            parsed = urlparse(url)
            if parsed.scheme == "data":
                return super().fetch(url, headers)
            if parsed.scheme != "file":
                raise ValueError(f"certificate designs may not load {parsed.scheme}: resources")
            path = Path(unquote(parsed.path)).resolve()
            if not path.is_relative_to(folder):
                raise ValueError("certificate designs may only load files of their own folder")
            return super().fetch(path.as_uri(), headers)

    return DesignFetcher(allowed_protocols=("file", "data"))


def render_pdf(design: Design, html: str) -> bytes:
    """Step 2: lay the HTML out with WeasyPrint and return the PDF."""
    check_environment()
    from weasyprint import HTML

    document = HTML(string=html, base_url=design.folder.as_uri() + "/", url_fetcher=_fetcher(design.folder))
    return document.write_pdf()


def render_many(
    design: Design, contexts: list[dict], progress: Callable[[int, int], None] | None = None, batch: int = 25
) -> bytes:
    """One PDF of many certificates: each batch is one WeasyPrint layout pass, pages joined, fonts subset once."""
    check_environment()
    from weasyprint import HTML

    env = _environment(design.folder)
    template = env.get_template("template.html")
    pages = []
    first = None
    total = len(contexts)
    for start in range(0, total, batch):
        chunk = contexts[start : start + batch]
        # The template is one full document; bodies of the batch are joined with page breaks.
        htmls = [template.render(**c) for c in chunk]
        head, _, _rest = htmls[0].partition("<body")
        bodies = []
        for html in htmls:
            body = html.split("<body", 1)[1]
            body = body.split(">", 1)[1].rsplit("</body>", 1)[0]
            bodies.append(f'<section class="certificate-page">{body}</section>')
        joined = head + '<body class="many">' + "".join(bodies) + "</body></html>"
        document = HTML(
            string=joined, base_url=design.folder.as_uri() + "/", url_fetcher=_fetcher(design.folder)
        ).render()
        if first is None:
            first = document
        pages.extend(document.pages)
        if progress:
            progress(min(start + batch, total), total)
    return first.copy(pages).write_pdf()
