"""Renewal and expiry, and the continuing-education statement of a registration period (学时证明)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.db import utcnow
from shegong_academy.core.domain import Invalid
from shegong_academy.credentials import badges, renewal
from shegong_academy.credentials.models import Certificate, CredentialType
from shegong_academy.credentials.render import load_design, render_html
from shegong_academy.credentials.services import (
    certificate_context,
    issue_certificate,
    issue_to_people,
    public_view,
    verification_status,
)
from shegong_academy.extensions import db
from shegong_academy.ledger.ce import counted_hours
from shegong_academy.ledger.queries import Period
from shegong_academy.supervision.services import record_supervision
from shegong_academy.training import grading
from tests.conftest import count_statements, statements, use_storage
from tests.credentials.helpers import attend, completion_type
from tests.factories import World, login, person, user
from tests.supervision import payload

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fontTools.*")


@pytest.fixture
def w(ctx, tmp_path):
    use_storage(ctx, tmp_path / "pdfs")
    return World()


def _issue(w, cred, person=None):
    return issue_certificate(credential=cred, person=person or w.person, actor=w.coord, render=False)


def test_renewing_before_expiry_waits_for_the_window_and_the_hours(w):
    cred = completion_type(w, renewal_min_hours=Decimal("4"))
    attend(w, [w.person])
    old = _issue(w, cred)
    # Not due yet: asking to renew gives the certificate back.
    again = issue_certificate(credential=cred, person=w.person, actor=w.coord, render=False, replaces=None)
    assert again.id == old.id and not renewal.is_due(old)
    assert renewal.due_count(cred, w.coord) == 0
    summary = issue_to_people(credential=cred, person_ids=[w.person.id], actor=w.coord, render=False, renew=True)
    assert (summary.issued, summary.held) == (0, 1)
    # Thirty days before expiry it is due; the hours earned before issue do not count.
    old.issued_at = utcnow() - timedelta(days=335)
    old.expires_at = utcnow() + timedelta(days=30)
    db.session.flush()
    assert renewal.is_due(old) and renewal.due_count(cred, w.coord) == 1 and renewal.due_count(cred, w.coord_out) == 0
    check = renewal.check(old)
    assert not check.eligible and check.hours == 0
    issued_on = renewal._local_day(old.issued_at)
    with force_locale("en"):
        assert [str(m) for m in check.missing] == [f"0 continuing-education hours since {issued_on}; 4 needed to renew"]
    summary = issue_to_people(credential=cred, person_ids=[w.person.id], actor=w.coord, render=False, renew=True)
    with force_locale("en"):
        assert summary.issued == 0 and "cannot renew yet" in str(summary.refused[0])
    # Four hours after issue: ready, and renewing supersedes the old certificate.
    attend(w, [w.person], hours=4, start=utcnow() - timedelta(hours=5), code="C2")
    assert renewal.check(old).eligible
    summary = issue_to_people(credential=cred, person_ids=[w.person.id], actor=w.coord, render=False, renew=True)
    assert summary.issued == 1
    new = db.session.scalar(select(Certificate).where(Certificate.id != old.id))
    assert old.superseded_by_id == new.id and new.replaces_id == old.id
    assert verification_status(old) == "superseded" and verification_status(new) == "valid"
    assert public_view(old)["superseded_by"] == new.serial
    assert new.expires_at > utcnow() + timedelta(days=360)  # a full validity from the day of renewal
    assert old.status_index in badges._set_bits(w.district) and new.status_index not in badges._set_bits(w.district)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "certificate.renew"))
    assert entry.entity_id == new.id and entry.before["renews"] == old.serial


def test_a_renewal_by_reassessment_counts_only_sittings_after_issue(w):
    crs = attend(w, [w.person])
    exam = grading.create_assessment(course=crs, data={"title": "复核考试", "pass_mark": 60}, actor=w.coord)
    grading.save_results(
        assessment=exam, entries=[grading.Entry(w.person.id, 1, "scored", 80)], actor=w.coord, source="roster"
    )
    cred = completion_type(w, renewal_assessment_ids=[exam.id])
    cred.min_training_hours = None
    cred.required_assessment_ids = [exam.id]
    old = _issue(w, cred)
    old.expires_at = utcnow() - timedelta(days=3)  # expired: due at any time after
    db.session.flush()
    assert verification_status(old) == "expired"
    since = renewal._local_day(old.issued_at)
    assert [str(m) for m in renewal.check(old).missing] == [f"复核考试：{since} 以来尚未再次通过"]
    with pytest.raises(Invalid) as refused:
        issue_certificate(credential=cred, person=w.person, actor=w.coord, render=False)
    assert "暂不能续期" in str(refused.value.message)
    grading.save_results(
        assessment=exam, entries=[grading.Entry(w.person.id, 2, "scored", 55)], actor=w.coord, source="roster"
    )
    assert not renewal.check(old).eligible  # failed again
    grading.save_results(
        assessment=exam, entries=[grading.Entry(w.person.id, 3, "scored", 91)], actor=w.coord, source="roster"
    )
    assert renewal.check(old).eligible
    new = issue_certificate(credential=cred, person=w.person, actor=w.coord, render=False)
    assert new.id != old.id and old.superseded_by_id == new.id


def test_an_expired_certificate_verifies_as_expired_with_its_date(app, w):
    cred = completion_type(w)
    attend(w, [w.person])
    cert = _issue(w, cred)
    cert.expires_at = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    cert.claims = {**cert.claims, "expires_on": "2026-03-01"}
    db.session.commit()
    code = cert.verification_code
    page = app.test_client().get(f"/verify/{code}")
    assert page.status_code == 200 and "该证书已于 2026-03-01 过期" in page.text
    api = app.test_client().get(f"/api/v1/verify/{code}").json
    assert api["status"] == "expired" and api["expires_on"] == "2026-03-01"


def test_the_renewal_tab_lists_who_is_due_and_renews_the_ticked(app, w):
    cred = completion_type(w, renewal_min_hours=Decimal("2"))
    attend(w, [w.person, w.person2])
    ready, waiting = _issue(w, cred), _issue(w, cred, w.person2)
    for cert in (ready, waiting):
        cert.issued_at = utcnow() - timedelta(days=355)
        cert.expires_at = utcnow() + timedelta(days=10)
    attend(w, [w.person], hours=2, start=utcnow() - timedelta(hours=4), code="C2")
    db.session.commit()
    client = app.test_client()
    login(client, "coord")
    page = client.get(f"/credentials/{cred.id}?show=renewal")
    assert page.status_code == 200
    assert "待续期（2）" in page.text and ready.serial in page.text and waiting.serial in page.text
    assert "可续期" in page.text and "需 2 学时方可续期" in page.text
    assert f'name="person_id" value="{w.person.id}"' in page.text
    assert f'name="person_id" value="{w.person2.id}"' not in page.text  # not ready: no box to tick
    # Eligible and waiting no longer list holders: they are renewed, not issued anew.
    assert w.person.name not in client.get(f"/credentials/{cred.id}?show=eligible").text
    url = f"/credentials/{cred.id}/approve"
    asked = client.post(url, data={"person_id": [w.person.id], "renew": "1"})
    assert asked.status_code == 200 and "续期" in asked.text and "已被新证书替换" in asked.text
    done = client.post(url, data={"person_id": [w.person.id], "renew": "1", "confirmed": "1"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Certificate, ready.id).superseded_by_id is not None
    assert db.session.get(Certificate, waiting.id).superseded_by_id is None
    # (Another district's coordinator gets 404 here: tests/test_access_matrix.py, "?show=renewal".)


def test_the_holder_sees_what_renewing_still_asks(app, w):
    cred = completion_type(w, renewal_min_hours=Decimal("5"))
    attend(w, [w.trainee_person])
    cert = _issue(w, cred, w.trainee_person)
    cert.expires_at = utcnow() + timedelta(days=20)
    db.session.commit()
    client = app.test_client()
    login(client, "trainee")
    page = client.get("/my/certificates")
    assert "待续期" in page.text and "需 5 学时方可续期" in page.text


def test_a_renewal_rule_needs_a_validity(w):
    from shegong_academy.credentials.types import type_values

    data = {
        "name": "renewable",
        "title": "培训结业证书",
        "design": "completion-zh",
        "issuer_name": "杭州市拱墅区民政局",
        "issuer_code": "GSPX",
        "min_training_hours": "3",
        "renewal_min_hours": "24",
    }
    with pytest.raises(Invalid) as refused:
        type_values(data, w.coord)
    assert "renewal_min_hours" in refused.value.errors
    values = type_values({**data, "validity_months": 36}, w.coord)
    assert values["renewal_min_hours"] == Decimal("24.0") and values["ce_period"] is False


# ---------------------------------------------------------------- 学时证明 per registration period


def _ce_credential(w) -> CredentialType:
    cred = CredentialType(
        name="ce-hours",
        title="继续教育学时证明",
        design="ce-hours-zh",
        issuer_unit=w.district,
        issuer_name="杭州市拱墅区民政局",
        issuer_code="GSJX",
        min_training_hours=Decimal("1"),
        ce_period=True,
    )
    db.session.add(cred)
    db.session.flush()
    return cred


def test_the_statement_names_the_registration_period_its_minimum_and_whether_it_was_met(w):
    holder = w.person2  # an assistant social worker
    holder.certified_on = date(2021, 3, 1)  # periods [2021-03-01, 2024-03-01), [2024-03-01, 2027-03-01)
    before = attend(w, [holder], hours=6, start=datetime(2023, 6, 1, 1, 0, tzinfo=UTC), code="OLD")
    attend(w, [holder], hours=8, start=datetime(2024, 9, 2, 1, 0, tzinfo=UTC), code="NEW")
    cred = _ce_credential(w)
    cert = _issue(w, cred, holder)
    claims = cert.claims
    assert (claims["start_date"], claims["end_date"]) == ("2024-03-01", "2027-02-28")
    assert claims["ce"] == {
        "level": "assistant",
        "level_label": "助理社会工作师",
        "minimum_hours": 72.0,
        "hours": 8.0,
        "met": False,
        "short_hours": 64.0,
        "counted": ["training", "supervision"],
    }
    assert claims["training_hours"] == 8.0  # not the 14 of all time
    assert [r["title"] for r in claims["records"]] == ["社会工作专业理念与方法"] and before.code == "OLD"
    html = render_html(load_design(cert.design), certificate_context(cert))
    assert "在本注册周期（2024年3月1日至2027年2月28日）内" in html
    assert "按助理社会工作师每个注册周期不少于" in html and "72" in html and "尚差" in html and "64" in html


def test_a_statement_of_someone_without_a_registration_counts_all_hours_and_states_no_minimum(w):
    attend(w, [w.person], hours=5)
    cert = _issue(w, _ce_credential(w))
    assert "ce" not in cert.claims and cert.claims["training_hours"] == 5.0
    html = render_html(load_design(cert.design), certificate_context(cert))
    assert "注册周期" not in html and "合计" in html


def test_a_met_minimum_is_printed_as_met_in_the_pdf(w):
    import subprocess

    from flask import current_app

    from shegong_academy.credentials.services import certificate_pdf

    current_app.config["LMS_CE_MINIMUM_HOURS"] = {"assistant": 6, "intermediate": 9, "senior": 9}
    holder = w.person2
    holder.certified_on = date(2024, 1, 15)
    attend(w, [holder], hours=8, start=datetime(2025, 4, 1, 1, 0, tzinfo=UTC))
    cert = issue_certificate(credential=_ce_credential(w), person=holder, actor=w.coord)
    assert cert.claims["ce"]["met"] is True
    text = subprocess.run(["pdftotext", "-", "-"], input=certificate_pdf(cert), capture_output=True, check=True)
    flat = "".join(text.stdout.decode().split())
    assert "在本注册周期（2024年1月15日至2027年1月14日）内" in flat and "已达到" in flat and "王五" in flat


def test_a_reissue_corrects_but_never_extends_the_validity(w):
    from shegong_academy.credentials.services import reissue_certificate

    cred = completion_type(w, renewal_min_hours=Decimal("40"))
    attend(w, [w.person])
    due = _issue(w, cred)
    due.expires_at = utcnow() + timedelta(days=10)
    db.session.flush()
    corrected = reissue_certificate(certificate=due, actor=w.coord)
    assert corrected.expires_at == due.expires_at  # a renewal's work is the renewal rule's
    assert renewal.is_due(corrected) and not renewal.check(corrected).eligible


def test_a_short_validity_is_not_due_the_day_it_is_issued(w):
    cred = completion_type(w, renewal_min_hours=Decimal("0"))
    cred.validity_months = 2
    attend(w, [w.person])
    cert = _issue(w, cred)
    assert renewal.window(cred) == timedelta(days=30)  # half of two months, not the 90-day setting
    assert not renewal.is_due(cert) and renewal.due_count(cred, w.coord) == 0
    summary = issue_to_people(credential=cred, person_ids=[w.person.id], actor=w.coord, render=False, renew=True)
    assert (summary.issued, summary.held) == (0, 1)


def test_undoing_a_renewal_batch_leaves_the_holders_category(w):
    """A renewal found its holder in the transition's category already: revoking it moves nobody back."""
    from shegong_academy.credentials.services import revoke_batch
    from shegong_academy.jobs.models import Job

    cred = completion_type(w, name="psw", transition_from="community_worker", transition_to="project_social_worker")
    attend(w, [w.person])
    first = _issue(w, cred)
    assert w.person.category == "project_social_worker"
    first.expires_at = utcnow() - timedelta(days=1)
    job = Job(kind="credentials.issue", key="renew", state="done", user_id=w.coord.id, unit_id=w.district.id, params={})
    db.session.add(job)
    db.session.flush()
    summary = issue_to_people(
        credential=cred, person_ids=[w.person.id], actor=w.coord, render=False, renew=True, job_id=job.id
    )
    assert summary.issued == 1 and first.superseded_by_id is not None
    assert revoke_batch(job_id=job.id, credential=cred, reason="误操作", actor=w.coord) == 1
    assert w.person.category == "project_social_worker"


