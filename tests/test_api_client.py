"""The OpenAPI document as a client generator reads it, and a generated client doing the README round trip.

openapi-python-client (pinned in constraints.txt) generates a package from the
standalone app's document into a temporary folder, offline (no post hooks, so
nothing is fetched or run but the generator). The package is imported and
drives the app served on a free loopback port: create program → course →
session → enrol → attendance → hours → report, standalone and mounted under
/training, with the same generated code (paths are relative to the server).
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from shegong_academy.api.openapi import FEATURES, OPERATION_IDS
from shegong_academy.auth import permissions as auth_permissions
from shegong_academy.credentials import models as credentials_models
from shegong_academy.extensions import db
from shegong_academy.jobs import models as job_models
from shegong_academy.org import models as org_models
from shegong_academy.people import models as people_models
from shegong_academy.supervision import models as supervision_models
from shegong_academy.training import models as training_models
from tests.conftest import make_app, serving
from tests.factories import World

PACKAGE = "academy_client"
SCHEMAS = Path(__file__).resolve().parent.parent / "app" / "api" / "schemas.py"
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def _document(app, **environ) -> dict:
    return app.test_client().get(_document_url(app), environ_overrides=environ).json


def _document_url(app) -> str:
    return next(r.rule for r in app.url_map.iter_rules() if r.endpoint == "lms-api-docs.openapi_json")


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def _enums(node) -> Iterator[list]:
    """Every ``enum`` list anywhere in a JSON document."""
    if isinstance(node, dict):
        if "enum" in node:
            yield node["enum"]
        for value in node.values():
            yield from _enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from _enums(value)


@pytest.fixture(scope="module")
def standalone_document() -> dict:
    return _document(make_app("sqlite://"))


def test_every_operation_has_a_unique_snake_case_id_and_its_feature_as_tag(standalone_document):
    operations = _operations(standalone_document)
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(ids) == len(set(ids)) >= 29
    for method, path, operation in operations:
        identifier = operation["operationId"]
        assert re.fullmatch(r"[a-z]+(_[a-z]+)+", identifier), (method, path, identifier)
        assert operation["tags"] == [identifier.partition("_")[0]], (method, path)
    tags = standalone_document["tags"]
    assert [t["name"] for t in tags] == list(FEATURES) and all(t["description"] for t in tags)
    assert {t for _, _, op in operations for t in op["tags"]} == set(FEATURES)  # no "api" tag, none unused
    by_id = {operation["operationId"]: (method, path) for method, path, operation in operations}
    assert by_id["training_create_program"] == ("post", "/programs")
    assert by_id["people_list"] == ("get", "/people") and by_id["people_get"] == ("get", "/people/{person_id}")
    assert by_id["coverage_create_cohort"] == ("post", "/cohorts")


def test_every_explicit_operation_id_names_a_view_of_the_api():
    app = make_app("sqlite://")
    endpoints = {rule.endpoint.removeprefix("api.") for rule in app.url_map.iter_rules() if rule.endpoint[:4] == "api."}
    assert set(OPERATION_IDS) <= endpoints  # an override left behind by a renamed view would silently lapse


def test_paths_are_relative_to_a_server_that_follows_the_mount(standalone_document, host):
    assert standalone_document["servers"] == [{"url": "/api/v1"}]
    assert not any(path.startswith("/api/") for path in standalone_document["paths"])
    mounted = _document(host)
    assert mounted["servers"] == [{"url": "/training/api/v1"}]
    # The same operations, paths and schemas: one generated client serves both deployments.
    assert {**mounted, "servers": None} == {**standalone_document, "servers": None}
    # Behind a WSGI mount point (SCRIPT_NAME) the server carries it too.
    assert _document(host, SCRIPT_NAME="/portal")["servers"] == [{"url": "/portal/training/api/v1"}]


def test_enums_never_list_null_and_are_the_models_constants(standalone_document):
    constants = {
        value
        for module in (
            org_models,
            people_models,
            training_models,
            supervision_models,
            credentials_models,
            job_models,
            auth_permissions,  # the roles an account holds
        )
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, tuple)
    }
    enums = list(_enums(standalone_document))
    assert len(enums) >= 17
    for enum in enums:
        assert None not in enum and tuple(enum) in constants, enum
    category = standalone_document["components"]["schemas"]["CohortCreate"]["properties"]["category"]
    assert category["anyOf"] == [
        {"type": "string", "enum": list(people_models.CATEGORIES)},
        {"type": "null"},
    ]


def test_schemas_spell_out_no_enumeration_or_year_range():
    """The schemas read the models' constants and core.ranges; a literal list of choices or year is a copy."""
    tree = ast.parse(SCHEMAS.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "OneOf",
            "Choice",
        ):
            assert not isinstance(node.args[0], ast.List | ast.Tuple | ast.Set), ast.unparse(node)
        if isinstance(node, ast.Constant) and node.value in (2000, 2100):
            raise AssertionError(f"line {node.lineno}: a year range spelled out")


