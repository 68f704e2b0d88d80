"""Imports of people and units: CSV (UTF-8 with/without BOM, GB18030) and XLSX, all rows or none.

Files are built in the tests (csv module, openpyxl) — no binary fixtures. ID numbers in
the files use region 330110 so they never collide with the people of ``World``.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.crypto import decrypt_text, keyed_hash
from shegong_academy.core.tabular import ImportRejected, RowError, TableError, unread_columns
from shegong_academy.extensions import db
from shegong_academy.org.imports import import_units
from shegong_academy.org.models import OrgUnit
from shegong_academy.people.idnumber import check_digit
from shegong_academy.people.imports import import_people
from shegong_academy.people.models import Person
from shegong_academy.people.services import ID_REASONS
from tests.factories import World, id_number, login

EN = ["unit_code", "name", "id_number", "phone", "category", "level"]
ZH = ["单位编码", "姓名", "身份证号", "手机号", "类别", "等级"]
UNIT_EN = ["code", "name", "kind", "parent_code"]
UNIT_ZH = ["编码", "名称", "类型", "上级编码"]
COMMUNITY = "330105001001"  # 和睦社区, in 拱墅区


# --- building files ---------------------------------------------------------------


def pid(n: int) -> str:
    """A valid ID number for row data (region 330110: never one of World's people)."""
    return id_number(n, region="330110")


def bad_check(value: str) -> str:
    """The same ID number with a wrong last character."""
    return value[:17] + ("0" if value[17] != "0" else "1")


def people_rows(count: int, unit: str = COMMUNITY, start: int = 1) -> list[list[str]]:
    return [[unit, f"人员{i}", pid(i), f"138{i:08d}", "community_worker", "none"] for i in range(start, start + count)]


def csv_bytes(rows, header=EN, encoding: str = "utf-8", lineterminator: str = "\r\n") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=lineterminator)
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows, header=EN) -> bytes:
    wb = Workbook()
    ws = wb.active
    if header is not None:
        ws.append(header)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    wb.close()
    return buf.getvalue()


def people_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Person))


def unit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OrgUnit))


def unit(code: str) -> OrgUnit | None:
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def person_named(name: str) -> Person:
    return db.session.scalar(select(Person).where(Person.name == name))


def run_people(data: bytes, actor=None, filename: str = "people.csv", max_rows: int = 20000) -> int:
    return import_people(filename=filename, data=data, actor=actor, max_rows=max_rows)


def rejected_people(data: bytes, actor=None, filename: str = "people.csv") -> list[RowError]:
    """Import a file that must be refused; roll back (as the callers do) and return the errors."""
    before = people_count()
    with pytest.raises(ImportRejected) as exc:
        run_people(data, actor, filename)
    db.session.rollback()
    assert people_count() == before
    return exc.value.errors


def table_error(data: bytes, filename: str = "people.csv", max_rows: int = 20000) -> str:
    with pytest.raises(TableError) as exc:
        run_people(data, None, filename, max_rows)
    db.session.rollback()
    return str(exc.value.message)


def where(errors: list[RowError]) -> list[tuple[int, str]]:
    return [(e.row, e.column) for e in errors]


def upload(client, url: str, data: bytes, filename: str = "people.csv", lang: str = "en"):
    return client.post(
        url,
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        headers={"Accept-Language": lang},
    )


@pytest.fixture
def world(ctx):
    """The two-district world; messages outside a request render in English here."""
    with force_locale("en"):
        yield World()


# --- people: good files -----------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "header", "category", "level"),
    [
        ("utf-8-sig", EN, "community_worker", "assistant"),
        ("utf-8", EN, "community_worker", "assistant"),
        ("gb18030", ZH, "社区专职工作者", "助理社会工作师"),
        ("gbk", ZH, "社区专职工作者", "助理社会工作师"),
        ("utf-8-sig", ZH, "社区专职工作者", "助理社会工作师"),
    ],
)
def test_csv_encodings_and_headers_import(world, encoding, header, category, level):
    plain = pid(1)
    rows = [
        [COMMUNITY, "孙八", plain, "13800138000", category, level],
        ["330105002", "周九", pid(2), "", "项目社工", "高级社会工作师"],
    ]
    before = people_count()
    assert run_people(csv_bytes(rows, header, encoding), world.coord) == 2
    db.session.commit()
    assert people_count() == before + 2

    p = person_named("孙八")
    assert p.unit_id == world.community.id
    assert (p.category, p.level, p.phone) == ("community_worker", "assistant", "13800138000")
    assert p.id_number_masked == plain[:4] + "*" * 10 + plain[-4:]
    assert p.id_number_masked.startswith("3301**********")
    assert p.id_number_hash == keyed_hash(plain)
    assert decrypt_text(p.id_number_enc) == plain
    # The ID number is stored in clear in no column of the row.
    row = db.session.execute(select(Person.__table__).where(Person.id == p.id)).mappings().one()
    assert all(plain not in str(value) for value in row.values())
    assert plain[6:14] not in p.id_number_masked  # the birth date is masked too

    q = person_named("周九")
    assert (q.unit_id, q.category, q.level, q.phone) == (world.street2.id, "project_social_worker", "senior", None)
    assert q.active is True and q.titles == [] and q.service_areas == []

    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "person.import")).one()
    assert entry.actor_id == world.coord.id and entry.actor_name == "coord"
    assert entry.after == {"file": "people.csv", "rows": 2}
    assert plain not in str(entry.after)


