"""Jobs: submitted once, claimed once, progress visible at once, a dead worker's job run again or failed."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from shegong_academy.core.db import utcnow
from shegong_academy.core.i18n import _l
from shegong_academy.core.uow import transaction
from shegong_academy.extensions import db
from shegong_academy.jobs import services
from shegong_academy.jobs.models import Job
from shegong_academy.jobs.queries import job_for, job_view
from shegong_academy.jobs.tasks import run_job
from shegong_academy.people.models import Person
from tests.factories import World, login

RUNS: list[int] = []


@services.job_handler(
    "test.count", title=_l("Counting"), name=_l("Tally"), summary=lambda job: [f"{job.result['n']} counted"]
)
def _count(job, progress):
    RUNS.append(job.id)
    for i in range(1, job.params["n"] + 1):
        progress(i, job.params["n"])
    return {"n": job.params["n"]}


@services.job_handler("test.broken", title=_l("Breaking"), name=_l("Break"))
def _broken(job, progress):
    raise RuntimeError("disk on fire")


@services.job_handler("test.refused", title=_l("Refusing"), name=_l("Refusal"))
def _refused(job, progress):
    raise services.JobRefused(_l("Nothing to print."))


def submit(kind="test.count", n=3, actor=None, unit=None, **kwargs):
    with transaction():
        job = services.submit_job(kind=kind, params={"n": n}, actor=actor, unit=unit, total=n, **kwargs)
    return snapshot(job.id)


def snapshot(job_id):
    """The job as it is now, detached, with the test's transaction closed (on SQLite a worker could not start)."""
    job = db.session.get(Job, job_id, populate_existing=True)
    db.session.expunge(job)
    db.session.commit()
    return job


def test_a_job_runs_after_the_commit_and_reports_its_result(ctx):
    RUNS.clear()
    job = submit(n=4)
    assert job.state == "done" and job.result == {"n": 4} and job.progress == 4 and job.total == 4
    assert job.attempts == 1 and job.started_at and job.finished_at and [job.id] == RUNS


def test_nothing_is_queued_when_the_submitting_transaction_rolls_back(ctx):
    RUNS.clear()
    with pytest.raises(RuntimeError), transaction():
        services.submit_job(kind="test.count", params={"n": 1}, actor=None)
        raise RuntimeError("the request failed")
    assert RUNS == [] and db.session.scalar(select(func.count()).select_from(Job)) == 0


def test_the_same_work_while_it_waits_is_the_same_job(ctx):
    first = submit(n=2, queue=False)
    second = submit(n=2, queue=False)
    other = submit(n=5, queue=False)
    assert first.id == second.id != other.id and first.state == "queued"
    run_job(first.id)
    again = submit(n=2)  # the first is done: the same work asked for again is new work
    assert again.id not in (first.id, other.id) and again.state == "done"


def test_a_second_delivery_of_a_message_runs_the_job_once(ctx):
    RUNS.clear()
    job = submit(queue=False)
    run_job(job.id)
    run_job(job.id)
    assert [job.id] == RUNS


def running(job, **values):
    """Make the job look taken by a worker (committed)."""
    db.session.execute(update(Job).where(Job.id == job.id).values(state="running", **values))
    db.session.commit()


def test_a_job_whose_worker_died_is_taken_over_and_one_that_keeps_dying_fails(ctx, app):
    RUNS.clear()
    job = submit(queue=False)
    # a worker took it and was killed (kill -9): running, heartbeat stopped long ago
    running(job, attempts=1, heartbeat_at=utcnow() - timedelta(minutes=10))
    alive = submit(n=7, queue=False)
    running(alive, attempts=1, heartbeat_at=utcnow())
    run_job(alive.id)  # another worker is alive on it: left alone
    with transaction():
        assert services.revive_stale_jobs() == [job.id]  # queued again (eager: run at once)
    job = snapshot(job.id)
    assert job.state == "done" and job.attempts == 2 and [job.id] == RUNS
    assert db.session.get(Job, alive.id, populate_existing=True).state == "running"
    doomed = submit(n=1, queue=False)
    running(doomed, attempts=app.config["LMS_JOB_MAX_ATTEMPTS"], heartbeat_at=utcnow() - timedelta(minutes=10))
    with transaction():
        assert services.revive_stale_jobs() == []
    doomed = db.session.get(Job, doomed.id, populate_existing=True)
    assert doomed.state == "failed" and doomed.error == "运行此任务的后台进程多次停止。"


def test_a_failing_job_says_why_and_keeps_nothing_of_its_work(ctx):
    # no request: the job speaks the default language, Chinese
    broken = submit(kind="test.broken")
    assert broken.state == "failed" and broken.error == "系统内部出错，错误已记录。"
    refused = submit(kind="test.refused")
    assert refused.state == "failed" and refused.error == "没有可打印的证书。"


def test_progress_is_visible_to_another_connection_while_the_job_runs(ctx):
    seen = []

    @services.job_handler("test.watched", title=_l("Watched"), name=_l("Watch"))
    def _watched(job, progress):
        job_id = job.id
        progress(1, 3)
        with db.engine.connect() as other:  # what another web process reads
            seen.append(other.execute(select(Job.progress, Job.total, Job.state).where(Job.id == job_id)).one())
        return {}

    submit(kind="test.watched")
    assert seen == [(1, 3, "running")]


