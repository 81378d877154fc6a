"""Courses: catalogue, modules, knowledge checks, cohorts, enrolment and progress."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the course pages and put them in the navigation and on the dashboard."""
    from lms.courses import admin_views, manage_views, views
    from lms.courses.jobs import COHORT_STARTING, ENROLMENT_LAPSED
    from lms.courses.progress import dashboard
    from lms.notifications.kinds import add_kind
    from lms.permissions import Role
    from lms.templating import add_dashboard_panel, add_nav_item

    app.register_blueprint(views.bp)
    app.register_blueprint(admin_views.bp)
    app.register_blueprint(manage_views.bp)
    add_kind(app, COHORT_STARTING)
    add_kind(app, ENROLMENT_LAPSED)
    add_nav_item(app, "My learning", "courses.mine", Role.TRAINEE, order=10)
    add_nav_item(app, "Courses", "courses.catalogue", order=20)
    admin_views.init_admin_nav(app)
    manage_views.init_manage_nav(app)
    add_dashboard_panel(
        app,
        "courses/_learning_panel.html",
        lambda user: {"learning": dashboard(user)},
        Role.TRAINEE,
        order=10,
        endpoint="courses.mine",
    )
