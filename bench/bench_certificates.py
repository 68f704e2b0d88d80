"""Benchmark: certificate rendering against the raw WeasyPrint floor, one at a time and in bulk.

(a) The floor comparison (PRODUCT.md §5, issue 16): the 69 transition certificates of the
    demo's bulk approval (社区专职工作者 → 项目社工), CPU seconds (``time.process_time``), medians of
    ``BENCH_REPEAT`` (5) interleaved repetitions after a warm-up:
    floor  raw WeasyPrint, ``weasyprint.HTML(string=...).write_pdf()`` of the 69 as one document
           (the concatenated HTML the bulk renderer lays out, built outside the timing);
    print  ``render_many``: the bulk print into one PDF, contexts with their QR codes built inside
           the timing, as ``lms certificates print`` and the print job do;
    issue  ``render_each``: the path of the issuing job, one PDF per certificate cut out of batch
           documents of ``RENDER_BATCH`` certificates, each hashed as the job does before storing
           it (no database, no store).
    Targets: print ≤ 1.1× the floor, issue ≤ 1.3× the floor. Then the peak RSS of each path in a
    fresh process (``ru_maxrss``), and of the issuing job itself on the demo's database (its
    database work included: the whole job's CPU is printed too, and the part of it spent signing the
    PDFs). Target: ≤ 350 MB, flat in the number of certificates — ``BENCH_FULL=1`` adds the same
    peaks for 500 (a few minutes).
(b) One certificate: QR code, sandboxed HTML and WeasyPrint PDF, the median of 10 runs after a
    warm-up (the first render of a process also loads the fonts; printed apart). Target < 0.5 s.
(c) Bulk: ``BENCH_CERTIFICATES`` (60) certificates of each design into one PDF, the median of
    3 runs. Target: 30 or more per second on 2 cores (the multi-page hours statement is not a
    certificate page: for information).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shegong_academy.credentials.render import (  # noqa: E402
    check_environment,
    load_design,
    qr_svg,
    render_each,
    render_html,
    render_many,
    render_pdf,
)
from shegong_academy.credentials.services import RENDER_BATCH  # noqa: E402

BULK = int(os.environ.get("BENCH_CERTIFICATES", "60"))
COHORT = 69  # the demo's bulk approval
FULL = 500
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
TARGETS = {"print": 1.1, "issue": 1.3}
PEAK_TARGET_MB = 350
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


# -- (a) against the floor -------------------------------------------------------------------------


def floor_html(n: int) -> tuple[str, str]:
    """The n certificates' concatenated HTML (as render_many lays a batch out) and its base URL."""
    from shegong_academy.credentials import render

    design = load_design("transition-zh")
    htmls = [render_html(design, context(i, design.name)) for i in range(n)]
    sheets = "".join(
        f'<div class="lms-sheet"{" style=break-before:page" if i else ""}>{render._body(html)}</div>'
        for i, html in enumerate(htmls)
    )
    head = htmls[0][: htmls[0].lower().index("<body")]
    return f"{head}<body>{sheets}</body></html>", design.folder.as_uri() + "/"


def run_floor(html: str, base_url: str) -> int:
    from weasyprint import HTML

    return len(HTML(string=html, base_url=base_url).write_pdf())


def run_print(n: int) -> int:
    design = load_design("transition-zh")
    return len(render_many(design, [context(i, design.name) for i in range(n)]))


def run_issue(n: int) -> int:
    design = load_design("transition-zh")
    contexts = (context(i, design.name) for i in range(n))
    digests = [hashlib.sha256(pdf).hexdigest() for pdf in render_each(design, contexts, RENDER_BATCH)]
    assert len(digests) == n
    return n


def cpu(call, *args) -> float:
    started = time.process_time()
    call(*args)
    return time.process_time() - started