def test_gb18030_chinese_headers_and_every_label(world):
    rows = [
        [COMMUNITY, "甲", pid(1), "13900000001", "社区专职工作者", "无"],
        [COMMUNITY, "乙", pid(2), "13900000002", "项目社工", "助理社会工作师"],
        [COMMUNITY, "丙", pid(3), "13900000003", "社工站(室)工作人员", "社会工作师"],
        [COMMUNITY, "丁", pid(4), "13900000004", "社工站（室）工作人员", "高级社会工作师"],
        [COMMUNITY, "戊", pid(5), "13900000005", "其他", ""],
        [COMMUNITY, "己", pid(6), "13900000006", "", "none"],
    ]
    data = csv_bytes(rows, ZH, "gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really a GB18030 file
    assert run_people(data, world.coord) == 6
    got = {
        p.name: (p.category, p.level)
        for p in db.session.scalars(select(Person).where(Person.name.in_(list("甲乙丙丁戊己"))))
    }
    assert got == {
        "甲": ("community_worker", "none"),
        "乙": ("project_social_worker", "assistant"),
        "丙": ("station_worker", "intermediate"),
        "丁": ("station_worker", "senior"),
        "戊": ("other", "none"),
        "己": ("community_worker", "none"),
    }


def test_alternative_chinese_headers_extra_columns_and_normalisation(world):
    # An ID number ending in X, written in lower case with spaces; a phone with dashes.
    n = next(i for i in range(1, 200) if pid(i).endswith("X"))
    plain = pid(n)
    header = ["序号", "所属单位编码", "姓名", "公民身份号码", "联系电话", "人员类别", "职业水平等级", "备注"]
    rows = [["1", COMMUNITY, " 吴十 ", plain[:6] + " " + plain[6:].lower(), "138-0013-8000", "其他", "无", "x"]]
    assert run_people(csv_bytes(rows, header, "gb18030"), world.coord) == 1
    assert unread_columns() == ("备注",)  # said, not read; a column of row numbers is not worth a word
    p = person_named("吴十")
    assert p.phone == "13800138000"
    assert p.id_number_hash == keyed_hash(plain)
    assert p.id_number_masked.endswith("X")


def test_the_columns_not_read_are_named_in_a_message_of_bounded_size(world):
    """The message travels in the session's cookie: ten names at most, each cut to 40 characters."""
    from flask_babel import force_locale

    from shegong_academy.core.tabular import unread_message

    header = [*ZH, *(f"{'很长的列名' * 20}{i}" for i in range(12))]
    rows = [[*row, *("有内容" for _i in range(12))] for row in people_rows(1)]
    assert run_people(csv_bytes(rows, header, "gb18030"), world.coord) == 1
    assert len(unread_columns()) == 12
    with force_locale("zh_CN"):
        message = unread_message(unread_columns())
    named = message.split("：", 1)[1].split("。", 1)[0].split("、")
    assert len(named) == 11 and named[-1] == "…" and all(len(name) == 40 for name in named[:10])
    assert len(message.encode()) < 1500  # whatever the file: far below a cookie's 4 kB


def test_optional_columns_may_be_missing(world):
    data = csv_bytes([[COMMUNITY, "郑一", pid(1)]], header=["unit_code", "name", "id_number"])
    assert run_people(data, world.coord) == 1
    p = person_named("郑一")
    assert (p.phone, p.category, p.level) == (None, "community_worker", "none")


def test_xlsx_import_with_numeric_unit_codes(world):
    # Unit codes typed into Excel come back as numbers (330105001001.0): read as the code.
    rows = [
        [330105001, "冯二", pid(1), "13800138000", "社区专职工作者", "助理社会工作师"],
        [330105001001.0, "陈三", pid(2), None, "station_worker", "intermediate"],
    ]
    assert run_people(xlsx_bytes(rows, ZH), world.coord, filename="人员.XLSX") == 2
    a, b = person_named("冯二"), person_named("陈三")
    assert (a.unit_id, a.phone, a.category, a.level) == (
        world.street.id,
        "13800138000",
        "community_worker",
        "assistant",
    )
    assert (b.unit_id, b.phone, b.category, b.level) == (world.community.id, None, "station_worker", "intermediate")


def test_txt_extension_is_read_as_csv(world):
    assert run_people(csv_bytes(people_rows(2)), world.coord, filename="people.TXT") == 2


def test_blank_rows_are_skipped_but_keep_their_row_numbers(world):
    good, bad = people_rows(2)
    bad[2] = bad_check(bad[2])
    text = "\r\n\r\n" + csv_bytes([good, [], ["", "", ""], bad]).decode()
    errors = rejected_people(text.encode(), world.coord)
    # blank, blank, header (3), good (4), blank (5), blank (6), bad (7)
    assert where(errors) == [(7, "id_number")]
    assert run_people(csv_bytes([good, [], good[:0]]), world.coord) == 1


def test_admin_and_cli_actor_see_the_whole_tree(world):
    rows = [["330106001", "褚四", pid(1)], [COMMUNITY, "卫五", pid(2)]]
    data = csv_bytes(rows, header=["unit_code", "name", "id_number"])
    assert run_people(data, world.admin) == 2
    db.session.rollback()
    assert run_people(data, None) == 2


def test_street_coordinator_scope(world):
    data = csv_bytes([[COMMUNITY, "蒋六", pid(1)]], header=["unit_code", "name", "id_number"])
    assert run_people(data, world.street_coord) == 1
    db.session.rollback()
    errors = rejected_people(
        csv_bytes([["330105002", "沈七", pid(2)]], ["unit_code", "name", "id_number"]), world.street_coord
    )
    assert where(errors) == [(2, "unit_code")]


# --- people: one bad row rejects the file ------------------------------------------


def test_500_rows_with_one_bad_row_imports_nothing(world):
    rows = people_rows(500)
    rows[315][2] = bad_check(rows[315][2])  # data row 316 is spreadsheet row 317
    before = people_count()
    errors = rejected_people(csv_bytes(rows, encoding="utf-8-sig"), world.coord)
    assert len(errors) == 1
    assert (errors[0].row, errors[0].column) == (317, "id_number")
    assert "check digit" in str(errors[0].message)
    assert str(errors[0]).startswith("row 317, id_number: ")
    assert errors[0].as_dict()["row"] == 317
    assert people_count() == before
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "person.import")) == 0
    )


def test_500_rows_all_good_import(world):
    before = people_count()
    assert run_people(xlsx_bytes(people_rows(500)), world.coord, filename="p.xlsx") == 500
    db.session.commit()
    assert people_count() == before + 500


