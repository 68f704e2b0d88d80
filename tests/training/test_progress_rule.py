"""A trainee's page decides completion from counts it has read; it must agree with the ledger's completions."""

from __future__ import annotations

import itertools

from shegong_academy.extensions import db
from shegong_academy.ledger.queries import completions
from shegong_academy.training.changes import cancel_session
from shegong_academy.training.grading import Entry, create_assessment, save_results
from shegong_academy.training.queries import my_courses, my_progress
from shegong_academy.training.services import enrol, record_attendance, withdraw
from tests.coverage import course, program, session
from tests.factories import World

PATTERNS = [  # the person's attendance at the course's four sessions
    ("present", "present", "present", "present"),
    ("present", "late", "present", "absent"),
    ("present", "absent", "late", "excused"),
    ("late", "excused", "excused", None),
    (None, None, None, None),
]
SHARES = ["0.5", "1"]
MARKS = [(None, None), (60, None), (60, 59), (60, 60)]  # (the 结业考核's pass mark, score)
CANCELLED = [(), (3,), (0, 1, 2, 3)]  # none, one, all (nothing scheduled)


def test_the_pages_rule_agrees_with_the_ledger(ctx):
    """Every combination of attendance, share required, pass mark and score, cancellation and withdrawal."""
    w = World()
    prog = program(w.district)
    cases = list(itertools.product(PATTERNS, SHARES, MARKS, CANCELLED, (False,)))
    cases += [(pattern, "0.5", (None, None), (), True) for pattern in PATTERNS]  # withdrawn
    courses = []
    for n, (pattern, share, (mark, score), cancelled, withdrawn) in enumerate(cases):
        crs = course(prog, code=f"C{n}", min_attendance=share)
        sessions = [session(crs, k) for k in range(4)]
        enrol(course=crs, person=w.person, actor=w.admin)
        for s, status in zip(sessions, pattern, strict=True):
            if status:
                reason = "病假" if status == "excused" else None
                record_attendance(session=s, person=w.person, status=status, reason=reason, actor=w.admin)
        for i in cancelled:
            cancel_session(session=sessions[i], reason="下雨", actor=w.admin)
        if mark is not None:  # a 结业考核 with that pass mark, and the score as its first sitting
            final = create_assessment(course=crs, data={"title": "结业考核", "pass_mark": mark}, actor=w.admin)
            if score is not None:
                entry = Entry(w.person.id, 1, "scored", score)
                save_results(assessment=final, entries=[entry], actor=w.admin, source="roster")
        if withdrawn:
            withdraw(course=crs, person=w.person, actor=w.admin)
        courses.append(crs.id)
    db.session.flush()
    ledger = {course_id for _person, course_id in db.session.execute(completions(None, [w.person.id]))}
    page = {cid for cid, progress in my_progress(w.person, courses).items() if progress["completed"]}
    assert page == ledger
    _enrolments, progress, _ranks = my_courses(w.person)  # the trainee page's own statement
    assert {cid for cid, figures in progress.items() if figures["completed"]} == ledger
    assert {cid: (f["attended"], f["scheduled"]) for cid, f in progress.items()} == {
        cid: (f["attended"], f["scheduled"]) for cid, f in my_progress(w.person, courses).items()
    }
    assert 0 < len(ledger) < len(cases) / 2  # both outcomes are tried, and not only trivially
