"""The enrolments part of ``flask --app lms generate``: who is on which course, and how far they got.

Also the read-back of the courses step's tables (:func:`read_catalogue`) and the plan of an
enrolment (:class:`Plan`), which the progress step (:mod:`lms.demo.generate_progress`) uses too.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import select

from lms.accounts.models import User, UserRole
from lms.courses.models import Cohort, Course, Enrolment, EnrolmentStatus, Module, course_prerequisites
from lms.demo.generate_courses import nine_am
from lms.demo.generation import GenerationContext
from lms.permissions import Role

DAY = dt.timedelta(days=1)


@dataclass(slots=True)
class Plan:
    """One generated enrolment before it becomes rows."""

    user_id: int
    course_id: int
    cohort_id: int
    enrolled_at: dt.datetime
    #: When the trainee could start: the later of enrolment and the cohort's start.
    starts_at: dt.datetime
    #: The end of the cohort's completion window.
    closes_at: dt.datetime
    status: EnrolmentStatus = EnrolmentStatus.ACTIVE
    completed_at: dt.datetime | None = None
    withdrawn_at: dt.datetime | None = None
    id: int = 0
    #: Progress rows: for the first ``rows`` modules of the course, in order.
    rows: int = 0
    last_at: dt.datetime | None = None


@dataclass
class Catalogue:
    """What the enrolments and progress steps read back from the earlier steps' tables."""

    modules: dict[int, list[tuple[int, bool]]] = field(default_factory=dict)
    #: Per course: ``(cohort id, starts at, ends at, enrolment opens at)``, as datetimes.
    cohorts: dict[int, list[tuple[int, dt.datetime, dt.datetime, dt.datetime]]] = field(default_factory=dict)
    prerequisites: dict[int, list[int]] = field(default_factory=dict)
    self_enrol: dict[int, bool] = field(default_factory=dict)
    #: Per knowledge check id: passing ``(answers, score)`` pairs and one failing pair.
    checks: dict[int, tuple] = field(default_factory=dict)
    check_of_module: dict[int, int] = field(default_factory=dict)


def read_catalogue(ctx: GenerationContext, course_ids: list[int]) -> Catalogue:
    """Modules, cohorts and prerequisites of the courses (the progress step adds knowledge checks)."""
    session = ctx.session
    cat = Catalogue(
        modules={cid: [] for cid in course_ids},
        cohorts={cid: [] for cid in course_ids},
    )
    for course_id, is_self_enrol in session.execute(
        select(Course.id, Course.is_self_enrol).where(Course.id.in_(course_ids))
    ):
        cat.self_enrol[course_id] = is_self_enrol
    for module_id, course_id, is_required in session.execute(
        select(Module.id, Module.course_id, Module.is_required)
        .where(Module.course_id.in_(course_ids), Module.is_retired.is_(False))
        .order_by(Module.course_id, Module.position, Module.id)
    ):
        cat.modules[course_id].append((module_id, is_required))
    for row in session.execute(
        select(Cohort.id, Cohort.course_id, Cohort.starts_on, Cohort.ends_on, Cohort.enrolment_opens_on)
        .where(Cohort.course_id.in_(course_ids))
        .order_by(Cohort.id)
    ):
        opens_on = row.enrolment_opens_on or row.starts_on - dt.timedelta(days=42)
        cat.cohorts[row.course_id].append(
            (row.id, nine_am(row.starts_on), nine_am(row.ends_on), nine_am(opens_on))
        )
    for course_id, required_id in session.execute(select(course_prerequisites)):
        cat.prerequisites.setdefault(course_id, []).append(required_id)
    return cat


#: Completion grows with the time a trainee has had, up to this share (see ``_plan_one``).
COMPLETION_CAP = 0.6
#: Days after which the share of completions reaches ``COMPLETION_CAP``.
COMPLETION_DAYS = 600
WITHDRAWN_SHARE = 0.1


