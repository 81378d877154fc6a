"""The assessments part of ``flask --app lms generate``: assignments, pools, submissions, marks, moderation.

Every credit-bearing course gets ``size.assignments_per_course`` required assignments, each with a
rubric, and a pool of the generated assessors. Every completed enrolment on such a course has a
released pass on each of them (after a released referral now and then); the rest of
``size.submissions`` are attempts of active and withdrawn trainees, mostly released, the others
at every step of marking. The plan is :mod:`lms.demo.generate_attempts`, the marks
:mod:`lms.demo.generate_marks`. See docs/generate.md.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lms.assessments.models import (
    Assignment,
    Criterion,
    Extension,
    GradeChange,
    Level,
    Mark,
    MarkingState,
    MarkScore,
    Moderation,
    Participant,
    SchemeKind,
    SchemeVersion,
    Submission,
    SubmissionStatus,
    course_assessors,
)
from lms.assessments.submissions import count_words
from lms.courses.models import Course
from lms.demo.generate_attempts import DAY, AssignmentPlan, AttemptPlan, is_sampled, plan_attempts
from lms.demo.generate_courses import nine_am
from lms.demo.generate_marks import MarkRows, mark_rows
from lms.demo.generation import GenerationContext

TITLES = ("Reflective case study", "Practice portfolio", "Observed practice report", "Evaluation report")
#: ``(title, description)``; each rubric takes four or five in turn.
CRITERIA = (
    ("Whole-family understanding", "How the difficulties affect each family member and their relationships."),
    ("Children first", "How children's views were sought, heard and allowed to shape the work."),
    (
        "Group work and facilitation",
        "Use of structured sessions, learning between families, co-facilitation.",
    ),
    ("Safeguarding", "Recognising and responding to concerns, in line with procedures and guidance."),
    ("Reflection and evidence", "Critical reflection with a model; evaluation and sources, referenced."),
    ("Working with other services", "Information sharing, consent and joint planning with other agencies."),
)
LEVEL_NAMES = ("Not yet met", "Met", "Good", "Excellent")
#: Points of the four levels; every rubric uses one of these scales.
SCALES = ((0, 5, 8, 10), (4, 10, 15, 20), (2, 6, 9, 12))
PARAGRAPHS = (
    "The family I worked with had lived with a parent's drinking for many years, and each of them had "
    "adapted to it in their own way: one child took on caring, another went quiet at school.",
    "At the first visit I explained what we keep confidential, what we must pass on and why, and I "
    "planned a separate conversation with each child before the first session.",
    "In the children's group the children compared what happens at home on a bad weekend, and chose "
    "what they wanted the adults to hear. The poster they made changed how the parents spoke.",
    "One session did not go to plan. A parent arrived under the influence, and we had not agreed "
    "beforehand how to respond or what to say to the children; we have since added it to our plan.",
    "A disclosure in the group affected everyone in the room. I listened, did not promise secrecy, "
    "recorded the child's words the same day and spoke to our safeguarding lead that evening.",
    "Using Gibbs' reflective cycle, I can see that my first instinct was to speak for the adult in "
    "front of me rather than to make room for the children to speak for themselves.",
    "The evaluation measures improved for most of the family, but I am careful not to claim too much "
    "from one family: change in a family with this history is rarely straightforward.",
    "Families learnt as much from each other as from us. Hearing three other families describe the "
    "same secrecy and tiredness helped one mother feel, in her words, that she was not mad.",
    "Working with the school and the children's social worker meant agreeing, with the family's "
    "consent, what we would share and when, and meeting jointly after the last session.",
    "Next time I will plan a check-in call with every family in the week after a joint session in "
    "which children's views are shared, and agree how we respond to conflict in the group.",
)


def generate_assessments(ctx: GenerationContext) -> None:
    """Assignments with rubrics, pools, participants, submissions, marks, moderation, extensions."""
    credited = ctx.ids.get("courses.credited", [])
    assessors = ctx.ids.get("users.assessor", [])
    if not credited or not assessors or ctx.size.submissions == 0:
        return
    assignments = _generate_assignments(ctx, credited)
    pools = _generate_pools(ctx, credited, assessors)
    attempts, idle = plan_attempts(ctx, assignments)
    _generate_submissions(ctx, pools, attempts, idle)


# --- assignments, rubrics and pools ------------------------------------------------------------


def _generate_assignments(ctx: GenerationContext, credited: list[int]) -> dict[int, list[AssignmentPlan]]:
    """``size.assignments_per_course`` assignments on each credit-bearing course, each with a rubric."""
    rng, now, per_course = ctx.rng, ctx.now, ctx.size.assignments_per_course
    created = dict(
        ctx.session.execute(select(Course.id, Course.created_at).where(Course.id.in_(credited))).all()
    )
    ids = iter(ctx.allocate_ids(Assignment.__table__, len(credited) * per_course))
    version_ids = iter(ctx.allocate_ids(SchemeVersion.__table__, len(credited) * per_course))
    rows, versions, criteria, levels, found = [], [], [], [], {}
    planned_criteria = []
    for n, course_id in enumerate(credited):
        for k in range(per_course):
            # The first is due three weeks ago (late work, extensions), a later one in a fortnight.
            due_at = nine_am((now - 21 * DAY + 35 * k * DAY).date()) + dt.timedelta(hours=8)
            is_blind = (n + k) % 3 == 1
            assignment = AssignmentPlan(
                id=next(ids),
                course_id=course_id,
                due_at=due_at,
                cutoff_at=due_at + 14 * DAY,
                is_moderated=k == 0 or rng.random() < 0.5,
                moderation_share=rng.choice((10, 20, 25)),
                marking_days=rng.choice((10, 14, 21)),
                version_id=next(version_ids),
                pass_mark=0,
            )
            scale = SCALES[(n + k) % len(SCALES)]
            chosen = [CRITERIA[(n + k + i) % len(CRITERIA)] for i in range(rng.choice((4, 5)))]
            assignment.pass_mark = len(chosen) * scale[1]
            found.setdefault(course_id, []).append(assignment)
            # Set up the day after the course: before any of its runs, so before any work.
            opened = created[course_id] + DAY
            rows.append(
                {
                    "id": assignment.id,
                    "course_id": course_id,
                    "title": TITLES[k % len(TITLES)],
                    "brief": "Write a reflective account of your work with one family, applying the course's "
                    "principles. Keep the family anonymous.\n\n## What to cover\n\n"
                    + "\n".join(f"- {title}" for title, _ in chosen),
                    "accepts_text": True,
                    "word_limit": rng.choice((2000, 2750, 3300)),
                    "accepts_files": k % 2 == 1,
                    "file_types": "pdf,docx" if k % 2 == 1 else "",
                    "max_file_size": 10 * 1024 * 1024,
                    "max_files": 2 if k % 2 == 1 else 1,
                    "opens_at": None,
                    "due_at": assignment.due_at,
                    "cutoff_at": assignment.cutoff_at,
                    "max_attempts": assignment.max_attempts,
                    "is_required": True,
                    "is_blind": is_blind,
                    "is_moderated": assignment.is_moderated,
                    "moderation_share": assignment.moderation_share,
                    "marking_days": assignment.marking_days,
                    "identities_revealed_at": now - rng.randint(1, 20) * DAY
                    if is_blind and rng.random() < 0.5
                    else None,
                    "created_at": opened,
                    "updated_at": opened,
                }
            )
            versions.append(
                {
                    "id": assignment.version_id,
                    "assignment_id": assignment.id,
                    "number": 1,
                    "kind": SchemeKind.RUBRIC,
                    "max_points": len(chosen) * scale[-1],
                    "pass_mark": assignment.pass_mark,
                    "created_at": opened,
                    "created_by_id": ctx.ids.get("users.admin", [None])[0],
                }
            )
            planned_criteria += [(assignment, position, item, scale) for position, item in enumerate(chosen)]
    criterion_ids = ctx.allocate_ids(Criterion.__table__, len(planned_criteria))
    level_ids = iter(ctx.allocate_ids(Level.__table__, len(planned_criteria) * 4))
    for criterion_id, (assignment, position, (title, description), scale) in zip(
        criterion_ids, planned_criteria, strict=True
    ):
        criteria.append(
            {
                "id": criterion_id,
                "version_id": assignment.version_id,
                "position": position,
                "title": title,
                "description": description,
            }
        )
        mine = []
        for name, points in zip(LEVEL_NAMES, scale, strict=True):
            level_id = next(level_ids)
            mine.append((level_id, points))
            levels.append(
                {
                    "id": level_id,
                    "criterion_id": criterion_id,
                    "points": points,
                    "descriptor": f"{name}: {title.lower()}.",
                }
            )
        assignment.criteria.append((criterion_id, mine))
    ctx.insert(Assignment.__table__, rows, total=len(rows))
    ctx.insert(SchemeVersion.__table__, versions, total=len(versions))
    ctx.insert(Criterion.__table__, criteria, total=len(criteria))
    ctx.insert(Level.__table__, levels, total=len(levels))
    ctx.ids["assessments.assignment"] = [row["id"] for row in rows]
    return found


def _generate_pools(
    ctx: GenerationContext, credited: list[int], assessors: list[int]
) -> dict[int, list[int]]:
    """Each credit-bearing course's assessor pool: a dozen at most, two at least, overlapping."""
    size = max(2, min(12, len(assessors), round(len(assessors) / len(credited) * 1.2)))
    pools = {
        course_id: sorted(ctx.rng.sample(assessors, min(size, len(assessors)))) for course_id in credited
    }
    rows = [{"course_id": c, "user_id": u} for c, members in pools.items() for u in members]
    ctx.insert(course_assessors, rows, total=len(rows))
    return pools


