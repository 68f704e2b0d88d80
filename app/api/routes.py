"""The JSON API under /api/v1: bearer tokens, the caller's scope, problem-details errors."""

from __future__ import annotations

import http
import threading

from flask import Blueprint as FlaskBlueprint
from flask import Flask, abort, current_app, request
from flask_smorest import Api, Blueprint
from sqlalchemy import func, select
from werkzeug.exceptions import BadRequest

from ..auth.permissions import MANAGE, can
from ..core.crypto import token_hash
from ..core.errors import problem
from ..core.i18n import _
from ..core.uow import attempt
from ..extensions import db, limiter
from ..org import queries as org_queries
from ..org.queries import unit_for_code
from ..people import queries as people_queries
from ..people.models import Person
from ..people.services import create_person
from . import schemas
from .auth import api_user, authenticate_request, bearer_secret
from .openapi import FEATURES, OperationsPlugin, nullable_enum

PROBLEM_JSON = "application/problem+json"
FILE_ENDPOINTS = frozenset({"api.verify_pdf"})  # operations that take a file (multipart), not JSON

bp = Blueprint("api", __name__, description=_("Shegong Academy API v1"))
bp.before_request(authenticate_request)


@bp.before_request
def _json_bodies_only():
    """A body the API would otherwise ignore (a form, plain text) is refused, not read as "no fields"."""
    if request.method in ("POST", "PUT", "PATCH") and (request.content_length or 0) > 0:
        if request.endpoint in FILE_ENDPOINTS:
            return None  # a file upload: multipart/form-data, read by its operation
        if not request.is_json:
            abort(415, description=_("Send the request body as JSON (Content-Type: application/json)."))
        try:
            request.get_json()  # read it now: a body nested too deep or not Unicode is a 400 on every operation
        except BadRequest as exc:
            if exc.description != BadRequest.description:
                raise  # the JSON reader's own reason (too deep, not Unicode)
            return problem(400, _("Invalid input."), {"json": [_("Invalid JSON body.")]})
    return None


class AcademyApi(Api):
    """flask-smorest's Api, leaving error pages to the academy (HTML for people, JSON here).

    Every error is documented as what ``app.core.errors.problem`` sends: RFC 9457
    problem details as ``application/problem+json``. Operations are tagged by feature
    (see ``api/openapi.py``), not by the one blueprint that serves them.
    """

    ERROR_SCHEMA = schemas.Problem

    def __init__(self, app: Flask, base_path: str):
        self.base_path = base_path
        self._undocumented: list[tuple] = []
        self._documenting = threading.Lock()
        spec = {"security": [{"bearer": []}], "extra_plugins": [OperationsPlugin(app, base_path)]}
        super().__init__(app, spec_kwargs=spec, config_prefix="LMS")
        self.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
        self.ma_plugin.converter.add_attribute_function(nullable_enum)
        for name, description in FEATURES.items():
            self.spec.tag({"name": name, "description": description})

    def register_blueprint(self, blp, *, parameters=None, **options):
        """Register ``blp``; its views are documented, without a tag of their own, when the document is first read.

        Describing the operations (apispec resolving every schema) was two thirds of ``create_app``, which every
        web process, command and test pays, while few of them ever read the document.
        """
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def documented_spec(self):
        """The apispec ``APISpec``, every registered blueprint's views described in it (once, whichever thread asks)."""
        with self._documenting:
            for blp, name, parameters in self._undocumented:
                blp.register_views_in_doc(self, self._app, self.spec, name=name, parameters=parameters)
            self._undocumented.clear()
        return self.spec

    def document(self) -> dict:
        """Return the OpenAPI document, its server as this request reaches it (a WSGI mount point too)."""
        document = self.documented_spec().to_dict()
        return {**document, "servers": [{"url": request.script_root + self.base_path}]}

    def _openapi_json(self):
        body = current_app.json.dumps(self.document(), indent=2, sort_keys=False)
        return current_app.response_class(body, mimetype="application/json")

    def _register_error_handlers(self):
        pass  # the academy's blueprints answer their own errors; the host's stay the host's

    def _register_doc_blueprint(self):
        """Serve the OpenAPI document from an academy blueprint (its headers, its errors)."""
        from ..core.web import setup_blueprint

        blueprint = setup_blueprint(
            FlaskBlueprint(self._make_doc_blueprint_name(), __name__, url_prefix=self.config["OPENAPI_URL_PREFIX"]),
            forms=False,
        )
        blueprint.add_url_rule(
            "/" + self.config.get("OPENAPI_JSON_PATH", "openapi.json"),
            endpoint="openapi_json",
            view_func=self._openapi_json,
        )
        self._app.register_blueprint(blueprint)

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["content"] = {PROBLEM_JSON: {"schema": schemas.Problem}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            "DEFAULT_ERROR",
            {
                "description": "An error, as RFC 9457 problem details",
                "content": {PROBLEM_JSON: {"schema": schemas.Problem}},
            },
            lazy=True,
        )


