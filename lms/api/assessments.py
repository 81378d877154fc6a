"""API for assignments, marking schemes, assessor pools, submissions, marks, moderation and extensions.

Thin handlers over the assessment services (``lms.assessments.assignments``, ``submissions``,
``allocation``, ``marking``, ``moderation``): the same rules as the pages, with the caller as the
actor. A submission is answered in the field set of its reader's audience (``SubmissionSchema``):
trainees see their own work and a mark once released, blind markers a participant number and
never who wrote it, admins everything. Whatever the caller may not see answers 404.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

from flask import Response, jsonify, request
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import inspect, select
from sqlalchemy.orm import raiseload
from werkzeug.exceptions import UnsupportedMediaType

from lms.accounts.models import User
from lms.api.assessments_schemas import (
    ADMIN,
    BLIND_MARKER,
    MARKER,
    TRAINEE,
    AdminExtensionInputSchema,
    AllocatedSchema,
    AllocateInputSchema,
    AssessorPoolSchema,
    AssignmentCreateSchema,
    AssignmentPageSchema,
    AssignmentQuerySchema,
    AssignmentSchema,
    AssignmentUpdateSchema,
    DraftInputSchema,
    ExtensionInputSchema,
    ExtensionPageSchema,
    ExtensionSchema,
    GradeChangePageSchema,
    MarkInputSchema,
    ModerationInputSchema,
    PoolInputSchema,
    QueueQuerySchema,
    ReceiptSchema,
    ReleasedSchema,
    SchemeInputSchema,
    SchemeSchema,
    SubmissionFileSchema,
    SubmissionIdsSchema,
    SubmissionPageSchema,
    SubmissionQuerySchema,
    SubmissionSchema,
    SubmitInputSchema,
    UploadSchema,
    submission_schema,
)
from lms.api.schemas import ErrorSchema, PageQuerySchema, page_body
from lms.assessments import allocation, marking, moderation
from lms.assessments import submissions as handing_in
from lms.assessments.assignments import (
    current_version,
    get_assignment,
    get_visible,
    pool_of,
    save_assignment,
    save_scheme,
    set_pool,
    visible_query,
)
from lms.assessments.identity import download_name, sees_identity
from lms.assessments.marking import QueueFilter, get_for_staff, get_for_viewer, visible_mark
from lms.assessments.models import (
    Assignment,
    Extension,
    Mark,
    MarkingState,
    Moderation,
    ModerationDecision,
    Participant,
    SchemeVersion,
    Submission,
    SubmissionStatus,
)
from lms.courses import catalogue
from lms.courses.models import Course, Enrolment
from lms.errors import Conflict, InvalidInput
from lms.extensions import db
from lms.pagination import Page, paginate
from lms.permissions import Role, is_admin, roles_required

assignments_blp = Blueprint(
    "api_assignments",
    __name__,
    url_prefix="/api/v1/assignments",
    description="Assignments and their marking schemes; a trainee's attempts, drafts, files and submitting.",
)
submissions_blp = Blueprint(
    "api_submissions",
    __name__,
    url_prefix="/api/v1/submissions",
    description="Submitted work: the marking queue, marks, moderation, release, allocation, extensions.",
)
pools_blp = Blueprint(
    "api_assessor_pools",
    __name__,
    url_prefix="/api/v1/courses",
    description="The assessors who mark a course's assignments (admins).",
)
#: Every blueprint of this module, for :func:`lms.api.init_api`.
BLUEPRINTS = (assignments_blp, submissions_blp, pools_blp)

#: The error body, for the answers documented by hand.
ERROR = {"schema": ErrorSchema}
CONFLICT = ERROR
#: Dates outside these years are refused: reminders and marking deadlines are computed from them.
EARLIEST, LATEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2999, 12, 31, tzinfo=dt.UTC)


def _utc(data: dict, *names: str) -> dict:
    """``data`` with its times in UTC; a time outside the years 2000 to 2999 is 422 on its field."""
    for name in names:
        value = data.get(name)
        if value is None:
            continue
        try:
            value = value.astimezone(dt.UTC)
        except OverflowError:
            value = None
        if value is None or not EARLIEST <= value <= LATEST:
            raise InvalidInput.for_field(name, "Give a date between the years 2000 and 2999.")
        data[name] = value
    return data


def multipart_only(view: Callable) -> Callable:
    """Refuse a body that is not ``multipart/form-data`` (415) before its fields are read.

    The JSON bodies are checked in one place (:func:`lms.api.check_api_request`); an upload is
    the one body of another type. No body at all is an empty input (422 on ``file``).
    """

    @functools.wraps(view)
    def checked(*args, **kwargs):
        if request.mimetype != "multipart/form-data" and (request.content_length or request.mimetype):
            raise UnsupportedMediaType("Send the file as multipart/form-data, in the field 'file'.")
        return view(*args, **kwargs)

    return checked


def _page_of_list(items: list, query: dict) -> Page:
    """One page of a list already in memory."""
    number, per_page = query["page"], query["per_page"]
    start = (number - 1) * per_page
    return Page(items=items[start : start + per_page], page=number, per_page=per_page, total=len(items))


def _assignment(assignment_id: int) -> Assignment:
    """An assignment the caller may see (:func:`lms.assessments.assignments.get_visible`)."""
    return get_visible(current_user, assignment_id)


def _dump_assignment(assignment: Assignment) -> dict:
    """An assignment in the caller's field set: trainees without the marking settings."""
    if is_admin(current_user) or current_user.has_role(Role.ASSESSOR):
        return AssignmentSchema().dump(assignment)
    return AssignmentSchema(exclude=AssignmentSchema.STAFF_FIELDS).dump(assignment)


