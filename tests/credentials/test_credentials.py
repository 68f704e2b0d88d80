"""Credentials: eligibility, issuing, transition, serials under concurrency, verification, revoke/reissue, PDFs."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shegong_academy.core.db import utcnow
from shegong_academy.core.domain import Invalid
from shegong_academy.credentials.models import Certificate, CredentialType
from shegong_academy.credentials.services import (
    eligibility,
    issue_certificate,
    reissue_certificate,
    revoke_certificate,
    verification_status,
)
from shegong_academy.extensions import db
from shegong_academy.people.models import Person
from tests.conftest import use_storage
from tests.factories import World, login, person
from tests.training.helpers import course, program, session

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fontTools.*")


def _credential(w, **kw) -> CredentialType:
    cred = CredentialType(
        name=kw.pop("name", "psw"),
        title="项目社工转岗证书",
        design=kw.pop("design", "transition-zh"),
        issuer_unit=w.district,
        issuer_name="杭州市拱墅区民政局",
        issuer_code="GSMZ",
        min_training_hours=Decimal("3"),
        transition_from="community_worker",
        transition_to="project_social_worker",
        **kw,
    )
    db.session.add(cred)
    db.session.flush()
    return cred


def _trained(w, people, hours=3):
    from shegong_academy.training.services import enrol, record_attendance

    crs = course(program(w.district), code=f"C{len(people)}", hours=hours)
    s1 = session(crs, hours=hours)
    for p in people:
        enrol(course=crs, person=p, actor=w.coord)
        record_attendance(session=s1, person=p, status="present", actor=w.coord)


def issue_unrendered(credential_id: int, person_id: int) -> Certificate:
    """Issue by ids, without rendering the PDF (for tests about something else)."""
    return issue_certificate(
        credential=db.session.get(CredentialType, credential_id),
        person=db.session.get(Person, person_id),
        actor=None,
        render=False,
    )


@pytest.fixture
def w(ctx, tmp_path):
    use_storage(ctx, tmp_path / "pdfs")
    return World()


def test_eligibility_lists_reasons_and_issuing_applies_the_transition(w):
    cred = _credential(w)
    _trained(w, [w.person])
    items = {i.person.id: i for i in eligibility(cred, w.coord)}
    assert items[w.person.id].eligible
    assert not items[w.trainee_person.id].eligible
    assert "3" in str(items[w.trainee_person.id].missing[0])
    assert w.person2.id not in items  # already a project social worker: not a candidate
    cert = issue_certificate(credential=cred, person=w.person, actor=w.coord)
    assert re.fullmatch(r"GSMZ-\d{4}-00001", cert.serial)
    assert re.fullmatch(r"([A-Z2-7]{4}-){7}[A-Z2-7]{4}", cert.verification_code)  # 160 bits, grouped
    assert w.person.category == "project_social_worker"
    assert cert.claims["id_number"] == w.person.id_number_masked
    assert cert.claims["transition"]["to"] == "project_social_worker"
    assert cert.pdf_sha256 and len(cert.pdf_sha256) == 64
    # Issuing twice does not duplicate.
    assert issue_certificate(credential=cred, person=w.person, actor=w.coord).id == cert.id
    assert db.session.scalar(select(func.count(Certificate.id))) == 1


def test_ineligible_or_out_of_scope_is_refused(w):
    cred = _credential(w)
    with pytest.raises(Invalid):
        issue_certificate(credential=cred, person=w.trainee_person, actor=w.coord)
    from shegong_academy.core.domain import NotFound

    with pytest.raises(NotFound):
        issue_certificate(credential=cred, person=w.outsider, actor=w.coord)
    assert db.session.scalar(select(func.count(Certificate.id))) == 0


def test_revoke_reissue_and_expiry_verify_as_specified(w, app):
    cred = _credential(w, validity_months=12)
    _trained(w, [w.person])
    cert = issue_certificate(credential=cred, person=w.person, actor=w.coord)
    assert verification_status(cert) == "valid"
    new = reissue_certificate(certificate=cert, actor=w.coord)
    assert new.serial != cert.serial and verification_status(cert) == "superseded"
    with pytest.raises(Invalid):
        revoke_certificate(certificate=new, reason=" ", actor=w.coord)
    revoke_certificate(certificate=new, reason="信息有误", actor=w.coord)
    assert verification_status(new) == "revoked"
    new.status = "valid"
    new.expires_at = utcnow() - timedelta(days=1)
    assert verification_status(new) == "expired"


def test_verification_page_and_api(w, app):
    cred = _credential(w)
    _trained(w, [w.person])
    cert = issue_certificate(credential=cred, person=w.person, actor=w.coord)
    db.session.commit()
    full_id = None
    from shegong_academy.people.services import reveal_id_number

    full_id = reveal_id_number(person=w.person, actor=w.admin)
    db.session.commit()
    client = app.test_client()
    page = client.get(f"/verify/{cert.verification_code}")
    assert page.status_code == 200
    assert "有效" in page.text or "valid" in page.text
    # The code is on the paper only: its holder sees what the paper shows, the full name and the masked ID.
    assert "李四" in page.text and w.person.id_number_masked in page.text and w.community.name in page.text
    assert full_id not in page.text
    api = client.get(f"/api/v1/verify/{cert.verification_code.lower()}")
    assert api.status_code == 200 and api.json["status"] == "valid" and api.json["serial"] == cert.serial
    assert api.json["holder"] == "李四" and api.json["id_number"] == w.person.id_number_masked
    assert full_id not in json.dumps(api.json, ensure_ascii=False)
    forged = client.get("/verify/AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH")
    assert forged.status_code == 404
    assert client.get("/api/v1/verify/AAAA-BBBB").status_code == 404
    revoke_certificate(certificate=db.session.get(Certificate, cert.id), reason="信息有误", actor=w.coord)
    db.session.commit()
    assert client.get(f"/api/v1/verify/{cert.verification_code}").json["status"] == "revoked"
    assert "信息有误" in client.get(f"/verify/{cert.verification_code}").text


def test_verification_is_rate_limited(db_url):
    from tests.conftest import make_app

    app = make_app(db_url, LMS_VERIFY_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [client.get("/verify/AAAA-BBBB").status_code for _ in range(5)]
    assert codes[:3] == [404] * 3 and 429 in codes[3:]
    with app.app_context():
        db.engine.dispose()


def test_concurrent_issuing_gives_distinct_gap_free_serials(app, tmp_path):
    use_storage(app, tmp_path / "pdfs")
    with app.app_context():
        w = World()
        cred = _credential(w)
        people = [person(w.community, f"学员{i}") for i in range(8)]
        _trained(w, people)
        db.session.commit()
        ids, cred_id = [p.id for p in people], cred.id
    barrier = threading.Barrier(len(ids))
    errors = []

    def work(pid):
        with app.app_context():
            try:
                barrier.wait()
                issue_certificate(
                    credential=db.session.get(CredentialType, cred_id),
                    person=db.session.get(Person, pid),
                    actor=None,
                    render=False,
                )
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(pid,)) for pid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with app.app_context():
        serials = sorted(db.session.scalars(select(Certificate.serial)))
        assert [int(s.rsplit("-", 1)[1]) for s in serials] == list(range(1, len(ids) + 1))


def _setup_issued(app, tmp_path):
    """A certificate of the trainee, set up in its own app context (requests must not share it)."""
    use_storage(app, tmp_path / "pdfs")
    with app.app_context():
        w = World()
        cred = _credential(w)
        _trained(w, [w.trainee_person, w.person])
        cert = issue_certificate(credential=cred, person=w.trainee_person, actor=w.coord)
        db.session.commit()
        return cred.id, cert.id, cert.pdf_sha256, w.person.id


def test_certificate_pages_scope_and_pdf(app, tmp_path):
    import hashlib

    _cred_id, cert_id, sha, _pid = _setup_issued(app, tmp_path)
    client = app.test_client()
    login(client, "trainee")
    assert client.get(f"/certificates/{cert_id}").status_code == 200
    pdf = client.get(f"/certificates/{cert_id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert hashlib.sha256(pdf.data).hexdigest() == sha  # served from storage, not re-rendered
    pdf.close()
    badge = client.get(f"/certificates/{cert_id}/badge.json").json
    assert "OpenBadgeCredential" in badge["type"]
    assert badge["credentialSubject"]["achievement"]["name"] == "项目社工转岗证书"
    other = app.test_client()
    login(other, "coordout")
    assert other.get(f"/certificates/{cert_id}").status_code == 404
    assert other.get(f"/certificates/{cert_id}.pdf").status_code == 404
    coord = app.test_client()
    login(coord, "coord")
    assert coord.get(f"/certificates/{cert_id}").status_code == 200


def test_demo_transition_certificates_print_as_one_pdf(db_url, tmp_path):
    from tests.conftest import make_app

    app = make_app(db_url, LMS_STORAGE_URL=(tmp_path / "pdfs").as_uri())
    runner = app.test_cli_runner()
    with app.app_context():
        from shegong_academy.demo.world import load_demo

        load_demo()
        db.session.commit()
    result = runner.invoke(
        args=["lms", "certificates", "issue", "--credential", "project-social-worker", "--unit", "330105"]
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "all.pdf"
    result = runner.invoke(
        args=[
            "lms",
            "certificates",
            "print",
            "--credential",
            "project-social-worker",
            "--unit",
            "330105",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Pages:\s+69\b", info)
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Noto-Serif-CJK-SC\S*\s.*\syes\s+yes", fonts)
    with app.app_context():
        certs = db.session.scalars(select(Certificate)).all()
        assert len(certs) == 69
        for c in certs:
            assert c.claims["name"] in text and c.serial in text and c.verification_code in text
        assert "证书编号：" in text and "验证码：" in text
        assert {c.person.category for c in certs} == {"project_social_worker"}
        # Issuing again issues nothing new.
    again = runner.invoke(
        args=["lms", "certificates", "issue", "--credential", "project-social-worker", "--unit", "330105"]
    )
    assert again.exit_code == 0 and "certificates issued: 0" in again.output
    revoke = runner.invoke(args=["lms", "certificates", "revoke", "NOPE-1", "--reason", "x"])
    assert revoke.exit_code != 0 and "unknown serial" in revoke.output
    with app.app_context():
        db.engine.dispose()


def test_credential_pages(app, tmp_path):
    cred_id, _cert_id, _sha, person_id = _setup_issued(app, tmp_path)
    client = app.test_client()
    login(client, "coord")
    page = client.get(f"/credentials/{cred_id}")
    assert page.status_code == 200 and "李四" in page.text
    assert client.get(f"/credentials/{cred_id}?show=issued").status_code == 200
    r = client.post(f"/credentials/{cred_id}/approve", data={"person_id": [person_id], "confirmed": "1"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(Certificate.id))) == 2
    assert client.get("/credentials/").status_code == 200
    out = app.test_client()
    login(out, "coordout")
    assert out.get(f"/credentials/{cred_id}").status_code == 404


def test_the_credentials_list_names_a_credential_in_the_pages_language(app):
    """A Chinese page names a credential in Chinese only, an English page in English with the Chinese beneath;
    its key (what the command line takes) is shown to the administrator, not to a coordinator."""
    with app.app_context():
        _credential(World(), name="psw-key", title_en="Project social worker transition certificate")
        db.session.commit()

    def cell(client, lang):
        page = client.get("/credentials/", headers={"Accept-Language": lang}).text
        return re.sub(r"\s+", " ", re.search(r"<tbody>.*?</td>", page, re.S).group(0))

    coordinator = app.test_client()
    login(coordinator, "coord")
    chinese = cell(coordinator, "zh-CN")
    assert "项目社工转岗证书" in chinese and "Project social worker" not in chinese and "psw-key" not in chinese
    english = cell(coordinator, "en")
    link = r'<a [^>]*>Project social worker transition certificate</a> ?<div class="muted">项目社工转岗证书'
    assert re.search(link, english), english
    assert "psw-key" not in english
    administrator = app.test_client()
    login(administrator, "admin")
    assert "psw-key" in cell(administrator, "zh-CN")


def test_a_trainee_sees_the_credentials_within_reach_and_what_each_still_asks(app, tmp_path):
    """Besides their certificates, a trainee's page lists the credentials of the units above them that they
    hold none of, each with its rule met (waiting for approval) or what is still missing; not a credential
    they hold, one of another district, nor a transition from another category."""
    use_storage(app, tmp_path / "pdfs")
    with app.app_context():
        w = World()
        _trained(w, [w.trainee_person], hours=3)
        titles = {
            "met": "达标的证书",  # three training hours, from 社区专职工作者: met
            "short": "差学时的证书",
            "held": "已持有的证书",
            "elsewhere": "西湖区的证书",
            "other-category": "社工的转岗证书",
        }
        made = {name: _credential(w, name=name) for name in titles}
        for name, credential in made.items():
            credential.title = titles[name]
        made["short"].min_training_hours = Decimal("10")
        made["elsewhere"].issuer_unit = w.other
        made["other-category"].transition_from = "project_social_worker"
        made["held"].transition_from = made["held"].transition_to = None  # holding it leaves them a 社区专职工作者
        issue_certificate(credential=made["held"], person=w.trainee_person, actor=w.coord, render=False)
        db.session.commit()
    client = app.test_client()
    login(client, "trainee")
    page = client.get("/my/certificates", headers={"Accept-Language": "en"}).text
    reach = re.sub(
        r"\s+", " ", re.search(r'<section class="card" aria-labelledby="reach-h">.*?</section>', page, re.S)[0]
    )
    rows = dict(re.findall(r"<tr><td>([^<]+)(?:<div.*?)?</td> ?<td [^>]*>(.*?)</td></tr>", reach))
    assert set(rows) == {"达标的证书", "差学时的证书"}, reach
    assert "Rule met: waiting for your coordinator" in rows["达标的证书"]
    assert "7.0 training hours short" in rows["差学时的证书"] and "Rule met" not in rows["差学时的证书"]


def test_an_expired_certificate_is_renewed_by_issuing_again(w):
    cred = _credential(w, validity_months=12, name="completion")
    cred.transition_from = cred.transition_to = None
    _trained(w, [w.person])
    first = issue_certificate(credential=cred, person=w.person, actor=w.coord)
    assert first.expires_at is not None
    assert (
        issue_certificate(credential=cred, person=w.person, actor=w.coord).id == first.id
    )  # still valid: no duplicate
    first.expires_at = utcnow() - timedelta(days=1)
    db.session.flush()
    renewed = issue_certificate(credential=cred, person=w.person, actor=w.coord)
    assert renewed.id != first.id and renewed.serial != first.serial
    # The renewal supersedes the expired certificate (tests/credentials/test_renewal.py has the rest).
    assert verification_status(first) == "superseded" and verification_status(renewed) == "valid"
    assert first.superseded_by_id == renewed.id


def test_the_issued_tab_says_when_a_search_finds_nothing(app):
    """A search of the issued certificates that matches none says so, not that none was ever issued."""
    with app.app_context():
        w = World()
        cred = _credential(w)
        _trained(w, [w.person])
        issue_unrendered(cred.id, w.person.id)
        db.session.commit()
        cred_id = cred.id
    client = app.test_client()
    login(client, "coord")
    page = client.get(f"/credentials/{cred_id}?show=issued&q=zzz", headers={"Accept-Language": "en"}).text
    assert "No certificate matches “zzz”." in page and "No certificates issued yet." not in page


def test_the_issued_list_finds_a_certificate_by_its_serial_in_any_case(w):
    from shegong_academy.credentials.queries import certificates_for

    cred = _credential(w)
    _trained(w, [w.person])
    serial = issue_unrendered(cred.id, w.person.id).serial  # GSMZ-<year>-00001
    for q in (serial, serial.lower(), "gsmz-", "Gsmz"):
        assert [c.serial for c in db.session.scalars(certificates_for(w.coord, cred, q))] == [serial], q
    assert db.session.scalars(certificates_for(w.coord, cred, "gsmz_")).all() == []  # "_" is no wildcard


def test_the_valid_count_leaves_out_revoked_reissued_and_expired_and_keeps_to_the_viewers_people(w):
    """Four issued: one revoked, one reissued (its new serial valid, the old superseded), one expired: the
    credentials list counts two valid; the other district's coordinator, none of whose people hold one, none."""
    from shegong_academy.credentials.queries import issued_counts

    cred = _credential(w, validity_months=12)
    people = [w.person, w.trainee_person, person(w.community, "孙八"), person(w.community, "周九")]
    _trained(w, people)
    kept, revoked, reissued, expired = (
        issue_certificate(credential=cred, person=p, actor=w.coord, render=False) for p in people
    )
    revoke_certificate(certificate=revoked, reason="信息有误", actor=w.coord)
    reissue_certificate(certificate=reissued, actor=w.coord)
    expired.expires_at = utcnow() - timedelta(days=1)
    db.session.flush()
    assert issued_counts(w.coord, [cred.id]) == {cred.id: 2}
    assert issued_counts(w.admin, [cred.id]) == {cred.id: 2}
    assert issued_counts(w.coord_out, [cred.id]) == {}


