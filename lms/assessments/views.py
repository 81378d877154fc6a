"""Trainee pages: my assignments, an assignment with its attempts, drafts, files, submitting; downloads."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from lms.assessments import submissions as handing_in
from lms.assessments.assignments import assignments_of, current_versions, get_assignment
from lms.assessments.forms import DraftForm, SubmitForm, UploadForm
from lms.assessments.identity import download_name
from lms.assessments.marking import get_for_viewer, visible_mark
from lms.assessments.models import Assignment, Submission
from lms.assessments.submissions import (
    attempts_of,
    current_enrolment,
    deadline_for,
    latest_submissions,
    next_attempt_number,
    receipt_of,
    why_closed,
)
from lms.content import render_markdown
from lms.courses.models import Enrolment
from lms.courses.sections import add_course_section
from lms.database import utcnow
from lms.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.forms import apply_domain_errors, refuse
from lms.permissions import Role, authenticated, is_admin, roles_required
from lms.storage import services as storage
from lms.templating import add_nav_item

bp = Blueprint("assessments", __name__, url_prefix="/assignments", template_folder="templates")


def init_nav(app: Flask) -> None:
    """Put "My assignments" in the trainees' navigation and the assignments on course pages."""
    add_nav_item(app, "My assignments", "assessments.mine", Role.TRAINEE, order=15)
    add_course_section(app, "assessments/_course_section.html", course_section, order=20)


def course_section(course, user, enrolment) -> dict | None:
    """The course page's assignments, with the trainee's standing on each (three queries)."""
    assignments = assignments_of([course.id])[course.id]
    if not assignments:
        return None
    latest = latest_submissions(user.id, [a.id for a in assignments]) if enrolment is not None else {}
    return {"assignments": assignments, "latest": latest, "enrolment": enrolment, "course": course}


def _trainee_assignment(assignment_id: int) -> Assignment:
    """An assignment the signed-in trainee may open: on a course they hold a place on (admins: any)."""
    assignment = get_assignment(assignment_id)
    if is_admin(current_user) or current_enrolment(current_user, assignment) is not None:
        return assignment
    # Someone who never had a place sees nothing; one who has attempts keeps their record.
    if db.session.scalar(
        select(Submission.id).where(
            Submission.assignment_id == assignment.id, Submission.user_id == current_user.id
        )
    ):
        return assignment
    raise NotFound("No such assignment.")


@bp.route("")
@roles_required(Role.TRAINEE)
def mine():
    """Every assignment on the courses the trainee holds a place on, with where each stands."""
    enrolments = list(
        db.session.scalars(
            select(Enrolment).where(Enrolment.user_id == current_user.id).order_by(Enrolment.id)
        )
    )
    current = [e for e in enrolments if e.is_current]
    by_course = assignments_of([e.course_id for e in current])
    assignments = sorted((a for items in by_course.values() for a in items), key=lambda a: (a.due_at, a.id))
    latest = latest_submissions(current_user.id, [a.id for a in assignments])
    return render_template("assessments/mine.html", assignments=assignments, latest=latest, now=utcnow())


def _render_assignment(
    assignment: Assignment,
    *,
    draft_form=None,
    upload_form=None,
    submit_form=None,
    status: int = 200,
    receipt=None,
):
    attempts = attempts_of(current_user.id, assignment)
    draft = attempts[-1] if attempts and not attempts[-1].is_submitted else None
    deadline = deadline_for(assignment, current_user.id)
    now = utcnow()
    next_number = None if draft else next_attempt_number(attempts, assignment)
    closed = why_closed(assignment, deadline, now)
    enrolment = current_enrolment(current_user, assignment)
    can_work = enrolment is not None and (draft is not None or next_number is not None) and not closed
    marks = {s.id: visible_mark(current_user, s) for s in attempts if s.is_submitted}
    versions = {m.scheme_version_id: m.scheme_version for m in marks.values() if m is not None}
    scheme = current_versions([assignment.id]).get(assignment.id)
    if draft_form is None:
        draft_form = DraftForm(
            formdata=None,
            text=draft.text if draft else (attempts[-1].text if attempts else ""),
            revision=draft.draft_revision if draft else 0,
        )
    return (
        render_template(
            "assessments/assignment.html",
            assignment=assignment,
            brief=render_markdown(assignment.brief),
            attempts=attempts,
            draft=draft,
            deadline=deadline,
            now=now,
            next_number=next_number,
            closed=closed,
            can_work=can_work,
            enrolment=enrolment,
            marks=marks,
            versions=versions,
            scheme=scheme,
            receipts={s.id: receipt_of(s, s.files) for s in attempts if s.is_submitted},
            rendered={s.id: render_markdown(s.text) for s in attempts if s.is_submitted and s.text},
            draft_form=draft_form,
            upload_form=upload_form or UploadForm(formdata=None),
            submit_form=submit_form or SubmitForm(formdata=None),
            receipt=receipt,
            page_has_errors=status >= 400,
        ),
        status,
    )


@bp.route("/<int:assignment_id>")
@authenticated
def assignment(assignment_id: int):
    """An assignment: the brief, the dates, each attempt with its receipt and released mark, the draft."""
    return _render_assignment(_trainee_assignment(assignment_id))


def _wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


