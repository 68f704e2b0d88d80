"""Issuing in bulk and printing are jobs (issue 14): the page answers at once, a retried job never issues
twice, the print result comes from the store and expires, and the API starts and reports them."""

from __future__ import annotations

import hashlib
import os
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

import shegong_academy.credentials.render as render_module
from shegong_academy.auth.models import User
from shegong_academy.auth.services import create_api_token
from shegong_academy.core.db import utcnow
from shegong_academy.core.storage import storage
from shegong_academy.core.uow import transaction
from shegong_academy.credentials import jobs as credential_jobs
from shegong_academy.credentials.models import Certificate, CredentialType
from shegong_academy.credentials.services import pdf_key
from shegong_academy.extensions import db
from shegong_academy.jobs import services
from shegong_academy.jobs.models import Job
from shegong_academy.jobs.results import expire_files
from shegong_academy.jobs.tasks import run_job
from shegong_academy.people.models import Person
from tests.conftest import use_storage
from tests.credentials.test_credentials import _credential, _trained
from tests.factories import World, login, person

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fontTools.*")

EIGHT = ["赵一", "钱二", "孙三", "李四", "周五", "吴六", "郑七", "王八"]


@pytest.fixture
def eight(app, tmp_path):
    """Eight community workers of 拱墅区 who qualify for the transition certificate, and a token of its coordinator."""
    use_storage(app, tmp_path / "store")
    with app.app_context():
        w = World()
        cred = _credential(w)
        people = [person(w.community, name) for name in EIGHT]
        _trained(w, people)
        token = create_api_token(user=w.coord)
        db.session.commit()
        return {"credential": cred.id, "people": [p.id for p in people], "token": token, "coord": w.coord.id}


def _certificates(app) -> list[int]:
    with app.app_context():
        return sorted(db.session.scalars(select(Certificate.person_id)))


def test_approving_everyone_answers_with_a_job_that_issues_each_once(app, eight):
    client = app.test_client()
    login(client, "coord")
    approved = client.post(
        f"/credentials/{eight['credential']}/approve",
        data={"all": "1", "confirmed": "1"},
        headers={"Accept-Language": "en"},
    )
    assert approved.status_code == 302 and re.fullmatch(r"/jobs/\d+", approved.headers["Location"])
    job_page = client.get(approved.headers["Location"], headers={"Accept-Language": "en"})
    assert job_page.status_code == 200 and "<h1>Certificate issue</h1>" in job_page.text
    assert "Issued 8 certificates." in job_page.text and "项目社工转岗证书" in job_page.text
    # found again among the issue jobs, named by its credential, with the way to revoke the batch on its page
    listed = client.get("/jobs/?kind=credentials.issue", headers={"Accept-Language": "en"}).text
    assert f'<a href="{approved.headers["Location"]}">Certificate issue</a>' in listed and "项目社工转岗证书" in listed
    assert "Revoke this batch" in job_page.text
    state = client.get(approved.headers["Location"] + ".json").json
    assert (state["state"], state["progress"], state["total"]) == ("done", 8, 8)
    assert state["result"] == {"issued": 8, "held": 0, "refused": [], "refused_count": 0}
    assert _certificates(app) == sorted(eight["people"])
    assert len(list(storage_files(app, "certificates/"))) == 8


def storage_files(app, prefix):
    with app.app_context():
        return [o.key for o in storage().list(prefix)]


def test_a_job_run_again_after_its_worker_died_issues_nobody_twice(app, eight):
    with app.app_context():
        # the worker issued the first three (committed), then was killed
        with transaction():
            job = services.submit_job(
                kind="credentials.issue",
                params={"credential_id": eight["credential"], "person_ids": eight["people"][:3]},
                actor=db.session.get(User, eight["coord"]),
                queue=False,
            )
        job_id = job.id
        db.session.commit()
        run_job(job_id)
        db.session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                state="running",
                heartbeat_at=utcnow() - timedelta(minutes=5),
                params={"credential_id": eight["credential"], "person_ids": eight["people"]},
            )
        )
        db.session.commit()
        with transaction():
            assert services.revive_stale_jobs() == [job_id]  # handed to the queue again (run at once here)
        job = db.session.get(Job, job_id, populate_existing=True)
        assert job.state == "done" and job.attempts == 2
        assert job.result["issued"] == 5 and job.result["held"] == 3  # the three were not issued again
        db.session.commit()
    assert _certificates(app) == sorted(eight["people"])


