"""Load benchmark: 500 QR check-ins plus 20 dashboard readers against gunicorn on PostgreSQL (issue 14, item 8).

The production shape on loopback: gunicorn (gunicorn.conf.py, production mode)
on a scratch PostgreSQL database, Redis for the rate limits, a folder store.
500 trainees are signed in first; then each checks in as a phone does — the
scan (GET /checkin/<session>?t=<code>, which answers a proof bound to the
browser) and the confirmation (POST) — in two arrival patterns:

- **at once**: all 500 released together (a room told "scan now");
- **spread**: 500 arrivals at seeded random moments over 60 s (a session starting).

Meanwhile 20 coordinators reload the coverage dashboard, about once a second each. Printed:
rows written, duplicates, errors, check-ins per second and p50/p95/p99 of a
check-in (scan + confirmation) and of the dashboard. Then a profile of the
confirmation in process (cProfile, top functions by own time), to say what a
check-in costs.

Run: ``make bench`` (needs PostgreSQL on 127.0.0.1:5432 and Redis on 6379, as
CI has); ``LMS_BENCH_WEB_CONCURRENCY`` / ``LMS_BENCH_THREADS`` change the server.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from urllib3.util.retry import Retry  # noqa: E402

from shegong_academy import create_app  # noqa: E402
from shegong_academy.core.db import utcnow  # noqa: E402
from shegong_academy.extensions import db  # noqa: E402
from shegong_academy.training.checkin import make_token  # noqa: E402
from shegong_academy.training.models import Attendance  # noqa: E402
from shegong_academy.training.services import create_course, create_program, create_session, enrol  # noqa: E402
from tests.factories import PASSWORD, World, person, user  # noqa: E402

TRAINEES = 500
READERS = 20
SPREAD_SECONDS = 60
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/12"
SECRET = "bench-secret-" + "k" * 40
DATA_KEY = "bench-data-key-" + "d" * 40
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(url: str, folder: str) -> tuple:
    """The world: a district, two sessions starting now, 500 enrolled trainees with accounts."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": SECRET,
            "LMS_DATA_KEY": DATA_KEY,
            "LMS_STORAGE_URL": f"file://{folder}/store",
            "LMS_PASSWORD_TIME_COST": 1,
            "LMS_PASSWORD_MEMORY_KIB": 1024,
        }
    )
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        w = World()
        now = utcnow()
        program = create_program(
            data={"title": "项目社工特训营", "kind": "camp", "year": now.year, "tier": "骨干"},
            unit=w.district,
            actor=None,
        )
        course = create_course(
            program=program,
            data={"code": "C1", "title": "社会工作专业理念与方法", "hours": 6, "capacity": None, "policy": "open"},
            actor=None,
        )
        sessions = [
            create_session(
                course=course,
                data={
                    "starts_at": now - timedelta(minutes=5 - i),
                    "ends_at": now + timedelta(hours=3),
                    "hours": 3,
                    "mode": "onsite",
                    "place": "拱墅区社工站",
                },
                actor=None,
            )
            for i in range(2)
        ]
        for i in range(TRAINEES):
            p = person(w.community, f"学员{i:03d}")
            user(f"t{i:03d}", "trainee", w.district, person=p)
            enrol(course=course, person=p, actor=w.coord)
        for i in range(READERS):
            user(f"reader{i:02d}", "coordinator", w.district)
        db.session.commit()
        return app, [s.id for s in sessions]


