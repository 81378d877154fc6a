"""API for the signed-in person, their tokens, and (for admins) users."""

from __future__ import annotations

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import ApiToken
from lms.api.schemas import (
    ErrorSchema,
    PageQuerySchema,
    StrictSchema,
    UpdateSchema,
    boolean,
    object_id,
    page_body,
    page_of,
    text,
)
from lms.errors import InvalidInput
from lms.extensions import db
from lms.pagination import paginate
from lms.permissions import Role, authenticated, roles_required

me_blp = Blueprint(
    "api_me", __name__, url_prefix="/api/v1/me", description="The person the token belongs to."
)
tokens_blp = Blueprint(
    "api_tokens", __name__, url_prefix="/api/v1/tokens", description="Personal API tokens of the caller."
)
users_blp = Blueprint(
    "api_users", __name__, url_prefix="/api/v1/users", description="People and their roles (admins)."
)

ROLE_VALUES = [r.value for r in Role]


class UserSchema(ma.Schema):
    """A person, as admins see them; :class:`OwnAccountSchema` is a person's view of themselves."""

    id = fields.Integer(dump_only=True)
    email = fields.Email()
    name = fields.String()
    roles = fields.Function(
        lambda u: sorted(u.role_names),
        metadata={
            "description": "Roles held",
            "type": "array",
            "items": {"type": "string", "enum": ROLE_VALUES},
        },
    )
    organisation_id = fields.Integer(allow_none=True)
    is_active = fields.Boolean()
    created_at = fields.DateTime()
    last_login_at = fields.DateTime(allow_none=True)


class OwnAccountSchema(UserSchema):
    """A person's view of their own account."""

    class Meta:
        """What a person does not need to see about themselves."""

        exclude = ("is_active", "created_at", "last_login_at")


class UserCreateSchema(StrictSchema):
    """What an admin gives to create a person."""

    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = text(200, required=True)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLE_VALUES)), load_default=["trainee"])
    organisation_id = object_id(load_default=None, allow_none=True)
    invite = boolean(load_default=True, metadata={"description": "Email an invitation to set a password"})


class UserUpdateSchema(UpdateSchema):
    """What an admin may change on a person; every field is optional."""

    name = text(200)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLE_VALUES)))
    organisation_id = object_id(allow_none=True)
    is_active = boolean()


class UserQuerySchema(PageQuerySchema):
    """Filter people by name or email."""

    q = fields.String(validate=validate.Length(max=100), metadata={"description": "Part of a name or email"})


class TokenSchema(ma.Schema):
    """A token, without its secret."""

    id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "First characters of the token"})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class NewTokenSchema(TokenSchema):
    """A token just created: the only time the secret is shown."""

    token = fields.String(metadata={"description": "The secret token; store it now, it is not shown again"})


class TokenCreateSchema(StrictSchema):
    """Name a new token."""

    name = text(100, required=True)
    expires_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "When the token stops working (with a time zone, in the future); none for never"
        },
    )


@me_blp.route("", methods=["GET"])
@me_blp.response(200, OwnAccountSchema)
@authenticated
def get_me():
    """The caller's own account."""
    return current_user


@tokens_blp.route("", methods=["GET"])
@tokens_blp.arguments(PageQuerySchema, location="query")
@tokens_blp.response(200, page_of(TokenSchema, "TokenPageSchema"))
@authenticated
def list_tokens(query):
    """The caller's tokens, newest first."""
    statement = select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.id.desc())
    return page_body(paginate(statement, query["page"], query["per_page"]))


@tokens_blp.route("", methods=["POST"])
@tokens_blp.arguments(TokenCreateSchema)
@tokens_blp.response(201, NewTokenSchema)
@authenticated
def create_token(data):
    """Create a token acting with the caller's roles; the secret is returned this once."""
    token, plain = accounts.create_api_token(current_user, data["name"], data["expires_at"])
    # The response decorator dumps the answer, so hand it the token's values, not a dump of them.
    return {**{name: getattr(token, name) for name in TokenSchema().fields}, "token": plain}


@tokens_blp.route("/<int:token_id>", methods=["DELETE"])
@tokens_blp.response(204)
@tokens_blp.alt_response(409, schema=ErrorSchema, description="The token was already revoked")
@authenticated
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens."""
    accounts.revoke_api_token(current_user, accounts.get_token_for(current_user, token_id))


@users_blp.route("", methods=["GET"])
@users_blp.arguments(UserQuerySchema, location="query")
@users_blp.response(200, page_of(UserSchema, "UserPageSchema"))
@roles_required(Role.ADMIN)
def list_users(query):
    """Everyone with an account, by name."""
    statement = accounts.people_query(query.get("q", ""))
    return page_body(paginate(statement, query["page"], query["per_page"]))


@users_blp.route("", methods=["POST"])
@users_blp.arguments(UserCreateSchema)
@users_blp.response(201, UserSchema)
@roles_required(Role.ADMIN)
def create_user(data):
    """Create a person, usually emailing them an invitation."""
    _check_organisation(data.get("organisation_id"))
    return accounts.create_user(
        current_user,
        email=data["email"],
        name=data["name"],
        roles={Role(r) for r in data["roles"]},
        organisation_id=data["organisation_id"],
        invite=data["invite"],
    )


@users_blp.route("/<int:user_id>", methods=["GET"])
@users_blp.response(200, UserSchema)
@roles_required(Role.ADMIN)
def get_user(user_id: int):
    """One person."""
    return accounts.get_user(user_id)


@users_blp.route("/<int:user_id>", methods=["PATCH"])
@users_blp.arguments(UserUpdateSchema)
@users_blp.response(200, UserSchema)
@roles_required(Role.ADMIN)
def update_user(data, user_id: int):
    """Change a person's name, organisation, roles or active state (all audited)."""
    person = accounts.get_user(user_id)
    if "name" in data or "organisation_id" in data:
        _check_organisation(data.get("organisation_id"))
        accounts.update_user(
            current_user,
            person,
            name=data.get("name", person.name),
            organisation_id=data.get("organisation_id", person.organisation_id),
        )
    if "roles" in data:
        accounts.set_roles(current_user, person, {Role(r) for r in data["roles"]})
    if "is_active" in data:
        accounts.set_active(current_user, person, data["is_active"])
    return person


def _check_organisation(organisation_id: int | None) -> None:
    from lms.organisations.models import Organisation

    if organisation_id is not None and db.session.get(Organisation, organisation_id) is None:
        raise InvalidInput.for_field("organisation_id", "No organisation has this id.")