# --- the rows ----------------------------------------------------------------------------------


def _least_loaded(rng, candidates: list[int], load: dict[int, int]) -> int | None:
    """The candidate with the fewest so far (ties at random), as allocation balances by load."""
    if not candidates:
        return None
    chosen = min(candidates, key=lambda user_id: (load.get(user_id, 0), rng.random()))
    load[chosen] = load.get(chosen, 0) + 1
    return chosen


#: States in which a mark is finished, so that it may have been drawn for moderation.
FINISHED = (
    MarkingState.MARKED,
    MarkingState.IN_MODERATION,
    MarkingState.READY_FOR_RELEASE,
    MarkingState.RELEASED,
)


def _generate_submissions(
    ctx: GenerationContext,
    pools: dict[int, list[int]],
    attempts: list[AttemptPlan],
    idle: list[tuple[AssignmentPlan, int]],
) -> None:
    """Participants, submissions, marks and their scores, moderation, grade changes, extensions."""
    rng = ctx.rng
    pairs = sorted({(a.assignment.id, a.user_id): a.assignment for a in attempts}.items())
    participant_ids = dict(
        zip((key for key, _ in pairs), ctx.allocate_ids(Participant.__table__, len(pairs)), strict=True)
    )
    participants = [
        {
            "id": participant_ids[key],
            "assignment_id": key[0],
            "user_id": key[1],
            "number": a.participants[key[1]],
        }
        for key, a in pairs
    ]
    for attempt, submission_id in zip(
        attempts, ctx.allocate_ids(Submission.__table__, len(attempts)), strict=True
    ):
        attempt.id = submission_id
    marked = sum(1 for a in attempts if a.state not in (None, MarkingState.NOT_MARKED))
    marks = MarkRows(mark_ids=iter(ctx.allocate_ids(Mark.__table__, marked)))
    extensions = _extensions(ctx, attempts, idle)
    submissions, texts = [], {}
    marking_load: dict[int, int] = {}
    moderating_load: dict[int, int] = {}
    for attempt in attempts:
        key = (attempt.assignment.id, attempt.user_id)
        if key not in texts:
            texts[key] = "\n\n".join(rng.sample(PARAGRAPHS, rng.randint(4, 7)))
        elif attempt.number > 1:
            # A resubmission starts as a copy of the referred attempt, with more added.
            texts[key] = f"{texts[key]}\n\n{rng.choice(PARAGRAPHS)}"
        attempt.text = texts[key] if attempt.state is not None else texts[key].rsplit("\n\n", 1)[0]
        pool = pools[attempt.assignment.course_id]
        marker = _least_loaded(rng, pool, marking_load) if attempt.state is not None else None
        sampled = attempt.state in FINISHED and is_sampled(
            attempt.assignment, attempt.user_id, attempt.number, attempt.outcome
        )
        moderator = _least_loaded(rng, [u for u in pool if u != marker], moderating_load) if sampled else None
        submissions.append(
            _submission_row(
                ctx, attempt, participant_ids[key], marker, sampled, moderator, extensions.get(key)
            )
        )
        if attempt.state not in (None, MarkingState.NOT_MARKED):
            # Only a moderator who decided (ready for release, released) leaves a moderation row.
            decided = attempt.state in (MarkingState.READY_FOR_RELEASE, MarkingState.RELEASED)
            mark_rows(ctx, attempt, marker, moderator if decided else None, marks)
    ctx.insert(Participant.__table__, participants, total=len(participants))
    ctx.insert(Submission.__table__, submissions, total=len(submissions))
    ctx.insert(Mark.__table__, marks.marks, total=len(marks.marks))
    ctx.insert(MarkScore.__table__, marks.scores, total=len(marks.scores))
    for table, items in ((Moderation.__table__, marks.moderations), (GradeChange.__table__, marks.changes)):
        for item, item_id in zip(items, ctx.allocate_ids(table, len(items)), strict=True):
            item["id"] = item_id
        ctx.insert(table, items, total=len(items))
    ctx.insert(Extension.__table__, list(extensions.values()), total=len(extensions))
    ctx.ids["assessments.submission"] = [a.id for a in attempts]
    ctx.ids["assessments.released"] = [a.id for a in attempts if a.state == MarkingState.RELEASED]
    ctx.ids["assessments.mark"] = [row["id"] for row in marks.marks]


