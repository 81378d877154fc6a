"""Enrolment: who may enrol whom, enrolling, seeing enrolments, opening modules, withdrawing."""

from __future__ import annotations

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from lms import audit
from lms.accounts.models import User
from lms.courses.catalogue import get_course, missing_prerequisites
from lms.courses.cohorts import open_cohorts, promote_waiting_list, release_seat, take_seat
from lms.courses.content import get_module
from lms.courses.models import Cohort, Course, Enrolment, EnrolmentStatus, Module
from lms.courses.progress import check_completion
from lms.database import today, utcnow
from lms.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.organisations.scope import managed_people, manages
from lms.permissions import is_admin


def can_enrol_others(actor, user) -> bool:
    """Admins enrol anyone; org managers enrol their own organisation's staff."""
    return is_admin(actor) or manages(actor, user)


def enrolment_subjects(
    actor, course_id: int, cohort_id: int | None = None, user_id: int | None = None
) -> tuple:
    """The person, course and cohort an enrolment request names by id: ``(user, course, cohort)``.

    No ``user_id`` (or the actor's own) means the actor. The course must be one the actor may
    see, and the cohort one of its cohorts.

    :raises InvalidInput: no such course or cohort; for admins, no one with ``user_id``.
    :raises NotAllowed: another person the actor may not enrol, whether or not anyone has the
        id, so that ids reveal nothing.
    """
    try:
        course = get_course(actor, course_id)
    except NotFound:
        raise InvalidInput.for_field("course_id", "No course has this id.") from None
    cohort = None
    if cohort_id is not None:
        cohort = db.session.get(Cohort, cohort_id)
        if cohort is None or cohort.course_id != course.id:
            raise InvalidInput.for_field("cohort_id", "This course has no cohort with this id.")
    if user_id is None or user_id == actor.id:
        return actor, course, cohort
    person = db.session.get(User, user_id)
    if person is None and is_admin(actor):
        raise InvalidInput.for_field("user_id", "No one has this id.")
    if person is None or not can_enrol_others(actor, person):
        raise NotAllowed("You may only enrol members of your own organisation.")
    return person, course, cohort


