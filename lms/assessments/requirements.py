"""The assignment as a completion requirement, and what a released mark does to the enrolment.

A course is complete only when every required assignment has a released pass
(:func:`unmet_assignments`, registered with ``lms.courses.completion.add_requirement``).
Releasing the pass that was the last unmet requirement completes the course through the
courses service, once, so the completion listeners (credits) run. A released fail on the last
attempt ends the enrolment as not completed, and tells the trainee and their org manager.
"""

from __future__ import annotations

from sqlalchemy import select

from lms.accounts.models import User
from lms.assessments import notices
from lms.assessments.models import Assignment, Mark, MarkingState, Outcome, Submission
from lms.courses.enrolment import end_not_completed
from lms.courses.models import Enrolment, EnrolmentStatus
from lms.courses.progress import check_completion
from lms.extensions import db
from lms.organisations.scope import managers_of


def unmet_assignments(enrolments: list) -> dict[int, list[str]]:
    """For each enrolment, the required assignments without a released pass: two queries in all."""
    unmet: dict[int, list[str]] = {e.id: [] for e in enrolments}
    course_ids = {e.course_id for e in enrolments}
    required: dict[int, list[Assignment]] = {}
    for assignment in db.session.scalars(
        select(Assignment)
        .where(Assignment.course_id.in_(course_ids), Assignment.is_required.is_(True))
        .order_by(Assignment.due_at, Assignment.id)
    ):
        required.setdefault(assignment.course_id, []).append(assignment)
    if not required:
        return unmet
    assignment_ids = [a.id for items in required.values() for a in items]
    user_ids = {e.user_id for e in enrolments}
    passed = set(
        db.session.execute(
            select(Submission.assignment_id, Submission.user_id)
            .join(Mark, Mark.submission_id == Submission.id)
            .where(
                Submission.assignment_id.in_(assignment_ids),
                Submission.user_id.in_(user_ids),
                Submission.state == MarkingState.RELEASED,
                Mark.outcome == Outcome.PASS,
            )
        ).all()
    )
    for enrolment in enrolments:
        for assignment in required.get(enrolment.course_id, []):
            if (assignment.id, enrolment.user_id) not in passed:
                unmet[enrolment.id].append(f"Pass the assignment “{assignment.title}”.")
    return unmet


def after_release(actor, submission: Submission, mark: Mark) -> None:
    """Carry a released outcome into the enrolment: a pass may complete it, a last fail ends it."""
    enrolment = db.session.scalar(
        select(Enrolment).where(
            Enrolment.user_id == submission.user_id, Enrolment.course_id == submission.assignment.course_id
        )
    )
    if enrolment is None or enrolment.status != EnrolmentStatus.ACTIVE:
        return
    if mark.outcome == Outcome.PASS:
        check_completion(enrolment, actor)
    elif mark.outcome == Outcome.FAIL and submission.assignment.is_required:
        reason = f"Did not pass “{submission.assignment.title}” on the last attempt ({submission.attempt})."
        if end_not_completed(actor, enrolment, reason):
            trainee = db.session.get(User, submission.user_id)
            notices.send_attempts_used(submission, trainee, managers_of(trainee))


def outcome_change_problem(
    submission: Submission, before: Outcome | None, after: Outcome | None
) -> str | None:
    """Why a released outcome cannot change now, or ``None``.

    A released pass that completed the course, and a released fail that ended it, have done
    their work on the enrolment (and credits may have followed): changing the outcome would
    leave the course's record contradicting the mark, so it is refused.
    """
    enrolment = db.session.scalar(
        select(Enrolment).where(
            Enrolment.user_id == submission.user_id, Enrolment.course_id == submission.assignment.course_id
        )
    )
    if enrolment is None:
        return None
    if before == Outcome.PASS and enrolment.status == EnrolmentStatus.COMPLETED:
        return (
            "This pass completed the course, so its outcome cannot change here. The feedback and the "
            "levels can still change as long as the mark stays a pass."
        )
    if before == Outcome.FAIL and enrolment.status == EnrolmentStatus.NOT_COMPLETED:
        return (
            "This fail ended the trainee's course as not completed, so its outcome cannot change here. "
            "Record the corrected decision with the programme team's process for appeals."
        )
    return None
