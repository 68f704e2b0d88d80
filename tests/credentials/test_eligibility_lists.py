"""Eligibility lists are complete and paged, "approve all" acts on everyone, and a page's statement count does not
grow with the people behind it (issue 12, item 6)."""

from __future__ import annotations

import re

import pytest
from flask_babel import gettext
from sqlalchemy import func, insert, select

from shegong_academy.credentials.models import Certificate
from shegong_academy.credentials.queries import eligibility_counts, eligible_ids
from shegong_academy.credentials.services import eligibility, issue_certificate
from shegong_academy.extensions import db
from shegong_academy.people.models import Person
from tests.coverage.test_query_counts import Statements
from tests.credentials.test_credentials import _credential, _trained
from tests.factories import World, login, person

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fontTools.*")
CHECKBOX = re.compile(r'name="person_id" value="(\d+)"')


@pytest.fixture
def fast_pdfs(app, tmp_path, monkeypatch):
    """PDFs are not what these tests are about: a stub instead of WeasyPrint, stored as usual."""
    app.config["LMS_CERTIFICATE_STORAGE"] = str(tmp_path / "pdfs")
    monkeypatch.setattr("shegong_academy.credentials.render.render_pdf", lambda design, html: b"%PDF-1.7 stub")


def _filler(unit, n: int) -> None:
    """``n`` community workers without any hours, named so that they sort first in their unit."""
    rows = [
        {
            "unit_id": unit.id,
            "name": f"阿{i:05d}",
            "id_number_hash": f"{i:064x}",
            "id_number_enc": "x",
            "id_number_masked": "330105********0000",
        }
        for i in range(n)
    ]
    db.session.execute(insert(Person), rows)


def test_an_administrator_sees_and_approves_all_69_candidates_behind_5000_others(app, fast_pdfs):
    with app.app_context():
        w = World()
        cred = _credential(w)
        _filler(w.street, 5000)  # unit 米市巷街道 comes before 和睦社区: the first 5,000 by (unit, name)
        candidates = [person(w.community, f"学员{i:02d}") for i in range(68)] + [w.person]
        _trained(w, candidates)
        db.session.commit()
        cred_id, ids = cred.id, sorted(p.id for p in candidates)
        # waiting: the 5,000, 钱七 (not trained) and, for the administrator, 赵六 of the other district
        assert eligibility_counts(cred, w.admin) == {"eligible": 69, "waiting": 5002}
        assert eligible_ids(cred, w.admin) == eligible_ids(cred, w.coord)
        assert sorted(eligible_ids(cred, w.admin)) == ids
    client = app.test_client()
    login(client, "admin")
    first = client.get(f"/credentials/{cred_id}")
    second = client.get(f"/credentials/{cred_id}?show=eligible&page=2")
    shown = [int(x) for x in CHECKBOX.findall(first.text) + CHECKBOX.findall(second.text)]
    assert len(CHECKBOX.findall(first.text)) == app.config["LMS_PER_PAGE"]
    assert sorted(shown) == ids  # complete, each once, over two pages
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert gettext("Eligible (%(n)d)", n=69) in first.text
        assert gettext("Approve all %(n)d", n=69) in first.text
        assert gettext("Page %(page)d of %(pages)d", page=1, pages=2) in first.text
    waiting = client.get(f"/credentials/{cred_id}?show=waiting&page=101")  # 5,002 waiting, 50 a page
    assert waiting.status_code == 200 and "钱七" in waiting.text and "赵六" in waiting.text
    assert "阿0" not in waiting.text
    r = client.post(f"/credentials/{cred_id}/approve", data={"all": "1", "confirmed": "1"})
    assert r.status_code == 302
    with app.app_context():
        holders = db.session.scalars(select(Certificate.person_id).where(Certificate.status == "valid")).all()
        assert sorted(holders) == ids
    after = client.get(f"/credentials/{cred_id}?show=issued&page=2")
    assert after.text.count("/certificates/") >= 19  # 69 issued, paged 50 a time