def enrol(actor, user, course: Course, cohort: Cohort | None = None) -> Enrolment:
    """Enrol ``user`` on ``course`` (in ``cohort``), by themselves or by someone allowed to.

    A full cohort with a waiting list puts the person on it. A withdrawn or lapsed
    enrolment is taken up again, with its progress.

    :raises NotAllowed: the actor may not enrol this person, or self-enrolment is closed.
    :raises InvalidInput: a missing prerequisite, or a cohort that is not open.
    :raises Conflict: already enrolled, or the cohort is full with no waiting list.
    """
    # Enrolling oneself follows the self-enrolment rules even for an org manager who is also a
    # trainee; only admins may bypass them.
    is_self = actor is not None and actor.id == user.id and not is_admin(actor)
    if is_self:
        if not course.is_published:
            raise NotFound("No such course.")
        if not course.is_self_enrol:
            raise NotAllowed(
                "This course is not open for self-enrolment. Ask your organisation manager to enrol you."
            )
    elif not can_enrol_others(actor, user):
        raise NotAllowed("You may only enrol members of your own organisation.")
    if not course.is_published:
        raise InvalidInput.for_field("course_id", "Only published courses take enrolments.")
    if not user.is_active:
        raise InvalidInput.for_field("user_id", "This account is deactivated.")

    missing = missing_prerequisites(user, course)
    if missing:
        names = ", ".join(f"{c.title} ({c.code})" for c in missing)
        raise InvalidInput.for_field("course_id", f"Complete {names} before enrolling on {course.title}.")

    if cohort is not None:
        if cohort.course_id != course.id:
            raise InvalidInput.for_field("cohort_id", "That cohort belongs to another course.")
        if not cohort.is_open_on(today()) and is_self:
            raise InvalidInput.for_field("cohort_id", f"Enrolment for {cohort.name} is not open.")
    elif is_self and _has_cohorts(course):
        if open_cohorts(course):
            raise InvalidInput.for_field("cohort_id", "Choose a cohort (a date) to enrol into.")
        raise InvalidInput.for_field(
            "cohort_id", "No cohort of this course is taking enrolments at the moment."
        )

    enrolment = db.session.scalar(
        select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.course_id == course.id)
    )
    if enrolment is not None and enrolment.status == EnrolmentStatus.NOT_COMPLETED:
        who = "You" if is_self else user.name
        raise Conflict(
            f"{who} did not complete {course.title}: a requirement can no longer be met. "
            "The programme team decides what happens next."
        )
    if enrolment is not None and not enrolment.status.is_ended:
        who = "You are" if is_self else f"{user.name} is"
        raise Conflict(f"{who} already enrolled on {course.title} ({enrolment.status.label.lower()}).")

    status = EnrolmentStatus.ACTIVE
    if cohort is not None and not take_seat(cohort):
        if not cohort.has_waiting_list:
            raise Conflict(f"{cohort.name} is full.")
        status = EnrolmentStatus.WAITLISTED

    is_new = enrolment is None
    if is_new:
        enrolment = Enrolment(user_id=user.id, course=course)
    enrolment.cohort = cohort
    enrolment.status = status
    enrolment.enrolled_at = utcnow()
    enrolment.enrolled_by_id = actor.id if actor is not None else None
    enrolment.withdrawn_at = None
    try:
        # Insert inside a savepoint: a concurrent enrolment of the same person hits the
        # unique constraint here and becomes a clean Conflict.
        with db.session.begin_nested():
            db.session.add(enrolment)
            db.session.flush()
    except IntegrityError as error:
        raise Conflict(f"{user.name} is already enrolled on {course.title}.") from error
    audit.record(
        actor,
        "enrolment.created" if is_new else "enrolment.resumed",
        enrolment,
        after={
            "user_id": user.id,
            "course_id": course.id,
            "cohort_id": cohort.id if cohort else None,
            "status": str(status),
        },
    )
    if status == EnrolmentStatus.ACTIVE:
        check_completion(enrolment, actor)
    return enrolment


def _has_cohorts(course: Course) -> bool:
    return bool(
        db.session.scalar(select(func.count()).select_from(Cohort).where(Cohort.course_id == course.id))
    )


def get_enrolment_for(actor, enrolment_id: int) -> Enrolment:
    """An enrolment the actor may see: their own; any for admins; their staff's for org managers.

    :raises NotFound: otherwise, so that ids reveal nothing.
    """
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or not can_see_enrolment(actor, enrolment):
        raise NotFound("No such enrolment.")
    return enrolment


def can_see_enrolment(actor, enrolment: Enrolment) -> bool:
    """Whether ``actor`` may see ``enrolment``."""
    return enrolment.user_id == actor.id or can_enrol_others(actor, enrolment.user)


def visible_enrolments_query(
    actor,
    *,
    user_id: int | None = None,
    course_id: int | None = None,
    status: EnrolmentStatus | None = None,
    everyone: bool = False,
):
    """Enrolments the actor may see (the rule of :func:`can_see_enrolment`, in SQL), newest first.

    Only the actor's own unless ``user_id`` names someone else or ``everyone`` asks for all
    the actor may see: every enrolment for admins, their organisation's people's for org
    managers. Someone the actor may not see gives an empty list, not an error.
    """
    query = (
        select(Enrolment)
        .join(Enrolment.user)
        .options(contains_eager(Enrolment.user))
        .order_by(Enrolment.enrolled_at.desc(), Enrolment.id.desc())
    )
    if user_id is None and not everyone:
        user_id = actor.id
    if user_id is not None:
        query = query.where(Enrolment.user_id == user_id)
    if not is_admin(actor):
        visible = Enrolment.user_id == actor.id
        staff = managed_people(actor)
        query = query.where(visible if staff is None else or_(visible, staff))
    if course_id is not None:
        query = query.where(Enrolment.course_id == course_id)
    if status is not None:
        query = query.where(Enrolment.status == status)
    return query


def own_enrolment(user, course: Course) -> Enrolment | None:
    """The user's enrolment on a course, if any."""
    return db.session.scalar(
        select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.course_id == course.id)
    )