def generate_enrolments(ctx: GenerationContext) -> None:
    """Enrolments, and each cohort's places taken and capacity.

    Enrolments are mostly active, some completed, some withdrawn; completions on credit-bearing
    courses number at least ``size.credit_awards``, for the credits step. How far each trainee
    got is decided here too (``last_module_id``): the progress step fills in the rows.
    """
    course_ids = ctx.ids.get("courses.course", [])
    trainees = ctx.ids.get("users.trainee", [])
    if not course_ids or not trainees:
        return
    cat = read_catalogue(ctx, course_ids)
    plans = _plan_enrolments(ctx, cat, course_ids, trainees)
    _ensure_credited_completions(ctx, plans)
    plans.sort(key=lambda p: (p.enrolled_at, p.user_id, p.course_id))
    for plan, enrolment_id in zip(plans, ctx.allocate_ids(Enrolment.__table__, len(plans)), strict=True):
        plan.id = enrolment_id
    _plan_progress(ctx, cat, plans)
    ctx.insert(Enrolment.__table__, _enrolment_rows(ctx, cat, plans), total=len(plans))
    _count_places(ctx, cat, plans)

    credited = set(ctx.ids.get("courses.credited", []))
    for plan in plans:
        ctx.ids.setdefault("enrolments.enrolment", []).append(plan.id)
        ctx.ids.setdefault(f"enrolments.{plan.status.value}", []).append(plan.id)
        if plan.course_id in credited:
            ctx.ids.setdefault("enrolments.credited", []).append(plan.id)
            if plan.status == EnrolmentStatus.COMPLETED:
                ctx.ids.setdefault("enrolments.completed.credited", []).append(plan.id)


def _prerequisites_first(course_ids: list[int], prerequisites: dict[int, list[int]]) -> list[int]:
    """Courses ordered so that each comes after the courses it requires."""
    ordered: list[int] = []
    placed: set[int] = set()
    pending = list(course_ids)
    while pending:
        ready = [
            c for c in pending if all(r in placed or r not in course_ids for r in prerequisites.get(c, []))
        ]
        if not ready:
            raise ValueError("the generated prerequisites form a circle")
        ordered += ready
        placed.update(ready)
        pending = [c for c in pending if c not in placed]
    return ordered


