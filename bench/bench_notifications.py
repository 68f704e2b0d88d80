"""Benchmark: the notifications' scheduler run over a district with many people due for reminders.

What a run costs when it first writes the reminders of 1,000 people (tomorrow's session, a certificate
expiring and renewable, supervision unconfirmed for 8 days and escalated), and when it runs again with all of
them told already: what every run after costs (every LMS_NOTIFY_INTERVAL_SECONDS). Issue 19 sets no target;
the figures are printed to watch. A scratch SQLite database built by the migrations; mail off (writing only).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402

from shegong_academy import create_app  # noqa: E402
from shegong_academy.core.db import utcnow  # noqa: E402
from shegong_academy.credentials.models import Certificate  # noqa: E402
from shegong_academy.credentials.services import issue_to_people  # noqa: E402
from shegong_academy.extensions import db  # noqa: E402
from shegong_academy.notices.models import Notification  # noqa: E402
from shegong_academy.notices.schedule import run  # noqa: E402
from shegong_academy.supervision.models import SupervisionRecord  # noqa: E402
from shegong_academy.supervision.services import record_supervision  # noqa: E402
from shegong_academy.training.services import enrol, save_roster  # noqa: E402
from tests.credentials.helpers import completion_type  # noqa: E402
from tests.factories import World, person, user  # noqa: E402
from tests.training.helpers import course, program, session  # noqa: E402

PEOPLE = 1000
GROUP = 10  # supervisees per supervision record
AGAIN = 5


def build(w) -> None:
    people = [person(w.community, f"学员{i:04d}") for i in range(PEOPLE)]
    crs = course(program(w.district), hours=3)
    held = session(crs, hours=3)
    local = utcnow().astimezone(ZoneInfo("Asia/Shanghai"))
    tomorrow = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    session(crs, n=0, hours=3, start=tomorrow)
    for p in people:
        enrol(course=crs, person=p, actor=w.coord)
    save_roster(session=held, exceptions={}, actor=w.coord)
    cred = completion_type(w, renewal_min_hours=Decimal(0))
    issue_to_people(credential=cred, person_ids=[p.id for p in people], actor=w.coord, render=False)
    db.session.execute(update(Certificate).values(expires_at=utcnow() + timedelta(days=20)))
    supervisor = person(w.street, "督导甲")
    sup = user("sup1", "supervisor", w.district, person=supervisor)
    for start in range(0, PEOPLE, GROUP):
        record_supervision(
            data={
                "format": "group",
                "mode": "onsite",
                "kind": "overall",
                "held_on": local.date() - timedelta(days=9),
                "hours": Decimal("2"),
                "topic": "小组督导",
                "functions": ["educational"],
            },
            supervisor=supervisor,
            supervisees=people[start : start + GROUP],
            actor=sup,
        )
    db.session.execute(update(SupervisionRecord).values(created_at=utcnow() - timedelta(days=8)))
    db.session.commit()


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "SECRET_KEY": "bench-" + "k" * 40,
                "LMS_STORAGE_URL": f"file://{tmp}/files",
                "LMS_PASSWORD_TIME_COST": 1,
                "LMS_PASSWORD_MEMORY_KIB": 1024,
                "LMS_JOBS_EAGER": True,
                "LMS_NOTIFY_HOUR": 0,  # tomorrow's sessions are due at any hour of the run
            }
        )
        with app.app_context():
            upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
            build(World())
            before = db.session.scalar(select(func.count()).select_from(Notification))
            started = time.perf_counter()
            first = run()
            first_s = time.perf_counter() - started
            written = db.session.scalar(select(func.count()).select_from(Notification)) - before
            again = []
            for _ in range(AGAIN):
                started = time.perf_counter()
                outcome = run()
                again.append(time.perf_counter() - started)
                assert not any(outcome["written"].values()), outcome
            db.engine.dispose()
    print(f"scheduler, first run over {PEOPLE:,} people due: {written:,} notifications written in {first_s:.2f} s")
    print(f"  written by kind: {first['written']}")
    print(f"scheduler, each later run (all told already): median {1000 * statistics.median(again):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
