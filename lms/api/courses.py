"""API for courses, modules, knowledge checks, cohorts, enrolments and progress.

Thin handlers over the course services (``lms.courses.catalogue``, ``content``, ``cohorts``,
``enrolment`` and ``progress``): the same rules as the pages, with the caller as the actor. Other
people's enrolments, drafts and everything else the caller may not see answer 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import marshmallow as ma
from flask import Response, jsonify
from flask_login import current_user
from flask_smorest import Blueprint

from lms.api.courses_schemas import (
    AttemptInputSchema,
    AttemptResultSchema,
    CohortCreateSchema,
    CohortEnrolmentQuerySchema,
    CohortPageSchema,
    CohortSchema,
    CohortUpdateSchema,
    CourseCreateSchema,
    CourseQuerySchema,
    CourseSchema,
    CourseUpdateSchema,
    EnrolmentCreateSchema,
    EnrolmentDetailSchema,
    EnrolmentPageSchema,
    EnrolmentQuerySchema,
    KnowledgeCheckInputSchema,
    KnowledgeCheckSchema,
    ModuleCreateSchema,
    ModuleOrderSchema,
    ModulePageSchema,
    ModuleProgressSchema,
    ModuleSchema,
    ModuleUpdateSchema,
    WithdrawSchema,
)
from lms.api.schemas import ErrorSchema, PageQuerySchema, page_body, page_of
from lms.courses import catalogue, content, reports
from lms.courses import progress as course_progress
from lms.courses.catalogue import CatalogueFilter, catalogue_query, save_course
from lms.courses.cohorts import cohorts_for, get_cohort_for, save_cohort
from lms.courses.content import (
    QuestionInput,
    active_modules,
    knowledge_checks_for,
    modules_with_knowledge_check,
    resources_of,
    save_module,
)
from lms.courses.enrolment import (
    can_open_modules,
    enrol,
    enrolment_subjects,
    get_enrolment_for,
    get_module_for,
    visible_enrolments_query,
    withdraw,
)
from lms.courses.models import CheckAttempt, Enrolment, Module
from lms.courses.progress import EnrolmentSummary, summarise
from lms.errors import NotFound
from lms.pagination import Page, paginate
from lms.permissions import Role, authenticated, is_admin, roles_required

courses_blp = Blueprint(
    "api_courses",
    __name__,
    url_prefix="/api/v1/courses",
    description="The catalogue: courses, their modules and knowledge checks, and their cohorts.",
)
cohorts_blp = Blueprint(
    "api_cohorts", __name__, url_prefix="/api/v1/cohorts", description="Runs of a course and who is on them."
)
enrolments_blp = Blueprint(
    "api_enrolments",
    __name__,
    url_prefix="/api/v1/enrolments",
    description="Enrolments and module progress: one's own, or (admins, org managers) one's staff's.",
)

CONFLICT = {"schema": ErrorSchema}
#: Why a trainee on the course may still not open its modules (``get_module_for`` raises ``Conflict``).
NOT_STUDYING_NOW = "The trainee is on the waiting list, or their enrolment has ended"


def _dump(schema: ma.Schema, data) -> Response:
    """Answer ``data`` dumped with ``schema``: one audience's field set of the documented schema."""
    return jsonify(schema.dump(data))


def _page_of_list(items: list, query: dict) -> Page:
    """One page of a list already in memory (a course's modules, its open cohorts)."""
    number, per_page = query["page"], query["per_page"]
    start = (number - 1) * per_page
    return Page(items=items[start : start + per_page], page=number, per_page=per_page, total=len(items))


# --- views of several objects ------------------------------------------------------------


@dataclass
class ModuleView:
    """A module with what batch queries add to it: its knowledge-check flag and its resources."""

    module: Module
    has_knowledge_check: bool
    resources: list = field(default_factory=list)

    def __getattr__(self, name: str):
        return getattr(self.module, name)


