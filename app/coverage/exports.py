"""CSV and XLSX of the report: one row per unit, Chinese headers."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Font

HEADERS = [
    ("name", "单位"),
    ("code", "编码"),
    ("people", "人数"),
    ("programs", "培训项目(场)"),
    ("course_sessions", "培训课次"),
    ("supervision_sessions", "督导(次)"),
    ("training_person_times", "培训人次"),
    ("supervision_person_times", "督导人次"),
    ("people_trained", "受训人数"),
    ("people_supervised", "受督导人数"),
]


def _rows(report: dict) -> tuple[list[str], list[list]]:
    cohorts = [c["name"] for c in report["cohorts"]]
    header = [h for _, h in HEADERS]
    for name in cohorts:
        header += [f"{name} 人数", f"{name} 培训率", f"{name} 督导率", f"{name} 培训目标", f"{name} 督导目标"]
    rows = []
    for item in [report, *report.get("children", [])]:
        row = [item["unit"]["name"], item["unit"]["code"] or ""] + [item[k] for k, _ in HEADERS[2:]]
        for c in item["cohorts"]:
            row += [
                c["members"],
                c["training_rate"],
                c["supervision_rate"],
                c["training_target"],
                c["supervision_target"],
            ]
        rows.append(row)
    return header, rows


def report_csv(report: dict) -> bytes:
    """The report as UTF-8 CSV with a BOM (so Excel shows the Chinese)."""
    header, rows = _rows(report)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def report_xlsx(report: dict) -> bytes:
    """The report as an XLSX workbook; rates as percentages."""
    header, rows = _rows(report)
    wb = Workbook()
    ws = wb.active
    ws.title = f"{report['year']}年{report['unit']['name']}"[:31]
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for col in ws.iter_cols(min_row=2):
        if "率" in str(col[0].offset(row=-1).value) or "目标" in str(col[0].offset(row=-1).value):
            for cell in col:
                cell.number_format = "0.0%"
    ws.column_dimensions["A"].width = 18
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
