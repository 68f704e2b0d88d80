"""A spreadsheet above LMS_IMPORT_INLINE_BYTES is kept in the store and imported by a job: all or nothing,
its row errors on the job's page; a small one is imported in the request as before (issue 14)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from shegong_academy.extensions import db
from shegong_academy.jobs.models import Job
from shegong_academy.people.models import Person
from tests.conftest import use_storage
from tests.factories import World, login
from tests.test_imports import ZH, bad_check, csv_bytes, people_rows, upload


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _setup(app, tmp_path, limit=1024):
    app.config["LMS_IMPORT_INLINE_BYTES"] = limit
    use_storage(app, tmp_path / "store")
    with app.app_context():
        World()
        db.session.commit()


def test_a_large_file_is_imported_by_a_job_and_its_page_says_how_many(app, client, tmp_path):
    _setup(app, tmp_path)
    data = csv_bytes([[*row, "已核对"] for row in people_rows(60)], [*ZH, "备注"], "gb18030")
    assert len(data) > 1024
    before = _count(app, Person)
    login(client, "coord")
    r = upload(client, "/people/import", data)
    assert r.status_code == 302 and re.fullmatch(r"/jobs/\d+", r.headers["Location"])
    page = client.get(r.headers["Location"], headers={"Accept-Language": "en"})
    assert "<h1>People import</h1>" in page.text and "Imported 60 people." in page.text
    assert '<p class="muted">people.csv</p>' in page.text  # the file it imported
    assert "These columns were not read: 备注." in page.text
    assert _count(app, Person) == before + 60
    stored = [p.relative_to(tmp_path / "store").parts[0] for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert stored == ["uploads"]  # the file was handed over through the store, not the request


def test_a_large_file_with_one_bad_row_imports_nothing_and_the_job_lists_the_row(app, client, tmp_path):
    _setup(app, tmp_path)
    rows = people_rows(60)
    rows[41][2] = bad_check(rows[41][2])  # data row 42 is spreadsheet row 43
    before = _count(app, Person)
    login(client, "coord")
    r = upload(client, "/people/import", csv_bytes(rows))
    assert r.status_code == 302
    page = client.get(r.headers["Location"], headers={"Accept-Language": "en"})
    assert "Nothing was imported: the file has 1 row error(s), listed below." in page.text
    assert re.search(r"<td>43</td><td>id_number</td><td>[^<]*check digit", page.text)
    assert _count(app, Person) == before
    state = client.get(r.headers["Location"] + ".json").json
    assert state["state"] == "failed" and state["result"]["error_count"] == 1
    zh = client.get(r.headers["Location"], headers={"Accept-Language": "zh-CN"})
    assert "导入" in zh.text  # the page itself speaks the reader's language


def test_a_small_file_is_still_imported_in_the_request(app, client, tmp_path):
    _setup(app, tmp_path, limit=256 * 1024)
    login(client, "coord")
    r = upload(client, "/people/import", csv_bytes(people_rows(3)))
    assert r.status_code == 302 and r.headers["Location"].endswith("/people/")
    assert _count(app, Job) == 0


def test_another_coordinators_import_job_is_not_found(app, client, tmp_path):
    _setup(app, tmp_path)
    login(client, "coord")
    r = upload(client, "/people/import", csv_bytes(people_rows(60)))
    other = app.test_client()
    login(other, "coordout")
    assert other.get(r.headers["Location"]).status_code == 404
    assert other.get(r.headers["Location"] + ".json").status_code == 404