def test_each_certificate_counts_from_its_own_issue_in_statements_that_do_not_grow(app, w):
    """Three holders asked about at once: hours and supervision from each certificate's own issue (as the
    continuing-education account counts them for that period), in as many statements as one holder takes."""
    cred = completion_type(w, renewal_min_hours=Decimal("2"))
    third = person(w.street, "孙八")
    holders = [w.person, w.person2, third]
    attend(w, holders)
    now = utcnow()
    zone = ZoneInfo("Asia/Shanghai")
    early, late, supervised = (_issue(w, cred, p) for p in holders)
    for cert, age in ((early, 300), (late, 50), (supervised, 300)):
        cert.issued_at = now - timedelta(days=age)
        cert.expires_at = now + timedelta(days=10)
    attend(w, [w.person, w.person2], hours=2, start=now - timedelta(days=100), code="C2")  # before `late` was issued
    supervisor = person(w.street, "督导甲")
    user("sup1", "supervisor", w.district, person=supervisor)
    record_supervision(
        data=payload(
            format="individual", held_on=(now - timedelta(days=100)).astimezone(zone).date(), hours=Decimal("2")
        ),
        supervisor=supervisor,
        supervisees=[third],
        actor=w.coord,
    )
    record_supervision(  # on the local day `late` was issued: counted from that day on
        data=payload(format="individual", held_on=late.issued_at.astimezone(zone).date(), hours=Decimal("1.5")),
        supervisor=supervisor,
        supervisees=[w.person2],
        actor=w.coord,
    )
    db.session.flush()
    checks = renewal.check_many([early, late, supervised], now)
    assert [checks[c.id].hours for c in (early, late, supervised)] == [Decimal("2.0"), Decimal("1.5"), Decimal("2.0")]
    assert [checks[c.id].eligible for c in (early, late, supervised)] == [True, False, True]
    for cert in (early, late, supervised):  # the account's own count of the same period
        counted = counted_hours(cert.person_id, Period(cert.issued_at, now))
        assert checks[cert.id].hours == sum(h for h in counted if h is not None)
    with force_locale("en"):
        day = renewal._local_day(late.issued_at)
        assert [str(m) for m in checks[late.id].missing] == [
            f"1.5 continuing-education hours since {day}; 2 needed to renew"
        ]
    with statements(app) as one:
        renewal.check_many([late], now)
    with statements(app) as three:
        renewal.check_many([early, late, supervised], now)
    assert len(one) == len(three) <= 3
    with pytest.MonkeyPatch.context() as patch:  # a city's certificates are asked about CHUNK at a time
        patch.setattr(renewal, "CHUNK", 2)
        with statements(app) as split:
            chunked = renewal.check_many([early, late, supervised], now)
    assert len(split) == 2 * len(three)
    assert {i: (c.hours, [str(m) for m in c.missing]) for i, c in chunked.items()} == {
        i: (c.hours, [str(m) for m in c.missing]) for i, c in checks.items()
    }
    # A type without a renewal rule asks its own rule again, for all its holders in one evaluation.
    cred.renewal_min_hours = None
    db.session.flush()
    again = renewal.check_many([early, late, supervised], now)
    assert all(c.eligible for c in again.values())  # three training hours in 2022, the rule of the type
    with statements(app) as one:
        renewal.check_many([late], now)
    with statements(app) as three:
        renewal.check_many([early, late, supervised], now)
    assert len(one) == len(three)


