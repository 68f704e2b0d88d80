"""Benchmark: reading a full-size workbook (20,000 people, seven columns) against the import's read budget.

An upload is read under a deadline of ``LMS_IMPORT_READ_SECONDS`` of processor time (default 4 s), so
that a crafted workbook cannot hold a worker; a legitimate file of the largest size an import takes
must fit in it with room to spare. Printed: the median processor time of five reads, its share of the
budget, and the floor beside it (openpyxl's own read-only load of the same rows, no checks).
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROWS = 20_000
ROUNDS = 5


def main() -> int:
    from openpyxl import load_workbook

    from shegong_academy import create_app
    from shegong_academy.core.tabular import READ_SECONDS, read_table
    from tests.test_import_bombs import legit_workbook

    data = legit_workbook(ROWS)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "bench-" + "k" * 40})
    app.config["LMS_IMPORT_READ_SECONDS"] = 600  # measured here, not enforced

    def ours():
        with app.app_context():
            assert len(read_table("p.xlsx", data, {"name": ("姓名",)}, ("name",), ROWS)) == ROWS

    def floor():
        book = load_workbook(io.BytesIO(data), read_only=True)
        assert sum(1 for _ in book.active.iter_rows(values_only=True)) == ROWS + 1
        book.close()

    times: dict[str, list[float]] = {"read_table": [], "openpyxl read-only": []}
    for _ in range(ROUNDS):
        for name, run in (("read_table", ours), ("openpyxl read-only", floor)):
            start = time.thread_time()
            run()
            times[name].append(time.thread_time() - start)
    ours_s, floor_s = (statistics.median(times[n]) for n in times)
    print(f"== import read budget, {ROWS:,}-row workbook ({len(data):,} bytes), medians of {ROUNDS}")
    print(f"    openpyxl read-only   {floor_s:6.2f} s processor time")
    print(f"    read_table           {ours_s:6.2f} s = {ours_s / floor_s:.2f}× openpyxl")
    print(f"    budget (default)     {READ_SECONDS:6.2f} s: the read uses {ours_s / READ_SECONDS:.0%} of it")
    return 0 if ours_s < READ_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
