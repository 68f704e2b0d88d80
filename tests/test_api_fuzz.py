"""Schemathesis over every operation of the OpenAPI document: no server error, every answer as documented.

The run is in-process (WSGI), bounded (a fixed number of examples per
operation, derandomised so every run tries the same inputs) and acts as a
coordinator of 拱墅区 holding real objects, so paths with existing ids are
reached as well as unknown ones.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from shegong_academy.auth.services import create_api_token
from shegong_academy.coverage.services import create_cohort
from shegong_academy.extensions import db
from shegong_academy.supervision.services import record_supervision
from shegong_academy.training.services import enrol
from tests.conftest import make_app
from tests.factories import World, person, user
from tests.training.helpers import course, program, session

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
EXAMPLES = 25  # per operation; about 40 s for the whole document on one core


@pytest.fixture
def fuzz_app(db_url):
    # No rate limits here: the fuzzer would spend its examples on 429s.
    app = make_app(db_url, RATELIMIT_ENABLED=False)
    with app.app_context():
        w = World()
        prog = program(w.district)
        crs = course(prog, capacity=2)
        session(crs)
        enrol(course=crs, person=w.person, actor=w.coord)
        supervisor = person(w.street, "孙督导")
        user("supervisor", "supervisor", w.district, person=supervisor)
        record_supervision(
            data={"format": "individual", "mode": "onsite", "held_on": date(2022, 5, 20), "hours": 2, "topic": "督导"},
            supervisor=supervisor,
            supervisees=[w.person],
            actor=w.coord,
        )
        create_cohort(data={"name": "全员", "year": 2022, "member_ids": [w.person.id]}, unit=w.district, actor=w.coord)
        app.config["FUZZ_TOKEN"] = create_api_token(user=w.coord)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _operations() -> list[tuple[str, str]]:
    # Read at collection time from the document itself, so a new endpoint is fuzzed without listing it here.
    app = make_app("sqlite://")
    document = app.test_client().get("/api/v1/openapi.json").json
    return [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    ]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("method,path", _operations())
def test_operation_answers_as_documented(fuzz_app, method, path, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {fuzz_app.config['FUZZ_TOKEN']}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

    run()


# POSTs that take no body: the path says everything (printing a credential's valid certificates,
# restoring a cancelled session, a password link, signing an account out).
FILE_UPLOADS = {"/api/v1/verify/pdf"}  # multipart/form-data
BODILESS = {
    "/api/v1/credential-types/{name}/print",
    "/api/v1/sessions/{session_id}/restore",
    "/api/v1/users/{user_id}/password-link",
    "/api/v1/users/{user_id}/sign-out",
}


def test_openapi_document_validates_and_lists_every_endpoint(app, client):
    document = client.get("/api/v1/openapi.json").json
    validate(document)  # openapi-spec-validator: raises on any violation of OpenAPI 3.1
    server = document["servers"][0]["url"]  # paths are relative to it
    documented = {
        (method.upper(), server + path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.static":
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routed |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == documented
    for method, path in documented:
        operation = document["paths"][path.removeprefix(server)][method.lower()]
        assert "default" in operation["responses"], f"{method} {path} documents no error"
        ok = [s for s in operation["responses"] if s.startswith("2")]
        assert ok, f"{method} {path} documents no success"
        if ok[0] != "204":
            # JSON, or a job's file; a credential also as a VC-JWT
            bodies = operation["responses"][ok[0]]["content"].values()
            assert bodies and all(body["schema"] for body in bodies), f"{method} {path}"
        if method in ("POST", "PUT") and path in FILE_UPLOADS:
            assert operation["requestBody"]["content"]["multipart/form-data"]["schema"], f"{method} {path}"
        elif method in ("POST", "PUT") and path not in BODILESS:
            assert operation["requestBody"]["content"]["application/json"]["schema"], f"{method} {path}"
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert "errors" in problem["properties"]
    error = document["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert error == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