def _impossible_birth_date() -> str:
    first17 = "330110" + "19800230" + "001"
    return first17 + check_digit(first17)


BAD_ROWS = [
    # (id, change to row 3 = [unit_code, name, id_number, phone, category, level], column, words in the message)
    ("unknown_unit", lambda r: r.__setitem__(0, "999999"), "unit_code", "Unknown unit code 999999"),
    ("empty_unit", lambda r: r.__setitem__(0, ""), "unit_code", "Unknown unit code"),
    ("out_of_subtree_unit", lambda r: r.__setitem__(0, "330106001"), "unit_code", "Unknown unit code 330106001"),
    ("bad_check_digit", lambda r: r.__setitem__(2, bad_check(r[2])), "id_number", "wrong check digit"),
    ("impossible_birth_date", lambda r: r.__setitem__(2, _impossible_birth_date()), "id_number", "birth date"),
    ("short_id", lambda r: r.__setitem__(2, "33011019800101"), "id_number", "18 characters"),
    ("missing_id", lambda r: r.__setitem__(2, ""), "id_number", "18 characters"),
    ("bad_phone", lambda r: r.__setitem__(3, "12345678901"), "phone", "11-digit"),
    ("short_phone", lambda r: r.__setitem__(3, "1380013800"), "phone", "11-digit"),
    ("unknown_category", lambda r: r.__setitem__(4, "志愿者"), "category", "Unknown category 志愿者"),
    ("unknown_level", lambda r: r.__setitem__(5, "expert"), "level", "Unknown level expert"),
    ("missing_name", lambda r: r.__setitem__(1, "  "), "name", "Name is required"),
    ("long_name", lambda r: r.__setitem__(1, "名" * 65), "name", "longer than 64"),
]


@pytest.mark.parametrize(("change", "column", "words"), [b[1:] for b in BAD_ROWS], ids=[b[0] for b in BAD_ROWS])
def test_each_kind_of_bad_row(world, change, column, words):
    rows = people_rows(4)
    change(rows[1])
    errors = rejected_people(csv_bytes(rows), world.coord)
    assert where(errors) == [(3, column)]
    assert words in str(errors[0].message)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_duplicate_id_in_file_names_both_rows(world, fmt):
    rows = people_rows(5)
    rows[3][2] = rows[1][2].lower()  # row 5 repeats row 3's ID number
    data = csv_bytes(rows) if fmt == "csv" else xlsx_bytes(rows)
    errors = rejected_people(data, world.coord, filename=f"p.{fmt}")
    assert where(errors) == [(5, "id_number")]
    assert "Same ID number as row 3" in str(errors[0].message)


def test_id_already_in_database(world):
    rows = people_rows(4)
    rows[2][2] = decrypt_text(world.person.id_number_enc)  # row 4: 李四's ID number
    rows[3][2] = decrypt_text(world.outsider.id_number_enc)  # row 5: someone in the other district
    # The administrator (and the command line) see everyone: both rows are named.
    errors = rejected_people(csv_bytes(rows), world.admin)
    assert where(errors) == [(4, "id_number"), (5, "id_number")]
    assert all("already exists" in str(e.message) for e in errors)
    # The coordinator is told about their own person only; the other district's is not named
    # (tests/test_id_oracle.py follows it).
    errors = rejected_people(csv_bytes(rows), world.coord)
    assert where(errors) == [(4, "id_number")]


def test_id_imported_earlier_is_refused_on_reimport(world):
    data = csv_bytes(people_rows(3))
    assert run_people(data, world.coord) == 3
    db.session.commit()
    errors = rejected_people(data, world.coord)
    assert where(errors) == [(2, "id_number"), (3, "id_number"), (4, "id_number")]


def test_every_problem_is_reported_sorted(world):
    rows = people_rows(4)
    rows[3] = ["nope", "", bad_check(rows[3][2]), "123", "x", "y"]
    rows[0][3] = "1"
    errors = rejected_people(csv_bytes(rows), world.coord)
    assert where(errors) == [
        (2, "phone"),
        (5, "category"),
        (5, "id_number"),
        (5, "level"),
        (5, "name"),
        (5, "phone"),
        (5, "unit_code"),
    ]


# --- whole-file errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "words"),
    [
        (b"", "p.csv", "The file is empty."),
        (b"\r\n\r\n,,\r\n", "p.csv", "The file is empty."),
        (b"\xef\xbb\xbf", "p.csv", "The file is empty."),
        (",".join(EN).encode() + b"\r\n", "p.csv", "header but no data rows"),
        (",".join(EN).encode() + b"\r\n,,,\r\n\r\n", "p.csv", "header but no data rows"),
        (b"unit_code,name,phone\r\n330105,a,13800138000\r\n", "p.csv", "Missing columns: 身份证号 (id_number)"),
        (b"foo,bar\r\n1,2\r\n", "p.csv", "Missing columns: 单位编码 (unit_code), 姓名 (name), 身份证号 (id_number)"),
        (b"unit_code,name,id_number\r\n", "p.xls", "Unsupported file type"),
        (b"unit_code,name,id_number\r\n", "p.pdf", "Unsupported file type"),
        (b"unit_code,name,id_number\r\n", "people", "Unsupported file type"),
        (b"\xff\xfe\xff\xfe\x81", "p.csv", "neither UTF-8 nor GB18030"),
        (b"unit_code,name,id_number\r\n\x00\x01\x02,a,b\r\n", "p.csv", "binary data"),
        (b"unit_code,name,id_number\r\n" + b"a" * 200_000 + b",b,c\r\n", "p.csv", "malformed"),
        (b"this is not a workbook", "p.xlsx", "not a readable XLSX"),
        (b"unit_code,name,id_number\r\n330105,a,b\r\n", "p.xlsx", "not a readable XLSX"),
    ],
    ids=[
        "empty",
        "blank-lines",
        "bom-only",
        "header-only",
        "header-and-blank-rows",
        "missing-id-column",
        "no-known-column",
        "xls",
        "pdf",
        "no-extension",
        "undecodable",
        "binary",
        "huge-field",
        "xlsx-garbage",
        "csv-named-xlsx",
    ],
)
def test_whole_file_errors(world, data, filename, words):
    before = people_count()
    assert words in table_error(data, filename)
    assert people_count() == before


