"""Admin pages: assignments, marking schemes, assessor pools, submissions, extensions, grade history.

On the submissions page admins allocate, release, choose moderators and reveal identities.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from lms.accounts.models import User
from lms.assessments import allocation, marking
from lms.assessments.assignments import (
    assessors,
    current_version,
    get_assignment,
    is_version_used,
    pool_of,
    save_assignment,
    save_scheme,
    scheme_data,
    set_pool,
)
from lms.assessments.forms import (
    AdminExtensionForm,
    AssignmentForm,
    BulkForm,
    ModeratorForm,
    PoolForm,
    SchemeForm,
)
from lms.assessments.identity import author_labels, reveal_identities
from lms.assessments.models import Assignment, GradeChange, MarkingState, Submission, SubmissionStatus
from lms.assessments.moderation import assign_moderator
from lms.assessments.submissions import extensions_of, grant_extension
from lms.courses.catalogue import get_course
from lms.courses.models import Course, Enrolment
from lms.csv import csv_lines
from lms.database import MAX_ID, utcnow
from lms.errors import DomainError, InvalidInput, NotFound
from lms.extensions import db
from lms.forms import ConfirmForm, apply_domain_errors, refuse
from lms.pagination import page_arg, paginate
from lms.permissions import Role, roles_required
from lms.storage import services as storage
from lms.templating import add_nav_item

bp = Blueprint("assessment_admin", __name__, url_prefix="/admin/assignments", template_folder="templates")
PER_PAGE = 50
#: Empty criterion blocks, and empty level rows per criterion, offered by the scheme form.
BLANK_CRITERIA = 1
LEVEL_ROWS = 5


def init_nav(app: Flask) -> None:
    """Put "Assignments" in the admins' navigation."""
    add_nav_item(app, "Assignments", "assessment_admin.assignments", Role.ADMIN, order=72)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A time typed into a form (no zone; the form says UTC) as an aware UTC datetime."""
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _assignment(assignment_id: int) -> Assignment:
    return get_assignment(assignment_id)


def _fail(form, error: DomainError) -> None:
    refuse(form, error)


@bp.route("")
@roles_required(Role.ADMIN)
def assignments():
    """Every assignment, by course, with counts to act on."""
    course_id = request.args.get("course_id", type=int)
    statement = (
        select(Assignment)
        .join(Course, Course.id == Assignment.course_id)
        .order_by(Course.title, Assignment.due_at)
    )
    if course_id:
        statement = statement.where(Assignment.course_id == course_id)
    page = paginate(statement, page_arg(), PER_PAGE)
    courses = list(db.session.scalars(select(Course).order_by(Course.title)))
    return render_template(
        "assessments/admin/assignments.html", page=page, courses=courses, course_id=course_id
    )


def _assignment_form(assignment: Assignment | None) -> AssignmentForm:
    if assignment is None:
        return AssignmentForm(formdata=None, accepts_text=True, is_required=True, file_types=["pdf", "docx"])
    form = AssignmentForm(formdata=None, obj=assignment)
    form.file_types.data = assignment.extensions
    form.max_file_size_mb.data = max(1, assignment.max_file_size // (1024 * 1024))
    for name in ("opens_at", "due_at", "cutoff_at"):
        value = getattr(assignment, name)
        getattr(form, name).data = value.replace(tzinfo=None) if value else None
    return form


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create():
    """Add an assignment to a course."""
    course = get_course(current_user, request.args.get("course_id", type=int) or 0)
    form = AssignmentForm() if request.method == "POST" else _assignment_form(None)
    if request.method == "POST" and form.validate():
        data = form.data_for_service()
        for name in ("opens_at", "due_at", "cutoff_at"):
            data[name] = as_utc(data[name])
        try:
            assignment = save_assignment(current_user, course, None, data)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(f"“{assignment.title}” is added. Now set how it is marked.", "success")
            return redirect(url_for("assessment_admin.scheme", assignment_id=assignment.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "assessments/admin/assignment_form.html", form=form, course=course, assignment=None
    ), status


@bp.route("/<int:assignment_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit(assignment_id: int):
    """Change an assignment's settings."""
    assignment = _assignment(assignment_id)
    form = AssignmentForm() if request.method == "POST" else _assignment_form(assignment)
    if request.method == "POST" and form.validate():
        data = form.data_for_service()
        for name in ("opens_at", "due_at", "cutoff_at"):
            data[name] = as_utc(data[name])
        try:
            save_assignment(current_user, assignment.course, assignment, data)
        except DomainError as error:
            refuse(form, error)
            assignment = _assignment(assignment_id)
        else:
            flash("The assignment is saved.", "success")
            return redirect(url_for("assessment_admin.submissions", assignment_id=assignment.id))
    status = 422 if form.errors or form.form_errors else 200
    return (
        render_template(
            "assessments/admin/assignment_form.html",
            form=form,
            course=assignment.course,
            assignment=assignment,
        ),
        status,
    )