# --- submissions as each audience sees them ------------------------------------------------


@dataclass
class SubmissionView:
    """A submission with what its reader may see of it, loaded in batches for a page."""

    submission: Submission
    audience: str
    files: list[dict]
    mark: Mark | None
    moderation: Moderation | None
    user: User | None
    marker: User | None
    moderator: User | None
    scheme: SchemeVersion | None = None

    @property
    def participant(self) -> int:
        """The participant number."""
        return self.submission.participant.number

    def __getattr__(self, name: str):
        return getattr(self.submission, name)


def _audience(viewer, submission: Submission) -> str:
    if is_admin(viewer):
        return ADMIN
    if submission.user_id == viewer.id:
        return TRAINEE
    return MARKER if sees_identity(viewer, submission.assignment) else BLIND_MARKER


def _views(submissions: list[Submission], *, with_scheme: bool = False) -> list[SubmissionView]:
    """Views of ``submissions`` for the caller, in a fixed number of queries whatever their number."""
    viewer = current_user
    ids = [s.id for s in submissions]
    audiences = {s.id: _audience(viewer, s) for s in submissions}
    files = handing_in.files_of(ids)
    staff_ids = [i for i in ids if audiences[i] != TRAINEE]
    marks, moderations = {}, {}
    if staff_ids:
        # The marking queue loads marks with the page already; the other lists do not.
        marks = {s.id: s.mark for s in submissions if "mark" not in inspect(s).unloaded}
        missing = [i for i in staff_ids if i not in marks]
        if missing:
            statement = select(Mark).where(Mark.submission_id.in_(missing))
            if not with_scheme:  # a list shows no levels and no scheme (LIST_LEFT_OUT)
                statement = statement.options(
                    raiseload(Mark.scores), raiseload(Mark.scheme_version), raiseload(Mark.feedback_file)
                )
            marks |= {m.submission_id: m for m in db.session.scalars(statement)}
        moderations = {
            m.submission_id: m
            for m in db.session.scalars(select(Moderation).where(Moderation.submission_id.in_(staff_ids)))
        }
    person_ids = {s.user_id for s in submissions if audiences[s.id] in (ADMIN, MARKER)}
    person_ids |= {
        i for s in submissions if audiences[s.id] != TRAINEE for i in (s.marker_id, s.moderator_id)
    }
    person_ids.discard(None)
    people = (
        {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(person_ids)))}
        if person_ids
        else {}
    )
    views = []
    for s in submissions:
        audience = audiences[s.id]
        mark = visible_mark(viewer, s) if audience == TRAINEE else marks.get(s.id)
        view = SubmissionView(
            submission=s,
            audience=audience,
            files=[
                {
                    "id": f.id,
                    "filename": download_name(viewer, s, f.stored_file.filename, index),
                    "size": f.stored_file.size,
                    "sha256": f.stored_file.checksum,
                    "content_type": f.stored_file.content_type,
                }
                for index, f in enumerate(files[s.id], start=1)
            ],
            mark=mark,
            moderation=moderations.get(s.id),
            user=people.get(s.user_id),
            marker=people.get(s.marker_id),
            moderator=people.get(s.moderator_id),
        )
        if with_scheme:
            view.scheme = mark.scheme_version if mark is not None else current_version(s.assignment)
        views.append(view)
    return views


