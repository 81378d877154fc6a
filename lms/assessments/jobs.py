"""The assessments' scheduled jobs: due reminders, overdue marking, moderation waiting.

Each computes what is due from the data and ``now``; every notice carries a unique key (with
the date it is about), so a repeated run sends nothing twice and a moved date reminds again.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import and_, or_, select

from lms.accounts.models import User
from lms.accounts.services import people_with_roles
from lms.assessments.models import Assignment, Extension, Mark, MarkingState, Submission, SubmissionStatus
from lms.assessments.notices import ASSIGNMENT_DUE, MARKING_OVERDUE, MODERATION_WAITING
from lms.courses.models import Course, CourseStatus, Enrolment, EnrolmentStatus
from lms.extensions import db
from lms.notifications.services import already_notified, notification_key, notify
from lms.permissions import Role
from lms.routing import path_for
from lms.templating import format_datetime

#: The due reminders: a name, and how long before the deadline each window opens and closes.
DUE_REMINDERS = (
    ("7d", dt.timedelta(days=7), dt.timedelta(days=2)),
    ("1d", dt.timedelta(days=1), dt.timedelta(0)),
)
#: Days waiting in moderation before the moderator is reminded (or admins, with no moderator).
MODERATION_REMINDER_DAYS = 3


def send_due_reminders(now: dt.datetime) -> dict[str, int]:
    """Remind trainees who have not handed in, 7 days and 1 day before their (extended) due date.

    Active enrolments on published courses, with an active account and no submitted attempt
    of the assignment's current round (a referred trainee's resubmission is not chased).
    """
    horizon = now + dt.timedelta(days=7)
    extension = (
        select(Extension.due_at)
        .where(Extension.assignment_id == Assignment.id, Extension.user_id == Enrolment.user_id)
        .scalar_subquery()
    )
    submitted = (
        select(Submission.id)
        .where(
            Submission.assignment_id == Assignment.id,
            Submission.user_id == Enrolment.user_id,
            Submission.status == SubmissionStatus.SUBMITTED,
        )
        .exists()
    )
    statement = (
        select(Enrolment.user_id, Assignment, extension.label("extended_to"))
        .join(Assignment, Assignment.course_id == Enrolment.course_id)
        .join(Course, Course.id == Enrolment.course_id)
        .join(User, User.id == Enrolment.user_id)
        .where(
            Enrolment.status == EnrolmentStatus.ACTIVE,
            Course.status == CourseStatus.PUBLISHED,
            User.is_active_account.is_(True),
            or_(Assignment.opens_at.is_(None), Assignment.opens_at <= now),
            or_(
                and_(extension.is_(None), Assignment.due_at.between(now, horizon)),
                extension.between(now, horizon),
            ),
            ~submitted,
        )
        .order_by(Assignment.due_at, Enrolment.user_id)
    )
    due = []
    for user_id, assignment, extended_to in db.session.execute(statement).all():
        deadline = extended_to or assignment.due_at
        left = deadline - now
        for name, opens, closes in DUE_REMINDERS:
            if closes <= left <= opens:
                occasion = f"{deadline.isoformat()}-{name}"
                key = notification_key(ASSIGNMENT_DUE.name, f"assignment-{assignment.id}", user_id, occasion)
                due.append((user_id, assignment, deadline, occasion, key))
    sent_before = already_notified(key for *_, key in due)
    todo = [item for item in due if item[-1] not in sent_before]
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({i[0] for i in todo})))}
    sent = 0
    for user_id, assignment, deadline, occasion, _key in todo:
        notice = notify(
            people[user_id],
            ASSIGNMENT_DUE.name,
            about=f"assignment-{assignment.id}",
            occasion=occasion,
            title=f"“{assignment.title}” is due on {format_datetime(deadline)}",
            text=(
                f"You have not handed in “{assignment.title}” ({assignment.course.code}) yet. "
                f"It is due on {format_datetime(deadline)}."
            ),
            link=path_for("assessments.assignment", assignment_id=assignment.id),
        )
        sent += notice is not None
    return {"reminders": sent}


def send_marking_alerts(now: dt.datetime) -> dict[str, int]:
    """Tell assessors of marking past its due date, and admins once it is long past.

    The escalation comes ``MARKING_ESCALATE_AFTER_DAYS`` (7 unless configured) after the
    marking due date.
    """
    escalate_after = dt.timedelta(days=int(current_app.config["MARKING_ESCALATE_AFTER_DAYS"]))
    statement = (
        select(Submission)
        .where(
            Submission.marker_id.is_not(None),
            Submission.state.in_([MarkingState.NOT_MARKED, MarkingState.IN_MARKING]),
            Submission.marking_due_at < now,
        )
        .order_by(Submission.marking_due_at, Submission.id)
    )
    overdue = list(db.session.scalars(statement))
    markers = {
        u.id: u for u in db.session.scalars(select(User).where(User.id.in_({s.marker_id for s in overdue})))
    }
    alerts = escalations = 0
    admins = None
    for submission in overdue:
        assignment = submission.assignment
        occasion = submission.marking_due_at.isoformat()
        link = path_for("marking.mark", submission_id=submission.id)
        notice = notify(
            markers[submission.marker_id],
            MARKING_OVERDUE.name,
            about=f"submission-{submission.id}",
            occasion=occasion,
            title=f"Marking overdue: {assignment.title}",
            text=(
                f"Attempt {submission.attempt} of “{assignment.title}” "
                f"(participant {submission.participant.number}) "
                f"was due to be marked by {format_datetime(submission.marking_due_at)}."
            ),
            link=link,
        )
        alerts += notice is not None
        if now - submission.marking_due_at >= escalate_after:
            if admins is None:
                admins = [a for a in people_with_roles({Role.ADMIN}) if a.is_active_account]
            for admin in admins:
                notice = notify(
                    admin,
                    MARKING_OVERDUE.name,
                    about=f"submission-{submission.id}",
                    occasion=f"{occasion}-escalated",
                    title=f"Marking long overdue: {assignment.title}",
                    text=(
                        f"{markers[submission.marker_id].name} has not marked participant "
                        f"{submission.participant.number}'s attempt {submission.attempt} "
                        f"of “{assignment.title}”, "
                        f"due by {format_datetime(submission.marking_due_at)}. Consider reallocating it."
                    ),
                    link=path_for("assessment_admin.submissions", assignment_id=assignment.id),
                )
                escalations += notice is not None
    return {"alerts": alerts, "escalations": escalations}


def send_moderation_reminders(now: dt.datetime) -> dict[str, int]:
    """Remind moderators of marks waiting for days; with no moderator, tell the admins."""
    waited = now - dt.timedelta(days=MODERATION_REMINDER_DAYS)
    # A mark enters moderation when its marking is finished.
    statement = (
        select(Submission)
        .join(Mark, Mark.submission_id == Submission.id)
        .where(Submission.state == MarkingState.IN_MODERATION, Mark.completed_at < waited)
        .order_by(Submission.id)
    )
    waiting = list(db.session.scalars(statement))
    people = {
        u.id: u
        for u in db.session.scalars(select(User).where(User.id.in_({s.moderator_id for s in waiting})))
    }
    admins = None
    sent = 0
    for submission in waiting:
        assignment = submission.assignment
        if submission.moderator_id is not None:
            recipients = [people[submission.moderator_id]]
            link = path_for("marking.moderate", submission_id=submission.id)
        else:
            if admins is None:
                admins = [a for a in people_with_roles({Role.ADMIN}) if a.is_active_account]
            recipients = admins
            link = path_for("assessment_admin.submissions", assignment_id=assignment.id)
        for person in recipients:
            notice = notify(
                person,
                MODERATION_WAITING.name,
                about=f"submission-{submission.id}",
                occasion="reminder",
                title=f"Still waiting for moderation: {assignment.title}",
                text=(
                    f"Participant {submission.participant.number}'s mark on “{assignment.title}” is waiting "
                    + (
                        "for you to moderate it."
                        if submission.moderator_id
                        else "for a moderator to be chosen."
                    )
                ),
                link=link,
            )
            sent += notice is not None
    return {"reminders": sent}
