"""Progress and completion: opening and completing modules, knowledge-check attempts, summaries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from lms import audit
from lms.courses.completion import hooks, other_unmet_requirements
from lms.courses.content import active_modules, knowledge_checks_for
from lms.courses.models import CheckAttempt, Enrolment, EnrolmentStatus, Module, ModuleProgress
from lms.database import utcnow
from lms.errors import Conflict, InvalidInput, NotFound
from lms.extensions import db


def _require_studying(actor, enrolment: Enrolment) -> None:
    if enrolment.user_id != actor.id:
        raise NotFound("No such enrolment.")
    if not enrolment.is_current:
        raise Conflict("This enrolment is not active, so progress cannot be recorded.")


def _progress_row(enrolment: Enrolment, module: Module) -> ModuleProgress:
    progress = db.session.scalar(
        select(ModuleProgress).where(
            ModuleProgress.enrolment_id == enrolment.id, ModuleProgress.module_id == module.id
        )
    )
    if progress is not None:
        return progress
    progress = ModuleProgress(enrolment_id=enrolment.id, module_id=module.id)
    try:
        with db.session.begin_nested():
            db.session.add(progress)
            db.session.flush()
    except IntegrityError:
        # The same trainee opened the module in another tab at the same moment.
        progress = db.session.scalar(
            select(ModuleProgress).where(
                ModuleProgress.enrolment_id == enrolment.id, ModuleProgress.module_id == module.id
            )
        )
    return progress


def open_module(actor, enrolment: Enrolment, module: Module) -> ModuleProgress:
    """Record that the trainee opened a module; remembered for "continue where I left off".

    :raises NotFound: not the actor's enrolment, or the module is not in its course.
    :raises Conflict: the enrolment has ended.
    """
    _require_studying(actor, enrolment)
    if module.course_id != enrolment.course_id:
        raise NotFound("No such module in this course.")
    progress = _progress_row(enrolment, module)
    enrolment.last_module_id = module.id
    enrolment.last_activity_at = utcnow()
    return progress


def complete_module(actor, enrolment: Enrolment, module: Module) -> ModuleProgress:
    """Mark an opened module complete (modules with a knowledge check complete by passing it).

    :raises Conflict: the module has a knowledge check, or was never opened.
    """
    _require_studying(actor, enrolment)
    if module.course_id != enrolment.course_id:
        raise NotFound("No such module in this course.")
    if knowledge_checks_for([module.id]):
        raise Conflict("Pass the knowledge check to complete this module.")
    progress = db.session.scalar(
        select(ModuleProgress).where(
            ModuleProgress.enrolment_id == enrolment.id, ModuleProgress.module_id == module.id
        )
    )
    if progress is None:
        raise Conflict("Open the module before marking it complete.")
    if progress.completed_at is None:
        progress.completed_at = utcnow()
        enrolment.last_activity_at = progress.completed_at
        db.session.flush()
        check_completion(enrolment, actor)
    return progress


@dataclass
class CheckResult:
    """The outcome of one knowledge-check attempt."""

    attempt: CheckAttempt
    correct: set[int] = field(default_factory=set)
    pass_mark: int = 0


def submit_knowledge_check(
    actor, enrolment: Enrolment, module: Module, answers: dict[int, int]
) -> CheckResult:
    """Mark an attempt at a module's knowledge check; passing completes the module.

    ``answers`` maps question id to the chosen option id.

    :raises InvalidInput: a question is unanswered or an option is not one of its own.
    """
    _require_studying(actor, enrolment)
    check = knowledge_checks_for([module.id]).get(module.id)
    if check is None or module.course_id != enrolment.course_id:
        raise NotFound("This module has no knowledge check.")
    problems = {}
    correct = set()
    for n, question in enumerate(check.questions, start=1):
        chosen = answers.get(question.id)
        options = {o.id: o for o in question.options}
        if chosen is None:
            problems[f"question-{question.id}"] = [f"Answer question {n}."]
        elif chosen not in options:
            problems[f"question-{question.id}"] = [f"Choose one of the options for question {n}."]
        elif options[chosen].is_correct:
            correct.add(question.id)
    if problems:
        raise InvalidInput("Answer every question.", problems)
    score = round(100 * len(correct) / len(check.questions))
    attempt = CheckAttempt(
        check_id=check.id,
        enrolment_id=enrolment.id,
        answers={str(k): v for k, v in answers.items() if k in {q.id for q in check.questions}},
        score=score,
        is_passed=score >= check.pass_mark,
    )
    db.session.add(attempt)
    progress = _progress_row(enrolment, module)
    enrolment.last_module_id = module.id
    enrolment.last_activity_at = utcnow()
    if attempt.is_passed and progress.completed_at is None:
        progress.completed_at = utcnow()
        db.session.flush()
        check_completion(enrolment, actor)
    db.session.flush()
    return CheckResult(attempt=attempt, correct=correct, pass_mark=check.pass_mark)


def completed_module_ids(enrolment_ids: list[int]) -> dict[int, set[int]]:
    """Completed module ids by enrolment: one query."""
    done: dict[int, set[int]] = {eid: set() for eid in enrolment_ids}
    if not enrolment_ids:
        return done
    rows = db.session.execute(
        select(ModuleProgress.enrolment_id, ModuleProgress.module_id).where(
            ModuleProgress.enrolment_id.in_(enrolment_ids), ModuleProgress.completed_at.is_not(None)
        )
    )
    for enrolment_id, module_id in rows:
        done[enrolment_id].add(module_id)
    return done


def unmet_requirements(enrolment: Enrolment) -> list[str]:
    """What the trainee still has to do to complete the course."""
    modules = [m for m in active_modules([enrolment.course_id])[enrolment.course_id] if m.is_required]
    done = completed_module_ids([enrolment.id])[enrolment.id]
    unmet = [f"Complete the module “{m.title}”." for m in modules if m.id not in done]
    return unmet + other_unmet_requirements([enrolment])[enrolment.id]


def check_completion(enrolment: Enrolment, actor=None) -> bool:
    """Record completion once every requirement is met; announce it exactly once.

    The conditional update (``completed_at IS NULL``) means two concurrent requests
    cannot both record, and so cannot both announce, the same completion.
    """
    if enrolment.completed_at is not None or enrolment.status != EnrolmentStatus.ACTIVE:
        return False
    # Serialise completion checks per enrolment: two requests finishing the last two
    # modules at once must not each miss the other's (uncommitted) progress. The lock is
    # held until commit; SQLite serialises writers anyway and ignores FOR UPDATE.
    db.session.execute(select(Enrolment.id).where(Enrolment.id == enrolment.id).with_for_update())
    if unmet_requirements(enrolment):
        return False
    now = utcnow()
    result = db.session.execute(
        update(Enrolment)
        .where(
            Enrolment.id == enrolment.id,
            Enrolment.completed_at.is_(None),
            Enrolment.status == EnrolmentStatus.ACTIVE,
        )
        .values(completed_at=now, status=EnrolmentStatus.COMPLETED)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(enrolment, ["completed_at", "status"])
    if result.rowcount != 1:
        return False
    audit.record(actor, "enrolment.completed", enrolment, after={"completed_at": now.isoformat()})
    for listener in hooks().listeners:
        listener(enrolment, actor)
    return True


@dataclass
class EnrolmentSummary:
    """An enrolment with its progress, as the dashboard and reports show it."""

    enrolment: Enrolment
    modules: list[Module]
    done: set[int]

    @property
    def required(self) -> list[Module]:
        """The modules that count towards completion."""
        return [m for m in self.modules if m.is_required]

    @property
    def percent(self) -> int:
        """Share of required modules complete (100 once the course is completed)."""
        if self.enrolment.status == EnrolmentStatus.COMPLETED:
            return 100
        required = self.required
        if not required:
            return 0
        return round(100 * sum(1 for m in required if m.id in self.done) / len(required))

    @property
    def next_module(self) -> Module | None:
        """Where to continue: the last module opened if unfinished, else the first unfinished."""
        last = self.enrolment.last_module_id
        for module in self.modules:
            if module.id == last and module.id not in self.done:
                return module
        return next((m for m in self.modules if m.id not in self.done), None)

    @property
    def due_on(self) -> dt.date | None:
        """When the course should be finished: the cohort's end date."""
        return self.enrolment.cohort.ends_on if self.enrolment.cohort else None


def summarise(enrolments: list[Enrolment]) -> list[EnrolmentSummary]:
    """Progress of many enrolments in a fixed number of queries."""
    modules = active_modules(sorted({e.course_id for e in enrolments}))
    done = completed_module_ids([e.id for e in enrolments])
    return [EnrolmentSummary(e, modules[e.course_id], done[e.id]) for e in enrolments]


def dashboard(user) -> list[EnrolmentSummary]:
    """A trainee's enrolments, current first, with progress."""
    order = {EnrolmentStatus.ACTIVE: 0, EnrolmentStatus.WAITLISTED: 1, EnrolmentStatus.COMPLETED: 2}
    enrolments = db.session.scalars(select(Enrolment).where(Enrolment.user_id == user.id)).all()
    enrolments = sorted(enrolments, key=lambda e: (order.get(e.status, 3), e.course.title))
    return summarise(enrolments)
