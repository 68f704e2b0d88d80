"""The job queue: Celery, bound to the Flask application (the pattern of Flask's documentation).

Production uses Redis as the broker (``LMS_REDIS_URL``; RabbitMQ through
``LMS_BROKER_URL=amqp://…`` works the same); the embedded mode keeps its
queue in a SQLite file beside the database, so ``make run`` needs no other
service. Tests run tasks at once in the caller (``LMS_JOBS_EAGER``). The task
code is the same in every case.
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask


def broker_url(config: dict, instance_path: str) -> str:
    """The broker the configuration names, or the embedded mode's SQLite queue."""
    if config.get("LMS_BROKER_URL"):
        return config["LMS_BROKER_URL"]
    if config.get("LMS_REDIS_URL"):
        return config["LMS_REDIS_URL"]
    return f"sqla+sqlite:///{Path(instance_path) / 'queue.sqlite'}"


def init_app(app: Flask) -> Celery:
    """Create the application's Celery, whose tasks run inside the application's context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
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
        include=["shegong_academy.jobs.tasks"],
    )
    celery.set_default()
    app.extensions["lms_celery"] = celery
    return celery


@worker_process_init.connect
def _fresh_connections(**_kwargs) -> None:
    """A forked worker process opens its own database connections, never its parent's."""
    from flask import current_app

    from ..extensions import db

    try:
        with current_app.app_context():
            db.engine.dispose(close=False)
    except RuntimeError:
        pass
