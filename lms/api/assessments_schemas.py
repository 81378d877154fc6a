"""Schemas of the assessments API: output schemas with field sets per audience, strict input schemas.

A submission is one schema whatever the audience; :func:`submission_schema` leaves out what an
audience may not see: a trainee never sees marking or moderation details, a blind marker never
sees who wrote the work.
"""

from __future__ import annotations

from functools import cache

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from lms.api.courses_schemas import CourseBriefSchema, PersonBriefSchema, PersonSchema
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
from lms.assessments.assignments import MAX_CRITERIA, MAX_FILE_SIZE_LIMIT, MAX_LEVELS
from lms.assessments.models import (
    MarkingState,
    ModerationDecision,
    Outcome,
    SchemeKind,
    SubmissionStatus,
)
from lms.assessments.uploads import FILE_TYPES
from lms.content import render_markdown

#: Longest brief, online text and feedback accepted (Markdown source).
MAX_BRIEF = 50_000
MAX_TEXT = 200_000
MAX_FEEDBACK = 20_000
#: Most submissions one bulk action takes.
MAX_BULK = 500

#: The audiences of a submission (see :func:`submission_schema`).
ADMIN = "admin"
MARKER = "marker"
BLIND_MARKER = "blind_marker"
TRAINEE = "trainee"


def _enum(enum_class, *, description: str = "", **kwargs) -> fields.Enum:
    """A field holding one of an enum's values (documented as a string)."""
    metadata = {"type": "string", **({"description": description} if description else {})}
    return fields.Enum(enum_class, by_value=True, metadata=metadata, **kwargs)


# --- output: assignments and schemes ----------------------------------------------------------


