"""Benchmark: reports, dashboard and a trainee's page beside their raw floors, at 2,000 / 20,000 (/ 100,000) people.

For SQLite (a file in a temporary folder) and PostgreSQL (a scratch database on
127.0.0.1:5432 when reachable): migrate, ``generate_city(N)`` (timed: the
``lms generate`` target is 60 s at 100,000), then, as medians of interleaved
repetitions (each round runs every measure once, in turn, so a noisy moment
hits all of them alike):

- raw floors through the same driver: ``count(*)`` of attendance, and
  ``GROUP BY person_id`` over all attendance (fetched);
- the top unit's report (``unit_report`` of the province 990000);
- the first district's report (990101) — the same district at every size:
  its cost should not follow the city's;
- the district's dashboard page (``GET /coverage/`` as its coordinator);
- a trainee's ``/my/``, in process;
- with no target, two pages of the district's coordinator that read per-person figures: a credential's
  candidates (the generated transition certificate; its eligibility reads the monthly rollups) and the
  supervision records (a page of them, counted);

with the SQL statements each issues. Then the targets of issue 16 against the
figures. ``BENCH_FULL=1`` adds 100,000 people (minutes per database);
``BENCH_SIZES`` chooses sizes, ``BENCH_ROUNDS`` the repetitions (default 9).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, event, select, text  # noqa: E402

from shegong_academy import create_app  # noqa: E402
from shegong_academy.extensions import db  # noqa: E402

FULL = os.environ.get("BENCH_FULL") == "1"
SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "2000,20000,100000" if FULL else "2000,20000").split(",")]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")
PASSWORD = "bench-password-2024"  # noqa: S105 - the generated city's benchmark logins


def app_for(url: str):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-" + "k" * 40,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )


def prepare(url: str, people: int) -> float:
    """Migrate and generate the city; return the generation's wall time in seconds."""
    app = app_for(url)
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        from shegong_academy.demo.generate import generate_city

        started = time.perf_counter()
        counts = generate_city(people, seed=1)
        db.session.commit()
        seconds = time.perf_counter() - started
        print(
            f"    generated {counts['people']:,} people, {counts['attendance']:,} attendance,"
            f" {counts['supervision_credits']:,} supervision credits in {seconds:.1f} s",
            flush=True,
        )
        db.engine.dispose()
    return seconds


class Counter:
    """Counts the statements sent to an engine while a measure runs."""

    def __init__(self, engine):
        self.n = 0
        event.listen(engine, "before_cursor_execute", self)

    def __call__(self, *_args):
        self.n += 1


def measure(url: str) -> dict[str, tuple[float, int]]:
    """Return {measure: (median ms, statements)} over interleaved rounds.

    Requests are made outside any application context (a context held around them would share
    ``g``, and with it the signed-in user, between the two clients).
    """
    from shegong_academy.coverage.queries import unit_report
    from shegong_academy.credentials.models import CredentialType
    from shegong_academy.org.models import OrgUnit
    from shegong_academy.org.queries import unit_by_code

    app = app_for(url)
    with app.app_context():
        province_id, district_id = unit_by_code("990000").id, unit_by_code("990101").id
        credential_id = db.session.scalar(select(CredentialType.id).where(CredentialType.name == "bench-transition"))
        engine = db.engine
        db.session.remove()

    def in_context(call):
        def run():
            with app.app_context():
                call()
                db.session.remove()

        return run

    def raw(sql):
        return in_context(lambda: db.session.connection().exec_driver_sql(sql).fetchall())

    def report(unit_id):
        return in_context(lambda: unit_report(db.session.get(OrgUnit, unit_id), 2024))

    coordinator, trainee = app.test_client(), app.test_client()
    for client, name in ((coordinator, "bench-coordinator"), (trainee, "bench-trainee")):
        assert client.post("/login", data={"username": name, "password": PASSWORD}).status_code == 302

    def page(client, path):
        def run():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        return run

    measures: dict[str, Callable[[], None]] = {
        "raw count": raw("SELECT count(*) FROM attendance"),
        "raw GROUP BY": raw("SELECT person_id, count(*) FROM attendance GROUP BY person_id"),
        "top-unit report": report(province_id),
        "district report": report(district_id),
        "district dashboard": page(coordinator, f"/coverage/?unit={district_id}&year=2024"),
        "trainee /my/": page(trainee, "/my/?year=2024"),
        # no targets: a district's pages that read per-person figures (eligibility, the records touching it)
        "district credential": page(coordinator, f"/credentials/{credential_id}"),
        "district supervision": page(coordinator, "/supervision/"),
    }
    counter = Counter(engine)
    times: dict[str, list[float]] = {name: [] for name in measures}
    statements: dict[str, int] = {}
    for run in measures.values():  # warm-up: caches, the first query plans
        run()
    for _ in range(ROUNDS):
        for name, run in measures.items():
            counter.n = 0
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
            statements[name] = counter.n
    event.remove(engine, "before_cursor_execute", counter)
    engine.dispose()
    return {name: (statistics.median(t) * 1000, statements[name]) for name, t in times.items()}