def _module_views(modules: list[Module]) -> list[ModuleView]:
    """Modules with their flags and resources, in two queries whatever their number."""
    ids = [m.id for m in modules]
    with_check = modules_with_knowledge_check(ids)
    resources = resources_of(ids)
    return [ModuleView(m, m.id in with_check, resources[m.id]) for m in modules]


@dataclass
class EnrolmentProgress(EnrolmentSummary):
    """An enrolment's progress with what is left to do."""

    unmet_requirements: list[str] = field(default_factory=list)


def _progress(enrolment: Enrolment) -> EnrolmentProgress:
    summary = summarise([enrolment])[0]
    return EnrolmentProgress(
        summary.enrolment, summary.modules, summary.done, course_progress.unmet_requirements(enrolment)
    )


@dataclass
class ModuleProgressView:
    """The answer to opening or completing a module."""

    module_id: int
    opened_at: object
    completed_at: object
    enrolment: EnrolmentProgress


@dataclass
class AnswerResult:
    """One question of a marked attempt."""

    question_id: int
    chosen_option_id: int | None
    is_correct: bool
    explanation: str


@dataclass
class AttemptResult:
    """A marked attempt at a knowledge check, question by question."""

    attempt: CheckAttempt
    module_id: int
    pass_mark: int
    questions: list[AnswerResult]
    enrolment: EnrolmentProgress

    def __getattr__(self, name: str):
        return getattr(self.attempt, name)


# --- courses -------------------------------------------------------------------------------


@courses_blp.route("", methods=["GET"])
@courses_blp.arguments(CourseQuerySchema, location="query")
@courses_blp.response(200, page_of(CourseSchema, "CoursePageSchema"))
@authenticated
def list_courses(query):
    """The catalogue, by title: published courses (administrators also see drafts and archived ones)."""
    filters = CatalogueFilter(
        q=(query.get("q") or "").strip(),
        provider_id=query.get("provider_id"),
        delivery_format=query.get("delivery_format"),
        has_credits=query.get("has_credits"),
        status=query.get("status"),
    )
    return page_body(paginate(catalogue_query(current_user, filters), query["page"], query["per_page"]))


@courses_blp.route("", methods=["POST"])
@courses_blp.arguments(CourseCreateSchema)
@courses_blp.response(201, CourseSchema)
@roles_required(Role.ADMIN)
def create_course(data):
    """Create a course, with its prerequisites and credit rule (a draft unless its status says otherwise)."""
    return save_course(current_user, None, data)


@courses_blp.route("/<int:course_id>", methods=["GET"])
@courses_blp.response(200, CourseSchema)
@authenticated
def get_course(course_id: int):
    """One course."""
    return catalogue.get_course(current_user, course_id)


@courses_blp.route("/<int:course_id>", methods=["PATCH"])
@courses_blp.arguments(CourseUpdateSchema)
@courses_blp.response(200, CourseSchema)
@roles_required(Role.ADMIN)
def update_course(data, course_id: int):
    """Change a course; prerequisites and credit rule given replace the old ones (circles are refused)."""
    return save_course(current_user, catalogue.get_course(current_user, course_id), data)


# --- modules -------------------------------------------------------------------------------


@courses_blp.route("/<int:course_id>/modules", methods=["GET"])
@courses_blp.arguments(PageQuerySchema, location="query")
@courses_blp.response(200, ModulePageSchema)
@authenticated
def list_modules(query, course_id: int):
    """A course's modules in order; content only for people studying it and administrators."""
    course = catalogue.get_course(current_user, course_id)
    modules = active_modules([course.id], with_content=True)[course.id]
    page = _page_of_list(modules, query)
    page.items = _module_views(page.items)
    if can_open_modules(current_user, course):
        return _dump(ModulePageSchema(), page_body(page))
    return _dump(
        ModulePageSchema(exclude=[f"items.{name}" for name in ModuleSchema.STUDY_FIELDS]), page_body(page)
    )


