"""Assessor pages: the marking queue, the marking page, moderation, extensions for allocated work."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from lms.accounts.models import User
from lms.assessments import moderation as moderating
from lms.assessments.assignments import current_version
from lms.assessments.forms import ExtensionForm, MarkForm, ModerationForm, QueueForm
from lms.assessments.identity import author_labels, download_name
from lms.assessments.marking import (
    QueueFilter,
    changes_of,
    get_for_staff,
    is_marker,
    mark_of,
    queue_query,
    save_mark,
)
from lms.assessments.models import (
    Assignment,
    MarkingState,
    ModerationDecision,
    SchemeKind,
    Submission,
    course_assessors,
)
from lms.assessments.moderation import moderation_of, moderation_queue_query
from lms.assessments.submissions import (
    attempts_of,
    deadline_for,
    files_of,
    grant_extension,
    may_grant_extension,
    receipt_of,
)
from lms.content import render_markdown
from lms.courses.models import Course
from lms.database import MAX_ID
from lms.errors import DomainError
from lms.extensions import db
from lms.forms import refuse
from lms.pagination import page_arg, paginate
from lms.permissions import Role, is_admin, roles_required
from lms.templating import add_nav_item

bp = Blueprint("marking", __name__, url_prefix="/marking", template_folder="templates")
PER_PAGE = 25


def init_nav(app: Flask) -> None:
    """Put "Marking" in the assessors' navigation."""
    add_nav_item(app, "Marking", "marking.queue", Role.ASSESSOR, order=30)


@bp.route("")
@roles_required(Role.ASSESSOR, Role.ADMIN)
def queue():
    """The assessor's allocated submissions, by marking due date, filterable and paginated."""
    form = QueueForm(request.args)
    courses = list(
        db.session.scalars(
            select(Course)
            .join(course_assessors, course_assessors.c.course_id == Course.id)
            .where(course_assessors.c.user_id == current_user.id)
            .order_by(Course.title)
        )
    )
    assignments = (
        list(
            db.session.scalars(
                select(Assignment)
                .where(Assignment.course_id.in_([c.id for c in courses]))
                .order_by(Assignment.title)
            )
        )
        if courses
        else []
    )
    form.course_id.choices = [
        SelectChoice("", "All courses"),
        *(SelectChoice(c.id, c.title) for c in courses),
    ]
    form.assignment_id.choices = [
        SelectChoice("", "All assignments"),
        *(SelectChoice(a.id, a.title) for a in assignments),
    ]
    filters = QueueFilter()
    is_valid = form.validate()
    if is_valid:
        filters.course_id = form.course_id.data
        filters.assignment_id = form.assignment_id.data
        if form.state.data == "all":
            filters.include_released = True
        elif form.state.data == "overdue":
            filters.is_overdue = True
        elif form.state.data:
            filters.state = MarkingState(form.state.data)
        filters.is_late = {"yes": True, "no": False}.get(form.late.data or "")
    page = paginate(queue_query(current_user, filters), page_arg(), PER_PAGE)
    moderation_count = db.session.scalar(
        select(func.count()).select_from(moderation_queue_query(current_user).order_by(None).subquery())
    )
    return (
        render_template(
            "assessments/marking/queue.html",
            form=form,
            page=page,
            labels=author_labels(current_user, page.items),
            moderation_count=moderation_count,
        ),
        200 if is_valid else 422,
    )


@bp.route("/moderation")
@roles_required(Role.ASSESSOR, Role.ADMIN)
def moderation_queue():
    """Marks waiting for the assessor to moderate."""
    page = paginate(moderation_queue_query(current_user), page_arg(), PER_PAGE)
    return render_template(
        "assessments/marking/moderation_queue.html", page=page, labels=author_labels(current_user, page.items)
    )


def whole_number(value) -> int | None:
    """A posted whole number (an id, a version) that fits a database column, or ``None``."""
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def _level_data(version) -> dict:
    """Rubric levels from the posted ``level-<criterion id>`` fields."""
    if version.kind != SchemeKind.RUBRIC:
        return {}
    return {c.id: request.form.get(f"level-{c.id}") for c in version.criteria}


def _work_context(submission: Submission) -> dict:
    """What a marker or moderator sees of the work."""
    files = files_of([submission.id])[submission.id]
    receipt = receipt_of(submission, files)
    for index, item in enumerate(receipt["files"], start=1):
        item["filename"] = download_name(current_user, submission, item["filename"], index)
    earlier = [
        s for s in attempts_of(submission.user_id, submission.assignment) if s.attempt < submission.attempt
    ]
    return {
        "earlier": earlier,
        "submission": submission,
        "assignment": submission.assignment,
        "author": author_labels(current_user, [submission])[submission.id],
        "receipt": receipt,
        "files": files,
        "text": render_markdown(submission.text) if submission.text else None,
        "deadline": deadline_for(submission.assignment, submission.user_id),
    }