def _dump_submission(submission: Submission) -> Response:
    """One submission, with its scheme, in the caller's field set."""
    (view,) = _views([submission], with_scheme=True)
    return jsonify(submission_schema(view.audience).dump(view))


def _dump_page(page: Page) -> Response:
    """A page of submissions, each in the caller's field set for it (blind or not, own or not)."""
    body = page_body(page)
    body["items"] = [submission_schema(v.audience, in_list=True).dump(v) for v in _views(page.items)]
    return jsonify(body)


def _own_draft(assignment: Assignment) -> Submission:
    """The caller's open draft of ``assignment``.

    :raises Conflict: there is none (nothing started, or the last attempt is submitted).
    """
    attempts = handing_in.attempts_of(current_user.id, assignment)
    if not attempts or attempts[-1].is_submitted:
        raise Conflict("There is no draft of this assignment: save your text or add a file first.")
    return attempts[-1]


def _submissions_by_id(ids: list[int]) -> list[Submission]:
    """The submissions named in a bulk body, all of them or 422 on ``submission_ids``."""
    wanted = set(ids)
    found = list(
        db.session.scalars(select(Submission).where(Submission.id.in_(wanted)).order_by(Submission.id))
    )
    if len(found) != len(wanted):
        raise InvalidInput.for_field("submission_ids", "Some of these submissions do not exist.")
    return found


# --- assignments ----------------------------------------------------------------------------


@assignments_blp.route("", methods=["GET"])
@assignments_blp.arguments(AssignmentQuerySchema, location="query")
@assignments_blp.response(200, AssignmentPageSchema)
@roles_required(Role.TRAINEE, Role.ASSESSOR, Role.ADMIN)
def list_assignments(query):
    """Assignments by due date: admins all; trainees their current courses'; assessors their pools'."""
    statement = visible_query(current_user)
    if query.get("course_id"):
        statement = statement.where(Assignment.course_id == query["course_id"])
    page = paginate(statement, query["page"], query["per_page"])
    body = page_body(page)
    body["items"] = [_dump_assignment(a) for a in page.items]
    return jsonify(body)


@assignments_blp.route("", methods=["POST"])
@assignments_blp.arguments(AssignmentCreateSchema)
@assignments_blp.response(201, AssignmentSchema)
@roles_required(Role.ADMIN)
def create_assignment(data):
    """Add an assignment to a course; it is marked out of 100 (pass at 40) until a scheme is saved."""
    course = db.session.get(Course, data.pop("course_id"))
    if course is None:
        raise InvalidInput.for_field("course_id", "There is no such course.")
    return save_assignment(current_user, course, None, _utc(data, "opens_at", "due_at", "cutoff_at"))


@assignments_blp.route("/<int:assignment_id>", methods=["GET"])
@assignments_blp.response(200, AssignmentSchema)
@roles_required(Role.TRAINEE, Role.ASSESSOR, Role.ADMIN)
def get_assignment_view(assignment_id: int):
    """One assignment (trainees get it without the marking settings)."""
    return jsonify(_dump_assignment(_assignment(assignment_id)))


