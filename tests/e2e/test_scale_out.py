"""Two web instances, one worker, PostgreSQL, Redis and S3 (issue 14, item 7).

Two gunicorn instances run in production mode on two ports with instance
folders of their own (no shared disk); a Celery worker takes jobs from Redis;
files live in a local S3 server (moto's, on loopback). The demo's 69 transition
certificates are approved on A, the job's progress read on B, a print job
submitted on B is downloaded from A, and the worker is killed with SIGKILL in
the middle of a print: a new worker finishes the job, nothing is duplicated.

It brings its own PostgreSQL database, Redis database and bucket, whatever
TEST_DATABASE_URL says, so it runs once per CI run (marker ``once``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.s3 import free_port, s3_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.once

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("LMS_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
# A database of its own on the machine's Redis (emptied before and after), drawn so that two runs at once
# (a CI run beside a developer's) do not empty each other's.
REDIS_DB = random.SystemRandom().randrange(8, 16)
CREDENTIAL = "project-social-worker"
DEMO_ELIGIBLE = 69


class Service:
    """A process of the deployment, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict, folder: Path):
        self.name, self.log = name, folder / f"{name}.log"
        with self.log.open("w") as out:
            # A session of its own: SIGKILL reaches the worker's pool processes too, as a machine's death would.
            self.process = subprocess.Popen(
                args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self, sig=signal.SIGTERM) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def tail(self) -> str:
        return f"--- {self.name} ---\n{self.log.read_text(errors='replace')[-3000:]}"