def start_gunicorn(url: str, folder: str) -> tuple[subprocess.Popen, str, str, str]:
    """Start gunicorn in production mode on ``url`` (Redis, a folder store in ``folder``); wait until it is ready.

    Returns the process (its own session: stop it with ``os.killpg``), its base URL, and its workers and threads
    (``LMS_BENCH_WEB_CONCURRENCY`` / ``LMS_BENCH_THREADS``, 4 and 4 by default). Its log is ``folder``/gunicorn.log.
    """
    port = free_port()
    workers = os.environ.get("LMS_BENCH_WEB_CONCURRENCY", "4")
    threads = os.environ.get("LMS_BENCH_THREADS", "4")
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "LMS_MODE": "production",
        "LMS_SECRET_KEY": SECRET,
        "LMS_DATA_KEY": DATA_KEY,
        "DATABASE_URL": url,
        "LMS_REDIS_URL": REDIS_URL,
        "LMS_STORAGE_URL": f"file://{folder}/store",
        "LMS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LMS_SESSION_COOKIE_SECURE": "false",  # plain http on loopback
        "LMS_LOGIN_LIMIT_ADDRESS": "100000 per minute",  # every client shares 127.0.0.1
        "LMS_INSTANCE_PATH": folder,
        "PORT": str(port),
        "WEB_CONCURRENCY": workers,
        "GUNICORN_THREADS": threads,
        "LMS_LOG_FORMAT": "json",
    }
    with open(Path(folder) / "gunicorn.log", "w") as log:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "--access-logfile", "/dev/null"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return server, base, workers, threads
        except requests.RequestException:
            time.sleep(0.2)
    os.killpg(server.pid, signal.SIGTERM)
    raise RuntimeError("gunicorn did not become ready")


def browser() -> requests.Session:
    """A client that, like a browser, sends a GET again when the server had closed an idle keep-alive connection."""
    client = requests.Session()
    retry = Retry(total=2, connect=2, read=2, allowed_methods=frozenset({"GET"}), raise_on_status=False)
    client.mount("http://", HTTPAdapter(max_retries=retry))
    return client


def sign_in(base: str, username: str) -> requests.Session:
    client = browser()
    form = client.get(f"{base}/login", timeout=60)
    r = client.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": CSRF.search(form.text).group(1)},
        allow_redirects=False,
        timeout=60,
    )
    if r.status_code != 302:
        raise RuntimeError(f"{username} could not sign in: {r.status_code}")
    return client


def check_in(app, base: str, client: requests.Session, session_id: int) -> tuple[float, int]:
    """Scan and confirm; return (seconds, status of the confirmation)."""
    with app.app_context():
        token = make_token(session_id, utcnow())
    started = time.perf_counter()
    try:
        scan = client.get(f"{base}/checkin/{session_id}", params={"t": token}, timeout=120)
        match = CSRF.search(scan.text)
        proof = re.search(r'name="t" value="([^"]+)"', scan.text)
        if scan.status_code != 200 or not match or not proof:
            return time.perf_counter() - started, scan.status_code
        confirm = client.post(
            f"{base}/checkin/{session_id}",
            data={"t": proof.group(1), "csrf_token": match.group(1)},
            allow_redirects=False,
            timeout=120,
        )
    except requests.RequestException:
        return time.perf_counter() - started, 0  # the connection failed: an error, counted
    return time.perf_counter() - started, confirm.status_code


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    q = statistics.quantiles(values, n=100)
    return f"p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms"


def run_pattern(app, base, clients, readers, session_id, arrivals: list[float]) -> dict:
    """Release each client at its arrival time (seconds from the start); readers reload the dashboard meanwhile."""
    results: list[tuple[float, int]] = []
    dashboard: list[float] = []
    stop = threading.Event()

    def read(client, seed):
        pause = random.Random(seed)
        while not stop.is_set():
            t = time.perf_counter()
            try:
                r = client.get(f"{base}/coverage/", timeout=120)
            except requests.RequestException:
                continue
            if r.status_code == 200:
                dashboard.append(time.perf_counter() - t)
            stop.wait(pause.uniform(0.5, 1.5))  # a coordinator reads the page before reloading it

    reader_threads = [threading.Thread(target=read, args=(c, i), daemon=True) for i, c in enumerate(readers)]
    for t in reader_threads:
        t.start()
    start_gate = threading.Barrier(len(clients) + 1)
    begin = [0.0]

    def arrive(client, at):
        start_gate.wait()
        delay = begin[0] + at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        results.append(check_in(app, base, client, session_id))

    threads = [threading.Thread(target=arrive, args=(c, a)) for c, a in zip(clients, arrivals, strict=True)]
    for t in threads:
        t.start()
    begin[0] = time.perf_counter()
    start_gate.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - begin[0]
    stop.set()
    for t in reader_threads:
        t.join(timeout=120)
    with app.app_context():
        rows = db.session.scalar(
            select(func.count()).select_from(Attendance).where(Attendance.session_id == session_id)
        )
        people = db.session.scalar(
            select(func.count(func.distinct(Attendance.person_id))).where(Attendance.session_id == session_id)
        )
        db.session.remove()
    ok = [s for s, status in results if status in (302, 303)]
    return {
        "rows": rows,
        "duplicates": rows - people,
        "errors": len(results) - len(ok),
        "statuses": sorted({status for _s, status in results}),
        "wall": wall,
        "throughput": len(ok) / wall,
        "checkin": percentiles(ok),
        "dashboard": percentiles(dashboard),
        "dashboard_reads": len(dashboard),
    }