def test_header_only_xlsx(world):
    assert "header but no data rows" in table_error(xlsx_bytes([]), "p.xlsx")


def test_empty_xlsx(world):
    assert "The file is empty." in table_error(xlsx_bytes([], header=None), "p.xlsx")


def test_truncated_xlsx(world):
    data = xlsx_bytes(people_rows(3))
    assert "not a readable XLSX" in table_error(data[: len(data) // 2], "p.xlsx")


def test_xlsx_with_a_broken_sheet(world):
    """A valid ZIP whose worksheet XML is cut short is a file error, not a crash."""
    good = xlsx_bytes(people_rows(3))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            dst.writestr(item, content)
    assert "not a readable XLSX" in table_error(out.getvalue(), "p.xlsx")


def test_zip_that_is_not_a_workbook(world):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "hi")
    assert "not a readable XLSX" in table_error(out.getvalue(), "p.xlsx")


def test_row_limit(world):
    assert run_people(csv_bytes(people_rows(3)), world.coord, max_rows=3) == 3
    db.session.rollback()
    message = table_error(csv_bytes(people_rows(4)), max_rows=3)
    assert message == "Too many rows: at most 3 per file."


# --- routes ------------------------------------------------------------------------


@pytest.fixture
def web(app, client):
    with app.app_context():
        World()
    return client


def count_in(app, model=Person) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_coordinator_uploads_gb18030_file(app, web):
    login(web, "coord")
    assert web.get("/people/import").status_code == 200
    data = csv_bytes(people_rows(3, unit="330105002"), ZH, "gb18030")
    before = count_in(app)
    r = upload(web, "/people/import", data)
    assert r.status_code == 302 and r.headers["Location"].endswith("/people/")
    assert count_in(app) == before + 3
    assert "Imported 3 people." in web.get("/people/", headers={"Accept-Language": "en"}).text


def test_columns_the_import_does_not_know_are_named_after_it(app, web):
    """A column the import does not read (a misspelt 手机 for 手机号, a 状态 it has no field for) is named on the
    page after the import, so that nobody takes its data for imported."""
    login(web, "coord")
    header = [*ZH[:3], "手机", "状态"]
    rows = [[r[0], r[1], r[2], "13800138000", "在职"] for r in people_rows(2, unit="330105002")]
    r = upload(web, "/people/import", csv_bytes(rows, header, "gb18030"), lang="zh-CN")
    assert r.status_code == 302
    page = web.get("/people/", headers={"Accept-Language": "zh-CN"}).text
    assert re.search(r"flash-warning[^>]*>[^<]*以下列未读取[^<]*：手机、状态。", page), page
    with app.app_context():
        assert not db.session.scalar(select(func.count()).select_from(Person).where(Person.phone.is_not(None)))
    # a file whose every column is read says nothing more than how many were imported
    r = upload(web, "/people/import", csv_bytes(people_rows(1, unit="330105002", start=50), ZH, "gb18030"))
    assert r.status_code == 302
    after = web.get("/people/", headers={"Accept-Language": "en"}).text
    assert "Imported 1 people." in after and "flash-warning" not in after
    # nor does one whose extra columns are empty: nothing in them was left out
    rows = [[*row, "", " "] for row in people_rows(1, unit="330105002", start=60)]
    r = upload(web, "/people/import", csv_bytes(rows, [*ZH, "状态", "备注"], "gb18030"))
    assert r.status_code == 302 and "flash-warning" not in web.get("/people/").text


def test_coordinator_uploads_xlsx(app, web):
    login(web, "coord")
    rows = [[330105001, "冯二", pid(1), "13800138000", "项目社工", "无"]]
    r = upload(web, "/people/import", xlsx_bytes(rows), filename="people.xlsx")
    assert r.status_code == 302
    with app.app_context():
        p = person_named("冯二")
        assert (p.unit.code, p.phone, p.category) == ("330105001", "13800138000", "project_social_worker")


def test_500_row_upload_with_one_bad_row(app, web):
    login(web, "coord")
    rows = people_rows(500)
    rows[315][2] = bad_check(rows[315][2])
    before = count_in(app)
    r = upload(web, "/people/import", csv_bytes(rows))
    assert r.status_code == 200
    assert "Nothing was imported: 1 problem(s) in the file" in r.text
    assert "<td>317</td><td>id_number</td>" in r.text
    assert "ID number has a wrong check digit." in r.text
    assert count_in(app) == before


def test_report_in_english(app, web):
    login(web, "coord")
    rows = people_rows(3)
    rows[1][2] = bad_check(rows[1][2])
    r = upload(web, "/people/import", csv_bytes(rows), lang="en")
    assert r.status_code == 200
    assert "<td>3</td><td>id_number</td>" in r.text
    assert "ID number has a wrong check digit." in r.text
    assert "Nothing was imported" in r.text


def test_report_in_chinese_names_row_and_column(app, web):
    login(web, "coord")
    rows = people_rows(3)
    rows[1][2] = bad_check(rows[1][2])
    r = upload(web, "/people/import", csv_bytes(rows), lang="zh-CN")
    assert r.status_code == 200
    assert "<td>3</td><td>id_number</td>" in r.text
    assert "error-report" in r.text
    assert "ID number has a wrong check digit." not in r.text


def test_report_in_chinese_uses_the_zh_catalogue(app, web):
    login(web, "coord")
    rows = people_rows(3)
    rows[1][2] = bad_check(rows[1][2])
    rows[2][0] = "999999"
    r = upload(web, "/people/import", csv_bytes(rows), lang="zh-CN")
    assert "未导入任何数据：文件中有 2 处问题" in r.text
    assert "身份证号校验码错误。" in r.text
    assert "未知的单位编码：999999。" in r.text
    app.config["LMS_MAX_UPLOAD_BYTES"] = 100
    r = upload(web, "/people/import", csv_bytes(people_rows(10)), lang="zh-CN")
    assert r.status_code == 413 and "文件过大。" in r.text


def test_whole_file_error_shown_on_the_form(app, web):
    login(web, "coord")
    before = count_in(app)
    r = upload(web, "/people/import", b"unit_code,name\r\n330105,a\r\n")
    assert r.status_code == 200
    assert "Missing columns: 身份证号 (id_number)" in r.text
    r = upload(web, "/people/import", b"unit_code,name\r\n330105,a\r\n", lang="zh-CN")
    assert "缺少以下列：身份证号 (id_number)" in r.text  # the header as the instructions write it
    r = upload(web, "/people/import", b"whatever", filename="people.doc")
    assert "Unsupported file type" in r.text
    r = upload(web, "/people/import", b"not a zip", filename="people.xlsx")
    assert "not a readable XLSX" in r.text
    assert count_in(app) == before


def test_no_file_chosen(app, web):
    login(web, "coord")
    before = count_in(app)
    r = web.post("/people/import", data={}, content_type="multipart/form-data", headers={"Accept-Language": "en"})
    assert r.status_code == 200
    assert '<p class="error">This field is required.</p>' in r.text
    assert count_in(app) == before


def test_row_limit_through_the_page(app, web):
    login(web, "coord")
    app.config["LMS_IMPORT_MAX_ROWS"] = 5
    before = count_in(app)
    r = upload(web, "/people/import", csv_bytes(people_rows(6)))
    assert r.status_code == 200 and "Too many rows: at most 5 per file." in r.text
    assert count_in(app) == before
    assert upload(web, "/people/import", csv_bytes(people_rows(5))).status_code == 302
    assert count_in(app) == before + 5


def test_upload_larger_than_the_limit(app, web):
    login(web, "coord")
    app.config["LMS_MAX_UPLOAD_BYTES"] = 4096
    data = csv_bytes(people_rows(100))
    assert len(data) > 4096
    before = count_in(app)
    r = upload(web, "/people/import", data)
    assert r.status_code == 413
    assert "The file is too large." in r.text
    assert count_in(app) == before
    web.post("/logout")
    login(web, "admin")
    r = upload(web, "/units/import", data, filename="units.csv")
    assert r.status_code == 413 and "The file is too large." in r.text


def test_trainee_may_not_import(app, web):
    login(web, "trainee")
    assert web.get("/people/import").status_code == 403
    before = count_in(app)
    assert upload(web, "/people/import", csv_bytes(people_rows(1))).status_code == 403
    assert count_in(app) == before


def test_anonymous_is_sent_to_login(web):
    r = web.get("/people/import")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_out_of_scope_coordinator_gets_unknown_unit(app, web):
    login(web, "coordout")
    before = count_in(app)
    r = upload(web, "/people/import", csv_bytes(people_rows(2, unit="330105")))
    assert r.status_code == 200
    assert "<td>2</td><td>unit_code</td>" in r.text and "<td>3</td><td>unit_code</td>" in r.text
    assert "Unknown unit code 330105." in r.text
    assert count_in(app) == before
    # … and the same file goes in for their own district.
    assert upload(web, "/people/import", csv_bytes(people_rows(2, unit="330106001"))).status_code == 302
    assert count_in(app) == before + 2


def test_units_import_is_for_administrators(app, web):
    login(web, "coord")
    assert web.get("/units/import").status_code == 403
    data = csv_bytes([["330105009", "新街道", "street", "330105"]], UNIT_EN)
    assert upload(web, "/units/import", data, filename="units.csv").status_code == 403
    with app.app_context():
        assert unit("330105009") is None


def test_admin_imports_units_through_the_page(app, web):
    login(web, "admin")
    assert web.get("/units/import").status_code == 200
    data = csv_bytes([["330105009", "新街道", "街道", "330105"]], UNIT_ZH, "gb18030")
    r = upload(web, "/units/import", data, filename="units.csv")
    assert r.status_code == 302
    with app.app_context():
        assert unit("330105009").parent.code == "330105"
    bad = csv_bytes([["330105010", "另一街道", "street", "999"]], UNIT_EN)
    r = upload(web, "/units/import", bad, filename="units.csv")
    assert r.status_code == 200
    assert "<td>2</td><td>parent_code</td>" in r.text and "Unknown parent code 999." in r.text
    with app.app_context():
        assert unit("330105010") is None


# --- units -------------------------------------------------------------------------


def run_units(data: bytes, actor=None, filename: str = "units.csv", max_rows: int = 20000) -> tuple[int, int]:
    return import_units(filename=filename, data=data, actor=actor, max_rows=max_rows)


def rejected_units(data: bytes, filename: str = "units.csv") -> list[RowError]:
    before = unit_count()
    with pytest.raises(ImportRejected) as exc:
        run_units(data, filename=filename)
    db.session.rollback()
    assert unit_count() == before
    return exc.value.errors


TREE = [
    # children before their parents, on purpose
    ["330109001001", "新湾社区", "community", "330109001"],
    ["330109001", "新湾街道", "street", "330109"],
    ["330109", "萧山区", "district", "330100"],
    ["330109001002", "社工站", "station", "330109001"],
]


def test_units_tree_from_crlf_csv_parents_after_children(world):
    data = csv_bytes(TREE, UNIT_EN, "utf-8", lineterminator="\r\n")
    assert b"\r\n" in data
    before = unit_count()
    assert run_units(data, world.admin) == (4, 0)
    db.session.commit()
    assert unit_count() == before + 4
    district, street, community, station = (unit(c) for c in ("330109", "330109001", "330109001001", "330109001002"))
    assert district.parent_id == world.city.id and district.kind == "district" and district.name == "萧山区"
    assert street.parent_id == district.id and community.parent_id == street.id and station.parent_id == street.id
    assert community.is_within(world.city) and community.is_within(district)
    assert community.path == f"{street.path}{community.id}/"
    assert community.depth == world.city.depth + 3
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "unit.import")).one()
    assert entry.actor_name == "admin" and entry.after == {"file": "units.csv", "created": 4, "updated": 0}

    # Idempotent: the same file again creates and renames nothing.
    assert run_units(data) == (0, 0)
    # A new name renames.
    renamed = [list(r) for r in TREE]
    renamed[1][1] = "新湾街道（改）"
    assert run_units(csv_bytes(renamed, UNIT_EN)) == (0, 1)
    db.session.commit()
    assert unit("330109001").name == "新湾街道（改）"
    assert unit_count() == before + 4


