"""The job queue: Celery, bound to the Flask application (the pattern of Flask's documentation).

Production uses Redis as the broker (``LMS_REDIS_URL``; RabbitMQ through
``LMS_BROKER_URL=amqp://…`` works the same); the embedded mode keeps its
queue in a SQLite file beside the database, so ``make run`` needs no other
service. Tests run tasks at once in the caller (``LMS_JOBS_EAGER``). The task
code is the same in every case.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, current_app, has_app_context

if TYPE_CHECKING:
    from celery import Celery


def broker_url(config: dict, instance_path: str) -> str:
    """The broker the configuration names, or the embedded mode's SQLite queue."""
    if config.get("LMS_BROKER_URL"):
        return config["LMS_BROKER_URL"]
    if config.get("LMS_REDIS_URL"):
        return config["LMS_REDIS_URL"]
    return f"sqla+sqlite:///{Path(instance_path) / 'queue.sqlite'}"


_creating = threading.Lock()


def init_app(app: Flask) -> None:
    """Make ready the application's Celery, created when first used (:func:`celery_for`).

    Celery and kombu cost a tenth of a second to import: a page that submits no job, and every command that
    is not a worker, never pays it.
    """
    app.extensions["lms_celery"] = None


def celery_for(app: Flask) -> Celery:
    """The application's Celery, whose tasks run inside the application's context; the current one from now."""
    app = getattr(app, "_get_current_object", lambda: app)()  # the app itself, not flask.current_app's proxy
    celery = app.extensions.get("lms_celery")
    if celery is None:
        with _creating:  # two threads' first jobs at once make one Celery (one broker pool)
            celery = app.extensions.get("lms_celery")
            if celery is None:
                celery = app.extensions["lms_celery"] = _create(app)
    # Shared tasks (``run_job``) go to the current Celery: this application's, when several share a process.
    celery.set_current()
    celery.set_default()
    return celery


def _create(app: Flask) -> Celery:
    from celery import Celery, Task
    from celery.signals import worker_process_init

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            # A context of its own for each job (its own session and g): the application's, or, called inside
            # another application's context (a test calling a task directly), that one's.
            target = current_app._get_current_object() if has_app_context() else app
            with target.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    visibility = app.config["LMS_JOB_STALE_SECONDS"] * 4
    broker = broker_url(app.config, app.instance_path)
    celery.conf.update(
        broker_url=broker,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        task_always_eager=bool(app.config.get("LMS_JOBS_EAGER")),
        task_eager_propagates=True,
        # A message is acknowledged once its job ran: a worker killed mid-job leaves it to be delivered again
        # (the job row decides whether it still needs running).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Redis hands an unacknowledged message to another worker after this long (SQLite's queue has no such
        # option; there the worker's own revival of stale jobs does it).
        broker_transport_options={"visibility_timeout": visibility} if broker.startswith(("redis", "rediss")) else {},
        worker_hijack_root_logger=False,
        include=["shegong_academy.jobs.tasks", "shegong_academy.notices.tasks"],
        # What ``lms scheduler`` (Celery beat) sends: the notifications' run (reminders, digests, retries).
        beat_schedule={
            "notifications": {"task": "lms.notify_scan", "schedule": float(app.config["LMS_NOTIFY_INTERVAL_SECONDS"])}
        },
        beat_schedule_filename=str(Path(app.instance_path) / "celerybeat-schedule"),
    )
    worker_process_init.connect(_fresh_connections, weak=False)
    return celery


def _fresh_connections(**_kwargs) -> None:
    """A forked worker process opens its own database connections, never its parent's."""
    from flask import current_app

    from ..extensions import db

    try:
        with current_app.app_context():
            db.engine.dispose(close=False)
    except RuntimeError:
        pass
