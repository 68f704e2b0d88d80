"""Addresses that leave the screen: printed on paper, encoded in QR codes, scanned by phones."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, url_for


def public_url(endpoint: str, **values) -> str:
    """An absolute URL for ``endpoint`` (within a request).

    ``LMS_PUBLIC_URL`` (e.g. ``https://academy.example.gov.cn``) names the host
    people reach, which behind a proxy may differ from the request's own; the
    path, with the academy's mount prefix, always comes from the URL map.
    """
    base = current_app.config.get("LMS_PUBLIC_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
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
