"""Template helpers: navigation per role, formatting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, render_template, request
from flask_login import current_user
from markupsafe import Markup

from lms.permissions import Role


@dataclass(frozen=True)
class NavItem:
    """A link in the main navigation, shown to holders of ``roles`` (any signed-in person if empty)."""

    label: str
    endpoint: str
    roles: frozenset[Role] = frozenset()
    order: int = 50


def add_nav_item(app: Flask, label: str, endpoint: str, *roles: Role, order: int = 50) -> None:
    """Let an area put a link in the navigation."""
    app.extensions.setdefault("lms_nav", []).append(NavItem(label, endpoint, frozenset(roles), order))


def nav_items() -> list[NavItem]:
    """The links the current person may follow."""
    if not current_user.is_authenticated:
        return []
    held = current_user.role_names
    items = current_app.extensions.get("lms_nav", [])
    return sorted((i for i in items if not i.roles or i.roles & held), key=lambda i: (i.order, i.label))


@dataclass(frozen=True)
class DashboardPanel:
    """A block an area shows on the dashboard of holders of ``roles``."""

    template: str
    #: ``(user) -> dict`` of template variables; may return ``None`` to show nothing.
    context: Callable[[object], dict | None]
    roles: frozenset[Role]
    order: int = 50
    #: The page the panel summarises; its plain link card is then left off the dashboard.
    endpoint: str | None = None


def add_dashboard_panel(
    app: Flask, template: str, context, *roles: Role, order: int = 50, endpoint: str | None = None
) -> None:
    """Let an area show a panel on the dashboard (e.g. a trainee's courses)."""
    panel = DashboardPanel(template, context, frozenset(roles), order, endpoint)
    app.extensions.setdefault("lms_dashboard", []).append(panel)


def dashboard_panels(user) -> tuple[list[Markup], set[str]]:
    """The rendered panels for ``user``, in order, and the endpoints they summarise."""
    held = user.role_names
    panels = sorted(current_app.extensions.get("lms_dashboard", []), key=lambda p: p.order)
    rendered, covered = [], set()
    for panel in panels:
        if panel.roles and not panel.roles & held:
            continue
        context = panel.context(user)
        if context is not None:
            rendered.append(Markup(render_template(panel.template, **context)))  # noqa: S704  (our template)
            if panel.endpoint:
                covered.add(panel.endpoint)
    return rendered, covered


def format_datetime(value: dt.datetime | None, with_time: bool = True) -> str:
    """A timestamp as people read it, e.g. ``3 Mar 2026, 14:05 UTC``."""
    if value is None:
        return ""
    if not isinstance(value, dt.datetime):
        return value.strftime("%-d %b %Y")
    return value.strftime("%-d %b %Y, %H:%M UTC" if with_time else "%-d %b %Y")


def init_app(app: Flask) -> None:
    """Register globals and filters, and the foundation's navigation links."""
    app.jinja_env.globals.update(nav_items=nav_items, Role=Role)
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["date"] = lambda value: format_datetime(value, with_time=False)

    @app.context_processor
    def current_endpoint():
        return {"current_endpoint": request.endpoint or ""}

    add_nav_item(app, "Dashboard", "main.dashboard", order=0)
    add_nav_item(app, "People", "admin.users", Role.ADMIN, order=80)
    add_nav_item(app, "Audit log", "admin.audit_log", Role.ADMIN, order=90)
