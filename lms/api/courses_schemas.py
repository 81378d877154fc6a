"""Schemas of the courses API: output schemas by audience, strict input schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from lms.api.schemas import (
    MAX_ID,
    PageQuerySchema,
    StrictSchema,
    UpdateSchema,
    boolean,
    object_id,
    page_of,
    query_boolean,
    text,
)
from lms.content import render_markdown
from lms.courses.content import MAX_OPTIONS
from lms.courses.models import CourseStatus, DeliveryFormat, EnrolmentStatus
from lms.database import today

#: Longest module content accepted (Markdown source).
MAX_CONTENT = 100_000


def _enum(enum_class, *, description: str = "", **kwargs) -> fields.Enum:
    """A field holding one of an enum's values (documented as a string)."""
    metadata = {"type": "string", **({"description": description} if description else {})}
    return fields.Enum(enum_class, by_value=True, metadata=metadata, **kwargs)


def _delivery_format(**kwargs) -> fields.Enum:
    return _enum(DeliveryFormat, **kwargs)


# --- output ------------------------------------------------------------------------------


class OrganisationBriefSchema(ma.Schema):
    """An organisation, by id and name."""

    id = fields.Integer()
    name = fields.String()


class PersonBriefSchema(ma.Schema):
    """A person, by id and name."""

    id = fields.Integer()
    name = fields.String()


class PersonSchema(PersonBriefSchema):
    """A person, as the enrolment lists show them."""

    email = fields.String()


class CourseBriefSchema(ma.Schema):
    """A course, by id, code and title."""

    id = fields.Integer()
    code = fields.String()
    title = fields.String()


class CreditRuleSchema(ma.Schema):
    """Which awarding body awards how many credits, at which level."""

    awarding_body = fields.Nested(OrganisationBriefSchema)
    credits = fields.Integer()
    level = fields.String(metadata={"description": "Framework level, e.g. “FHEQ level 6”"})


