"""The coverage exports' columns: the report (one row per unit) and the list of people still missing.

Headers are translated when a file is written: in the language of the page's user, and in
``LMS_DEFAULT_LANGUAGE`` (Chinese by default) from the command line.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core.exports import Column, Kind, Table, csv_bytes, xlsx_bytes
from ..core.i18n import _, _l
from .queries import Missing

# (key in the report, column); the unit's name and code come first
FIGURES = [
    ("people", Column(_l("Headcount"), Kind.INTEGER)),
    ("programs", Column(_l("Programs held"), Kind.INTEGER)),
    ("course_sessions", Column(_l("Course sessions"), Kind.INTEGER)),
    ("supervision_sessions", Column(_l("Supervision sessions"), Kind.INTEGER)),
    ("training_person_times", Column(_l("Training person-times"), Kind.INTEGER)),
    ("supervision_person_times", Column(_l("Supervision person-times"), Kind.INTEGER)),
    ("people_trained", Column(_l("People trained"), Kind.INTEGER)),
    ("people_supervised", Column(_l("People supervised"), Kind.INTEGER)),
]
# (key in a cohort's figures, header suffix, kind): five columns per cohort
COHORT_FIGURES = [
    ("members", _l("Headcount"), Kind.INTEGER),
    ("training_rate", _l("Training rate"), Kind.PERCENT),
    ("supervision_rate", _l("Supervision rate"), Kind.PERCENT),
    ("training_target", _l("Training goal"), Kind.PERCENT),
    ("supervision_target", _l("Supervision goal"), Kind.PERCENT),
]


def report_table(report: dict) -> Table:
    """The report (PRODUCT.md §3, without ids) as a table: the unit, then each child unit."""
    columns = [Column(_l("Unit name"), width=18), Column(_l("Code"), width=14)] + [c for _key, c in FIGURES]
    for cohort in report["cohorts"]:
        columns += [Column(f"{cohort['name']} {suffix}", kind) for _key, suffix, kind in COHORT_FIGURES]
    rows = []
    for item in [report, *report.get("children", [])]:
        row = [item["unit"]["name"], item["unit"]["code"]] + [item[key] for key, _column in FIGURES]
        for cohort in item["cohorts"]:
            row += [cohort[key] for key, _suffix, _kind in COHORT_FIGURES]
        rows.append(row)
    title = _("%(year)s %(unit)s", year=report["year"], unit=report["unit"]["name"])
    return Table(title, columns, rows)


def report_csv(report: dict) -> bytes:
    """Write the report as CSV (the CLI's ``--format csv``)."""
    return csv_bytes(report_table(report))


def report_xlsx(report: dict) -> bytes:
    """Write the report as XLSX (the CLI's ``--format xlsx``)."""
    return xlsx_bytes(report_table(report))


MISSING_COLUMNS = [
    Column(_l("Name"), width=12),
    Column(_l("Unit name"), width=18),
    Column(_l("Training hours"), Kind.DECIMAL),
    Column(_l("Supervision hours"), Kind.DECIMAL),
    Column(_l("Training hours short"), Kind.DECIMAL),
    Column(_l("Supervision hours short"), Kind.DECIMAL),
    Column(_l("Courses short"), Kind.INTEGER),
    Column(_l("Supervision sessions short"), Kind.INTEGER),
    Column(_l("No training attended")),
    Column(_l("No supervision received")),
    Column(_l("Assessments not passed"), width=24),
]


def missing_table(missing: Iterable[Missing], title: str) -> Table:
    """The people still missing from a cohort, what each lacks (empty when met)."""
    yes = _("Yes")
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
            yes if m.no_training else "",
            yes if m.no_supervision else "",
            "; ".join(f"{title} {'—' if score is None else score}" for title, score in m.not_passed),
        ]
        for m in missing
    )
    return Table(title, MISSING_COLUMNS, rows)
