"""Scheduled work: one active scheduler process among many, a runner, run records, the admin page.

See docs/jobs.md. The table of jobs is :data:`lms.schedule.JOBS`.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the admin pages of jobs and the outbox."""
    from lms.jobs import views
    from lms.permissions import Role
    from lms.templating import add_nav_item

    app.register_blueprint(views.bp)
    add_nav_item(app, "Jobs", "jobs_admin.jobs", Role.ADMIN, order=85)