@assignments_blp.route("/<int:assignment_id>", methods=["PATCH"])
@assignments_blp.arguments(AssignmentUpdateSchema)
@assignments_blp.response(200, AssignmentSchema)
@roles_required(Role.ADMIN)
def update_assignment(data, assignment_id: int):
    """Change an assignment; dates out of order and nothing to hand in are refused (422)."""
    assignment = get_assignment(assignment_id)
    return save_assignment(
        current_user, assignment.course, assignment, _utc(data, "opens_at", "due_at", "cutoff_at")
    )


@assignments_blp.route("/<int:assignment_id>/scheme", methods=["GET"])
@assignments_blp.response(200, SchemeSchema)
@roles_required(Role.TRAINEE, Role.ASSESSOR, Role.ADMIN)
def get_scheme(assignment_id: int):
    """The current version of the assignment's marking scheme."""
    return current_version(_assignment(assignment_id))


@assignments_blp.route("/<int:assignment_id>/scheme", methods=["PUT"])
@assignments_blp.arguments(SchemeInputSchema)
@assignments_blp.response(200, SchemeSchema)
@roles_required(Role.ADMIN)
def put_scheme(data, assignment_id: int):
    """Set the marking scheme; once marks use the current version, a new version is made (see `version`)."""
    return save_scheme(current_user, get_assignment(assignment_id), data)


# --- a trainee's work ----------------------------------------------------------------------


@assignments_blp.route("/<int:assignment_id>/attempts", methods=["GET"])
@assignments_blp.arguments(PageQuerySchema, location="query")
@assignments_blp.response(200, SubmissionPageSchema)
@roles_required(Role.TRAINEE)
def list_attempts(query, assignment_id: int):
    """The caller's attempts at an assignment, first to last; a mark shows once released."""
    assignment = _assignment(assignment_id)
    return _dump_page(_page_of_list(handing_in.attempts_of(current_user.id, assignment), query))


@assignments_blp.route("/<int:assignment_id>/draft", methods=["PUT"])
@assignments_blp.arguments(DraftInputSchema)
@assignments_blp.response(200, SubmissionSchema)
@assignments_blp.alt_response(
    409,
    description="A newer revision was saved (reload), no attempt may be started now, or it is submitted",
    **CONFLICT,
)
@roles_required(Role.TRAINEE)
def save_draft(data, assignment_id: int):
    """Save the online text of the caller's draft (started if need be); a stale `revision` is 409."""
    draft = handing_in.open_draft(current_user, _assignment(assignment_id))
    return _dump_submission(handing_in.save_draft(current_user, draft, data["text"], data["revision"]))


@assignments_blp.route("/<int:assignment_id>/files", methods=["POST"])
@multipart_only
@assignments_blp.arguments(UploadSchema, location="files")
@assignments_blp.response(201, SubmissionFileSchema)
@assignments_blp.alt_response(400, description="The multipart body cannot be read", **ERROR)
@assignments_blp.alt_response(415, description="The body is not multipart/form-data", **ERROR)
@assignments_blp.alt_response(
    409, description="No attempt may be started now, or it is submitted", **CONFLICT
)
@roles_required(Role.TRAINEE)
def add_file(data, assignment_id: int):
    """Add a file to the caller's draft (multipart, field `file`), checked by size, type and content."""
    upload = data["file"]
    if not getattr(upload, "filename", None):
        raise InvalidInput.for_field("file", "Choose a file to upload.")
    draft = handing_in.open_draft(current_user, _assignment(assignment_id))
    item = handing_in.add_file(current_user, draft, upload.stream, upload.filename)
    stored = item.stored_file
    return {
        "id": item.id,
        "filename": stored.filename,
        "size": stored.size,
        "sha256": stored.checksum,
        "content_type": stored.content_type,
    }


