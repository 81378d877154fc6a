"""The admin's overview of one assignment, a tab of the assignment's admin pages."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from lms.assessments.admin_views import bp
from lms.assessments.assignments import get_assignment
from lms.assessments.models import MarkingState, Outcome
from lms.assessments.overview import days_and_hours, overview_of
from lms.courses.chart import category_chart
from lms.permissions import Role, roles_required


@bp.route("/<int:assignment_id>/overview")
@roles_required(Role.ADMIN)
def overview(assignment_id: int):
    """Submitted, late and missing work, marking by state, marker load, outcomes and turnaround."""
    assignment = get_assignment(assignment_id)
    summary = overview_of(current_user, assignment)
    chart = category_chart(
        [(state.label, summary.by_state[state]) for state in MarkingState],
        chart_id="states-chart",
        title=f"Submitted work by marking state: {assignment.title}",
        noun=("submission", "submissions"),
    )
    return render_template(
        "assessments/admin/overview.html",
        assignment=assignment,
        overview=summary,
        chart=chart,
        states=list(MarkingState),
        outcomes=list(Outcome),
        days_and_hours=days_and_hours,
    )
