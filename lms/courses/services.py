"""Course rules: catalogue, prerequisites, modules, cohorts, enrolment, progress, completion.

Services take an explicit ``actor``, raise domain errors and flush; the request commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, defer, selectinload

from lms import audit
from lms.courses.completion import hooks, other_unmet_requirements
from lms.courses.models import (
    CheckAttempt,
    Cohort,
    Course,
    CourseStatus,
    DeliveryFormat,
    Enrolment,
    EnrolmentStatus,
    KnowledgeCheck,
    Module,
    ModuleProgress,
    ModuleResource,
    Option,
    Question,
    course_prerequisites,
)
from lms.credits.models import CreditRule
from lms.database import contains_text, utcnow
from lms.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.permissions import Role

#: Enrolments that hold a place and whose trainee can study.
CURRENT = (EnrolmentStatus.ACTIVE, EnrolmentStatus.COMPLETED)


def _is_admin(actor) -> bool:
    return actor is not None and actor.has_role(Role.ADMIN)


def today() -> dt.date:
    """Today's date in UTC (one place to change for a local calendar)."""
    return utcnow().date()


# --- catalogue -------------------------------------------------------------------------


@dataclass
class CatalogueFilter:
    """What a person searches the catalogue for."""

    q: str = ""
    provider_id: int | None = None
    delivery_format: DeliveryFormat | None = None
    has_credits: bool | None = None
    status: CourseStatus | None = None


def catalogue_query(actor, filters: CatalogueFilter | None = None):
    """Courses the actor may see, filtered; trainees see published courses only."""
    filters = filters or CatalogueFilter()
    # Explicit: a self-referential relationship is never eager-loaded from its mapper setting.
    query = (
        select(Course)
        .options(selectinload(Course.prerequisites), selectinload(Course.credit_rule))
        .order_by(Course.title, Course.id)
    )
    if not _is_admin(actor):
        query = query.where(Course.status == CourseStatus.PUBLISHED)
    elif filters.status:
        query = query.where(Course.status == filters.status)
    if filters.q:
        query = query.where(
            or_(
                contains_text(Course.title, filters.q),
                contains_text(Course.code, filters.q),
                contains_text(Course.summary, filters.q),
            )
        )
    if filters.provider_id:
        query = query.where(Course.provider_id == filters.provider_id)
    if filters.delivery_format:
        query = query.where(Course.delivery_format == filters.delivery_format)
    if filters.has_credits is not None:
        carries = exists().where(CreditRule.course_id == Course.id)
        query = query.where(carries if filters.has_credits else ~carries)
    return query


def get_course(actor, course_id: int) -> Course:
    """A course the actor may see: published ones; archived ones they were enrolled on; all for admins.

    :raises NotFound: no such course, a draft, or an archived course the actor never took.
    """
    course = db.session.get(Course, course_id)
    if course is None:
        raise NotFound("No such course.")
    if course.is_published or _is_admin(actor):
        return course
    took_it = actor is not None and own_enrolment(actor, course) is not None
    if course.status == CourseStatus.ARCHIVED and took_it:
        return course  # trainees keep access to what they studied
    raise NotFound("No such course.")


def catalogue_providers(actor) -> list:
    """Organisations that provide at least one course the actor may see, by name."""
    from lms.organisations.models import Organisation

    provided = select(Course.provider_id)
    if not _is_admin(actor):
        provided = provided.where(Course.status == CourseStatus.PUBLISHED)
    return list(
        db.session.scalars(
            select(Organisation).where(Organisation.id.in_(provided)).order_by(Organisation.name)
        )
    )


def get_course_by_code(code: str) -> Course | None:
    """The course with this code (codes are stored upper-case)."""
    return db.session.scalar(select(Course).where(Course.code == code.strip().upper()))


COURSE_FIELDS = (
    "code",
    "title",
    "summary",
    "provider_id",
    "delivery_format",
    "notional_hours",
    "audience",
    "status",
    "is_self_enrol",
)


def _course_snapshot(course: Course) -> dict:
    snapshot = {name: getattr(course, name) for name in COURSE_FIELDS}
    snapshot["delivery_format"] = str(snapshot["delivery_format"]) if snapshot["delivery_format"] else None
    snapshot["status"] = str(snapshot["status"]) if snapshot["status"] else None
    snapshot["prerequisites"] = sorted(c.code for c in course.prerequisites)
    return snapshot


