"""A documentation page rendered on the server from the generated OpenAPI document (no CDN, no script)."""

from __future__ import annotations

import http

from flask import Blueprint, current_app, render_template

from ..auth.current import login_required

bp = Blueprint("apidocs", __name__)
METHODS = ["get", "post", "put", "patch", "delete"]


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


def _type(schema: dict) -> tuple[str, list]:
    """A field's type as the page writes it (``string | null``) and the values it may take."""
    variants = schema.get("anyOf") or [schema]
    types, choices = [], []
    for variant in variants:
        kind = variant.get("type") or ("object" if "$ref" in variant else "")
        types += [kind] if isinstance(kind, str) else kind
        choices += [value for value in variant.get("enum", []) if value is not None]
    return " | ".join(dict.fromkeys(t for t in types if t)), choices


def _described(name: str, schema: dict, **more) -> dict:
    """A parameter or body field as the page lists it: name, type, the values it may take, and ``more``."""
    kind, choices = _type(schema)
    return {**more, "name": name, "type": kind, "choices": choices}


def _fields(schema: dict) -> list[dict]:
    """The fields of a request body."""
    required = set(schema.get("required", []))
    return [_described(name, field, required=name in required) for name, field in schema.get("properties", {}).items()]


def _operation(spec: dict, server: str, path: str, item: dict, method: str, op: dict) -> dict:
    """What the page shows of one operation: its id (the anchor), full path, parameters, body and responses."""
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    responses = []
    for status, response in op.get("responses", {}).items():
        responses.append((status, response.get("description") or _phrase(status)))
    responses.sort(key=_status_order)
    return {
        "id": op["operationId"],
        "tag": (op.get("tags") or [""])[0],
        "method": method.upper(),
        "path": server + path,
        "summary": op.get("summary") or op.get("description", ""),
        "parameters": [
            _described(p["name"], p.get("schema", {}), required=p.get("required"), where=p["in"])
            for p in item.get("parameters", []) + op.get("parameters", [])
        ],
        "body": _fields(_resolve(spec, body)),
        "responses": responses,
        "public": op.get("security") == [],
    }


@bp.get("/api/v1/docs")
@login_required
def docs():
    """Render every operation of the OpenAPI document, grouped by feature."""
    spec = current_app.extensions["academy_api"].document()
    server = spec["servers"][0]["url"]
    operations = [
        _operation(spec, server, path, item, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]
    operations.sort(key=lambda op: (op["path"], METHODS.index(op["method"].lower())))
    features = [(tag, [op for op in operations if op["tag"] == tag["name"]]) for tag in spec.get("tags", [])]
    return render_template("lms/api/docs.html", features=features, server=server, spec=spec)