def test_units_chinese_headers_and_kinds_in_gb18030(world):
    rows = [["330105003", "大关街道", "街道", "330105"], ["330105003001", "东一社区", "社区", "330105003"]]
    assert run_units(csv_bytes(rows, UNIT_ZH, "gb18030")) == (2, 0)
    assert (unit("330105003").kind, unit("330105003001").kind) == ("street", "community")
    assert unit("330105003001").is_within(world.district)


def test_units_xlsx_with_numeric_codes(world):
    rows = [[330105004, "小河街道", "street", 330105], [330105004001, "小河社区", "community", 330105004]]
    assert run_units(xlsx_bytes(rows, UNIT_EN), filename="units.xlsx") == (2, 0)
    assert unit("330105004001").parent.code == "330105004"


def test_units_existing_root_row_is_accepted(world):
    rows = [["330000", "浙江省", "province", ""], ["330100", "杭州市", "city", "330000"]]
    assert run_units(csv_bytes(rows, UNIT_EN)) == (0, 0)


UNIT_BAD = [
    ("unknown_parent", ["330105005", "x", "street", "999999"], "parent_code", "Unknown parent code 999999"),
    ("unknown_kind", ["330105005", "x", "village", "330105"], "kind", "Unknown unit kind village"),
    ("empty_kind", ["330105005", "x", "", "330105"], "kind", "Unknown unit kind"),
    ("missing_name", ["330105005", "", "street", "330105"], "name", "Name is required"),
    ("missing_code", ["", "x", "street", "330105"], "code", "Code is required"),
    ("long_code", ["3" * 33, "x", "street", "330105"], "code", "longer than 32"),
    ("long_name", ["330105005", "名" * 121, "street", "330105"], "name", "longer than 120"),
    ("own_parent", ["330105005", "x", "street", "330105005"], "parent_code", "its own parent"),
    ("moved", ["330105001", "米市巷街道", "street", "330106"], "parent_code", "exists under another parent"),
    ("moved_to_root", ["330105001", "米市巷街道", "street", ""], "parent_code", "exists under another parent"),
]