def save_course(actor, course: Course | None, data: dict) -> Course:
    """Create (``course=None``) or update a course, with its prerequisites and credit rule.

    ``data`` may hold the fields in ``COURSE_FIELDS``, ``prerequisite_ids`` and ``credits``
    (``{"awarding_body_id", "credits", "level"}`` or ``None`` to remove the rule).

    :raises InvalidInput: a duplicate code, an unknown organisation or a prerequisite cycle.
    """
    from lms.organisations.models import Organisation

    is_new = course is None
    before = None if is_new else _course_snapshot(course)
    if "code" in data:
        code = data["code"].strip().upper()
        clash = get_course_by_code(code)
        if clash is not None and clash is not course:
            raise InvalidInput.for_field("code", f"Another course already uses the code {code}.")
        data = {**data, "code": code}
    if "provider_id" in data and db.session.get(Organisation, data["provider_id"]) is None:
        raise InvalidInput.for_field("provider_id", "Choose the organisation that provides the course.")
    if is_new:
        missing = [
            name
            for name in ("code", "title", "provider_id", "delivery_format")
            if data.get(name) in (None, "")
        ]
        if missing:
            raise InvalidInput(
                "Some required fields are missing.", {name: ["This field is required."] for name in missing}
            )
        course = Course()
        db.session.add(course)
    for name in COURSE_FIELDS:
        if name in data:
            setattr(course, name, data[name])
    db.session.flush()
    if "prerequisite_ids" in data:
        set_prerequisites(course, data["prerequisite_ids"])
    if "credits" in data:
        _set_credit_rule(course, data["credits"])
    db.session.flush()
    if "credits" in data:
        # The rule is written by course id: reload ``course.credit_rule`` so callers see the new one.
        db.session.expire(course, ["credit_rule"])
    after = _course_snapshot(course)
    if before != after:
        audit.record(
            actor, "course.created" if is_new else "course.updated", course, before=before, after=after
        )
    return course


def _set_credit_rule(course: Course, rule: dict | None) -> None:
    from lms.organisations.models import Organisation, OrganisationKind

    existing = db.session.scalar(select(CreditRule).where(CreditRule.course_id == course.id))
    if not rule:
        if existing is not None:
            db.session.delete(existing)
        return
    body = db.session.get(Organisation, rule.get("awarding_body_id") or 0)
    if body is None or body.kind != OrganisationKind.AWARDING_BODY:
        raise InvalidInput.for_field("awarding_body_id", "Choose the university that awards the credits.")
    if not rule.get("credits") or rule["credits"] < 1:
        raise InvalidInput.for_field("credits", "Credits must be a whole number of at least 1.")
    existing = existing or CreditRule(course_id=course.id)
    existing.awarding_body_id = body.id
    existing.credits = rule["credits"]
    existing.level = (rule.get("level") or "").strip()
    db.session.add(existing)


def set_prerequisites(course: Course, required_ids: list[int]) -> None:
    """Replace a course's prerequisites, refusing unknown courses and cycles.

    :raises InvalidInput: on ``prerequisite_ids``.
    """
    required_ids = sorted(set(required_ids))
    if course.id in required_ids:
        raise InvalidInput.for_field("prerequisite_ids", "A course cannot require itself.")
    required = (
        db.session.scalars(select(Course).where(Course.id.in_(required_ids))).all() if required_ids else []
    )
    if len(required) != len(required_ids):
        raise InvalidInput.for_field("prerequisite_ids", "One of the required courses does not exist.")
    edges = _prerequisite_graph()
    edges[course.id] = set(required_ids)
    path = _find_cycle(edges, course.id)
    if path:
        codes = dict(db.session.execute(select(Course.id, Course.code).where(Course.id.in_(path))).all())
        chain = " → ".join(codes[i] for i in path)
        raise InvalidInput.for_field(
            "prerequisite_ids", f"That would make a circle of prerequisites: {chain}."
        )
    course.prerequisites = sorted(required, key=lambda c: c.code)  # as the relationship orders them


def _prerequisite_graph() -> dict[int, set[int]]:
    edges: dict[int, set[int]] = {}
    for course_id, required_id in db.session.execute(select(course_prerequisites)).all():
        edges.setdefault(course_id, set()).add(required_id)
    return edges


def _find_cycle(edges: dict[int, set[int]], start: int) -> list[int]:
    """A path start → … → start through ``edges``, or ``[]``."""
    stack = [(start, [start])]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        for nxt in edges.get(node, ()):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return []


def missing_prerequisites(user, course: Course) -> list[Course]:
    """The prerequisites of ``course`` that ``user`` has not completed."""
    if not course.prerequisites:
        return []
    done = set(
        db.session.scalars(
            select(Enrolment.course_id).where(
                Enrolment.user_id == user.id,
                Enrolment.status == EnrolmentStatus.COMPLETED,
                Enrolment.course_id.in_([c.id for c in course.prerequisites]),
            )
        )
    )
    return [c for c in course.prerequisites if c.id not in done]