@courses_blp.route("/<int:course_id>/modules", methods=["POST"])
@courses_blp.arguments(ModuleCreateSchema)
@courses_blp.response(201, ModuleSchema)
@roles_required(Role.ADMIN)
def create_module(data, course_id: int):
    """Add a module at the end of a course."""
    course = catalogue.get_course(current_user, course_id)
    return _module_views([save_module(current_user, course, None, data)])[0]


@courses_blp.route("/<int:course_id>/modules/order", methods=["PUT"])
@courses_blp.arguments(ModuleOrderSchema)
@courses_blp.response(200, ModuleOrderSchema)
@roles_required(Role.ADMIN)
def reorder_modules(data, course_id: int):
    """Put a course's modules in a new order: list every live module exactly once."""
    course = catalogue.get_course(current_user, course_id)
    content.reorder_modules(current_user, course, data["module_ids"])
    return {"module_ids": [m.id for m in active_modules([course.id])[course.id]]}


@courses_blp.route("/<int:course_id>/modules/<int:module_id>", methods=["GET"])
@courses_blp.response(200, ModuleSchema)
@courses_blp.alt_response(409, description=NOT_STUDYING_NOW, **CONFLICT)
@roles_required(Role.TRAINEE, Role.ADMIN)
def get_module(course_id: int, module_id: int):
    """A module to study (trainees on the course) or to check (administrators); nothing is recorded."""
    course = catalogue.get_course(current_user, course_id)
    module, _enrolment = get_module_for(current_user, course, module_id)
    return _module_views([module])[0]


@courses_blp.route("/<int:course_id>/modules/<int:module_id>", methods=["PATCH"])
@courses_blp.arguments(ModuleUpdateSchema)
@courses_blp.response(200, ModuleSchema)
@roles_required(Role.ADMIN)
def update_module(data, course_id: int, module_id: int):
    """Change a module; trainees' progress on it is kept."""
    course = catalogue.get_course(current_user, course_id)
    module = save_module(current_user, course, content.get_module(course, module_id), data)
    return _module_views([module])[0]


@courses_blp.route("/<int:course_id>/modules/<int:module_id>/knowledge-check", methods=["GET"])
@courses_blp.response(200, KnowledgeCheckSchema)
@courses_blp.alt_response(409, description=NOT_STUDYING_NOW, **CONFLICT)
@roles_required(Role.TRAINEE, Role.ADMIN)
def get_knowledge_check(course_id: int, module_id: int):
    """A module's knowledge check; trainees never see which option is correct, administrators do."""
    course = catalogue.get_course(current_user, course_id)
    module, _enrolment = get_module_for(current_user, course, module_id)
    check = knowledge_checks_for([module.id]).get(module.id)
    if check is None:
        raise NotFound("This module has no knowledge check.")
    if is_admin(current_user):
        return _dump(KnowledgeCheckSchema(), check)
    return _dump(KnowledgeCheckSchema(exclude=KnowledgeCheckSchema.ANSWERS), check)


@courses_blp.route("/<int:course_id>/modules/<int:module_id>/knowledge-check", methods=["PUT"])
@courses_blp.arguments(KnowledgeCheckInputSchema)
@courses_blp.response(200, KnowledgeCheckSchema)
@roles_required(Role.ADMIN)
def save_knowledge_check(data, course_id: int, module_id: int):
    """Create or replace a module's knowledge check; trainees' past attempts are kept."""
    course = catalogue.get_course(current_user, course_id)
    module = content.get_module(course, module_id)
    questions = [QuestionInput(**question) for question in data["questions"]]
    return content.save_knowledge_check(current_user, module, data["pass_mark"], questions)


# --- cohorts -------------------------------------------------------------------------------


@courses_blp.route("/<int:course_id>/cohorts", methods=["GET"])
@courses_blp.arguments(PageQuerySchema, location="query")
@courses_blp.response(200, CohortPageSchema)
@authenticated
def list_cohorts(query, course_id: int):
    """A course's cohorts, soonest first: those taking enrolments (administrators: all of them)."""
    course = catalogue.get_course(current_user, course_id)
    return page_body(_page_of_list(cohorts_for(current_user, course), query))


