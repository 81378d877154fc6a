"""A trainee's attempts: drafts saved as they write, files, submitting with a receipt, deadlines.

Services take an explicit ``actor``, raise domain errors and flush; the request commits.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from lms import audit
from lms.assessments import notices
from lms.assessments.allocation import allocate_new
from lms.assessments.identity import participant_for
from lms.assessments.models import (
    Assignment,
    Extension,
    Mark,
    MarkingState,
    Outcome,
    Submission,
    SubmissionFile,
    SubmissionStatus,
)
from lms.assessments.uploads import check_upload
from lms.courses.models import Enrolment
from lms.database import utcnow
from lms.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.permissions import is_admin
from lms.storage import services as storage

_WORD = re.compile(r"\S+")


def count_words(text: str) -> int:
    """Words in an online text: runs of non-space characters (the page's live count agrees)."""
    return len(_WORD.findall(text or ""))


# --- deadlines and the trainee's standing --------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """When a trainee's work is due and after when it is refused, extension included."""

    due_at: dt.datetime
    cutoff_at: dt.datetime | None
    extension: Extension | None

    def is_late(self, at: dt.datetime) -> bool:
        """Handed in after the due date."""
        return at > self.due_at

    def is_closed(self, at: dt.datetime) -> bool:
        """Past the cut-off: nothing more is accepted."""
        return self.cutoff_at is not None and at > self.cutoff_at


def deadline_for(assignment: Assignment, user_id: int) -> Deadline:
    """The trainee's deadline.

    A referred trainee's resubmission is due ``RESUBMISSION_DAYS`` (28) after the referral was
    released, if that is later than the assignment's due date; an extension moves the due
    date again. The cut-off is never earlier than the due date it goes with (with no cut-off
    on the assignment, late work is always taken).
    """
    due = assignment.due_at
    referred_at = db.session.scalar(
        select(func.max(Submission.released_at))
        .join(Mark, Mark.submission_id == Submission.id)
        .where(
            Submission.assignment_id == assignment.id,
            Submission.user_id == user_id,
            Submission.state == MarkingState.RELEASED,
            Mark.outcome == Outcome.REFER,
        )
    )
    if referred_at is not None:
        due = max(due, referred_at + dt.timedelta(days=int(current_app.config["RESUBMISSION_DAYS"])))
    extension = db.session.scalar(
        select(Extension).where(Extension.assignment_id == assignment.id, Extension.user_id == user_id)
    )
    if extension is not None:
        due = extension.due_at
    cutoff = None if assignment.cutoff_at is None else max(due, assignment.cutoff_at)
    return Deadline(due, cutoff, extension)


def current_enrolment(user, assignment: Assignment) -> Enrolment | None:
    """The trainee's enrolment on the assignment's course, if they hold a place (active or completed)."""
    enrolment = db.session.scalar(
        select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.course_id == assignment.course_id)
    )
    return enrolment if enrolment is not None and enrolment.is_current else None


def attempts_of(user_id: int, assignment: Assignment) -> list[Submission]:
    """A trainee's attempts at an assignment, first to last (with files and marks)."""
    statement = (
        select(Submission)
        .where(Submission.assignment_id == assignment.id, Submission.user_id == user_id)
        .options(selectinload(Submission.files), selectinload(Submission.mark))
        .order_by(Submission.attempt)
    )
    return list(db.session.scalars(statement))


def next_attempt_number(attempts: list[Submission], assignment: Assignment) -> int | None:
    """The attempt a trainee may start now, or ``None`` (a draft is open, marking is under way, done)."""
    if not attempts:
        return 1
    last = attempts[-1]
    if not last.is_submitted or not last.is_released:
        return None
    if last.mark is None or last.mark.outcome != Outcome.REFER:
        return None
    return last.attempt + 1 if last.attempt < assignment.max_attempts else None