# --- modules and knowledge checks ------------------------------------------------------


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


# --- cohorts ---------------------------------------------------------------------------


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
    from lms.accounts.models import User

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


def cohorts_for(actor, course: Course) -> list[Cohort]:
    """The cohorts of a course the actor is shown (with facilitators): all for admins, open ones otherwise."""
    if not _is_admin(actor):
        return open_cohorts(course, with_facilitators=True)
    query = select(Cohort).where(Cohort.course_id == course.id).options(selectinload(Cohort.facilitators))
    return list(db.session.scalars(query.order_by(Cohort.starts_on, Cohort.id)))


def get_cohort_for(actor, cohort_id: int) -> Cohort:
    """A cohort of a course the actor may see.

    :raises NotFound: no such cohort, or its course is not visible to the actor.
    """
    cohort = db.session.get(Cohort, cohort_id)
    if cohort is None:
        raise NotFound("No such cohort.")
    get_course(actor, cohort.course_id)
    return cohort


def _take_seat(cohort: Cohort) -> bool:
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


def _release_seat(cohort: Cohort) -> None:
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
        if not _take_seat(cohort):
            break
        enrolment.status = EnrolmentStatus.ACTIVE
        audit.record(None, "enrolment.promoted", enrolment, after={"cohort_id": cohort.id})
        promoted.append(enrolment)
    return promoted


# --- enrolment -------------------------------------------------------------------------


def can_enrol_others(actor, user) -> bool:
    """Admins enrol anyone; org managers enrol their own organisation's staff."""
    if _is_admin(actor):
        return True
    return (
        actor is not None
        and actor.has_role(Role.ORG_MANAGER)
        and actor.organisation_id is not None
        and actor.organisation_id == user.organisation_id
    )


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
    from lms.accounts.models import User

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
    if person is None and _is_admin(actor):
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
    is_self = actor is not None and actor.id == user.id and not _is_admin(actor)
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
    if enrolment is not None and enrolment.status not in (EnrolmentStatus.WITHDRAWN, EnrolmentStatus.LAPSED):
        who = "You are" if is_self else f"{user.name} is"
        raise Conflict(f"{who} already enrolled on {course.title} ({enrolment.status.label.lower()}).")

    status = EnrolmentStatus.ACTIVE
    if cohort is not None and not _take_seat(cohort):
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
    from lms.accounts.models import User

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
    if not _is_admin(actor):
        visible = Enrolment.user_id == actor.id
        if actor.has_role(Role.ORG_MANAGER) and actor.organisation_id is not None:
            visible = or_(visible, User.organisation_id == actor.organisation_id)
        query = query.where(visible)
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
    if _is_admin(actor):
        return module, None
    if enrolment is None:
        raise NotFound("No such module for you: enrol on the course to open its modules.")
    if enrolment.status == EnrolmentStatus.WAITLISTED:
        raise Conflict("You are on the waiting list for this course; its modules open once you have a place.")
    raise Conflict(f"Your enrolment on {course.title} has ended; enrol again to open its modules.")


def can_open_modules(actor, course: Course) -> bool:
    """Whether the actor may open the modules of ``course`` (as :func:`get_module_for` allows)."""
    if _is_admin(actor):
        return True
    enrolment = own_enrolment(actor, course)
    return enrolment is not None and enrolment.is_current


def withdraw(actor, enrolment: Enrolment, reason: str = "") -> None:
    """Withdraw from a course; the enrolment, its progress and history are kept.

    :raises NotAllowed: the actor may not withdraw this enrolment.
    :raises Conflict: it is completed or already withdrawn.
    """
    if not can_see_enrolment(actor, enrolment):
        raise NotFound("No such enrolment.")
    if enrolment.status == EnrolmentStatus.COMPLETED:
        raise Conflict("This course is completed; a completed enrolment cannot be withdrawn.")
    if enrolment.status in (EnrolmentStatus.WITHDRAWN, EnrolmentStatus.LAPSED):
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
        _release_seat(enrolment.cohort)
        promote_waiting_list(enrolment.cohort)


# --- progress and completion -----------------------------------------------------------


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


# --- summaries for pages ---------------------------------------------------------------


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


def _report_scope(query, course_id: int, cohort_id: int | None, organisation_id: int | None):
    """Restrict a report query to a course, optionally a cohort and the staff of one organisation."""
    query = query.where(Enrolment.course_id == course_id)
    if cohort_id is not None:
        query = query.where(Enrolment.cohort_id == cohort_id)
    if organisation_id is not None:
        from lms.accounts.models import User

        query = query.join(User, User.id == Enrolment.user_id).where(User.organisation_id == organisation_id)
    return query


def completion_rate(
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


def completions_by_month(
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