def _scheme_form(data: dict) -> SchemeForm:
    criteria = list(data.get("criteria") or [])
    criteria += [{"title": "", "description": "", "levels": []}] * BLANK_CRITERIA
    for criterion in criteria:
        levels = list(criterion.get("levels") or [])
        criterion["levels"] = levels + [{"points": None, "descriptor": ""}] * max(1, LEVEL_ROWS - len(levels))
    return SchemeForm(formdata=None, data={**data, "criteria": criteria})


@bp.route("/<int:assignment_id>/scheme", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def scheme(assignment_id: int):
    """Edit the marking scheme; once marks use it, saving makes a new version."""
    assignment = _assignment(assignment_id)
    version = current_version(assignment)
    is_used = is_version_used(version)
    if request.method == "POST":
        posted = SchemeForm()
        if posted.validate():
            try:
                saved = save_scheme(current_user, assignment, posted.data_for_service())
            except DomainError as error:
                db.session.rollback()
                form = _scheme_form(posted.data_for_service() | {"kind": posted.kind.data})
                apply_domain_errors(form, error) if isinstance(
                    error, InvalidInput
                ) else form.form_errors.append(error.message)
                return _render_scheme(assignment, form, version, is_used, 422)
            flash(f"The marking scheme is saved (version {saved.number}).", "success")
            return redirect(url_for("assessment_admin.submissions", assignment_id=assignment.id))
        form = _scheme_form(posted.data_for_service())
        form.form_errors.extend(
            e
            for errors in posted.errors.values()
            for e in (errors if isinstance(errors, list) else [])
            if isinstance(e, str)
        )
        for name in ("pass_mark", "max_points"):
            getattr(form, name).errors = list(getattr(posted, name).errors)
        return _render_scheme(assignment, form, version, is_used, 422)
    return _render_scheme(assignment, _scheme_form(scheme_data(version)), version, is_used, 200)


def _render_scheme(assignment, form, version, is_used, status):
    return (
        render_template(
            "assessments/admin/scheme.html",
            assignment=assignment,
            form=form,
            version=version,
            is_used=is_used,
        ),
        status,
    )


@bp.route("/courses/<int:course_id>/assessors", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def pool(course_id: int):
    """Choose the assessors who mark a course's assignments."""
    course = get_course(current_user, course_id)
    form = PoolForm()
    form.assessor_ids.choices = [SelectChoice(u.id, f"{u.name} ({u.email})") for u in assessors()]
    if request.method == "POST" and form.validate():
        try:
            set_pool(current_user, course, form.assessor_ids.data or [])
        except DomainError as error:
            refuse(form, error)
        else:
            flash(f"The assessors of {course.title} are saved.", "success")
            return redirect(url_for("assessment_admin.assignments", course_id=course.id))
    elif request.method == "GET":
        form.assessor_ids.data = [u.id for u in pool_of(course.id)]
    status = 422 if form.errors or form.form_errors else 200
    return render_template("assessments/admin/pool.html", form=form, course=course), status


# --- submissions ----------------------------------------------------------------------------


def _submissions_page(assignment: Assignment):
    state = request.args.get("state") or ""
    statement = (
        select(Submission)
        .where(Submission.assignment_id == assignment.id, Submission.status == SubmissionStatus.SUBMITTED)
        .options(selectinload(Submission.mark))
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
    )
    if state == "unallocated":
        statement = statement.where(Submission.marker_id.is_(None))
    elif state == "late":
        statement = statement.where(Submission.is_late.is_(True))
    elif state == "overdue":
        statement = statement.where(marking.overdue_clause(utcnow()))
    elif state in {s.value for s in MarkingState}:
        statement = statement.where(Submission.state == MarkingState(state))
    return paginate(statement, page_arg(), PER_PAGE), state


def _render_submissions(assignment: Assignment, form: BulkForm | None = None, status: int = 200):
    page, state = _submissions_page(assignment)
    people_ids = {s.marker_id for s in page.items} | {s.moderator_id for s in page.items}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(people_ids - {None})))}
    pool = pool_of(assignment.course_id)
    form = form or BulkForm(formdata=None)
    form.marker_id.choices = [
        SelectChoice("", "Balance over the assessors"),
        *(SelectChoice(u.id, u.name) for u in pool),
    ]
    return (
        render_template(
            "assessments/admin/submissions.html",
            assignment=assignment,
            page=page,
            state=state,
            labels=author_labels(current_user, page.items),
            people=people,
            pool=pool,
            form=form,
            reveal_form=ConfirmForm(formdata=None),
            version=current_version(assignment),
            extensions=extensions_of(assignment),
        ),
        status,
    )