class AssignmentSchema(ma.Schema):
    """An assignment; trainees get it without the marking settings (:attr:`STAFF_FIELDS`)."""

    #: How marking is run: for staff only.
    STAFF_FIELDS = ("is_moderated", "moderation_share", "marking_days", "identities_revealed_at")

    id = fields.Integer()
    course = fields.Nested(CourseBriefSchema)
    title = fields.String()
    brief = fields.String(metadata={"description": "Markdown source"})
    brief_html = fields.Function(
        lambda a: str(render_markdown(a.brief)),
        metadata={"description": "The brief rendered to sanitised HTML", "type": "string"},
    )
    accepts_text = fields.Boolean(metadata={"description": "Takes an online text"})
    word_limit = fields.Integer(allow_none=True, metadata={"description": "Null for no limit"})
    accepts_files = fields.Boolean(metadata={"description": "Takes file uploads"})
    file_types = fields.List(
        fields.String(), attribute="extensions", metadata={"description": "Allowed file extensions"}
    )
    max_file_size = fields.Integer(metadata={"description": "Largest file accepted, in bytes"})
    max_files = fields.Integer()
    opens_at = fields.DateTime(allow_none=True, metadata={"description": "Null: open from the start"})
    due_at = fields.DateTime()
    cutoff_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "Nothing accepted after it without an extension; null: none"},
    )
    max_attempts = fields.Integer(
        metadata={"description": "A first attempt plus resubmissions after referral"}
    )
    is_required = fields.Boolean(metadata={"description": "Passing it counts towards completion"})
    is_blind = fields.Boolean(metadata={"description": "Markers see participant numbers, not names"})
    is_moderated = fields.Boolean()
    moderation_share = fields.Integer(metadata={"description": "Share of passes moderated, in per cent"})
    marking_days = fields.Integer(metadata={"description": "Days an assessor has to mark a submission"})
    identities_revealed_at = fields.DateTime(
        allow_none=True, metadata={"description": "When markers were shown the names; null while blind"}
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


AssignmentPageSchema = page_of(AssignmentSchema, "AssignmentPageSchema")


class LevelSchema(ma.Schema):
    """A level of a rubric criterion."""

    id = fields.Integer()
    points = fields.Integer()
    descriptor = fields.String()


class CriterionSchema(ma.Schema):
    """A rubric criterion with its levels, lowest first."""

    id = fields.Integer()
    position = fields.Integer()
    title = fields.String()
    description = fields.String()
    levels = fields.List(fields.Nested(LevelSchema))


class SchemeSchema(ma.Schema):
    """A version of an assignment's marking scheme: a rubric, or a mark out of ``max_points``."""

    id = fields.Integer()
    assignment_id = fields.Integer()
    version = fields.Integer(
        attribute="number",
        metadata={"description": "The version number: a new one is made once marks use the old one"},
    )
    kind = _enum(SchemeKind)
    max_points = fields.Integer(
        metadata={"description": "For a rubric, the sum of each criterion's best level"}
    )
    pass_mark = fields.Integer(metadata={"description": "Points needed to pass"})
    created_at = fields.DateTime()
    criteria = fields.List(
        fields.Nested(CriterionSchema), metadata={"description": "Empty for a mark out of N"}
    )


class AssessorPoolSchema(ma.Schema):
    """The assessors who mark a course's assignments."""

    course_id = fields.Integer()
    assessors = fields.List(fields.Nested(PersonSchema))


# --- output: submissions --------------------------------------------------------------------


class SubmissionFileSchema(ma.Schema):
    """A file handed in; blind markers get a participant-numbered name, never the original."""

    id = fields.Integer()
    filename = fields.String()
    size = fields.Integer(metadata={"description": "In bytes"})
    sha256 = fields.String()
    content_type = fields.String()


class MarkSchema(ma.Schema):
    """A mark; trainees see it only once released, and without the marking bookkeeping."""

    id = fields.Integer()
    scheme_version_id = fields.Integer()
    scheme_version = fields.Function(
        lambda m: m.scheme_version.number,
        metadata={"description": "The scheme version number the mark uses", "type": "integer"},
    )
    total = fields.Integer(
        allow_none=True, metadata={"description": "Null while a rubric is partly filled in"}
    )
    outcome = _enum(Outcome, allow_none=True)
    feedback = fields.String()
    levels = fields.Function(
        lambda m: {str(s.criterion_id): s.level_id for s in m.scores},
        metadata={
            "description": "The level chosen, by criterion id (rubrics)",
            "type": "object",
            "additionalProperties": {"type": "integer"},
        },
    )
    has_feedback_file = fields.Function(
        lambda m: m.feedback_file_id is not None, metadata={"type": "boolean"}
    )
    marker_id = fields.Integer(allow_none=True, metadata={"description": "The first marker"})
    completed_at = fields.DateTime(allow_none=True, metadata={"description": "Null while a draft"})
    version = fields.Integer(
        metadata={"description": "Send it back when changing the mark (optimistic lock)"}
    )
    updated_at = fields.DateTime()


class ModerationSchema(ma.Schema):
    """A moderator's decision on a sampled mark."""

    decision = _enum(ModerationDecision)
    moderator_id = fields.Integer(allow_none=True)
    first_marker_id = fields.Integer(allow_none=True)
    first_total = fields.Integer(allow_none=True)
    first_outcome = _enum(Outcome, allow_none=True)
    agreed_total = fields.Integer(allow_none=True)
    agreed_outcome = _enum(Outcome, allow_none=True)
    notes = fields.String()
    decided_at = fields.DateTime()


class SubmissionSchema(ma.Schema):
    """One attempt at an assignment, with its files and (as the audience may see it) its mark.

    Dumped from a view the API builds (see :mod:`lms.api.assessments`), through
    :func:`submission_schema`, which leaves out what the audience may not see.
    """

    #: Who wrote it: admins, the trainee, and markers once identities are revealed.
    IDENTITY = ("user_id", "user")
    #: How marking runs: staff only. The workflow state too: "in moderation" would tell a
    #: trainee that their work was most likely referred before the mark is released.
    STAFF = (
        "state",
        "participant",
        "marker",
        "moderator",
        "allocated_at",
        "marking_due_at",
        "is_sampled",
        "moderation",
        "mark.marker_id",
        "mark.completed_at",
        "mark.version",
    )

    id = fields.Integer()
    assignment_id = fields.Integer()
    attempt = fields.Integer()
    status = _enum(SubmissionStatus)
    state = _enum(MarkingState, allow_none=True, description="Null while a draft; staff only")
    user_id = fields.Integer(metadata={"description": "Not shown to blind markers"})
    user = fields.Nested(PersonSchema, metadata={"description": "Not shown to blind markers"})
    participant = fields.Integer(
        metadata={"description": "The participant number: what blind markers know the trainee by"}
    )
    text = fields.String(metadata={"description": "Online text, Markdown as typed"})
    word_count = fields.Integer()
    draft_revision = fields.Integer(metadata={"description": "Send it back when saving the draft"})
    draft_saved_at = fields.DateTime(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    is_late = fields.Boolean()
    files = fields.List(fields.Nested(SubmissionFileSchema))
    marker = fields.Nested(PersonBriefSchema, allow_none=True)
    moderator = fields.Nested(PersonBriefSchema, allow_none=True)
    allocated_at = fields.DateTime(allow_none=True)
    marking_due_at = fields.DateTime(allow_none=True)
    is_sampled = fields.Boolean(metadata={"description": "In the moderation sample"})
    released_at = fields.DateTime(allow_none=True)
    mark = fields.Nested(
        MarkSchema, allow_none=True, metadata={"description": "Null when unmarked (trainees: until released)"}
    )
    moderation = fields.Nested(ModerationSchema, allow_none=True)
    scheme = fields.Nested(
        SchemeSchema,
        allow_none=True,
        metadata={"description": "The scheme the mark uses (or will); single submissions only"},
    )
    created_at = fields.DateTime()


SubmissionPageSchema = page_of(SubmissionSchema, "SubmissionPageSchema")

_LEFT_OUT = {
    ADMIN: (),
    MARKER: (),
    BLIND_MARKER: SubmissionSchema.IDENTITY,
    TRAINEE: ("user", *SubmissionSchema.STAFF),
}


#: What lists leave out: the rubric and the levels chosen (one submission's answer has them).
LIST_LEFT_OUT = ("scheme", "mark.levels", "mark.scheme_version")


@cache
def submission_schema(audience: str, *, in_list: bool = False) -> SubmissionSchema:
    """The submission schema with the fields ``audience`` may see (lists: :data:`LIST_LEFT_OUT` too)."""
    return SubmissionSchema(exclude=(*_LEFT_OUT[audience], *(LIST_LEFT_OUT if in_list else ())))


class ReceiptFileSchema(ma.Schema):
    """A file as the receipt lists it."""

    filename = fields.String()
    size = fields.Integer()
    sha256 = fields.String()


class ReceiptSchema(ma.Schema):
    """What the trainee handed in (also sent as a notification with email)."""

    submission_id = fields.Integer()
    attempt = fields.Integer()
    submitted_at = fields.DateTime()
    is_late = fields.Boolean()
    word_count = fields.Integer()
    files = fields.List(fields.Nested(ReceiptFileSchema))


class ExtensionSchema(ma.Schema):
    """More time for one trainee; blind markers see the participant number only."""

    IDENTITY = ("user_id", "user")

    id = fields.Integer()
    assignment_id = fields.Integer()
    user_id = fields.Integer()
    user = fields.Nested(PersonSchema)
    participant = fields.Integer(
        allow_none=True, metadata={"description": "Null when the trainee has not started the assignment"}
    )
    due_at = fields.DateTime(metadata={"description": "The trainee's own due date and cut-off"})
    reason = fields.String()
    granted_by = fields.Nested(PersonBriefSchema, allow_none=True)
    granted_at = fields.DateTime()


ExtensionPageSchema = page_of(ExtensionSchema, "ExtensionPageSchema")


class GradeChangeSchema(ma.Schema):
    """A change to a mark after it was first saved."""

    id = fields.Integer()
    submission_id = fields.Integer()
    user_id = fields.Integer(metadata={"description": "The trainee"})
    participant = fields.Integer()
    attempt = fields.Integer()
    changed_at = fields.DateTime()
    changed_by = fields.Nested(PersonBriefSchema, allow_none=True)
    from_total = fields.Integer(allow_none=True)
    to_total = fields.Integer(allow_none=True)
    from_outcome = _enum(Outcome, allow_none=True)
    to_outcome = _enum(Outcome, allow_none=True)
    what = fields.String(metadata={"description": "What else changed (feedback, rubric levels)"})
    reason = fields.String()
    is_after_release = fields.Boolean()


GradeChangePageSchema = page_of(GradeChangeSchema, "GradeChangePageSchema")


class ReleasedSchema(ma.Schema):
    """How many marks were just released."""

    released = fields.Integer(required=True)


class AllocatedSchema(ma.Schema):
    """How many submissions changed hands."""

    allocated = fields.Integer(required=True)


# --- input ----------------------------------------------------------------------------------


def _moment(**kwargs) -> fields.AwareDateTime:
    """A date and time with a time zone (between the years 2000 and 2999, checked by the view)."""
    return fields.AwareDateTime(**kwargs)


class AssignmentQuerySchema(PageQuerySchema):
    """Narrow the list of assignments."""

    course_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class AssignmentUpdateSchema(UpdateSchema):
    """What an admin may change on an assignment; every field is optional."""

    title = text(200)
    brief = fields.String(validate=validate.Length(max=MAX_BRIEF), metadata={"description": "Markdown"})
    accepts_text = boolean()
    word_limit = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=100_000),
        metadata={"description": "Null for none"},
    )
    accepts_files = boolean()
    file_types = fields.List(
        fields.String(validate=validate.OneOf(sorted(FILE_TYPES))),
        validate=validate.Length(max=len(FILE_TYPES)),
    )
    max_file_size = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=MAX_FILE_SIZE_LIMIT),
        metadata={"description": "Bytes"},
    )
    max_files = fields.Integer(strict=True, validate=validate.Range(min=1, max=20))
    opens_at = _moment(allow_none=True)
    due_at = _moment()
    cutoff_at = _moment(allow_none=True)
    max_attempts = fields.Integer(strict=True, validate=validate.Range(min=1, max=10))
    is_required = boolean()
    is_blind = boolean()
    is_moderated = boolean()
    moderation_share = fields.Integer(strict=True, validate=validate.Range(min=0, max=100))
    marking_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=90))