def _http(method: str, url: str, token: str | None = None, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def _wait_ready(base: str, services: list[Service], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status, _headers, body = _http("GET", f"{base}/readyz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{base}/readyz never answered 200:\n" + "\n".join(s.tail() for s in services))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, s3_server):  # noqa: F811 - the fixture
    """Database, Redis, bucket, migrations, the demo, a token; two web instances and a worker."""
    import boto3
    import redis

    folder = tmp_path_factory.mktemp("deployment")
    name = f"lms_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    bucket = f"lms-{uuid.uuid4().hex[:12]}"
    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    boto3.client(
        "s3",
        endpoint_url=s3_server,
        **{k.lower(): v for k, v in aws.items() if k != "AWS_DEFAULT_REGION"},
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    ports = {"a": free_port(), "b": free_port()}
    base = {
        "LMS_MODE": "production",
        "LMS_SECRET_KEY": "scale-out-" + "k" * 40,
        "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
        "LMS_REDIS_URL": redis_url,
        "LMS_PUBLIC_URL": f"http://127.0.0.1:{ports['a']}",
        "LMS_STORAGE_URL": f"s3://{bucket}/academy",
        "LMS_S3_ENDPOINT_URL": s3_server,
        "LMS_PASSWORD_TIME_COST": "1",
        "LMS_PASSWORD_MEMORY_KIB": "1024",
        "LMS_JOB_STALE_SECONDS": "4",
        "LMS_LOG_FORMAT": "json",
        "LMS_SESSION_COOKIE_SECURE": "false",  # plain http on loopback: the browser test below keeps its cookies
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4",
        **aws,
    }
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep} | base

    def instance_env(label: str) -> dict:
        own = folder / f"instance-{label}"
        own.mkdir(exist_ok=True)
        return env | {"LMS_INSTANCE_PATH": str(own)}

    def flask(*args: str) -> str:
        done = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=REPO,
            env=instance_env("cli"),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"flask {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    timings = {}
    started = time.monotonic()
    flask("lms", "db", "upgrade")
    flask("lms", "demo")
    timings["migrate + demo"] = time.monotonic() - started
    token = flask("lms", "create-token", "--username", "gongshu", "--name", "scale-out").split()[-1]

    services: list[Service] = []

    def web(label: str, *, make: bool) -> Service:
        # A is started as docs/deploy.md says (make serve), B as its systemd unit does (gunicorn itself).
        args = (
            ["make", "-s", "serve", f"PORT={ports[label]}"]
            if make
            else [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"]
        )
        service = Service(f"web-{label}", args, instance_env(label) | {"PORT": str(ports[label])}, folder)
        services.append(service)
        return service

    def worker(label: str, *, make: bool = False) -> Service:
        args = ["make", "-s", "worker"] if make else [str(BIN / "flask"), "--app", "wsgi", "lms", "worker"]
        service = Service(label, args, instance_env(label), folder)
        services.append(service)
        return service

    web("a", make=True), web("b", make=False)
    urls = {label: f"http://127.0.0.1:{port}" for label, port in ports.items()}
    for url in urls.values():
        _wait_ready(url, services)
    deployment = {
        "urls": urls,
        "token": token,
        "database": base["DATABASE_URL"],
        "bucket": bucket,
        "s3": s3_server,
        "aws": aws,
        "worker": worker,
        "services": services,
        "timings": timings,
        "folder": folder,
    }
    try:
        yield deployment
    finally:
        for service in services:
            service.kill()
        print("\nscale-out timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        redis.Redis.from_url(redis_url).flushdb()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sql(deployment, query: str):
    url = deployment["database"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def _poll(deployment, url: str, until, seconds: float = 240) -> list[dict]:
    """Read the job until ``until(job)``; return every reading."""
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, _h, body = _http("GET", url, deployment["token"])
        assert status == 200, body
        seen.append(json.loads(body))
        if until(seen[-1]):
            return seen
        time.sleep(0.25)
    pytest.fail(f"the job never got there: {seen[-1]}\n" + "\n".join(s.tail() for s in deployment["services"]))


def test_approve_on_a_watch_on_b_print_on_b_download_on_a_and_survive_a_killed_worker(deployment):
    a, b, token = deployment["urls"]["a"], deployment["urls"]["b"], deployment["token"]
    timings = deployment["timings"]
    worker = deployment["worker"]("worker-1", make=True)

    # Approve everyone eligible on A: the answer is a job, at once.
    started = time.monotonic()
    status, headers, body = _http("POST", f"{a}/api/v1/credential-types/{CREDENTIAL}/issue", token, {"all": True})
    timings["approve 69 (answer)"] = time.monotonic() - started
    assert status == 202, body
    job = json.loads(body)
    assert job["total"] == DEMO_ELIGIBLE and job["state"] in ("queued", "running")  # not done inside the request

    # B reports on it, progress rising to completion.
    started = time.monotonic()
    seen = _poll(deployment, f"{b}/api/v1/jobs/{job['id']}", lambda j: j["state"] in ("done", "failed"))
    timings["issue 69 (job)"] = time.monotonic() - started
    assert seen[-1]["state"] == "done", seen[-1]
    assert seen[-1]["result"]["issued"] == DEMO_ELIGIBLE and seen[-1]["progress"] == DEMO_ELIGIBLE
    assert any(0 < j["progress"] < DEMO_ELIGIBLE for j in seen), "no progress was seen between start and end"
    rows = _sql(deployment, "SELECT count(*), count(DISTINCT person_id) FROM certificates")
    assert rows == [(DEMO_ELIGIBLE, DEMO_ELIGIBLE)]

    # The same approval again is a job that issues nobody twice.
    status, _h, body = _http("POST", f"{b}/api/v1/credential-types/{CREDENTIAL}/issue", token, {"all": True})
    assert status == 422  # nobody is eligible any more: they hold the certificate

    # Print on B; kill the worker with SIGKILL while it renders; a new worker finishes the job.
    status, _h, body = _http("POST", f"{b}/api/v1/credential-types/{CREDENTIAL}/print", token)
    assert status == 202, body
    printing = json.loads(body)
    _poll(deployment, f"{a}/api/v1/jobs/{printing['id']}", lambda j: j["state"] == "running", seconds=60)
    worker.kill(signal.SIGKILL)
    started = time.monotonic()
    deployment["worker"]("worker-2")
    seen = _poll(deployment, f"{a}/api/v1/jobs/{printing['id']}", lambda j: j["state"] in ("done", "failed"))
    timings["print 69 after the kill"] = time.monotonic() - started
    final = seen[-1]
    assert final["state"] == "done", final
    assert final["result"]["count"] == DEMO_ELIGIBLE
    [[attempts]] = _sql(deployment, f"SELECT attempts FROM jobs WHERE id = {printing['id']}")
    assert attempts == 2  # the killed attempt and the one that finished

    # Download it from A (the file is in the shared store, not on B's disk).
    status, headers, pdf = _http("GET", a + final["result_url"], token)
    assert status == 200 and pdf.startswith(b"%PDF") and headers["Content-Type"] == "application/pdf"
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=deployment["s3"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    listed = s3.list_objects_v2(Bucket=deployment["bucket"], Prefix="academy/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert [k for k in keys if k.startswith("academy/jobs/")] == [f"academy/jobs/{printing['id']}/certificates.pdf"]
    assert len([k for k in keys if k.startswith("academy/certificates/")]) == DEMO_ELIGIBLE
    assert [p for x in ("a", "b") for p in (deployment["folder"] / f"instance-{x}").rglob("*.pdf")] == []
    assert _sql(deployment, "SELECT count(*) FROM certificates") == [(DEMO_ELIGIBLE,)]


def test_the_documented_database_backup_restores_every_row(deployment, tmp_path):
    """docs/deploy.md's pg_dump / pg_restore, into a new database: the same rows."""
    url = deployment["database"].replace("postgresql+psycopg://", "postgresql://")
    dump = tmp_path / "academy.dump"
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", url], check=True, timeout=300)
    copy = f"lms_restored_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{copy}"')
    try:
        copy_url = url.rsplit("/", 1)[0] + f"/{copy}"
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={copy_url}", str(dump)], check=True, timeout=300)
        counts = (
            "SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM certificates), (SELECT count(*) FROM jobs)"
        )
        with psycopg.connect(url) as a, psycopg.connect(copy_url) as b:
            assert a.execute(counts).fetchall() == b.execute(counts).fetchall()
            assert b.execute(counts).fetchone()[0] > 2000
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


def test_wrong_passwords_are_counted_across_instances(deployment):
    """Login throttling lives in Redis: ten wrong passwords spread over A and B, and the eleventh is refused."""
    import re

    import requests

    browsers = {label: requests.Session() for label in ("a", "b")}
    statuses = []
    for attempt in range(11):
        label = "ab"[attempt % 2]
        base, browser = deployment["urls"][label], browsers[label]
        form = browser.get(f"{base}/login", timeout=30)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.text).group(1)
        r = browser.post(
            f"{base}/login",
            data={"username": "gongshu", "password": "not-the-password", "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )
        statuses.append(r.status_code)
    assert statuses[:10] == [200] * 10  # the form again, with its message
    assert statuses[10] == 429