def why_closed(assignment: Assignment, deadline: Deadline, at: dt.datetime) -> str | None:
    """Why the trainee cannot work on a new attempt now, or ``None`` if they can."""
    if assignment.opens_at is not None and at < assignment.opens_at:
        return f"This assignment opens on {assignment.opens_at:%-d %B %Y at %H:%M} UTC."
    if deadline.is_closed(at):
        return (
            "The cut-off date has passed, so work can no longer be handed in. "
            "Ask your assessor or the programme team if you need an extension."
        )
    return None


# --- drafts and files ---------------------------------------------------------------------


def open_draft(actor, assignment: Assignment, now: dt.datetime | None = None) -> Submission:
    """The trainee's open draft, started if they may start an attempt now.

    :raises NotAllowed: not enrolled on the course.
    :raises Conflict: not open yet, past the cut-off, or no attempt left to start.
    """
    now = now or utcnow()
    enrolment = current_enrolment(actor, assignment)
    if enrolment is None:
        raise NotAllowed("Only trainees enrolled on this course can hand in this assignment.")
    attempts = attempts_of(actor.id, assignment)
    if attempts and not attempts[-1].is_submitted:
        return attempts[-1]
    number = next_attempt_number(attempts, assignment)
    if number is None:
        if attempts and not attempts[-1].is_released:
            raise Conflict("Your work is being marked: you can start again only if it is referred.")
        raise Conflict("There is no attempt left to start on this assignment.")
    reason = why_closed(assignment, deadline_for(assignment, actor.id), now)
    if reason:
        raise Conflict(reason)
    participant = participant_for(assignment, actor.id)
    submission = Submission(
        assignment=assignment,
        assignment_id=assignment.id,
        user_id=actor.id,
        participant=participant,
        attempt=number,
        text=attempts[-1].text if attempts else "",
    )
    submission.word_count = count_words(submission.text)
    try:
        with db.session.begin_nested():
            db.session.add(submission)
            db.session.flush()
    except IntegrityError:
        raise Conflict("This attempt was started in another window. Reload the page.") from None
    audit.record(actor, "submission.started", submission, after={"attempt": number})
    return submission


def own_draft(actor, submission: Submission) -> Submission:
    """``submission`` if it is the actor's own open draft.

    :raises NotFound: someone else's (ids reveal nothing).
    :raises Conflict: already submitted.
    """
    if submission.user_id != actor.id:
        raise NotFound("No such submission.")
    if submission.is_submitted:
        raise Conflict("This attempt has been submitted and can no longer be changed.")
    return submission


def save_draft(actor, submission: Submission, text: str, base_revision: int | None) -> Submission:
    """Save the online text of a draft; ``base_revision`` is the revision the writer started from.

    :raises Conflict: submitted already, or a newer draft was saved (in another window).
    :raises InvalidInput: the assignment takes no online text.
    """
    own_draft(actor, submission)
    if not submission.assignment.accepts_text:
        raise InvalidInput.for_field("text", "This assignment takes files only.")
    # Lock the row: two autosaves from two windows must not both pass the revision check.
    db.session.execute(select(Submission.id).where(Submission.id == submission.id).with_for_update())
    db.session.refresh(submission, ["draft_revision", "status"])
    own_draft(actor, submission)
    if base_revision is not None and base_revision != submission.draft_revision:
        raise Conflict(
            "A newer version of this draft was saved in another window or tab. "
            "Reload the page to carry on from it; copy anything you want to keep first."
        )
    submission.text = text
    submission.word_count = count_words(text)
    submission.draft_revision += 1
    submission.draft_saved_at = utcnow()
    db.session.flush()
    return submission


def files_of(submission_ids: list[int]) -> dict[int, list[SubmissionFile]]:
    """The files of many submissions: one query."""
    found: dict[int, list[SubmissionFile]] = {i: [] for i in submission_ids}
    if submission_ids:
        statement = (
            select(SubmissionFile)
            .where(SubmissionFile.submission_id.in_(submission_ids))
            .order_by(SubmissionFile.id)
        )
        for item in db.session.scalars(statement):
            found[item.submission_id].append(item)
    return found