@pytest.mark.parametrize(("row", "column", "words"), [b[1:] for b in UNIT_BAD], ids=[b[0] for b in UNIT_BAD])
def test_units_bad_row(world, row, column, words):
    rows = [["330105006", "好街道", "street", "330105"], row]
    errors = rejected_units(csv_bytes(rows, UNIT_EN))
    assert (3, column) in where(errors)
    assert words in str(next(e for e in errors if (e.row, e.column) == (3, column)).message)
    assert unit("330105006") is None


def test_units_duplicate_code_in_file(world):
    rows = [["330105007", "甲街道", "street", "330105"], ["330105008", "乙", "street", "330105"]]
    rows.append(["330105007", "丙街道", "street", "330105"])
    errors = rejected_units(csv_bytes(rows, UNIT_EN))
    assert where(errors) == [(4, "code")]
    assert "Same code as row 2" in str(errors[0].message)


def test_units_cycle_is_refused_and_nothing_written(world):
    rows = [
        ["330105020", "好街道", "street", "330105"],  # fine on its own, created in the first pass
        ["A1", "甲", "street", "B1"],
        ["B1", "乙", "street", "A1"],
    ]
    before = unit_count()
    errors = rejected_units(csv_bytes(rows, UNIT_EN))
    assert where(errors) == [(3, "parent_code"), (4, "parent_code")]
    # the kinds' parent rules (a street sits under a district) refuse such a file before its cycle is met
    with force_locale("en"):
        assert all("only under" in str(e.message) for e in errors)
    assert unit_count() == before
    assert unit("330105020") is None


def test_units_whole_file_errors(world):
    with pytest.raises(TableError) as exc:
        run_units(b"code,name\r\n1,a\r\n")
    assert "Missing columns: 类型 (kind)" in str(exc.value.message)
    with pytest.raises(TableError) as exc:
        run_units(csv_bytes([["1", "a", "street", ""]] * 3, UNIT_EN), max_rows=2)
    assert "Too many rows" in str(exc.value.message)


# --- command line --------------------------------------------------------------------


def write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def cli_world(app):
    with app.app_context():
        World()
    return app


def said(app, message: str, **values) -> str:
    """A message as the command line prints it (the deployment's default language)."""
    with app.app_context():
        return str(_l(message, **values))


def test_cli_import_people_bad_file(cli_world, runner, tmp_path):
    app = cli_world
    rows = people_rows(500, unit="330106001")
    rows[315][2] = bad_check(rows[315][2])
    rows[9][4] = "志愿者"
    before = count_in(app)
    result = runner.invoke(args=["lms", "import-people", write(tmp_path, "p.csv", csv_bytes(rows, encoding="gb18030"))])
    assert result.exit_code != 0
    category = said(app, "Unknown category %(value)s.", value="志愿者")
    check = said(app, "ID number %(reason)s.", reason=ID_REASONS["check_digit"])
    assert f"row 11, column category: {category}" in result.output
    assert f"row 317, column id_number: {check}" in result.output
    assert "2 error(s); nothing was imported" in result.output
    assert count_in(app) == before