@courses_blp.route("/<int:course_id>/cohorts", methods=["POST"])
@courses_blp.arguments(CohortCreateSchema)
@courses_blp.response(201, CohortSchema)
@roles_required(Role.ADMIN)
def create_cohort(data, course_id: int):
    """Add a run of a course."""
    course = catalogue.get_course(current_user, course_id)
    facilitator_ids = data.pop("facilitator_ids", None)
    return save_cohort(current_user, course, None, data, facilitator_ids)


@cohorts_blp.route("/<int:cohort_id>", methods=["GET"])
@cohorts_blp.response(200, CohortSchema)
@authenticated
def get_cohort(cohort_id: int):
    """One cohort, with its places."""
    return get_cohort_for(current_user, cohort_id)


@cohorts_blp.route("/<int:cohort_id>", methods=["PATCH"])
@cohorts_blp.arguments(CohortUpdateSchema)
@cohorts_blp.response(200, CohortSchema)
@roles_required(Role.ADMIN)
def update_cohort(data, cohort_id: int):
    """Change a cohort; raising the capacity gives places to the waiting list, in order."""
    cohort = get_cohort_for(current_user, cohort_id)
    facilitator_ids = data.pop("facilitator_ids", None)
    return save_cohort(current_user, cohort.course, cohort, data, facilitator_ids)


@cohorts_blp.route("/<int:cohort_id>/enrolments", methods=["GET"])
@cohorts_blp.arguments(CohortEnrolmentQuerySchema, location="query")
@cohorts_blp.response(200, EnrolmentPageSchema)
@roles_required(Role.ADMIN, Role.ORG_MANAGER)
def list_cohort_enrolments(query, cohort_id: int):
    """Who is on a cohort and how far they are, by name (organisation managers: their own people only)."""
    cohort = reports.get_cohort_for_report(current_user, cohort_id)
    scope = reports.scope_for(current_user, query.get("organisation_id"))
    statement = reports.enrolments_query(scope, cohort.course, cohort, query.get("status"))
    page = paginate(statement, query["page"], query["per_page"])
    page.items = summarise(page.items)
    return page_body(page)


# --- enrolments ----------------------------------------------------------------------------


@enrolments_blp.route("", methods=["GET"])
@enrolments_blp.arguments(EnrolmentQuerySchema, location="query")
@enrolments_blp.response(200, EnrolmentPageSchema)
@authenticated
def list_enrolments(query):
    """Enrolments with progress, newest first: the caller's own, or (filters) others the caller may see."""
    statement = visible_enrolments_query(
        current_user,
        user_id=query.get("user_id"),
        course_id=query.get("course_id"),
        status=query.get("status"),
        everyone=query["scope"] == "all",
    )
    page = paginate(statement, query["page"], query["per_page"])
    page.items = summarise(page.items)
    return page_body(page)


@enrolments_blp.route("", methods=["POST"])
@enrolments_blp.arguments(EnrolmentCreateSchema)
@enrolments_blp.response(201, EnrolmentDetailSchema)
@enrolments_blp.alt_response(
    409, description="Already enrolled, or the cohort is full with no waiting list", **CONFLICT
)
@roles_required(Role.TRAINEE, Role.ORG_MANAGER, Role.ADMIN)
def create_enrolment(data):
    """Enrol oneself, or (administrators; organisation managers for their staff) someone else.

    A full cohort with a waiting list puts the person on it (`status` is `waitlisted`).
    """
    user, course, cohort = enrolment_subjects(
        current_user, data["course_id"], data["cohort_id"], data["user_id"]
    )
    return _progress(enrol(current_user, user, course, cohort))


@enrolments_blp.route("/<int:enrolment_id>", methods=["GET"])
@enrolments_blp.response(200, EnrolmentDetailSchema)
@authenticated
def get_enrolment(enrolment_id: int):
    """One enrolment with its progress: percent, where to continue, modules done, what is left."""
    return _progress(get_enrolment_for(current_user, enrolment_id))


