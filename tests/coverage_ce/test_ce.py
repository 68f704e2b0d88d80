"""Continuing education: registration periods, minimum by level, what counts, who is at risk, scope, pages."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from shegong_academy.auth.models import User
from shegong_academy.config import DEFAULTS, ConfigError, load_config
from shegong_academy.coverage.queries import today_local
from shegong_academy.extensions import db
from shegong_academy.ledger.ce import add_months, ce_account, ce_at_risk, current_period, risk_horizon
from shegong_academy.org.queries import unit_by_code
from shegong_academy.supervision.models import SupervisionCredit
from shegong_academy.supervision.services import respond_to_credit
from tests.coverage import supervise, supervisor_at
from tests.coverage.test_query_counts import Statements
from tests.coverage_ce import attend, certified, local
from tests.factories import World, login, unit, user

REGISTERED = date(2021, 3, 15)
TODAY = date(2024, 1, 10)  # the first period of REGISTERED ends on 2024-03-15: within 6 months


@pytest.fixture
def w(ctx):
    return World()


@pytest.fixture
def frozen_today(monkeypatch):
    """Pages see TODAY as the local date."""
    monkeypatch.setattr("shegong_academy.coverage.queries.today_local", lambda: TODAY)
    monkeypatch.setattr("shegong_academy.people.routes.today", lambda: TODAY)


# ---------------------------------------------------------------- periods


@pytest.mark.parametrize(
    ("today", "period"),
    [
        (date(2021, 3, 15), (date(2021, 3, 15), date(2024, 3, 15))),
        (date(2024, 3, 14), (date(2021, 3, 15), date(2024, 3, 15))),
        (date(2024, 3, 15), (date(2024, 3, 15), date(2027, 3, 15))),
        (date(2026, 11, 28), (date(2024, 3, 15), date(2027, 3, 15))),
        (date(2027, 3, 15), (date(2027, 3, 15), date(2030, 3, 15))),
        (date(2020, 6, 1), (date(2021, 3, 15), date(2024, 3, 15))),  # not registered yet: the first period
    ],
)
def test_periods_run_three_years_from_the_registration(ctx, today, period):
    assert current_period(REGISTERED, today) == period


@pytest.mark.parametrize(
    ("today", "period"),
    [
        (date(2020, 2, 29), (date(2020, 2, 29), date(2023, 2, 28))),
        (date(2023, 2, 27), (date(2020, 2, 29), date(2023, 2, 28))),
        (date(2023, 2, 28), (date(2023, 2, 28), date(2026, 2, 28))),
        (date(2026, 3, 1), (date(2026, 2, 28), date(2029, 2, 28))),
        (date(2031, 12, 31), (date(2029, 2, 28), date(2032, 2, 29))),  # 2032 is a leap year again
        (date(2032, 2, 29), (date(2032, 2, 29), date(2035, 2, 28))),
    ],
)
def test_a_leap_day_registration_has_its_anniversary_on_28_february_in_common_years(ctx, today, period):
    assert current_period(date(2020, 2, 29), today) == period


def test_period_length_and_risk_window_are_configuration(ctx):
    ctx.config["LMS_CE_PERIOD_YEARS"] = 5
    assert current_period(REGISTERED, TODAY) == (date(2021, 3, 15), date(2026, 3, 15))
    assert risk_horizon(TODAY) == date(2024, 7, 10)
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)
    ctx.config["LMS_CE_RISK_MONTHS"] = 2
    assert risk_horizon(TODAY) == date(2024, 3, 10)


REGISTRATIONS = [
    date(2021, 3, 15),
    date(2020, 2, 29),
    date(2020, 2, 28),
    date(2020, 3, 1),
    date(2021, 2, 28),
    date(2021, 3, 1),
    date(2020, 1, 1),
    date(2020, 12, 31),
    date(2021, 7, 10),
    date(2021, 7, 11),
    date(2018, 7, 10),
    date(2018, 7, 11),
    date(2015, 1, 11),
    date(2021, 1, 10),
    date(2023, 1, 9),
    date(2023, 2, 28),
    date(2024, 6, 1),
    date(2019, 1, 1),
    date(2022, 6, 30),  # ends on the horizon of 2024-12-31: listed
    date(2022, 7, 1),  # a day after it: not
]


@pytest.mark.parametrize(
    "today",
    [TODAY, date(2023, 2, 28), date(2024, 2, 28), date(2024, 2, 29), date(2025, 8, 31), date(2024, 12, 31)],
)
def test_the_at_risk_query_computes_the_same_periods_as_python(w, today):
    """The period arithmetic done in SQL (on both databases) agrees with current_period, day for day."""
    people = [certified(w.street, f"社工{i}", day) for i, day in enumerate(REGISTRATIONS)]
    horizon = risk_horizon(today)
    expected = {}
    for someone in people:
        start, end = current_period(someone.certified_on, today)
        if someone.certified_on <= today and end <= horizon:
            expected[someone.id] = (start, end)
    listed = {r.person.id: (r.period_start, r.period_end) for r in ce_at_risk(w.admin, today)}
    assert listed == expected
    assert expected  # the dates are chosen so that every day tested lists someone


# ---------------------------------------------------------------- minimum and what counts


def test_the_minimum_depends_on_the_level_and_is_configuration(ctx, w):
    people = {
        level: certified(w.street, f"社工{level}", REGISTERED, level=level)
        for level in DEFAULTS["LMS_CE_MINIMUM_HOURS"]
    }
    for level, minimum in (("assistant", 72), ("intermediate", 90), ("senior", 90)):
        account = ce_account(people[level], TODAY)
        assert account.minimum == minimum
        assert account.hours == 0 and account.remaining_hours == minimum
        assert not account.met and account.at_risk
    assert ce_account(certified(w.street, "无等级", REGISTERED, level="none"), TODAY) is None
    assert ce_account(certified(w.street, "未登记", None), TODAY) is None

    ctx.config["LMS_CE_MINIMUM_HOURS"] = {"assistant": 48, "intermediate": 60, "senior": 72}
    assert ce_account(people["senior"], TODAY).minimum == 72
    assert ce_at_risk(w.admin, TODAY)[0].minimum in (48, 60, 72)


def test_configuration_from_the_environment():
    base = {"TESTING": True, "SECRET_KEY": "x" * 40}
    cfg = load_config(base, "/nonexistent", environ={})
    assert cfg["LMS_CE_MINIMUM_HOURS"] == {"assistant": 72, "intermediate": 90, "senior": 90}
    assert cfg["LMS_CE_COUNTS"] == ("training", "supervision")
    assert (cfg["LMS_CE_PERIOD_YEARS"], cfg["LMS_CE_RISK_MONTHS"]) == (3, 6)
    env = {"LMS_CE_COUNTS": "training", "LMS_CE_MINIMUM_HOURS": "assistant:60, senior:120", "LMS_CE_RISK_MONTHS": "3"}
    cfg = load_config(base, "/nonexistent", environ=env)
    assert cfg["LMS_CE_COUNTS"] == ("training",)
    assert cfg["LMS_CE_MINIMUM_HOURS"] == {"assistant": 60, "intermediate": 90, "senior": 120}
    assert cfg["LMS_CE_RISK_MONTHS"] == 3
    for bad in (
        {"LMS_CE_COUNTS": "training,credits"},
        {"LMS_CE_COUNTS": " , "},
        {"LMS_CE_MINIMUM_HOURS": "assistant=60"},
        {"LMS_CE_MINIMUM_HOURS": "none:10"},
        {"LMS_CE_PERIOD_YEARS": "0"},
    ):
        with pytest.raises(ConfigError):
            load_config(base, "/nonexistent", environ=bad)


def test_what_counts_is_configuration(ctx, w):
    someone = certified(w.street, "陈社工", REGISTERED)
    supervisor = supervisor_at(w.district)
    attend(w.admin, [someone], local(2021, 3, 14, 23, 30), 4)  # the evening before the period: not counted
    attend(w.admin, [someone], local(2021, 3, 15, 0, 30), 6)  # its first day (still 14 March in UTC)
    attend(w.admin, [someone], local(2023, 6, 1), 10)
    attend(w.admin, [someone], local(2024, 3, 15), 8)  # the next period
    supervise(w.admin, supervisor, [someone], "1.5", date(2021, 3, 14))
    supervise(w.admin, supervisor, [someone], 2, date(2022, 5, 1))

    account = ce_account(someone, TODAY)
    assert (account.period_start, account.period_end, account.last_day) == (
        date(2021, 3, 15),
        date(2024, 3, 15),
        date(2024, 3, 14),
    )
    assert (account.training_hours, account.supervision_hours, account.hours) == (16, 2, 18)
    assert account.counted_from == ("training", "supervision")
    assert account.remaining_hours == 54
    # The list counts whole months from April 2021 (the period starts mid-March): the 6 hours of 15 March are left out.
    assert _listed_hours(w, someone) == 12

    ctx.config["LMS_CE_COUNTS"] = ("training",)
    account = ce_account(someone, TODAY)
    assert (account.training_hours, account.supervision_hours, account.hours) == (16, None, 16)
    assert _listed_hours(w, someone) == 10

    ctx.config["LMS_CE_COUNTS"] = ("supervision",)
    account = ce_account(someone, TODAY)
    assert (account.training_hours, account.supervision_hours, account.hours) == (None, 2, 2)
    assert _listed_hours(w, someone) == 2


def _listed_hours(w, someone, today: date = TODAY) -> Decimal:
    return next(r.hours for r in ce_at_risk(w.admin, today) if r.person.id == someone.id)


def test_a_period_starting_on_the_first_counts_the_same_in_the_list_and_on_the_page(w):
    someone = certified(w.street, "周社工", date(2021, 3, 1))
    attend(w.admin, [someone], local(2021, 3, 1, 0, 30), 6)
    attend(w.admin, [someone], local(2024, 2, 29, 23, 30), 3)  # the period's last evening
    attend(w.admin, [someone], local(2021, 2, 28, 23, 30), 5)  # the day before
    day = date(2024, 2, 29)
    assert ce_account(someone, day).hours == 9
    assert _listed_hours(w, someone, day) == 9
    # later sessions (scheduled ahead) belong to no listed period yet
    assert _listed_hours(w, someone, date(2024, 1, 31)) == 6


def test_disputed_supervision_never_counts(ctx, w):
    someone = certified(w.street, "吴社工", REGISTERED)
    account = user("ce-wu", "trainee", w.street, person=someone)
    supervisor = supervisor_at(w.district)
    first = supervise(w.admin, supervisor, [someone], 2, date(2022, 5, 1))
    second = supervise(w.admin, supervisor, [someone], 3, date(2022, 6, 1))
    credit = {c.record_id: c for c in db.session.scalars(select(SupervisionCredit))}
    respond_to_credit(credit=credit[second.id], actor=account, confirm=False, reason="当天未参加")
    assert ce_account(someone, TODAY).supervision_hours == 2  # the unconfirmed one counts, by default
    assert _listed_hours(w, someone) == 2

    ctx.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"] = False
    assert ce_account(someone, TODAY).supervision_hours == 0
    assert _listed_hours(w, someone) == 0
    respond_to_credit(credit=credit[first.id], actor=account, confirm=True)
    assert ce_account(someone, TODAY).supervision_hours == 2
    assert _listed_hours(w, someone) == 2


# ---------------------------------------------------------------- who is at risk, and who sees them


def _risk_world(w) -> dict:
    """People around the 2021-03-15 registration, on TODAY."""
    people = {
        "short": certified(w.street, "缺学时", REGISTERED),
        "met": certified(w.street, "已达标", REGISTERED),
        "later": certified(w.street, "两年后", date(2023, 1, 20)),  # period ends 2026-01-20
        "no_level": certified(w.street, "无等级", REGISTERED, level="none"),
        "no_date": certified(w.street, "未登记", None),
        "inactive": certified(w.street, "已离职", REGISTERED),
        "senior": certified(w.street2, "高级社工", date(2015, 3, 1), level="senior"),  # ends 2024-03-01
        "outsider": certified(w.other_street, "外区社工", REGISTERED),
    }
    people["inactive"].active = False
    attend(w.admin, [people["short"], people["met"]], local(2022, 5, 10), 20)
    attend(w.admin, [people["met"]], local(2022, 5, 11), 24)
    attend(w.admin, [people["met"]], local(2022, 5, 12), 24)
    attend(w.admin, [people["met"]], local(2022, 5, 13), 4)
    return people


def test_the_at_risk_list(w):
    people = _risk_world(w)
    rows = ce_at_risk(w.admin, TODAY)
    assert [r.person.name for r in rows] == ["高级社工", "缺学时", "外区社工"]  # soonest end first
    short = rows[1]
    assert (short.period_start, short.last_day, short.unit_name) == (REGISTERED, date(2024, 3, 14), w.street.name)
    assert (short.hours, short.minimum, short.remaining_hours) == (20, 72, 52)
    assert (rows[0].minimum, rows[0].remaining_hours) == (90, 90)

    met = ce_account(people["met"], TODAY)
    assert met.met and not met.at_risk and met.hours == 72 and met.remaining_hours == 0
    later = ce_account(people["later"], TODAY)
    assert not later.met and not later.at_risk
    assert ce_account(people["short"], TODAY).at_risk

    assert [r.person.name for r in ce_at_risk(w.coord, TODAY)] == ["高级社工", "缺学时"]
    assert [r.person.name for r in ce_at_risk(w.street_coord, TODAY)] == ["缺学时"]
    assert [r.person.name for r in ce_at_risk(w.coord_out, TODAY)] == ["外区社工"]
    assert [r.person.name for r in ce_at_risk(w.coord, TODAY, within=w.street2)] == ["高级社工"]
    assert ce_at_risk(w.trainee, TODAY) == []
    assert len(ce_at_risk(w.admin, TODAY, limit=1)) == 1
    # on 15 March the 2021 registrations start their next period: nobody ends soon any more
    assert ce_at_risk(w.admin, date(2024, 3, 15)) == []


@pytest.fixture
def site(app, frozen_today) -> dict:
    """The risk world, committed; no application context stays pushed, so each request has its own."""
    with app.app_context():
        w = World()
        people = _risk_world(w)
        db.session.commit()
        return {name: p.id for name, p in people.items()} | {
            "other": w.other.id,
            "street2": w.street2.id,
            "uncertified": w.person2.id,
        }


def test_the_at_risk_page_is_scoped(client, site):
    assert client.get("/coverage/ce").status_code == 302  # anonymous: to the sign-in page
    login(client, "trainee")
    assert client.get("/coverage/ce").status_code == 403
    client.post("/logout")

    login(client, "coord")
    page = client.get("/coverage/ce").get_data(as_text=True)
    assert "缺学时" in page and "高级社工" in page and "外区社工" not in page and "已达标" not in page
    assert client.get(f"/coverage/ce?unit={site['other']}").status_code == 404
    assert client.get("/coverage/ce?unit=999999").status_code == 404
    page = client.get(f"/coverage/ce?unit={site['street2']}").get_data(as_text=True)
    assert "高级社工" in page and "缺学时" not in page
    client.post("/logout")

    login(client, "coordout")
    page = client.get("/coverage/ce").get_data(as_text=True)
    assert "外区社工" in page and "缺学时" not in page


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-CN", ['<html lang="zh-CN">', "继续教育学时不足预警", "助理社会工作师", "尚缺"]),
        ("en", ['<html lang="en">', "Continuing education at risk", "Assistant social worker", "Still needed"]),
    ],
)
def test_the_at_risk_page_in_chinese_and_english(client, site, language, expected):
    login(client, "coord")
    page = client.get("/coverage/ce", headers={"Accept-Language": language}).get_data(as_text=True)
    for text in expected:
        assert text in page
    assert f'href="/people/{site["short"]}"' in page
    assert "2024-03-14" in page and "52.0" in page
    assert "style=" not in page
    # the dashboard links to it
    dashboard = client.get("/coverage/", headers={"Accept-Language": language}).get_data(as_text=True)
    assert "/coverage/ce?unit=" in dashboard


def test_the_person_page_shows_the_account(client, site):
    login(client, "coord")
    page = client.get(f"/people/{site['short']}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "继续教育" in page and "有风险" in page
    assert "2021-03-15 至 2024-03-14" in page
    assert re.search(r'<progress class="ce-progress bad" value="20\.0" max="72"', page)
    assert "已修 20.0 学时，最低 72.0 学时" in page
    assert "52.0" in page  # still needed
    assert "style=" not in page
    page = client.get(f"/people/{site['met']}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Continuing education" in page and "Minimum met" in page and "72.0 of 72.0 hours" in page
    assert "Still needed" not in page
    page = client.get(f"/people/{site['uncertified']}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Continuing education" not in page


# ---------------------------------------------------------------- fixed number of statements


def test_the_at_risk_list_issues_a_fixed_number_of_statements(app, client, frozen_today):
    with app.app_context():
        w = World()
        for code, count in (("330198", 5), ("330199", 50)):
            place = unit(f"区县{count}", "district", w.city, code=code)
            people = [certified(place, f"社工{i}", REGISTERED) for i in range(count)]
            attend(w.admin, people, local(2022, 5, 10), 6)
            user(f"coord-{count}", "coordinator", place)
        db.session.commit()

    counts = {}
    for count in (5, 50):
        with app.app_context():
            viewer = db.session.scalar(select(User).where(User.username == f"coord-{count}"))
            ce_at_risk(viewer, TODAY)  # warm: the first use of a connection may run set-up statements
            db.session.expire_all()
            viewer = db.session.scalar(select(User).where(User.username == f"coord-{count}"))
            with Statements(db.engine) as seen:
                rows = ce_at_risk(viewer, TODAY)
            assert len(rows) == count and all(r.hours == 6 for r in rows)
            counts[count] = len(seen.seen)
    assert counts[5] == counts[50] <= 3, counts

    with app.app_context():
        engine = db.engine
    pages = {}
    for count in (5, 50):
        login(client, f"coord-{count}")
        assert client.get("/coverage/ce").status_code == 200
        with Statements(engine) as seen:
            page = client.get("/coverage/ce").get_data(as_text=True)
        assert len(re.findall(r'href="/people/\d+"', page)) == count
        pages[count] = len(seen.seen)
        client.post("/logout")
    assert pages[5] == pages[50], pages


# ---------------------------------------------------------------- the demo


def test_the_demo_lists_certified_people_of_taicang(demo_app):
    day = date(2026, 11, 28)
    with demo_app.app_context():
        taicang = unit_by_code("320585")
        coordinator = db.session.scalar(select(User).where(User.username == "taicang"))
        rows = ce_at_risk(coordinator, day, limit=2000)
        assert len(rows) > 50
        horizon = risk_horizon(day)
        for r in rows:
            assert r.person.unit.is_within(taicang)
            assert day < r.period_end <= horizon and r.hours < r.minimum
        first = ce_account(rows[0].person, day)
        assert first.at_risk and first.period_end == rows[0].period_end


def test_the_trainee_sees_their_own_account(app, client):
    with app.app_context():
        w = World()
        me = w.trainee_person
        me.level, me.certified_on = "intermediate", add_months(today_local(), -13)
        attend(w.admin, [me], local(me.certified_on.year, me.certified_on.month, me.certified_on.day, 10), 5)
        db.session.commit()
        start = me.certified_on.isoformat()
    login(client, "trainee")
    page = client.get("/my/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Continuing education" in page and "In progress" in page
    assert f"{start} to " in page and "5.0 of 90.0 hours" in page
    assert 'value="5.0" max="90"' in page
