"""Benchmark: certificate rendering, one at a time and in bulk.

(a) one certificate: QR code, sandboxed HTML and WeasyPrint PDF, the median of 10 runs
    after a warm-up (the first render of a process also loads the fonts; printed apart);
(b) bulk: 60 certificates into one PDF with ``render_many`` (contexts with their QR codes
    built inside the timing, as ``lms certificates print`` does), the median of 3 runs.
Targets (PRODUCT.md §5): (a) under 0.5 s; (b) 30 or more certificates per second on 2 cores.
The multi-page hours statement is measured too, for information (no target).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shegong_academy.credentials.render import (  # noqa: E402
    check_environment,
    load_design,
    qr_svg,
    render_html,
    render_many,
    render_pdf,
)

BULK = int(os.environ.get("BENCH_CERTIFICATES", "60"))
SURNAMES = ["欧阳", *"付李王张刘陈杨赵黄周吴徐孙胡朱高林何郭"]
GIVEN = ["娜娜", "晓鑫", "思远", "建国", "秀英", "海燕", "志强", "丽华", "俊杰", "雨涵"]


def context(i: int, design: str) -> dict:
    code = f"K7QF-3MZR-WX2D-9TLB-HN4C-PVYE-{i:04d}-JU5Q"
    url = f"https://academy.gongshu.gov.cn/verify/{code}"
    records = [
        {"date": f"2022-{m:02d}-15", "title": f"社会工作专业能力提升第{m}讲", "kind": "培训", "hours": 3.0}
        for m in range(1, 13)
    ]
    return {
        "name": SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)],
        "id_number": f"3301**********{i % 10000:04d}",
        "unit": "拱宸桥街道和睦社区",
        "training_hours": 36.0,
        "supervision_hours": 4.5,
        "programs": ["项目社工特训营"],
        "period_year": 2022,
        "issued_on": "2022-12-20",
        "expires_on": None,
        "transition": {
            "from": "community_worker",
            "to": "project_social_worker",
            "from_label": "社区专职工作者",
            "to_label": "项目社工",
        },
        "credential": {"ce-hours-zh": "继续教育学时证明", "completion-en": "Certificate of Completion"}.get(
            design, "项目社工转岗证书"
        ),
        "issuer": "杭州市拱墅区民政局",
        "records": records if design == "ce-hours-zh" else [],
        "serial": f"GSMZ-2022-{i:05d}",
        "code": code,
        "verify_url": url,
        "qr_svg": qr_svg(url),
        "seal_url": None,
    }


def one(design_name: str, i: int) -> bytes:
    design = load_design(design_name)
    return render_pdf(design, render_html(design, context(i, design_name)))


def bulk(design_name: str, n: int) -> tuple[float, float, int]:
    started, cpu = time.perf_counter(), time.process_time()
    design = load_design(design_name)
    pdf = render_many(design, [context(i, design_name) for i in range(n)])
    return time.perf_counter() - started, time.process_time() - cpu, len(pdf)


def main() -> int:
    check_environment()
    load = os.getloadavg()[0]
    print(f"certificates: {os.cpu_count()} CPU(s), load average {load:.2f}, {BULK} certificates in bulk", flush=True)
    started = time.perf_counter()
    one("transition-zh", 0)
    print(f"  first render of the process (fonts loaded): {1000 * (time.perf_counter() - started):.0f} ms")

    rows = []
    for name in ("transition-zh", "completion-zh", "completion-en", "ce-hours-zh"):
        one(name, 1)  # warm-up
        times = []
        for i in range(10):
            t = time.perf_counter()
            one(name, i)
            times.append(time.perf_counter() - t)
        bulk(name, 5)  # warm-up
        runs = [bulk(name, BULK) for _ in range(3)]
        seconds = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rows.append((name, 1000 * statistics.median(times), BULK / seconds, BULK / cpu, runs[0][2] / 1024))
        print(f"  {name}: done", flush=True)

    print()
    # Per CPU second too: on a shared machine the wall clock also measures the neighbours.
    print(f"{'design':<16}{'one (ms)':>10}{'bulk (per s)':>14}{'(per CPU s)':>13}{'bulk PDF (KiB)':>16}")
    for name, ms, rate, cpu_rate, kib in rows:
        print(f"{name:<16}{ms:>10.0f}{rate:>14.1f}{cpu_rate:>13.1f}{kib:>16.0f}")
    certificates = [r for r in rows if r[0] != "ce-hours-zh"]
    slowest = max(r[1] for r in certificates)
    lowest = min(r[2] for r in certificates)
    print(
        f"targets: one certificate < 500 ms (slowest here {slowest:.0f} ms); "
        f"bulk >= 30 per second (lowest here {lowest:.1f}/s; the hours statement is not a certificate page)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