def add_file(actor, submission: Submission, source, filename: str | None) -> SubmissionFile:
    """Check and store an uploaded file on a draft.

    :raises Conflict: submitted already, or the most files are already there.
    :raises InvalidInput: on ``file``: the assignment takes no files, or the upload failed a check.
    """
    own_draft(actor, submission)
    assignment = submission.assignment
    if not assignment.accepts_files:
        raise InvalidInput.for_field("file", "This assignment takes online text only.")
    count = db.session.scalar(
        select(func.count()).select_from(SubmissionFile).where(SubmissionFile.submission_id == submission.id)
    )
    if count >= assignment.max_files:
        noun = "file" if assignment.max_files == 1 else "files"
        raise InvalidInput.for_field(
            "file", f"You can hand in {assignment.max_files} {noun} at most: remove one to add another."
        )
    checked = check_upload(source, filename, assignment.extensions, assignment.max_file_size)
    with checked.stream:
        stored = storage.save(
            checked.stream, checked.filename, checked.content_type, actor, max_size=assignment.max_file_size
        )
    item = SubmissionFile(submission_id=submission.id, stored_file_id=stored.id, stored_file=stored)
    db.session.add(item)
    db.session.flush()
    audit.record(
        actor, "submission.file_added", submission, after={"filename": stored.filename, "size": stored.size}
    )
    return item


def remove_file(actor, submission: Submission, file_id: int) -> None:
    """Remove a file from a draft (its bytes go once the removal commits).

    :raises NotFound: no such file on this draft.
    """
    own_draft(actor, submission)
    item = db.session.get(SubmissionFile, file_id)
    if item is None or item.submission_id != submission.id:
        raise NotFound("No such file on this draft.")
    stored = item.stored_file
    db.session.delete(item)
    db.session.flush()
    audit.record(actor, "submission.file_removed", submission, before={"filename": stored.filename})
    storage.delete(stored)


# --- submitting -----------------------------------------------------------------------------


def submit(actor, submission: Submission, is_declared: bool, now: dt.datetime | None = None) -> dict:
    """Hand a draft in for marking, allocate it, and send the trainee a receipt; return the receipt.

    :raises InvalidInput: no declaration, nothing handed in, over the word limit.
    :raises Conflict: submitted already (in another window), or past the cut-off without an extension.
    """
    now = now or utcnow()
    own_draft(actor, submission)
    assignment = submission.assignment
    if not is_declared:
        raise InvalidInput.for_field("declaration", "Confirm that the work is your own before you submit it.")
    # One submit wins: lock the row and look again.
    db.session.execute(select(Submission.id).where(Submission.id == submission.id).with_for_update())
    db.session.refresh(submission, ["status", "text", "word_count"])
    own_draft(actor, submission)
    if current_enrolment(actor, assignment) is None:
        raise NotAllowed("Only trainees enrolled on this course can hand in this assignment.")
    deadline = deadline_for(assignment, actor.id)
    if deadline.is_closed(now):
        raise Conflict(
            "The cut-off date has passed, so this work can no longer be handed in. "
            "Ask your assessor or the programme team for an extension."
        )
    files = files_of([submission.id])[submission.id]
    has_text = assignment.accepts_text and submission.text.strip()
    if not has_text and not files:
        field = "text" if assignment.accepts_text else "file"
        wanted = {
            (True, True): "Write your answer or add a file before you submit.",
            (True, False): "Write your answer before you submit.",
            (False, True): "Add your file before you submit.",
        }[(assignment.accepts_text, assignment.accepts_files)]
        raise InvalidInput.for_field(field, wanted)
    if assignment.word_limit and submission.word_count > assignment.word_limit:
        raise InvalidInput.for_field(
            "text",
            f"Your answer has {submission.word_count} words: the limit is {assignment.word_limit}. "
            "Shorten it before you submit.",
        )
    submission.status = SubmissionStatus.SUBMITTED
    submission.state = MarkingState.NOT_MARKED
    submission.submitted_at = now
    submission.is_late = deadline.is_late(now)
    db.session.flush()
    receipt = receipt_of(submission, files)
    audit.record(
        actor,
        "submission.submitted",
        submission,
        after={k: v for k, v in receipt.items() if k != "submitted_at"} | {"submitted_at": now.isoformat()},
    )
    allocate_new(submission)
    notices.send_receipt(submission, actor, receipt)
    return receipt


