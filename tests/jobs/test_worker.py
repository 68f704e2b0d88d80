"""The embedded mode's worker (what `make run` starts beside the server): a job submitted by the application
goes through the SQLite queue in the instance folder to `flask lms worker`, which runs it (issue 14)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from shegong_academy.core.uow import transaction
from shegong_academy.extensions import db
from shegong_academy.jobs import services
from shegong_academy.jobs.models import Job
from tests.conftest import make_app, migrate
from tests.factories import World

pytestmark = pytest.mark.once  # its own SQLite database, whatever TEST_DATABASE_URL says

REPO = Path(__file__).resolve().parents[2]


def test_a_job_goes_through_the_sqlite_queue_to_the_embedded_worker(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'academy.db'}"
    migrate(url)
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "DATABASE_URL": url,
        "LMS_INSTANCE_PATH": str(tmp_path),
        "LMS_SECRET_KEY": "embedded-" + "e" * 40,
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "lms", "worker"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path))  # the application's queue is the worker's
    app = make_app(url, LMS_JOBS_EAGER=False, SECRET_KEY=env["LMS_SECRET_KEY"])
    try:
        with app.app_context():
            World()
            db.session.commit()
            with transaction():
                job_id = services.submit_job(kind="ledger.rebuild", params={}, actor=None).id
        assert (tmp_path / "queue.sqlite").exists()  # the message waits in the instance folder's queue
        deadline, state = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            with app.app_context():
                state = db.session.scalar(select(Job.state).where(Job.id == job_id))
                db.session.remove()
            if state in ("done", "failed"):
                break
            time.sleep(0.2)
        assert state == "done"
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        with app.app_context():
            db.engine.dispose()
    assert f"job {job_id} done" in output