def _extensions(
    ctx: GenerationContext, attempts: list[AttemptPlan], idle: list[tuple[AssignmentPlan, int]]
) -> dict[tuple[int, int], dict]:
    """Extensions by ``(assignment id, user id)``: everyone who handed in after the cut-off, and a few more.

    The few are active trainees who have not handed anything in yet and asked for more time.
    """
    rng, now = ctx.rng, ctx.now
    admins = ctx.ids.get("users.admin", []) or [None]
    needed: dict[tuple[int, int], list[AttemptPlan]] = {}
    for attempt in attempts:
        if attempt.submitted_at is not None and attempt.submitted_at > attempt.assignment.cutoff_at:
            needed.setdefault((attempt.assignment.id, attempt.user_id), []).append(attempt)
    planned = []
    for (assignment_id, user_id), late in sorted(needed.items()):
        first = min(a.submitted_at for a in late)
        due_at = max(a.submitted_at for a in late) + rng.uniform(0.5, 7) * DAY
        granted_at = min(first, late[0].assignment.due_at) - rng.uniform(0.5, 5) * DAY
        planned.append((assignment_id, user_id, due_at, granted_at, "Illness: a GP's note is on file."))
    for assignment, user_id in idle:
        if rng.random() < 0.03:
            due_at = assignment.due_at + rng.randint(7, 28) * DAY
            granted_at = min(now, assignment.due_at) - rng.uniform(0.5, 10) * DAY
            planned.append((assignment.id, user_id, due_at, granted_at, "Caring responsibilities at home."))
    found = {}
    for (assignment_id, user_id, due_at, granted_at, reason), extension_id in zip(
        planned, ctx.allocate_ids(Extension.__table__, len(planned)), strict=True
    ):
        found[(assignment_id, user_id)] = {
            "id": extension_id,
            "assignment_id": assignment_id,
            "user_id": user_id,
            "due_at": due_at,
            "reason": reason,
            "granted_by_id": rng.choice(admins),
            "granted_at": granted_at,
        }
    return found