class CourseSchema(CourseBriefSchema):
    """A course; trainees only ever see published ones."""

    summary = fields.String()
    provider = fields.Nested(OrganisationBriefSchema)
    delivery_format = _delivery_format()
    notional_hours = fields.Integer(metadata={"description": "Notional learning hours (10 per credit)"})
    audience = fields.String(metadata={"description": "Who the course is for"})
    status = _enum(CourseStatus)
    is_self_enrol = fields.Boolean(metadata={"description": "Trainees may enrol themselves"})
    prerequisites = fields.List(
        fields.Nested(CourseBriefSchema), metadata={"description": "Courses to complete first"}
    )
    credits = fields.Nested(
        CreditRuleSchema,
        attribute="credit_rule",
        allow_none=True,
        metadata={"description": "The credit rule, or null when the course carries no credits"},
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ResourceSchema(ma.Schema):
    """A link or a file offered with a module."""

    id = fields.Integer()
    title = fields.String()
    url = fields.String(allow_none=True, metadata={"description": "The link; null for a file"})
    filename = fields.Function(
        lambda r: r.stored_file.filename if r.stored_file else None,
        metadata={"description": "The file's name; null for a link", "type": "string", "nullable": True},
    )
    size = fields.Function(
        lambda r: r.stored_file.size if r.stored_file else None,
        metadata={"description": "The file's size in bytes", "type": "integer", "nullable": True},
    )


class ModuleSchema(ma.Schema):
    """A module of a course; people who may not open the course's modules get the outline only."""

    #: Left out for people who see the outline only (not studying the course, not an admin).
    STUDY_FIELDS = ("content", "content_html", "resources")

    id = fields.Integer()
    course_id = fields.Integer()
    position = fields.Integer(metadata={"description": "Order in the course (gaps allowed)"})
    title = fields.String()
    estimated_minutes = fields.Integer()
    is_required = fields.Boolean(metadata={"description": "Counts towards completion"})
    has_knowledge_check = fields.Boolean()
    content = fields.String(metadata={"description": "Markdown source"})
    content_html = fields.Function(
        lambda m: str(render_markdown(m.content)),
        metadata={"description": "The content rendered to sanitised HTML", "type": "string"},
    )
    resources = fields.List(fields.Nested(ResourceSchema))


ModulePageSchema = page_of(ModuleSchema, "ModulePageSchema")


class OptionSchema(ma.Schema):
    """An answer to choose."""

    id = fields.Integer()
    text = fields.String()
    is_correct = fields.Boolean(metadata={"description": "Administrators only"})


class QuestionSchema(ma.Schema):
    """One multiple-choice question."""

    id = fields.Integer()
    prompt = fields.String()
    explanation = fields.String(
        metadata={"description": "Administrators only (trainees see it after answering)"}
    )
    options = fields.List(fields.Nested(OptionSchema))


class KnowledgeCheckSchema(ma.Schema):
    """A module's knowledge check; trainees get it without the answers (:attr:`ANSWERS`)."""

    #: What a trainee never sees before answering: which option is correct, and why.
    ANSWERS = ("questions.explanation", "questions.options.is_correct")

    module_id = fields.Integer()
    pass_mark = fields.Integer(metadata={"description": "Percentage of correct answers needed to pass"})
    questions = fields.List(fields.Nested(QuestionSchema))


class CohortBriefSchema(ma.Schema):
    """A cohort, by id, name and dates."""

    id = fields.Integer()
    name = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()


class CohortSchema(CohortBriefSchema):
    """A run of a course, with its places."""

    course_id = fields.Integer()
    delivery_format = _delivery_format()
    location = fields.String()
    capacity = fields.Integer(allow_none=True, metadata={"description": "Null for no limit"})
    seats_taken = fields.Integer()
    seats_left = fields.Integer(allow_none=True, metadata={"description": "Null for no limit"})
    has_waiting_list = fields.Boolean()
    enrolment_opens_on = fields.Date(allow_none=True)
    enrolment_closes_on = fields.Date(allow_none=True)
    is_open = fields.Function(
        lambda c: c.is_open_on(today()),
        metadata={"description": "Taking enrolments today", "type": "boolean"},
    )
    facilitators = fields.List(fields.Nested(PersonBriefSchema))


CohortPageSchema = page_of(CohortSchema, "CohortPageSchema")


def _next_module_id(summary) -> int | None:
    return summary.next_module.id if summary.next_module else None


class EnrolmentSchema(ma.Schema):
    """An enrolment with its progress (dumped from a :class:`lms.courses.progress.EnrolmentSummary`)."""

    id = fields.Integer(attribute="enrolment.id")
    user = fields.Nested(PersonSchema, attribute="enrolment.user")
    course = fields.Nested(CourseBriefSchema, attribute="enrolment.course")
    cohort = fields.Nested(CohortBriefSchema, attribute="enrolment.cohort", allow_none=True)
    status = _enum(EnrolmentStatus, attribute="enrolment.status")
    enrolled_at = fields.DateTime(attribute="enrolment.enrolled_at")
    completed_at = fields.DateTime(attribute="enrolment.completed_at", allow_none=True)
    withdrawn_at = fields.DateTime(attribute="enrolment.withdrawn_at", allow_none=True)
    last_activity_at = fields.DateTime(attribute="enrolment.last_activity_at", allow_none=True)
    percent = fields.Integer(metadata={"description": "Share of required modules complete"})
    next_module_id = fields.Function(
        _next_module_id,
        metadata={
            "description": "Where to continue; null when every module is done",
            "type": "integer",
            "nullable": True,
        },
    )


EnrolmentPageSchema = page_of(EnrolmentSchema, "EnrolmentPageSchema")


class EnrolmentDetailSchema(EnrolmentSchema):
    """An enrolment with its progress in detail."""

    completed_module_ids = fields.Function(
        lambda s: sorted(s.done), metadata={"type": "array", "items": {"type": "integer"}}
    )
    unmet_requirements = fields.List(
        fields.String(), metadata={"description": "What is left to do to complete the course"}
    )


class ModuleProgressSchema(ma.Schema):
    """A trainee's progress through one module, with the enrolment's progress after the change."""

    module_id = fields.Integer()
    opened_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    enrolment = fields.Nested(EnrolmentDetailSchema)


class AnswerResultSchema(ma.Schema):
    """One question of an attempt: the option chosen and whether it was right (never the right one)."""

    question_id = fields.Integer()
    chosen_option_id = fields.Integer(allow_none=True, metadata={"description": "Null when unanswered"})
    is_correct = fields.Boolean()
    explanation = fields.String()


class AttemptResultSchema(ma.Schema):
    """The marked attempt at a knowledge check."""

    id = fields.Integer()
    module_id = fields.Integer()
    score = fields.Integer(metadata={"description": "Percentage of questions answered correctly"})
    pass_mark = fields.Integer()
    is_passed = fields.Boolean()
    created_at = fields.DateTime()
    questions = fields.List(fields.Nested(AnswerResultSchema))
    enrolment = fields.Nested(EnrolmentDetailSchema)


# --- input -------------------------------------------------------------------------------


class CourseQuerySchema(PageQuerySchema):
    """Filter the catalogue."""

    q = fields.String(
        validate=validate.Length(max=100), metadata={"description": "Part of a code, title or summary"}
    )
    provider_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    delivery_format = _delivery_format()
    has_credits = query_boolean(
        metadata={"description": "Only courses with (true) or without (false) credits"}
    )
    status = _enum(CourseStatus, description="Administrators only; ignored for others")


class CreditRuleInputSchema(StrictSchema):
    """A course's credit rule."""

    awarding_body_id = object_id(required=True)
    credits = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=1000))
    level = fields.String(load_default="", validate=validate.Length(max=60))


