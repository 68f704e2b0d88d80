"""Assessments of a course and the scores people earn in them.

A course may have assessments (结业考核, a practical, a case report, an online quiz). Each person may
sit one several times: every sitting is a result (a score, absent, or excused with a reason). The
counted result of an assessment is the best sitting or the last one, as the assessment says;
absent counts as 0; excused (the counted sitting is excused) leaves the assessment out.

A person *passed* a course's assessments when every assessment not excused counts a score at or
above its pass mark and, if the course has an overall pass mark, the weighted score reaches it.
The weighted score is ``sum(weight × score / maximum) / sum(weight) × 100`` over the assessments
not excused, rounded half-up to a whole number: the figure shown is the figure compared. It exists
once every assessment not excused counts a result.

``Enrolment.score`` and ``Enrolment.passed`` hold both, recomputed by :func:`regrade` whenever a
result, an assessment or the course's pass mark changes; the ledger's completions read ``passed``
for a course with assessments (completing it needs the attendance rule *and* passing).

Services flush and never commit; they take ``actor`` and raise :mod:`app.core.domain` errors that
write nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import delete, func, select

from ..audit.services import record_audit
from ..auth.permissions import TEACH
from ..core.db import utcnow
from ..core.domain import Conflict, Invalid
from ..core.i18n import _l
from ..core.numbers import parse_decimal, points
from ..extensions import db
from ..ledger.rollups import refresh_people
from .models import (
    ASSESSMENT_KINDS,
    MAX_ASSESSMENT_SCORE,
    MAX_ATTEMPTS,
    MAX_WEIGHT,
    RESULT_OUTCOMES,
    RESULT_SOURCES,
    RETAKE_RULES,
    SEATED,
    Assessment,
    AssessmentResult,
    Course,
    Enrolment,
)
from .queries import content_for
from .services import check_scope

FINAL_TITLE = "结业考核"  # the assessment a course's pass mark stands for when it has none
FIELDS = ("title", "kind", "max_score", "pass_mark", "weight", "retake_rule")
HUNDRED = Decimal(100)


# ---------------------------------------------------------------- the rules


@dataclass(frozen=True)
class Counted:
    """The counted result of one assessment for one person."""

    outcome: str | None  # scored / absent / excused; None: no sitting yet
    score: Decimal | None  # the counted score (absent: 0); None when excused or not sat
    sittings: int
    passed: bool  # the counted score reaches the pass mark (excused and not sat: False)

    @property
    def excused(self) -> bool:
        return self.outcome == "excused"


def counted(assessment: Assessment, sittings: list[AssessmentResult]) -> Counted:
    """The result that counts among a person's ``sittings`` of ``assessment`` (any order)."""
    if not sittings:
        return Counted(None, None, 0, False)
    ordered = sorted(sittings, key=lambda r: r.attempt)
    if assessment.retake_rule == "last" or all(r.outcome == "excused" for r in ordered):
        chosen = ordered[-1]
    else:  # best: the highest score of the sittings not excused (absent counts 0); the latest of equals
        chosen = max((r for r in ordered if r.outcome != "excused"), key=lambda r: (_points(r), r.attempt))
    score = None if chosen.outcome == "excused" else _points(chosen)
    return Counted(chosen.outcome, score, len(ordered), score is not None and score >= assessment.pass_mark)


def _points(result: AssessmentResult) -> Decimal:
    return result.score if result.outcome == "scored" else Decimal(0)