def page_of(stmt, args) -> dict:
    """Run ``stmt`` for one page and count the whole result: ``{"items", "total"}``."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(args["per_page"]).offset((args["page"] - 1) * args["per_page"])).all()
    return {"items": items, "total": total}


def person_json(p: Person) -> dict:
    return {
        "id": p.id,
        "name": p.name,
        "unit_code": p.unit.code,
        "category": p.category,
        "level": p.level,
        "id_number": p.id_number_masked,
        "phone": p.phone,
        "active": p.active,
        "certified_on": p.certified_on,
    }


@bp.get("/units")
@bp.arguments(schemas.UnitArgs, location="query")
@bp.response(200, schemas.UnitPage)
def units(args):
    """List the units the caller may see."""
    return page_of(org_queries.units_seen(api_user(), code=args.get("code")), args)


@bp.get("/people")
@bp.arguments(schemas.PeopleArgs, location="query")
@bp.response(200, schemas.PersonPage)
def people(args):
    """List people in the caller's scope, by unit subtree and category."""
    user = api_user()
    unit = None
    if args.get("unit"):
        unit = unit_for_code(user, args["unit"])
        if unit is None:
            abort(404, description=_("Unknown unit."))
    stmt = people_queries.people_query(user, unit=unit, category=args.get("category"))
    result = page_of(stmt, args)
    result["items"] = [person_json(p) for p in result["items"]]
    return result


@bp.post("/people")
@bp.arguments(schemas.PersonCreate)
@bp.response(201, schemas.Created)
def create_people(data):
    """Create a person in a unit within the caller's scope."""
    user = api_user()
    if not can(user, MANAGE):
        abort(403, description=_("Only coordinators and administrators create people."))
    unit = unit_for_code(user, data["unit_code"])
    if unit is None:
        return problem(422, _("Invalid input."), {"unit_code": [_("Unknown unit.")]})
    with attempt() as outcome:
        person = create_person(data=data, unit=unit, actor=user)
    if not outcome.ok:
        exc = outcome.error
        # 422 also for an ID number held outside the caller's units: the same body wherever it is held.
        detail = {409: _("Duplicate."), 429: str(exc.errors.get("id_number", ""))}.get(exc.status, _("Invalid input."))
        return problem(exc.status, detail, {k: [str(v)] for k, v in exc.errors.items()})
    return {"id": person.id}


@bp.get("/people/<id:person_id>")
@bp.response(200, schemas.PersonSchema)
def person(person_id: int):
    """One person, the ID number masked."""
    p = people_queries.person_for(api_user(), person_id)
    if p is None:
        abort(404)
    return person_json(p)


def _token_key() -> str:
    # Limits are per token (or per address without one), keyed on the token as authentication reads it,
    # so "bearer  T" and "Bearer T" share one budget; only a hash is kept.
    secret = bearer_secret()
    return "api:" + token_hash(secret) if secret else "api-address:" + (request.remote_addr or "")


limiter.limit(lambda: current_app.config["LMS_API_RATE_LIMIT"], key_func=_token_key)(bp)


def register_api(app: Flask, prefix: str) -> None:
    """Attach the API blueprint and its OpenAPI document under ``prefix``/api/v1 (the document's server)."""
    from . import assessments, coverage, credentials, jobs, supervision, training, users  # noqa: F401  (routes on bp)
    from .messages import field_errors

    base_path = prefix + "/api/v1"
    # flask-smorest reads its settings with the academy's prefix (LMS_API_TITLE…), never the host's API_TITLE.
    app.config["LMS_API_TITLE"] = "Shegong Academy API"
    app.config["LMS_API_VERSION"] = "v1"
    app.config["LMS_OPENAPI_VERSION"] = "3.1.0"
    app.config["LMS_OPENAPI_URL_PREFIX"] = base_path
    app.config.setdefault("LMS_OPENAPI_JSON_PATH", "openapi.json")
    api = AcademyApi(app, base_path)
    api.register_blueprint(bp, url_prefix=base_path)
    app.extensions["academy_api"] = api
    app.extensions["lms_field_errors"] = field_errors