def test_twenty_identical_submissions_at_once_make_one_job(app):
    with app.app_context():
        World()
        db.session.commit()
    barrier = threading.Barrier(20)
    ids, errors = [], []

    def worker():
        with app.app_context():
            try:
                barrier.wait()
                with transaction():
                    job = services.submit_job(kind="test.count", params={"n": 99}, actor=None, queue=False)
                ids.append(job.id)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(ids)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 1
        db.session.remove()  # give the connection back before the pool goes (else it is dropped unclosed)
        db.engine.dispose()


def test_a_job_is_seen_by_its_owner_and_its_units_managers_only(ctx):
    world = World()
    db.session.commit()
    job = submit(actor=world.coord, unit=world.district)
    assert job_for(world.coord, job.id) is not None
    assert job_for(world.admin, job.id) is not None
    assert job_for(world.coord_out, job.id) is None
    assert job_for(world.trainee, job.id) is None
    view = job_view(job)
    assert view["state"] == "done" and view["progress"] == 3 and view["result"] == {"n": 3}
    assert set(view) == {
        "id",
        "kind",
        "state",
        "progress",
        "total",
        "result",
        "result_url",
        "error",
        "created_at",
        "finished_at",
    }


def test_the_job_page_and_its_state(app, client):
    with app.app_context():
        world = World()
        db.session.commit()
        job = submit(actor=world.coord, unit=world.district)
        job_id = job.id
    login(client, "coord")
    page = client.get(f"/jobs/{job_id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "3 counted" in page.text
    # finished, the page names the work, no longer what it is doing
    assert "<h1>Tally</h1>" in page.text and "Counting" not in page.text
    state = client.get(f"/jobs/{job_id}.json")
    assert state.status_code == 200 and state.json["state"] == "done" and state.headers["Cache-Control"] == "no-store"
    assert client.get(f"/jobs/{job_id}/result").status_code == 404  # no file
    client.post("/logout")
    login(client, "coordout")
    assert client.get(f"/jobs/{job_id}").status_code == 404
    assert client.get(f"/jobs/{job_id}.json").status_code == 404


def test_the_ledger_rebuild_command_runs_the_job_here_and_says_so(app, runner):
    with app.app_context():
        World()
        db.session.commit()
    result = runner.invoke(args=["lms", "ledger", "rebuild"])
    assert result.exit_code == 0, result.output
    job_id = int(re.search(r"ledger rollups rebuilt \(job (\d+)\)", result.output).group(1))
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert (job.kind, job.state, job.attempts) == ("ledger.rebuild", "done", 1)
        assert job.result["people"] == db.session.scalar(select(func.count()).select_from(Person))


def test_the_jobs_list_finds_a_job_again_for_those_who_may_see_it(app, client):
    with app.app_context():
        world = World()
        db.session.commit()
        mine = submit(actor=world.coord, unit=world.district).id
        broken = submit(kind="test.broken", actor=world.coord, unit=world.district).id
        theirs = submit(actor=world.coord_out, unit=world.other).id
        with transaction():  # still waiting: its page says what it is doing; the list names the file it works on
            waiting = services.submit_job(
                kind="test.count",
                params={"n": 9, "filename": "米市巷街道名单.xlsx"},
                actor=world.coord,
                unit=world.district,
                total=9,
                queue=False,
            ).id
    login(client, "coord")
    page = client.get("/jobs/", headers={"Accept-Language": "en"}).text
    rows = re.findall(r'<a href="/jobs/(\d+)">([^<]*)</a>', page)
    assert rows == [(str(waiting), "Tally"), (str(broken), "Break"), (str(mine), "Tally")]  # newest first
    assert str(theirs) not in [job_id for job_id, _name in rows]
    assert "Failed" in page and "Waiting" in page and "0 / 9" in page and ">coord<" in page
    assert 'href="/jobs/"' in client.get(f"/jobs/{mine}").text  # the job page leads back to the list
    assert page.count("米市巷街道名单.xlsx") == 1
    waiting_page = client.get(f"/jobs/{waiting}", headers={"Accept-Language": "en"}).text
    assert "<h1>Counting</h1>" in waiting_page and "米市巷街道名单.xlsx" in waiting_page
    assert "<h1>Break</h1>" in client.get(f"/jobs/{broken}", headers={"Accept-Language": "en"}).text
    # one kind at a time; an unknown kind lists every kind, not an error
    only = client.get("/jobs/?kind=test.broken").text
    assert re.findall(r'<a href="/jobs/(\d+)">', only) == [str(broken)]
    assert len(re.findall(r'<a href="/jobs/(\d+)">', client.get("/jobs/?kind=nonsense&page=x").text)) == 3
    client.post("/logout")
    login(client, "coordout")
    assert re.findall(r'<a href="/jobs/(\d+)">', client.get("/jobs/").text) == [str(theirs)]
    client.post("/logout")
    login(client, "admin")  # the province's administrator manages every unit
    assert len(re.findall(r'<a href="/jobs/(\d+)">', client.get("/jobs/").text)) == 4
    client.post("/logout")
    login(client, "trainee")
    assert client.get("/jobs/").status_code == 403