def course_grade(
    course: Course, assessments: list[Assessment], sittings: dict[int, list[AssessmentResult]]
) -> tuple[int | None, bool]:
    """(weighted score 0-100 or None, passed) of one person, from their sittings by assessment id."""
    if not assessments:
        return None, False
    results = [(a, counted(a, sittings.get(a.id, []))) for a in assessments]
    taken = [(a, c) for a, c in results if not c.excused]
    if any(c.outcome is None for _a, c in taken):
        return None, False
    if not taken:  # excused from every assessment: nothing to weigh; passed unless an overall mark is asked
        return None, course.pass_mark is None
    total = sum(a.weight for a, _c in taken)
    weighted = sum(a.weight * c.score / a.max_score for a, c in taken) / total * HUNDRED
    score = int(weighted.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    passed = all(c.passed for _a, c in taken) and (course.pass_mark is None or score >= course.pass_mark)
    return score, passed


def assessments_of(course_id: int) -> list[Assessment]:
    return list(
        db.session.scalars(
            select(Assessment).where(Assessment.course_id == course_id).order_by(Assessment.position, Assessment.id)
        )
    )


def sittings_of(assessment_ids: list[int], person_ids: Iterable[int] | None = None) -> dict:
    """{(assessment id, person id): [results]} of the given assessments (and people)."""
    if not assessment_ids:
        return {}
    stmt = select(AssessmentResult).where(AssessmentResult.assessment_id.in_(assessment_ids))
    if person_ids is not None:
        stmt = stmt.where(AssessmentResult.person_id.in_(list(person_ids)))
    out: dict[tuple[int, int], list[AssessmentResult]] = {}
    for r in db.session.scalars(stmt.order_by(AssessmentResult.attempt)):
        out.setdefault((r.assessment_id, r.person_id), []).append(r)
    return out


def regrade(course: Course, person_ids: Iterable[int] | None = None, *, everyone: bool = False) -> set[int]:
    """Recompute the score and ``passed`` of the course's enrolments (of ``person_ids``); refresh the ledger
    of the people whose passing changed, or of ``everyone`` enrolled (an assessment added or deleted decides
    whether passing counts at all). Returns the ids refreshed."""
    assessments = assessments_of(course.id)
    stmt = select(Enrolment).where(Enrolment.course_id == course.id)
    if person_ids is not None:
        stmt = stmt.where(Enrolment.person_id.in_(list(person_ids)))
    enrolments = list(db.session.scalars(stmt))
    sittings = sittings_of([a.id for a in assessments], [e.person_id for e in enrolments])
    changed: set[int] = set()
    for e in enrolments:
        mine = {a.id: sittings.get((a.id, e.person_id), []) for a in assessments}
        score, passed = course_grade(course, assessments, mine)
        if (e.score, e.passed) != (score, passed):
            if e.passed != passed:
                changed.add(e.person_id)
            e.score, e.passed = score, passed
    if everyone:
        changed = {e.person_id for e in enrolments}
    db.session.flush()
    db.session.expire(course, ["assessed"])
    if changed:
        refresh_people(changed)
    return changed


# ---------------------------------------------------------------- assessments


def assessment_values(data: dict, course: Course, assessment_id: int | None = None) -> dict:
    """Check an assessment's fields; return them cleaned or raise :class:`Invalid` naming every bad field."""
    errors: dict[str, object] = {}
    title = (data.get("title") or "").strip()
    if not title or len(title) > 120:
        errors["title"] = _l("A title of 1 to 120 characters is required.")
    else:
        clash = select(Assessment.id).where(Assessment.course_id == course.id, Assessment.title == title)
        if assessment_id is not None:
            clash = clash.where(Assessment.id != assessment_id)
        if db.session.scalar(clash) is not None:
            errors["title"] = _l("This course already has an assessment of that title.")
    kind = data.get("kind") or "exam"
    if kind not in ASSESSMENT_KINDS:
        errors["kind"] = _l("Kind must be one of %(values)s.", values=", ".join(ASSESSMENT_KINDS))
    elif kind == "quiz" and not _has_quiz(course):
        errors["kind"] = _l("An online quiz needs course content with a quiz (quiz.yaml).")
    rule = data.get("retake_rule") or "best"
    if rule not in RETAKE_RULES:
        errors["retake_rule"] = _l("Retake rule must be one of %(values)s.", values=", ".join(RETAKE_RULES))
    maximum = parse_decimal(data.get("max_score", 100), "0.1")
    if maximum is None or not Decimal("0.1") <= maximum <= MAX_ASSESSMENT_SCORE:
        errors["max_score"] = _l("The maximum must be from 0.1 to %(max)s.", max=MAX_ASSESSMENT_SCORE)
        maximum = None
    mark = parse_decimal(data.get("pass_mark"), "0.1")
    if mark is None or mark < 0 or (maximum is not None and mark > maximum):
        errors["pass_mark"] = _l("The pass mark must be from 0 to the maximum.")
    weight = parse_decimal(data.get("weight", 1), "0.01")
    if weight is None or not Decimal("0.01") <= weight <= MAX_WEIGHT:
        errors["weight"] = _l("The weight must be from 0.01 to %(max)s.", max=MAX_WEIGHT)
    if errors:
        raise Invalid(_l("Invalid input."), errors)
    return {
        "title": title,
        "kind": kind,
        "max_score": maximum,
        "pass_mark": mark,
        "weight": weight,
        "retake_rule": rule,
    }


def _has_quiz(course: Course) -> bool:
    content = content_for(course)
    return content is not None and bool(content.quiz)


def _snapshot(a: Assessment) -> dict:
    return {f: (str(v) if isinstance(v, Decimal) else v) for f in FIELDS for v in (getattr(a, f),)}


def create_assessment(*, course: Course, data: dict, actor) -> Assessment:
    """Add an assessment to a course: nobody has passed it yet, so nobody completes the course until scored."""
    check_scope(actor, course.program.unit)
    values = assessment_values(data, course)
    last = db.session.scalar(select(func.max(Assessment.position)).where(Assessment.course_id == course.id))
    position = (last or 0) + 1
    assessment = Assessment(course_id=course.id, position=position, **values)
    db.session.add(assessment)
    db.session.flush()
    record_audit(
        actor=actor,
        action="assessment.create",
        entity_type="assessment",
        entity_id=assessment.id,
        after={"course_id": course.id, **_snapshot(assessment)},
    )
    regrade(course, everyone=True)
    return assessment


def update_assessment(*, assessment: Assessment, data: dict, actor) -> Assessment:
    """Correct an assessment; every enrolment of the course is graded again. A maximum below a score
    already entered is refused."""
    course = assessment.course
    check_scope(actor, course.program.unit)
    values = assessment_values({**_snapshot(assessment), **data}, course, assessment.id)
    highest = db.session.scalar(
        select(func.max(AssessmentResult.score)).where(AssessmentResult.assessment_id == assessment.id)
    )
    if highest is not None and values["max_score"] < highest:
        raise Conflict(
            _l("A score of %(score)s was entered: the maximum cannot be lower.", score=points(highest)),
            {"max_score": _l("At least %(score)s.", score=points(highest))},
        )
    before = _snapshot(assessment)
    for key, value in values.items():
        setattr(assessment, key, value)
    db.session.flush()
    after = _snapshot(assessment)
    changed = {k for k in FIELDS if before[k] != after[k]}
    if changed:
        record_audit(
            actor=actor,
            action="assessment.update",
            entity_type="assessment",
            entity_id=assessment.id,
            before={k: before[k] for k in sorted(changed)},
            after={k: after[k] for k in sorted(changed)},
        )
        regrade(course)
    return assessment


def result_count(assessment: Assessment) -> tuple[int, int]:
    """(sittings entered, people with one) of an assessment: what deleting it would remove."""
    sittings, people = db.session.execute(
        select(func.count(), func.count(AssessmentResult.person_id.distinct())).where(
            AssessmentResult.assessment_id == assessment.id
        )
    ).one()
    return sittings, people


def credentials_requiring(assessments: list[Assessment]) -> dict[int, list[str]]:
    """{assessment id: titles of the credential types whose rule names it} (a handful of types: read once)."""
    from ..credentials.models import CredentialType  # credentials build on training

    ids = {a.id for a in assessments}
    out: dict[int, list[str]] = {}
    for credential in db.session.scalars(select(CredentialType).order_by(CredentialType.id)):
        for assessment_id in ids & set(credential.required_assessment_ids or []):
            out.setdefault(assessment_id, []).append(credential.title)
    return out


def delete_assessment(*, assessment: Assessment, actor) -> None:
    """Delete an assessment with every sitting entered for it (the audit keeps what it was and how many)."""
    course = assessment.course
    check_scope(actor, course.program.unit)
    requiring = credentials_requiring([assessment]).get(assessment.id)
    if requiring:
        raise Conflict(
            _l(
                "%(credentials)s requires passing it: change that credential's rule first.",
                credentials="、".join(requiring),
            )
        )
    sittings, people = result_count(assessment)
    before = {"course_id": course.id, **_snapshot(assessment), "sittings": sittings, "people": people}
    assessment_id = assessment.id
    db.session.execute(delete(AssessmentResult).where(AssessmentResult.assessment_id == assessment_id))
    db.session.delete(assessment)
    db.session.flush()
    record_audit(
        actor=actor, action="assessment.delete", entity_type="assessment", entity_id=assessment_id, before=before
    )
    regrade(course, everyone=True)


def ensure_final_assessment(course: Course, actor) -> Assessment | None:
    """A course given an overall pass mark and no assessment gets one to score: 结业考核, out of 100."""
    if course.pass_mark is None or assessments_of(course.id):
        return None
    return create_assessment(
        course=course,
        data={"title": FINAL_TITLE, "kind": "exam", "max_score": 100, "pass_mark": course.pass_mark, "weight": 1},
        actor=actor,
    )


# ---------------------------------------------------------------- results


@dataclass
class Entry:
    """One sitting to record: ``outcome`` None clears the sitting (only a person's latest may be cleared)."""

    person_id: int
    attempt: int
    outcome: str | None
    score: object = None
    reason: str | None = None


def _check(entry: Entry, assessment: Assessment, latest: int) -> tuple[dict, Decimal | None, str | None]:
    """The errors of one entry (field → message), its score and its reason."""
    errors: dict[str, object] = {}
    if not isinstance(entry.attempt, int) or not 1 <= entry.attempt <= min(latest + 1, MAX_ATTEMPTS):
        errors["attempt"] = (
            _l("At most %(n)d sittings.", n=MAX_ATTEMPTS)
            if latest >= MAX_ATTEMPTS
            else _l("Sitting %(n)d comes next: record the sittings in order.", n=latest + 1)
        )
    reason = (entry.reason or "").strip()[:255] or None
    score = None
    if entry.outcome is None:
        if entry.attempt != latest or latest == 0:
            errors["attempt"] = _l("Only a person's latest sitting can be cleared.")
        return errors, None, None
    if entry.outcome not in RESULT_OUTCOMES:
        errors["outcome"] = _l("Outcome must be one of %(values)s.", values=", ".join(RESULT_OUTCOMES))
    elif entry.outcome == "scored":
        score = parse_decimal(entry.score, "0.1")
        if score is None or not 0 <= score <= assessment.max_score:
            errors["score"] = _l("The score must be from 0 to %(max)s.", max=points(assessment.max_score))
    elif entry.score not in (None, ""):
        errors["score"] = _l("Absent and excused take no score.")
    if entry.outcome == "excused" and not reason:
        errors["reason"] = _l("Excusing someone needs a reason.")
    return errors, score, reason


def score_problems(entry: Entry, assessment: Assessment) -> dict[str, object]:
    """What is wrong with an entry's outcome, score and reason alone, whoever and whichever sitting it is for
    (an import reports them on a row whose person or sitting is wrong too)."""
    problems, _score, _reason = _check(entry, assessment, MAX_ATTEMPTS)
    problems.pop("attempt", None)
    return problems


def _view(r: AssessmentResult | None):
    if r is None:
        return None
    return [r.outcome, None if r.score is None else str(r.score), r.reason]


def save_results(
    *, assessment: Assessment, entries: list[Entry], actor, source: str
) -> dict[int, AssessmentResult | None]:
    """Record sittings of many people: every entry is checked first, and all are written or none.

    Errors name the person: ``{"<person id>.score": message}``. Entries that change nothing are left as
    they are; one audit entry lists what changed (before → after). Returns {person id: the sitting written
    (None: cleared)}.
    """
    course = assessment.course
    check_scope(actor, course.program.unit, TEACH)
    if source not in RESULT_SOURCES:
        raise Invalid(_l("Invalid input."), {"source": _l("Unknown source.")})
    people = [e.person_id for e in entries]
    seated = set(
        db.session.scalars(
            select(Enrolment.person_id).where(
                Enrolment.course_id == course.id, Enrolment.status.in_(SEATED), Enrolment.person_id.in_(people)
            )
        )
    )
    sittings = sittings_of([assessment.id], people)
    errors: dict[str, object] = {}
    checked = []
    seen: set[int] = set()
    for entry in entries:
        mine = {r.attempt: r for r in sittings.get((assessment.id, entry.person_id), [])}
        if entry.person_id not in seated:
            errors[f"{entry.person_id}.person_id"] = _l("Not enrolled in this course.")
            continue
        if entry.person_id in seen:
            errors[f"{entry.person_id}.person_id"] = _l("Listed twice.")
            continue
        seen.add(entry.person_id)
        problems, score, reason = _check(entry, assessment, max(mine, default=0))
        errors.update({f"{entry.person_id}.{k}": v for k, v in problems.items()})
        checked.append((entry, score, reason, mine.get(entry.attempt)))
    if errors:
        raise Invalid(_l("Nothing was saved: correct the marked rows."), errors)
    now = utcnow()
    written: dict[int, AssessmentResult | None] = {}
    changes: dict[str, list] = {}
    for entry, score, reason, old in checked:
        new = None if entry.outcome is None else [entry.outcome, None if score is None else str(score), reason]
        if _view(old) == new:
            written[entry.person_id] = old
            continue
        changes[f"{entry.person_id}#{entry.attempt}"] = [_view(old), new]
        if entry.outcome is None:
            db.session.delete(old)
            written[entry.person_id] = None
            continue
        row = old or AssessmentResult(assessment_id=assessment.id, person_id=entry.person_id, attempt=entry.attempt)
        row.outcome, row.score, row.reason = entry.outcome, score, reason
        row.source, row.entered_by_id, row.entered_at = source, getattr(actor, "id", None), now
        db.session.add(row)
        written[entry.person_id] = row
    if changes:
        db.session.flush()
        record_audit(
            actor=actor,
            action="assessment.results",
            entity_type="assessment",
            entity_id=assessment.id,
            after={"source": source, "changes": changes},
        )
        regrade(course, {int(key.split("#")[0]) for key in changes})
    return written


# ---------------------------------------------------------------- pages


@dataclass
class RosterRow:
    """One seated person on an assessment's roster: their sittings, what counts, and the course grade."""

    person: object
    enrolment: Enrolment
    sittings: dict[int, AssessmentResult]
    result: Counted

    @property
    def latest(self) -> int:
        return max(self.sittings, default=0)


def assessment_roster(assessment: Assessment) -> list[RosterRow]:
    """The seated people of the assessment's course by name, with their sittings (two statements)."""
    from ..people.models import Person

    pairs = db.session.execute(
        select(Enrolment, Person)
        .join(Person, Person.id == Enrolment.person_id)
        .where(Enrolment.course_id == assessment.course_id, Enrolment.status.in_(SEATED))
        .order_by(Person.name, Person.id)
    ).all()
    sittings = sittings_of([assessment.id])
    rows = []
    for enrolment, person in pairs:
        mine = sittings.get((assessment.id, person.id), [])
        rows.append(RosterRow(person, enrolment, {r.attempt: r for r in mine}, counted(assessment, mine)))
    return rows


def assessment_figures(assessments: list[Assessment], seated: int) -> dict[int, dict[str, int]]:
    """{assessment id: {"assessed": people with a counted result not excused, "passed": of them passing,
    "excused": people excused, "seated": people holding a seat}} in one statement."""
    if not assessments:
        return {}
    by_id = {a.id: a for a in assessments}
    sittings = sittings_of(list(by_id))
    out = {a.id: {"assessed": 0, "passed": 0, "excused": 0, "seated": seated} for a in assessments}
    seated_ids = None
    if sittings:
        course_id = assessments[0].course_id
        seated_ids = set(
            db.session.scalars(
                select(Enrolment.person_id).where(Enrolment.course_id == course_id, Enrolment.status.in_(SEATED))
            )
        )
    for (assessment_id, person_id), mine in sittings.items():
        if person_id not in seated_ids:
            continue
        c = counted(by_id[assessment_id], mine)
        figures = out[assessment_id]
        if c.excused:
            figures["excused"] += 1
        else:
            figures["assessed"] += 1
            figures["passed"] += c.passed
    return out


def results_of_person(person_id: int, course_ids: list[int] | None = None) -> dict[int, list[tuple]]:
    """{course id: [(assessment, counted result)]} of a person's courses with assessments (two statements)."""
    stmt = select(Assessment).order_by(Assessment.course_id, Assessment.position, Assessment.id)
    if course_ids is not None:
        if not course_ids:
            return {}
        stmt = stmt.where(Assessment.course_id.in_(course_ids))
    else:
        stmt = stmt.where(Assessment.course_id.in_(select(Enrolment.course_id).where(Enrolment.person_id == person_id)))
    assessments = list(db.session.scalars(stmt))
    sittings = sittings_of([a.id for a in assessments], [person_id])
    out: dict[int, list[tuple]] = {}
    for a in assessments:
        out.setdefault(a.course_id, []).append((a, counted(a, sittings.get((a.id, person_id), []))))
    return out