def test_a_job_that_dies_while_rendering_keeps_whole_chunks_and_the_next_issues_nobody_twice(app, eight, monkeypatch):
    monkeypatch.setattr(credential_jobs, "ISSUE_CHUNK", 3)  # chunks of 3, 3 and 2 people
    real_render_each, batches = render_module.render_each, []

    def dies_in_the_second_chunk(design, contexts, batch=20):
        batches.append(design.name)
        if len(batches) == 2:
            raise RuntimeError("the worker died while rendering")
        yield from real_render_each(design, contexts, batch)

    monkeypatch.setattr(render_module, "render_each", dies_in_the_second_chunk)
    params = {"credential_id": eight["credential"], "person_ids": eight["people"]}
    with app.app_context():
        coord = db.session.get(User, eight["coord"])
        with transaction():
            first = services.submit_job(kind="credentials.issue", params=params, actor=coord, queue=False).id
        run_job(first)
        assert db.session.get(Job, first, populate_existing=True).state == "failed"
        # the first chunk, whole; nothing of the second
        assert sorted(db.session.scalars(select(Certificate.person_id))) == sorted(eight["people"][:3])
        db.session.commit()
        with transaction():
            second = services.submit_job(kind="credentials.issue", params=params, actor=coord, queue=False).id
        run_job(second)
        job = db.session.get(Job, second, populate_existing=True)
        assert job.state == "done" and (job.result["issued"], job.result["held"]) == (5, 3)
        for certificate in db.session.scalars(select(Certificate)):
            assert certificate.pdf_sha256 == hashlib.sha256(storage().get(pdf_key(certificate))).hexdigest()
        db.session.commit()
    assert _certificates(app) == sorted(eight["people"])  # each person once
    assert len(storage_files(app, "certificates/")) == 8


def test_the_same_approval_while_it_waits_is_the_same_job(app, eight):
    with app.app_context():
        coord = db.session.get(User, eight["coord"])
        params = {"credential_id": eight["credential"], "person_ids": eight["people"]}
        with transaction():
            first = services.submit_job(kind="credentials.issue", params=params, actor=coord, queue=False).id
        with transaction():
            second = services.submit_job(kind="credentials.issue", params=params, actor=coord, queue=False).id
        assert first == second
        assert db.session.scalar(select(func.count()).select_from(Job)) == 1
        db.session.commit()


def test_printing_is_a_job_whose_pdf_comes_from_the_store_and_expires(app, eight, tmp_path):
    client = app.test_client()
    login(client, "coord")
    with app.app_context(), transaction():
        services.submit_job(
            kind="credentials.issue",
            params={"credential_id": eight["credential"], "person_ids": eight["people"]},
            actor=db.session.get(User, eight["coord"]),
        )
    started = client.post(f"/credentials/{eight['credential']}/print")
    assert started.status_code == 302
    job_url = started.headers["Location"]
    state = client.get(job_url + ".json").json
    assert state["state"] == "done" and state["result"] == {
        "filename": "certificates.pdf",
        "content_type": "application/pdf",
        "count": 8,
    }
    pdf = client.get(state["result_url"])
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    assert "certificates.pdf" in pdf.headers["Content-Disposition"]
    [key] = storage_files(app, "jobs/")
    # another coordinator cannot fetch it
    other = app.test_client()
    login(other, "coordout")
    assert other.get(state["result_url"]).status_code == 404
    # a week later the file is gone and the link says so
    old = time.time() - 8 * 86400
    os.utime(tmp_path / "store" / key, (old, old))
    with app.app_context():
        assert expire_files() == 1
    assert storage_files(app, "jobs/") == []
    assert client.get(state["result_url"]).status_code == 404
    assert client.get(job_url).status_code == 200  # the job itself stays, with its summary


def test_the_api_issues_and_prints_with_jobs_any_instance_reports_on(app, eight):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {eight['token']}"}
    issued = client.post("/api/v1/credential-types/psw/issue", json={"all": True}, headers=auth)
    assert issued.status_code == 202 and issued.json["kind"] == "credentials.issue"
    assert issued.headers["Location"].endswith(f"/api/v1/jobs/{issued.json['id']}")
    job = client.get(issued.headers["Location"], headers=auth).json
    assert job["state"] == "done" and job["result"]["issued"] == 8 and job["result_url"] is None
    assert _certificates(app) == sorted(eight["people"])

    printed = client.post("/api/v1/credential-types/psw/print", headers=auth)
    assert printed.status_code == 202
    job = client.get(f"/api/v1/jobs/{printed.json['id']}", headers=auth).json
    assert job["state"] == "done" and job["result"]["count"] == 8
    assert job["result_url"] == f"/api/v1/jobs/{printed.json['id']}/result"
    pdf = client.get(job["result_url"], headers=auth)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "person_ids"),
        ({"all": True, "person_ids": [1]}, "person_ids"),
        ({"person_ids": []}, "person_ids"),
        ({"person_ids": [0]}, "person_ids"),
        ({"person_ids": "1,2"}, "person_ids"),
        ({"all": "yes please"}, "all"),
    ],
)
def test_an_issue_request_that_names_nobody_clearly_is_refused_and_starts_nothing(app, eight, body, field):
    client = app.test_client()
    r = client.post(
        "/api/v1/credential-types/psw/issue", json=body, headers={"Authorization": f"Bearer {eight['token']}"}
    )
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert field in str(r.json)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 0


def test_an_unknown_or_foreign_credential_is_404(app, eight):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {eight['token']}"}
    assert client.post("/api/v1/credential-types/nope/issue", json={"all": True}, headers=auth).status_code == 404
    with app.app_context():
        cred = db.session.get(CredentialType, eight["credential"])
        outsider = create_api_token(user=_coord_out())
        db.session.commit()
        assert cred.name == "psw"
    r = client.post("/api/v1/credential-types/psw/print", headers={"Authorization": f"Bearer {outsider}"})
    assert r.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 0
        assert db.session.scalar(select(func.count()).select_from(Person)) > 8


def _coord_out():
    from shegong_academy.auth.queries import user_by_username

    return user_by_username("coordout")
