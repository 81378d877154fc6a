"""The moderation sample: which finished marks a second assessor checks, and who.

Every fail and referral is in the sample, and a configured share of the passes, drawn from a
hash of the assignment, the participant number and the attempt: the same work is always in
or out, and the draw cannot be steered by the order of marking.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select

from lms import audit
from lms.accounts.models import User
from lms.assessments import notices
from lms.assessments.assignments import pool_ids
from lms.assessments.models import Mark, MarkingState, Outcome, Submission
from lms.extensions import db


def is_drawn(submission: Submission, outcome: Outcome | None) -> bool:
    """Whether a finished mark falls in its assignment's moderation sample."""
    assignment = submission.assignment
    if not assignment.is_moderated:
        return False
    if outcome in (Outcome.FAIL, Outcome.REFER):
        return True
    seed = f"{assignment.id}:{submission.participant.number}:{submission.attempt}".encode()
    draw = int.from_bytes(hashlib.sha256(seed).digest()[:4], "big") % 100
    return draw < assignment.moderation_share


def moderation_loads(user_ids: set[int]) -> dict[int, int]:
    """How many marks each assessor has waiting to moderate: one query."""
    counts = dict.fromkeys(user_ids, 0)
    if counts:
        statement = (
            select(Submission.moderator_id, func.count())
            .where(Submission.moderator_id.in_(list(counts)), Submission.state == MarkingState.IN_MODERATION)
            .group_by(Submission.moderator_id)
        )
        counts.update(dict(db.session.execute(statement).all()))
    return counts


def choose_moderator(submission: Submission) -> int | None:
    """A second assessor of the course's pool (not the marker), the least busy moderating."""
    candidates = pool_ids(submission.assignment.course_id) - {submission.marker_id, submission.user_id}
    if not candidates:
        return None
    current = moderation_loads(candidates)
    return min(candidates, key=lambda user_id: (current[user_id], user_id))


def finish_marking(actor, submission: Submission, mark: Mark) -> None:
    """The marker finished: into the moderation sample, or marked and ready to release."""
    if is_drawn(submission, mark.outcome):
        submission.is_sampled = True
        submission.state = MarkingState.IN_MODERATION
        submission.moderator_id = choose_moderator(submission)
        audit.record(actor, "submission.sampled", submission, after={"moderator_id": submission.moderator_id})
        if submission.moderator_id is not None:
            notices.send_moderation_waiting(db.session.get(User, submission.moderator_id), submission)
    else:
        submission.state = MarkingState.MARKED
    db.session.flush()
