"""Allocation: who marks which submission, automatically by current load or by hand.

Each course has a pool of assessors. A submission is allocated when it is handed in, to the
pool member with the fewest submissions still to release (ties to the longest-serving, by
id). Admins allocate and reallocate by hand, singly or in bulk; a draft mark stays with the
submission, and every move is audited.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from lms import audit
from lms.accounts.models import User
from lms.assessments import notices
from lms.assessments.assignments import pool_ids
from lms.assessments.identity import participant_label, sees_identity
from lms.assessments.models import Assignment, Mark, MarkingState, Submission, SubmissionStatus
from lms.database import utcnow
from lms.errors import InvalidInput, NotAllowed
from lms.extensions import db
from lms.permissions import is_admin

#: States in which a submission counts towards its marker's load.
OPEN_STATES = (
    MarkingState.NOT_MARKED,
    MarkingState.IN_MARKING,
    MarkingState.MARKED,
    MarkingState.IN_MODERATION,
    MarkingState.READY_FOR_RELEASE,
)


def loads(assessor_ids: list[int] | set[int]) -> dict[int, int]:
    """How many submissions each assessor has still to see through to release: one query."""
    counts = dict.fromkeys(assessor_ids, 0)
    if counts:
        statement = (
            select(Submission.marker_id, func.count())
            .where(Submission.marker_id.in_(list(counts)), Submission.state.in_(OPEN_STATES))
            .group_by(Submission.marker_id)
        )
        counts.update(dict(db.session.execute(statement).all()))
    return counts


def _least_loaded(candidates: set[int], current: dict[int, int]) -> int | None:
    if not candidates:
        return None
    return min(candidates, key=lambda user_id: (current.get(user_id, 0), user_id))


def _set_marker(submission: Submission, marker_id: int | None, now: dt.datetime) -> None:
    submission.marker_id = marker_id
    submission.allocated_at = now if marker_id else None
    base = submission.submitted_at or now
    submission.marking_due_at = (
        base + dt.timedelta(days=submission.assignment.marking_days) if marker_id else None
    )


def _label_for(marker: User, submission: Submission) -> str:
    if sees_identity(marker, submission.assignment):
        return db.session.get(User, submission.user_id).name
    return participant_label(submission)


def allocate_new(submission: Submission) -> int | None:
    """Allocate a just-submitted attempt automatically; return the marker's id (``None``: empty pool)."""
    # Nobody marks their own work (an assessor may also be a trainee on the course).
    candidates = pool_ids(submission.assignment.course_id) - {submission.user_id}
    marker_id = _least_loaded(candidates, loads(candidates))
    if marker_id is None:
        return None
    _set_marker(submission, marker_id, utcnow())
    db.session.flush()
    audit.record(None, "submission.allocated", submission, after={"marker_id": marker_id, "automatic": True})
    marker = db.session.get(User, marker_id)
    notices.send_allocated(marker, submission, _label_for(marker, submission))
    return marker_id


def allocate(actor, submissions: list[Submission], marker: User | None) -> int:
    """Allocate ``submissions`` to ``marker`` by hand (``None``: balance them over the pool).

    Work whose marking is finished (marked, in moderation, released) stays with its marker.
    Returns how many changed hands.

    :raises NotAllowed: the actor is not an admin.
    :raises InvalidInput: a marker outside the course's pool or who wrote the work, a draft,
        or an empty pool to balance over.
    """
    if not is_admin(actor):
        raise NotAllowed("Only administrators allocate marking.")
    if not submissions:
        raise InvalidInput.for_field("submission_ids", "Choose at least one submission.")
    now = utcnow()
    changed = 0
    by_course: dict[int, set[int]] = {}
    for submission in submissions:
        if submission.status != SubmissionStatus.SUBMITTED:
            raise InvalidInput.for_field("submission_ids", "Only submitted work can be allocated.")
        by_course.setdefault(submission.assignment.course_id, set())
    for course_id in by_course:
        by_course[course_id] = pool_ids(course_id)
    current = loads(set().union(*by_course.values()))
    for submission in submissions:
        if submission.state not in (MarkingState.NOT_MARKED, MarkingState.IN_MARKING):
            continue  # marked work stays with its marker (and its moderator)
        pool = by_course[submission.assignment.course_id]
        if marker is None:
            target = _least_loaded(pool - {submission.user_id}, current)
            if target is None:
                raise InvalidInput.for_field(
                    "marker_id", f"{submission.assignment.course.title} has no assessors to allocate to."
                )
        else:
            if marker.id not in pool:
                raise InvalidInput.for_field(
                    "marker_id", f"{marker.name} is not an assessor of {submission.assignment.course.title}."
                )
            if marker.id == submission.user_id:
                raise InvalidInput.for_field(
                    "marker_id", f"{marker.name} wrote this work and cannot mark it."
                )
            target = marker.id
        if target == submission.marker_id:
            continue
        before = submission.marker_id
        _set_marker(submission, target, now)
        draft = db.session.scalar(select(Mark).where(Mark.submission_id == submission.id))
        if draft is not None and draft.completed_at is None:
            draft.marker_id = target  # the draft mark moves with the work
        current[target] = current.get(target, 0) + 1
        if before in current:
            current[before] -= 1
        audit.record(
            actor,
            "submission.reallocated" if before else "submission.allocated",
            submission,
            before={"marker_id": before},
            after={"marker_id": target},
        )
        new_marker = marker or db.session.get(User, target)
        notices.send_allocated(new_marker, submission, _label_for(new_marker, submission))
        changed += 1
    db.session.flush()
    return changed


def unallocated(assignment: Assignment) -> list[Submission]:
    """Submitted work of an assignment with no marker yet."""
    statement = (
        select(Submission)
        .where(
            Submission.assignment_id == assignment.id,
            Submission.status == SubmissionStatus.SUBMITTED,
            Submission.marker_id.is_(None),
            Submission.state != MarkingState.RELEASED,
        )
        .order_by(Submission.submitted_at, Submission.id)
    )
    return list(db.session.scalars(statement))
