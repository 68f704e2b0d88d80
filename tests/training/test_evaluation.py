"""Training evaluation (issue 17, item 4): an anonymous questionnaire per course, answered once, shown only from
5 answers, and never linked to its author by any page, export, API answer or audit entry."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from html import unescape
from types import SimpleNamespace

import pytest
from sqlalchemy import func, inspect, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth.services import create_api_token
from shegong_academy.core.domain import Conflict, Invalid, NotFound
from shegong_academy.extensions import db
from shegong_academy.training import evaluation
from shegong_academy.training.models import EvaluationReceipt, EvaluationResponse
from shegong_academy.training.services import enrol
from tests.factories import World, login, person
from tests.training.helpers import course, program, session

NOW = datetime(2022, 6, 1, 2, 0, tzinfo=UTC)  # after the helpers' first session (2022-05-10)
TODAY = date(2022, 6, 1)
GOOD = {"content": "5", "instructor": "4", "organisation": "4", "overall": "5", "comments": "案例很实用"}
NAMES = ("赵一", "钱二", "孙三", "周五", "吴六", "郑七")


@pytest.fixture
def taught(ctx):
    w = World()
    crs = course(program(w.district))
    session(crs)
    people = [person(w.street, name) for name in NAMES]
    for p in [*people, w.trainee_person]:
        enrol(course=crs, person=p, actor=w.coord)
    db.session.commit()
    return w, crs, people


def answer(crs, who, **changes):
    evaluation.respond(course=crs, person_id=who.id, answers={**GOOD, **changes}, now=NOW, today=TODAY)


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"content": "6"}, "content"),
        ({"instructor": "0"}, "instructor"),
        ({"overall": "很好"}, "overall"),
        ({"organisation": None}, "organisation"),
        ({"comments": "长" * 1001}, "comments"),
    ],
)
def test_a_bad_answer_is_refused_and_writes_nothing(taught, changes, field):
    _w, crs, people = taught
    with pytest.raises(Invalid) as refused:
        answer(crs, people[0], **changes)
    assert set(refused.value.errors) == {field}
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(EvaluationResponse)) == 0
    assert db.session.scalar(select(func.count()).select_from(EvaluationReceipt)) == 0


def test_once_per_person_only_for_the_seated_and_only_once_the_course_began(taught):
    w, crs, people = taught
    answer(crs, people[0])
    with pytest.raises(Conflict):
        answer(crs, people[0], overall="1")
    with pytest.raises(NotFound):
        answer(crs, w.outsider)
    with pytest.raises(Conflict):
        evaluation.respond(
            course=crs, person_id=people[1].id, answers=GOOD, now=datetime(2022, 5, 1, tzinfo=UTC), today=TODAY
        )


def test_nothing_stored_or_audited_links_an_answer_to_its_author(taught):
    _w, crs, people = taught
    for p in people:
        answer(crs, p)
    columns = {c["name"] for c in inspect(db.session.connection()).get_columns("evaluation_responses")}
    assert columns == {"id", "course_id", "questionnaire", "answers", "submitted_on"}  # no person, no time of day
    receipts = {c["name"] for c in inspect(db.session.connection()).get_columns("evaluation_receipts")}
    assert receipts == {"course_id", "person_id"}  # who answered, and nothing of when or what
    ids = [r.id for r in db.session.scalars(select(EvaluationResponse))]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and len(set(ids)) == 6
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("%evaluat%"))) == 0
    )
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_type == "course")) == 1
    )


def test_results_appear_from_five_answers_with_averages_and_sorted_comments(taught):
    _w, crs, people = taught
    for n, p in enumerate(people[:4]):
        answer(crs, p, overall=str(n + 1), comments=f"意见{4 - n}")
    hidden = evaluation.results(crs)
    assert (hidden.shown, hidden.responses, hidden.seated, hidden.ratings, hidden.comments) == (False, 4, 7, {}, {})
    answer(crs, people[4], overall="5", comments="")
    shown = evaluation.results(crs)
    assert shown.shown and shown.responses == 5
    assert shown.ratings["overall"] == {"average": 3.0, "counts": {1: 1, 2: 1, 3: 1, 4: 1, 5: 1}, "answered": 5}
    assert shown.ratings["content"]["average"] == 5.0
    assert shown.comments == {"comments": ["意见1", "意见2", "意见3", "意见4"]}  # not the order they came in


def page_text(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def test_pages_exports_and_api_show_aggregates_only_and_never_a_name(app):
    from shegong_academy.auth.models import User
    from shegong_academy.training.models import Course

    with app.app_context():  # the requests run outside it: a context held around them would share the signed-in user
        w = World()
        crs = course(program(w.district))
        session(crs)
        people = [person(w.street, name) for name in NAMES]
        for p in [*people, w.trainee_person]:
            enrol(course=crs, person=p, actor=w.coord)
        db.session.commit()
        course_id, people_ids = crs.id, [p.id for p in people]
    trainee = app.test_client()
    trainee.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert login(trainee, "trainee").status_code == 302
    mine = page_text(trainee.get(f"/my/courses/{course_id}"))
    assert "培训满意度测评" in mine and "课程内容实用，对工作有帮助" in mine and "匿名作答" in mine
    # half an answer: the page again, the answers given still chosen, each question left open marked beside it
    half = {"q-content": "5", "q-overall": "4", "q-comments": "案例很实用，希望多一些"}
    refused = trainee.post(f"/my/courses/{course_id}/evaluation", data=half)
    assert refused.status_code == 422 and "请回答标出的题目" in refused.text
    form = refused.text.split('class="evaluation-form"', 1)[1].split("</form>", 1)[0]
    assert re.findall(r'name="q-(\w+)" value="(\d)" required checked', form) == [("content", "5"), ("overall", "4")]
    assert ">案例很实用，希望多一些</textarea>" in form
    assert re.findall(r'<p class="error" id="q-(\w+)-error">请在 1 至 5 中选择。</p>', form) == [
        "instructor",
        "organisation",
    ]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EvaluationResponse)) == 0
    r = trainee.post(f"/my/courses/{course_id}/evaluation", data={f"q-{k}": v for k, v in GOOD.items()})
    assert r.status_code == 302
    assert "您已完成本次测评，谢谢。" in page_text(trainee.get(f"/my/courses/{course_id}"))
    assert trainee.post(f"/my/courses/{course_id}/evaluation", data={"q-overall": "5"}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EvaluationResponse)) == 1  # the second refused
    coord = app.test_client()
    coord.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert login(coord, "coord").status_code == 302
    url = f"/courses/{course_id}/evaluation"
    few = page_text(coord.get(url))
    assert "满 5 人作答后才显示结果" in few and "案例很实用" not in few
    assert coord.get(url + ".csv").status_code == 409
    with app.app_context():
        crs = db.session.get(Course, course_id)
        for pid, name in zip(people_ids[:4], NAMES, strict=False):
            answer(crs, SimpleNamespace(id=pid), comments=f"{name}说：很好")  # a comment may name its author
        db.session.commit()
        token = create_api_token(user=db.session.scalar(select(User).where(User.username == "coord")))
        db.session.commit()
    shown = page_text(coord.get(url))
    assert "5.00" in shown and "案例很实用" in shown
    exported = coord.get(url + ".csv")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0] == ["题目", "回答数", "平均分", "1", "2", "3", "4", "5", "意见"]
    assert rows[1][:3] == ["课程内容实用，对工作有帮助", "5", "5.00"]
    assert len(rows) == 1 + 4 + 5  # four ratings, five comments: no row per person
    api = app.test_client().get(f"/api/v1/courses/{course_id}/evaluation", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.json["shown"] and api.json["responses"] == 5
    assert api.json["ratings"][0]["counts"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 5}
    # no page, export or API answer names anyone who answered (beyond what they wrote themselves)
    everything = shown + exported.data.decode("utf-8-sig") + api.get_data(as_text=True)
    assert "钱七" not in everything  # the trainee (钱七) answered and wrote no name
    assert "submitted_on" not in api.get_data(as_text=True)
