"""Progress reports for admins and organisation managers: who is enrolled, how far, who completed.

Admins see every organisation's people (or one, when they pick it). An org manager sees
only the people of their own organisation, whatever the URL or filter asks for: the
:class:`Scope` built by :func:`scope_for` is applied to every query here. Each report
runs a fixed number of queries, whatever the number of enrolments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import contains_eager

from lms.accounts.models import User
from lms.accounts.services import search_people
from lms.courses.models import Cohort, Course, CourseStatus, Enrolment, EnrolmentStatus
from lms.courses.progress import EnrolmentSummary, summarise
from lms.database import today
from lms.errors import NotFound
from lms.extensions import db
from lms.organisations.models import Organisation
from lms.organisations.scope import Scope
from lms.organisations.scope import scope_for as organisation_scope
from lms.pagination import Page, paginate
from lms.permissions import is_admin

#: Rows per page of the progress and staff lists.
PER_PAGE = 50
#: Enrolments read per query while streaming a CSV export.
EXPORT_BATCH = 500
#: Order in which statuses are listed.
STATUS_ORDER = (
    EnrolmentStatus.ACTIVE,
    EnrolmentStatus.WAITLISTED,
    EnrolmentStatus.COMPLETED,
    EnrolmentStatus.WITHDRAWN,
    EnrolmentStatus.LAPSED,
    EnrolmentStatus.NOT_COMPLETED,
)


# --- who may see whom ------------------------------------------------------------------


def scope_for(actor, organisation_id: int | None = None) -> Scope:
    """The people ``actor`` may see in reports (see :func:`lms.organisations.scope.scope_for`).

    :raises NotAllowed: the actor is neither an admin nor an org manager.
    :raises NotFound: an admin asked for an organisation that does not exist.
    """
    return organisation_scope(
        actor, organisation_id, refusal="Only administrators and organisation managers see progress reports."
    )


def get_course_for_report(actor, course_id: int) -> Course:
    """A course whose progress the actor may see (see :func:`may_report_on`).

    :raises NotFound: no such course, or a draft that none of the actor's people are enrolled on.
    """
    course = db.session.get(Course, course_id)
    if course is None or not may_report_on(actor, course):
        raise NotFound("No such course.")
    return course


def get_cohort_for_report(actor, cohort_id: int) -> Cohort:
    """A cohort whose progress the actor may see (its course must be one, see :func:`may_report_on`).

    :raises NotFound:
    """
    cohort = db.session.get(Cohort, cohort_id)
    if cohort is None or not may_report_on(actor, cohort.course):
        raise NotFound("No such cohort.")
    return cohort


def may_report_on(actor, course: Course) -> bool:
    """Whether the actor may follow progress on ``course``.

    Admins report on every course. Org managers report on published and archived courses,
    and on a draft only when some of their own staff are (or were) enrolled on it: a course
    an admin sets back to draft keeps its learners, and their manager still follows them.
    """
    if course.status != CourseStatus.DRAFT or is_admin(actor):
        return True
    staff_enrolment = scope_for(actor).apply(
        select(Enrolment.id).join(User, User.id == Enrolment.user_id).where(Enrolment.course_id == course.id)
    )
    return db.session.scalar(staff_enrolment.limit(1)) is not None


def organisations_to_pick(actor) -> list[Organisation]:
    """Organisations an admin can narrow a report to; none for org managers (one query)."""
    if not is_admin(actor):
        return []
    return list(db.session.scalars(select(Organisation).order_by(Organisation.name)))


# --- completion rate and chart data ----------------------------------------------------


@dataclass(frozen=True)
class CompletionRate:
    """How many of the people who took a place (active, completed, withdrawn, lapsed) completed."""

    completed: int
    took_place: int

    @property
    def percent(self) -> int | None:
        """Whole percent, never rounded up to 100 or down to 0 unless it really is; ``None`` if nobody."""
        if not self.took_place:
            return None
        value = round(100 * self.completed / self.took_place)
        if self.completed < self.took_place:
            value = min(value, 99)
        if self.completed > 0:
            value = max(value, 1)
        return value


def completion_rate(scope: Scope, course: Course, cohort: Cohort | None = None) -> CompletionRate:
    """The completion rate of a course or cohort over the people in ``scope`` (one query)."""
    if scope.is_empty:
        return CompletionRate(0, 0)
    completed, took_place = completion_counts(
        course.id, cohort.id if cohort else None, organisation_id=scope.organisation_id
    )
    return CompletionRate(completed, took_place)


def completions_by_month(
    scope: Scope, course: Course, cohort: Cohort | None = None
) -> list[tuple[dt.date, int]]:
    """Completions per month over the last 12 months for the people in ``scope`` (one query)."""
    if scope.is_empty:
        return [(month, 0) for month, _count in completions_per_month(course.id)]
    return completions_per_month(
        course.id, cohort.id if cohort else None, organisation_id=scope.organisation_id
    )


def status_counts(scope: Scope, course: Course, cohort: Cohort | None = None) -> dict[EnrolmentStatus, int]:
    """How many enrolments of each status, in ``scope`` (one query)."""
    query = (
        select(Enrolment.status, func.count(Enrolment.id))
        .join(User, User.id == Enrolment.user_id)
        .where(Enrolment.course_id == course.id)
        .group_by(Enrolment.status)
    )
    if cohort is not None:
        query = query.where(Enrolment.cohort_id == cohort.id)
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for status, count in db.session.execute(scope.apply(query)):
        counts[EnrolmentStatus(status)] = count
    return counts


# --- progress lists ----------------------------------------------------------------------


def enrolments_query(
    scope: Scope, course: Course, cohort: Cohort | None = None, status: EnrolmentStatus | None = None
) -> Select:
    """Enrolments on a course (or cohort) of the people in ``scope``, by name."""
    query = (
        select(Enrolment)
        .join(Enrolment.user)
        .options(contains_eager(Enrolment.user))
        .where(Enrolment.course_id == course.id)
        .order_by(User.name, Enrolment.id)
    )
    if cohort is not None:
        query = query.where(Enrolment.cohort_id == cohort.id)
    if status is not None:
        query = query.where(Enrolment.status == status)
    return scope.apply(query)


@dataclass
class ProgressReport:
    """A course's or cohort's progress page: the rate, the chart, the counts and one page of people."""

    course: Course
    cohort: Cohort | None
    scope: Scope
    status: EnrolmentStatus | None
    rate: CompletionRate
    months: list[tuple[dt.date, int]]
    counts: dict[EnrolmentStatus, int]
    page: Page

    @property
    def total(self) -> int:
        """Everyone enrolled in scope, on the waiting list included."""
        return sum(self.counts.values())


def progress_report(
    actor,
    course: Course,
    cohort: Cohort | None = None,
    *,
    status: EnrolmentStatus | None = None,
    organisation_id: int | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> ProgressReport:
    """Progress of the people the actor may see on a course or cohort, in a fixed number of queries.

    :raises NotAllowed: the actor is neither an admin nor an org manager.
    """
    scope = scope_for(actor, organisation_id)
    result = paginate(enrolments_query(scope, course, cohort, status), page, per_page)
    result.items = summarise(result.items)
    return ProgressReport(
        course=course,
        cohort=cohort,
        scope=scope,
        status=status,
        rate=completion_rate(scope, course, cohort),
        months=completions_by_month(scope, course, cohort),
        counts=status_counts(scope, course, cohort),
        page=result,
    )


# --- staff overview ----------------------------------------------------------------------


@dataclass
class StaffMember:
    """One person of an organisation with their enrolments and progress."""

    user: User
    enrolments: list[EnrolmentSummary] = field(default_factory=list)


def staff_overview(scope: Scope, *, q: str = "", page: int = 1, per_page: int = PER_PAGE) -> Page | None:
    """One page of an organisation's people with their enrolments; ``None`` when the scope is everyone.

    Five queries whatever the number of people or enrolments: count, page, roles, enrolments
    and progress (two).
    """
    if scope.organisation_id is None and not scope.is_empty:
        return None
    query = select(User).order_by(User.name, User.id)
    query = scope.apply(query)
    query = search_people(query, q)
    result = paginate(query, page, per_page)
    members = {user.id: StaffMember(user) for user in result.items}
    if members:
        enrolments = db.session.scalars(
            select(Enrolment)
            .join(Enrolment.course)
            .options(contains_eager(Enrolment.course))
            .where(Enrolment.user_id.in_(members))
            .order_by(Course.title, Enrolment.id)
        ).all()
        for summary in summarise(list(enrolments)):
            members[summary.enrolment.user_id].enrolments.append(summary)
    result.items = list(members.values())
    return result


# --- courses overview --------------------------------------------------------------------


@dataclass
class CourseLine:
    """A course with its enrolment counts for the people in scope."""

    course: Course
    counts: dict[EnrolmentStatus, int]

    @property
    def rate(self) -> CompletionRate:
        """Completed out of those who took a place."""
        took = sum(n for s, n in self.counts.items() if s != EnrolmentStatus.WAITLISTED)
        return CompletionRate(self.counts[EnrolmentStatus.COMPLETED], took)

    @property
    def total(self) -> int:
        """Everyone enrolled, on the waiting list included."""
        return sum(self.counts.values())

    @property
    def waitlisted(self) -> int:
        """People on the waiting list."""
        return self.counts[EnrolmentStatus.WAITLISTED]


def courses_overview(actor, scope: Scope, *, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Courses the actor can report on, with counts for ``scope``: four queries a page.

    Admins get every course; org managers get published courses and any other course (archived,
    or set back to draft) their staff were enrolled on: such a course keeps its history, and
    :func:`may_report_on` lets them open its progress page.
    """
    query = select(Course).order_by(Course.title, Course.id)
    if not is_admin(actor):
        staff_courses = scope.apply(select(Enrolment.course_id).join(User, User.id == Enrolment.user_id))
        query = query.where(or_(Course.status == CourseStatus.PUBLISHED, Course.id.in_(staff_courses)))
    result = paginate(query, page, per_page)
    counts = {course.id: dict.fromkeys(STATUS_ORDER, 0) for course in result.items}
    if counts:
        grouped = (
            select(Enrolment.course_id, Enrolment.status, func.count(Enrolment.id))
            .join(User, User.id == Enrolment.user_id)
            .where(Enrolment.course_id.in_(counts))
            .group_by(Enrolment.course_id, Enrolment.status)
        )
        for course_id, status, count in db.session.execute(scope.apply(grouped)):
            counts[course_id][EnrolmentStatus(status)] = count
    result.items = [CourseLine(course, counts[course.id]) for course in result.items]
    return result