def _add_people(cred_id: int, n: int, start: int) -> None:
    """``n`` people of 和睦社区: a third qualify, a third hold the certificate already, a third do not qualify yet."""
    from types import SimpleNamespace

    from shegong_academy.auth.models import User
    from shegong_academy.credentials.models import CredentialType
    from shegong_academy.org.queries import unit_by_code

    cred = db.session.get(CredentialType, cred_id)
    coord = db.session.scalar(select(User).where(User.username == "coord"))
    people = [person(unit_by_code("330105001001"), f"人{start + i:03d}") for i in range(n)]
    _trained(SimpleNamespace(district=unit_by_code("330105"), coord=coord), people[: 2 * n // 3])
    for p in people[n // 3 : 2 * n // 3]:
        issue_certificate(credential=cred, person=p, actor=None, render=False)
    db.session.commit()


@pytest.mark.parametrize("show", ["eligible", "waiting", "issued"])
def test_a_credential_page_costs_the_same_statements_for_6_or_120_people(app, fast_pdfs, show):
    with app.app_context():
        w = World()
        cred_id = _credential(w).id
        _add_people(cred_id, 6, 0)
    client = app.test_client()
    login(client, "coord")
    url = f"/credentials/{cred_id}?show={show}"
    client.get(url)  # warm
    with app.app_context():
        engine = db.engine
    with Statements(engine) as small:
        assert client.get(url).status_code == 200
    with app.app_context():
        _add_people(cred_id, 120, 100)
    with Statements(engine) as large:
        page = client.get(url)
    assert page.status_code == 200
    assert len(large.seen) == len(small.seen), (small.seen, large.seen)
    with app.app_context():
        held = db.session.scalar(select(func.count()).select_from(Certificate))
    assert held == 2 + 40


def test_eligibility_evaluates_the_rule_in_sql_with_its_reasons(app, fast_pdfs):
    with app.app_context():
        w = World()
        cred = _credential(w)
        _trained(w, [w.person], hours=2)  # one hour short
        items = {i.person.id: i for i in eligibility(cred, w.coord)}
        assert not items[w.person.id].eligible
        assert [str(m) for m in items[w.person.id].missing] == [
            gettext("%(h)s training hours short", h=cred.min_training_hours - items[w.person.id].training_hours)
        ]
        assert eligibility_counts(cred, w.coord) == {"eligible": 0, "waiting": 2}


def test_required_programs_are_checked_in_sql_with_the_missing_ones_named(app, fast_pdfs):
    from shegong_academy.training.models import Program
    from tests.training.helpers import program

    with app.app_context():
        w = World()
        cred = _credential(w)
        _trained(w, [w.person, w.trainee_person])  # both complete the one course of a program
        done = db.session.scalar(select(Program.id))
        other = program(w.district, title="督导能力提升工作坊")
        cred.required_program_ids = [done]
        assert eligibility_counts(cred, w.coord) == {"eligible": 2, "waiting": 0}
        cred.required_program_ids = [done, other.id]
        assert eligibility_counts(cred, w.coord) == {"eligible": 0, "waiting": 2}
        items = eligibility(cred, w.coord)
        assert [i.programs_done for i in items] == [[done], [done]]
        assert {str(m) for i in items for m in i.missing} == {
            gettext("not completed: %(title)s", title="督导能力提升工作坊")
        }


def _rule_statements(seen: list[str]) -> list[str]:
    """The statements that evaluate the credential's rule (its hours come from the monthly rollups)."""
    return [s for s in seen if "person_months" in s]


@pytest.mark.parametrize("show", ["eligible", "waiting"])
def test_a_tab_of_candidates_evaluates_the_rule_once_for_its_counts_and_its_page(app, fast_pdfs, show):
    """The tabs' counts and the tab's page come from one statement over every candidate; the page's own people
    are then looked at again (their hours and what they lack). Counting in a statement of its own, as before,
    evaluated the rule over every candidate twice."""
    with app.app_context():
        w = World()
        cred = _credential(w)
        cred_id = cred.id
        _add_people(cred_id, 6, 0)
        counts = eligibility_counts(cred, w.coord)
        engine = db.engine
    assert counts == {"eligible": 2, "waiting": 4}  # 人000-001; 人004-005, and the World's 李四 and 钱七
    client = app.test_client()
    login(client, "coord")
    url = f"/credentials/{cred_id}?show={show}"
    client.get(url)  # warm
    with Statements(engine) as seen:
        page = client.get(url)
    assert page.status_code == 200
    assert len(_rule_statements(seen.seen)) == 2, _rule_statements(seen.seen)  # everyone once, then the page's
    shown = CHECKBOX.findall(page.text) if show == "eligible" else re.findall(r"人00[0-5]", page.text)
    assert len(shown) == 2
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert gettext("Eligible (%(n)d)", n=2) in page.text
        assert gettext("Not yet (%(n)d)", n=4) in page.text


@pytest.mark.parametrize("page_number", [2, 3, 40])
def test_a_page_past_the_end_of_its_tab_lists_nobody_and_keeps_both_counts(app, fast_pdfs, page_number):
    """Two a page: page 2 of "eligible" (2 people) is past its end but not past the 6 candidates (its rows are
    the other tab's, not shown); page 3 is the last of the candidates; page 40 is past them all."""
    with app.app_context():
        w = World()
        cred_id = _credential(w).id
        _add_people(cred_id, 6, 0)
    app.config["LMS_PER_PAGE"] = 2
    client = app.test_client()
    login(client, "coord")
    first = client.get(f"/credentials/{cred_id}?show=eligible")
    assert [int(x) for x in CHECKBOX.findall(first.text)] and "人000" in first.text and "人001" in first.text
    past = client.get(f"/credentials/{cred_id}?show=eligible&page={page_number}")
    assert past.status_code == 200
    assert CHECKBOX.findall(past.text) == []
    assert not re.search(r"人00[0-5]", past.text)  # nobody of the other tab either
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert gettext("Eligible (%(n)d)", n=2) in past.text
        assert gettext("Not yet (%(n)d)", n=4) in past.text
        # it says the page is past the end, not that nobody is eligible
        assert gettext("This page is past the end of the list.") in past.text
        assert gettext("Nobody is waiting for this credential.") not in past.text
    waiting = client.get(f"/credentials/{cred_id}?show=waiting&page=2")  # 人004-005 first, then 李四 and 钱七
    assert waiting.status_code == 200 and not re.search(r"人00[0-5]", waiting.text)
    assert "李四" in waiting.text and "钱七" in waiting.text