def _submission_row(
    ctx: GenerationContext,
    attempt: AttemptPlan,
    participant_id: int,
    marker: int | None,
    is_sampled: bool,
    moderator: int | None,
    extension: dict | None,
) -> dict:
    """The ``submissions`` row of ``attempt``: late against the trainee's own deadline."""
    assignment, submitted = attempt.assignment, attempt.submitted_at
    deadline = assignment.due_at
    if extension is not None and submitted is not None and extension["granted_at"] <= submitted:
        deadline = extension["due_at"]
    released = attempt.state == MarkingState.RELEASED
    return {
        "id": attempt.id,
        "assignment_id": assignment.id,
        "user_id": attempt.user_id,
        "participant_id": participant_id,
        "attempt": attempt.number,
        "status": SubmissionStatus.DRAFT if attempt.state is None else SubmissionStatus.SUBMITTED,
        "text": attempt.text,
        "word_count": count_words(attempt.text),
        "draft_revision": ctx.rng.randint(2, 40),
        "draft_saved_at": submitted - (submitted - attempt.created_at) * 0.01
        if submitted
        else attempt.created_at,
        "submitted_at": submitted,
        "is_late": submitted is not None and submitted > deadline,
        "state": attempt.state,
        "marker_id": marker,
        "allocated_at": submitted if marker else None,
        "marking_due_at": submitted + assignment.marking_days * DAY if marker else None,
        "is_sampled": is_sampled,
        "moderator_id": moderator,
        "released_at": attempt.released_at if released else None,
        "released_by_id": ctx.rng.choice(ctx.ids.get("users.admin", []) or [None]) if released else None,
        "created_at": attempt.created_at,
    }
