"""Every endpoint, UI and API, walked as each kind of user (STYLE.md rule 2).

Later features add their endpoints to ENDPOINTS; a test fails when the app
has an endpoint the matrix does not list.
"""

from __future__ import annotations

import copy
import re
import shutil
from datetime import date

import pytest
from sqlalchemy import select

from shegong_academy.auth.accounts import password_link_token
from shegong_academy.auth.services import create_api_token
from shegong_academy.coverage.services import create_cohort
from shegong_academy.credentials.models import Certificate, CredentialType
from shegong_academy.extensions import db
from shegong_academy.jobs.models import Job
from shegong_academy.notices.models import Notification
from shegong_academy.notices.preferences import unsubscribe_token
from shegong_academy.notices.services import notify
from shegong_academy.supervision.services import record_supervision
from shegong_academy.training.calendar import calendar_token
from shegong_academy.training.grading import create_assessment
from shegong_academy.training.services import enrol
from tests.conftest import _truncate, is_postgres, make_app
from tests.factories import World, id_number, login, person, user
from tests.training.helpers import course, program, session

ROLES = ("anonymous", "trainee", "coord_in", "coord_out", "admin")
USERNAMES = {"trainee": "trainee", "coord_in": "coord", "coord_out": "coordout", "admin": "admin"}
LOGIN = 302  # anonymous UI requests are sent to /login

