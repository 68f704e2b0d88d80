"""The report object of PRODUCT.md §3: its exact shape, the demo's figures, ``lms report`` and the API."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from shegong_academy.auth.services import create_api_token
from shegong_academy.coverage.models import Cohort, CohortMember
from shegong_academy.coverage.queries import strip_ids, unit_report
from shegong_academy.extensions import db
from shegong_academy.training.services import enrol, save_roster
from tests.coverage import cohort, course, program, session, supervise, supervisor_at
from tests.factories import World, person

FIGURES = {
    "people",
    "programs",
    "course_sessions",
    "supervision_sessions",
    "training_person_times",
    "supervision_person_times",
    "people_trained",
    "people_supervised",
}
CHILD_KEYS = {"unit", "year", "cohorts"} | FIGURES
TOP_KEYS = CHILD_KEYS | {"children"}
COHORT_KEYS = {
    "name",
    "members",
    "trained",
    "supervised",
    "training_rate",
    "supervision_rate",
    "training_target",
    "supervision_target",
}


def assert_shape(report: dict) -> None:
    assert set(report) == TOP_KEYS
    assert set(report["unit"]) == {"code", "name", "kind"}
    for item in [report, *report["children"]]:
        assert set(item["unit"]) == {"code", "name", "kind"}
        assert all(isinstance(item[k], int) for k in FIGURES)
        for c in item["cohorts"]:
            assert set(c) == COHORT_KEYS
            for rate in ("training_rate", "supervision_rate"):
                assert (c[rate] is None) == (c["members"] == 0)
    for child in report["children"]:
        assert set(child) == CHILD_KEYS  # no "children" (nor ids) below the first level


def run(app, *args):
    return app.test_cli_runner().invoke(args=["lms", "report", *args])


# --- the demo -------------------------------------------------------------------------------------------------


def test_demo_report_for_gongshu_2022(demo_app):
    result = run(demo_app, "--unit", "330105", "--year", "2022", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert_shape(report)
    assert report["unit"] == {"code": "330105", "name": "拱墅区", "kind": "district"}
    assert (report["year"], report["programs"], report["supervision_sessions"]) == (2022, 3, 15)
    assert report["training_person_times"] == 350
    (c,) = report["cohorts"]
    assert (c["members"], c["trained"], c["supervised"]) == (69, 69, 69)
    assert (c["training_rate"], c["supervision_rate"]) == (1.0, 1.0)
    assert (c["training_target"], c["supervision_target"]) == (1.0, 1.0)
    assert len(report["children"]) == 18 and {ch["unit"]["kind"] for ch in report["children"]} == {"street"}
    # nobody sits directly on the district in the demo: the streets add up to it
    for key in ("training_person_times", "supervision_person_times", "people", "people_trained"):
        assert sum(ch[key] for ch in report["children"]) == report[key], key
    assert sum(ch["cohorts"][0]["members"] for ch in report["children"]) == 69
    assert sum(ch["cohorts"][0]["trained"] for ch in report["children"]) == 69
    # a street without any of the 69 has null rates
    empty = [ch["cohorts"][0] for ch in report["children"] if ch["cohorts"][0]["members"] == 0]
    assert all(e["training_rate"] is None and e["supervision_rate"] is None for e in empty)


def test_demo_report_csv_and_xlsx(demo_app, tmp_path):
    result = run(demo_app, "--unit", "330105", "--year", "2022", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("单位,编码,人数,培训项目(场)")
    out = tmp_path / "gongshu.csv"
    assert run(demo_app, "--unit", "330105", "--year", "2022", "--format", "csv", "--out", str(out)).exit_code == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # BOM, so Excel reads the Chinese
    lines = data.decode("utf-8-sig").splitlines()
    assert "培训人次" in lines[0] and "2022年项目社工转岗人员 培训率" in lines[0]
    assert lines[1].startswith("拱墅区,330105,2100,3,") and len(lines) == 1 + 1 + 18
    header, total = lines[0].split(","), lines[1].split(",")
    assert total[header.index("2022年项目社工转岗人员 培训率")] == "100.0%"  # a percentage, as in the XLSX
    assert total[header.index("2022年项目社工转岗人员 人数")] == "69"

    xlsx = tmp_path / "gongshu.xlsx"
    result = run(demo_app, "--unit", "330105", "--year", "2022", "--format", "xlsx", "--out", str(xlsx))
    assert result.exit_code == 0, result.output
    sheet = load_workbook(io.BytesIO(xlsx.read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("单位", "编码", "人数") and len(rows) == 20
    assert rows[1][:4] == ("拱墅区", "330105", 2100, 3)
    header = list(rows[0])
    assert rows[1][header.index("培训人次")] == 350
    assert rows[1][header.index("2022年项目社工转岗人员 培训率")] == 1.0
    rate = sheet.cell(row=2, column=header.index("2022年项目社工转岗人员 培训率") + 1)
    assert rate.number_format == "0.0%"


def test_every_level_of_the_demo_reports_what_its_dashboard_and_export_show(demo_app):
    """Province to community: the report's figures and cohorts equal its parent's row for it, the CSV and the page."""
    from shegong_academy.org.models import OrgUnit
    from shegong_academy.org.queries import children_of, unit_by_code
    from tests.factories import login

    with demo_app.app_context():
        gongshu = unit_by_code("330105")
        units = [db.session.get(OrgUnit, i) for i in gongshu.path_ids]  # province, city, district
        for street in children_of(gongshu):
            units += [street, *children_of(street)[:1]]
        units = [(u.id, u.code) for u in units]
    client = demo_app.test_client()
    login(client, "admin", "shegong-demo-2026")
    parent_rows: dict[str, dict] = {}
    for unit_id, code in units:
        report = json.loads(run(demo_app, "--unit", code, "--year", "2022", "--format", "json").output)
        mine = {k: v for k, v in report.items() if k != "children"}
        if code in parent_rows:  # the parent's row for it: the same figures, the parent's cohorts first
            row = parent_rows[code]
            assert {**row, "cohorts": mine["cohorts"]} == mine, code
            assert mine["cohorts"][: len(row["cohorts"])] == row["cohorts"], code
        parent_rows |= {ch["unit"]["code"]: ch for ch in report["children"]}
        lines = client.get(f"/coverage/export.csv?unit={unit_id}&year=2022").get_data().decode("utf-8-sig")
        header, total = (line.split(",") for line in lines.splitlines()[:2])
        assert total[1] == code
        assert int(total[header.index("培训人次")]) == report["training_person_times"]
        page = client.get(f"/coverage/?unit={unit_id}&year=2022").get_data(as_text=True)
        if report["unit"]["kind"] in ("province", "city"):  # the cohort is the district's, below them
            assert report["cohorts"] == [] and "2022年项目社工转岗人员" not in page + lines
            continue
        # The district and every unit under it see the district's cohort of the 69, counted over their people.
        (c,) = report["cohorts"]
        assert c["name"] == "2022年项目社工转岗人员" and c["trained"] == c["members"], code
        assert int(total[header.index("2022年项目社工转岗人员 人数")]) == c["members"]
        assert "2022年项目社工转岗人员" in page
    assert sum(parent_rows[code]["cohorts"][0]["members"] for _, code in units[3::2]) == 69  # the streets


def test_a_subtree_named_by_its_ids_or_by_a_subquery_reports_alike(demo_app, monkeypatch):
    """A subtree of more than VALUES_AT_MOST units (a province's) is read by a subquery: the same figures."""
    from shegong_academy.coverage import queries
    from shegong_academy.org.models import OrgUnit

    with demo_app.app_context():
        units = list(db.session.scalars(select(OrgUnit).order_by(OrgUnit.path)))
        assert {u.kind for u in units} >= {"province", "city", "district", "street", "community"}
        by_values = {u.code: unit_report(u, 2022) for u in units}
        monkeypatch.setattr(queries, "VALUES_AT_MOST", 0)
        by_subquery = {u.code: unit_report(u, 2022) for u in units}
    assert by_subquery == by_values
    assert by_values["330105"]["training_person_times"] == 350  # not alike because both are empty


@pytest.mark.parametrize(
    "args,message",
    [
        (["--unit", "999999", "--year", "2022"], "unknown unit code"),
        (["--unit", "330105", "--year", "1999"], "--year"),
        (["--unit", "330105", "--year", "二〇二二"], "--year"),
        (["--unit", "330105", "--year", "2022", "--format", "pdf"], "--format"),
        (["--unit", "330105"], "--year"),
        (["--year", "2022"], "--unit"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xlsx"])
def test_report_bad_input_writes_nothing(demo_app, tmp_path, args, message, fmt):
    out = tmp_path / f"report.{fmt}"
    extra = [] if "--format" in args else ["--format", fmt]
    result = run(demo_app, *args, *extra, "--out", str(out))
    assert result.exit_code != 0
    assert message in result.output
    assert not out.exists()


def test_xlsx_needs_an_output_file(demo_app):
    result = run(demo_app, "--unit", "330105", "--year", "2022", "--format", "xlsx")
    assert result.exit_code != 0 and "--out" in result.output


# --- a small world: shape, people directly on a unit, the API -----------------------------------------------


@pytest.fixture
def small(app):
    """拱墅区 with activity in both streets and one person sitting directly on the district."""
    with app.app_context():
        w = World()
        direct = person(w.district, "区直人员")
        crs = course(program(w.district))
        s1, s2 = session(crs, 0), session(crs, 1)
        for p in (w.person, w.person2, w.trainee_person, direct):
            enrol(course=crs, person=p, actor=w.coord)
        save_roster(session=s1, exceptions={}, actor=w.coord)
        save_roster(session=s2, exceptions={w.person2.id: ("absent", None)}, actor=w.coord)
        sup = supervisor_at(w.street2, assigned=w.district)  # works in a street, supervises the district
        supervise(w.coord, sup, [w.person, direct], 2)
        cohort(w.district, w.coord, member_ids=[w.person.id, w.person2.id, direct.id], min_training_hours=6)
        cohort(w.district, w.coord, name="社工站人员", category="station_worker")  # nobody: null rates
        tokens = {name: create_api_token(user=getattr(w, name)) for name in ("coord", "coord_out", "admin", "trainee")}
        db.session.commit()
        ids = {"person": w.person.id, "person2": w.person2.id, "outsider": w.outsider.id, "direct": direct.id}
    client = app.test_client()

    def call(method, url, who="coord", **kw):
        return client.open(url, method=method, headers={"Authorization": f"Bearer {tokens[who]}"}, **kw)

    call.ids = ids
    return call


def test_shape_and_people_directly_on_the_unit(app, small):
    with app.app_context():
        from shegong_academy.org.queries import unit_by_code

        report = strip_ids(unit_report(unit_by_code("330105"), 2022))
    assert_shape(report)
    assert [c["name"] for c in report["cohorts"]] == ["2022年项目社工转岗人员", "社工站人员"]
    main, empty = report["cohorts"]
    assert (main["members"], main["trained"], main["supervised"]) == (3, 2, 2)
    assert (main["training_rate"], main["supervision_rate"]) == (0.6667, 0.6667)
    assert empty == {
        "name": "社工站人员",
        "members": 0,
        "trained": 0,
        "supervised": 0,
        "training_rate": None,
        "supervision_rate": None,
        "training_target": 1.0,
        "supervision_target": 1.0,
    }
    # the district's own figures = its streets' + the person placed directly on it (and the supervisor)
    streets = report["children"]
    assert [ch["unit"]["code"] for ch in streets] == ["330105001", "330105002"]
    assert report["people"] == sum(ch["people"] for ch in streets) + 1 == 5
    assert report["training_person_times"] == sum(ch["training_person_times"] for ch in streets) + 2 == 7
    assert report["supervision_person_times"] == sum(ch["supervision_person_times"] for ch in streets) + 1 == 2
    assert report["people_trained"] == sum(ch["people_trained"] for ch in streets) + 1 == 4
    assert report["programs"] == 1 and sum(ch["programs"] for ch in streets) == 0  # held by the district itself
    assert [ch["cohorts"][0]["members"] for ch in streets] == [1, 1]  # the direct member counts only in the total
    assert report["supervision_sessions"] == 1 and [ch["supervision_sessions"] for ch in streets] == [0, 1]


def test_api_report_is_the_cli_report(app, small):
    response = small("GET", "/api/v1/reports?unit=330105&year=2022")
    assert response.status_code == 200
    result = app.test_cli_runner().invoke(args=["lms", "report", "--unit", "330105", "--year", "2022"])
    assert result.exit_code == 0, result.output
    assert response.get_json() == json.loads(result.output)
    assert_shape(response.get_json())
    street = small("GET", "/api/v1/reports?unit=330105002&year=2022").get_json()
    assert street["children"] == [] and street["training_person_times"] == 1
    # The district's cohorts, for the street's members: what the district's row of that street says.
    (row,) = [ch for ch in response.get_json()["children"] if ch["unit"]["code"] == "330105002"]
    assert street["cohorts"] == row["cohorts"] and [c["members"] for c in street["cohorts"]] == [1, 0]


@pytest.mark.parametrize(
    "url,who,status",
    [
        ("/api/v1/reports?unit=330106&year=2022", "coord", 404),  # another district
        ("/api/v1/reports?unit=330105&year=2022", "coord_out", 404),
        ("/api/v1/reports?unit=999999&year=2022", "coord", 404),
        ("/api/v1/reports?unit=330105&year=2022", "admin", 200),
        ("/api/v1/reports", "coord", 422),
        ("/api/v1/reports?unit=330105", "coord", 422),
        ("/api/v1/reports?year=2022", "coord", 422),
        ("/api/v1/reports?unit=330105&year=twenty", "coord", 422),
        ("/api/v1/reports?unit=330105&year=1999", "coord", 422),
    ],
)
def test_api_report_scope_and_validation(small, url, who, status):
    response = small("GET", url, who=who)
    assert response.status_code == status
    assert response.is_json
    if status == 404:
        assert "拱墅区" not in response.get_data(as_text=True)


def test_api_create_cohort(app, small):
    body = {
        "name": "2022年持证社工",
        "unit_code": "330105",
        "year": 2022,
        "member_ids": [small.ids["person"], small.ids["person2"]],
        "min_training_hours": 6,
        "min_supervision_hours": 2,
        "training_target": 0.9,
        "supervision_target": 0.8,
    }
    response = small("POST", "/api/v1/cohorts", json=body)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert set(created) == {"id", "members"} and created["members"] == 2
    with app.app_context():
        stored = db.session.get(Cohort, created["id"])
        assert (stored.training_target, stored.supervision_target) == (Decimal("0.9"), Decimal("0.8"))
        members = set(db.session.scalars(select(CohortMember.person_id).where(CohortMember.cohort_id == stored.id)))
        assert members == {small.ids["person"], small.ids["person2"]}
    figures = small("GET", "/api/v1/reports?unit=330105&year=2022").get_json()["cohorts"][-1]
    assert figures == {
        "name": "2022年持证社工",
        "members": 2,
        "trained": 1,  # person2 missed a session: 3 hours
        "supervised": 1,
        "training_rate": 0.5,
        "supervision_rate": 0.5,
        "training_target": 0.9,
        "supervision_target": 0.8,
    }
    by_rule = small(
        "POST",
        "/api/v1/cohorts",
        json={**body, "name": "全体项目社工", "member_ids": [], "category": "project_social_worker"},
    )
    assert by_rule.status_code == 201 and by_rule.get_json()["members"] == 1


@pytest.mark.parametrize(
    "change,who,status,field",
    [
        ({"member_ids": ["outsider"]}, "coord", 422, "member_ids"),  # another district's person
        ({"member_ids": [987654]}, "coord", 422, "member_ids"),
        ({"unit_code": "330106"}, "coord", 422, "unit_code"),
        ({"training_target": 0}, "coord", 422, "training_target"),
        ({"training_target": 1.5}, "coord", 422, "training_target"),
        ({"supervision_target": 0}, "coord", 422, "supervision_target"),
        ({"supervision_target": 1.5}, "coord", 422, "supervision_target"),
        ({"min_training_hours": -1}, "coord", 422, "min_training_hours"),
        ({"year": 1999}, "coord", 422, "year"),
        ({"name": ""}, "coord", 422, "name"),
        ({"member_ids": []}, "coord", 422, "member_ids"),  # no members and no category
        ({}, "trainee", 403, None),
        ({}, "coord_out", 422, "unit_code"),
    ],
)
def test_api_create_cohort_refusals_write_nothing(app, small, change, who, status, field):
    body = {"name": "2022年持证社工", "unit_code": "330105", "year": 2022, "member_ids": [small.ids["person"]]}
    body |= {k: ([small.ids.get(x, x) for x in v] if k == "member_ids" else v) for k, v in change.items()}
    response = small("POST", "/api/v1/cohorts", json=body, who=who)
    assert response.status_code == status, response.get_json()
    assert response.is_json
    if field:
        assert field in json.dumps(response.get_json())
    with app.app_context():
        assert db.session.scalar(select(func.count(Cohort.id))) == 2  # the fixture's two