class AssignmentCreateSchema(AssignmentUpdateSchema):
    """A new assignment on a course (marked out of 100, pass at 40, until a scheme is saved)."""

    course_id = object_id(required=True)
    title = text(200, required=True)
    due_at = _moment(required=True)


class LevelInputSchema(StrictSchema):
    """A level of a criterion."""

    points = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=1000))
    descriptor = text(2000, required=True)


class CriterionInputSchema(StrictSchema):
    """A rubric criterion with its levels."""

    title = text(200, required=True)
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    levels = fields.List(
        fields.Nested(LevelInputSchema), required=True, validate=validate.Length(min=2, max=MAX_LEVELS)
    )


class SchemeInputSchema(StrictSchema):
    """A marking scheme: ``rubric`` with ``criteria``, or ``points`` with ``max_points``."""

    kind = _enum(SchemeKind, required=True)
    pass_mark = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=0, max=1000 * MAX_CRITERIA)
    )
    max_points = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=1000), metadata={"description": "For `points`"}
    )
    criteria = fields.List(
        fields.Nested(CriterionInputSchema),
        validate=validate.Length(max=MAX_CRITERIA),
        metadata={"description": "For `rubric`"},
    )


class PoolInputSchema(StrictSchema):
    """The course's assessors (replaces the pool; allocations stay)."""

    assessor_ids = fields.List(object_id(), required=True, validate=validate.Length(max=500))


