"""Course content: modules, the resources offered with them, and knowledge checks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import defer

from lms import audit
from lms.courses.models import (
    CheckAttempt,
    Course,
    Enrolment,
    KnowledgeCheck,
    Module,
    ModuleResource,
    Option,
    Question,
)
from lms.errors import InvalidInput, NotFound
from lms.extensions import db


def active_modules(course_ids: list[int], *, with_content: bool = False) -> dict[int, list[Module]]:
    """Modules shown to trainees (not retired), by course, in order: one query.

    The Markdown content is left out unless asked for: lists and progress need only titles,
    and content can be long.
    """
    by_course: dict[int, list[Module]] = {cid: [] for cid in course_ids}
    if not course_ids:
        return by_course
    query = select(Module).where(Module.course_id.in_(course_ids), Module.is_retired.is_(False))
    if not with_content:
        query = query.options(defer(Module.content))
    modules = db.session.scalars(query.order_by(Module.course_id, Module.position, Module.id))
    for module in modules:
        by_course[module.course_id].append(module)
    return by_course


@dataclass
class CourseOutline:
    """A course's modules as its editors see them, with what each carries."""

    modules: list[Module]
    retired: list[Module]
    #: Questions in each module's knowledge check, by module id (no check: absent).
    questions: dict[int, int]
    #: Resources offered with each module, by module id (none: absent).
    resources: dict[int, int]


def course_outline(course: Course) -> CourseOutline:
    """Every module of a course, live and retired, with question and resource counts: three queries."""
    modules = db.session.scalars(
        select(Module).where(Module.course_id == course.id).order_by(Module.position, Module.id)
    ).all()
    module_ids = [m.id for m in modules]
    questions = resources = {}
    if module_ids:
        questions = dict(
            db.session.execute(
                select(KnowledgeCheck.module_id, func.count(Question.id))
                .outerjoin(Question, Question.check_id == KnowledgeCheck.id)
                .where(KnowledgeCheck.module_id.in_(module_ids))
                .group_by(KnowledgeCheck.module_id)
            ).all()
        )
        resources = dict(
            db.session.execute(
                select(ModuleResource.module_id, func.count())
                .where(ModuleResource.module_id.in_(module_ids))
                .group_by(ModuleResource.module_id)
            ).all()
        )
    return CourseOutline(
        modules=[m for m in modules if not m.is_retired],
        retired=[m for m in modules if m.is_retired],
        questions=questions,
        resources=resources,
    )


def get_module(course: Course, module_id: int) -> Module:
    """A live module of ``course``.

    :raises NotFound:
    """
    module = db.session.get(Module, module_id)
    if module is None or module.course_id != course.id or module.is_retired:
        raise NotFound("No such module in this course.")
    return module


MODULE_FIELDS = ("title", "content", "estimated_minutes", "is_required")


def save_module(actor, course: Course, module: Module | None, data: dict) -> Module:
    """Add a module at the end of a course, or edit one.

    Progress is keyed by module id, so edits never lose what trainees have done.

    :raises InvalidInput:
    """
    if module is None:
        if not (data.get("title") or "").strip():
            raise InvalidInput.for_field("title", "Give the module a title.")
        last = db.session.scalar(select(func.max(Module.position)).where(Module.course_id == course.id))
        module = Module(course=course, position=(last or 0) + 1)
        db.session.add(module)
    for name in MODULE_FIELDS:
        if name in data:
            setattr(module, name, data[name])
    db.session.flush()
    audit.record(actor, "module.saved", module, after={"title": module.title, "course_id": course.id})
    return module


def reorder_modules(actor, course: Course, module_ids: list[int]) -> None:
    """Put a course's live modules in the given order.

    :raises InvalidInput: the list is not exactly the course's live modules.
    """
    modules = active_modules([course.id])[course.id]
    if sorted(module_ids) != sorted(m.id for m in modules) or len(set(module_ids)) != len(module_ids):
        raise InvalidInput.for_field("module_ids", "List every module of the course exactly once.")
    by_id = {m.id: m for m in modules}
    for position, module_id in enumerate(module_ids, start=1):
        by_id[module_id].position = position
    audit.record(actor, "course.modules_reordered", course, after={"module_ids": module_ids})


def move_module(actor, course: Course, module: Module, offset: int) -> None:
    """Move a module one place up (``-1``) or down (``+1``)."""
    ids = [m.id for m in active_modules([course.id])[course.id]]
    index = ids.index(module.id)
    target = min(max(index + offset, 0), len(ids) - 1)
    ids.insert(target, ids.pop(index))
    reorder_modules(actor, course, ids)


def retire_module(actor, module: Module) -> None:
    """Take a module out of the course; trainees' progress on it is kept."""
    module.is_retired = True
    audit.record(actor, "module.retired", module, after={"title": module.title})


def save_resource(module: Module, *, title: str, url: str | None = None, stored_file=None) -> ModuleResource:
    """Offer a link or a stored file with a module.

    :raises InvalidInput:
    """
    title = (title or "").strip()
    if not title:
        raise InvalidInput.for_field("title", "Give the resource a title.")
    if (url is None) == (stored_file is None):
        raise InvalidInput.for_field("url", "Give either a link or a file.")
    if url is not None and not url.lower().startswith(("https://", "http://")):
        raise InvalidInput.for_field("url", "Links must start with https:// or http://.")
    last = db.session.scalar(
        select(func.max(ModuleResource.position)).where(ModuleResource.module_id == module.id)
    )
    resource = ModuleResource(
        module=module, title=title, url=url, stored_file=stored_file, position=(last or 0) + 1
    )
    db.session.add(resource)
    db.session.flush()
    return resource