@bp.route("/<int:assignment_id>/submissions")
@roles_required(Role.ADMIN)
def submissions(assignment_id: int):
    """An assignment's submitted work: allocate, release, and see where each one stands."""
    return _render_submissions(_assignment(assignment_id))


@bp.route("/<int:assignment_id>/submissions", methods=["POST"])
@roles_required(Role.ADMIN)
def bulk(assignment_id: int):
    """Allocate or release the chosen submissions (all or nothing)."""
    assignment = _assignment(assignment_id)
    form = BulkForm()
    form.marker_id.choices = [SelectChoice("", "")]
    if not form.validate():
        return _render_submissions(assignment, form, 400)
    # Ids no table can hold name nothing (and overflow SQLite's integers).
    ids = [i for i in form.submission_ids.data or [] if 0 < i <= MAX_ID]
    chosen = list(
        db.session.scalars(
            select(Submission)
            .where(Submission.id.in_(ids), Submission.assignment_id == assignment.id)
            .order_by(Submission.id)
        )
    )
    try:
        if len(chosen) != len(set(ids)) or not chosen:
            raise InvalidInput.for_field(
                "submission_ids", "Choose at least one submission of this assignment."
            )
        if form.release.data:
            count = marking.release(current_user, chosen)
            flash(f"{count} mark{'s' if count != 1 else ''} released; each trainee has been told.", "success")
        else:
            marker = (
                db.session.get(User, form.marker_id.data)
                if 0 < (form.marker_id.data or 0) <= MAX_ID
                else None
            )
            if form.marker_id.data and marker is None:
                raise InvalidInput.for_field("marker_id", "Choose an assessor of this course.")
            count = allocation.allocate(current_user, chosen, marker)
            flash(f"{count} submission{'s' if count != 1 else ''} allocated.", "success")
    except DomainError as error:
        refuse(form, error)
        return _render_submissions(_assignment(assignment_id), form, error.status_code)
    return redirect(
        url_for(
            "assessment_admin.submissions",
            assignment_id=assignment.id,
            state=request.args.get("state", ""),
        )
    )


@bp.route("/<int:assignment_id>/reveal", methods=["POST"])
@roles_required(Role.ADMIN)
def reveal(assignment_id: int):
    """Reveal the trainees' identities to the markers of a blind-marked assignment (audited)."""
    assignment = _assignment(assignment_id)
    form = ConfirmForm()
    if not form.validate():
        return _render_submissions(assignment, status=400)
    reveal_identities(current_user, assignment)
    flash("Markers now see the trainees' names on this assignment.", "success")
    return redirect(url_for("assessment_admin.submissions", assignment_id=assignment.id))


@bp.route("/submissions/<int:submission_id>/moderator", methods=["POST"])
@roles_required(Role.ADMIN)
def moderator(submission_id: int):
    """Choose who moderates a sampled mark."""
    submission = marking.get_for_staff(current_user, submission_id)
    form = ModeratorForm()
    if not form.validate():
        return _render_submissions(submission.assignment, status=400)
    person = (
        db.session.get(User, form.moderator_id.data) if 0 < (form.moderator_id.data or 0) <= MAX_ID else None
    )
    if person is None:
        raise InvalidInput.for_field("moderator_id", "Choose an assessor of this course.")
    assign_moderator(current_user, submission, person)
    flash(f"{person.name} will moderate this mark.", "success")
    return redirect(url_for("assessment_admin.submissions", assignment_id=submission.assignment_id))