def test_cli_import_people_good_file(cli_world, runner, tmp_path):
    app = cli_world
    before = count_in(app)
    rows = people_rows(2, unit="330106001") + people_rows(1, unit=COMMUNITY, start=3)
    result = runner.invoke(args=["lms", "import-people", write(tmp_path, "人员.csv", csv_bytes(rows, ZH, "gb18030"))])
    assert result.exit_code == 0, result.output
    assert "people imported: 3" in result.output
    assert count_in(app) == before + 3
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "person.import")).one()
        assert entry.actor_id is None and entry.actor_name == "system"
        assert entry.after == {"file": "人员.csv", "rows": 3}


def test_cli_import_people_xlsx(cli_world, runner, tmp_path):
    rows = [[330106001, "褚四", pid(1), "13800138000", "其他", "无", "在职"]]
    result = runner.invoke(args=["lms", "import-people", write(tmp_path, "p.xlsx", xlsx_bytes(rows, [*ZH, "状态"]))])
    assert result.exit_code == 0, result.output
    assert "people imported: 1" in result.output
    assert (
        said(
            cli_world,
            "These columns were not read: %(columns)s. "
            "If they hold data to import, name them as the instructions do and upload the file again.",
            columns="状态",
        )
        in result.output
    )


def test_cli_import_people_whole_file_error(cli_world, runner, tmp_path):
    before = count_in(cli_world)
    result = runner.invoke(args=["lms", "import-people", write(tmp_path, "p.csv", b"")])
    assert result.exit_code != 0 and said(cli_world, "The file is empty.") in result.output
    result = runner.invoke(args=["lms", "import-people", write(tmp_path, "p.ods", b"x")])
    unsupported = said(cli_world, "Unsupported file type: upload a .csv or .xlsx file.")
    assert result.exit_code != 0 and unsupported in result.output
    result = runner.invoke(args=["lms", "import-people", str(tmp_path / "missing.csv")])
    assert result.exit_code != 0
    assert count_in(cli_world) == before


def test_cli_refuses_a_file_larger_than_the_limit(cli_world, runner, tmp_path):
    app = cli_world
    data = csv_bytes(people_rows(100, unit="330106001"))
    app.config["LMS_MAX_UPLOAD_BYTES"] = len(data) - 1
    before = count_in(app)
    result = runner.invoke(args=["lms", "import-people", write(tmp_path, "p.csv", data)])
    assert result.exit_code != 0
    assert "larger than" in result.output
    assert count_in(app) == before
    result = runner.invoke(args=["lms", "import-units", write(tmp_path, "u.csv", data)])
    assert result.exit_code != 0 and "larger than" in result.output
    app.config["LMS_MAX_UPLOAD_BYTES"] = len(data)
    result = runner.invoke(args=["lms", "import-people", write(tmp_path, "p.csv", data)])
    assert result.exit_code == 0, result.output
    assert count_in(app) == before + 100


def test_cli_row_limit(cli_world, runner, tmp_path):
    cli_world.config["LMS_IMPORT_MAX_ROWS"] = 2
    result = runner.invoke(args=["lms", "import-people", write(tmp_path, "p.csv", csv_bytes(people_rows(3)))])
    too_many = said(cli_world, "Too many rows: at most %(max)d per file.", max=2)
    assert result.exit_code != 0 and too_many in result.output


def test_cli_import_units(cli_world, runner, tmp_path):
    app = cli_world
    before = count_in(app, OrgUnit)
    path = write(tmp_path, "units.csv", csv_bytes(TREE, UNIT_EN, "utf-8-sig"))
    result = runner.invoke(args=["lms", "import-units", path])
    assert result.exit_code == 0, result.output
    assert "units created: 4, renamed: 0" in result.output
    result = runner.invoke(args=["lms", "import-units", path])
    assert result.exit_code == 0 and "units created: 0, renamed: 0" in result.output
    assert count_in(app, OrgUnit) == before + 4


def test_cli_import_units_bad_file(cli_world, runner, tmp_path):
    app = cli_world
    before = count_in(app, OrgUnit)
    rows = [*TREE, ["X1", "环一", "street", "X2"], ["X2", "环二", "street", "X1"]]
    result = runner.invoke(args=["lms", "import-units", write(tmp_path, "u.csv", csv_bytes(rows, UNIT_EN))])
    assert result.exit_code != 0
    assert "row 6, column parent_code: " in result.output
    assert "row 7, column parent_code" in result.output
    assert "nothing was imported" in result.output
    assert count_in(app, OrgUnit) == before  # the good rows created before the cycle was found are gone
    rows = [["330109", "萧山区", "区县", "330100"], ["330109", "重复", "district", "330100"], ["Y", "y", "镇", ""]]
    result = runner.invoke(args=["lms", "import-units", write(tmp_path, "u.csv", csv_bytes(rows, UNIT_EN))])
    assert result.exit_code != 0
    assert f"row 3, column code: {said(app, 'Same code as row %(row)d.', row=2)}" in result.output
    assert f"row 4, column kind: {said(app, 'Unknown unit kind %(value)s.', value='镇')}" in result.output
    assert count_in(app, OrgUnit) == before


def test_registration_dates_import_in_every_spelling(world):
    from datetime import date, datetime

    rows = [
        [COMMUNITY, "登记一", pid(1), "", "community_worker", "assistant", "2021-06-30"],
        [COMMUNITY, "登记二", pid(2), "", "community_worker", "intermediate", "2020/3/1"],
        [COMMUNITY, "登记三", pid(3), "", "community_worker", "senior", "2019年12月5日"],
        [COMMUNITY, "登记四", pid(4), "", "community_worker", "none", ""],
    ]
    assert run_people(csv_bytes(rows, ZH + ["登记日期"]), world.coord) == 4
    assert [person_named(n).certified_on for n in ("登记一", "登记二", "登记三", "登记四")] == [
        date(2021, 6, 30),
        date(2020, 3, 1),
        date(2019, 12, 5),
        None,
    ]
    cell = [[COMMUNITY, "登记五", pid(5), None, "community_worker", "assistant", datetime(2022, 1, 15)]]
    assert run_people(xlsx_bytes(cell, EN + ["certified_on"]), world.coord, filename="p.xlsx") == 1
    assert person_named("登记五").certified_on == date(2022, 1, 15)