class CourseUpdateSchema(UpdateSchema):
    """What an admin may change on a course; every field is optional."""

    code = text(20)
    title = text(200)
    summary = fields.String(validate=validate.Length(max=5000))
    provider_id = object_id()
    delivery_format = _delivery_format()
    notional_hours = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))
    audience = fields.String(validate=validate.Length(max=300))
    status = _enum(CourseStatus)
    is_self_enrol = boolean()
    prerequisite_ids = fields.List(
        object_id(),
        validate=validate.Length(max=100),
        metadata={"description": "Every course to complete first (replaces the list)"},
    )
    credits = fields.Nested(
        CreditRuleInputSchema,
        allow_none=True,
        metadata={"description": "The credit rule (replaces it), or null for no credits"},
    )


class CourseCreateSchema(CourseUpdateSchema):
    """What an admin gives to create a course (a draft unless ``status`` says otherwise)."""

    code = text(20, required=True)
    title = text(200, required=True)
    provider_id = object_id(required=True)
    delivery_format = _delivery_format(required=True)


class ModuleUpdateSchema(UpdateSchema):
    """What an admin may change on a module; every field is optional."""

    title = text(200)
    content = fields.String(validate=validate.Length(max=MAX_CONTENT), metadata={"description": "Markdown"})
    estimated_minutes = fields.Integer(strict=True, validate=validate.Range(min=1, max=6000))
    is_required = boolean()


class ModuleCreateSchema(ModuleUpdateSchema):
    """A new module, added at the end of the course."""

    title = text(200, required=True)


class ModuleOrderSchema(StrictSchema):
    """The course's live modules, in their new order."""

    module_ids = fields.List(object_id(), required=True, validate=validate.Length(min=1, max=1000))


class QuestionInputSchema(StrictSchema):
    """A question: the prompt, the options and which one (counting from 0) is correct."""

    prompt = text(2000, required=True)
    options = fields.List(text(500), required=True, validate=validate.Length(min=2, max=MAX_OPTIONS))
    correct = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=0, max=MAX_OPTIONS - 1),
        metadata={"description": "Index of the correct option in `options`, from 0"},
    )
    explanation = fields.String(load_default="", validate=validate.Length(max=2000))


class KnowledgeCheckInputSchema(StrictSchema):
    """A knowledge check, replacing any earlier one (past attempts are kept)."""

    pass_mark = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=100))
    questions = fields.List(
        fields.Nested(QuestionInputSchema), required=True, validate=validate.Length(min=1, max=100)
    )


class CohortUpdateSchema(UpdateSchema):
    """What an admin may change on a cohort; every field is optional."""

    name = text(200)
    starts_on = fields.Date()
    ends_on = fields.Date()
    delivery_format = _delivery_format()
    location = fields.String(validate=validate.Length(max=300))
    capacity = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=100_000),
        metadata={"description": "Null for no limit"},
    )
    has_waiting_list = boolean()
    enrolment_opens_on = fields.Date(allow_none=True)
    enrolment_closes_on = fields.Date(allow_none=True)
    facilitator_ids = fields.List(object_id(), validate=validate.Length(max=100))


class CohortCreateSchema(CohortUpdateSchema):
    """A new run of a course (its delivery format is the course's unless given)."""

    name = text(200, required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)


class EnrolmentQuerySchema(PageQuerySchema):
    """Whose enrolments to list: by default the caller's own."""

    scope = fields.String(
        load_default="mine",
        validate=validate.OneOf(["mine", "all"]),
        metadata={
            "description": (
                "`mine`: the caller's own; `all`: every enrolment the caller may see (administrators: "
                "everyone's; organisation managers: their organisation's people's)"
            )
        },
    )
    user_id = fields.Integer(
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "One person's (administrators: anyone; organisation managers: their staff)"},
    )
    course_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    status = _enum(EnrolmentStatus)


class CohortEnrolmentQuerySchema(PageQuerySchema):
    """Narrow a cohort's enrolments."""

    status = _enum(EnrolmentStatus)
    organisation_id = fields.Integer(
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "Administrators only: one organisation's people"},
    )


class EnrolmentCreateSchema(StrictSchema):
    """Enrol oneself or (admins, organisation managers) someone else."""

    course_id = object_id(required=True)
    cohort_id = object_id(load_default=None, allow_none=True)
    user_id = object_id(load_default=None, allow_none=True, metadata={"description": "Default: the caller"})


class WithdrawSchema(StrictSchema):
    """Why, optionally."""

    reason = fields.String(load_default="", validate=validate.Length(max=500))


class AttemptInputSchema(StrictSchema):
    """The option chosen for each question."""

    answers = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[1-9][0-9]{0,9}$", error="Must be a question id.")),
        values=object_id(),
        required=True,
        validate=validate.Length(max=200),
        metadata={"description": 'Option id by question id: `{"12": 40, "13": 44}`'},
    )
