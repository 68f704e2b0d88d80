"""Every export goes through one writer (app/core/exports.py): formulas neutralised in CSV and XLSX,
cell types from the column's declaration, rates as percentages, dates as dates, the charset once
in Content-Type, and file names that carry the unit and the year."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from shegong_academy.core.exports import (
    Column,
    Kind,
    Table,
    content_disposition,
    csv_bytes,
    file_name,
    neutralise,
    render,
    xlsx_bytes,
)
from shegong_academy.extensions import db
from shegong_academy.supervision.services import today
from shegong_academy.training.services import enrol, save_roster
from tests.coverage import cohort, course, program, session, supervise, supervisor_at
from tests.factories import World, login, person, unit

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What people type (or an import or the API carries) that a spreadsheet would run
HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3",
    "\tTAB",
    "\rCR",
    '＝HYPERLINK("http://x")',  # full-width forms: OWASP lists them too, Chinese input methods type them
    "＋1＋1",
    "－2＋3",
    "＠SUM(1)",
]
TARGET_CLASS = "服务效率目标班"  # contains 目标: its headcount was formatted as a percentage


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM, so Excel and WPS read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def sheet(data: bytes):
    return load_workbook(io.BytesIO(data)).active


def text_cells(ws) -> list[str]:
    """Every string cell; fails on any formula cell."""
    out = []
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"{cell.coordinate} is a formula: {cell.value!r}"
            if isinstance(cell.value, str):
                out.append(cell.value.replace("\n", "\r"))  # XML reads back a bare CR as LF
    return out


def assert_neutralised(cells: list[str], texts) -> None:
    """Each hostile text is there behind a single quote, and no cell starts with a formula character."""
    for text in texts:
        assert any(c.startswith("'" + text) for c in cells), f"{text!r} is missing or not neutralised"
    for c in cells:
        assert not c.startswith(("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")), repr(c)


# --- the writer ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [*HOSTILE, "\nLF"])
def test_text_that_starts_a_formula_gets_a_quote(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["张三", "a=b", "'=already quoted", "", "330105", "2-1", " =1"])
def test_other_text_is_unchanged(text):
    assert neutralise(text) == text


COLUMNS = [
    Column("姓名"),
    Column("人数", Kind.INTEGER),
    Column("学时", Kind.DECIMAL),
    Column("培训率", Kind.PERCENT),
    Column("日期", Kind.DATE),
    Column("时间", Kind.DATETIME),
]
ROWS = [
    ["=1+2", -2, Decimal("2.25"), 0.6667, date(2022, 6, 1), datetime(2022, 6, 1, 9, 30)],
    ["-2+3", 0, 3, 1.0, None, None],
    [None, None, None, None, None, None],
    ["\x01=1+1\x0b", 7, 0.05, 0.0625, date(2023, 1, 2), None],  # control characters XML cannot carry
]


def test_csv_writes_each_kind_as_declared():
    rows = csv_rows(csv_bytes(Table("t", COLUMNS, ROWS)))
    assert rows == [
        ["姓名", "人数", "学时", "培训率", "日期", "时间"],
        ["'=1+2", "-2", "2.3", "66.7%", "2022-06-01", "2022-06-01 09:30"],  # -2 is a number: left alone
        ["'-2+3", "0", "3.0", "100.0%", "", ""],
        ["", "", "", "", "", ""],
        ["'=1+1", "7", "0.1", "6.3%", "2023-01-02", ""],  # rounded half up, as the spreadsheet shows it
    ]


def test_xlsx_writes_each_kind_as_declared():
    ws = sheet(xlsx_bytes(Table("t", COLUMNS, ROWS)))
    assert [c.value for c in ws[1]] == ["姓名", "人数", "学时", "培训率", "日期", "时间"]
    assert all(c.font.b for c in ws[1])
    name, count, hours, rate, day, moment = ws[2]
    assert (name.value, name.data_type) == ("'=1+2", "s")
    assert (count.value, count.data_type, count.number_format) == (-2, "n", "0")
    assert (hours.value, hours.number_format) == (2.25, "0.0")
    assert (rate.value, rate.number_format) == (0.6667, "0.0%")
    assert day.is_date and day.value == datetime(2022, 6, 1) and day.number_format == "yyyy-mm-dd"
    assert moment.is_date and moment.value == datetime(2022, 6, 1, 9, 30)
    assert ws["A3"].value == "'-2+3" and ws["A5"].value == "'=1+1"
    assert [c.value for c in ws[4]] == [None] * 6
    assert text_cells(ws)


def test_openpyxl_would_write_a_formula_without_the_writer():
    """Why text cells are typed explicitly: openpyxl makes any string starting with "=" a formula."""
    from openpyxl import Workbook

    ws = Workbook().active
    ws.append(['=HYPERLINK("http://x","y")'])
    assert ws["A1"].data_type == "f"
    ws = sheet(render(Table("t", [Column("x")], [['=HYPERLINK("http://x","y")']]), "xlsx"))
    assert ws["A2"].data_type == "s" and ws["A2"].value == '\'=HYPERLINK("http://x","y")'


@pytest.mark.parametrize(
    "kind,value",
    [
        (Kind.INTEGER, "=1+1"),  # a string in a numeric column would escape neutralisation
        (Kind.INTEGER, 1.5),
        (Kind.INTEGER, True),
        (Kind.DECIMAL, "3"),
        (Kind.PERCENT, "100%"),
        (Kind.DATE, "2022-06-01"),
        (Kind.DATE, datetime(2022, 6, 1)),
        (Kind.DATETIME, date(2022, 6, 1)),
        (Kind.DATETIME, datetime.fromisoformat("2022-06-01T09:00+08:00")),  # Excel has no time zones
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_value_of_the_wrong_kind_is_refused(kind, value, fmt):
    with pytest.raises(TypeError):
        render(Table("t", [Column("x", kind)], [[value]]), fmt)


def test_headers_and_sheet_titles_are_safe():
    table = Table("=a/b[c]:d*e?f\\g'" * 3, [Column('=HYPERLINK("x") 人数', Kind.INTEGER)], [[1]])
    assert csv_rows(csv_bytes(table))[0] == ['\'=HYPERLINK("x") 人数']
    ws = sheet(xlsx_bytes(table))
    assert ws["A1"].value == '\'=HYPERLINK("x") 人数' and ws["A1"].data_type == "s"
    assert len(ws.title) <= 31 and not set(ws.title) & set("/\\[]:*?") and not ws.title.startswith("'")


def test_file_names_and_their_ascii_fallback():
    assert file_name("coverage", "330105", 'a/b:c*"d"', 2022, ext="csv") == "coverage-330105-a_b_c_d_-2022.csv"
    header = content_disposition("coverage-330105-拱墅区-2022.csv", "coverage-330105-2022.csv")
    assert header == (
        "attachment; filename=coverage-330105-2022.csv; filename*=UTF-8''coverage-330105-"
        + quote("拱墅区")
        + "-2022.csv"
    )
    assert content_disposition("a.csv", "a.csv") == "attachment; filename=a.csv"


def test_report_columns_take_their_type_from_the_declaration_not_the_header(ctx):  # headers in the default language
    from shegong_academy.coverage.exports import report_csv, report_xlsx

    figures = dict.fromkeys(("people", "programs", "course_sessions", "supervision_sessions"), 1)
    figures |= dict.fromkeys(("training_person_times", "supervision_person_times"), 2)
    figures |= dict.fromkeys(("people_trained", "people_supervised"), 1)
    rates = {"training_rate": 0.5, "supervision_rate": None, "training_target": 0.9, "supervision_target": 1.0}
    report = {
        "unit": {"name": "拱墅区", "code": "330105", "kind": "district"},
        "year": 2022,
        **figures,
        "cohorts": [{"name": TARGET_CLASS, "members": 4, "trained": 2, "supervised": 0, **rates}],
        "children": [],
    }
    ws = sheet(report_xlsx(report))
    header = [c.value for c in ws[1]]
    members = ws.cell(row=2, column=header.index(f"{TARGET_CLASS} 人数") + 1)
    assert (members.value, members.number_format) == (4, "0")  # was 0.0%: the header holds 目标
    target = ws.cell(row=2, column=header.index(f"{TARGET_CLASS} 培训目标") + 1)
    assert (target.value, target.number_format) == (0.9, "0.0%")
    assert ws.cell(row=2, column=header.index(f"{TARGET_CLASS} 督导率") + 1).value is None
    rows = csv_rows(report_csv(report))
    assert rows[1][-5:] == ["4", "50.0%", "", "90.0%", "100.0%"]


# --- every export, with hostile names --------------------------------------------------------------------------


@pytest.fixture
def hostile(app):
    """拱墅区 with a street, a person, a cohort and a supervision topic for each hostile text, and 服务效率目标班."""
    with app.app_context():
        w = World()
        streets, people = [], []
        for i, text in enumerate(HOSTILE):
            street = unit(f"街道{i}", "street", w.district, code=f"3301059{i:02d}")
            street.name = text  # set directly: the forms strip a leading tab or CR, imports and old data may not
            streets.append(street)
            someone = person(street, f"人员{i}", category="project_social_worker", certified_on=date(2021, 3, 15))
            someone.name = text
            people.append(someone)
        crs = course(program(w.district))
        first = session(crs, 0)
        for p in people:
            enrol(course=crs, person=p, actor=w.coord)
        save_roster(session=first, exceptions={}, actor=w.coord)  # 3 hours each
        sup = supervisor_at(w.street2, assigned=w.district)
        for i, text in enumerate(HOSTILE):
            record = supervise(w.coord, sup, [people[i]], 1, topic=f"主题{i}")
            record.topic = text
        sup.name = HOSTILE[0]
        for i, text in enumerate(HOSTILE):
            c = cohort(w.district, w.coord, name=f"班{i}", member_ids=[people[i].id], min_training_hours=6)
            c.name = text
        cohort(w.district, w.coord, name=TARGET_CLASS, member_ids=[p.id for p in people[:4]], min_training_hours=3)
        db.session.commit()
        ids = SimpleNamespace(district=w.district.id)
        from sqlalchemy import select

        from shegong_academy.coverage.models import Cohort

        ids.cohorts = dict(db.session.execute(select(Cohort.name, Cohort.id)).all())
        day = today().isoformat()
    client = app.test_client()
    assert login(client, "coord").status_code == 302
    return SimpleNamespace(app=app, client=client, ids=ids, today=day)


def test_coverage_report_csv(hostile):
    r = hostile.client.get(f"/coverage/export.csv?unit={hostile.ids.district}&year=2022")
    assert r.status_code == 200 and r.headers["Content-Type"] == CSV
    assert r.headers["Content-Disposition"] == content_disposition(
        "coverage-330105-拱墅区-2022.csv", "coverage-330105-2022.csv"
    )
    rows = csv_rows(r.data)
    cells = [c for row in rows for c in row]
    assert_neutralised(cells, HOSTILE)  # unit names (rows) and cohort names (headers)
    header, total = rows[0], rows[1]
    assert total[:3] == ["拱墅区", "330105", str(len(HOSTILE) + 4)]  # the World's four people and the supervisor
    assert total[header.index(f"{TARGET_CLASS} 人数")] == "4"  # a count, not "400.0%"
    assert total[header.index(f"{TARGET_CLASS} 培训率")] == "100.0%"
    assert total[header.index(f"{TARGET_CLASS} 督导率")] == "100.0%"
    assert total[header.index(f"{TARGET_CLASS} 培训目标")] == "100.0%"
    assert total[header.index(f"'{HOSTILE[0]} 培训率")] == "0.0%"  # 3 of 6 hours: not trained


def test_coverage_report_xlsx(hostile):
    r = hostile.client.get(f"/coverage/export.xlsx?unit={hostile.ids.district}&year=2022")
    assert r.status_code == 200 and r.headers["Content-Type"] == XLSX
    assert "filename=coverage-330105-2022.xlsx" in r.headers["Content-Disposition"]
    ws = sheet(r.data)
    assert ws.title == "2022年拱墅区"
    assert_neutralised(text_cells(ws), HOSTILE)
    header = [c.value for c in ws[1]]
    members = ws.cell(row=2, column=header.index(f"{TARGET_CLASS} 人数") + 1)
    assert members.value == 4 and members.data_type == "n" and "%" not in members.number_format
    for suffix in ("培训率", "督导率", "培训目标", "督导目标"):
        rate = ws.cell(row=2, column=header.index(f"{TARGET_CLASS} {suffix}") + 1)
        assert rate.value == 1.0 and rate.number_format == "0.0%", suffix
    people = ws.cell(row=2, column=header.index("人数") + 1)
    assert people.value == len(HOSTILE) + 4 and "%" not in people.number_format
    streets = {ws.cell(row=i, column=1).value.replace("\n", "\r") for i in range(3, ws.max_row + 1)}
    assert {"'" + text for text in HOSTILE} <= streets


def test_missing_list_csv(hostile):
    cohort_id = hostile.ids.cohorts[HOSTILE[0]]
    r = hostile.client.get(f"/coverage/missing.csv?unit={hostile.ids.district}&year=2022&cohort={cohort_id}")
    assert r.status_code == 200 and r.headers["Content-Type"] == CSV
    name = "missing-330105-拱墅区-2022-=HYPERLINK(_http_x_,_y_).csv"  # no / : " in a file name
    assert r.headers["Content-Disposition"] == content_disposition(name, f"missing-330105-2022-cohort{cohort_id}.csv")
    rows = csv_rows(r.data)
    assert rows[1] == ["'" + HOSTILE[0], "'" + HOSTILE[0], "3.0", "1.0", "3.0", "", "", "", "", "", ""]
    cells = []
    for text in HOSTILE:
        url = f"/coverage/missing.csv?unit={hostile.ids.district}&year=2022&cohort={hostile.ids.cohorts[text]}"
        cells += [c for row in csv_rows(hostile.client.get(url).data)[1:] for c in row[:2]]
    assert len(cells) == 2 * len(HOSTILE)
    assert_neutralised(cells, HOSTILE)  # each person's name and unit


def test_supervision_export_csv(hostile):
    r = hostile.client.get("/supervision/export.csv?year=2022")
    assert r.status_code == 200 and r.headers["Content-Type"] == CSV
    assert r.headers["Content-Disposition"] == content_disposition(
        "supervision-330105-拱墅区-2022.csv", "supervision-330105-2022.csv"
    )
    rows = csv_rows(r.data)
    assert_neutralised([row[6] for row in rows[1:]], HOSTILE)  # topics
    assert_neutralised([row[1] for row in rows[1:]], HOSTILE[:1])  # the supervisor's name
    assert_neutralised([row[7] for row in rows[1:]], HOSTILE)  # supervisees
    assert {row[0] for row in rows[1:]} == {"2022-06-01"} and {row[5] for row in rows[1:]} == {"1.0"}
    every_year = hostile.client.get("/supervision/export.csv").headers["Content-Disposition"]
    assert "filename=supervision-330105-all.csv" in every_year  # the coordinator's district, every year


def test_supervision_export_xlsx(hostile):
    r = hostile.client.get("/supervision/export.xlsx?year=2022")
    assert r.status_code == 200 and r.headers["Content-Type"] == XLSX
    assert "filename=supervision-330105-2022.xlsx" in r.headers["Content-Disposition"]
    ws = sheet(r.data)
    assert_neutralised(text_cells(ws), HOSTILE)
    for row in ws.iter_rows(min_row=2):
        assert row[0].is_date and row[0].value == datetime(2022, 6, 1) and row[0].number_format == "yyyy-mm-dd"
        assert row[5].value == 1 and row[5].data_type == "n"


def test_cli_report_csv_and_xlsx(hostile, tmp_path):
    runner = hostile.app.test_cli_runner()
    result = runner.invoke(args=["lms", "report", "--unit", "330105", "--year", "2022", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output, newline="")))
    assert_neutralised([c for row in rows for c in row], HOSTILE)
    assert rows[1][rows[0].index(f"{TARGET_CLASS} 人数")] == "4"
    out = tmp_path / "report.xlsx"
    result = runner.invoke(
        args=["lms", "report", "--unit", "330105", "--year", "2022", "--format", "xlsx", "--out", out]
    )
    assert result.exit_code == 0, result.output
    ws = sheet(out.read_bytes())
    assert_neutralised(text_cells(ws), HOSTILE)
    header = [c.value for c in ws[1]]
    members = ws.cell(row=2, column=header.index(f"{TARGET_CLASS} 人数") + 1)
    assert members.value == 4 and "%" not in members.number_format
    rate = ws.cell(row=2, column=header.index(f"{TARGET_CLASS} 培训率") + 1)
    assert rate.number_format == "0.0%"


def test_people_export_csv(hostile):
    r = hostile.client.get(f"/people/export.csv?unit={hostile.ids.district}&status=all")
    assert r.status_code == 200 and r.headers["Content-Type"] == CSV
    day = hostile.today
    assert r.headers["Content-Disposition"] == content_disposition(
        f"people-330105-拱墅区-{day}.csv", f"people-330105-{day}.csv"
    )
    rows = csv_rows(r.data)
    assert rows[0] == ["姓名", "单位", "单位编码", "身份证号", "手机号", "类别", "等级", "登记日期", "状态"]
    assert_neutralised([c for row in rows[1:] for c in row[:2]], HOSTILE)  # names and units
    first = next(row for row in rows if row[2] == "330105900")
    assert first[:2] == ["'" + HOSTILE[0]] * 2 and first[7] == "2021-03-15" and first[8] == "在职"
    assert all(re.fullmatch(r"\d{4}\*{10}\d{3}[\dX]", row[3]) for row in rows[1:])  # masked, as listed
    assert len(rows) == 1 + len(HOSTILE) + 4  # and 李四, 王五, 钱七, the supervisor; not 赵六 of 西湖区
    assert "赵六" not in r.data.decode("utf-8-sig")


def test_people_export_xlsx(hostile):
    r = hostile.client.get("/people/export.xlsx")
    assert r.status_code == 200 and r.headers["Content-Type"] == XLSX
    assert f"filename=people-330105-{hostile.today}.xlsx" in r.headers["Content-Disposition"]
    ws = sheet(r.data)
    assert_neutralised(text_cells(ws), HOSTILE)
    certified = [row[7] for row in ws.iter_rows(min_row=2) if row[7].value is not None]
    assert len(certified) == len(HOSTILE)
    assert all(c.is_date and c.value == datetime(2021, 3, 15) and c.number_format == "yyyy-mm-dd" for c in certified)


def test_people_export_keeps_the_filters_and_refuses_too_many_rows(hostile, monkeypatch):
    rows = csv_rows(hostile.client.get("/people/export.csv?q=SUM").data)
    assert [row[0] for row in rows[1:]] == ["'@SUM(1)", "'＠SUM(1)"]
    monkeypatch.setattr("shegong_academy.people.routes.EXPORT_LIMIT", 3)
    r = hostile.client.get(
        "/people/export.xlsx?category=project_social_worker&q=+&_external=1", headers={"Accept-Language": "en"}
    )
    assert r.status_code == 302
    assert r.headers["Location"] == "/people/?category=project_social_worker&q=+"
    page = hostile.client.get(r.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "An export holds at most 3 people: narrow the filters." in page
