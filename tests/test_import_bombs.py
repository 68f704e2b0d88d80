"""Hostile spreadsheets (issue 12, item 2): refused with a clear message, fast, in little memory, by every path.

The two bombs of the probe are built here with zipfile and crafted XML:

* a ~1.9 KB workbook whose sheet declares ``A1:XFD1048576`` and repeats one row
  5,000 times (openpyxl pads every row of it to 16,384 cells: 51 s and 3 GB before);
* a ~1.4 MB workbook whose ``sharedStrings.xml`` unpacks to 300 MB (openpyxl's
  read-only mode still loads every shared string).

Each is sent through the people and units import pages and the ``import-people``
and ``import-units`` commands in a separate Python process, which reports the time
and the growth of its peak resident memory (``VmHWM``, so the XML parser's C
memory counts too). The API has no import endpoint. The other tests build one file
per bound the reader enforces.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from flask_babel import force_locale
from openpyxl import Workbook
from sqlalchemy import func, select

from shegong_academy.core import tabular
from shegong_academy.core.tabular import TableError, read_table
from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit
from shegong_academy.people.imports import PEOPLE_COLUMNS
from shegong_academy.people.models import Person
from tests.factories import World

ROOT = Path(__file__).resolve().parent.parent
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REQUIRED = ("unit_code", "name", "id_number")
SECONDS, MEGABYTES = 5, 200  # the limits, asserted as they are

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "{strings}</Types>"
)
STRINGS_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)
PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    "</Relationships>"
)
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    "{strings}</Relationships>"
)
STRINGS_REL = (
    '<Relationship Id="rId2" Target="sharedStrings.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
)


# --- building workbooks ------------------------------------------------------------------------


def _chunks(content) -> list[bytes] | object:
    return [content] if isinstance(content, bytes) else content


def workbook(sheet, strings=None, level: int = 6, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal XLSX: ``sheet`` (and ``strings``) as bytes or an iterable of byte chunks, streamed into the ZIP."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES.format(strings=STRINGS_TYPE if strings else ""))
        z.writestr("_rels/.rels", PACKAGE_RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.format(strings=STRINGS_REL if strings else ""))
        parts = {"xl/worksheets/sheet1.xml": sheet}
        if strings:
            parts["xl/sharedStrings.xml"] = strings
        for name, content in parts.items():
            with z.open(name, "w", force_zip64=True) as f:
                for chunk in _chunks(content):
                    f.write(chunk)
        for name, content in (extra or {}).items():
            z.writestr(name, content)
    return out.getvalue()


def sheet(rows: bytes, dimension: str | None = None, before_data: bytes = b"") -> bytes:
    dim = f'<dimension ref="{dimension}"/>'.encode() if dimension else b""
    head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">'.encode()
    return head + dim + before_data + b"<sheetData>" + rows + b"</sheetData></worksheet>"


def inline_row(n: int, *values: str) -> bytes:
    cells = "".join(f'<c r="{chr(65 + i)}{n}" t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(values))
    return f'<row r="{n}">{cells}</row>'.encode()


HEADER_ROW = inline_row(1, *REQUIRED)


def small_bomb() -> bytes:
    """About 1.9 KB: the sheet declares A1:XFD1048576 and repeats one row 5,000 times."""
    return workbook(sheet(b"<row><c><v>1</v></c></row>" * 5000, "A1:XFD1048576"), level=9)


@functools.cache
def strings_bomb() -> bytes:
    """About 1.4 MB: 300 MB of shared strings behind a two-row sheet."""

    def strings():
        yield f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">'.encode()
        yield b"".join(f"<si><t>{h}</t></si>".encode() for h in REQUIRED)
        block = b"".join(b"<si><t>%07d" % i + b"x" * 1300 + b"</t></si>" for i in range(2000))
        for _ in range(300 * 1024 * 1024 // len(block)):
            yield block
        yield b"</sst>"

    cells = "".join(f'<c r="{c}{{n}}" t="s"><v>{{v{i}}}</v></c>' for i, c in enumerate("ABC"))
    rows = b"".join(
        f'<row r="{n}">{cells.format(n=n, v0=v, v1=v + 1, v2=v + 2)}</row>'.encode() for n, v in ((1, 0), (2, 3))
    )
    return workbook(sheet(rows, "A1:C2"), strings())


def junk_bomb() -> bytes:
    """4 MB of XML elements openpyxl would keep (16 MB unpacked, compressing only 4:1): 350 MB before."""
    junk = b"".join(b'<x a="%d"/>' % (i * 7919 % 1000003) for i in range(1_000_000))
    return workbook(sheet(HEADER_ROW, "A1:C1", before_data=junk))


def read(data: bytes, filename: str = "p.xlsx", max_rows: int = 20000):
    with force_locale("en"):
        return read_table(filename, data, PEOPLE_COLUMNS, REQUIRED, max_rows, ("id_number",))


def refusal(data: bytes, filename: str = "p.xlsx", max_rows: int = 20000) -> str:
    with pytest.raises(TableError) as exc, force_locale("en"):
        read_table(filename, data, PEOPLE_COLUMNS, REQUIRED, max_rows, ("id_number",))
    with force_locale("en"):
        return str(exc.value.message)


TOO_BIG = "The workbook unpacks to far more data than an import needs"


# --- the two bombs of the probe, through every path, measured -----------------------------------

# Runs in a fresh interpreter: the import paths, each timed, with the growth of the
# process's peak resident memory (VmHWM) over its resident memory just before.
CHILD = r"""
import io, json, resource, sys, time
args = json.loads(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # the machine survives the old code

from shegong_academy import create_app
from tests.factories import login

app = create_app({
    "TESTING": True, "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789", "WTF_CSRF_ENABLED": False,
    "SQLALCHEMY_DATABASE_URI": args["db_url"], "RATELIMIT_ENABLED": False, "LMS_DEFAULT_LANGUAGE": "en",
})
data = open(args["path"], "rb").read()

def status_kb(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))