@assignments_blp.route("/<int:assignment_id>/files/<int:file_id>", methods=["DELETE"])
@assignments_blp.response(204)
@assignments_blp.alt_response(409, description="There is no draft (the attempt is submitted)", **CONFLICT)
@roles_required(Role.TRAINEE)
def remove_file(assignment_id: int, file_id: int):
    """Remove a file from the caller's draft."""
    handing_in.remove_file(current_user, _own_draft(_assignment(assignment_id)), file_id)


@assignments_blp.route("/<int:assignment_id>/submit", methods=["POST"])
@assignments_blp.arguments(SubmitInputSchema)
@assignments_blp.response(200, ReceiptSchema)
@assignments_blp.alt_response(
    409,
    description="No draft to submit, already submitted, or past the cut-off without an extension",
    **CONFLICT,
)
@roles_required(Role.TRAINEE)
def submit(data, assignment_id: int):
    """Hand the draft in for marking (`declaration` must be true); answers the receipt, also sent by email."""
    return handing_in.submit(current_user, _own_draft(_assignment(assignment_id)), data["declaration"])


# --- staff views of an assignment --------------------------------------------------------


@assignments_blp.route("/<int:assignment_id>/submissions", methods=["GET"])
@assignments_blp.arguments(SubmissionQuerySchema, location="query")
@assignments_blp.response(200, SubmissionPageSchema)
@roles_required(Role.ADMIN)
def list_submissions(query, assignment_id: int):
    """An assignment's submitted work, newest first; `state` narrows it (or `unallocated`)."""
    assignment = get_assignment(assignment_id)
    statement = (
        select(Submission)
        .where(Submission.assignment_id == assignment.id, Submission.status == SubmissionStatus.SUBMITTED)
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
    )
    state = query.get("state")
    if state == "unallocated":
        statement = statement.where(Submission.marker_id.is_(None))
    elif state:
        statement = statement.where(Submission.state == MarkingState(state))
    return _dump_page(paginate(statement, query["page"], query["per_page"]))


def _extension_views(assignment: Assignment, extensions: list[Extension]) -> list[dict]:
    """Extensions with their trainee and participant number (two queries whatever their number)."""
    user_ids = {e.user_id for e in extensions}
    people, numbers = {}, {}
    if user_ids:
        # The trainees and the granters in one query.
        person_ids = user_ids | {e.granted_by_id for e in extensions} - {None}
        people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(person_ids)))}
        numbers = dict(
            db.session.execute(
                select(Participant.user_id, Participant.number).where(
                    Participant.assignment_id == assignment.id, Participant.user_id.in_(user_ids)
                )
            ).all()
        )
    return [
        {
            "id": e.id,
            "assignment_id": e.assignment_id,
            "user_id": e.user_id,
            "user": people.get(e.user_id),
            "participant": numbers.get(e.user_id),
            "due_at": e.due_at,
            "reason": e.reason,
            "granted_by": people.get(e.granted_by_id),
            "granted_at": e.granted_at,
        }
        for e in extensions
    ]


@assignments_blp.route("/<int:assignment_id>/extensions", methods=["GET"])
@assignments_blp.arguments(PageQuerySchema, location="query")
@assignments_blp.response(200, ExtensionPageSchema)
@roles_required(Role.ADMIN)
def list_extensions(query, assignment_id: int):
    """An assignment's extensions, latest deadline first."""
    assignment = get_assignment(assignment_id)
    page = _page_of_list(handing_in.extensions_of(assignment), query)
    page.items = _extension_views(assignment, page.items)
    return page_body(page)


@assignments_blp.route("/<int:assignment_id>/extensions", methods=["POST"])
@assignments_blp.arguments(AdminExtensionInputSchema)
@assignments_blp.response(201, ExtensionSchema)
@roles_required(Role.ADMIN)
def create_extension(data, assignment_id: int):
    """Give a trainee on the course until `due_at` (due date and cut-off), with a reason; they are told."""
    assignment = get_assignment(assignment_id)
    _utc(data, "due_at")
    trainee = db.session.scalar(
        select(User)
        .join(Enrolment, Enrolment.user_id == User.id)
        .where(User.id == data["user_id"], Enrolment.course_id == assignment.course_id)
    )
    if trainee is None:
        raise InvalidInput.for_field("user_id", "That person is not on this assignment's course.")
    extension = handing_in.grant_extension(current_user, assignment, trainee, data["due_at"], data["reason"])
    return _extension_views(assignment, [extension])[0]


