"""The assessments' notification kinds, and the messages the services send.

"Marks released" and the submission receipt are essential: they are always emailed, and a
trainee cannot turn them off (a receipt is the trainee's proof of hand-in).
"""

from __future__ import annotations

from lms.notifications.kinds import NotificationKind
from lms.notifications.services import notify
from lms.permissions import Role
from lms.routing import path_for
from lms.storage.services import format_size
from lms.templating import format_datetime

SUBMISSION_RECEIPT = NotificationKind(
    "submission_receipt",
    "Receipts for work you hand in",
    "When you submit an assignment: the time, attempt, word count and each file's checksum.",
    is_essential=True,
    roles=frozenset({Role.TRAINEE}),
)
MARKS_RELEASED = NotificationKind(
    "marks_released",
    "Marks released",
    "When the mark and feedback on your assignment are released, or a released mark is changed.",
    is_essential=True,
    roles=frozenset({Role.TRAINEE}),
)
ASSIGNMENT_DUE = NotificationKind(
    "assignment_due",
    "Reminders before an assignment is due",
    "A week before, and the day before, an assignment you have not handed in is due.",
    roles=frozenset({Role.TRAINEE}),
)
EXTENSION_GRANTED = NotificationKind(
    "extension_granted",
    "Extensions",
    "When you are given more time for an assignment.",
    roles=frozenset({Role.TRAINEE}),
)
ATTEMPTS_USED = NotificationKind(
    "attempts_used",
    "Assignment not passed on the last attempt",
    "When a fail on the last attempt ends a course as not completed (to the trainee and their manager).",
    is_essential=True,
    roles=frozenset({Role.TRAINEE, Role.ORG_MANAGER}),
)
MARKING_ALLOCATED = NotificationKind(
    "marking_allocated",
    "Work allocated to you for marking",
    "When submissions are allocated to you.",
    is_emailed_by_default=False,
    roles=frozenset({Role.ASSESSOR}),
)
MARKING_OVERDUE = NotificationKind(
    "marking_overdue",
    "Marking overdue",
    "To the assessor when marking is past its due date, and to administrators when it is long past.",
    roles=frozenset({Role.ASSESSOR, Role.ADMIN}),
)
MODERATION_WAITING = NotificationKind(
    "moderation_waiting",
    "Moderation waiting",
    "When a mark is waiting for you to moderate it (administrators: when no one is chosen to).",
    roles=frozenset({Role.ASSESSOR, Role.ADMIN}),
)

KINDS = (
    SUBMISSION_RECEIPT,
    MARKS_RELEASED,
    ASSIGNMENT_DUE,
    EXTENSION_GRANTED,
    ATTEMPTS_USED,
    MARKING_ALLOCATED,
    MARKING_OVERDUE,
    MODERATION_WAITING,
)


def assignment_path(assignment) -> str:
    """The trainee's page of an assignment."""
    return path_for("assessments.assignment", assignment_id=assignment.id)


def send_receipt(submission, trainee, receipt: dict) -> None:
    """The receipt of a submission, to the trainee (in the app and by email)."""
    assignment = submission.assignment
    lines = [
        f"You submitted attempt {receipt['attempt']} of “{assignment.title}” ({assignment.course.code}) "
        f"on {format_datetime(receipt['submitted_at'])}.",
    ]
    if assignment.accepts_text:
        lines.append(f"Words: {receipt['word_count']}.")
    for item in receipt["files"]:
        lines.append(f"File: {item['filename']} ({format_size(item['size'])}), SHA-256 {item['sha256']}.")
    if receipt["is_late"]:
        lines.append("It was handed in after the due date and is marked as late.")
    notify(
        trainee,
        SUBMISSION_RECEIPT.name,
        about=f"submission-{submission.id}",
        title=f"Receipt: {assignment.title}, attempt {receipt['attempt']}",
        text="\n".join(lines),
        link=assignment_path(assignment),
    )


def send_released(submission, trainee, mark, *, is_change: bool = False, reason: str = "") -> None:
    """Tell the trainee their mark is released (or that a released mark changed)."""
    assignment = submission.assignment
    outcome = mark.outcome.label if mark and mark.outcome else ""
    if is_change:
        text = f"Your mark for “{assignment.title}” was changed to {mark.total} ({outcome}). Reason: {reason}"
        title = f"Mark changed: {assignment.title}"
        occasion = f"change-{mark.version}"
    else:
        text = (
            f"Your mark and feedback for “{assignment.title}”, attempt {submission.attempt}, "
            f"are ready: {outcome}."
        )
        title = f"Mark released: {assignment.title}"
        occasion = ""
    notify(
        trainee,
        MARKS_RELEASED.name,
        about=f"submission-{submission.id}",
        occasion=occasion,
        title=title,
        text=text,
        link=assignment_path(assignment),
    )


def send_extension(extension, assignment, user) -> None:
    """Tell the trainee about their extension."""
    notify(
        user,
        EXTENSION_GRANTED.name,
        about=f"assignment-{assignment.id}",
        occasion=extension.due_at.isoformat(),
        title=f"Extension: {assignment.title}",
        text=f"You now have until {format_datetime(extension.due_at)} to hand in “{assignment.title}”.",
        link=assignment_path(assignment),
    )


def send_attempts_used(submission, trainee, managers: list) -> None:
    """Tell the trainee (and their org managers) that the last attempt did not pass."""
    assignment = submission.assignment
    course = assignment.course
    for person, who in [(trainee, "You"), *((m, trainee.name) for m in managers)]:
        notify(
            person,
            ATTEMPTS_USED.name,
            about=f"submission-{submission.id}",
            title=f"Not completed: {course.title}",
            text=(
                f"{who} did not pass “{assignment.title}” on the last attempt, so {course.title} "
                "ends as not completed. Speak to the programme team about what happens next."
            ),
            link=assignment_path(assignment) if person is trainee else "",
        )


def send_allocated(marker, submission, label: str) -> None:
    """Tell an assessor that a submission was allocated to them (``label``: name or participant number)."""
    assignment = submission.assignment
    notify(
        marker,
        MARKING_ALLOCATED.name,
        about=f"submission-{submission.id}",
        occasion=f"marker-{marker.id}",
        title=f"To mark: {assignment.title}",
        text=f"{label}'s attempt {submission.attempt} of “{assignment.title}” is allocated to you.",
        link=path_for("marking.mark", submission_id=submission.id),
    )


def send_moderation_waiting(moderator, submission) -> None:
    """Tell the moderator a sampled mark waits for them."""
    notify(
        moderator,
        MODERATION_WAITING.name,
        about=f"submission-{submission.id}",
        title=f"To moderate: {submission.assignment.title}",
        text=f"A mark of “{submission.assignment.title}” is in your moderation sample.",
        link=path_for("marking.moderate", submission_id=submission.id),
    )
