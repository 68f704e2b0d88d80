"""Credential types as data (app.credentials.types): created and edited from the browser, with a checked seal,
a rule of programs, tiers and hours, and bulk approval that asks first and can be undone as a batch."""

from __future__ import annotations

import io
import re
import subprocess
from html import unescape

import pytest
from flask_babel import force_locale
from PIL import Image
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.domain import Conflict, Invalid, NotFound
from shegong_academy.credentials import types
from shegong_academy.credentials.models import Certificate, CredentialType
from shegong_academy.credentials.services import eligibility, issue_to_people, revoke_batch
from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit
from shegong_academy.people.models import Person
from tests.conftest import use_storage
from tests.credentials.test_credentials import _trained
from tests.factories import World, login, person
from tests.training.helpers import course, program, session

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fontTools.*")


def png(width=120, height=120) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 30, 30, 255)).save(out, "PNG")
    return out.getvalue()


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
    b'<circle cx="50" cy="50" r="45" fill="none" stroke="#c00" stroke-width="5"/></svg>'
)

DATA = {
    "name": "street-worker-basic",
    "title": "社工站工作人员岗位培训证书",
    "title_en": "Social work station staff training certificate",
    "design": "completion-zh",
    "issuer_name": "杭州市拱墅区民政局",
    "issuer_code": "gszz",
    "min_training_hours": "3",
}


@pytest.fixture
def w(ctx, tmp_path):
    use_storage(ctx, tmp_path / "store")
    return World()


def test_a_coordinator_creates_a_type_with_a_seal(w):
    cred = types.create_type(data=DATA, issuer_unit=w.district, seal=("seal.png", png()), actor=w.coord)
    assert cred.issuer_code == "GSZZ" and cred.language == "zh_CN" and cred.seal_key.endswith(".png")
    assert types.seal_data_uri(cred).startswith("data:image/png;base64,")
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "credential_type.create")).one()
    assert entry.after["name"] == "street-worker-basic" and entry.actor_name == "coord"
    types.update_type(credential=cred, data={"title_en": "Station staff certificate"}, seal=None, actor=w.coord)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "credential_type.update")).one()
    assert entry.before == {"title_en": DATA["title_en"]} and entry.after == {"title_en": "Station staff certificate"}
    types.update_type(credential=cred, data={}, seal=None, drop_seal=True, actor=w.coord)
    assert cred.seal_key is None