@assignments_blp.route("/<int:assignment_id>/grade-history", methods=["GET"])
@assignments_blp.arguments(PageQuerySchema, location="query")
@assignments_blp.response(200, GradeChangePageSchema)
@roles_required(Role.ADMIN)
def grade_history(query, assignment_id: int):
    """Every change to a mark of this assignment after it was first saved, newest first."""
    assignment = get_assignment(assignment_id)
    page = paginate(marking.grade_history_query(assignment), query["page"], query["per_page"], scalars=False)
    page.items = [
        {
            "id": change.id,
            "submission_id": submission.id,
            "user_id": submission.user_id,
            "participant": submission.participant.number,
            "attempt": submission.attempt,
            "changed_at": change.changed_at,
            "changed_by": change.changed_by,
            "from_total": change.from_total,
            "to_total": change.to_total,
            "from_outcome": change.from_outcome,
            "to_outcome": change.to_outcome,
            "what": change.what,
            "reason": change.reason,
            "is_after_release": change.is_after_release,
        }
        for change, submission in page.items
    ]
    return page_body(page)


# --- assessor pools -------------------------------------------------------------------------


@pools_blp.route("/<int:course_id>/assessors", methods=["GET"])
@pools_blp.response(200, AssessorPoolSchema)
@roles_required(Role.ADMIN)
def get_pool(course_id: int):
    """The assessors who mark a course's assignments, by name."""
    course = catalogue.get_course(current_user, course_id)
    return {"course_id": course.id, "assessors": pool_of(course.id)}


@pools_blp.route("/<int:course_id>/assessors", methods=["PUT"])
@pools_blp.arguments(PoolInputSchema)
@pools_blp.response(200, AssessorPoolSchema)
@roles_required(Role.ADMIN)
def put_pool(data, course_id: int):
    """Make these assessors the course's pool (allocations stay); someone without the assessor role is 422."""
    course = catalogue.get_course(current_user, course_id)
    return {"course_id": course.id, "assessors": set_pool(current_user, course, data["assessor_ids"])}


# --- submissions ----------------------------------------------------------------------------


@submissions_blp.route("", methods=["GET"])
@submissions_blp.arguments(QueueQuerySchema, location="query")
@submissions_blp.response(200, SubmissionPageSchema)
@roles_required(Role.ASSESSOR, Role.ADMIN)
def marking_queue(query):
    """The caller's marking queue by marking due date (or, `queue=moderation`, marks to moderate)."""
    if query["queue"] == "moderation":
        statement = moderation.moderation_queue_query(current_user)
        if query.get("course_id"):
            statement = statement.join(Assignment, Assignment.id == Submission.assignment_id).where(
                Assignment.course_id == query["course_id"]
            )
        if query.get("assignment_id"):
            statement = statement.where(Submission.assignment_id == query["assignment_id"])
        if query.get("state"):
            statement = statement.where(Submission.state == query["state"])
        if query.get("late") is not None:
            statement = statement.where(Submission.is_late.is_(query["late"]))
    else:
        filters = QueueFilter(
            course_id=query.get("course_id"),
            assignment_id=query.get("assignment_id"),
            state=query.get("state"),
            is_late=query.get("late"),
        )
        statement = marking.queue_query(current_user, filters)
    return _dump_page(paginate(statement, query["page"], query["per_page"]))


@submissions_blp.route("/<int:submission_id>", methods=["GET"])
@submissions_blp.response(200, SubmissionSchema)
@roles_required(Role.TRAINEE, Role.ASSESSOR, Role.ADMIN)
def get_submission(submission_id: int):
    """One submission: the trainee's own, or (staff) one allocated to the caller or for them to moderate."""
    return _dump_submission(get_for_viewer(current_user, submission_id))


