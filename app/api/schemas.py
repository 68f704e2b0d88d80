"""Marshmallow schemas of the API: they validate input and document the OpenAPI contract."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.org.models import UNIT_KINDS


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class UnitArgs(PageArgs):
    code = fields.String(validate=validate.Length(max=32))


class UnitSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(allow_none=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(UNIT_KINDS))
    parent_id = fields.Integer(allow_none=True)


class UnitPage(Schema):
    items = fields.List(fields.Nested(UnitSchema), required=True)
    total = fields.Integer(required=True)


class PeopleArgs(PageArgs):
    unit = fields.String(validate=validate.Length(max=32), metadata={"description": "unit code; its whole subtree"})
    category = fields.String(
        validate=validate.OneOf(["community_worker", "project_social_worker", "station_worker", "other"])
    )


class PersonSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    unit_code = fields.String(allow_none=True)
    category = fields.String(required=True)
    level = fields.String(required=True)
    id_number = fields.String(required=True, metadata={"description": "masked: 3301**********1234"})
    phone = fields.String(allow_none=True)
    active = fields.Boolean(required=True)


class PersonPage(Schema):
    items = fields.List(fields.Nested(PersonSchema), required=True)
    total = fields.Integer(required=True)


class PersonCreate(Schema):
    unit_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=32))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    category = fields.String(load_default="community_worker", validate=validate.Length(max=32))
    level = fields.String(load_default="none", validate=validate.Length(max=32))


class Created(Schema):
    id = fields.Integer(required=True)


class Problem(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Raw()
