"""The courses' scheduled jobs: reminders before a cohort starts, and lapsing idle enrolments.

Each computes what is due from the data and ``now`` (the runner's clock), so a run repeated (by a second
scheduler, after a crash, or by "run now") does nothing twice: reminders carry a unique
notification key, and a lapse is a conditional update that only one run can make. Dates are
London dates, as the trainees read them.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import or_, select, true, update

from lms.accounts.models import User
from lms.courses.enrolment import record_lapse
from lms.courses.models import Cohort, Course, CourseStatus, Enrolment, EnrolmentStatus
from lms.extensions import db
from lms.jobs.registry import TIMEZONE
from lms.notifications.kinds import NotificationKind
from lms.notifications.services import already_notified, notification_key, notify
from lms.permissions import Role
from lms.routing import path_for

COHORT_STARTING = NotificationKind(
    "cohort_starting",
    "Reminders before a cohort starts",
    "A week before, and the day before, a cohort you are enrolled in starts.",
    roles=frozenset({Role.TRAINEE}),
)
ENROLMENT_LAPSED = NotificationKind(
    "enrolment_lapsed",
    "A place on a course has lapsed",
    "When your place on a course ends because its cohort is over and nothing happened on it for long.",
    roles=frozenset({Role.TRAINEE}),
)

#: The reminders: a name for each, and the days before the start in which it is due. A run
#: sends every reminder whose window holds the start, so a day missed by the scheduler is
#: made up the next day; the unique key (with the start date) sends each one once.
REMINDERS = (("7d", range(2, 8)), ("1d", range(0, 2)))

LAPSE_RULE = (
    "An active enrolment lapses when its cohort ended more than LAPSE_AFTER_DAYS days ago "
    "(60 unless configured) and the trainee has done nothing on the course for as long; a "
    "place still on the waiting list of a cohort that ended that long ago lapses too. "
    "Completed enrolments, and enrolments without a cohort, never lapse."
)


def london_date(now: dt.datetime) -> dt.date:
    """The date in London at ``now``."""
    return now.astimezone(TIMEZONE).date()


def _long_date(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def send_cohort_reminders(now: dt.datetime) -> dict[str, int]:
    """Remind trainees with a place in a cohort a week before it starts and the day before.

    The trainees of published courses with an active enrolment and an active account;
    one query for all of them. A cohort whose start date moves is reminded of again.
    """
    day = london_date(now)
    statement = (
        select(Enrolment)
        .join(Enrolment.cohort)
        .join(Cohort.course)
        .join(User, User.id == Enrolment.user_id)
        .where(
            Enrolment.status == EnrolmentStatus.ACTIVE,
            Course.status == CourseStatus.PUBLISHED,
            User.is_active_account.is_(True),
            Cohort.starts_on.between(day, day + dt.timedelta(days=7)),
        )
        .order_by(Cohort.starts_on, Enrolment.id)
    )
    due = []
    for enrolment in db.session.scalars(statement).unique().all():
        days_left = (enrolment.cohort.starts_on - day).days
        for name, window in REMINDERS:
            if days_left in window:
                about, occasion = _about(enrolment, name)
                key = notification_key(COHORT_STARTING.name, about, enrolment.user_id, occasion)
                due.append((enrolment, about, occasion, days_left, key))
    sent_before = already_notified(key for *_, key in due)
    sent, cohorts = 0, set()
    for enrolment, about, occasion, days_left, key in due:
        if key not in sent_before and _remind(enrolment, about, occasion, days_left):
            sent += 1
            cohorts.add(enrolment.cohort_id)
    return {"reminders": sent, "cohorts": len(cohorts)}


def _about(enrolment: Enrolment, name: str) -> tuple[str, str]:
    """A reminder's subject and occasion (the start date, so a moved start reminds again)."""
    cohort = enrolment.cohort
    return f"cohort-{cohort.id}", f"{cohort.starts_on.isoformat()}-{name}"


def _remind(enrolment: Enrolment, about: str, occasion: str, days_left: int) -> bool:
    cohort = enrolment.cohort
    when = {0: "today", 1: "tomorrow"}.get(days_left, f"in {days_left} days")
    where = f" Where: {cohort.location}." if cohort.location else ""
    return (
        notify(
            enrolment.user,
            COHORT_STARTING.name,
            about=about,
            occasion=occasion,
            title=f"{enrolment.course.title} starts {when}, on {_long_date(cohort.starts_on)}",
            text=(
                f"You have a place in the cohort “{cohort.name}”, from {_long_date(cohort.starts_on)} "
                f"to {_long_date(cohort.ends_on)}.{where} The course page has the details and the modules."
            ),
            link=path_for("courses.course", course_id=enrolment.course_id),
        )
        is not None
    )


def lapse_enrolments(now: dt.datetime) -> dict[str, int]:
    """End the enrolments the lapse rule (:data:`LAPSE_RULE`) catches, audited, with a notice.

    Each status changes in a conditional update, so a trainee who opens a module while the
    job runs keeps their place, and two runs never lapse (or notify) anyone twice.
    """
    days = int(current_app.config["LAPSE_AFTER_DAYS"])
    ended = select(Cohort.id).where(Cohort.ends_on < london_date(now) - dt.timedelta(days=days))
    idle = or_(
        Enrolment.last_activity_at.is_(None), Enrolment.last_activity_at < now - dt.timedelta(days=days)
    )
    counts = {}
    for before, condition in ((EnrolmentStatus.ACTIVE, idle), (EnrolmentStatus.WAITLISTED, true())):
        ids = db.session.scalars(
            update(Enrolment)
            .where(Enrolment.cohort_id.in_(ended), Enrolment.status == before, condition)
            .values(status=EnrolmentStatus.LAPSED)
            .returning(Enrolment.id)
            .execution_options(synchronize_session=False)
        ).all()
        counts[f"lapsed_{before}"] = len(ids)
        for enrolment in _enrolments(ids):
            record_lapse(enrolment, before, days)
            _tell_lapsed(enrolment, days)
    return counts


def _enrolments(ids: list[int]) -> list[Enrolment]:
    """The enrolments with ``ids``, read afresh (a bulk update just changed them), with their people."""
    if not ids:
        return []
    statement = (
        select(Enrolment)
        .where(Enrolment.id.in_(ids))
        .order_by(Enrolment.id)
        .execution_options(populate_existing=True)
    )
    return list(db.session.scalars(statement).unique())


def _tell_lapsed(enrolment: Enrolment, days: int) -> None:
    cohort = enrolment.cohort
    notify(
        enrolment.user,
        ENROLMENT_LAPSED.name,
        about=f"enrolment-{enrolment.id}",
        occasion=cohort.ends_on.isoformat(),
        title=f"Your place on {enrolment.course.title} has lapsed",
        text=(
            f"{cohort.name} ended on {_long_date(cohort.ends_on)} and nothing has happened on your "
            f"place for {days} days, so it has lapsed. What you did is kept: to carry on, enrol on "
            "the course again, or ask your organisation's training manager."
        ),
        link=path_for("courses.course", course_id=enrolment.course_id),
    )