@enrolments_blp.route("/<int:enrolment_id>/withdraw", methods=["POST"])
@enrolments_blp.arguments(WithdrawSchema, required=False)
@enrolments_blp.response(200, EnrolmentDetailSchema)
@enrolments_blp.alt_response(409, description="The enrolment is completed or has already ended", **CONFLICT)
@roles_required(Role.TRAINEE, Role.ORG_MANAGER, Role.ADMIN)
def withdraw_enrolment(data, enrolment_id: int):
    """Withdraw from a course; progress and history are kept, and a freed place goes to the waiting list."""
    enrolment = get_enrolment_for(current_user, enrolment_id)
    withdraw(current_user, enrolment, data["reason"].strip())
    return _progress(enrolment)


# --- progress ------------------------------------------------------------------------------


def _studying(enrolment_id: int, module_id: int) -> tuple[Enrolment, Module]:
    """The enrolment and module a progress URL names, as the caller may see them (404 otherwise)."""
    enrolment = get_enrolment_for(current_user, enrolment_id)
    course = catalogue.get_course(current_user, enrolment.course_id)
    return enrolment, content.get_module(course, module_id)


def _module_progress(enrolment: Enrolment, progress) -> ModuleProgressView:
    return ModuleProgressView(
        progress.module_id, progress.opened_at, progress.completed_at, _progress(enrolment)
    )


@enrolments_blp.route("/<int:enrolment_id>/modules/<int:module_id>/open", methods=["POST"])
@enrolments_blp.response(200, ModuleProgressSchema)
@enrolments_blp.alt_response(409, description="The enrolment is not active", **CONFLICT)
@roles_required(Role.TRAINEE)
def open_module(enrolment_id: int, module_id: int):
    """Record that the trainee opened a module of their own enrolment ("continue where I left off")."""
    enrolment, module = _studying(enrolment_id, module_id)
    return _module_progress(enrolment, course_progress.open_module(current_user, enrolment, module))


@enrolments_blp.route("/<int:enrolment_id>/modules/<int:module_id>/complete", methods=["POST"])
@enrolments_blp.response(200, ModuleProgressSchema)
@enrolments_blp.alt_response(
    409,
    description="Not opened yet, completed by its knowledge check, or the enrolment is not active",
    **CONFLICT,
)
@roles_required(Role.TRAINEE)
def complete_module(enrolment_id: int, module_id: int):
    """Mark an opened module without a knowledge check complete; the last one completes the course."""
    enrolment, module = _studying(enrolment_id, module_id)
    return _module_progress(enrolment, course_progress.complete_module(current_user, enrolment, module))


@enrolments_blp.route(
    "/<int:enrolment_id>/modules/<int:module_id>/knowledge-check-attempts", methods=["POST"]
)
@enrolments_blp.arguments(AttemptInputSchema)
@enrolments_blp.response(201, AttemptResultSchema)
@enrolments_blp.alt_response(409, description="The enrolment is not active", **CONFLICT)
@roles_required(Role.TRAINEE)
def submit_knowledge_check(data, enrolment_id: int, module_id: int):
    """Answer a module's knowledge check: the score, whether it passed, and which answers were right.

    Passing completes the module. Unanswered questions and options of another question are
    refused (422, with a field `question-<id>` for each).
    """
    enrolment, module = _studying(enrolment_id, module_id)
    answers = {int(question_id): option_id for question_id, option_id in data["answers"].items()}
    result = course_progress.submit_knowledge_check(current_user, enrolment, module, answers)
    check = knowledge_checks_for([module.id])[module.id]
    questions = [
        AnswerResult(q.id, answers.get(q.id), q.id in result.correct, q.explanation) for q in check.questions
    ]
    return AttemptResult(result.attempt, module.id, result.pass_mark, questions, _progress(enrolment))