# (method, path template, body, expected status per role in ROLES order)
# {person}: a person in 拱墅区 (coord_in's district); {unit}: 和睦社区 in it.
UI = [
    ("GET", "/", None, (LOGIN, 302, 302, 302, 302)),
    ("GET", "/login", None, (200, 302, 302, 302, 302)),
    ("POST", "/login", {"username": "x", "password": "y"}, (200, 302, 302, 302, 302)),
    ("POST", "/logout", {}, (302, 302, 302, 302, 302)),
    ("POST", "/language", {"lang": "en"}, (302, 302, 302, 302, 302)),
    ("GET", "/healthz", None, (200, 200, 200, 200, 200)),
    ("GET", "/account/password", None, (LOGIN, 200, 200, 200, 200)),
    ("POST", "/account/password", {"current": "x"}, (LOGIN, 200, 200, 200, 200)),
    ("GET", "/people/", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/people/export.{fmt}", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/people/{person}", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/people/{person}/edit", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/people/{person}/edit", {"name": ""}, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/people/{person}/id-number", {}, (LOGIN, 403, 403, 403, 200)),
    ("POST", "/people/{person}/supervisor", {}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/people/import", None, (LOGIN, 403, 200, 200, 200)),
    ("POST", "/people/import", {}, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/units/", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/units/{unit}", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/units/import", None, (LOGIN, 403, 403, 403, 200)),
    ("GET", "/units/new", None, (LOGIN, 403, 200, 200, 200)),
    ("POST", "/units/new", {}, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/units/{unit}/edit", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/units/{unit}/edit", {}, (LOGIN, 403, 302, 404, 302)),  # empty: the values stay
    ("GET", "/units/{unit}/move", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/units/{unit}/move", {}, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/units/{unit}/{closeverb}", {}, (LOGIN, 403, 302, 404, 302)),
    # accounts: {managed} is the street coordinator of 米市巷街道 (coord_in manages it), {assignment} its only role
    ("GET", "/users/", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/users/new", None, (LOGIN, 403, 200, 200, 200)),
    ("POST", "/users/new", {}, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/users/{managed}", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/users/{managed}/roles", {}, (LOGIN, 403, 302, 404, 302)),
    ("POST", "/users/{managed}/roles/{assignment}/revoke", {}, (LOGIN, 403, 302, 404, 302)),
    ("POST", "/users/{managed}/{enableverb}", {}, (LOGIN, 403, 302, 404, 302)),
    ("POST", "/users/{managed}/signout", {}, (LOGIN, 403, 302, 404, 302)),
    ("POST", "/users/{managed}/person", {}, (LOGIN, 403, 302, 404, 302)),
    ("POST", "/users/{managed}/password-link", {}, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/users/password/{pwtoken}", None, (200, 200, 200, 200, 200)),
    ("POST", "/users/password/{pwtoken}", {}, (200, 200, 200, 200, 200)),
    ("GET", "/people/search?q=李", None, (LOGIN, 403, 200, 200, 200)),
    ("POST", "/units/import", {}, (LOGIN, 403, 403, 403, 200)),
    ("GET", "/static/css/app.css", None, (200, 200, 200, 200, 200)),
    # any other address: the academy's own "not found", whoever asks (POST without CSRF fails first: 400)
    ("GET", "/no/such/page", None, (404, 404, 404, 404, 404)),
    ("DELETE", "/no/such/page", None, (404, 404, 404, 404, 404)),
    ("PATCH", "/no/such/page", None, (404, 404, 404, 404, 404)),
    ("POST", "/no/such/page", {}, (404, 404, 404, 404, 404)),
    ("PUT", "/no/such/page", None, (404, 404, 404, 404, 404)),
    ("GET", "/account/tokens", None, (LOGIN, 200, 200, 200, 200)),
    ("POST", "/account/tokens", {"name": "平台"}, (LOGIN, 200, 200, 200, 200)),
    ("POST", "/account/tokens/{coord_token}/revoke", {"confirmed": "1"}, (LOGIN, 404, 302, 404, 404)),
    ("GET", "/api/v1/docs", None, (LOGIN, 200, 200, 200, 200)),
    # training: {program}, {course}, {session} of 拱墅区; {person} is enrolled, {person2} is not
    ("GET", "/programs/", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/programs/new", None, (LOGIN, 403, 200, 200, 200)),
    ("POST", "/programs/new", {}, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/programs/{program}", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/programs/{program}/courses/new", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/programs/{program}/courses/new", {}, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/courses/{course}", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/courses/{course}/enrol", {"one-person_id": "{person2}"}, (LOGIN, 403, 302, 404, 302)),
    ("POST", "/courses/{course}/sessions", {}, (LOGIN, 403, 422, 404, 422)),  # empty: the form again, marked
    ("POST", "/courses/{course}/withdraw/{person}", {}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/sessions/{session}", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/sessions/{session}", {}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/sessions/{session}/qr", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/sessions/{session}/qr.svg", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/sessions/{session}/import", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/sessions/{session}/import", {}, (LOGIN, 403, 200, 404, 200)),
    # day-two corrections: {closeverb} is "reopen" (of an open program or course: nothing changes)
    ("GET", "/programs/{program}/edit", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/programs/{program}/edit", {}, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/programs/{program}/{closeverb}", {}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/programs/{program}/delete", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/programs/{program}/delete", {}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/courses/{course}/edit", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/courses/{course}/edit", {}, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/courses/{course}/{closeverb}", {}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/courses/{course}/delete", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/courses/{course}/delete", {}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/sessions/{session}/edit", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/sessions/{session}/edit", {}, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/sessions/{session}/cancel", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/sessions/{session}/cancel", {"reason": "暴雨停课"}, (LOGIN, 403, 302, 404, 302)),
    ("POST", "/sessions/{session}/restore", {}, (LOGIN, 403, 302, 404, 302)),
    # assessments: {assessment} is {course}'s 结业考核; empty forms re-render, an empty roster saves nothing
    ("GET", "/courses/{course}/assessments/new", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/courses/{course}/assessments/new", {}, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/assessments/{assessment}", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/assessments/{assessment}", {}, (LOGIN, 403, 302, 404, 302)),
    ("POST", "/assessments/{assessment}", {"score-{person}": "75"}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/assessments/{assessment}/edit", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/assessments/{assessment}/edit", {"title": ""}, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/assessments/{assessment}/delete", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/assessments/{assessment}/delete", {}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/assessments/{assessment}/import", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/assessments/{assessment}/import", {}, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/my/notices/read", {}, (LOGIN, 302, 404, 404, 404)),
    ("GET", "/my/catalogue", None, (LOGIN, 200, 404, 404, 404)),
    ("GET", "/my/record", None, (LOGIN, 200, 404, 404, 404)),
    ("GET", "/my/hours?from=2022-01-01&to=2022-12-31", None, (LOGIN, 200, 404, 404, 404)),
    ("GET", "/my/calendar", None, (LOGIN, 200, 404, 404, 404)),
    ("POST", "/my/calendar", {}, (LOGIN, 302, 404, 404, 404)),
    # the feed's address is its key: no sign-in (a phone's calendar cannot sign in)
    ("GET", "/calendar/{caltoken}.ics", None, (200, 200, 200, 200, 200)),
    ("GET", "/notifications/", None, (LOGIN, 200, 200, 200, 200)),
    ("GET", "/notifications/?show=unread&page=2", None, (LOGIN, 200, 200, 200, 200)),
    ("POST", "/notifications/read", {}, (LOGIN, 302, 302, 302, 302)),
    ("POST", "/notifications/{notice}/open", {}, (LOGIN, 302, 404, 404, 404)),
    ("POST", "/notifications/{notice}/read", {}, (LOGIN, 302, 404, 404, 404)),
    ("GET", "/notifications/preferences", None, (LOGIN, 200, 200, 200, 200)),
    ("POST", "/notifications/preferences", {"email": "not an address"}, (LOGIN, 200, 200, 200, 200)),
    ("POST", "/notifications/preferences", {"email": "me@example.cn", "mail": "y"}, (LOGIN, 302, 302, 302, 302)),
    ("GET", "/notifications/unsubscribe/{unsubtoken}", None, (200, 200, 200, 200, 200)),
    ("POST", "/notifications/unsubscribe/{unsubtoken}", {}, (200, 200, 200, 200, 200)),
    ("GET", "/notifications/unsubscribe/{unsubtoken}x", None, (404, 404, 404, 404, 404)),
    ("POST", "/notifications/unsubscribe/{unsubtoken}x", {}, (404, 404, 404, 404, 404)),
    ("GET", "/sessions/{session}/live.json", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/audit/", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/audit/export.{fmt}", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/my/", None, (LOGIN, 200, 404, 404, 404)),
    ("GET", "/my/courses/{course}", None, (LOGIN, 404, 404, 404, 404)),
    ("GET", "/my/courses/{course}/lessons/{position}", None, (LOGIN, 404, 404, 404, 404)),
    ("POST", "/my/courses/{course}/lessons/{position}/done", {}, (LOGIN, 404, 404, 404, 404)),
    ("POST", "/my/courses/{course}/evaluation", {"q-overall": "5"}, (LOGIN, 404, 404, 404, 404)),
    # online quizzes: {assessment} is an exam, not a quiz; {sitting} is nobody's sitting
    ("POST", "/my/assessments/{assessment}/quiz", {}, (LOGIN, 404, 404, 404, 404)),
    ("GET", "/my/quiz/{sitting}", None, (LOGIN, 404, 404, 404, 404)),
    ("GET", "/my/quiz/{sitting}/{position}", None, (LOGIN, 404, 404, 404, 404)),
    ("POST", "/my/quiz/{sitting}/{position}", {"answer": "0"}, (LOGIN, 404, 404, 404, 404)),
    ("POST", "/my/quiz/{sitting}/submit", {}, (LOGIN, 404, 404, 404, 404)),
    ("GET", "/assessments/{assessment}/quiz", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/assessments/{assessment}/quiz", {"attempt": "{sitting}"}, (LOGIN, 403, 404, 404, 404)),
    # the evaluation's results: nobody has answered, so there is nothing to export yet (409)
    ("GET", "/courses/{course}/evaluation", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/courses/{course}/evaluation.{fmt}", None, (LOGIN, 403, 409, 404, 409)),
    ("POST", "/my/courses/{course}/enrol", {}, (LOGIN, 302, 404, 404, 404)),
    ("POST", "/my/courses/{course}/withdraw", {"confirmed": "1"}, (LOGIN, 302, 404, 404, 404)),
    ("GET", "/checkin/{session}?t=x", None, (LOGIN, 200, 404, 404, 404)),
    ("POST", "/checkin/{session}", {"t": "forged"}, (LOGIN, 403, 404, 404, 404)),
    # supervision: {record} supervises {person}; {credit} is the trainee's own credit
    ("GET", "/supervision/", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/supervision/{record}", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/supervision/new", None, (LOGIN, 403, 200, 200, 200)),
    ("POST", "/supervision/new", {}, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/supervision/export.{fmt}", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/supervision/mine", None, (LOGIN, 200, 404, 404, 404)),
    # corrections: coord_in recorded {record} (its author); voiding: the author or a coordinator of its unit
    ("GET", "/supervision/{record}/edit", None, (LOGIN, 403, 200, 404, 403)),
    ("POST", "/supervision/{record}/edit", {}, (LOGIN, 403, 302, 404, 403)),  # empty: the values stay
    ("GET", "/supervision/{record}/void", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/supervision/{record}/void", {"reason": "重复录入"}, (LOGIN, 403, 302, 404, 302)),
    ("POST", "/supervision/credits/{credit}/{verb}", {}, (LOGIN, 302, 404, 404, 404)),
    # coverage: {cohort} is 拱墅区's 2022 cohort
    ("GET", "/coverage/", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/coverage/?unit={district}&year=2022", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/coverage/export.{fmt}", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/coverage/missing.csv?unit={district}&year=2022", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/coverage/cohorts/new", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/coverage/ce", None, (LOGIN, 403, 200, 200, 200)),
    ("POST", "/coverage/cohorts/new", {}, (LOGIN, 403, 200, 200, 200)),
    ("POST", "/coverage/cohorts/{cohort}/freeze", {}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/coverage/cohorts/{cohort}/edit", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/coverage/cohorts/{cohort}/edit", {}, (LOGIN, 403, 302, 404, 302)),  # empty: the values stay
    # credentials: {credential} issued by 拱墅区; {certificate} is {person}'s (revoked, so printing starts no job)
    ("GET", "/credentials/", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/credentials/{credential}", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/credentials/{credential}?show=renewal", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/credentials/{credential}/approve", {}, (LOGIN, 403, 302, 404, 302)),
    ("POST", "/credentials/{credential}/print", {}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/credentials/types/new", None, (LOGIN, 403, 200, 200, 200)),
    ("POST", "/credentials/types/new", {}, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/credentials/{credential}/edit", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/credentials/{credential}/edit", {}, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/credentials/{credential}/seal", None, (LOGIN, 403, 404, 404, 404)),
    # {job} prints: only an issuing job's batch can be revoked
    ("GET", "/jobs/{job}/revoke", None, (LOGIN, 403, 404, 404, 404)),
    ("POST", "/jobs/{job}/revoke", {"reason": "x"}, (LOGIN, 403, 404, 404, 404)),
    ("GET", "/certificates/{certificate}", None, (LOGIN, 404, 200, 404, 200)),
    ("GET", "/certificates/{certificate}.pdf", None, (LOGIN, 404, 200, 404, 200)),
    ("GET", "/certificates/{certificate}/badge.json", None, (LOGIN, 404, 200, 404, 200)),
    ("GET", "/certificates/{certificate}/badge.jwt", None, (LOGIN, 404, 200, 404, 200)),
    ("GET", "/certificates/{certificate}/archival.pdf", None, (LOGIN, 404, 200, 404, 200)),
    # the issuers' public keys: anyone checks a signature with them
    ("GET", "/.well-known/did.json", None, (200, 200, 200, 200, 200)),
    ("GET", "/did.json", None, (200, 200, 200, 200, 200)),
    ("POST", "/certificates/{certificate}/revoke", {"reason": "x", "confirmed": "1"}, (LOGIN, 403, 302, 404, 302)),
    ("POST", "/certificates/{certificate}/reissue", {"confirmed": "1"}, (LOGIN, 403, 302, 404, 302)),
    ("GET", "/my/certificates", None, (LOGIN, 200, 404, 404, 404)),
    ("GET", "/verify/", None, (200, 200, 200, 200, 200)),
    ("GET", "/verify/{code}", None, (404, 404, 404, 404, 404)),
    ("GET", "/verify/pdf", None, (200, 200, 200, 200, 200)),
    ("POST", "/verify/pdf", {}, (422, 422, 422, 422, 422)),  # no file: the form says so
    # jobs: {job} is a print job the coordinator of 拱墅区 submitted for its unit (done, its file expired)
    ("GET", "/readyz", None, (200, 200, 200, 200, 200)),
    ("GET", "/jobs/", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/jobs/{job}", None, (LOGIN, 404, 200, 404, 200)),
    ("GET", "/jobs/{job}.json", None, (LOGIN, 404, 200, 404, 200)),
    ("GET", "/jobs/{job}/result", None, (LOGIN, 404, 404, 404, 404)),
]
API = [
    ("GET", "/api/v1/units", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/v1/people", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/v1/people/{person}", None, (401, 404, 200, 404, 200)),
    ("GET", "/api/v1/users", None, (401, 403, 200, 200, 200)),
    (
        "POST",
        "/api/v1/users",
        {"username": "inst9", "role": "instructor", "unit_code": "330105001"},
        (401, 403, 201, 422, 201),
    ),
    ("GET", "/api/v1/users/{managed}", None, (401, 403, 200, 404, 200)),
    ("PATCH", "/api/v1/users/{managed}", {"enabled": True}, (401, 403, 200, 404, 200)),
    (
        "POST",
        "/api/v1/users/{managed}/roles",
        {"role": "supervisor", "unit_code": "330105001"},
        (401, 403, 201, 404, 201),
    ),
    ("DELETE", "/api/v1/users/{managed}/roles/{assignment}", None, (401, 403, 409, 404, 409)),
    ("POST", "/api/v1/users/{managed}/password-link", None, (401, 403, 200, 404, 200)),
    ("POST", "/api/v1/users/{managed}/sign-out", None, (401, 403, 200, 404, 200)),
    (
        "POST",
        "/api/v1/people",
        {"unit_code": "330105001001", "name": "孙八", "id_number": "{new_id}", "phone": "13800138000"},
        (401, 403, 201, 422, 201),
    ),
    # training: {program}, {course}, {session} of 拱墅区; {person} is enrolled in {course}, {person2} is not
    (
        "POST",
        "/api/v1/programs",
        {"title": "督导能力提升班", "kind": "class", "unit_code": "330105", "year": 2022},
        (401, 403, 201, 422, 201),
    ),
    (
        "POST",
        "/api/v1/courses",
        {"program_id": "{program}", "code": "M2", "title": "个案工作", "hours": 3, "capacity": 20},
        (401, 403, 201, 422, 201),
    ),
    (
        "POST",
        "/api/v1/sessions",
        {"course_id": "{course}", "starts_at": "2022-06-01T09:00:00", "ends_at": "2022-06-01T12:00:00", "hours": 3},
        (401, 403, 201, 422, 201),
    ),
    ("POST", "/api/v1/courses/{course}/enrolments", {"person_id": "{person2}"}, (401, 404, 201, 404, 201)),
    ("DELETE", "/api/v1/courses/{course}/enrolments/{person}", None, (401, 404, 204, 404, 204)),
    ("PUT", "/api/v1/sessions/{session}/attendance/{person}", {"status": "present"}, (401, 404, 200, 404, 200)),
    ("GET", "/api/v1/people/{person}/hours?year=2022", None, (401, 404, 200, 404, 200)),
    ("PATCH", "/api/v1/programs/{program}", {"title": "督导能力提升班（修订）"}, (401, 404, 200, 404, 200)),
    ("DELETE", "/api/v1/programs/{program}", None, (401, 404, 204, 404, 204)),
    ("PATCH", "/api/v1/courses/{course}", {"title": "个案工作（修订）", "closed": True}, (401, 404, 200, 404, 200)),
    ("DELETE", "/api/v1/courses/{course}", None, (401, 404, 204, 404, 204)),
    ("PATCH", "/api/v1/sessions/{session}", {"place": "湖墅街道社工站"}, (401, 404, 200, 404, 200)),
    ("POST", "/api/v1/sessions/{session}/cancel", {"reason": "暴雨停课"}, (401, 404, 200, 404, 200)),
    ("POST", "/api/v1/sessions/{session}/restore", None, (401, 404, 409, 404, 409)),
    ("GET", "/api/v1/people/{me}/hours?year=2022", None, (401, 200, 200, 404, 200)),
    # read-back: lists answer 200 with only what the caller may see; another district's object is 404
    ("GET", "/api/v1/programs", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/v1/programs/{program}", None, (401, 404, 200, 404, 200)),
    ("GET", "/api/v1/courses", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/v1/courses/{course}", None, (401, 404, 200, 404, 200)),
    ("GET", "/api/v1/courses/{course}/enrolments", None, (401, 404, 200, 404, 200)),
    ("GET", "/api/v1/sessions", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/v1/sessions/{session}", None, (401, 404, 200, 404, 200)),
    ("GET", "/api/v1/sessions/{session}/attendance", None, (401, 404, 200, 404, 200)),
    # assessments of {course}: {assessment} is its 结业考核, {person} holds a seat
    ("GET", "/api/v1/courses/{course}/assessments", None, (401, 404, 200, 404, 200)),
    ("GET", "/api/v1/courses/{course}/evaluation", None, (401, 404, 200, 404, 200)),
    (
        "POST",
        "/api/v1/courses/{course}/assessments",
        {"title": "个案报告", "kind": "essay", "max_score": 20, "pass_mark": 12},
        (401, 404, 201, 404, 201),
    ),
    ("GET", "/api/v1/assessments/{assessment}", None, (401, 404, 200, 404, 200)),
    ("PATCH", "/api/v1/assessments/{assessment}", {"weight": 2}, (401, 404, 200, 404, 200)),
    ("DELETE", "/api/v1/assessments/{assessment}", None, (401, 404, 204, 404, 204)),
    ("GET", "/api/v1/assessments/{assessment}/results", None, (401, 404, 200, 404, 200)),
    ("PUT", "/api/v1/assessments/{assessment}/results/{person}", {"score": 75}, (401, 404, 200, 404, 200)),
    ("PUT", "/api/v1/assessments/{assessment}/results/{person2}", {"score": 75}, (401, 404, 404, 404, 404)),
    (
        "PUT",
        "/api/v1/sessions/{session}/attendance",
        {"items": [{"person_id": "{person}", "status": "late"}]},
        (401, 404, 200, 404, 200),
    ),
    ("GET", "/api/v1/cohorts", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/v1/cohorts/{cohort}", None, (401, 404, 200, 404, 200)),
    ("GET", "/api/v1/people/{person}/certificates", None, (401, 404, 200, 404, 200)),
    ("GET", "/api/v1/people/{me}/certificates", None, (401, 200, 200, 404, 200)),
    # supervision: {record} credits {person}; {supervisor} holds the supervisor assignment in 拱墅区
    ("GET", "/api/v1/supervision", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/v1/supervision/{record}", None, (401, 404, 200, 404, 200)),
    ("PATCH", "/api/v1/supervision/{record}", {"topic": "个案督导（修订）"}, (401, 404, 200, 404, 403)),
    ("POST", "/api/v1/supervision/{record}/void", {"reason": "重复录入"}, (401, 404, 200, 404, 200)),
    (
        "POST",
        "/api/v1/supervision",
        {
            "supervisor_id": "{supervisor}",
            "supervisee_ids": ["{person2}"],
            "format": "individual",
            "mode": "onsite",
            "date": "2022-06-01",
            "hours": 2,
            "topic": "个案督导",
        },
        (401, 403, 201, 422, 201),
    ),
    # coverage
    ("GET", "/api/v1/reports?unit=330105&year=2022", None, (401, 404, 200, 404, 200)),
    (
        "POST",
        "/api/v1/cohorts",
        {"name": "2022年持证社工", "unit_code": "330105", "year": 2022, "member_ids": ["{person}"]},
        (401, 403, 201, 422, 201),
    ),
    # credentials: public, no token needed; an unknown code is 404 for everyone
    ("GET", "/api/v1/verify/{code}", None, (404, 404, 404, 404, 404)),
    # what verifying a signed credential needs is public too; the credential itself is the holder's or in scope
    ("POST", "/api/v1/verify/pdf", None, (422, 422, 422, 422, 422)),  # no file (a multipart upload, not JSON)
    ("GET", "/api/v1/issuers/{unit_code}", None, (200, 200, 200, 200, 200)),
    ("GET", "/api/v1/issuers/{unit_code}/jwks", None, (200, 200, 200, 200, 200)),
    ("GET", "/api/v1/issuers/{unit_code}/did.json", None, (200, 200, 200, 200, 200)),
    ("GET", "/api/v1/status-lists/{unit_code}", None, (200, 200, 200, 200, 200)),
    ("GET", "/api/v1/certificates/{serial}/ob3", None, (401, 404, 200, 404, 200)),
    # issuing and printing start jobs; {person} is not eligible (the job records the refusal)
    (
        "POST",
        "/api/v1/credential-types/{credential_name}/issue",
        {"person_ids": ["{person}"]},
        (401, 403, 202, 404, 202),
    ),
    ("POST", "/api/v1/credential-types/{credential_name}/print", {}, (401, 403, 422, 404, 422)),
    ("GET", "/api/v1/jobs/{job}", None, (401, 404, 200, 404, 200)),
    ("GET", "/api/v1/jobs/{job}/result", None, (401, 404, 404, 404, 404)),
]
ENDPOINTS = UI + API


def _build_world() -> dict:
    """The matrix's world: a user of every role, and one of everything an endpoint names; returns the ids."""
    w = World()
    tokens = {
        role: create_api_token(user=getattr(w, attr))
        for role, attr in (
            ("trainee", "trainee"),
            ("coord_in", "coord"),
            ("coord_out", "coord_out"),
            ("admin", "admin"),
        )
    }
    prog = program(w.district)
    crs = course(prog, capacity=10)
    sess = session(crs)
    enrol(course=crs, person=w.person, actor=w.coord)
    assessment = create_assessment(course=crs, data={"title": "结业考核", "pass_mark": 60}, actor=w.coord)
    supervisor = person(w.street, "孙督导")
    user("supervisor", "supervisor", w.district, person=supervisor)
    record = record_supervision(
        data={
            "format": "individual",
            "mode": "onsite",
            "held_on": date(2022, 5, 20),
            "hours": 2,
            "topic": "个案督导",
        },
        supervisor=supervisor,
        supervisees=[w.person],
        actor=w.coord,
    ).record
    own = record_supervision(
        data={
            "format": "individual",
            "mode": "online",
            "held_on": date(2022, 6, 1),
            "hours": 1,
            "topic": "朋辈督导",
        },
        supervisor=supervisor,
        supervisees=[w.trainee_person],
        actor=w.coord,
    ).record
    cohort = create_cohort(
        data={"name": "2022年全员", "year": 2022, "member_ids": [w.person.id], "min_training_hours": 1},
        unit=w.district,
        actor=w.coord,
    )
    credential = CredentialType(
        name="psw",
        title="项目社工转岗证书",
        design="transition-zh",
        issuer_unit=w.district,
        issuer_name="杭州市拱墅区民政局",
        issuer_code="GSMZ",
    )
    db.session.add(credential)
    db.session.flush()
    certificate = Certificate(
        credential=credential,
        person=w.person,
        serial="GSMZ-2022-00001",
        verification_code="AAAA-BBBB",
        claims={
            "name": "李四",
            "credential": "项目社工转岗证书",
            "issuer": "杭州市拱墅区民政局",
            "issued_on": "2022-12-01",
            "training_hours": 0,
            "supervision_hours": 0,
            "programs": [],
            "transition": None,
            "id_number": "x",
            "unit": "和睦社区",
            "period_year": None,
            "expires_on": None,
            "records": [],
        },
        design="transition-zh",
        design_version="1",
        status="revoked",
        revoke_reason="测试",
    )
    db.session.add(certificate)
    job = Job(
        kind="credentials.print",
        key="matrix",
        state="done",
        user_id=w.coord.id,
        unit_id=w.district.id,
        params={"credential_id": credential.id, "certificate_ids": []},
        result={"count": 0},
    )
    db.session.add(job)
    caltoken = calendar_token(w.trainee)  # made (and kept) before the commit
    notify([w.trainee_person.id], "session.cancelled", link="/my/", course=crs.title, reason="测试")
    notice = db.session.scalar(select(Notification.id).order_by(Notification.id.desc()))
    db.session.commit()
    return {
        "credit": own.credits[0].id,
        "cohort": cohort.id,
        "credential": credential.id,
        "credential_name": credential.name,
        "certificate": certificate.id,
        "serial": certificate.serial,
        "unit_code": w.district.code,
        "district": w.district.id,
        "coord_token": 2,
        "fmt": "csv",
        "verb": "confirm",
        "closeverb": "reopen",
        "enableverb": "enable",
        "managed": w.street_coord.id,
        "assignment": w.street_coord.roles[0].id,
        "pwtoken": password_link_token(w.street_coord),
        "caltoken": caltoken,
        "notice": notice,
        "unsubtoken": unsubscribe_token(w.trainee.id, "session.tomorrow"),
        "job": job.id,
        "position": 1,
        "person": w.person.id,
        "person2": w.person2.id,
        "me": w.trainee_person.id,
        "unit": w.community.id,
        "program": prog.id,
        "course": crs.id,
        "session": sess.id,
        "assessment": assessment.id,
        "sitting": 424242,
        "supervisor": supervisor.id,
        "record": record.id,
        "code": "NO-SUCH-CODE",
        "tokens": tokens,
    }


@pytest.fixture(scope="session")
def world_template(template_db, tmp_path_factory):
    """On SQLite, the world built once into a file that each test copies (975 tests each built it before)."""
    if is_postgres():
        return None
    path = tmp_path_factory.mktemp("matrix") / "world.db"
    shutil.copyfile(template_db, path)
    app = make_app(f"sqlite:///{path}")
    with app.app_context():
        data = _build_world()
        db.session.remove()
        db.engine.dispose()
    return path, data


@pytest.fixture
def db_url(template_db, tmp_path, world_template):
    """The test's database: a copy of the world (SQLite), or the shared one emptied afterwards (PostgreSQL)."""
    if world_template is None:
        yield template_db
        _truncate(template_db)
        return
    target = tmp_path / "test.db"
    shutil.copyfile(world_template[0], target)
    yield f"sqlite:///{target}"


@pytest.fixture
def world(app, world_template):
    if world_template is not None:
        return copy.deepcopy(world_template[1])
    with app.app_context():
        return _build_world()


def fill(template, world):
    if isinstance(template, dict):  # a form's field names may name ids too ("score-{person}")
        return {str(fill(k, world)): fill(v, world) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, world) for v in template]
    if isinstance(template, str):
        whole = re.fullmatch(r"\{(\w+)\}", template)
        if whole and isinstance(world.get(whole[1]), int):  # an id in a JSON body stays a number
            return world[whole[1]]
        names = {k: v for k, v in world.items() if k != "tokens"}
        return template.format(**names, new_id=id_number(900, region="110105"))
    return template


@pytest.mark.one_database
@pytest.mark.parametrize("role_index,role", list(enumerate(ROLES)))
@pytest.mark.parametrize("method,path,body,expected", UI, ids=[f"{m} {p}" for m, p, *_ in UI])
def test_ui_endpoint(app, client, world, method, path, body, expected, role_index, role):
    if role != "anonymous":
        assert login(client, USERNAMES[role]).status_code == 302
    url = fill(path, world)
    response = client.open(url, method=method, data=fill(body, world))
    response.close()
    assert response.status_code == expected[role_index], f"{role} {method} {url}"
    if (
        response.status_code == 302
        and expected[role_index] == LOGIN
        and role == "anonymous"
        and path not in ("/logout", "/language")
    ):
        assert "/login" in response.location


@pytest.mark.one_database
@pytest.mark.parametrize("role_index,role", list(enumerate(ROLES)))
@pytest.mark.parametrize("method,path,body,expected", API, ids=[f"{m} {p}" for m, p, *_ in API])
def test_api_endpoint(app, client, world, method, path, body, expected, role_index, role):
    headers = {} if role == "anonymous" else {"Authorization": f"Bearer {world['tokens'][role]}"}
    url = fill(path, world)
    response = client.open(url, method=method, json=fill(body, world), headers=headers)
    assert response.status_code == expected[role_index], f"{role} {method} {url}: {response.get_data(as_text=True)}"
    if response.status_code == 204:
        assert response.get_data() == b"", "204 has no body"
    else:
        assert response.is_json, "API answers are always JSON"
    if response.status_code >= 400:
        assert {"type", "title", "status", "detail"} <= set(response.json)


@pytest.mark.parametrize("part", ["api", "ui"])
def test_matrix_lists_every_endpoint(app, part):
    listed = set()
    for method, path, *_ in ENDPOINTS:
        listed.add((method, path.split("?")[0]))
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") != (part == "api"):
            continue
        path = re.sub(r"<(?!path:)[^>]+>", "{x}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            normalised = {(m, re.sub(r"\{\w+\}", "{x}", p)) for m, p in listed}
            if (
                rule.endpoint.startswith("lms-api-docs")
                or (method, path.replace("<path:filename>", "css/app.css")) in normalised
            ):
                continue
            missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, "endpoints missing from the access matrix: " + ", ".join(sorted(missing))


@pytest.mark.parametrize("number", ["0", "2147483648", "99999999999999999999"])
def test_ids_outside_the_column_range_are_404_everywhere(app, client, world, number):
    """Every route taking an id refuses an id no row can have with 404, never a 500 (an overflow in the driver).

    (Werkzeug answers 405 instead when another rule shares the path with other methods.)"""
    assert login(client, "admin").status_code == 302
    headers = {"Authorization": f"Bearer {world['tokens']['admin']}"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if "<id:" not in rule.rule:
            continue
        url = re.sub(r"<[^>]+>", "x", re.sub(r"<id:[^>]+>", number, rule.rule))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, headers=headers, json={} if method != "GET" else None)
            assert response.status_code in (404, 405), f"{method} {url}: {response.status_code}"
            if url.startswith("/api/"):
                assert response.mimetype == "application/problem+json"
            checked += 1
    assert checked > 50
