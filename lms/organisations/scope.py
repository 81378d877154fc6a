"""The org manager's scope: whose people an actor may see and act for.

Admins see everyone; an organisation manager sees the people of their own organisation and
nobody else's, whatever a URL or filter asks for; everyone else sees only themselves. Every
area asks here, so the rule is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, false, select

from lms.accounts.models import User, UserRole
from lms.errors import NotAllowed, NotFound
from lms.extensions import db
from lms.organisations.models import Organisation
from lms.permissions import Role, is_admin


def managed_organisation_id(actor) -> int | None:
    """The organisation whose staff ``actor`` manages: an org manager's own, else ``None``."""
    if actor is None or actor.organisation_id is None or not actor.has_role(Role.ORG_MANAGER):
        return None
    return actor.organisation_id


def manages(actor, user) -> bool:
    """Whether ``actor`` acts for ``user`` as their organisation's manager (admins: see ``is_admin``)."""
    organisation_id = managed_organisation_id(actor)
    return organisation_id is not None and organisation_id == user.organisation_id


def managers_of(user) -> list[User]:
    """The active organisation managers of ``user``'s organisation (not ``user``), by name."""
    if user.organisation_id is None:
        return []
    statement = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            UserRole.role == Role.ORG_MANAGER,
            User.organisation_id == user.organisation_id,
            User.id != user.id,
            User.is_active_account.is_(True),
        )
        .order_by(User.name, User.id)
    )
    return list(db.session.scalars(statement))


def managed_people(actor) -> ColumnElement[bool] | None:
    """SQL for "a person ``actor`` manages" on a query joining ``User``, or ``None`` if nobody."""
    organisation_id = managed_organisation_id(actor)
    return None if organisation_id is None else User.organisation_id == organisation_id


@dataclass(frozen=True)
class Scope:
    """Whose records a report or list covers: everyone's, one organisation's, or nobody's."""

    #: ``None`` means every organisation (admins only).
    organisation_id: int | None = None
    #: The organisation named by ``organisation_id``, for headings.
    organisation: Organisation | None = None
    #: An org manager's scope: fixed to their organisation, filters cannot widen it.
    is_fixed: bool = False
    #: An org manager with no organisation sees nobody.
    is_empty: bool = False

    def describe(self) -> str:
        """Whose people the report shows, for headings."""
        if self.is_empty:
            return "nobody: your account is not linked to an organisation"
        if self.organisation is not None:
            return f"people from {self.organisation.name}"
        return "people from every organisation"

    def apply(self, query: Select) -> Select:
        """Restrict a query that already joins ``User`` to the people of this scope."""
        if self.is_empty:
            return query.where(false())
        if self.organisation_id is not None:
            return query.where(User.organisation_id == self.organisation_id)
        return query


def scope_for(actor, organisation_id: int | None = None, *, refusal: str) -> Scope:
    """The people ``actor`` may see, narrowed to ``organisation_id`` when an admin asks for it.

    An org manager always gets their own organisation: the ``organisation_id`` they pass is
    ignored, so no URL or filter shows them anyone else.

    :raises NotAllowed: with ``refusal``, the actor is neither an admin nor an org manager.
    :raises NotFound: an admin asked for an organisation that does not exist.
    """
    if is_admin(actor):
        if not organisation_id:
            return Scope()
        organisation = db.session.get(Organisation, organisation_id)
        if organisation is None:
            raise NotFound("No such organisation.")
        return Scope(organisation_id=organisation.id, organisation=organisation)
    if actor is None or not actor.has_role(Role.ORG_MANAGER):
        raise NotAllowed(refusal)
    if actor.organisation_id is None:
        return Scope(is_fixed=True, is_empty=True)
    return Scope(organisation_id=actor.organisation_id, organisation=actor.organisation, is_fixed=True)