@bp.route("/<int:assignment_id>/draft", methods=["POST"])
@roles_required(Role.TRAINEE)
def save_draft(assignment_id: int):
    """Save the online text (the page's autosave posts here too, and gets JSON back)."""
    assignment = _trainee_assignment(assignment_id)
    form = DraftForm()
    if not form.validate_on_submit():
        if _wants_json():
            message = (
                "; ".join(e for errors in form.errors.values() for e in errors) or "The form had expired."
            )
            return jsonify({"error": {"message": message}}), 422
        return _render_assignment(assignment, draft_form=form, status=422)
    try:
        draft = handing_in.open_draft(current_user, assignment)
        draft = handing_in.save_draft(current_user, draft, form.text.data or "", form.revision_value())
    except DomainError as error:
        refuse(form, error)
        if _wants_json():
            return jsonify({"error": {"message": error.message}}), error.status_code
        return _render_assignment(assignment, draft_form=form, status=error.status_code)
    if _wants_json():
        return jsonify(
            {
                "revision": draft.draft_revision,
                "word_count": draft.word_count,
                "saved_at": draft.draft_saved_at.strftime("%H:%M:%S"),
            }
        )
    flash("Your draft is saved. It is not submitted yet.", "success")
    return redirect(url_for("assessments.assignment", assignment_id=assignment.id, _anchor="your-work"))


@bp.route("/<int:assignment_id>/files", methods=["POST"])
@roles_required(Role.TRAINEE)
def add_file(assignment_id: int):
    """Add a file to the draft (checked by size, type and content)."""
    assignment = _trainee_assignment(assignment_id)
    form = UploadForm()
    if not form.validate_on_submit():
        return _render_assignment(assignment, upload_form=form, status=422)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise InvalidInput.for_field("file", "Choose a file to upload.")
        draft = handing_in.open_draft(current_user, assignment)
        item = handing_in.add_file(current_user, draft, upload.stream, upload.filename)
    except (InvalidInput, Conflict, NotAllowed) as error:
        refuse(form, error)
        return _render_assignment(assignment, upload_form=form, status=error.status_code)
    flash(f"“{item.stored_file.filename}” is added to your draft.", "success")
    return redirect(url_for("assessments.assignment", assignment_id=assignment.id, _anchor="files"))


@bp.route("/<int:assignment_id>/files/<int:file_id>/remove", methods=["POST"])
@roles_required(Role.TRAINEE)
def remove_file(assignment_id: int, file_id: int):
    """Remove a file from the draft."""
    assignment = _trainee_assignment(assignment_id)
    form = UploadForm()
    if not form.validate_on_submit():
        return _render_assignment(assignment, status=400)
    attempts = attempts_of(current_user.id, assignment)
    if not attempts or attempts[-1].is_submitted:
        raise NotFound("No such file on your draft.")
    handing_in.remove_file(current_user, attempts[-1], file_id)
    flash("The file is removed from your draft.", "success")
    return redirect(url_for("assessments.assignment", assignment_id=assignment.id, _anchor="files"))


@bp.route("/<int:assignment_id>/submit", methods=["POST"])
@roles_required(Role.TRAINEE)
def submit(assignment_id: int):
    """Hand the draft in for marking, with the declaration; the receipt is shown and sent."""
    assignment = _trainee_assignment(assignment_id)
    form = SubmitForm()
    if not form.validate_on_submit():
        return _render_assignment(assignment, submit_form=form, status=400)
    attempts = attempts_of(current_user.id, assignment)
    try:
        if not attempts or attempts[-1].is_submitted:
            raise InvalidInput.for_field(
                "text", "There is no draft to submit: write your answer or add a file first."
            )
        receipt = handing_in.submit(current_user, attempts[-1], bool(form.declaration.data))
    except (InvalidInput, Conflict, NotAllowed) as error:
        db.session.rollback()
        if isinstance(error, InvalidInput) and "declaration" in error.fields:
            apply_domain_errors(form, error)
        else:
            form.form_errors.append(error.message)
        return _render_assignment(assignment, submit_form=form, status=error.status_code)
    flash(
        f"Attempt {receipt['attempt']} is submitted. Your receipt is below and has been emailed to you.",
        "success",
    )
    return redirect(
        url_for(
            "assessments.assignment",
            assignment_id=assignment.id,
            _anchor=f"receipt-{receipt['submission_id']}",
        )
    )


# --- downloads ------------------------------------------------------------------------------


@bp.route("/submissions/<int:submission_id>/files/<int:file_id>")
@authenticated
def download(submission_id: int, file_id: int):
    """A handed-in file, always as a download, to the trainee, their marker, moderator and admins."""
    submission = get_for_viewer(current_user, submission_id)
    files = handing_in.files_of([submission.id])[submission.id]
    for index, item in enumerate(files, start=1):
        if item.id == file_id:
            stored = item.stored_file
            response = storage.send(stored, as_attachment=True)
            name = download_name(current_user, submission, stored.filename, index)
            response.headers["Content-Disposition"] = storage.content_disposition(name, True)
            return response
    raise NotFound("No such file.")


@bp.route("/submissions/<int:submission_id>/feedback-file")
@authenticated
def feedback_file(submission_id: int):
    """The marker's feedback file: to staff, and to the trainee once the mark is released."""
    submission = get_for_viewer(current_user, submission_id)
    mark = visible_mark(current_user, submission)
    if mark is None or mark.feedback_file is None:
        raise NotFound("No feedback file.")
    return storage.send(mark.feedback_file, as_attachment=True)
