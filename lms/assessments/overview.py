"""An assignment at a glance, for admins: hand-in, marking by state, marker load, outcomes, turnaround.

Every figure is counted in the database, so the overview makes the same few queries whether
an assignment has two submissions or forty thousand.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select

from lms.accounts.models import User
from lms.assessments.models import (
    Assignment,
    Mark,
    MarkingState,
    Outcome,
    Submission,
    SubmissionStatus,
    course_assessors,
)
from lms.courses.models import Enrolment, EnrolmentStatus
from lms.database import utcnow
from lms.errors import NotAllowed
from lms.extensions import db
from lms.permissions import is_admin

#: Not finished by the marker yet: what "still to mark" and "overdue" count.
TO_MARK = (MarkingState.NOT_MARKED, MarkingState.IN_MARKING)
#: The percentiles of the turnaround, as fractions ``numerator / denominator`` so that the
#: database can find their ranks with integer arithmetic alone.
PERCENTILES = {"median": (1, 2), "p90": (9, 10)}


@dataclass
class MarkerLoad:
    """One assessor's share of the assignment."""

    user_id: int
    name: str
    #: ``False`` for someone who still holds work but has left the course's pool.
    is_in_pool: bool
    allocated: int = 0
    to_mark: int = 0
    overdue: int = 0
    marked: int = 0
    to_moderate: int = 0


@dataclass(frozen=True)
class Turnaround:
    """Time from submission to release over the released attempts (``None`` when nothing is released)."""

    count: int
    median: dt.timedelta | None = None
    p90: dt.timedelta | None = None


@dataclass(frozen=True)
class Overview:
    """The figures of one assignment's overview."""

    assignment: Assignment
    #: Active enrolments on the course.
    enrolled: int
    #: Active enrolments with no submitted attempt; of those, how many have a draft started.
    not_submitted: int
    drafting: int
    #: Submitted attempts (a referred trainee's resubmission counts again), and the trainees behind them.
    submitted: int
    trainees_submitted: int
    late: int
    unallocated: int
    #: Still to mark and past the marking due date.
    overdue: int
    #: In moderation with nobody chosen to moderate.
    awaiting_moderator: int
    by_state: dict[MarkingState, int]
    markers: list[MarkerLoad]
    #: Outcomes of the released marks, and of every finished mark (released or not).
    released_outcomes: dict[Outcome, int]
    finished_outcomes: dict[Outcome, int]
    turnaround: Turnaround

    @property
    def to_release(self) -> int:
        """Marked (and moderated where sampled), waiting to be released."""
        return sum(self.by_state[s] for s in MarkingState if s.is_releasable)


def overview_of(actor, assignment: Assignment, now: dt.datetime | None = None) -> Overview:
    """The overview of ``assignment``: six queries at most, whatever its size.

    :raises NotAllowed: the actor is not an admin.
    """
    if not is_admin(actor):
        raise NotAllowed("Only administrators see an assignment's overview.")
    now = now or utcnow()
    groups = _submission_groups(assignment, now)
    by_state = dict.fromkeys(MarkingState, 0)
    loads: dict[int, MarkerLoad] = {}
    late = unallocated = overdue = 0
    for marker_id, state, is_late, is_overdue, count in groups:
        by_state[state] += count
        late += count if is_late else 0
        overdue += count if is_overdue else 0
        if marker_id is None:
            unallocated += count
            continue
        load = loads.setdefault(marker_id, MarkerLoad(marker_id, "", False))
        load.allocated += count
        load.overdue += count if is_overdue else 0
        if state in TO_MARK:
            load.to_mark += count
        else:
            load.marked += count
    moderating = _moderation_groups(assignment)
    awaiting_moderator = moderating.pop(None, 0)
    for moderator_id, count in moderating.items():
        loads.setdefault(moderator_id, MarkerLoad(moderator_id, "", False)).to_moderate = count
    markers = _name_markers(assignment, loads)
    enrolled, not_submitted, drafting, trainees = _hand_in(assignment)
    released, finished = _outcomes(assignment)
    return Overview(
        assignment=assignment,
        enrolled=enrolled,
        not_submitted=not_submitted,
        drafting=drafting,
        submitted=sum(by_state.values()),
        trainees_submitted=trainees,
        late=late,
        unallocated=unallocated,
        overdue=overdue,
        awaiting_moderator=awaiting_moderator,
        by_state=by_state,
        markers=markers,
        released_outcomes=released,
        finished_outcomes=finished,
        turnaround=turnaround(assignment, by_state[MarkingState.RELEASED]),
    )


def _of_assignment(assignment: Assignment):
    return and_(Submission.assignment_id == assignment.id, Submission.status == SubmissionStatus.SUBMITTED)


def _submission_groups(assignment: Assignment, now: dt.datetime) -> list[tuple]:
    """Submitted attempts counted by marker, state, lateness and overdue marking: one query."""
    is_overdue = case(
        (and_(Submission.state.in_(TO_MARK), Submission.marking_due_at < now), True), else_=False
    ).label("is_overdue")
    statement = (
        select(Submission.marker_id, Submission.state, Submission.is_late, is_overdue, func.count())
        .where(_of_assignment(assignment))
        .group_by(Submission.marker_id, Submission.state, Submission.is_late, is_overdue)
    )
    return [tuple(row) for row in db.session.execute(statement).all()]


