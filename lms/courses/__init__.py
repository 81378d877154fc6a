"""Courses: catalogue, modules, knowledge checks, cohorts, enrolment and progress."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Put the trainee's course pages in the main navigation."""
    from lms.permissions import Role
    from lms.templating import add_nav_item

    add_nav_item(app, "My learning", "courses.mine", Role.TRAINEE, order=10)
    add_nav_item(app, "Courses", "courses.catalogue", order=20)
