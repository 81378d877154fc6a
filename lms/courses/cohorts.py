"""Cohorts: runs of a course with dates, places and a waiting list."""

from __future__ import annotations

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from lms import audit
from lms.accounts.models import User
from lms.courses.catalogue import get_course
from lms.courses.models import Cohort, Course, Enrolment, EnrolmentStatus
from lms.database import today
from lms.errors import InvalidInput, NotFound
from lms.extensions import db
from lms.permissions import is_admin

COHORT_FIELDS = (
    "name",
    "starts_on",
    "ends_on",
    "delivery_format",
    "location",
    "capacity",
    "has_waiting_list",
    "enrolment_opens_on",
    "enrolment_closes_on",
)


def save_cohort(
    actor, course: Course, cohort: Cohort | None, data: dict, facilitator_ids: list[int] | None = None
) -> Cohort:
    """Create or edit a run of a course.

    :raises InvalidInput: dates out of order, or a capacity below the places already taken.
    """
    values = {name: data[name] for name in COHORT_FIELDS if name in data}
    merged = {name: values.get(name, getattr(cohort, name, None)) for name in COHORT_FIELDS}
    if not (merged["name"] or "").strip():
        raise InvalidInput.for_field("name", "Give the cohort a name, e.g. “Spring 2027, Cardiff”.")
    if merged["starts_on"] is None or merged["ends_on"] is None:
        raise InvalidInput.for_field("starts_on", "Enter the start and end dates.")
    if merged["ends_on"] < merged["starts_on"]:
        raise InvalidInput.for_field("ends_on", "The end date must be on or after the start date.")
    opens, closes = merged["enrolment_opens_on"], merged["enrolment_closes_on"]
    if opens and closes and closes < opens:
        raise InvalidInput.for_field("enrolment_closes_on", "Enrolment must close after it opens.")
    capacity = merged["capacity"]
    if capacity is not None and capacity < 1:
        raise InvalidInput.for_field("capacity", "Capacity must be at least 1, or empty for no limit.")
    if cohort is not None and capacity is not None and capacity < cohort.seats_taken:
        raise InvalidInput.for_field(
            "capacity", f"{cohort.seats_taken} places are already taken; the capacity cannot be lower."
        )
    is_new = cohort is None
    if is_new:
        cohort = Cohort(course=course, delivery_format=course.delivery_format)
        db.session.add(cohort)
    for name, value in values.items():
        setattr(cohort, name, value)
    if facilitator_ids is not None:
        facilitators = (
            db.session.scalars(select(User).where(User.id.in_(facilitator_ids))).all()
            if facilitator_ids
            else []
        )
        if len(facilitators) != len(set(facilitator_ids)):
            raise InvalidInput.for_field("facilitator_ids", "One of the facilitators does not exist.")
        cohort.facilitators = list(facilitators)
    db.session.flush()
    audit.record(
        actor,
        "cohort.created" if is_new else "cohort.updated",
        cohort,
        after={"name": cohort.name, "capacity": cohort.capacity, "course_id": course.id},
    )
    if not is_new and (capacity is None or capacity > cohort.seats_taken):
        promote_waiting_list(cohort)
    return cohort


def get_cohort(course: Course, cohort_id: int) -> Cohort:
    """A cohort of ``course``.

    :raises NotFound:
    """
    cohort = db.session.get(Cohort, cohort_id)
    if cohort is None or cohort.course_id != course.id:
        raise NotFound("No such cohort for this course.")
    return cohort


def open_cohorts(course: Course, *, with_facilitators: bool = False) -> list[Cohort]:
    """Cohorts of a course that are taking enrolments today, soonest first."""
    day = today()
    query = select(Cohort).where(Cohort.course_id == course.id, Cohort.ends_on >= day)
    if with_facilitators:
        query = query.options(selectinload(Cohort.facilitators))
    cohorts = db.session.scalars(query.order_by(Cohort.starts_on, Cohort.id)).all()
    return [c for c in cohorts if c.is_open_on(day)]


def course_cohorts(course: Course, *, not_ended: bool = False) -> list[Cohort]:
    """A course's cohorts: all, latest first; or those not yet ended, soonest first."""
    query = select(Cohort).where(Cohort.course_id == course.id)
    if not_ended:
        query = query.where(Cohort.ends_on >= today()).order_by(Cohort.starts_on, Cohort.id)
    else:
        query = query.order_by(Cohort.starts_on.desc(), Cohort.id.desc())
    return list(db.session.scalars(query))


def cohorts_for(actor, course: Course) -> list[Cohort]:
    """The cohorts of a course the actor is shown (with facilitators): all for admins, open ones otherwise."""
    if not is_admin(actor):
        return open_cohorts(course, with_facilitators=True)
    query = select(Cohort).where(Cohort.course_id == course.id).options(selectinload(Cohort.facilitators))
    return list(db.session.scalars(query.order_by(Cohort.starts_on, Cohort.id)))


def waiting_list_sizes(course: Course) -> dict[int, int]:
    """How many people wait for each cohort of a course, by cohort id: one query."""
    return dict(
        db.session.execute(
            select(Enrolment.cohort_id, func.count())
            .where(Enrolment.course_id == course.id, Enrolment.status == EnrolmentStatus.WAITLISTED)
            .group_by(Enrolment.cohort_id)
        ).all()
    )


def get_cohort_for(actor, cohort_id: int) -> Cohort:
    """A cohort of a course the actor may see.

    :raises NotFound: no such cohort, or its course is not visible to the actor.
    """
    cohort = db.session.get(Cohort, cohort_id)
    if cohort is None:
        raise NotFound("No such cohort.")
    get_course(actor, cohort.course_id)
    return cohort


def take_seat(cohort: Cohort) -> bool:
    """Claim one place with a conditional update; false when the cohort is full.

    The ``WHERE`` clause makes this safe under concurrency on every database: two
    requests for the last place cannot both succeed.
    """
    result = db.session.execute(
        update(Cohort)
        .where(Cohort.id == cohort.id, or_(Cohort.capacity.is_(None), Cohort.seats_taken < Cohort.capacity))
        .values(seats_taken=Cohort.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(cohort, ["seats_taken"])
    return result.rowcount == 1


def release_seat(cohort: Cohort) -> None:
    """Give back one place (a withdrawal); never below zero."""
    db.session.execute(
        update(Cohort)
        .where(Cohort.id == cohort.id, Cohort.seats_taken > 0)
        .values(seats_taken=Cohort.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(cohort, ["seats_taken"])


def promote_waiting_list(cohort: Cohort) -> list[Enrolment]:
    """Give free places to the longest-waiting people, in order."""
    promoted = []
    waiting = db.session.scalars(
        select(Enrolment)
        .where(Enrolment.cohort_id == cohort.id, Enrolment.status == EnrolmentStatus.WAITLISTED)
        .order_by(Enrolment.enrolled_at, Enrolment.id)
    ).all()
    for enrolment in waiting:
        if not take_seat(cohort):
            break
        enrolment.status = EnrolmentStatus.ACTIVE
        audit.record(None, "enrolment.promoted", enrolment, after={"cohort_id": cohort.id})
        promoted.append(enrolment)
    return promoted