def test_a_bad_registration_date_rejects_the_file(world):
    rows = [
        [COMMUNITY, "日期一", pid(1), "", "community_worker", "assistant", "2021-02-30"],
        [COMMUNITY, "日期二", pid(2), "", "community_worker", "assistant", "2099-01-01"],
        [COMMUNITY, "日期三", pid(3), "", "community_worker", "assistant", "2021-06-30"],
    ]
    errors = rejected_people(csv_bytes(rows, EN + ["certified_on"]), world.coord)
    assert where(errors) == [(2, "certified_on"), (3, "certified_on")]
    assert people_count() == 4  # World's people only: nothing imported


# --- numbers in text-only columns (issue 12, item 7) -----------------------------------------

# An ID number Excel has held as a number keeps 15 significant digits: 330105200002293450 is
# stored as 3.30105200002293E+17, which reads back as 330105200002292992, itself a valid number.
TYPED = "330105200002293450"
AS_EXCEL_NUMBER = float(f"{int(TYPED):.15g}")


def test_the_rounded_id_number_would_pass_every_check():
    """The premise of the tests below: the rounded number is a different, valid ID number."""
    from shegong_academy.people.idnumber import normalise_id_number

    assert AS_EXCEL_NUMBER == 3.30105200002293e17
    corrupted = str(int(AS_EXCEL_NUMBER))
    assert corrupted == "330105200002292992" != TYPED
    assert normalise_id_number(corrupted) == corrupted and normalise_id_number(TYPED) == TYPED


def numeric_id_rows() -> list[list]:
    return [
        [COMMUNITY, "数字一", AS_EXCEL_NUMBER, "13800000001", "community_worker", "none"],  # Excel's double
        [COMMUNITY, "数字二", int(pid(2)), "13800000002", "community_worker", "none"],  # all digits, as LibreOffice
        [COMMUNITY, "文本三", pid(3), "13800000003", "community_worker", "none"],  # typed as text: fine
        [COMMUNITY, "数字四", float(pid(4)), "13800000004", "community_worker", "none"],  # rounded, wrong check digit
    ]


@pytest.mark.parametrize("header", [ZH, EN], ids=["chinese", "english"])
def test_numeric_id_cells_are_refused_and_nothing_is_read_from_them(world, header):
    before = people_count()
    errors = rejected_people(xlsx_bytes(numeric_id_rows(), header), world.coord, filename="p.xlsx")
    assert where(errors) == [(2, "id_number"), (3, "id_number"), (5, "id_number")]
    for error in errors:
        message = str(error.message)
        assert message.startswith(f"{header[2]} is stored as a number in the spreadsheet")
        assert "Format the column as Text" in message
        assert "check digit" not in message
    assert people_count() == before
    corrupted = keyed_hash(str(int(AS_EXCEL_NUMBER)))
    assert db.session.scalar(select(func.count()).where(Person.id_number_hash == corrupted)) == 0


def test_numeric_phone_cells_are_refused(world):
    rows = [[COMMUNITY, "电话一", pid(1), 13800138000, "community_worker", "none"]]
    errors = rejected_people(xlsx_bytes(rows, ZH), world.coord, filename="p.xlsx")
    assert where(errors) == [(2, "phone")]
    assert str(errors[0].message).startswith("手机号 is stored as a number in the spreadsheet")


def test_the_same_rows_typed_as_text_import(world):
    rows = [[COMMUNITY, "文本一", TYPED, "13800138000", "community_worker", "none", datetime(2021, 6, 30)]]
    assert run_people(xlsx_bytes(rows, ZH + ["登记日期"]), world.coord, filename="p.xlsx") == 1
    p = person_named("文本一")
    assert decrypt_text(p.id_number_enc) == TYPED and p.phone == "13800138000"
    assert p.certified_on == date(2021, 6, 30)  # a date cell is still read as a date


def test_numeric_id_cells_through_the_page(app, web):
    login(web, "coord")
    before = count_in(app)
    r = upload(web, "/people/import", xlsx_bytes(numeric_id_rows(), ZH), filename="people.xlsx")
    assert r.status_code == 200
    assert "Nothing was imported: 3 problem(s) in the file" in r.text
    assert "身份证号 is stored as a number in the spreadsheet" in r.text
    r = upload(web, "/people/import", xlsx_bytes(numeric_id_rows(), ZH), filename="people.xlsx", lang="zh-CN")
    assert "<td>2</td><td>身份证号</td>" in r.text
    assert count_in(app) == before


def test_numeric_id_cells_through_the_command_line(cli_world, runner, tmp_path):
    before = count_in(cli_world)
    result = runner.invoke(args=["lms", "import-people", write(tmp_path, "p.xlsx", xlsx_bytes(numeric_id_rows(), ZH))])
    assert result.exit_code != 0
    for row in (2, 3, 5):
        assert f"row {row}, column id_number: " in result.output
    assert "3 error(s); nothing was imported" in result.output
    assert count_in(cli_world) == before


def test_numeric_id_cells_in_an_attendance_import(world):
    from shegong_academy.training.imports import import_attendance
    from shegong_academy.training.services import enrol
    from tests.training.helpers import course, program, session

    crs = course(program(world.district))
    sess = session(crs)
    enrol(course=crs, person=world.person, actor=world.coord)
    number = decrypt_text(world.person.id_number_enc)
    # (a number ending in X cannot be a numeric cell; the refusal is about the cell's type, not the digits)
    data = xlsx_bytes([[float(number.replace("X", "0")), "出席"]], ["身份证号", "出勤"])
    with pytest.raises(ImportRejected) as exc:
        import_attendance(session=sess, filename="a.xlsx", data=data, actor=world.coord, max_rows=100)
    assert where(exc.value.errors) == [(2, "id_number")]
    assert "身份证号 is stored as a number" in str(exc.value.errors[0].message)
    data = xlsx_bytes([[number, "出席"]], ["身份证号", "出勤"])
    assert import_attendance(session=sess, filename="a.xlsx", data=data, actor=world.coord, max_rows=100) == 1
