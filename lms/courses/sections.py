"""Sections other areas add to a course page (the assessments' assignments, say).

Courses never import the areas above them: an area registers a template and a context
function here, and the course page renders whatever is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, render_template
from markupsafe import Markup

#: ``(course, user, enrolment) -> dict | None``: the template's variables, or ``None`` to show nothing.
SectionContext = Callable[[object, object, object], dict | None]


@dataclass(frozen=True)
class CourseSection:
    """A block on the trainee's course page, below the modules."""

    template: str
    context: SectionContext
    order: int = 50


def add_course_section(app: Flask, template: str, context: SectionContext, order: int = 50) -> None:
    """Let an area show a section on every course page."""
    app.extensions.setdefault("lms_course_sections", []).append(CourseSection(template, context, order))


def course_sections(course, user, enrolment) -> list[Markup]:
    """The registered sections for this course page, rendered, in order."""
    rendered = []
    for section in sorted(current_app.extensions.get("lms_course_sections", []), key=lambda s: s.order):
        context = section.context(course, user, enrolment)
        if context is not None:
            rendered.append(Markup(render_template(section.template, **context)))  # noqa: S704  (our template)
    return rendered
