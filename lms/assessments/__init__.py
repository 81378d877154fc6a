"""Assessments: assignments, submissions, rubrics, marks and moderation."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the assignment pages, register the notices, and make passing a completion requirement."""
    from lms.assessments import admin_views, marking_views, views
    from lms.assessments import overview_views as _overview  # noqa: F401  (adds its route to admin_views.bp)
    from lms.assessments import worksheet_views as _worksheet  # noqa: F401  (adds routes to marking_views.bp)
    from lms.assessments.notices import KINDS
    from lms.assessments.panels import PANEL_TEMPLATE, marking_panel
    from lms.assessments.requirements import unmet_assignments
    from lms.courses.completion import add_requirement
    from lms.notifications.kinds import add_kind
    from lms.permissions import Role
    from lms.templating import add_dashboard_panel

    app.register_blueprint(views.bp)
    app.register_blueprint(marking_views.bp)
    app.register_blueprint(admin_views.bp)
    for kind in KINDS:
        add_kind(app, kind)
    add_requirement(app, unmet_assignments)
    views.init_nav(app)
    marking_views.init_nav(app)
    admin_views.init_nav(app)
    add_dashboard_panel(app, PANEL_TEMPLATE, marking_panel, Role.ASSESSOR, order=20, endpoint="marking.queue")