def reset_peak():
    # VmHWM (peak resident memory) back to the current figure; without it, VmHWM since
    # exec is still an upper bound. (ru_maxrss would carry the parent's peak over exec.)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass

clients = {}
for who in ("coord", "admin"):
    clients[who] = app.test_client()
    login(clients[who], who)
runner = app.test_cli_runner()

def page(who, url):
    r = clients[who].post(url, data={"file": (io.BytesIO(data), "bomb.xlsx")},
                          content_type="multipart/form-data", headers={"Accept-Language": "en"})
    return r.status_code, r.get_data(as_text=True)

def command(name):
    result = runner.invoke(args=["lms", name, args["path"]])
    return result.exit_code, result.output

paths = {
    "people page": lambda: page("coord", "/people/import"),
    "units page": lambda: page("admin", "/units/import"),
    "lms import-people": lambda: command("import-people"),
    "lms import-units": lambda: command("import-units"),
}
out = {}  # each path's first run: what it loads on first use counts against it too
for name, run in paths.items():
    reset_peak()
    rss, start = status_kb("VmRSS:"), time.perf_counter()
    status, text = run()
    seconds = time.perf_counter() - start
    peak = status_kb("VmHWM:")
    out[name] = {"status": status, "text": text, "seconds": seconds,
                 "growth_mb": (peak - rss) / 1024, "peak_mb": peak / 1024}