class DraftInputSchema(StrictSchema):
    """The online text, and the revision it was written from."""

    text = fields.String(required=True, validate=validate.Length(max=MAX_TEXT))
    revision = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=0, max=MAX_ID),
        metadata={"description": "The `draft_revision` last read (0 for a new draft); stale is 409"},
    )


class UploadSchema(StrictSchema):
    """A file to add to the draft, sent as ``multipart/form-data``."""

    file = Upload(required=True, metadata={"description": "The file (its name is kept, sanitised)"})


class SubmitInputSchema(StrictSchema):
    """The trainee's declaration that the work is their own."""

    declaration = boolean(required=True, metadata={"description": "Must be true"})


class LevelsMixin(ma.Schema):
    """Marking input: rubric levels by criterion, or points."""

    levels = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[1-9][0-9]{0,9}$", error="Must be a criterion id.")),
        values=object_id(),
        validate=validate.Length(max=MAX_CRITERIA),
        metadata={
            "description": 'Level id by criterion id, for a rubric: `{"12": 40, "13": 44}`',
            "maxProperties": MAX_CRITERIA,
        },
    )
    points = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=1000),
        metadata={"description": "For a mark out of N"},
    )


class MarkInputSchema(StrictSchema, LevelsMixin):
    """A mark to save as a draft or, with ``finish``, to finish marking."""

    feedback = fields.String(
        validate=validate.Length(max=MAX_FEEDBACK), metadata={"description": "Unchanged if left out"}
    )
    version = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={
            "description": "The mark's `version` last read; required once a mark exists (stale is 409)"
        },
    )
    finish = boolean(load_default=False, metadata={"description": "Finish marking (every criterion needed)"})
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={"description": "Required after release"},
    )


