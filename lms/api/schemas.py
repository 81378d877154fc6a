"""Schemas shared by every API area: errors and pagination."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate


class StrictSchema(ma.Schema):
    """Input schemas refuse unknown fields, so a typo is an error and not silently ignored."""

    class Meta:
        unknown = ma.RAISE


class ErrorBodySchema(ma.Schema):
    """What went wrong."""

    code = fields.String(required=True, metadata={"description": "Machine-readable code, e.g. `invalid_input`"})
    message = fields.String(required=True, metadata={"description": "What went wrong, for people"})
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        metadata={"description": "Per field, the list of problems with it"},
    )


class ErrorSchema(ma.Schema):
    """The one error body of the API."""

    error = fields.Nested(ErrorBodySchema, required=True)


class PageQuerySchema(StrictSchema):
    """Which page of a list to return."""

    class Meta:
        unknown = ma.EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


class PageSchema(ma.Schema):
    """Envelope of every list answer."""

    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


def page_of(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A page schema whose ``items`` are ``item_schema``."""
    return type(name, (PageSchema,), {"items": fields.List(fields.Nested(item_schema), required=True)})