@bp.route("/<int:assignment_id>/extensions", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def extensions(assignment_id: int):
    """The assignment's extensions, and granting one to any enrolled trainee."""
    assignment = _assignment(assignment_id)
    form = AdminExtensionForm()
    trainees = list(
        db.session.scalars(
            select(User)
            .join(Enrolment, Enrolment.user_id == User.id)
            .where(Enrolment.course_id == assignment.course_id)
            .order_by(User.name, User.id)
        )
    )
    form.user_id.choices = [SelectChoice(u.id, f"{u.name} ({u.email})") for u in trainees]
    if request.method == "POST" and form.validate():
        person = next((u for u in trainees if u.id == form.user_id.data), None)
        try:
            if person is None:
                raise NotFound("That trainee is not on this course.")
            grant_extension(current_user, assignment, person, as_utc(form.due_at.data), form.reason.data)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(f"{person.name} has an extension; they have been told.", "success")
            return redirect(url_for("assessment_admin.extensions", assignment_id=assignment.id))
    people = {u.id: u for u in trainees}
    status = 422 if form.errors or form.form_errors else 200
    return (
        render_template(
            "assessments/admin/extensions.html",
            assignment=assignment,
            form=form,
            extensions=extensions_of(assignment),
            people=people,
        ),
        status,
    )


@bp.route("/<int:assignment_id>/grade-history")
@roles_required(Role.ADMIN)
def grade_history(assignment_id: int):
    """Every change to a mark of this assignment after it was first saved."""
    assignment = _assignment(assignment_id)
    page = paginate(marking.grade_history_query(assignment), page_arg(), PER_PAGE, scalars=False)
    submissions_shown = [row[1] for row in page.items]
    return render_template(
        "assessments/admin/grade_history.html",
        assignment=assignment,
        page=page,
        labels=author_labels(current_user, submissions_shown),
    )


GRADE_HISTORY_HEADER = [
    "changed_at",
    "changed_by",
    "submission_id",
    "participant",
    "attempt",
    "from_total",
    "to_total",
    "from_outcome",
    "to_outcome",
    "what",
    "reason",
    "after_release",
]
EXPORT_BATCH = 500


def grade_history_rows(assignment_id: int, reading):
    """The grade history's CSV rows, newest first, read in batches, each in an app context of its own.

    The body of a streamed response is read after the request has ended, so each batch opens
    its own context (``reading``) and session.
    """
    yield GRADE_HISTORY_HEADER
    before_id = None
    while True:
        with reading():
            statement = marking.grade_history_query(db.session.get(Assignment, assignment_id))
            if before_id is not None:
                statement = statement.where(GradeChange.id < before_id)
            batch = db.session.execute(statement.limit(EXPORT_BATCH)).all()
            rows = [
                [
                    change.changed_at.isoformat(),
                    change.changed_by.name if change.changed_by else "",
                    submission.id,
                    submission.participant.number,
                    submission.attempt,
                    "" if change.from_total is None else change.from_total,
                    "" if change.to_total is None else change.to_total,
                    change.from_outcome or "",
                    change.to_outcome or "",
                    change.what,
                    change.reason,
                    "yes" if change.is_after_release else "no",
                ]
                for change, submission in batch
            ]
            before_id = batch[-1][0].id if batch else None
        yield from rows
        if len(batch) < EXPORT_BATCH:
            return


@bp.route("/<int:assignment_id>/grade-history.csv")
@roles_required(Role.ADMIN)
def grade_history_csv(assignment_id: int):
    """The grade history as CSV (RFC 4180, UTF-8 with a byte-order mark), streamed in batches."""
    assignment = _assignment(assignment_id)
    rows = grade_history_rows(assignment.id, current_app._get_current_object().app_context)

    def body():
        yield "\ufeff"
        yield from csv_lines(rows)

    response = Response(body(), mimetype="text/csv")
    response.headers["Content-Disposition"] = storage.content_disposition(
        f"grade-history-{assignment.id}.csv"
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