def receipt_of(submission: Submission, files: list[SubmissionFile] | None = None) -> dict:
    """What the trainee handed in: time, attempt, words and each file's name, size and SHA-256."""
    if files is None:
        files = files_of([submission.id])[submission.id]
    return {
        "submission_id": submission.id,
        "attempt": submission.attempt,
        "submitted_at": submission.submitted_at,
        "is_late": submission.is_late,
        "word_count": submission.word_count,
        "files": [
            {"filename": f.stored_file.filename, "size": f.stored_file.size, "sha256": f.stored_file.checksum}
            for f in files
        ],
    }


# --- extensions -----------------------------------------------------------------------------


def may_grant_extension(actor, assignment: Assignment, user_id: int) -> bool:
    """Admins, and the assessor allocated to any of the trainee's attempts at the assignment."""
    if is_admin(actor):
        return True
    statement = select(Submission.id).where(
        Submission.assignment_id == assignment.id,
        Submission.user_id == user_id,
        Submission.marker_id == actor.id,
    )
    return db.session.scalar(statement.limit(1)) is not None


def grant_extension(actor, assignment: Assignment, user, due_at: dt.datetime, reason: str) -> Extension:
    """Give ``user`` until ``due_at`` (a new due date and cut-off), with the reason; audited and notified.

    :raises NotAllowed: the actor is neither an admin nor the trainee's allocated assessor.
    :raises InvalidInput: no reason, a date not after the assignment's due date or in the past.
    """
    if not may_grant_extension(actor, assignment, user.id):
        raise NotAllowed("Only administrators and the allocated assessor grant extensions.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput.for_field("reason", "Give the reason for the extension.")
    if due_at <= assignment.due_at:
        raise InvalidInput.for_field("due_at", "An extension must end after the assignment's due date.")
    if due_at <= utcnow():
        raise InvalidInput.for_field("due_at", "An extension must end in the future.")
    extension = db.session.scalar(
        select(Extension).where(Extension.assignment_id == assignment.id, Extension.user_id == user.id)
    )
    before = None
    if extension is None:
        extension = Extension(assignment_id=assignment.id, user_id=user.id)
        db.session.add(extension)
    else:
        before = {"due_at": extension.due_at.isoformat(), "reason": extension.reason}
    extension.due_at = due_at
    extension.reason = reason
    extension.granted_by = actor
    extension.granted_at = utcnow()
    db.session.flush()
    audit.record(
        actor,
        "extension.granted",
        extension,
        before=before,
        after={
            "assignment_id": assignment.id,
            "user_id": user.id,
            "due_at": due_at.isoformat(),
            "reason": reason,
        },
    )
    notices.send_extension(extension, assignment, user)
    return extension


def extensions_of(assignment: Assignment) -> list[Extension]:
    """Every extension on an assignment, latest deadline first."""
    statement = (
        select(Extension).where(Extension.assignment_id == assignment.id).order_by(Extension.due_at.desc())
    )
    return list(db.session.scalars(statement))


def latest_submissions(user_id: int, assignment_ids: list[int]) -> dict[int, Submission]:
    """A trainee's latest attempt at each assignment: one query."""
    if not assignment_ids:
        return {}
    latest = (
        select(Submission.assignment_id, func.max(Submission.attempt).label("attempt"))
        .where(Submission.user_id == user_id, Submission.assignment_id.in_(assignment_ids))
        .group_by(Submission.assignment_id)
        .subquery()
    )
    statement = (
        select(Submission)
        .join(
            latest,
            (Submission.assignment_id == latest.c.assignment_id) & (Submission.attempt == latest.c.attempt),
        )
        .where(Submission.user_id == user_id)
        .options(selectinload(Submission.mark))
    )
    return {s.assignment_id: s for s in db.session.scalars(statement)}