print(json.dumps(out))
"""


def run_paths(db_url: str, path: Path) -> dict:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps({"db_url": db_url, "path": str(path)})],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the import paths did not refuse the file within 4 minutes")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Person)),
            db.session.scalar(select(func.count()).select_from(OrgUnit)),
        )


@pytest.mark.parametrize(
    ("build", "words", "size"),
    [
        (small_bomb, "The sheet declares the range A1:XFD1048576", (1_500, 2_500)),
        (strings_bomb, f"{TOO_BIG} (xl/sharedStrings.xml: 298 MB)", (1_200_000, 1_600_000)),
        (junk_bomb, f"{TOO_BIG} (xl/worksheets/sheet1.xml: &gt; 100000 XML elements)", (3_000_000, 5_000_000)),
    ],
    ids=["1.9KB-dimension", "1.4MB-shared-strings", "4MB-loose-elements"],
)
def test_bombs_are_refused_fast_in_little_memory_by_pages_and_commands(app, db_url, tmp_path, build, words, size):
    with app.app_context():
        World()
    data = build()
    assert size[0] <= len(data) <= size[1]
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(data)
    before = counts(app)
    results = run_paths(db_url, path)
    assert set(results) == {"people page", "units page", "lms import-people", "lms import-units"}
    for via, r in results.items():
        print(f"{build.__name__} ({len(data):,} bytes) via {via}: {r['seconds']:.3f} s, ", end="")
        print(f"peak memory +{r['growth_mb']:.1f} MB (process peak {r['peak_mb']:.0f} MB)")
        if via.startswith("lms"):
            assert r["status"] == 1 and f"{path}: " in r["text"]
            assert words.replace("&gt;", ">") in r["text"], r["text"]
        else:
            assert r["status"] == 200 and words in r["text"], r["text"][-2000:]
        assert r["seconds"] < SECONDS
        assert r["growth_mb"] < MEGABYTES
    assert counts(app) == before


# --- every bound, one file each -----------------------------------------------------------------


def test_the_bombs_are_refused_by_the_reader(ctx):
    for build, words in ((small_bomb, "declares the range A1:XFD1048576"), (strings_bomb, TOO_BIG)):
        start = time.perf_counter()
        assert words in refusal(build())
        assert time.perf_counter() - start < 1


def test_a_member_compressed_more_than_100_to_1_is_refused(ctx):
    rows = b"<row><c><v>1</v></c></row>" * 80_000  # 2 MB of one repeated row
    assert refusal(workbook(sheet(HEADER_ROW + rows))).startswith(f"{TOO_BIG} (xl/worksheets/sheet1.xml: 2 MB, ")


def test_a_member_unpacking_to_more_than_32_mb_is_refused_before_reading(ctx):
    chunk = b"".join(b"<!-- %08d -->" % i for i in range(50_000))  # 850 KB, compressing about 6:1
    big = workbook(sheet(HEADER_ROW), extra={"xl/media/padding.xml": chunk * 48})
    assert refusal(big) == (
        f"{TOO_BIG} (xl/media/padding.xml: 39 MB), so it was not read. "
        "Copy the data into a new workbook, or save it as CSV, and upload that."
    )


def test_too_many_members_are_refused(ctx):
    extra = {f"xl/media/{i}.bin": b"" for i in range(tabular.XLSX_MAX_MEMBERS)}
    assert f"{TOO_BIG} ({tabular.XLSX_MAX_MEMBERS + 5} parts)" in refusal(workbook(sheet(HEADER_ROW), extra=extra))


def test_an_encrypted_or_oddly_compressed_member_is_refused(ctx):
    good = workbook(sheet(HEADER_ROW + inline_row(2, "330105", "甲", "x")))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
    raw = bytearray(out.getvalue())
    central = raw.rfind(b"PK\x01\x02")  # the last member's central directory entry
    raw[central + 8] |= 0x1  # its "encrypted" flag
    assert "encrypted" in refusal(bytes(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_BZIP2) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, src.read(item.filename))
    assert "not a readable XLSX" in refusal(out.getvalue())


def test_a_member_larger_than_it_declares_is_refused(ctx):
    """zipfile stops a member at its declared size; the checksum then refuses it."""
    data = bytearray(workbook(sheet(HEADER_ROW + inline_row(2, "330105", "甲", "x") * 50), level=0))
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")  # the sheet's uncompressed size
    assert "not a readable XLSX" in refusal(bytes(data))


def test_rows_past_the_limit_are_refused_whatever_the_dimension_says(ctx):
    rows = b"".join(inline_row(n, "330105", f"人{n}", "x") for n in range(2, 1_020))
    message = refusal(workbook(sheet(HEADER_ROW + rows, "A1:C2")), max_rows=10)
    assert message.startswith("The sheet runs past row 1011, but an import takes at most 10 rows of data.")
    far = workbook(sheet(HEADER_ROW + b'<row r="1048576"><c><v>1</v></c></row>'))
    assert "runs past row 21001" in refusal(far)
    assert "declares the range A1:C30000" in refusal(workbook(sheet(HEADER_ROW, "A1:C30000")))
    assert "declares the range A1:BM2" in refusal(workbook(sheet(HEADER_ROW, "A1:BM2")))


def test_xml_openpyxl_would_keep_in_memory_is_refused(ctx):
    huge_row = b"<row>" + b"<c><v>1</v></c>" * 600 + b"</row>"
    assert "> 1000 elements in one row or string" in refusal(workbook(sheet(HEADER_ROW + huge_row)))
    strings = f'<sst xmlns="{MAIN}">'.encode() + b"".join(b"<si><t>%d</t></si>" % i for i in range(300_001))
    assert "> 300000 shared strings" in refusal(workbook(sheet(HEADER_ROW), strings + b"</sst>"))


def test_a_document_type_declaration_is_refused(ctx):
    laughs = b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    xml = sheet(inline_row(1, "unit_code", "name", "&b;"))
    xml = xml.replace(b"?>", b"?>" + laughs, 1)
    assert "not a readable XLSX" in refusal(workbook(xml))


def test_data_beyond_column_64_is_refused(ctx):
    wide = inline_row(2, "330105", "甲", "x")[:-6] + b'<c r="BM2" t="inlineStr"><is><t>y</t></is></c></row>'
    assert refusal(workbook(sheet(HEADER_ROW + wide))).startswith("Row 2 has data beyond column 64")
    text = ",".join(REQUIRED) + "\r\n" + ",".join(["330105", "甲", "x"] + ["z"] * 62) + "\r\n"
    assert refusal(text.encode(), "p.csv").startswith("Row 2 has data beyond column 64")
    text = ",".join(REQUIRED) + "\r\n" + ",".join(["330105", "甲", "x"] + [""] * 200) + "\r\n"
    assert read(text.encode(), "p.csv") == [(2, {"unit_code": "330105", "name": "甲", "id_number": "x"})]


def test_a_cell_longer_than_1000_characters_is_refused(ctx):
    name = "名" * 1001
    text = ",".join(REQUIRED) + f"\r\n330105,{name},x\r\n"
    assert refusal(text.encode(), "p.csv") == "Row 2 has a cell longer than 1000 characters."
    assert refusal(workbook(sheet(HEADER_ROW + inline_row(2, "330105", name, "x")))).startswith("Row 2 has a cell")


def test_a_shared_string_in_every_cell_is_stripped_once(ctx):
    """Every row points at one padded string: the rows share one stripped copy."""
    strings = f'<sst xmlns="{MAIN}">'.encode()
    strings += b"".join(f"<si><t>{h}</t></si>".encode() for h in REQUIRED)
    strings += b'<si><t xml:space="preserve"> ' + b"x" * 998 + b" </t></si></sst>"
    cells = '<c r="A{n}" t="s"><v>3</v></c><c r="B{n}" t="s"><v>3</v></c><c r="C{n}" t="s"><v>3</v></c>'
    header = '<row r="1">' + "".join(f'<c r="{c}1" t="s"><v>{i}</v></c>' for i, c in enumerate("ABC")) + "</row>"
    rows = header + "".join(f'<row r="{n}">{cells.format(n=n)}</row>' for n in range(2, 2002))
    got = read(workbook(sheet(rows.encode()), strings))
    assert len(got) == 2000
    assert len({id(v) for _, record in got for v in record.values()}) == 1


def test_csv_rows_stop_at_the_limits(ctx):
    header = ",".join(REQUIRED) + "\r\n"
    assert refusal((header + "330105,甲,x\r\n" * 4).encode(), "p.csv", max_rows=3) == (
        "Too many rows: at most 3 per file."
    )
    blank = (header + "\r\n" * 1_010 + "330105,甲,x\r\n").encode()
    assert refusal(blank, "p.csv", max_rows=3).startswith("The sheet runs past row 1004")


def legit_workbook(rows: int) -> bytes:
    """What an office exports: shared strings, ``rows`` people with seven columns."""
    header = ["单位编码", "姓名", "身份证号", "手机号", "类别", "等级", "登记日期"]
    strings = [*header, "330105001001", "社区专职工作者", "助理社会工作师", "2021-06-30"]
    xml = []
    for n in range(2, rows + 2):
        strings += [f"人员{n}", f"33011019800101{n:04d}", f"138{n:08d}"]
        k = len(strings) - 3
        refs = (7, k, k + 1, k + 2, 8, 9, 10)
        cells = "".join(f'<c r="{chr(65 + i)}{n}" t="s"><v>{v}</v></c>' for i, v in enumerate(refs))
        xml.append(f'<row r="{n}">{cells}</row>')
    first = '<row r="1">' + "".join(f'<c r="{chr(65 + i)}1" t="s"><v>{i}</v></c>' for i in range(7)) + "</row>"
    sst = f'<sst xmlns="{MAIN}">' + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>"
    return workbook(sheet((first + "".join(xml)).encode(), f"A1:G{rows + 1}"), sst.encode())


def test_a_full_size_workbook_is_read_and_a_slow_one_stops_at_the_budget(app, ctx):
    # That the default budget (4 s of processor time) reads 20,000 rows with room to spare is a figure of
    # bench/bench_imports.py: the processor time of one read varies with what else the machine runs.
    data = legit_workbook(20_000)
    app.config["LMS_IMPORT_READ_SECONDS"] = 60
    assert len(read_table("p.xlsx", data, {"name": ("姓名",)}, ("name",), 20_000)) == 20_000
    app.config["LMS_IMPORT_READ_SECONDS"] = 0.2
    start = time.thread_time()
    with pytest.raises(TableError) as exc, force_locale("en"):
        read_table("p.xlsx", data, {"name": ("姓名",)}, ("name",), 20_000)
    assert time.thread_time() - start < 0.2 + 0.3
    with force_locale("en"):
        assert str(exc.value.message).startswith("The file took too long to read (more than 0 seconds)")


def test_the_attendance_page_refuses_a_bomb_and_writes_nothing(app, client):
    from shegong_academy.training.models import Attendance
    from tests.factories import login
    from tests.training.helpers import course, program, session

    with app.app_context():
        w = World()
        sess = session(course(program(w.district)))
        db.session.commit()
        session_id = sess.id
    login(client, "coord")
    r = client.post(
        f"/sessions/{session_id}/import",
        data={"file": (io.BytesIO(small_bomb()), "bomb.xlsx")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 200 and "declares the range A1:XFD1048576" in r.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0


def test_an_ordinary_workbook_still_reads(ctx):
    wb = Workbook()
    ws = wb.active
    ws.append(["unit_code", "name", "id_number", "备注"])
    ws.append([330105001001, "甲", "330110198001010011", "x" * 5000])  # an ignored long column is fine
    buf = io.BytesIO()
    wb.save(buf)
    got = read(buf.getvalue())
    assert got == [(2, {"unit_code": "330105001001", "name": "甲", "id_number": "330110198001010011"})]
    text = io.StringIO()
    csv.writer(text).writerows([["unit_code", "name", "id_number"], ["330105", " 乙 ", "y"]])
    assert read(text.getvalue().encode(), "p.csv") == [(2, {"unit_code": "330105", "name": "乙", "id_number": "y"})]
