"""The plan of ``generate``'s assessments step: who hands in what, when, and how far its marking gets.

:func:`plan_attempts` decides every submission before any row is written: each completed
enrolment on a credit-bearing course gets a released pass on each assignment (after a released
referral now and then), and the rest of ``size.submissions`` go to active and withdrawn trainees,
with the latest attempt anywhere in the marking workflow. :mod:`lms.demo.generate_assessments`
turns the plan into rows, with the marks of :mod:`lms.demo.generate_marks`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace

from sqlalchemy import select

from lms.assessments.models import MarkingState, Outcome
from lms.assessments.sampling import is_drawn
from lms.courses.models import Cohort, Enrolment, EnrolmentStatus
from lms.demo.generate_courses import nine_am
from lms.demo.generation import GenerationContext

DAY = dt.timedelta(days=1)
#: How the latest attempt of an active trainee stands, and how often.
ACTIVE_STATES = (
    (None, 0.06),  # a draft
    (MarkingState.NOT_MARKED, 0.12),
    (MarkingState.IN_MARKING, 0.08),
    ("finished", 0.14),  # marked, in moderation or ready for release
    (MarkingState.RELEASED, 0.60),
)
#: Completed trainees (and others) whose first attempt was referred, then resubmitted.
REFERRED_SHARE = 0.12


@dataclass(slots=True)
class AssignmentPlan:
    """A generated assignment as the later rows need it."""

    id: int
    course_id: int
    due_at: dt.datetime
    cutoff_at: dt.datetime
    is_moderated: bool
    moderation_share: int
    marking_days: int
    version_id: int
    pass_mark: int
    max_attempts: int = 2
    #: ``(criterion id, [(level id, points), ...] lowest first)`` per criterion.
    criteria: list[tuple[int, list[tuple[int, int]]]] = field(default_factory=list)
    #: The participant number of everyone enrolled on the course, by user id.
    participants: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class AttemptPlan:
    """One planned submission: its timeline, where it stands and the mark it gets."""

    assignment: AssignmentPlan
    user_id: int
    number: int
    #: ``None``: still a draft.
    state: MarkingState | None
    outcome: Outcome | None
    created_at: dt.datetime
    submitted_at: dt.datetime | None = None
    #: Marker opened it, finished, moderator decided, released (as far as the state goes).
    marked_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    moderated_at: dt.datetime | None = None
    released_at: dt.datetime | None = None
    text: str = ""
    id: int = 0


def plan_attempts(
    ctx: GenerationContext, assignments: dict[int, list[AssignmentPlan]]
) -> tuple[list[AttemptPlan], list[tuple[AssignmentPlan, int]]]:
    """Exactly ``size.submissions`` attempts: every completer's passes first, then other trainees' work.

    Also returns the active trainees' (assignment, user) pairs without an attempt, for extensions.
    """
    rng, now, total = ctx.rng, ctx.now, ctx.size.submissions
    completers, others = [], []
    enrolled: dict[int, list[int]] = {course_id: [] for course_id in assignments}
    for row in ctx.session.execute(
        select(
            Enrolment.user_id,
            Enrolment.course_id,
            Enrolment.status,
            Enrolment.enrolled_at,
            Enrolment.completed_at,
            Enrolment.withdrawn_at,
            Cohort.starts_on,
        )
        .join(Cohort, Cohort.id == Enrolment.cohort_id)
        .where(Enrolment.course_id.in_(list(assignments)))
        .order_by(Enrolment.id)
    ):
        enrolled[row.course_id].append(row.user_id)
        start = max(row.enrolled_at, nine_am(row.starts_on))
        end = row.completed_at or row.withdrawn_at or now
        for assignment in assignments[row.course_id]:
            pair = (assignment, row.user_id, start, end)
            if row.status == EnrolmentStatus.COMPLETED:
                completers.append(pair)
            elif end - start > 2 * DAY and row.status in (EnrolmentStatus.ACTIVE, EnrolmentStatus.WITHDRAWN):
                others.append((*pair, row.status))
    for course_id, users in enrolled.items():
        for assignment in assignments[course_id]:
            # Drawn for everyone enrolled (rows only for those who hand something in): the
            # moderation sample depends on the number, so it must be known while planning.
            numbers = rng.sample(range(100_000, 1_000_000), len(users))
            assignment.participants = dict(zip(users, numbers, strict=True))
    attempts: list[AttemptPlan] = []
    for assignment, user_id, start, end in completers:
        referred = rng.random() < REFERRED_SHARE
        attempts += _released_chain(rng, assignment, user_id, start, end, referred)
    if len(attempts) > total:
        raise ValueError(
            f"size {ctx.size.name}: {len(attempts):,} attempts for completed enrolments do not fit "
            f"in {total:,} submissions"
        )
    rng.shuffle(others)
    idle = []
    for assignment, user_id, start, end, status in others:
        room = total - len(attempts)
        if room <= 0:
            if status == EnrolmentStatus.ACTIVE:
                idle.append((assignment, user_id))
            continue
        two = room > 1 and rng.random() < REFERRED_SHARE * 1.5
        attempts += _open_chain(rng, now, assignment, user_id, start, end, status, two)
    if len(attempts) < total:
        raise ValueError(
            f"size {ctx.size.name}: only {len(attempts):,} of {total:,} submissions fit the enrolments "
            "on credit-bearing courses"
        )
    attempts.sort(key=lambda a: (a.created_at, a.assignment.id, a.user_id, a.number))
    idle.sort(key=lambda pair: (pair[0].id, pair[1]))
    return attempts, idle


def _timeline(rng, start: dt.datetime, end: dt.datetime, gaps_days: list[float]) -> list[dt.datetime]:
    """Times of successive events ending by ``end``: the gaps drawn, squeezed to fit after ``start``."""
    gaps = [dt.timedelta(days=d) for d in gaps_days]
    total = sum(gaps, dt.timedelta())
    room = end - start
    if total > room:
        gaps = [g * (room / total) * 0.98 for g in gaps]
        total = sum(gaps, dt.timedelta())
    first = start + (room - total) * rng.random()
    times = [first]
    for gap in gaps:
        times.append(times[-1] + gap)
    return times


def _gaps(rng, sampled: bool) -> list[float]:
    """Days from starting a draft to submitting, to opening the marking, finishing, moderating, releasing."""
    return [
        rng.uniform(1, 20),
        rng.uniform(0.2, 8),
        rng.uniform(0.01, 2),
        rng.uniform(1, 6) if sampled else 0.0,
        rng.uniform(0.5, 4),
    ]


def _released(assignment: AssignmentPlan, user_id: int, number: int, outcome: Outcome, times) -> AttemptPlan:
    created, submitted, marked, finished, moderated, released = times
    return AttemptPlan(
        assignment,
        user_id,
        number,
        MarkingState.RELEASED,
        outcome,
        created,
        submitted,
        marked,
        finished,
        moderated,
        released,
    )


def _released_chain(rng, assignment, user_id, start, end, referred: bool) -> list[AttemptPlan]:
    """A completer's attempts: a released pass, after a released referral if ``referred``."""
    gaps = _gaps(rng, assignment.is_moderated)
    if referred:
        gaps = [*_gaps(rng, assignment.is_moderated), rng.uniform(2, 20), *gaps]
    times = _timeline(rng, start, end - 0.01 * DAY, gaps)
    chain = []
    if referred:
        chain.append(_released(assignment, user_id, 1, Outcome.REFER, times[:6]))
        times = times[6:]
    chain.append(_released(assignment, user_id, len(chain) + 1, Outcome.PASS, times))
    return chain


