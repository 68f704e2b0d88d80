"""A documentation page rendered on the server from the generated OpenAPI document (no CDN, no script)."""

from __future__ import annotations

import http

from flask import Blueprint, current_app, render_template

from ..auth.current import login_required

bp = Blueprint("apidocs", __name__)


def _resolve(spec: dict, schema: dict | None) -> dict:
    """Follow a $ref into components/schemas (one level)."""
    if not schema:
        return {}
    ref = schema.get("$ref")
    if ref:
        return spec["components"]["schemas"].get(ref.rsplit("/", 1)[1], {})
    return schema


def _phrase(status) -> str:
    try:
        return http.HTTPStatus(int(status)).phrase
    except ValueError:
        return ""


def _status_order(response: tuple) -> tuple:
    """Success first, errors by code, ``default`` last."""
    status = response[0]
    return (1, 0) if not str(status).isdigit() else (0, int(status))


@bp.get("/api/v1/docs")
@login_required
def docs():
    spec = current_app.extensions["academy_api"].spec.to_dict()
    operations = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for status, response in op.get("responses", {}).items():
                schema = (response.get("content", {}).get("application/json", {}) or {}).get("schema")
                responses.append((status, response.get("description") or _phrase(status), _resolve(spec, schema)))
            responses.sort(key=_status_order)
            operations.append(
                {
                    "anchor": f"{method}-{path.strip('/')}".replace("/", "-").replace("{", "").replace("}", ""),
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary") or op.get("description", ""),
                    "parameters": item.get("parameters", []) + op.get("parameters", []),
                    "body": _resolve(spec, body),
                    "responses": responses,
                    "public": op.get("security") == [],
                }
            )
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    operations.sort(key=lambda op: (op["path"], methods.index(op["method"]) if op["method"] in methods else 9))
    return render_template("lms/api/docs.html", operations=operations, spec=spec)