def profile_confirmation(app, session_id: int) -> str:
    """cProfile of 50 confirmations through the test client (same database): where a check-in spends its time."""
    app.config.update(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    clients = []
    for i in range(50):
        c = app.test_client()
        c.post("/login", data={"username": f"t{i:03d}", "password": PASSWORD})
        clients.append(c)
    with app.app_context():
        db.session.execute(Attendance.__table__.delete().where(Attendance.session_id == session_id))
        db.session.commit()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    for c in clients:
        with app.app_context():
            token = make_token(session_id, utcnow())
        scan = c.get(f"/checkin/{session_id}?t={token}")
        proof = re.search(r'name="t" value="([^"]+)"', scan.text).group(1)
        profiler.enable()
        c.post(f"/checkin/{session_id}", data={"t": proof})
        profiler.disable()
    per = (time.perf_counter() - started) / len(clients)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("tottime")
    stats.print_stats(12)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()][:24]
    return f"scan + confirmation in process: {per * 1000:.1f} ms each\n" + "\n".join(lines)


def scratch_database(bench: str) -> str | None:
    """Create a scratch PostgreSQL database and empty the benchmark's Redis; its URL, or None (said why)."""
    name = f"lms_{bench}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        redis.Redis.from_url(REDIS_URL).flushdb()
    except (psycopg.Error, redis.RedisError) as exc:
        print(f"{bench} needs PostgreSQL on 127.0.0.1:5432 and Redis on 6379: {exc}")
        return None
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_database(url: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    redis.Redis.from_url(REDIS_URL).flushdb()


def main() -> int:
    url = scratch_database("bench_checkins")
    if url is None:
        return 1
    server = None
    try:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            app, session_ids = build(url, folder)
            print(f"check-in load: world built in {time.perf_counter() - started:.0f} s ({TRAINEES} trainees)")
            server, base, workers, threads = start_gunicorn(url, folder)
            print(f"server: gunicorn, {workers} workers × {threads} threads, PostgreSQL, Redis, loopback")
            with ThreadPoolExecutor(16) as pool:
                clients = list(pool.map(lambda i: sign_in(base, f"t{i:03d}"), range(TRAINEES)))
                readers = list(pool.map(lambda i: sign_in(base, f"reader{i:02d}"), range(READERS)))
            rng = random.Random(7)
            patterns = {
                f"{TRAINEES} at once": [0.0] * TRAINEES,
                f"{TRAINEES} over {SPREAD_SECONDS} s": sorted(rng.uniform(0, SPREAD_SECONDS) for _ in range(TRAINEES)),
            }
            for (label, arrivals), session_id in zip(patterns.items(), session_ids, strict=True):
                r = run_pattern(app, base, clients, readers, session_id, arrivals)
                print(
                    f"{label}: rows {r['rows']}, duplicates {r['duplicates']}, errors {r['errors']} "
                    f"(statuses {r['statuses']}), {r['throughput']:.0f} check-ins/s over {r['wall']:.1f} s; "
                    f"check-in (scan + confirm) {r['checkin']}; "
                    f"dashboard ({READERS} readers, {r['dashboard_reads']} reads) {r['dashboard']}"
                )
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            server = None
            print(profile_confirmation(app, session_ids[0]))
            with app.app_context():
                db.engine.dispose()
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGKILL)
        drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
