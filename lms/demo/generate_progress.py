"""The progress part of ``flask --app lms generate``: module progress and knowledge-check attempts."""

from __future__ import annotations

from sqlalchemy import select

from lms.courses.models import (
    CheckAttempt,
    Cohort,
    Enrolment,
    EnrolmentStatus,
    KnowledgeCheck,
    ModuleProgress,
    Option,
    Question,
)
from lms.demo.generate_courses import nine_am
from lms.demo.generate_enrolments import Catalogue, Plan, last_required_index, read_catalogue, study_window
from lms.demo.generation import GenerationContext


def generate_progress(ctx: GenerationContext) -> None:
    """Module progress up to each enrolment's last module, and knowledge-check attempts.

    Reads the enrolments back: an enrolment's rows are its course's modules up to
    ``last_module_id``, so the enrolments step's plan is all in the ``enrolments`` table.
    """
    course_ids = ctx.ids.get("courses.course", [])
    if not course_ids:
        return
    cat = read_catalogue(ctx, course_ids)
    read_checks(ctx.session, cat)
    position = {m: i for modules in cat.modules.values() for i, (m, _required) in enumerate(modules)}
    plans = []
    for row in ctx.session.execute(
        select(
            Enrolment.id,
            Enrolment.user_id,
            Enrolment.course_id,
            Enrolment.cohort_id,
            Enrolment.status,
            Enrolment.enrolled_at,
            Enrolment.completed_at,
            Enrolment.withdrawn_at,
            Enrolment.last_module_id,
            Enrolment.last_activity_at,
            Cohort.starts_on,
        )
        .join(Cohort, Cohort.id == Enrolment.cohort_id)
        .where(Enrolment.last_module_id.is_not(None))
        .order_by(Enrolment.id)
    ):
        plan = Plan(
            row.user_id,
            row.course_id,
            row.cohort_id,
            row.enrolled_at,
            max(row.enrolled_at, nine_am(row.starts_on)),
            ctx.now,
            status=row.status,
            completed_at=row.completed_at,
            withdrawn_at=row.withdrawn_at,
            id=row.id,
            rows=position[row.last_module_id] + 1,
            last_at=row.last_activity_at,
        )
        plans.append(plan)
    total = sum(plan.rows for plan in plans)
    attempts: list[dict] = []
    ctx.insert(ModuleProgress.__table__, _progress_rows(ctx, cat, plans, attempts, total), total=total)
    for attempt, attempt_id in zip(
        attempts, ctx.allocate_ids(CheckAttempt.__table__, len(attempts)), strict=True
    ):
        attempt["id"] = attempt_id
    ctx.insert(CheckAttempt.__table__, attempts, total=len(attempts))


def read_checks(session, cat: Catalogue) -> None:
    """Answer sets for each knowledge check, to make attempts from."""
    options: dict[int, list[tuple[int, bool]]] = {}
    for option_id, question_id, is_correct in session.execute(
        select(Option.id, Option.question_id, Option.is_correct).order_by(Option.question_id, Option.position)
    ):
        options.setdefault(question_id, []).append((option_id, is_correct))
    questions: dict[int, list[int]] = {}
    for question_id, check_id in session.execute(
        select(Question.id, Question.check_id).order_by(Question.check_id, Question.position)
    ):
        questions.setdefault(check_id, []).append(question_id)
    for check_id, module_id, pass_mark in session.execute(
        select(KnowledgeCheck.id, KnowledgeCheck.module_id, KnowledgeCheck.pass_mark)
    ):
        asked = questions.get(check_id, [])
        n = len(asked)
        if not n:
            continue
        right = {q: next(o for o, ok in options[q] if ok) for q in asked}
        wrong = {q: next(o for o, ok in options[q] if not ok) for q in asked}
        # Passing attempts: all right, or the first wrong when that still passes.
        passing = [({str(q): right[q] for q in asked}, 100)]
        one_wrong = round(100 * (n - 1) / n)
        if one_wrong >= pass_mark:
            passing.append(
                ({str(q): (wrong if i == 0 else right)[q] for i, q in enumerate(asked)}, one_wrong)
            )
        # A failing attempt: as many right as possible while staying under the pass mark.
        n_right = max(c for c in range(n + 1) if round(100 * c / n) < pass_mark)
        failing = (
            {str(q): (right if i < n_right else wrong)[q] for i, q in enumerate(asked)},
            round(100 * n_right / n),
        )
        cat.checks[check_id] = (passing, failing)
        cat.check_of_module[module_id] = check_id


def _progress_rows(
    ctx: GenerationContext, cat: Catalogue, plans: list[Plan], attempts: list[dict], total: int
):
    """``module_progress`` rows, in order of modules; collects knowledge-check attempts on the way.

    A completed enrolment has every required module complete, the last one at the moment of
    completion. Any other has at least one required module unfinished (otherwise it would be
    completed); its last row is the module the trainee is on.
    """
    rng, now = ctx.rng, ctx.now
    ids = iter(ctx.allocate_ids(ModuleProgress.__table__, total))
    for plan in plans:
        k = plan.rows
        if not k:
            continue
        modules = cat.modules[plan.course_id]
        start, _end = study_window(plan, now)
        last = plan.last_at
        is_completed = plan.status == EnrolmentStatus.COMPLETED
        draws = k if is_completed else k - 1
        times = sorted(start + (last - start) * rng.random() for _ in range(draws))
        if not is_completed:
            times.append(last)
        last_required = last_required_index(modules)
        blocked = last_required if not is_completed and k > last_required else None
        for j in range(k):
            module_id, is_required = modules[j]
            opened = times[j]
            following = times[j + 1] if j + 1 < k else last
            if is_completed and j == last_required:
                done_at = plan.completed_at
            elif (is_completed or (j < k - 1 and j != blocked)) and (is_required or rng.random() < 0.5):
                done_at = opened + (following - opened) * rng.random()
            else:
                done_at = None
            yield {
                "id": next(ids),
                "enrolment_id": plan.id,
                "module_id": module_id,
                "opened_at": opened,
                "completed_at": done_at,
            }
            check_id = cat.check_of_module.get(module_id)
            if check_id is not None:
                _add_attempts(rng, cat, attempts, check_id, plan.id, opened, following, done_at)


def _add_attempts(rng, cat, attempts, check_id, enrolment_id, opened, following, done_at) -> None:
    """Attempts at a check: a pass when the module is complete (maybe after a fail), else maybe a fail."""
    passing, failing = cat.checks[check_id]

    def attempt(answers_score, at, is_passed):
        answers, score = answers_score
        attempts.append(
            {
                "check_id": check_id,
                "enrolment_id": enrolment_id,
                "answers": answers,
                "score": score,
                "is_passed": is_passed,
                "created_at": at,
            }
        )

    if done_at is not None:
        if rng.random() < 0.2:
            attempt(failing, opened + (done_at - opened) / 2, False)
        attempt(rng.choice(passing), done_at, True)
    elif rng.random() < 0.3:
        attempt(failing, opened + (following - opened) * rng.random(), False)