# --- CSV export --------------------------------------------------------------------------


PROGRESS_COLUMNS = (
    "Name",
    "Email",
    "Organisation",
    "Cohort",
    "Status",
    "Percent complete",
    "Completed on",
    "Last activity (UTC)",
)


def _iso(value: dt.datetime | None, date_only: bool = False) -> str:
    if value is None:
        return ""
    return value.date().isoformat() if date_only else value.strftime("%Y-%m-%d %H:%M")


def progress_rows(
    actor,
    course: Course,
    cohort: Cohort | None = None,
    *,
    status: EnrolmentStatus | None = None,
    organisation_id: int | None = None,
    reading: Callable[[], AbstractContextManager] = nullcontext,
) -> Iterator[list[object]]:
    """The header and every row of a progress list, read in batches (keyset on name, then id).

    Who may see what is settled before the first row, so the rows can be read after the
    request has ended: each batch is read inside ``reading()`` (e.g. an application context
    of its own) and the rows are handed out after it closes.

    :raises NotAllowed: the actor is neither an admin nor an org manager.
    """
    scope = scope_for(actor, organisation_id)
    base = enrolments_query(scope, course, cohort, status)

    def batch_after(last: tuple[str, int] | None) -> tuple[list[list[object]], tuple[str, int] | None]:
        query = base
        if last is not None:
            query = query.where(or_(User.name > last[0], and_(User.name == last[0], Enrolment.id > last[1])))
        enrolments = list(db.session.scalars(query.limit(EXPORT_BATCH)).unique())
        if not enrolments:
            return [], None
        rows = []
        for summary in summarise(enrolments):
            enrolment = summary.enrolment
            user = enrolment.user
            rows.append(
                [
                    user.name,
                    user.email,
                    user.organisation.name if user.organisation else "",
                    enrolment.cohort.name if enrolment.cohort else "",
                    enrolment.status.label,
                    summary.percent,
                    _iso(enrolment.completed_at, date_only=True),
                    _iso(enrolment.last_activity_at),
                ]
            )
        return rows, (enrolments[-1].user.name, enrolments[-1].id)

    def rows() -> Iterator[list[object]]:
        yield list(PROGRESS_COLUMNS)
        last = None
        while True:
            with reading():
                batch, last = batch_after(last)
            if not batch:
                return
            yield from batch

    return rows()


