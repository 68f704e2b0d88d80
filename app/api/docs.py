"""A documentation page rendered on the server from the generated OpenAPI document (no CDN, no script)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import login_required

bp = Blueprint("apidocs", __name__)


def _resolve(spec: dict, schema: dict | None) -> dict:
    """Follow a $ref into components/schemas (one level)."""
    if not schema:
        return {}
    ref = schema.get("$ref")
    if ref:
        return spec["components"]["schemas"].get(ref.rsplit("/", 1)[1], {})
    return schema


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
                responses.append((status, response.get("description", ""), _resolve(spec, schema)))
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary") or op.get("description", ""),
                    "parameters": item.get("parameters", []) + op.get("parameters", []),
                    "body": _resolve(spec, body),
                    "responses": responses,
                    "public": op.get("security") == [],
                }
            )
    return render_template("api/docs.html", operations=operations, spec=spec)
