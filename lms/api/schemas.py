"""Schemas shared by every API area: errors, pagination and input helpers."""

from __future__ import annotations

from collections.abc import Mapping

import marshmallow as ma
from marshmallow import fields, validate

from lms.database import MAX_ID
from lms.pagination import Page
from lms.text import message_for

#: Lists answer this many items unless ``per_page`` asks otherwise, and never more than the maximum.
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
#: The largest id a table can hold (PostgreSQL ``integer``); larger ids in input cannot name anything.


def _text_problems(value: object) -> object:
    """Marshmallow-shaped errors for every string in ``value`` that cannot be stored, or ``None``."""
    if isinstance(value, str):
        problem = message_for(value)
        return [problem] if problem else None
    if isinstance(value, Mapping):
        found = {key: _text_problems(value[key]) for key in value}
    elif isinstance(value, list | tuple):
        found = {index: _text_problems(item) for index, item in enumerate(value)}
    else:
        return None
    found = {key: problems for key, problems in found.items() if problems}
    return found or None


class StorableTextSchema(ma.Schema):
    """Every input schema: strings holding NUL or a lone surrogate are 422, naming the field.

    The check runs on the raw input before any field, so a field added later is covered too.
    """

    @ma.pre_load
    def _refuse_unstorable_text(self, data, **_kwargs):
        problems = _text_problems(data) if isinstance(data, Mapping) else None
        if problems:
            raise ma.ValidationError(problems)
        return data


class StrictSchema(StorableTextSchema):
    """Input schemas refuse unknown fields, so a typo is an error and not silently ignored."""

    class Meta:
        """Unknown fields are errors."""

        unknown = ma.RAISE


class NotBlank(validate.Validator):
    """Refuse strings made only of spaces (``Length(min=1)`` lets ``"  "`` through)."""

    error = "Must not be blank."

    def __call__(self, value: str) -> str:
        """Check ``value``; raise :class:`marshmallow.ValidationError` when it is blank."""
        if not value.strip():
            raise ma.ValidationError(self.error)
        return value


def text(max_length: int, **kwargs) -> fields.String:
    """A non-blank string input of at most ``max_length`` characters; ``kwargs`` go to the field."""
    return fields.String(validate=[validate.Length(min=1, max=max_length), NotBlank()], **kwargs)


def object_id(**kwargs) -> fields.Integer:
    """An input naming an object by id: a JSON integer (not ``"3"``, not ``3.5``) in the range of ids."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON ``true`` or ``false``: not ``0``, ``1`` or ``"true"``, which the document does not allow.

    (``fields.Boolean(truthy={True}, falsy={False})`` is not enough: ``1 in {True}`` is true.)
    """

    default_error_messages = {"invalid": "Must be true or false."}

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def boolean(**kwargs) -> StrictBoolean:
    """A boolean input in a JSON body; ``kwargs`` go to the field."""
    return StrictBoolean(**kwargs)


def query_boolean(**kwargs) -> fields.Boolean:
    """A boolean in a query string: exactly ``true`` or ``false`` (not ``1``, ``yes`` or ``on``)."""
    return fields.Boolean(truthy={"true"}, falsy={"false"}, **kwargs)


class UpdateSchema(StrictSchema):
    """Input of a PATCH: every field is optional, but an empty body changes nothing and is 422.

    The document says so too (``minProperties: 1``, added by :mod:`lms.api`).
    """

    @ma.validates_schema
    def _at_least_one_field(self, data, **_kwargs):
        if not data:
            raise ma.ValidationError("Send at least one field to change.")


class ErrorBodySchema(ma.Schema):
    """What went wrong."""

    code = fields.String(
        required=True,
        metadata={"description": "Machine-readable code, e.g. `invalid_input`, `unauthorized`, `not_found`"},
    )
    message = fields.String(required=True, metadata={"description": "What went wrong, for people"})
    fields_ = fields.Dict(
        data_key="fields",
        required=True,
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": (
                "Per field, the list of problems with it. Nested fields have dotted names "
                "(`roles.0`); `_schema` is about the body as a whole. Empty when no field is at fault."
            )
        },
    )


class ErrorSchema(ma.Schema):
    """The one error body of the API."""

    error = fields.Nested(ErrorBodySchema, required=True)


class PageQuerySchema(StorableTextSchema):
    """Which page of a list to return."""

    class Meta:
        """Query strings collect cache-busters and tracking parameters; don't refuse them."""

        unknown = ma.EXCLUDE

    page = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=1_000_000),
        metadata={"description": "Page number, from 1"},
    )
    per_page = fields.Integer(
        load_default=DEFAULT_PER_PAGE,
        validate=validate.Range(min=1, max=MAX_PER_PAGE),
        metadata={"description": f"Items per page, at most {MAX_PER_PAGE}"},
    )


class PageSchema(ma.Schema):
    """Envelope of every list answer."""

    page = fields.Integer(required=True, metadata={"description": "This page's number, from 1"})
    per_page = fields.Integer(required=True, metadata={"description": "Items per page"})
    total = fields.Integer(required=True, metadata={"description": "Items in the whole list"})
    pages = fields.Integer(required=True, metadata={"description": "Number of pages (at least 1)"})


def page_of(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A page schema whose ``items`` are ``item_schema``."""
    return type(name, (PageSchema,), {"items": fields.List(fields.Nested(item_schema), required=True)})


def page_body(page: Page) -> dict:
    """The answer of a list view, to be dumped with a :func:`page_of` schema."""
    return {
        "items": page.items,
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "pages": page.pages,
    }