# --- the generated client ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(standalone_document, tmp_path_factory):
    """Generate the client package from the standalone document and import it."""
    folder = tmp_path_factory.mktemp("client")
    (folder / "openapi.json").write_text(json.dumps(standalone_document), encoding="utf-8")
    # a PDF is a file to the generator, like any other binary body
    config = {"post_hooks": [], "content_type_overrides": {"application/pdf": "application/octet-stream"}}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json", "--meta", "none"]
        + ["--config", "config.json", "--output-path", PACKAGE, "--fail-on-warning"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE), folder / PACKAGE
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_a_nullable_enum_is_one_enum_class(generated):
    _, package = generated
    classes = sorted(p.name for p in (package / "models").glob("cohort_create_category*.py"))
    assert classes == ["cohort_create_category_type_0.py"]  # it was three identical ones


def _token(app) -> str:
    """A token for the district coordinator, made as the README says: ``lms create-token``."""
    result = app.test_cli_runner().invoke(args=["lms", "create-token", "--username", "coord"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


@pytest.fixture
def standalone(db_url):
    app = make_app(db_url)
    with app.app_context():
        World()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=["standalone", "mounted"])
def deployment(request) -> tuple:
    """The app and the server URL its document names (what a client is configured with)."""
    app = request.getfixturevalue("standalone" if request.param == "standalone" else "host")
    return app, _document(app)["servers"][0]["url"]


ROUND_TRIP = [
    ("POST", "/programs", 201),
    ("POST", "/courses", 201),
    ("POST", "/sessions", 201),
    ("GET", "/people", 200),
    ("POST", "/courses/{course}/enrolments", 201),
    ("PUT", "/sessions/{session}/attendance/{person}", 200),
    ("PUT", "/sessions/{session}/attendance", 200),
    ("GET", "/sessions/{session}/attendance", 200),
    ("GET", "/people/{person}/hours", 200),
    ("POST", "/cohorts", 201),
    ("POST", "/cohorts", 201),
    ("GET", "/reports", 200),
    ("POST", "/programs", 422),
]


def test_generated_client_runs_the_readme_round_trip(generated, deployment):
    module, _ = generated
    app, server = deployment
    token = _token(app)
    sent = []

    def record(response) -> None:
        sent.append((response.request.method, response.request.url.path, response.status_code))

    with serving(app) as root:
        hooks = {"response": [record]}
        client = module.AuthenticatedClient(
            base_url=root + server,
            token=token,
            raise_on_unexpected_status=True,
            httpx_args={"trust_env": False, "event_hooks": hooks},  # loopback only, never a proxy
        )
        with client:
            ids = _round_trip(client)
    expected = [(method, server + path.format(**ids), status) for method, path, status in ROUND_TRIP]
    assert sent == expected


def _call(name: str, **kwargs):
    """Call the generated operation ``name`` (its module is named after the operationId) and its parsed answer."""
    tag = name.partition("_")[0]
    operation = importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")
    response = operation.sync_detailed(**kwargs)
    return response.status_code, response.parsed


def _round_trip(client) -> dict[str, int]:
    m = importlib.import_module(f"{PACKAGE}.models")
    program = m.ProgramCreate(
        title="2026年新任社区工作者培训班", kind=m.ProgramCreateKind.CLASS, unit_code="330105", year=2026, tier="新任"
    )
    status, created = _call("training_create_program", client=client, body=program)
    assert status == 201 and isinstance(created, m.Created), created
    course = m.CourseCreate(
        program_id=created.id,
        code="XR-01",
        title="社会工作专业理念与方法",
        hours=3,
        capacity=40,
        policy=m.CourseCreatePolicy.COORDINATOR,
    )
    status, course = _call("training_create_course", client=client, body=course)
    assert status == 201, course
    session = m.SessionCreate(
        course_id=course.id,
        starts_at=datetime(2026, 3, 10, 9),
        ends_at=datetime(2026, 3, 10, 12),
        hours=3,
        mode=m.SessionCreateMode.ONSITE,
        place="拱墅区社会工作指导中心",
    )
    status, session = _call("training_create_session", client=client, body=session)
    assert status == 201, session
    status, people = _call("people_list", client=client, unit="330105001", per_page=1)
    assert status == 200 and people.total >= 1
    person_id = people.items[0].id
    body = m.EnrolmentCreate(person_id=person_id)
    status, enrolment = _call("training_enrol", client=client, course_id=course.id, body=body)
    assert status == 201 and enrolment.status == "enrolled"
    present = m.AttendanceUpdate(status=m.AttendanceUpdateStatus.PRESENT)
    status, mark = _call(
        "training_mark_attendance", client=client, session_id=session.id, person_id=person_id, body=present
    )
    assert status == 200 and mark.status == "present", mark
    late = m.AttendanceBatch(items=[m.AttendanceItem(person_id=person_id, status=m.AttendanceItemStatus.LATE)])
    status, batch = _call("training_mark_attendance_batch", client=client, session_id=session.id, body=late)
    assert status == 200 and batch.total == 1
    status, roster = _call("training_list_attendance", client=client, session_id=session.id)
    assert [(a.person_id, a.status, a.method) for a in roster.items] == [(person_id, "late", "api")]
    status, hours = _call("training_get_person_hours", client=client, person_id=person_id, year=2026)
    assert status == 200 and hours.training_hours == 3.0
    _cohorts_and_report(client, m, person_id)
    return {"course": course.id, "session": session.id, "person": person_id}


def _cohorts_and_report(client, m, person_id: int) -> None:
    """A cohort by category (the nullable enum), one without, the report, and an error as problem details."""
    by_category = m.CohortCreate(
        name="社区工作者", unit_code="330105", year=2026, category=m.CohortCreateCategoryType0.COMMUNITY_WORKER
    )
    status, cohort = _call("coverage_create_cohort", client=client, body=by_category)
    assert status == 201 and cohort.members >= 1, cohort
    listed = m.CohortCreate(name="名单", unit_code="330105", year=2026, member_ids=[person_id], category=None)
    status, cohort = _call("coverage_create_cohort", client=client, body=listed)
    assert status == 201 and cohort.members == 1, cohort
    status, report = _call("coverage_get_report", client=client, unit="330105", year=2026)
    assert status == 200 and isinstance(report, m.Report)
    assert (report.programs, report.course_sessions, report.training_person_times) == (1, 1, 1)
    assert {c.name for c in report.cohorts} == {"社区工作者", "名单"}
    refused = m.ProgramCreate(title="x", kind=m.ProgramCreateKind.CAMP, unit_code="999999", year=2026)
    status, problem = _call("training_create_program", client=client, body=refused)
    assert status == 422 and isinstance(problem, m.Problem) and "unit_code" in problem.errors


def test_the_api_is_described_when_its_document_is_first_read_once_whoever_asks(standalone_document):
    """Start-up registers the operations without describing them; the first readers of the document (two at
    once here) get it whole, and the same as a document read alone."""
    import threading

    app = make_app("sqlite://")
    try:
        assert not app.extensions["academy_api"].spec.to_dict().get("paths")  # nothing described at start-up
        documents: list[dict] = []
        readers = [threading.Thread(target=lambda: documents.append(_document(app))) for _ in range(2)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        assert len(documents) == 2 and documents[0] == documents[1] == standalone_document
        assert len(_operations(documents[0])) >= 29
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