def has_cohorts(course: Course) -> bool:
    """Whether the course is run in cohorts (then trainees enrol into one)."""
    return _has_cohorts(course)


def get_module_for(actor, course: Course, module_id: int) -> tuple[Module, Enrolment | None]:
    """A live module of ``course`` the actor may study, with the enrolment that records progress.

    The enrolment is ``None`` when an admin who is not studying the course previews it.

    :raises NotFound: no such module, or the actor is not enrolled on the course.
    :raises Conflict: the actor is on the waiting list, or their enrolment has ended.
    """
    module = get_module(course, module_id)
    enrolment = own_enrolment(actor, course)
    if enrolment is not None and enrolment.is_current:
        return module, enrolment
    if is_admin(actor):
        return module, None
    if enrolment is None:
        raise NotFound("No such module for you: enrol on the course to open its modules.")
    if enrolment.status == EnrolmentStatus.WAITLISTED:
        raise Conflict("You are on the waiting list for this course; its modules open once you have a place.")
    raise Conflict(f"Your enrolment on {course.title} has ended; enrol again to open its modules.")


def can_open_modules(actor, course: Course) -> bool:
    """Whether the actor may open the modules of ``course`` (as :func:`get_module_for` allows)."""
    if is_admin(actor):
        return True
    enrolment = own_enrolment(actor, course)
    return enrolment is not None and enrolment.is_current


def record_lapse(enrolment: Enrolment, before: EnrolmentStatus, days: int) -> None:
    """Audit a lapse (the ``lapse_enrolments`` job set the status) and give back its place.

    The cohort is over, so nobody on its waiting list is given the place.
    """
    audit.record(
        None,
        "enrolment.lapsed",
        enrolment,
        before={"status": str(before)},
        after={"status": "lapsed", "rule": f"cohort ended and no activity for {days} days"},
    )
    if before == EnrolmentStatus.ACTIVE and enrolment.cohort is not None:
        release_seat(enrolment.cohort)


def end_not_completed(actor, enrolment: Enrolment, reason: str) -> bool:
    """End an active enrolment as not completed (another area's requirement can no longer be met).

    The place is given back; the progress and history are kept. Returns whether it changed
    (a conditional update: two callers cannot both end it).
    """
    result = db.session.execute(
        update(Enrolment)
        .where(Enrolment.id == enrolment.id, Enrolment.status == EnrolmentStatus.ACTIVE)
        .values(status=EnrolmentStatus.NOT_COMPLETED, withdrawn_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.expire(enrolment, ["status", "withdrawn_at"])
    if result.rowcount != 1:
        return False
    audit.record(
        actor,
        "enrolment.not_completed",
        enrolment,
        before={"status": "active"},
        after={"status": "not_completed", "reason": reason[:500]},
    )
    if enrolment.cohort is not None:
        release_seat(enrolment.cohort)
        promote_waiting_list(enrolment.cohort)
    return True


def withdraw(actor, enrolment: Enrolment, reason: str = "") -> None:
    """Withdraw from a course; the enrolment, its progress and history are kept.

    :raises NotAllowed: the actor may not withdraw this enrolment.
    :raises Conflict: it is completed or already withdrawn.
    """
    if not can_see_enrolment(actor, enrolment):
        raise NotFound("No such enrolment.")
    if enrolment.status == EnrolmentStatus.COMPLETED:
        raise Conflict("This course is completed; a completed enrolment cannot be withdrawn.")
    if enrolment.status.is_ended or enrolment.status == EnrolmentStatus.NOT_COMPLETED:
        raise Conflict("This enrolment has already ended.")
    held_seat = enrolment.status == EnrolmentStatus.ACTIVE
    before = str(enrolment.status)
    enrolment.status = EnrolmentStatus.WITHDRAWN
    enrolment.withdrawn_at = utcnow()
    audit.record(
        actor,
        "enrolment.withdrawn",
        enrolment,
        before={"status": before},
        after={"status": "withdrawn", "reason": reason[:500]},
    )
    if held_seat and enrolment.cohort is not None:
        release_seat(enrolment.cohort)
        promote_waiting_list(enrolment.cohort)