def test_revoking_or_reissuing_one_certificate_asks_first_and_only_the_types_coordinators_may(app, tmp_path):
    """The certificate page's Revoke and Reissue say what they will do and change nothing until confirmed. A
    street's coordinator sees the certificate of the street's person but manages neither it nor the district's
    type: no buttons, no link to the type's page (a 404 for them), and their posts are refused."""
    use_storage(app, tmp_path / "pdfs")
    with app.app_context():
        w = World()
        cred = _credential(w)
        _trained(w, [w.person])
        cert = issue_certificate(credential=cred, person=w.person, actor=w.coord, render=False)
        db.session.commit()
        cert_id, serial, cred_id = cert.id, cert.serial, cred.id
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(c, "coord")
    asked = c.post(f"/certificates/{cert_id}/revoke", data={"reason": "信息有误"})
    assert asked.status_code == 200
    assert (
        f"Revoke certificate {serial}?" in asked.text
        and "will verify as revoked, with the reason: 信息有误" in asked.text
    )
    assert 'name="confirmed" value="1"' in asked.text and 'name="reason" value="信息有误"' in asked.text
    asked = c.post(f"/certificates/{cert_id}/reissue", data={})
    assert asked.status_code == 200 and f"Reissue certificate {serial}?" in asked.text
    with app.app_context():
        assert db.session.get(Certificate, cert_id).status == "valid"  # asking changed nothing
        assert db.session.scalar(select(func.count(Certificate.id))) == 1

    street = app.test_client()
    login(street, "streetcoord")
    page = street.get(f"/certificates/{cert_id}").text
    assert serial in page and f"/credentials/{cred_id}" not in page and "/reissue" not in page and "/revoke" not in page
    assert street.get(f"/credentials/{cred_id}?show=issued").status_code == 404
    assert street.post(f"/certificates/{cert_id}/revoke", data={"reason": "x", "confirmed": "1"}).status_code == 404
    assert street.post(f"/certificates/{cert_id}/reissue", data={"confirmed": "1"}).status_code == 404

    done = c.post(f"/certificates/{cert_id}/revoke", data={"reason": "信息有误", "confirmed": "1"})
    assert done.status_code == 302
    with app.app_context():
        assert db.session.get(Certificate, cert_id).status == "revoked"
