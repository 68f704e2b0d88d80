"""Benchmark: the district report and the coverage dashboard at 2,000 and 20,000 people.

For SQLite (a file in a temporary folder) and PostgreSQL (a scratch database on
127.0.0.1:5432 when reachable): migrate, `lms generate --people N`, then time
`unit_report` for the first district and `GET /coverage/` as an administrator,
printing the median of 7 runs (after one warm-up) and the SQL statements each
issues. Targets (PRODUCT.md §5): under 300 ms at 20,000 on either database,
and the same number of queries at both sizes.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, event, text  # noqa: E402

from shegong_academy import create_app  # noqa: E402
from shegong_academy.extensions import db  # noqa: E402

SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "2000,20000").split(",")]
RUNS = 7
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def app_for(url: str):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-" + "k" * 40,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )


def prepare(url: str, people: int) -> None:
    app = app_for(url)
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        from shegong_academy.demo.generate import generate_city

        started = time.perf_counter()
        counts = generate_city(people, seed=1)
        db.session.commit()
        print(
            f"    generated {counts['people']} people, {counts['attendance']} attendance,"
            f" {counts['supervision_credits']} supervision credits in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        db.engine.dispose()


def measure(url: str) -> dict:
    app = app_for(url)
    with app.app_context():
        from shegong_academy.coverage.queries import unit_report
        from shegong_academy.org.queries import unit_by_code

        unit = unit_by_code("990101")
        unit_id = unit.id
        count = [0]

        def counter(*_args):
            count[0] += 1

        event.listen(db.engine, "before_cursor_execute", counter)
        unit_report(unit, 2024)
        times = []
        for _ in range(RUNS):
            count[0] = 0
            started = time.perf_counter()
            unit_report(unit, 2024)
            times.append(time.perf_counter() - started)
        report_queries = count[0]
        db.session.remove()

        client = app.test_client()
        client.post("/login", data={"username": "bench-admin", "password": "bench-password-2024"})
        url_path = f"/coverage/?unit={unit_id}&year=2024"
        assert client.get(url_path).status_code == 200
        page_times = []
        for _ in range(RUNS):
            count[0] = 0
            started = time.perf_counter()
            response = client.get(url_path)
            page_times.append(time.perf_counter() - started)
        assert response.status_code == 200
        page_queries = count[0]
        event.remove(db.engine, "before_cursor_execute", counter)
        db.engine.dispose()
    return {
        "report_ms": statistics.median(times) * 1000,
        "report_queries": report_queries,
        "page_ms": statistics.median(page_times) * 1000,
        "page_queries": page_queries,
    }


def pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable here"
        return False


def pg_database(name: str) -> str:
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_pg(name: str) -> None:
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> int:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("SQLite", lambda n: f"sqlite:///{tmp}/bench-{n}.db", lambda n: None)]
        if pg_available():
            backends.append(
                ("PostgreSQL", lambda n: pg_database(f"lms_bench_{n}"), lambda n: drop_pg(f"lms_bench_{n}"))
            )
        else:
            print("PostgreSQL not reachable: only SQLite is measured")
        for name, make_url, cleanup in backends:
            for people in SIZES:
                print(f"== {name}, {people} people", flush=True)
                url = make_url(people)
                try:
                    prepare(url, people)
                    figures = measure(url)
                finally:
                    cleanup(people)
                results.append((name, people, figures))
                print(
                    f"    district report {figures['report_ms']:.0f} ms ({figures['report_queries']} queries);"
                    f" dashboard page {figures['page_ms']:.0f} ms ({figures['page_queries']} queries)",
                    flush=True,
                )
    print()
    print(f"{'database':<12}{'people':>8}{'report ms':>11}{'queries':>9}{'dashboard ms':>14}{'queries':>9}")
    for name, people, f in results:
        print(
            f"{name:<12}{people:>8}{f['report_ms']:>11.0f}{f['report_queries']:>9}{f['page_ms']:>14.0f}{f['page_queries']:>9}"
        )
    worst = max(f["page_ms"] for *_, f in results)
    print(f"target: < 300 ms at 20,000 people; worst dashboard here {worst:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