def _draw_state(rng):
    draw, running = rng.random(), 0.0
    for state, weight in ACTIVE_STATES:
        running += weight
        if draw < running:
            return state
    return MarkingState.RELEASED


def _open_chain(rng, now, assignment, user_id, start, end, status, two: bool) -> list[AttemptPlan]:
    """An active or withdrawn trainee's work: the latest attempt anywhere in marking (withdrawn: done)."""
    chain = []
    if status == EnrolmentStatus.WITHDRAWN:
        state = None if rng.random() < 0.2 else MarkingState.RELEASED
    else:
        state = _draw_state(rng)
    number = 2 if two else 1
    if state == "finished":
        outcome = _finished_outcome(rng, number, assignment)
        drawn = is_sampled(assignment, user_id, number, outcome)
        state = (
            (MarkingState.IN_MODERATION if rng.random() < 0.6 else MarkingState.READY_FOR_RELEASE)
            if drawn
            else MarkingState.MARKED
        )
    elif state == MarkingState.RELEASED:
        outcome = _finished_outcome(rng, number, assignment, may_fail=status == EnrolmentStatus.WITHDRAWN)
    elif state == MarkingState.IN_MARKING:
        outcome = _finished_outcome(rng, number, assignment)
    else:
        outcome = None
    # How recent the latest event is: work still in marking was handed in lately.
    recent = {
        None: rng.uniform(0, 14),
        MarkingState.NOT_MARKED: rng.uniform(0, 10) if rng.random() < 0.9 else rng.uniform(14, 40),
        MarkingState.IN_MARKING: rng.uniform(0, 8),
        MarkingState.MARKED: rng.uniform(0, 6),
        MarkingState.IN_MODERATION: rng.uniform(0, 6),
        MarkingState.READY_FOR_RELEASE: rng.uniform(0, 4),
    }
    if state == MarkingState.RELEASED:
        last = start + (end - start) * rng.random() ** 0.5  # released any time, later more often
    else:
        last = min(end, now - recent[state] * DAY)
    sampled = state in (MarkingState.IN_MODERATION, MarkingState.READY_FOR_RELEASE) or (
        state == MarkingState.RELEASED and is_sampled(assignment, user_id, number, outcome)
    )
    steps = {
        None: 1,
        MarkingState.NOT_MARKED: 2,
        MarkingState.IN_MARKING: 3,
        MarkingState.MARKED: 4,
        MarkingState.IN_MODERATION: 4,
        MarkingState.READY_FOR_RELEASE: 5,
        MarkingState.RELEASED: 6,
    }[state]
    gaps = _gaps(rng, sampled)[: steps - 1]
    if two:
        gaps = [*_gaps(rng, assignment.is_moderated), rng.uniform(2, 20), *gaps]
    times = _timeline(rng, start, max(start + DAY, last), gaps)
    if two:
        chain.append(_released(assignment, user_id, 1, Outcome.REFER, times[:6]))
        times = times[6:]
    times += [None] * (6 - len(times))
    chain.append(AttemptPlan(assignment, user_id, number, state, outcome, *times))
    return chain


def _finished_outcome(rng, number: int, assignment: AssignmentPlan, *, may_fail: bool = True) -> Outcome:
    if rng.random() < 0.85:
        return Outcome.PASS
    if number < assignment.max_attempts:
        return Outcome.REFER
    # A released fail on the last attempt ends an active enrolment, which the enrolments step made.
    return Outcome.FAIL if may_fail else Outcome.PASS


def is_sampled(assignment: AssignmentPlan, user_id: int, number: int, outcome: Outcome | None) -> bool:
    """The moderation rule of the app itself, on the generated numbers (it reads only these fields)."""
    item = SimpleNamespace(
        assignment=SimpleNamespace(
            id=assignment.id,
            is_moderated=assignment.is_moderated,
            moderation_share=assignment.moderation_share,
        ),
        participant=SimpleNamespace(number=assignment.participants[user_id]),
        attempt=number,
    )
    return is_drawn(item, outcome)