def against_the_floor() -> None:
    html, base_url = floor_html(COHORT)
    run_floor(html, base_url), run_print(5), run_issue(5)  # warm-up: fonts, stylesheets, imports
    runs: dict[str, list[float]] = {"floor": [], "print": [], "issue": []}
    for _ in range(REPEAT):  # interleaved: a neighbour's burst slows all three alike
        runs["floor"].append(cpu(run_floor, html, base_url))
        runs["print"].append(cpu(run_print, COHORT))
        runs["issue"].append(cpu(run_issue, COHORT))
    floor = statistics.median(runs["floor"])
    print(f"(a) {COHORT} transition certificates, CPU s, median of {REPEAT} interleaved runs")
    print(f"    {'floor (raw WeasyPrint, one document)':<44}{floor:>7.2f}")
    labels = {"print": "bulk print (render_many, one PDF)", "issue": "issuing (render_each, a PDF each)"}
    for name, label in labels.items():
        median = statistics.median(runs[name])
        verdict = "ok" if median / floor <= TARGETS[name] else "OVER"
        print(f"    {label:<44}{median:>7.2f}  {median / floor:.2f}× the floor (target ≤ {TARGETS[name]}×) {verdict}")


def peak(kind: str, n: int) -> dict:
    """Run one path in a fresh process; its CPU seconds and peak RSS."""
    out = subprocess.run(
        [sys.executable, __file__, "--peak", kind, str(n)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure_peak(kind: str, n: int) -> None:
    """In this (fresh) process: run the path once and print its CPU and peak RSS as JSON."""
    check_environment()
    if kind == "job":
        result = demo_job(n)
    else:
        started = time.process_time()
        {"print": run_print, "issue": run_issue}[kind](n)
        result = {"cpu": time.process_time() - started}
    result["peak_mb"] = peak_rss_mb()
    print(json.dumps(result))


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (getrusage's maxrss also counts the parent it forked from)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) / 1024
    except (OSError, TypeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def demo_job(n: int) -> dict:
    """Issue project-social-worker through its job on a scratch copy of the demo (n: how many to take, at most)."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from shegong_academy import create_app
    from shegong_academy.auth.queries import user_by_username
    from shegong_academy.core.uow import transaction
    from shegong_academy.credentials.jobs import start_issuing
    from shegong_academy.credentials.models import CredentialType
    from shegong_academy.credentials.queries import eligible_ids
    from shegong_academy.demo.world import load_demo
    from shegong_academy.extensions import db

    tmp = Path(tempfile.mkdtemp(prefix="bench-certificates-"))
    try:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/demo.db",
                "SECRET_KEY": "bench-" + "k" * 40,
                "LMS_STORAGE_URL": (tmp / "store").as_uri(),
                "LMS_JOBS_EAGER": True,  # the job runs here, in this process, as a worker would run it
                "LMS_PASSWORD_TIME_COST": 1,
                "LMS_PASSWORD_MEMORY_KIB": 1024,
            }
        )
        with app.app_context():
            upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
            load_demo()
            db.session.commit()
            admin = user_by_username("admin")
            credential = db.session.scalar(select(CredentialType).where(CredentialType.name == "project-social-worker"))
            ids = eligible_ids(credential, admin)[:n]
            db.session.commit()
            started = time.process_time()
            with SigningClock() as signing, transaction():
                job = start_issuing(credential, ids, admin)
            seconds = time.process_time() - started
            assert job.state == "done", job.state
            return {
                "cpu": seconds,
                "issued": job.result["issued"],
                "signing": {
                    "one": statistics.median(signing.times),
                    "all": sum(signing.times),
                    "n": len(signing.times),
                },
            }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class SigningClock:
    """Times each PAdES signature the issuing job makes (``pdfsign.sign_pdf``, imported where the job calls it)."""

    def __init__(self):
        from shegong_academy.credentials import pdfsign

        self.module, self.original, self.times = pdfsign, pdfsign.sign_pdf, []

    def __enter__(self):
        def timed(certificate, pdf):
            started = time.process_time()
            try:
                return self.original(certificate, pdf)
            finally:
                self.times.append(time.process_time() - started)

        self.module.sign_pdf = timed
        return self

    def __exit__(self, *exc):
        self.module.sign_pdf = self.original


def peaks(sizes: list[int]) -> None:
    print(f"    peak RSS in a fresh process (target ≤ {PEAK_TARGET_MB} MB, flat in the number)")
    for n in sizes:
        for kind, label in (("print", "bulk print"), ("issue", "issuing (render_each)")):
            result = peak(kind, n)
            verdict = "ok" if result["peak_mb"] <= PEAK_TARGET_MB else "OVER"
            print(f"    {label + f' of {n}':<44}{result['peak_mb']:>7.0f} MB  ({result['cpu']:.1f} CPU s) {verdict}")
    result = peak("job", COHORT)
    verdict = "ok" if result["peak_mb"] <= PEAK_TARGET_MB else "OVER"
    print(
        f"    {'the issuing job on the demo database':<44}{result['peak_mb']:>7.0f} MB  "
        f"({result['cpu']:.1f} CPU s for {result['issued']}, database work included) {verdict}"
    )
    signing = result["signing"]
    print(
        f"    of which signing the PDFs (PAdES B-B, pyHanko): {signing['all']:.2f} CPU s for {signing['n']} "
        f"({signing['all'] / result['cpu']:.0%} of the job), {1000 * signing['one']:.1f} ms each (median)"
    )


# -- (b) one, (c) bulk per design --------------------------------------------------------------------


def one(design_name: str, i: int) -> bytes:
    design = load_design(design_name)
    return render_pdf(design, render_html(design, context(i, design_name)))


def bulk(design_name: str, n: int) -> tuple[float, float, int]:
    started, cpu_started = time.perf_counter(), time.process_time()
    design = load_design(design_name)
    pdf = render_many(design, [context(i, design_name) for i in range(n)])
    return time.perf_counter() - started, time.process_time() - cpu_started, len(pdf)


def per_design() -> None:
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
        cpu_seconds = statistics.median(r[1] for r in runs)
        rows.append((name, 1000 * statistics.median(times), BULK / seconds, BULK / cpu_seconds, runs[0][2] / 1024))

    # Per CPU second too: on a shared machine the wall clock also measures the neighbours.
    print(f"(b, c) {'design':<16}{'one (ms)':>10}{'bulk (per s)':>14}{'(per CPU s)':>13}{'bulk PDF (KiB)':>16}")
    for name, ms, rate, cpu_rate, kib in rows:
        print(f"       {name:<16}{ms:>10.0f}{rate:>14.1f}{cpu_rate:>13.1f}{kib:>16.0f}")
    certificates = [r for r in rows if r[0] != "ce-hours-zh"]
    slowest = max(r[1] for r in certificates)
    lowest = min(r[2] for r in certificates)
    print(
        f"targets: one certificate < 500 ms (slowest here {slowest:.0f} ms); "
        f"bulk >= 30 per second (lowest here {lowest:.1f}/s; the hours statement is not a certificate page)"
    )


def main() -> int:
    if sys.argv[1:2] == ["--peak"]:
        measure_peak(sys.argv[2], int(sys.argv[3]))
        return 0
    check_environment()
    load = os.getloadavg()[0]
    print(f"certificates: {os.cpu_count()} CPU(s), load average {load:.2f}", flush=True)
    started = time.perf_counter()
    one("transition-zh", 0)
    print(f"  first render of the process (fonts loaded): {1000 * (time.perf_counter() - started):.0f} ms")
    against_the_floor()
    peaks([COHORT, FULL] if os.environ.get("BENCH_FULL") == "1" else [COHORT])
    print(flush=True)
    per_design()
    return 0


if __name__ == "__main__":
    sys.exit(main())
