"""Throughput benchmark: a trainee's ``/my/`` beside ``/healthz`` under gunicorn on PostgreSQL (issue 16).

The production shape on loopback: gunicorn (gunicorn.conf.py, production mode,
``LMS_BENCH_WEB_CONCURRENCY`` workers × ``LMS_BENCH_THREADS`` threads) on a
scratch PostgreSQL database holding a generated city of ``BENCH_PEOPLE``
people (default 20,000), Redis for the rate limits. ``CLIENTS`` client threads
(keep-alive connections) request one path as fast as they are answered for
``SECONDS`` seconds; the two paths take turns for ``ROUNDS`` rounds, so a busy
moment of the machine touches both alike. Printed: requests per second of each
(median of the rounds), the ratio of ``/my/`` to ``/healthz`` (target ≥ 40%),
and the latency percentiles of ``/my/``. The clients run on the same two cores
as the server: the ratio, not the absolute figures, is what carries over.

Also printed, per request of each path (median of the rounds): the processor time
of gunicorn's processes, of PostgreSQL's and of the clients, read from /proc before
and after each round. On a machine whose speed changes from one minute to the next
these move less than the rates, and they say where a request's cost goes.
"""

from __future__ import annotations

import os
import resource
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
from bench_checkins import (  # noqa: E402
    CSRF,
    browser,
    drop_database,
    percentiles,
    scratch_database,
    start_gunicorn,
)
from bench_reports import PASSWORD, prepare  # noqa: E402

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "20000"))
CLIENTS = 8
SECONDS = 8
ROUNDS = 3
TARGET = 0.40


def processor_seconds(pids: list[int]) -> float:
    """User and system time of these processes so far (those that ended count nothing)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def processes(wanted) -> list[int]:
    """The processes of this machine whose name and parent's id ``wanted(name, parent)`` accepts."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                head, tail = (entry / "stat").read_text().rsplit(")", 1)
            except OSError:  # it ended meanwhile
                continue
            if wanted(head.split("(", 1)[1], int(tail.split()[1])):
                pids.append(int(entry.name))
    return pids


def postgres_pids() -> list[int]:
    """PostgreSQL's processes on this machine (its backends come and go; the benchmark's are the busy ones)."""
    return processes(lambda name, _parent: name == "postgres")


def own_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def hammer(base: str, path: str, clients: list[requests.Session]) -> tuple[float, list[float]]:
    """Every client requests ``path`` back to back for SECONDS; return requests per second and latencies."""
    deadline = time.perf_counter() + SECONDS
    latencies: list[float] = []
    lock = threading.Lock()
    failures = []

    def run(client: requests.Session) -> None:
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            r = client.get(base + path, timeout=60, allow_redirects=False)
            if r.status_code != 200:
                failures.append((path, r.status_code))
                return
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(run, clients))
    if failures:
        raise RuntimeError(f"requests failed: {failures[:3]}")
    return len(latencies) / (time.perf_counter() - started), latencies


def main() -> int:
    url = scratch_database("bench_trainee_page")
    if url is None:
        return 1
    server = None
    try:
        with tempfile.TemporaryDirectory() as folder:
            print(f"trainee page under gunicorn: a city of {PEOPLE:,} people on PostgreSQL", flush=True)
            prepare(url, PEOPLE)
            server, base, workers, threads = start_gunicorn(url, folder)
            trainees = []
            for _ in range(CLIENTS):  # the same trainee signed in on CLIENTS phones
                client = browser()
                form = client.get(f"{base}/login", timeout=60)
                r = client.post(
                    f"{base}/login",
                    data={"username": "bench-trainee", "password": PASSWORD, "csrf_token": CSRF.search(form.text)[1]},
                    allow_redirects=False,
                    timeout=60,
                )
                if r.status_code != 302:
                    raise RuntimeError(f"bench-trainee could not sign in: {r.status_code}")
                trainees.append(client)
            anonymous = [browser() for _ in range(CLIENTS)]
            hammer(base, "/healthz", anonymous)  # warm-up: every worker has its connections and templates
            hammer(base, "/my/", trainees)
            gunicorn = [server.pid, *processes(lambda _name, parent: parent == server.pid)]
            rates: dict[str, list[float]] = {"/healthz": [], "/my/": []}
            costs: dict[str, list[tuple[float, float, float]]] = {"/healthz": [], "/my/": []}
            my_latencies: list[float] = []
            for _ in range(ROUNDS):
                for path, clients in (("/healthz", anonymous), ("/my/", trainees)):
                    database = postgres_pids()
                    before = (processor_seconds(gunicorn), processor_seconds(database), own_seconds())
                    rate, latencies = hammer(base, path, clients)
                    after = (processor_seconds(gunicorn), processor_seconds(database), own_seconds())
                    count = len(latencies)
                    costs[path].append(tuple((a - b) * 1000 / count for a, b in zip(after, before, strict=True)))
                    rates[path].append(rate)
                    if path == "/my/":
                        my_latencies.extend(latencies)
            health, my = statistics.median(rates["/healthz"]), statistics.median(rates["/my/"])
            print(f"server: gunicorn, {workers} workers × {threads} threads; {CLIENTS} clients, {ROUNDS}×{SECONDS} s")
            print(f"  /healthz {health:7.0f} requests/s")
            print(f"  /my/     {my:7.0f} requests/s ({percentiles(my_latencies)})")
            print("processor time per request (median of the rounds):")
            total = {}
            for path, rows in costs.items():
                web, database, clients_ = (statistics.median(r[i] for r in rows) for i in range(3))
                total[path] = statistics.median(sum(r) for r in rows)
                print(
                    f"  {path:<8} gunicorn {web:5.2f} ms, PostgreSQL {database:5.2f} ms, clients {clients_:5.2f} ms"
                    f" = {total[path]:5.2f} ms"
                )
            print(f"  /healthz costs {total['/healthz'] / total['/my/']:.0%} of what /my/ costs")
            verdict = "met" if my / health >= TARGET else "NOT met"
            print(f"/my/ throughput {my / health:.0%} of /healthz (target >= {TARGET:.0%}: {verdict})")
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