@pytest.mark.parametrize(
    "seal,why",
    [
        (b"", "empty"),
        (png(2400, 100), "pixels"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "cannot be read"),
        (b"GIF89a" + b"0" * 100, "PNG or SVG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "<script>"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "onload"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><image href='http://evil.example/x.png'/></svg>", "<image>"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'><rect style='fill:url(http://evil.example/a)'/></svg>",
            "other files",
        ),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><style>@import 'http://x';</style></svg>", "other files"),
        (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>', "document type"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><unclosed></svg>", "cannot be read"),
        (b"<html><body>no</body></html>", "PNG or SVG"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * (300 * 1024), "256 KB"),
    ],
)
def test_a_bad_seal_is_refused_and_nothing_is_stored(w, tmp_path, seal, why):
    with pytest.raises(Invalid) as refused:
        types.create_type(data=DATA, issuer_unit=w.district, seal=("seal", seal), actor=w.coord)
    with force_locale("en"):
        assert why in str(refused.value.errors["seal"])
    assert db.session.scalar(select(CredentialType.id)) is None
    assert not list((tmp_path / "store").glob("seals/*"))


def test_an_svg_seal_with_its_own_gradient_is_fine(w):
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        b'<defs><radialGradient id="g"><stop offset="0" stop-color="#c00"/></radialGradient></defs>'
        b'<circle r="40" fill="url(#g)"/><use xlink:href="#g"/></svg>'
    )
    with pytest.raises(Invalid):  # <use> is refused even inside: a seal has no use for it
        types.create_type(data=DATA, issuer_unit=w.district, seal=("s.svg", svg), actor=w.coord)
    svg = svg.replace(b'<use xlink:href="#g"/>', b"")
    cred = types.create_type(data=DATA, issuer_unit=w.district, seal=("s.svg", svg), actor=w.coord)
    assert cred.seal_key.endswith(".svg")


def test_the_fields_are_checked(w):
    bad = {
        **DATA,
        "name": "Has Spaces",
        "design": "no-such-design",
        "issuer_code": "x",
        "transition_from": "community_worker",
        "required_tiers": ["顶级"],
        "validity_months": 0,
    }
    with pytest.raises(Invalid) as refused:
        types.create_type(data=bad, issuer_unit=w.district, seal=None, actor=w.coord)
    assert {"name", "design", "issuer_code", "transition_to", "required_tiers", "validity_months"} <= set(
        refused.value.errors
    )
    with pytest.raises(Invalid) as refused:  # no rule at all
        types.create_type(data={**DATA, "min_training_hours": None}, issuer_unit=w.district, seal=None, actor=w.coord)
    assert "min_training_hours" in refused.value.errors
    types.create_type(data=DATA, issuer_unit=w.district, seal=None, actor=w.coord)
    with pytest.raises(Conflict):
        types.create_type(data=DATA, issuer_unit=w.district, seal=None, actor=w.coord)


def test_a_coordinator_keeps_to_their_units(w):
    other_program = program(w.other)
    with pytest.raises(NotFound):
        types.create_type(data=DATA, issuer_unit=w.other, seal=None, actor=w.coord)
    with pytest.raises(Invalid) as refused:
        types.create_type(
            data={**DATA, "required_program_ids": [other_program.id]}, issuer_unit=w.district, seal=None, actor=w.coord
        )
    assert "required_program_ids" in refused.value.errors
    cred = types.create_type(data=DATA, issuer_unit=w.district, seal=None, actor=w.admin)
    with pytest.raises(NotFound):
        types.update_type(credential=cred, data={"title": "改"}, seal=None, actor=w.coord_out)


def test_required_tiers_are_part_of_the_rule(w):
    cred = types.create_type(
        data={**DATA, "min_training_hours": None, "required_tiers": ["骨干"]},
        issuer_unit=w.district,
        seal=None,
        actor=w.coord,
    )
    done, other = person(w.community, "陈甲"), person(w.community, "林乙")
    _trained(w, [done])  # a 骨干 program (the helper's default tier)
    new_tier = course(program(w.district, tier="新任", title="新任培训"), code="N1")
    session(new_tier)
    from shegong_academy.training.services import enrol, save_roster

    enrol(course=new_tier, person=other, actor=w.coord)
    save_roster(session=new_tier.sessions[0], exceptions={}, actor=w.coord)
    result = {e.person.name: e for e in eligibility(cred, w.coord, people_ids=[done.id, other.id])}
    assert result["陈甲"].eligible
    assert not result["林乙"].eligible and "骨干" in str(result["林乙"].missing[-1])


def test_a_bulk_approval_is_undone_as_a_batch(w):
    cred = types.create_type(
        data={
            **DATA,
            "design": "transition-zh",
            "transition_from": "community_worker",
            "transition_to": "project_social_worker",
        },
        issuer_unit=w.district,
        seal=("seal.svg", SVG),
        actor=w.coord,
    )
    people = [person(w.community, f"学员{i}") for i in range(3)]
    _trained(w, people)
    summary = issue_to_people(
        credential=cred, person_ids=[p.id for p in people], actor=w.coord, render=False, job_id=None
    )
    assert summary.issued == 3
    db.session.execute(Certificate.__table__.update().values(job_id=None))
    from shegong_academy.jobs.models import Job

    job = Job(kind="credentials.issue", key="t", state="done", user_id=w.coord.id, unit_id=w.district.id, params={})
    db.session.add(job)
    db.session.flush()
    db.session.execute(Certificate.__table__.update().values(job_id=job.id))
    assert {p.category for p in people} == {"project_social_worker"}
    with pytest.raises(Invalid):
        revoke_batch(job_id=job.id, credential=cred, reason=" ", actor=w.coord)
    assert revoke_batch(job_id=job.id, credential=cred, reason="名单有误，重新审核", actor=w.coord) == 3
    db.session.expire_all()
    assert {c.status for c in db.session.scalars(select(Certificate))} == {"revoked"}
    assert {db.session.get(Person, p.id).category for p in people} == {"community_worker"}
    with pytest.raises(Conflict):
        revoke_batch(job_id=job.id, credential=cred, reason="again", actor=w.coord)


# ---------------------------------------------------------------- pages


@pytest.fixture
def site(app, tmp_path):
    use_storage(app, tmp_path / "store")
    with app.app_context():
        w = World()
        people = [person(w.community, name) for name in ("赵一", "钱二", "孙三", "李四", "周五", "吴六", "郑七")]
        _trained(w, people)
        db.session.commit()
        return {"district": w.district.id, "people": [p.id for p in people]}


def test_create_a_type_with_a_seal_in_the_browser_and_issue_it_after_confirming(app, site, tmp_path):
    c = _coord_client(app)
    form = {**DATA, "issuer_unit_id": site["district"], "transition_from": "", "transition_to": ""}
    r = c.post(
        "/credentials/types/new",
        data={**form, "seal": (io.BytesIO(b"<svg><script/></svg>"), "seal.svg")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and "A seal may not contain &lt;script&gt;." in r.text
    r = c.post(
        "/credentials/types/new",
        data={**form, "seal": (io.BytesIO(png()), "seal.png")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    cred_id = int(re.search(r"/credentials/(\d+)", r.location)[1])
    seal = c.get(f"/credentials/{cred_id}/seal")
    assert (
        seal.status_code == 200
        and seal.mimetype == "image/png"
        and "sandbox" in seal.headers["Content-Security-Policy"]
    )
    edit_page = c.get(f"/credentials/{cred_id}/edit").text
    assert 'value="Social work station staff training certificate"' in edit_page  # the English title comes back
    # approving everyone asks first, saying what will happen; nothing is issued by asking
    r = c.post(f"/credentials/{cred_id}/approve", data={"all": "1"})
    assert r.status_code == 200
    assert "7 people will receive 社工站工作人员岗位培训证书." in unescape(r.text)
    with app.app_context():
        assert db.session.scalar(select(Certificate.id)) is None
    r = c.post(f"/credentials/{cred_id}/approve", data={"all": "1", "confirmed": "1"})
    assert r.status_code == 302 and "/jobs/" in r.location
    job_page = c.get(r.location)
    assert "Revoke this batch" in job_page.text
    with app.app_context():
        certificate = db.session.scalars(select(Certificate)).first()
        pdf = app.test_client()
    login(pdf, "coord")
    body = pdf.get(f"/certificates/{certificate.id}.pdf").data
    (tmp_path / "c.pdf").write_bytes(body)
    images = subprocess.run(["pdfimages", "-list", str(tmp_path / "c.pdf")], capture_output=True, text=True).stdout
    assert re.search(r"\bimage\s+120\s+120\b", images), images  # the 120 x 120 seal is printed
    info = subprocess.run(["pdfinfo", str(tmp_path / "c.pdf")], capture_output=True, text=True).stdout
    assert re.search(r"^Tagged:\s+yes", info, re.M), info  # a structure tree for screen readers
    assert re.search(r"^Title:\s+社工站工作人员岗位培训证书", info, re.M), info
    job_id = int(r.location.rsplit("/", 1)[1])
    assert "7 certificates of" in unescape(c.get(f"/jobs/{job_id}/revoke").text)
    assert c.post(f"/jobs/{job_id}/revoke", data={"reason": ""}).status_code == 200
    r = c.post(f"/jobs/{job_id}/revoke", data={"reason": "名单有误"})
    assert r.status_code == 302
    with app.app_context():
        assert {s for s in db.session.scalars(select(Certificate.status))} == {"revoked"}
    assert c.post(f"/jobs/{job_id}/revoke", data={"reason": "again"}).status_code == 409


def test_the_type_pages_keep_to_the_coordinators_units(app, site):
    with app.app_context():
        assert db.session.scalar(select(CredentialType.id)) is None
    c = app.test_client()
    login(c, "coordout")
    r = c.post(
        "/credentials/types/new",
        data={**DATA, "issuer_unit_id": site["district"], "transition_from": "", "transition_to": ""},
    )
    assert r.status_code in (200, 404)  # the district is not among the choices: the form refuses it
    with app.app_context():
        assert db.session.scalar(select(CredentialType.id)) is None
        # and a type the district issues is not theirs to open or edit
        district = db.session.get(OrgUnit, site["district"])
        cred = types.create_type(data=DATA, issuer_unit=district, seal=None, actor=None)
        db.session.commit()
        cred_id = cred.id
    assert c.get(f"/credentials/{cred_id}/edit").status_code == 404
    assert c.post(f"/credentials/{cred_id}/edit", data={**DATA, "title": "改"}).status_code == 404
    with app.app_context():
        assert db.session.get(CredentialType, cred_id).title == DATA["title"]


def test_the_issuer_name_and_seal_belong_to_the_unit_and_follow_a_reform(app, tmp_path):
    """After the 2023 reform the district's 社会工作部 issues: one edit, every type prints it, the unit signs with a
    new key of that name; certificates already issued keep the bureau's name and still verify."""
    from shegong_academy.credentials import badges, signing
    from shegong_academy.credentials.services import certificate_context, issue_certificate
    from shegong_academy.credentials.types import create_type, update_type

    use_storage(app, tmp_path / "files")
    with app.app_context():
        w = World()
        base = {
            "title": "培训结业证书",
            "design": "completion-zh",
            "issuer_name": "杭州市拱墅区民政局",
            "issuer_code": "GSPX",
            "min_training_hours": "3",
        }
        first = create_type(
            data={**base, "name": "completion"}, issuer_unit=w.district, seal=("s.png", png()), actor=w.coord
        )
        second = create_type(data={**base, "name": "statement"}, issuer_unit=w.district, seal=None, actor=w.coord)
        assert (w.district.issuer_name, second.seal_key) == ("杭州市拱墅区民政局", first.seal_key)  # the unit's seal
        _trained(w, [w.person])
        old = issue_certificate(credential=first, person=w.person, actor=w.coord, render=False)
        old_kid = signing.signing_key(w.district).kid
        old_jwt = badges.badge_jwt(old)
        reform = "中共杭州市拱墅区委社会工作部"
        update_type(credential=second, data={"issuer_name": reform}, seal=None, actor=w.coord, drop_seal=True)
        db.session.commit()
        assert (w.district.issuer_name, w.district.seal_key) == (reform, None)
        assert (first.issuer_name, first.seal_key) == (reform, None)  # the other type follows
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "unit.issuer").order_by(AuditEntry.id.desc())
        )
        assert entry.before["issuer_name"] == "杭州市拱墅区民政局" and entry.after["issuer_name"] == reform
        assert entry.after["credential_types"] == ["completion"]
        # The certificate already issued keeps its issuer; the unit now signs with a key of the new name.
        assert db.session.get(Certificate, old.id).claims["issuer"] == "杭州市拱墅区民政局"
        assert certificate_context(old)["issuer"] == "杭州市拱墅区民政局"
        key = signing.active_key(w.district)
        assert key.kid != old_kid and reform in _subject(key.certificate_pem)
        assert badges.issuer_profile(w.district)["name"] == reform
        assert signing.verify_jwt(old_jwt, signing.jwks(w.district))["issuer"]["name"] == "杭州市拱墅区民政局"
        # Renaming to the same name again changes and records nothing.
        update_type(credential=first, data={"issuer_name": reform}, seal=None, actor=w.coord)
        assert db.session.scalar(select(func.count()).where(AuditEntry.action == "unit.issuer")) == 2


def _subject(pem: str) -> str:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.encode()).subject.rfc4514_string()


# ---------------------------------------------------------------- the rule's programs and assessments


def _options(page: str, field: str) -> list[tuple[str, str, bool]]:
    """(group, label, chosen) of a multiple select's options, in the page's order."""
    select = page.split(f'id="{field}"', 1)[1].split("</select>", 1)[0]
    out, group = [], ""
    for m in re.finditer(r'<optgroup label="([^"]*)">|<option([^>]*)>([^<]*)</option>', select):
        if m[1] is not None:
            group = unescape(m[1])
        else:
            out.append((group, unescape(m[3]), "selected" in m[2]))
    return out


def _coord_client(app):
    """A client signed in as 拱墅区's coordinator, reading English."""
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(c, "coord")
    return c


@pytest.fixture
def programs_site(app):
    """Three programs of 拱墅区 (2023, and two of 2022, one with an assessed course) and one of 西湖区."""
    from shegong_academy.training import grading

    with app.app_context():
        w = World()
        newer = program(w.district, title="2023年督导人才培养", year=2023)
        camp = program(w.district, title="项目社工特训营", year=2022)
        older = program(w.street, title="街道社工站培训", year=2022)
        program(w.other, title="西湖区特训营", year=2022)
        crs = course(camp, title="结业考核课")
        exam = grading.create_assessment(
            course=crs, data={"title": "结业考核", "kind": "exam", "pass_mark": 60}, actor=None
        )
        db.session.commit()
        return {"district": w.district.id, "newer": newer.id, "camp": camp.id, "older": older.id, "exam": exam.id}


def test_the_rule_offers_programs_grouped_by_year_with_their_unit_and_a_filter(app, programs_site):
    c = _coord_client(app)
    page = c.get("/credentials/types/new").text
    assert _options(page, "required_program_ids") == [
        ("2023", "2023年督导人才培养 · 拱墅区", False),
        ("2022", "街道社工站培训 · 米市巷街道", False),
        ("2022", "项目社工特训营 · 拱墅区", False),
    ]  # newest year first; 西湖区's program is not this coordinator's to require
    assert _options(page, "required_assessment_ids") == [
        ("2022 项目社工特训营 · 拱墅区", "结业考核课 · 结业考核", False)
    ]
    assert 'data-picker="required_program_ids"' in page and 'data-picker="renewal_assessment_ids"' in page
    assert "Type a title, a unit or a year to filter" in page
    assert 'href="/credentials/types/new?year=2022"' in page and "are listed" not in page  # nothing cut


def test_a_year_lists_its_programs_and_the_form_posts_within_it(app, programs_site):
    c = _coord_client(app)
    page = c.get("/credentials/types/new?year=2022").text
    assert [label for _g, label, _c in _options(page, "required_program_ids")] == [
        "街道社工站培训 · 米市巷街道",
        "项目社工特训营 · 拱墅区",
    ]
    assert "The programs and assessments of 2022 are listed." in page
    assert 'href="/credentials/types/new">every year</a>' in page
    form = {**DATA, "issuer_unit_id": programs_site["district"], "transition_from": "", "transition_to": ""}
    refused = c.post("/credentials/types/new?year=2022", data={**form, "required_program_ids": programs_site["newer"]})
    assert refused.status_code == 200  # 2023's program is not offered in 2022's listing
    assert "One of the chosen is not in this list: choose again from it." in refused.text
    created = c.post(
        "/credentials/types/new?year=2022",
        data={**form, "required_program_ids": programs_site["camp"], "required_assessment_ids": programs_site["exam"]},
    )
    assert created.status_code == 302
    cred_id = int(re.search(r"/credentials/(\d+)", created.location)[1])
    # the type's own programs and assessments stay chosen in a listing of another year
    page = c.get(f"/credentials/{cred_id}/edit?year=2023").text
    assert _options(page, "required_program_ids") == [
        ("2023", "2023年督导人才培养 · 拱墅区", False),
        ("2022", "项目社工特训营 · 拱墅区", True),
    ]
    assert _options(page, "required_assessment_ids") == [
        ("2022 项目社工特训营 · 拱墅区", "结业考核课 · 结业考核", True)
    ]
    saved = c.post(
        f"/credentials/{cred_id}/edit?year=2023",
        data={
            **DATA,
            "transition_from": "",
            "transition_to": "",
            "required_program_ids": [programs_site["camp"]],
            "required_assessment_ids": [programs_site["exam"]],
        },
    )
    assert saved.status_code == 302
    with app.app_context():
        cred = db.session.get(CredentialType, cred_id)
        assert cred.required_program_ids == [programs_site["camp"]]
        assert cred.required_assessment_ids == [programs_site["exam"]]


def test_a_long_list_says_it_is_cut_and_a_year_reaches_the_rest(app, programs_site, monkeypatch):
    from shegong_academy.credentials import routes

    monkeypatch.setattr(routes, "LISTED", 2)
    c = _coord_client(app)
    page = c.get("/credentials/types/new").text
    assert [label for _g, label, _c in _options(page, "required_program_ids")] == [
        "2023年督导人才培养 · 拱墅区",
        "街道社工站培训 · 米市巷街道",
    ]
    assert "The newest 2 programs and assessments are listed." in page
    page = c.get("/credentials/types/new?year=2022").text
    assert "项目社工特训营 · 拱墅区" in [label for _g, label, _c in _options(page, "required_program_ids")]
