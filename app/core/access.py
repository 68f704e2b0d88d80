"""Lookups that answer 404 for what the viewer may not see."""

from __future__ import annotations

from flask import abort


def found(obj):
    """Return ``obj`` or answer 404 — also for objects outside the viewer's scope."""
    if obj is None:
        abort(404)
    return obj
