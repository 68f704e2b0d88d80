"""Benchmark: one certificate issued (rendered, stored) and served, then the stored PDF served again.

Targets (PRODUCT.md §5): rendered and served under 0.5 s; a stored PDF served
again under 50 ms. Uses a scratch SQLite database built by the migrations.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from shegong_academy import create_app  # noqa: E402
from shegong_academy.credentials.models import CredentialType  # noqa: E402
from shegong_academy.credentials.services import issue_certificate  # noqa: E402
from shegong_academy.extensions import db  # noqa: E402
from shegong_academy.training.services import enrol, record_attendance  # noqa: E402
from tests.factories import PASSWORD, World, login, person  # noqa: E402
from tests.training.helpers import course, program, session  # noqa: E402

RUNS = 15


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "SECRET_KEY": "bench-" + "k" * 40,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "LMS_STORAGE_URL": f"file://{tmp}/pdfs",
                "LMS_PASSWORD_TIME_COST": 1,
                "LMS_PASSWORD_MEMORY_KIB": 1024,
            }
        )
        with app.app_context():
            upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
            w = World()
            cred = CredentialType(
                name="psw",
                title="项目社工转岗证书",
                design="transition-zh",
                issuer_unit=w.district,
                issuer_name="杭州市拱墅区民政局",
                issuer_code="GSMZ",
                min_training_hours=Decimal("3"),
                transition_from="community_worker",
                transition_to="project_social_worker",
            )
            db.session.add(cred)
            people = [person(w.community, f"学员{i}") for i in range(RUNS + 1)]
            crs = course(program(w.district), hours=3)
            s1 = session(crs, hours=3)
            for p in people:
                enrol(course=crs, person=p, actor=w.coord)
                record_attendance(session=s1, person=p, status="present", actor=w.coord)
            db.session.commit()
            issue_certificate(credential=cred, person=people[-1], actor=None)  # warm-up: fonts loaded once
            db.session.commit()
            ids = [p.id for p in people[:RUNS]]
        client = app.test_client()
        assert login(client, "coord", PASSWORD).status_code == 302
        first, again = [], []
        for pid in ids:
            started = time.perf_counter()
            with app.app_context():
                from shegong_academy.people.models import Person

                cert = issue_certificate(
                    credential=db.session.get(CredentialType, 1), person=db.session.get(Person, pid), actor=None
                )
                db.session.commit()
                cert_id = cert.id
            response = client.get(f"/certificates/{cert_id}.pdf")
            assert response.status_code == 200 and response.data.startswith(b"%PDF")
            response.close()
            first.append(time.perf_counter() - started)
            started = time.perf_counter()
            response = client.get(f"/certificates/{cert_id}.pdf")
            response.close()
            again.append(time.perf_counter() - started)
        with app.app_context():
            db.engine.dispose()
    median_first = 1000 * statistics.median(first)
    print(f"one certificate issued, rendered and served: median {median_first:.0f} ms (target < 500 ms)")
    print(f"stored PDF served again: median {1000 * statistics.median(again):.1f} ms (target < 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