def test_the_notifications_run_checks_its_renewable_certificates_in_statements_that_do_not_grow(app, w, monkeypatch):
    """The scheduler asks about every certificate it may tell "renewable" at once: as many statements for
    four holders as for one, and only the holders whose hours since issue meet the rule are told."""
    from shegong_academy.notices import schedule

    cred = completion_type(w, renewal_min_hours=Decimal("2"))
    holders = [w.person, w.person2, person(w.street, "孙八"), person(w.street, "周九")]
    attend(w, holders)  # before issue: not counted
    now = utcnow()
    certificates = [_issue(w, cred, p) for p in holders]
    for cert in certificates:
        cert.issued_at = now - timedelta(days=300)
        cert.expires_at = now + timedelta(days=400)  # not due yet
    attend(w, [holders[0], holders[2]], hours=2, start=now - timedelta(days=100), code="C2")
    db.session.flush()
    told = []
    monkeypatch.setattr(schedule, "notify", lambda ids, kind, **_kw: told.append((ids[0], kind)) or 1)
    certificates[0].expires_at = now + timedelta(days=40)
    db.session.flush()
    with statements(app) as one:
        schedule.certificates_due(now)
    assert ("certificate.renewable" in {k for _p, k in told}) and len(told) == 2
    told.clear()
    for cert in certificates:
        cert.expires_at = now + timedelta(days=40)
    db.session.flush()
    with statements(app) as four:
        schedule.certificates_due(now)
    assert len(four) == len(one)
    renewable = sorted(p for p, kind in told if kind == "certificate.renewable")
    assert renewable == sorted([holders[0].id, holders[2].id])
    assert sorted(p for p, kind in told if kind == "certificate.expiring") == sorted(p.id for p in holders)