def _plan_enrolments(
    ctx: GenerationContext, cat: Catalogue, course_ids: list[int], trainees: list[int]
) -> list[Plan]:
    """``size.enrolments`` distinct (trainee, course) pairs.

    A course with prerequisites only takes trainees who completed them, after they did.
    """
    size, rng = ctx.size, ctx.rng
    credited = set(ctx.ids.get("courses.credited", []))
    weight = {c: 1 if cat.prerequisites.get(c) else (3 if c in credited else 2) for c in course_ids}
    total_weight = sum(weight.values())
    plans: list[Plan] = []
    taken: dict[int, set[int]] = {c: set() for c in course_ids}
    completions: dict[int, dict[int, dt.datetime]] = {c: {} for c in course_ids}
    for course_id in _prerequisites_first(course_ids, cat.prerequisites):
        target = min(len(trainees), size.enrolments * weight[course_id] // total_weight)
        required = cat.prerequisites.get(course_id, [])
        if required:
            candidates = sorted(set.intersection(*(set(completions[r]) for r in required)))
            rng.shuffle(candidates)
        else:
            candidates = rng.sample(trainees, target)
        for user_id in candidates:
            if len(taken[course_id]) == target:
                break
            not_before = max((completions[r][user_id] for r in required), default=None)
            plan = _plan_one(ctx, cat, course_id, user_id, not_before)
            if plan is not None:
                plans.append(plan)
                taken[course_id].add(user_id)
                if plan.status == EnrolmentStatus.COMPLETED:
                    completions[course_id][user_id] = plan.completed_at
    shortfall = size.enrolments - len(plans)
    if shortfall > 0:
        # Courses with prerequisites took fewer than their share: the others take the rest.
        open_courses = [c for c in course_ids if not cat.prerequisites.get(c) and cat.cohorts[c]]
        pool = [(c, u) for c in open_courses for u in trainees if u not in taken[c]]
        if len(pool) < shortfall:
            raise ValueError(
                f"size {size.name}: not enough trainee-course pairs for {size.enrolments} enrolments"
            )
        plans += [_plan_one(ctx, cat, c, u, None) for c, u in rng.sample(pool, shortfall)]
    return plans


def _plan_one(
    ctx: GenerationContext, cat: Catalogue, course_id: int, user_id: int, not_before: dt.datetime | None
) -> Plan | None:
    """One enrolment in a cohort of the course; ``None`` if no cohort is open after ``not_before``."""
    rng, now = ctx.rng, ctx.now
    cohorts = cat.cohorts[course_id]
    if not_before is not None:
        cohorts = [c for c in cohorts if c[2] > not_before + DAY]
    if not cohorts:
        return None
    cohort_id, cohort_starts, cohort_ends, low = rng.choice(cohorts)
    closes = min(cohort_ends, now)
    if not_before is not None:
        low = max(low, not_before + DAY)
    if low >= closes:
        return None
    enrolled_at = low + (closes - low) * rng.random()
    starts_at = max(enrolled_at, cohort_starts)
    plan = Plan(user_id, course_id, cohort_id, enrolled_at, starts_at, min(now, cohort_ends + 60 * DAY))
    draw = rng.random()
    share = min(COMPLETION_CAP, max(0, (now - starts_at).days) / COMPLETION_DAYS)
    if draw < share:
        _complete(rng, plan)
    elif draw < share + WITHDRAWN_SHARE:
        plan.status = EnrolmentStatus.WITHDRAWN
        plan.withdrawn_at = enrolled_at + (now - enrolled_at) * rng.random()
    return plan


def _complete(rng, plan: Plan) -> bool:
    """Make ``plan`` completed at a time in its completion window, if it has one."""
    earliest = plan.starts_at + DAY
    if earliest >= plan.closes_at:
        return False
    plan.status = EnrolmentStatus.COMPLETED
    plan.completed_at = earliest + (plan.closes_at - earliest) * rng.random()
    return True


def _ensure_credited_completions(ctx: GenerationContext, plans: list[Plan]) -> None:
    """At least ``size.credit_awards`` completions on credit-bearing courses, for the credits step."""
    credited = set(ctx.ids.get("courses.credited", []))
    need = ctx.size.credit_awards - sum(
        1 for p in plans if p.course_id in credited and p.status == EnrolmentStatus.COMPLETED
    )
    if need <= 0 or not credited:
        return
    candidates = [
        p
        for p in plans
        if p.course_id in credited and p.status == EnrolmentStatus.ACTIVE and p.starts_at + DAY < p.closes_at
    ]
    if len(candidates) < need:
        raise ValueError(f"size {ctx.size.name}: too few enrolments on credit-bearing courses to complete")
    for plan in ctx.rng.sample(candidates, need):
        _complete(ctx.rng, plan)


def study_window(plan: Plan, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """When the trainee studied: from the start until completion, withdrawal or now."""
    end = plan.completed_at or plan.withdrawn_at or now
    return (plan.starts_at if plan.starts_at < end else plan.enrolled_at), end


def last_required_index(modules: list[tuple[int, bool]]) -> int:
    """Index of the last required module (``-1`` if none)."""
    return max((i for i, (_m, is_required) in enumerate(modules) if is_required), default=-1)


def _plan_progress(ctx: GenerationContext, cat: Catalogue, plans: list[Plan]) -> None:
    """How many progress rows each enrolment gets, ``size.module_progress`` in all.

    Completed enrolments get every required module; the rest are spread at random, at most
    one row per module, and a trainee works through the modules in order.
    """
    rng, now, total = ctx.rng, ctx.now, ctx.size.module_progress
    floors, room = [], []
    for plan in plans:
        modules = cat.modules[plan.course_id]
        start, end = study_window(plan, now)
        floor = last_required_index(modules) + 1 if plan.status == EnrolmentStatus.COMPLETED else 0
        floors.append(floor)
        room.append(len(modules) - floor if start < end or floor else 0)
    need = total - sum(floors)
    if need < 0 or need > sum(room):
        raise ValueError(
            f"size {ctx.size.name}: {total:,} progress rows do not fit "
            f"({sum(floors):,} to {sum(floors) + sum(room):,} possible)"
        )
    weights = [rng.random() * r for r in room]
    scale = need / sum(weights) if need else 0
    extra = [min(r, math.floor(w * scale)) for w, r in zip(weights, room, strict=True)]
    left = need - sum(extra)
    if left:
        spare = [r - e for r, e in zip(room, extra, strict=True)]
        ends, running = [], 0
        for s in spare:
            running += s
            ends.append(running)
        for slot in rng.sample(range(running), left):
            extra[bisect.bisect_right(ends, slot)] += 1
    for plan, floor, more in zip(plans, floors, extra, strict=True):
        plan.rows = floor + more
        if plan.rows:
            start, end = study_window(plan, now)
            plan.last_at = plan.completed_at or start + (end - start) * math.sqrt(rng.random())


def _enrolment_rows(ctx: GenerationContext, cat: Catalogue, plans: list[Plan]):
    """``enrolments`` rows; others are enrolled by their org manager (or an admin) unless self-enrol."""
    session = ctx.session
    managers: dict[int, int] = {}
    for user_id, organisation_id in session.execute(
        select(User.id, User.organisation_id)
        .join(UserRole)
        .where(UserRole.role == Role.ORG_MANAGER)
        .order_by(User.id)
    ):
        managers.setdefault(organisation_id, user_id)
    organisation_of = dict(
        session.execute(
            select(User.id, User.organisation_id).join(UserRole).where(UserRole.role == Role.TRAINEE)
        ).all()
    )
    admins = ctx.ids.get("users.admin", [])
    fallback = admins[0] if admins else None
    for plan in plans:
        modules = cat.modules[plan.course_id]
        if cat.self_enrol.get(plan.course_id):
            enrolled_by = plan.user_id
        else:
            enrolled_by = managers.get(organisation_of.get(plan.user_id), fallback)
        yield {
            "id": plan.id,
            "user_id": plan.user_id,
            "course_id": plan.course_id,
            "cohort_id": plan.cohort_id,
            "status": plan.status,
            "enrolled_at": plan.enrolled_at,
            "enrolled_by_id": enrolled_by,
            "completed_at": plan.completed_at,
            "withdrawn_at": plan.withdrawn_at,
            "last_module_id": modules[plan.rows - 1][0] if plan.rows else None,
            "last_activity_at": plan.last_at,
        }


def _count_places(ctx: GenerationContext, cat: Catalogue, plans: list[Plan]) -> None:
    """Set each cohort's ``seats_taken`` (active and completed enrolments) and a capacity that fits."""
    rng = ctx.rng
    seats: dict[int, int] = {}
    for plan in plans:
        if plan.status in (EnrolmentStatus.ACTIVE, EnrolmentStatus.COMPLETED):
            seats[plan.cohort_id] = seats.get(plan.cohort_id, 0) + 1
    rows = []
    for cohorts in cat.cohorts.values():
        for cohort_id, *_dates in cohorts:
            taken = seats.get(cohort_id, 0)
            capacity = None if rng.random() < 0.3 else max(1, taken + rng.choice((0, 0, 1, 2, 4, 8, 12)))
            rows.append({"b_id": cohort_id, "b_seats": taken, "b_capacity": capacity})
    table = Cohort.__table__
    if rows:
        ctx.session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"))
            .values(seats_taken=sa.bindparam("b_seats"), capacity=sa.bindparam("b_capacity")),
            rows,
        )