@submissions_blp.route("/<int:submission_id>/mark", methods=["PUT"])
@submissions_blp.arguments(MarkInputSchema)
@submissions_blp.response(200, SubmissionSchema)
@submissions_blp.alt_response(
    409,
    description="The mark changed since `version` was read (reload), or its state forbids a change",
    **CONFLICT,
)
@roles_required(Role.ASSESSOR, Role.ADMIN)
def put_mark(data, submission_id: int):
    """Save the mark as a draft or (`finish`) finish marking; a change after release needs a `reason`."""
    submission = get_for_staff(current_user, submission_id)
    marking.save_mark(
        current_user,
        submission,
        {"levels": data.get("levels") or {}, "points": data.get("points")},
        expected_version=data["version"],
        is_final=data["finish"],
        feedback=data.get("feedback"),
        reason=data["reason"],
    )
    return _dump_submission(submission)


@submissions_blp.route("/<int:submission_id>/moderation", methods=["POST"])
@submissions_blp.arguments(ModerationInputSchema)
@submissions_blp.response(200, SubmissionSchema)
@submissions_blp.alt_response(
    409, description="Not waiting for moderation, or the mark changed since `version` was read", **CONFLICT
)
@roles_required(Role.ASSESSOR, Role.ADMIN)
def moderate(data, submission_id: int):
    """Agree with the first mark or change it (a complete mark, with `notes`): then ready for release."""
    submission = get_for_staff(current_user, submission_id)
    moderation.moderate(
        current_user,
        submission,
        ModerationDecision(data["decision"]),
        expected_version=data["version"],
        data={"levels": data.get("levels") or {}, "points": data.get("points")},
        notes=data["notes"],
    )
    return _dump_submission(submission)


@submissions_blp.route("/<int:submission_id>/extension", methods=["POST"])
@submissions_blp.arguments(ExtensionInputSchema)
@submissions_blp.response(201, ExtensionSchema)
@roles_required(Role.ASSESSOR, Role.ADMIN)
def grant_extension(data, submission_id: int):
    """Give the trainee of this submission until `due_at` (admins, or the allocated assessor)."""
    submission = get_for_staff(current_user, submission_id)
    _utc(data, "due_at")
    trainee = db.session.get(User, submission.user_id)
    extension = handing_in.grant_extension(
        current_user, submission.assignment, trainee, data["due_at"], data["reason"]
    )
    view = _extension_views(submission.assignment, [extension])[0]
    if sees_identity(current_user, submission.assignment):
        return view
    return jsonify(ExtensionSchema(exclude=ExtensionSchema.IDENTITY).dump(view)), 201


@submissions_blp.route("/release", methods=["POST"])
@submissions_blp.arguments(SubmissionIdsSchema)
@submissions_blp.response(200, ReleasedSchema)
@submissions_blp.alt_response(
    409, description="Some are not marked yet or still need moderation (nothing released)", **CONFLICT
)
@roles_required(Role.ADMIN)
def release(data):
    """Release marks to their trainees, all or none; each trainee is told (released ones are skipped)."""
    return {"released": marking.release(current_user, _submissions_by_id(data["submission_ids"]))}


@submissions_blp.route("/allocate", methods=["POST"])
@submissions_blp.arguments(AllocateInputSchema)
@submissions_blp.response(200, AllocatedSchema)
@roles_required(Role.ADMIN)
def allocate(data):
    """Allocate submissions to an assessor of their course, or (`marker_id: null`) balance them by load."""
    chosen = _submissions_by_id(data["submission_ids"])
    marker = None
    if data["marker_id"] is not None:
        marker = db.session.get(User, data["marker_id"])
        if marker is None:
            raise InvalidInput.for_field("marker_id", "There is no such assessor.")
    return {"allocated": allocation.allocate(current_user, chosen, marker)}
