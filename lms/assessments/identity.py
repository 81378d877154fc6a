"""Who wrote the work, as each reader may know it: participant numbers under blind marking.

Under blind marking a marker or moderator sees "Participant 123456" on every page, API
answer, file name and download, until an admin reveals identities for the assignment.
Admins always see names, and trainees their own work.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lms import audit
from lms.accounts.models import User
from lms.assessments.models import Assignment, Participant, Submission
from lms.database import utcnow
from lms.errors import Conflict, NotAllowed
from lms.extensions import db
from lms.permissions import is_admin


def participant_for(assignment: Assignment, user_id: int) -> Participant:
    """The trainee's participant number on the assignment, made on first need (random, unique)."""
    existing = db.session.scalar(
        select(Participant).where(Participant.assignment_id == assignment.id, Participant.user_id == user_id)
    )
    if existing is not None:
        return existing
    for _ in range(20):
        participant = Participant(
            assignment_id=assignment.id, user_id=user_id, number=100000 + secrets.randbelow(900000)
        )
        try:
            with db.session.begin_nested():
                db.session.add(participant)
                db.session.flush()
            return participant
        except IntegrityError:
            existing = db.session.scalar(
                select(Participant).where(
                    Participant.assignment_id == assignment.id, Participant.user_id == user_id
                )
            )
            if existing is not None:
                return existing
    raise Conflict("Could not give out a participant number; please try again.")


def participant_label(submission: Submission) -> str:
    """What a blind marker calls the trainee."""
    return f"Participant {submission.participant.number}"


def sees_identity(viewer, assignment: Assignment) -> bool:
    """Whether ``viewer`` may see who wrote work on ``assignment`` (admins always; markers once revealed)."""
    return is_admin(viewer) or not assignment.is_blind_now


def author_labels(viewer, submissions: list[Submission]) -> dict[int, str]:
    """Who wrote each submission, as ``viewer`` may know it: names or participant numbers (one query)."""
    named = [s for s in submissions if s.user_id == viewer.id or sees_identity(viewer, s.assignment)]
    names = {}
    if named:
        statement = select(User.id, User.name).where(User.id.in_({s.user_id for s in named}))
        names = dict(db.session.execute(statement).all())
    return {s.id: names.get(s.user_id) or participant_label(s) for s in submissions}


def download_name(viewer, submission: Submission, original: str, index: int) -> str:
    """The name a download gets: the original, or a participant-numbered one for blind markers.

    A blind marker never learns a name through a file name.
    """
    if viewer.id == submission.user_id or sees_identity(viewer, submission.assignment):
        return original
    extension = original.rpartition(".")[2].lower() if "." in original else "bin"
    number = submission.participant.number
    return f"participant-{number}-attempt-{submission.attempt}-file-{index}.{extension}"


def reveal_identities(actor, assignment: Assignment) -> None:
    """Show the trainees' names to the markers of a blind-marked assignment (admins; audited).

    :raises NotAllowed: the actor is not an admin.
    :raises Conflict: the names are already visible.
    """
    if not is_admin(actor):
        raise NotAllowed("Only administrators reveal who wrote the work.")
    if not assignment.is_blind_now:
        raise Conflict("The identities on this assignment are already visible to markers.")
    assignment.identities_revealed_at = utcnow()
    db.session.flush()
    audit.record(actor, "assignment.identities_revealed", assignment)
