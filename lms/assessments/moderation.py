"""Moderation: a second assessor agrees with a sampled mark or changes it.

The sample is drawn in :mod:`sampling`; a mark in it cannot be released before its
moderator decides, and the agreed mark names both markers.
"""

from __future__ import annotations

from sqlalchemy import select

from lms import audit
from lms.accounts.models import User
from lms.assessments import notices
from lms.assessments.assignments import pool_ids
from lms.assessments.marking import (
    STALE_MESSAGE,
    flush_or_conflict,
    mark_of,
    record_moderation_change,
    score,
    set_scores,
    snapshot,
)
from lms.assessments.models import (
    Mark,
    MarkingState,
    Moderation,
    ModerationDecision,
    SchemeKind,
    Submission,
)
from lms.database import utcnow
from lms.errors import Conflict, InvalidInput, NotAllowed
from lms.extensions import db
from lms.permissions import is_admin


def assign_moderator(actor, submission: Submission, moderator: User) -> None:
    """Choose who moderates a sampled mark (admins).

    :raises NotAllowed: the actor is not an admin.
    :raises InvalidInput: the marker themselves, or someone outside the course's pool.
    """
    if not is_admin(actor):
        raise NotAllowed("Only administrators choose moderators.")
    if submission.state != MarkingState.IN_MODERATION:
        raise Conflict("This mark is not waiting for moderation.")
    first_marker_id = db.session.scalar(select(Mark.marker_id).where(Mark.submission_id == submission.id))
    if moderator.id in (submission.marker_id, first_marker_id):
        raise InvalidInput.for_field("moderator_id", "The first marker cannot moderate their own mark.")
    if moderator.id == submission.user_id:
        raise InvalidInput.for_field(
            "moderator_id", f"{moderator.name} wrote this work and cannot moderate it."
        )
    if moderator.id not in pool_ids(submission.assignment.course_id):
        raise InvalidInput.for_field("moderator_id", f"{moderator.name} is not an assessor of this course.")
    before = submission.moderator_id
    submission.moderator_id = moderator.id
    db.session.flush()
    audit.record(
        actor,
        "submission.moderator_changed",
        submission,
        before={"moderator_id": before},
        after={"moderator_id": moderator.id},
    )
    notices.send_moderation_waiting(moderator, submission)


def moderate(
    actor,
    submission: Submission,
    decision: ModerationDecision,
    *,
    expected_version: int,
    data: dict | None = None,
    notes: str = "",
) -> Moderation:
    """Agree with the first mark, or change it; either way the mark is then ready for release.

    :raises NotAllowed: the actor is not this mark's moderator (nor an admin), or marked it.
    :raises Conflict: not in moderation, or the mark changed since the moderator opened it.
    :raises InvalidInput: a changed mark without notes, or invalid levels or points.
    """
    if not (is_admin(actor) or (submission.moderator_id == actor.id and submission.is_sampled)):
        raise NotAllowed("This mark is not in your moderation sample.")
    if actor.id == submission.marker_id:
        raise NotAllowed("You marked this work, so someone else must moderate it.")
    if submission.state != MarkingState.IN_MODERATION:
        raise Conflict("This mark is not waiting for moderation.")
    mark = mark_of(submission)
    if mark is None or mark.version != expected_version:
        raise Conflict(STALE_MESSAGE)
    if mark.marker_id == actor.id:  # the first marker, even when the work was allocated to another
        raise NotAllowed("You marked this work, so someone else must moderate it.")
    notes = (notes or "").strip()
    first = snapshot(mark)
    moderation = Moderation(
        submission_id=submission.id,
        moderator_id=actor.id,
        first_marker_id=mark.marker_id,
        decision=decision,
        first_total=mark.total,
        first_outcome=mark.outcome,
        notes=notes,
        decided_at=utcnow(),
    )
    if decision == ModerationDecision.CHANGED:
        if not notes:
            raise InvalidInput.for_field("notes", "Say why you are changing the mark.")
        scored = score(mark.scheme_version, data or {}, submission)
        if scored.missing:
            field = "levels" if mark.scheme_version.kind == SchemeKind.RUBRIC else "points"
            raise InvalidInput.for_field(
                field, "Give the complete mark you propose: " + ", ".join(scored.missing) + "."
            )
        set_scores(mark, scored)
        mark.total = scored.total
        mark.outcome = scored.outcome
        mark.updated_at = utcnow()
        flush_or_conflict()
        if snapshot(mark) != first:
            record_moderation_change(actor, mark, first, f"Moderation: {notes}")
    else:
        mark.updated_at = utcnow()  # bumps the version: a marker's open form is now stale
        flush_or_conflict()
    moderation.agreed_total = mark.total
    moderation.agreed_outcome = mark.outcome
    db.session.add(moderation)
    submission.state = MarkingState.READY_FOR_RELEASE
    db.session.flush()
    audit.record(
        actor,
        "mark.moderated",
        submission,
        before={"total": first["total"], "outcome": str(first["outcome"]) if first["outcome"] else None},
        after={"decision": str(decision), "total": mark.total, "outcome": str(mark.outcome), "notes": notes},
    )
    return moderation


def moderation_of(submission: Submission) -> Moderation | None:
    """The moderation decision on a submission, if any."""
    return db.session.scalar(select(Moderation).where(Moderation.submission_id == submission.id))


def moderation_queue_query(actor):
    """Marks waiting for the actor to moderate, oldest first."""
    return (
        select(Submission)
        .where(Submission.moderator_id == actor.id, Submission.state == MarkingState.IN_MODERATION)
        .order_by(Submission.submitted_at, Submission.id)
    )