def test_the_renewal_tab_sends_as_many_statements_for_many_holders_as_for_one(app, w):
    cred = completion_type(w, renewal_min_hours=Decimal("2"), renewal_assessment_ids=[])
    more = [person(w.street, f"持证人{i}") for i in range(5)]
    attend(w, [w.person, *more])
    certificates = [_issue(w, cred, p) for p in (w.person, *more)]
    for cert in certificates:
        cert.issued_at = utcnow() - timedelta(days=355)
        cert.expires_at = utcnow() + timedelta(days=10)
    db.session.commit()
    client = app.test_client()
    login(client, "coord")
    client.get(f"/credentials/{cred.id}")  # the first page after signing in counts the bell on its own
    many = count_statements(app, lambda: client.get(f"/credentials/{cred.id}?show=renewal"))
    for cert in certificates[1:]:
        cert.expires_at = utcnow() + timedelta(days=300)  # no longer due
    db.session.commit()
    page = client.get(f"/credentials/{cred.id}?show=renewal")
    assert "待续期（1）" in page.text
    assert count_statements(app, lambda: client.get(f"/credentials/{cred.id}?show=renewal")) == many


def test_renewing_or_revoking_settles_what_told_the_holder_it_expires(w):
    """The scheduler told two holders their certificates expire within 30 days, and one of them that theirs can
    be renewed; renewing marks both of that holder's read, revoking the other's marks its own read, and a
    third holder's notice, about a certificate left as it is, stays unread."""
    from shegong_academy.credentials.services import revoke_certificate
    from shegong_academy.notices.models import Notification
    from shegong_academy.notices.schedule import certificates_due

    cred = completion_type(w, renewal_min_hours=Decimal("2"))
    holders = [w.person, w.person2, person(w.street, "孙八")]
    attend(w, holders)
    certificates = [_issue(w, cred, p) for p in holders]
    now = utcnow()
    for cert in certificates:
        cert.issued_at = now - timedelta(days=340)
        cert.expires_at = now + timedelta(days=25)
    attend(w, holders[:1], hours=2, start=now - timedelta(days=3), code="C2")  # only the first can renew
    db.session.flush()
    certificates_due(now)

    def unread() -> dict:
        rows = db.session.execute(
            select(Notification.person_id, Notification.kind).where(
                Notification.kind.in_(["certificate.expiring", "certificate.renewable"]),
                Notification.read_at.is_(None),
            )
        ).all()
        return {(p, k) for p, k in rows}

    first, second, third = (p.id for p in holders)
    assert unread() == {
        (first, "certificate.expiring"),
        (first, "certificate.renewable"),
        (second, "certificate.expiring"),
        (third, "certificate.expiring"),
    }
    summary = issue_to_people(credential=cred, person_ids=[first], actor=w.coord, render=False, renew=True)
    assert summary.issued == 1
    assert unread() == {(second, "certificate.expiring"), (third, "certificate.expiring")}
    revoke_certificate(certificate=certificates[1], reason="信息有误", actor=w.coord)
    assert unread() == {(third, "certificate.expiring")}