def resources_of(module_ids: list[int]) -> dict[int, list[ModuleResource]]:
    """Resources by module id, in order: one query (stored files are joined)."""
    by_module: dict[int, list[ModuleResource]] = {mid: [] for mid in module_ids}
    if not module_ids:
        return by_module
    resources = db.session.scalars(
        select(ModuleResource)
        .where(ModuleResource.module_id.in_(module_ids))
        .order_by(ModuleResource.module_id, ModuleResource.position, ModuleResource.id)
    )
    for resource in resources:
        by_module[resource.module_id].append(resource)
    return by_module


def get_resource(module: Module, resource_id: int) -> ModuleResource:
    """A resource offered with ``module``.

    :raises NotFound:
    """
    resource = db.session.get(ModuleResource, resource_id)
    if resource is None or resource.module_id != module.id:
        raise NotFound("No such resource in this module.")
    return resource


def remove_resource(actor, resource: ModuleResource) -> None:
    """Stop offering a resource; an uploaded file's bytes are deleted once the change commits."""
    from lms.storage import services as storage

    stored = resource.stored_file
    audit.record(
        actor,
        "module.resource_removed",
        resource.module,
        after={"title": resource.title, "url": resource.url, "file": stored.filename if stored else None},
    )
    db.session.delete(resource)
    db.session.flush()
    if stored is not None:
        storage.delete(stored)


#: Most options a knowledge-check question may offer.
MAX_OPTIONS = 6


@dataclass
class QuestionInput:
    """A question as an editor gives it: the prompt, the options and which one is right."""

    prompt: str
    options: list[str]
    correct: int
    explanation: str = ""


def save_knowledge_check(
    actor, module: Module, pass_mark: int, questions: list[QuestionInput]
) -> KnowledgeCheck:
    """Create or replace a module's knowledge check.

    :raises InvalidInput:
    """
    if not 1 <= pass_mark <= 100:
        raise InvalidInput.for_field("pass_mark", "The pass mark is a percentage from 1 to 100.")
    if not questions:
        raise InvalidInput.for_field("questions", "Add at least one question.")
    for n, question in enumerate(questions, start=1):
        options = [o.strip() for o in question.options if o and o.strip()]
        if not question.prompt.strip():
            raise InvalidInput.for_field("questions", f"Question {n} has no text.")
        if len(options) < 2:
            raise InvalidInput.for_field("questions", f"Question {n} needs at least two options.")
        if len(options) > MAX_OPTIONS:
            raise InvalidInput.for_field("questions", f"Question {n} has more than {MAX_OPTIONS} options.")
        if any(len(o) > 500 for o in options):
            raise InvalidInput.for_field("questions", f"Question {n}: keep each option to 500 characters.")
        if not 0 <= question.correct < len(options):
            raise InvalidInput.for_field("questions", f"Question {n}: choose which option is correct.")
    check = db.session.scalar(select(KnowledgeCheck).where(KnowledgeCheck.module_id == module.id))
    if check is None:
        check = KnowledgeCheck(module=module)
        db.session.add(check)
    check.pass_mark = pass_mark
    check.questions = [
        Question(
            position=n,
            prompt=q.prompt.strip(),
            explanation=q.explanation.strip(),
            options=[
                Option(position=i, text=text.strip(), is_correct=(i == q.correct))
                for i, text in enumerate([o for o in q.options if o and o.strip()])
            ],
        )
        for n, q in enumerate(questions, start=1)
    ]
    db.session.flush()
    audit.record(
        actor, "knowledge_check.saved", check, after={"module_id": module.id, "questions": len(questions)}
    )
    return check


def knowledge_checks_for(module_ids: list[int]) -> dict[int, KnowledgeCheck]:
    """Knowledge checks by module id (questions and options load in two more queries)."""
    if not module_ids:
        return {}
    checks = db.session.scalars(select(KnowledgeCheck).where(KnowledgeCheck.module_id.in_(module_ids)))
    return {check.module_id: check for check in checks}


def modules_with_knowledge_check(module_ids: list[int]) -> set[int]:
    """Which of these modules have a knowledge check: one query, without the questions."""
    if not module_ids:
        return set()
    return set(
        db.session.scalars(select(KnowledgeCheck.module_id).where(KnowledgeCheck.module_id.in_(module_ids)))
    )


def get_file_resource(module: Module, resource_id: int) -> ModuleResource:
    """A file offered with ``module`` (links are followed directly, not through us).

    :raises NotFound: no such resource in this module, or it is a link.
    """
    resource = get_resource(module, resource_id)
    if resource.stored_file is None:
        raise NotFound("No such file in this module.")
    return resource


def latest_attempt(enrolment: Enrolment, check: KnowledgeCheck) -> CheckAttempt | None:
    """The trainee's most recent attempt at a knowledge check, if any."""
    return db.session.scalar(
        select(CheckAttempt)
        .where(CheckAttempt.enrolment_id == enrolment.id, CheckAttempt.check_id == check.id)
        .order_by(CheckAttempt.id.desc())
        .limit(1)
    )
