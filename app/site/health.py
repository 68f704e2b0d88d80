"""Readiness: can this instance serve — its database, Redis, file store and job queue answer?"""

from __future__ import annotations

from flask import current_app

from ..core.uow import rollback
from ..extensions import db


def _database() -> None:
    db.session.execute(db.text("SELECT 1"))


def _redis() -> None:
    url = current_app.config.get("LMS_REDIS_URL")
    if not url:
        return
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def _storage() -> None:
    from ..core.storage import storage

    storage().check()


def _queue() -> None:
    from ..core.queue import celery_for

    celery = celery_for(current_app)
    if celery.conf.task_always_eager:
        return
    with celery.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)


CHECKS = {"database": _database, "redis": _redis, "storage": _storage, "queue": _queue}


def readiness() -> tuple[dict, bool]:
    """Check every dependency; return ``({name: "ok" | "unavailable"}, all_ok)`` (never the reason: it is logged)."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - whatever a dependency raises, it is not ready
            if name == "database":
                rollback()
            current_app.logger.warning("readiness: %s does not answer (%s)", name, type(exc).__name__)
            results[name] = "unavailable"
        else:
            results[name] = "ok"
    return results, all(v == "ok" for v in results.values())