def test_the_valid_clause_answers_as_verifying_does(w):
    """The credentials list's counts and the bulk print select by ``verifies_valid``; it must agree with what the
    verification page answers for every state a certificate can be in."""
    from shegong_academy.credentials.queries import issued_counts, printable_ids, verifies_valid
    from shegong_academy.credentials.services import reissue_certificate, revoke_certificate

    cred = completion_type(w)
    people = [w.person] + [person(w.street, f"持证人{i}") for i in range(3)]
    attend(w, people)
    valid, revoked, expired, reissued = (_issue(w, cred, p) for p in people)
    revoke_certificate(certificate=revoked, reason="信息有误", actor=w.coord)
    expired.expires_at = utcnow() - timedelta(seconds=1)
    successor = reissue_certificate(certificate=reissued, actor=w.coord)
    db.session.flush()
    every = [valid, revoked, expired, reissued, successor]
    assert [verification_status(c) for c in every] == ["valid", "revoked", "expired", "superseded", "valid"]
    chosen = set(db.session.scalars(select(Certificate.id).where(verifies_valid())))
    assert chosen == {valid.id, successor.id}
    assert printable_ids(w.coord, cred) == sorted(chosen)
    assert issued_counts(w.coord, [cred.id]) == {cred.id: 2}
    assert issued_counts(w.coord_out, [cred.id]) == {}
