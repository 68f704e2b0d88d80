"""Addresses that leave the screen: printed on paper, encoded in QR codes, scanned by phones."""

from __future__ import annotations

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
