"""Addresses that leave the screen: printed on paper, encoded in QR codes, scanned by phones."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for

# Where the embedded mode is reached when no request says (a command, a job) and LMS_PUBLIC_URL is not set.
EMBEDDED_BASE = "http://127.0.0.1:5000"


def path_for(endpoint: str, **values) -> str:
    """The path of ``endpoint``, with the academy's mount prefix, in a request or not (a command, a job)."""
    if has_request_context():
        return url_for(endpoint, **values)
    root = current_app.config.get("APPLICATION_ROOT") or "/"
    return current_app.url_map.bind("localhost", script_name=root).build(endpoint, values)


def site_url(path: str) -> str:
    """``path`` of this site as an absolute URL outside a request: ``LMS_PUBLIC_URL``, else the embedded address."""
    return (current_app.config.get("LMS_PUBLIC_URL") or EMBEDDED_BASE).rstrip("/") + path


def public_url(endpoint: str, **values) -> str:
    """An absolute URL for ``endpoint``: printed, mailed, encoded in a QR code.

    ``LMS_PUBLIC_URL`` (e.g. ``https://academy.example.gov.cn``) names the host
    people reach, which behind a proxy may differ from the request's own; the
    path, with the academy's mount prefix, always comes from the URL map.
    Without it, a request's own host, or outside a request the embedded address.
    """
    if not has_request_context() or current_app.config.get("LMS_PUBLIC_URL"):
        return site_url(path_for(endpoint, **values))
    return url_for(endpoint, _external=True, **values)


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a path on this site, else the home page (never an open redirect).

    Browsers read ``//host``, ``/\\host`` and ``\\host`` as other sites, and drop tabs and newlines
    anywhere (``/\\t/host``), so no control character passes.
    """
    parts = urlsplit(target or "")
    if (
        target
        and target.startswith("/")
        and not parts.scheme
        and not parts.netloc
        and target[1:2] not in ("/", "\\")
        and not any(ord(c) < 32 or ord(c) == 127 for c in target)
    ):
        return target
    return url_for("site.index")