class ModerationInputSchema(StrictSchema, LevelsMixin):
    """A moderator's decision: agree with the first mark, or change it (levels or points, and notes)."""

    decision = _enum(ModerationDecision, required=True)
    version = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "The mark's"},
    )
    notes = fields.String(
        load_default="",
        validate=validate.Length(max=5000),
        metadata={"description": "Required to change the mark"},
    )


class SubmissionIdsSchema(StrictSchema):
    """Submissions to act on, all or none."""

    submission_ids = fields.List(object_id(), required=True, validate=validate.Length(min=1, max=MAX_BULK))


class AllocateInputSchema(SubmissionIdsSchema):
    """Submissions to allocate to an assessor of their course, or (``null``) to balance over the pool."""

    marker_id = object_id(
        load_default=None, allow_none=True, metadata={"description": "Null: balance by load"}
    )


class ExtensionInputSchema(StrictSchema):
    """A new due date and cut-off for one trainee, with the reason."""

    due_at = _moment(required=True)
    reason = text(2000, required=True)


class AdminExtensionInputSchema(ExtensionInputSchema):
    """An extension for a trainee on the course."""

    user_id = object_id(required=True)


class SubmissionQuerySchema(PageQuerySchema):
    """Narrow an assignment's submissions."""

    state = fields.String(
        validate=validate.OneOf([*(s.value for s in MarkingState), "unallocated"]),
        metadata={"description": "A marking state, or `unallocated`"},
    )


class QueueQuerySchema(PageQuerySchema):
    """Narrow the caller's marking (or moderation) queue."""

    queue = fields.String(
        load_default="marking",
        validate=validate.OneOf(["marking", "moderation"]),
        metadata={
            "description": "`marking`: allocated to the caller; `moderation`: for the caller to moderate"
        },
    )
    course_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    assignment_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    state = _enum(MarkingState, description="Released work is left out unless asked for")
    late = query_boolean(metadata={"description": "Only late (true) or on-time (false) work"})
