"""The coverage exports' columns: the report (one row per unit) and the list of people still missing."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.exports import Column, Kind, Table, csv_bytes, xlsx_bytes
from .queries import Missing

# (key in the report, column); the unit's name and code come first
FIGURES = [
    ("people", Column("人数", Kind.INTEGER)),
    ("programs", Column("培训项目(场)", Kind.INTEGER)),
    ("course_sessions", Column("培训课次", Kind.INTEGER)),
    ("supervision_sessions", Column("督导(次)", Kind.INTEGER)),
    ("training_person_times", Column("培训人次", Kind.INTEGER)),
    ("supervision_person_times", Column("督导人次", Kind.INTEGER)),
    ("people_trained", Column("受训人数", Kind.INTEGER)),
    ("people_supervised", Column("受督导人数", Kind.INTEGER)),
]
# (key in a cohort's figures, header suffix, kind): five columns per cohort
COHORT_FIGURES = [
    ("members", "人数", Kind.INTEGER),
    ("training_rate", "培训率", Kind.PERCENT),
    ("supervision_rate", "督导率", Kind.PERCENT),
    ("training_target", "培训目标", Kind.PERCENT),
    ("supervision_target", "督导目标", Kind.PERCENT),
]


def report_table(report: dict) -> Table:
    """The report (PRODUCT.md §3, without ids) as a table: the unit, then each child unit."""
    columns = [Column("单位", width=18), Column("编码", width=14)] + [c for _, c in FIGURES]
    for cohort in report["cohorts"]:
        columns += [Column(f"{cohort['name']} {suffix}", kind) for _, suffix, kind in COHORT_FIGURES]
    rows = []
    for item in [report, *report.get("children", [])]:
        row = [item["unit"]["name"], item["unit"]["code"]] + [item[key] for key, _ in FIGURES]
        for cohort in item["cohorts"]:
            row += [cohort[key] for key, _, _ in COHORT_FIGURES]
        rows.append(row)
    return Table(f"{report['year']}年{report['unit']['name']}", columns, rows)


def report_csv(report: dict) -> bytes:
    """Write the report as CSV (the CLI's ``--format csv``)."""
    return csv_bytes(report_table(report))


def report_xlsx(report: dict) -> bytes:
    """Write the report as XLSX (the CLI's ``--format xlsx``)."""
    return xlsx_bytes(report_table(report))


MISSING_COLUMNS = [
    Column("姓名", width=12),
    Column("单位", width=18),
    Column("培训学时", Kind.DECIMAL),
    Column("督导学时", Kind.DECIMAL),
    Column("缺培训学时", Kind.DECIMAL),
    Column("缺督导学时", Kind.DECIMAL),
    Column("缺完成课程", Kind.INTEGER),
    Column("缺督导次数", Kind.INTEGER),
    Column("未参加培训"),
    Column("未接受督导"),
]


def missing_table(missing: Iterable[Missing], title: str) -> Table:
    """The people still missing from a cohort, what each lacks (empty when met)."""
    rows = (
        [
            m.person.name,
            m.unit_name,
            m.training_hours,
            m.supervision_hours,
            m.lacks_training,
            m.lacks_supervision,
            m.lacks_courses,
            m.lacks_sessions,
            "是" if m.no_training else "",
            "是" if m.no_supervision else "",
        ]
        for m in missing
    )
    return Table(title, MISSING_COLUMNS, rows)