SAME_ROUNDS = 40


def same_district(urls: dict[int, str]) -> tuple[int, int, float, float]:
    """The first district's report in the two largest cities, taking turns: (small, big, median ms of each).

    Measured in turns in one process, so that a busy moment of the machine (on these machines the
    figures of separate runs move by a fifth) touches both cities alike.
    """
    from shegong_academy.coverage.queries import unit_report
    from shegong_academy.org.models import OrgUnit
    from shegong_academy.org.queries import unit_by_code

    small, big = sorted(urls)[-2:]
    apps = []
    for people in (small, big):
        app = app_for(urls[people])
        with app.app_context():
            apps.append((app, unit_by_code("990101").id))
            db.session.remove()
    times: list[list[float]] = [[], []]
    for round_ in range(SAME_ROUNDS + 5):  # the first five warm the caches
        for i, (app, unit_id) in enumerate(apps):
            started = time.perf_counter()
            with app.app_context():
                unit_report(db.session.get(OrgUnit, unit_id), 2024)
                db.session.remove()
            if round_ >= 5:
                times[i].append((time.perf_counter() - started) * 1000)
    for app, _ in apps:
        with app.app_context():
            db.engine.dispose()
    return small, big, statistics.median(times[0]), statistics.median(times[1])


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
    results: list[tuple[str, int, float, dict]] = []
    ratios: dict[str, tuple[int, int, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("SQLite", lambda n: f"sqlite:///{tmp}/bench-{n}.db", lambda n: None)]
        if pg_available():
            backends.append(
                ("PostgreSQL", lambda n: pg_database(f"lms_bench_{n}"), lambda n: drop_pg(f"lms_bench_{n}"))
            )
        else:
            print("PostgreSQL not reachable: only SQLite is measured")
        for name, make_url, cleanup in backends:
            urls = {}
            try:
                for people in SIZES:
                    print(f"== {name}, {people:,} people", flush=True)
                    urls[people] = url = make_url(people)
                    generated = prepare(url, people)
                    figures = measure(url)
                    results.append((name, people, generated, figures))
                    floor = figures["raw GROUP BY"][0]
                    for measure_name, (ms, n) in figures.items():
                        print(
                            f"    {measure_name:<20}{ms:>9.1f} ms{n:>4} stmt{ms / floor:>8.2f}× raw GROUP BY",
                            flush=True,
                        )
                if len(urls) > 1:
                    ratios[name] = same_district(urls)
            finally:
                for people in urls:
                    cleanup(people)
    print()
    print(f"medians of {ROUNDS} interleaved rounds; ratios to the raw GROUP BY of the same run")
    header = f"{'database':<12}{'people':>8}{'generate s':>11}"
    names = list(results[0][3]) if results else []
    print(header + "".join(f"{n:>22}" for n in names))
    for db_name, people, generated, f in results:
        cells = "".join(f"{f[n][0]:>9.1f} ms ({f[n][0] / f['raw GROUP BY'][0]:>5.2f}×)" for n in names)
        print(f"{db_name:<12}{people:>8}{generated:>11.1f}{cells}")
    print()
    print("targets (issue 16):")
    for db_name in dict.fromkeys(r[0] for r in results):
        rows = {people: (generated, f) for name, people, generated, f in results if name == db_name}
        top = max(rows)
        generated, f = rows[top]
        report, floor = f["top-unit report"][0], f["raw GROUP BY"][0]
        print(f"  {db_name}, {top:,} people:")
        print(f"    top-unit report {report:.1f} ms = {report / floor:.2f}× raw GROUP BY (target ≤ 100 ms and ≤ 0.2×)")
        print(f"    district dashboard {f['district dashboard'][0]:.1f} ms (target ≤ 120 ms)")
        print(f"    trainee /my/ {f['trainee /my/'][0]:.1f} ms (target ≤ 15 ms)")
        if db_name in ratios:
            small, big, small_ms, big_ms = ratios[db_name]
            print(
                f"    the same district's report at {big:,} vs {small:,} people: {big_ms:.1f} / {small_ms:.1f} ms"
                f" = {big_ms / small_ms:.2f}× (target ≤ 1.1×; the two cities in turns, {SAME_ROUNDS} rounds)"
            )
        statements = {n: {rows[p][1][n][1] for p in rows} for n in names}
        varying = [n for n, counts in statements.items() if len(counts) > 1]
        print(f"    statements constant across sizes: {'yes' if not varying else 'no: ' + ', '.join(varying)}")
        if top >= 100000:
            print(f"    generate {generated:.1f} s (target ≤ 60 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