# --- counts in the database ------------------------------------------------------------


def _report_scope(query, course_id: int, cohort_id: int | None, organisation_id: int | None):
    """Restrict a report query to a course, optionally a cohort and the staff of one organisation."""
    query = query.where(Enrolment.course_id == course_id)
    if cohort_id is not None:
        query = query.where(Enrolment.cohort_id == cohort_id)
    if organisation_id is not None:
        query = query.join(User, User.id == Enrolment.user_id).where(User.organisation_id == organisation_id)
    return query


def completion_counts(
    course_id: int, cohort_id: int | None = None, *, organisation_id: int | None = None
) -> tuple[int, int]:
    """``(completed, enrolled)`` counting everyone who took a place (not the waiting list).

    ``organisation_id`` counts only the staff of that organisation (an org manager's view).
    """
    query = select(
        func.count(Enrolment.id).filter(Enrolment.status == EnrolmentStatus.COMPLETED),
        func.count(Enrolment.id).filter(Enrolment.status != EnrolmentStatus.WAITLISTED),
    ).select_from(Enrolment)
    query = _report_scope(query, course_id, cohort_id, organisation_id)
    completed, enrolled = db.session.execute(query).one()
    return completed or 0, enrolled or 0


def completions_per_month(
    course_id: int, cohort_id: int | None = None, months: int = 12, *, organisation_id: int | None = None
) -> list[tuple[dt.date, int]]:
    """Completions per calendar month (UTC) for the last ``months`` months, oldest first.

    Counted in the database, one filtered count per month, in one query.
    """
    end = today().replace(day=1)
    starts = []
    year, month = end.year, end.month
    for _ in range(months):
        starts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    starts.reverse()
    following = dt.date(end.year + end.month // 12, end.month % 12 + 1, 1)
    bounds = [dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) for day in [*starts, following]]
    query = select(
        *(
            func.count(Enrolment.id).filter(
                Enrolment.completed_at >= bounds[i], Enrolment.completed_at < bounds[i + 1]
            )
            for i in range(months)
        )
    ).select_from(Enrolment)
    query = _report_scope(query, course_id, cohort_id, organisation_id).where(
        Enrolment.completed_at >= bounds[0], Enrolment.completed_at < bounds[-1]
    )
    counts = db.session.execute(query).one()
    return [(start, count or 0) for start, count in zip(starts, counts, strict=True)]