def _render_mark(
    submission: Submission,
    form: MarkForm | None = None,
    *,
    status: int = 200,
    chosen=None,
    extension_form=None,
):
    mark = mark_of(submission)
    version = mark.scheme_version if mark else current_version(submission.assignment)
    if chosen is None:
        chosen = {s.criterion_id: s.level_id for s in mark.scores} if mark else {}
    if form is None:
        form = MarkForm(
            formdata=None,
            points=mark.total if (mark and version.kind == SchemeKind.POINTS) else None,
            feedback=mark.feedback if mark else "",
            version=mark.version if mark else "",
        )
    return (
        render_template(
            "assessments/marking/mark.html",
            form=form,
            mark=mark,
            version=version,
            chosen=chosen,
            history=changes_of(mark) if mark else [],
            moderation=moderation_of(submission),
            can_mark=is_admin(current_user) or is_marker(current_user, submission),
            can_extend=may_grant_extension(current_user, submission.assignment, submission.user_id),
            extension_form=extension_form or ExtensionForm(formdata=None),
            **_work_context(submission),
        ),
        status,
    )


def _staff_submission(submission_id: int) -> Submission:
    return get_for_staff(current_user, submission_id)


@bp.route("/submissions/<int:submission_id>", methods=["GET", "POST"])
@roles_required(Role.ASSESSOR, Role.ADMIN)
def mark(submission_id: int):
    """The marking page: the work, the rubric to choose levels in, the total and outcome, feedback."""
    submission = _staff_submission(submission_id)
    if request.method == "GET":
        return _render_mark(submission)
    form = MarkForm()
    mark = mark_of(submission)
    version_field = form.version.data
    chosen = {}
    if form.validate_on_submit():
        version = mark.scheme_version if mark else current_version(submission.assignment)
        levels = _level_data(version)
        chosen = {k: n for k, v in levels.items() if (n := whole_number(v)) is not None}
        data = {"levels": levels} if version.kind == SchemeKind.RUBRIC else {"points": form.points.data}
        upload = request.files.get("feedback_file")
        try:
            save_mark(
                current_user,
                submission,
                data,
                expected_version=whole_number(version_field),
                is_final=bool(form.finish.data),
                feedback=form.feedback.data or "",
                reason=form.reason.data or "",
                feedback_upload=upload if upload and upload.filename else None,
                remove_feedback_file=bool(form.remove_feedback_file.data),
            )
        except DomainError as error:
            refuse(form, error)
            return _render_mark(submission, form, status=error.status_code, chosen=chosen)
        if form.finish.data:
            flash(
                "Marking finished."
                + (
                    " The mark is in the moderation sample."
                    if submission.state == MarkingState.IN_MODERATION
                    else ""
                ),
                "success",
            )
            return redirect(url_for("marking.queue"))
        flash("Your marking is saved as a draft.", "success")
        return redirect(url_for("marking.mark", submission_id=submission.id))
    return _render_mark(submission, form, status=422, chosen=chosen)


@bp.route("/submissions/<int:submission_id>/moderate", methods=["GET", "POST"])
@roles_required(Role.ASSESSOR, Role.ADMIN)
def moderate(submission_id: int):
    """Moderation: see the first mark, then agree or change it."""
    submission = _staff_submission(submission_id)
    mark = mark_of(submission)
    form = (
        ModerationForm()
        if request.method == "POST"
        else ModerationForm(
            formdata=None, version=mark.version if mark else "", points=mark.total if mark else None
        )
    )
    chosen = {s.criterion_id: s.level_id for s in mark.scores} if mark else {}
    status = 200
    if request.method == "POST":
        version = mark.scheme_version if mark else None
        levels = _level_data(version) if version else {}
        if form.validate_on_submit() and mark is not None:
            decision = ModerationDecision(form.decision.data)
            data = {"levels": levels} if version.kind == SchemeKind.RUBRIC else {"points": form.points.data}
            try:
                moderating.moderate(
                    current_user,
                    submission,
                    decision,
                    expected_version=whole_number(form.version.data) or -1,
                    data=data,
                    notes=form.notes.data or "",
                )
            except DomainError as error:
                refuse(form, error)
                status = error.status_code
                chosen = {k: n for k, v in levels.items() if (n := whole_number(v)) is not None} or chosen
            else:
                flash("Moderation recorded: the mark is ready for release.", "success")
                return redirect(url_for("marking.moderation_queue"))
        else:
            status = 422
    return (
        render_template(
            "assessments/marking/moderate.html",
            form=form,
            mark=mark,
            version=mark.scheme_version if mark else None,
            chosen=chosen,
            moderation=moderation_of(submission),
            **_work_context(submission),
        ),
        status,
    )


@bp.route("/submissions/<int:submission_id>/extension", methods=["POST"])
@roles_required(Role.ASSESSOR, Role.ADMIN)
def extension(submission_id: int):
    """Grant the trainee of an allocated submission an extension (for a resubmission, say)."""
    submission = _staff_submission(submission_id)
    form = ExtensionForm()
    if form.validate_on_submit():
        try:
            grant_extension(
                current_user,
                submission.assignment,
                db.session.get(User, submission.user_id),
                form.due_at.data.replace(tzinfo=dt.UTC),
                form.reason.data,
            )
        except DomainError as error:
            refuse(form, error)
            return _render_mark(submission, status=error.status_code, extension_form=form)
        flash("Extension granted; the trainee has been told.", "success")
        return redirect(url_for("marking.mark", submission_id=submission.id))
    return _render_mark(submission, status=422, extension_form=form)
