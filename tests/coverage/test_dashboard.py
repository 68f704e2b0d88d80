"""The coverage dashboard: languages, drill-down and scope, who is missing, exports, new cohort, freeze, charts."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.coverage.models import Cohort, CohortMember
from shegong_academy.extensions import db
from shegong_academy.org.queries import children_of, unit_by_code
from shegong_academy.training.services import enrol, save_roster
from tests.coverage import cohort, course, program, session
from tests.factories import World, login, person

DEMO_PASSWORD = "shegong-demo-2026"  # noqa: S105


def assert_charts_are_inline_svg(html: str, expected: int) -> None:
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    # each chart drawn twice: for a desk's card and for a phone's, the page's width showing one
    for size in ("wide", "narrow"):
        assert len([s for s in svgs if f'class="chart {size}"' in s]) == expected, size
    assert not any("<script" in s for s in svgs)
    # the page's only script is the app's own file: nothing inline, nothing from elsewhere
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(re.fullmatch(r'<script src="[^"]*/js/app\.js" defer>', s) for s in scripts), scripts


@pytest.fixture
def demo(demo_app):
    with demo_app.app_context():
        gongshu = unit_by_code("330105")
        ids = {
            "gongshu": gongshu.id,
            "street": children_of(gongshu)[0].id,
            "street_name": children_of(gongshu)[0].name,
            "taicang": unit_by_code("320585").id,
        }
    return demo_app, ids


@pytest.mark.parametrize(
    "language,texts",
    [
        (
            "zh-CN,zh;q=0.9",
            ["拱墅区 · 2022 年培训与督导", "培训人次", "各单位覆盖率", "逐月完成进度", "本单位对象组成员已全部完成"],
        ),
        ("en-US,en;q=0.8", ["拱墅区 · 2022 training and supervision", "training person-times", "Coverage by unit"]),
    ],
)
def test_demo_dashboard_in_both_languages(demo, language, texts):
    app, ids = demo
    client = app.test_client()
    login(client, "gongshu", DEMO_PASSWORD)
    response = client.get("/coverage/", headers={"Accept-Language": language})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in texts:
        assert text in html, text
    assert "2022年项目社工转岗人员" in html and "100.0%" in html
    assert ">350<" in html  # person-times
    assert_charts_are_inline_svg(html, 2)  # by unit, monthly progress


def test_demo_drill_down_and_scope(demo):
    app, ids = demo
    client = app.test_client()
    login(client, "gongshu", DEMO_PASSWORD)
    page = client.get(f"/coverage/?unit={ids['gongshu']}&year=2022", headers={"Accept-Language": "en"})
    assert f'href="/coverage/?unit={ids["street"]}&amp;year=2022' in page.get_data(as_text=True)
    street = client.get(f"/coverage/?unit={ids['street']}&year=2022", headers={"Accept-Language": "en"})
    assert street.status_code == 200
    html = street.get_data(as_text=True)
    assert ids["street_name"] in html
    assert "2022年项目社工转岗人员" in html  # the district's cohort, counted over the street's members
    assert "6 members here" in html
    assert "Trained 100.0% <small>target 100.0%</small>" in html  # the card names its target
    assert_charts_are_inline_svg(html, 2)
    assert client.get(f"/coverage/?unit={ids['taicang']}&year=2022").status_code == 404
    assert client.get("/coverage/?unit=999999&year=2022").status_code == 404
    assert client.get(f"/coverage/export.csv?unit={ids['taicang']}&year=2022").status_code == 404
    street_coord = app.test_client()
    login(street_coord, "gongshu-street", DEMO_PASSWORD)
    assert street_coord.get(f"/coverage/?unit={ids['gongshu']}&year=2022").status_code == 404
    assert street_coord.get(f"/coverage/?unit={ids['street']}&year=2022").status_code == 200


def test_demo_exports(demo):
    app, ids = demo
    client = app.test_client()
    login(client, "gongshu", DEMO_PASSWORD)
    csv = client.get(f"/coverage/export.csv?unit={ids['gongshu']}&year=2022")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "coverage-330105-2022.csv" in csv.headers["Content-Disposition"]
    data = csv.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("单位,编码,人数,培训项目(场),培训课次,督导(次),培训人次")
    assert lines[1].startswith("拱墅区,330105,2100,3,") and len(lines) == 1 + 1 + 18
    xlsx = client.get(f"/coverage/export.xlsx?unit={ids['gongshu']}&year=2022")
    assert xlsx.status_code == 200
    rows = list(load_workbook(io.BytesIO(xlsx.get_data())).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("单位", "编码", "人数") and rows[1][:4] == ("拱墅区", "330105", 2100, 3)
    assert client.get(f"/coverage/export.pdf?unit={ids['gongshu']}&year=2022").status_code == 404
    trainee = app.test_client()
    login(trainee, "trainee", DEMO_PASSWORD)
    assert trainee.get(f"/coverage/export.csv?unit={ids['gongshu']}&year=2022").status_code in (403, 404)
    assert trainee.get("/coverage/").status_code in (403, 404)


# --- a small world: the missing list, new cohort, freeze -----------------------------------------------------


@pytest.fixture
def world(app):
    with app.app_context():
        w = World()
        workers = [person(w.street2, f"项目社工{i}", category="project_social_worker") for i in range(3)]
        crs = course(program(w.district))
        s1, s2 = session(crs, 0), session(crs, 1)
        for p in workers:
            enrol(course=crs, person=p, actor=w.coord)
        save_roster(session=s1, exceptions={}, actor=w.coord)
        save_roster(session=s2, exceptions={workers[2].id: ("absent", None)}, actor=w.coord)
        c = cohort(w.district, w.coord, member_ids=[p.id for p in workers], min_training_hours=6)
        db.session.commit()
        ids = {"district": w.district.id, "street2": w.street2.id, "cohort": c.id, "other": w.other.id}
    return ids


def test_missing_list_and_its_csv(app, world):
    client = app.test_client()
    login(client, "coord")
    html = client.get(
        f"/coverage/?unit={world['district']}&year=2022&cohort={world['cohort']}", headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    assert "Still missing (3)" in html  # nobody has supervision (the default rule: any session)
    assert "3.0 training hours short" in html and "项目社工2" in html
    assert_charts_are_inline_svg(html, 2)
    zh = client.get(f"/coverage/?unit={world['district']}&year=2022", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True
    )
    assert "尚未达标（3 人）" in zh and "缺 3.0 培训学时" in zh
    # A page past the end says so and links back; the count stays the whole list's.
    late = client.get(
        f"/coverage/?unit={world['district']}&year=2022&page=9", headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    assert "Still missing (3)" in late and "No one on this page." in late and "项目社工2" not in late
    for bad in ("abc", "0", "-2", "99999999999999999999"):  # a page that is not one: the first page, not an error
        first = client.get(
            f"/coverage/?unit={world['district']}&year=2022&page={bad}", headers={"Accept-Language": "en"}
        )
        assert first.status_code == 200 and "项目社工2" in first.get_data(as_text=True), bad
    csv = client.get(f"/coverage/missing.csv?unit={world['district']}&year=2022&cohort={world['cohort']}")
    assert csv.status_code == 200
    lines = csv.get_data().decode("utf-8-sig").splitlines()
    assert csv.get_data().startswith(b"\xef\xbb\xbf") and lines[0].startswith("姓名,单位,培训学时,督导学时,缺培训学时")
    assert len(lines) == 4 and any(line.startswith("项目社工2,湖墅街道,3.0,0.0,3.0") for line in lines)


def test_new_cohort_by_category_rule_then_freeze(app, world):
    client = app.test_client()
    login(client, "coord")
    assert client.get("/coverage/cohorts/new").status_code == 200
    form = {
        "name": "2022年项目社工",
        "unit_id": world["district"],
        "category": "project_social_worker",
        "year": 2022,
        "min_training_hours": "6",
        "min_supervision_hours": "",
        "training_target": "90",  # per cent
        "supervision_target": "100",
    }
    for bad in ("150", "0.5", "abc"):
        refused = client.post("/coverage/cohorts/new", data={**form, "training_target": bad})
        assert refused.status_code == 200  # the form again, with the error
    outside = client.post("/coverage/cohorts/new", data={**form, "unit_id": world["other"]})
    assert outside.status_code in (200, 404)
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Cohort.id))) == 1
    response = client.post("/coverage/cohorts/new", data=form)
    assert response.status_code == 302
    with app.app_context():
        new = db.session.scalars(select(Cohort).order_by(Cohort.id.desc())).first()
        assert (new.name, new.category, new.include_rule, new.frozen_at) == (
            "2022年项目社工",
            "project_social_worker",
            True,
            None,
        )
        assert (new.training_target, new.supervision_target) == (Decimal("0.900"), Decimal("1.000"))
        members = set(db.session.scalars(select(CohortMember.person_id).where(CohortMember.cohort_id == new.id)))
        assert len(members) == 4  # 王五 and the three 项目社工
        new_id = new.id
    assert f"cohort={new_id}" in response.headers["Location"]
    page = client.get(response.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "2022年项目社工" in page and "4 members here" in page
    frozen = client.post(f"/coverage/cohorts/{new_id}/freeze")
    assert frozen.status_code == 302
    with app.app_context():
        assert db.session.get(Cohort, new_id).frozen_at is not None
    page = client.get(frozen.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "The member list is frozen." in page
    # another district's coordinator cannot freeze it
    other = app.test_client()
    login(other, "coordout")
    assert other.post(f"/coverage/cohorts/{new_id}/freeze").status_code == 404
    assert other.get(f"/coverage/?unit={world['district']}&year=2022").status_code == 404


def test_a_cohort_is_corrected_from_its_page(app, world):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, "coord")
    form = {
        "name": "2022年项目社工",
        "unit_id": world["district"],
        "category": "project_social_worker",
        "year": 2022,
        "min_training_hours": "6",
        "min_supervision_hours": "",
        "training_target": "90",
        "supervision_target": "100",
    }
    assert client.post("/coverage/cohorts/new", data=form).status_code == 302
    with app.app_context():
        cohort_id = db.session.scalars(select(Cohort.id).order_by(Cohort.id.desc())).first()
    page = client.get(f"/coverage/cohorts/{cohort_id}/edit").get_data(as_text=True)
    assert 'value="90.0"' in page and "2022年项目社工" in page
    edited = {k: v for k, v in form.items() if k not in ("unit_id", "year")}
    r = client.post(
        f"/coverage/cohorts/{cohort_id}/edit",
        data={**edited, "name": "2022年项目社工（修订）", "min_training_hours": "8", "training_target": "95"},
    )
    assert r.status_code == 302, re.findall(r'<p class="error">(.*?)</p>|flash-error[^>]*>(.*?)<', r.text)
    with app.app_context():
        cohort = db.session.get(Cohort, cohort_id)
        assert (cohort.name, cohort.min_training_hours, cohort.training_target, cohort.year) == (
            "2022年项目社工（修订）",
            Decimal("8.0"),
            Decimal("0.950"),
            2022,
        )
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "cohort.update")).one()
        assert entry.before["name"] == "2022年项目社工" and entry.after["training_target"] == "0.950"
    r = client.post(f"/coverage/cohorts/{cohort_id}/edit", data={**edited, "training_target": "0"})
    assert r.status_code == 200  # refused, with the message; nothing changed
    other = app.test_client()
    login(other, "coordout")
    assert other.get(f"/coverage/cohorts/{cohort_id}/edit").status_code == 404
