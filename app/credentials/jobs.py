"""Bulk printing as a background job: in-process threads in the embedded mode.

Jobs receive ids, not objects (they run in their own application context).
A scale-out deployment would hand ``print_job`` to an RQ worker; the function
is the same.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app


@dataclass
class Job:
    id: str
    user_id: int
    total: int = 0
    done: int = 0
    state: str = "queued"  # queued, running, finished, failed
    path: str | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def _jobs(app: Flask) -> dict[str, Job]:
    return app.extensions.setdefault("lms_print_jobs", {})


def start_print_job(*, certificate_ids: list[int], user_id: int) -> Job:
    """Start rendering one PDF of these certificates in a background thread."""
    app = current_app._get_current_object()
    job = Job(id=uuid.uuid4().hex, user_id=user_id, total=len(certificate_ids))
    _jobs(app)[job.id] = job
    thread = threading.Thread(target=_run, args=(app, job, certificate_ids), daemon=True)
    thread.start()
    return job


def get_job(job_id: str) -> Job | None:
    return _jobs(current_app).get(job_id)


def _run(app: Flask, job: Job, certificate_ids: list[int]) -> None:
    from ..extensions import db
    from .printing import print_certificates

    with app.app_context():
        job.state = "running"
        try:
            out = Path(app.instance_path) / "exports" / f"certificates-{job.id}.pdf"
            out.parent.mkdir(parents=True, exist_ok=True)

            def progress(i: int, n: int) -> None:
                job.done, job.total = i, n

            print_certificates(certificate_ids, out, progress=progress)
            job.path = str(out)
            job.state = "finished"
        except Exception as exc:  # noqa: BLE001 - the job reports any failure to the page
            app.logger.exception("print job failed")
            job.state, job.error = "failed", str(exc)
        finally:
            db.session.remove()