def _moderation_groups(assignment: Assignment) -> dict[int | None, int]:
    """Marks waiting in moderation, by moderator (``None``: nobody chosen yet): one query."""
    statement = (
        select(Submission.moderator_id, func.count())
        .where(_of_assignment(assignment), Submission.state == MarkingState.IN_MODERATION)
        .group_by(Submission.moderator_id)
    )
    return dict(db.session.execute(statement).all())


def _name_markers(assignment: Assignment, loads: dict[int, MarkerLoad]) -> list[MarkerLoad]:
    """Everyone in the course's pool, and anyone outside it who holds work, by name: one query."""
    in_pool = course_assessors.c.user_id.is_not(None)
    statement = (
        select(User.id, User.name, in_pool)
        .outerjoin(
            course_assessors,
            and_(
                course_assessors.c.user_id == User.id,
                course_assessors.c.course_id == assignment.course_id,
            ),
        )
        .where(or_(in_pool, User.id.in_(list(loads))))
        .order_by(User.name, User.id)
    )
    markers = []
    for user_id, name, is_in_pool in db.session.execute(statement).all():
        load = loads.get(user_id) or MarkerLoad(user_id, name, bool(is_in_pool))
        load.name, load.is_in_pool = name, bool(is_in_pool)
        markers.append(load)
    return markers


def _hand_in(assignment: Assignment) -> tuple[int, int, int, int]:
    """Active enrolments; those with no submitted attempt; of those, with a draft; trainees who submitted."""

    def attempt_exists(status: SubmissionStatus):
        return (
            select(Submission.id)
            .where(
                Submission.assignment_id == assignment.id,
                Submission.user_id == Enrolment.user_id,
                Submission.status == status,
            )
            .exists()
        )

    submitted, drafted = attempt_exists(SubmissionStatus.SUBMITTED), attempt_exists(SubmissionStatus.DRAFT)
    trainees = (
        select(func.count(func.distinct(Submission.user_id)))
        .where(_of_assignment(assignment))
        .scalar_subquery()
    )
    statement = select(
        func.count(),
        func.coalesce(func.sum(case((submitted, 0), else_=1)), 0),
        func.coalesce(func.sum(case((submitted, 0), (drafted, 1), else_=0)), 0),
        trainees,
    ).where(Enrolment.course_id == assignment.course_id, Enrolment.status == EnrolmentStatus.ACTIVE)
    enrolled, not_submitted, drafting, submitters = db.session.execute(statement).one()
    return int(enrolled), int(not_submitted), int(drafting), int(submitters or 0)


def _outcomes(assignment: Assignment) -> tuple[dict[Outcome, int], dict[Outcome, int]]:
    """Outcomes of the released marks and of all finished marks: one query."""
    statement = (
        select(Mark.outcome, Submission.state, func.count())
        .join(Submission, Submission.id == Mark.submission_id)
        .where(_of_assignment(assignment), Mark.completed_at.is_not(None), Mark.outcome.is_not(None))
        .group_by(Mark.outcome, Submission.state)
    )
    released, finished = dict.fromkeys(Outcome, 0), dict.fromkeys(Outcome, 0)
    for outcome, state, count in db.session.execute(statement).all():
        finished[outcome] += count
        if state == MarkingState.RELEASED:
            released[outcome] += count
    return released, finished


def _seconds_to_release():
    """Seconds from submission to release, in the database's own date arithmetic."""
    if db.session.get_bind().dialect.name == "sqlite":
        return (func.julianday(Submission.released_at) - func.julianday(Submission.submitted_at)) * 86400
    return func.extract("epoch", Submission.released_at - Submission.submitted_at)


def turnaround(assignment: Assignment, released: int) -> Turnaround:
    """The median and 90th percentile of the time to release, interpolated as ``percentile_cont``.

    The database ranks the durations and returns only the (at most four) rows either side of
    each percentile: one query, whatever the number of released attempts; none if nothing is
    released.
    """
    if not released:
        return Turnaround(0)
    seconds = _seconds_to_release()
    ranked = (
        select(
            seconds.label("seconds"),
            (func.row_number().over(order_by=seconds) - 1).label("rank"),
            func.count().over().label("n"),
        )
        .where(
            _of_assignment(assignment),
            Submission.state == MarkingState.RELEASED,
            Submission.released_at.is_not(None),
            Submission.submitted_at.is_not(None),
        )
        .subquery()
    )
    # The rank below each percentile, floor((n - 1) * p), by integer division.
    below = [(ranked.c.n - 1) * numerator // denominator for numerator, denominator in PERCENTILES.values()]
    near = [ranked.c.rank.between(rank, rank + 1) for rank in below]
    rows = db.session.execute(select(ranked.c.rank, ranked.c.seconds, ranked.c.n).where(or_(*near))).all()
    if not rows:
        return Turnaround(0)
    values = {int(rank): float(value) for rank, value, _n in rows}
    count = int(rows[0][2])
    found = {}
    for name, (numerator, denominator) in PERCENTILES.items():
        position = (count - 1) * numerator / denominator
        below = math.floor(position)
        above = values.get(below + 1, values[below])
        found[name] = dt.timedelta(seconds=values[below] + (position - below) * (above - values[below]))
    return Turnaround(count, found["median"], found["p90"])


def days_and_hours(value: dt.timedelta | None) -> str:
    """``2 days 5 hours``, to the nearest hour; ``less than an hour`` below half an hour."""
    if value is None:
        return ""
    hours = round(value.total_seconds() / 3600)
    if hours < 1:
        return "less than an hour"
    days, hours = divmod(hours, 24)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    return " ".join(parts)
