"""Who may use which route, declared once at the route and enforced for every request.

Every view declares its rule with :func:`public`, :func:`authenticated` or
:func:`roles_required`. A view with no rule is refused to everyone (deny by default), so a
forgotten declaration fails closed and the route-by-role test names it.
Object-level checks ("is this submission allocated to this assessor?") live in the
services, next to the rule they protect.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Flask, current_app, redirect, request, url_for
from flask_login import current_user

from lms.errors import error_body, render_error


class Role(enum.StrEnum):
    """The roles a person can hold; one person may hold several."""

    TRAINEE = "trainee"
    ASSESSOR = "assessor"
    LIAISON = "liaison"
    ORG_MANAGER = "org_manager"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        """Human name of the role."""
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.TRAINEE: "Trainee",
    Role.ASSESSOR: "Assessor",
    Role.LIAISON: "University liaison",
    Role.ORG_MANAGER: "Organisation manager",
    Role.ADMIN: "Administrator",
}


@dataclass(frozen=True)
class AccessRule:
    """Who may call a view: anyone, any signed-in person, or holders of some role."""

    is_public: bool = False
    roles: frozenset[Role] = frozenset()

    def describe(self) -> str:
        """Short text for docs and test messages."""
        if self.is_public:
            return "public"
        if not self.roles:
            return "authenticated"
        return "roles: " + ", ".join(sorted(self.roles))


PUBLIC = AccessRule(is_public=True)
AUTHENTICATED = AccessRule()
ATTRIBUTE = "access_rule"


def _declare(rule: AccessRule) -> Callable:
    def decorator(view: Callable) -> Callable:
        setattr(view, ATTRIBUTE, rule)
        return view

    return decorator


def public(view: Callable) -> Callable:
    """Anyone may call this view, signed in or not."""
    return _declare(PUBLIC)(view)


def authenticated(view: Callable) -> Callable:
    """Any signed-in person may call this view; the service checks the object."""
    return _declare(AUTHENTICATED)(view)


def roles_required(*roles: Role) -> Callable:
    """Holders of at least one of ``roles`` may call this view."""
    if not roles:
        raise ValueError("roles_required needs at least one role")
    return _declare(AccessRule(roles=frozenset(roles)))


def declare_endpoint(app: Flask, endpoint: str, rule: AccessRule) -> None:
    """Declare the rule of a view registered by an extension (where no decorator can reach)."""
    app.extensions.setdefault("lms_access", {})[endpoint] = rule


def rule_for_endpoint(app: Flask, endpoint: str) -> AccessRule | None:
    """The declared rule of an endpoint; static files are public."""
    if endpoint == "static" or endpoint.endswith(".static"):
        return PUBLIC
    declared = app.extensions.get("lms_access", {}).get(endpoint)
    if declared is not None:
        return declared
    view = app.view_functions.get(endpoint)
    return getattr(view, ATTRIBUTE, None)


def has_any_role(user, roles: Iterable[Role]) -> bool:
    """Whether ``user`` holds any of ``roles``."""
    return bool(set(user.role_names) & set(roles))


def is_admin(actor) -> bool:
    """Whether ``actor`` (a person or ``None`` for the system) is an administrator."""
    return actor is not None and actor.has_role(Role.ADMIN)


def init_app(app: Flask) -> None:
    """Check every request against its route's declared rule before the view runs."""

    @app.before_request
    def enforce_access_rule():
        if request.endpoint is None:
            return None  # no such route: the 404 handler answers
        rule = rule_for_endpoint(current_app, request.endpoint)
        if rule is None:
            current_app.logger.error("route %s declares no access rule; refusing", request.endpoint)
            return render_error(403, "You do not have access to this page.")
        if rule.is_public:
            return None
        if not current_user.is_authenticated:
            if request.path.startswith("/api/"):
                response = error_body(401, "Authentication required: send 'Authorization: Bearer <token>'.")
                response.headers["WWW-Authenticate"] = 'Bearer realm="lms"'
                return response
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        if rule.roles and not has_any_role(current_user, rule.roles):
            return render_error(403, "You do not have access to this page.")
        return None
