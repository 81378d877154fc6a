"""Offline marking pages: download an assignment's marking worksheet (CSV or XLSX) and upload it back.

The routes live on the marking blueprint (``/marking/assignments/<id>/worksheet...``); the
service (:mod:`lms.assessments.worksheet`) decides what each marker may see and change.
"""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField

from lms.assessments import worksheet
from lms.assessments.identity import sees_identity
from lms.assessments.marking_views import bp
from lms.assessments.worksheet_files import MAX_BYTES, MAX_ROWS, Format
from lms.errors import InvalidInput
from lms.extensions import db
from lms.forms import BaseForm, apply_domain_errors
from lms.permissions import Role, is_admin, roles_required
from lms.storage import services as storage

#: Problems listed on the page after a failed upload (a file of 5,000 bad lines stays readable).
SHOWN_PROBLEMS = 200


class WorksheetForm(BaseForm):
    """The filled-in worksheet to upload."""

    file = FileField(
        "Completed worksheet",
        description=(
            f"The .csv or .xlsx worksheet you downloaded, with marks and feedback filled in: "
            f"up to {MAX_ROWS:,} rows and {MAX_BYTES // (1024 * 1024)} MB."
        ),
        validators=[FileRequired("Choose the worksheet file to upload.")],
    )
    submit = SubmitField("Check and import")


def _send(assignment_id: int, fmt: Format) -> Response:
    assignment = worksheet.get_for_marker(current_user, assignment_id)
    name, body = worksheet.download(current_user, assignment, fmt)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Content-Disposition"] = storage.content_disposition(name)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/assignments/<int:assignment_id>/worksheet.csv")
@roles_required(Role.ASSESSOR, Role.ADMIN)
def worksheet_csv(assignment_id: int):
    """The marking worksheet as CSV (UTF-8 with a byte-order mark), as a download."""
    return _send(assignment_id, Format.CSV)


@bp.route("/assignments/<int:assignment_id>/worksheet.xlsx")
@roles_required(Role.ASSESSOR, Role.ADMIN)
def worksheet_xlsx(assignment_id: int):
    """The marking worksheet as an Excel workbook, as a download."""
    return _send(assignment_id, Format.XLSX)


@bp.route("/assignments/<int:assignment_id>/worksheet", methods=["GET", "POST"])
@roles_required(Role.ASSESSOR, Role.ADMIN)
def worksheet_upload(assignment_id: int):
    """Download links, and the upload of a filled-in worksheet with its report line by line."""
    assignment = worksheet.get_for_marker(current_user, assignment_id)
    form = WorksheetForm()
    problems: list[worksheet.LineProblem] = []
    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            upload = form.file.data
            try:
                result = worksheet.import_worksheet(
                    current_user, assignment, upload.stream.read(MAX_BYTES + 1), upload.filename
                )
            except worksheet.WorksheetRejected as error:
                db.session.rollback()
                form.form_errors.append(error.message)
                problems, status = error.problems, error.status_code
            except InvalidInput as error:
                db.session.rollback()
                apply_domain_errors(form, error)
            else:
                flash(_summary(result), "success")
                if is_admin(current_user):
                    return redirect(url_for("assessment_admin.submissions", assignment_id=assignment.id))
                return redirect(url_for("marking.queue", assignment_id=assignment.id))
    return (
        render_template(
            "assessments/marking/worksheet.html",
            assignment=assignment,
            form=form,
            problems=problems,
            is_named=sees_identity(current_user, assignment),
            is_admin=is_admin(current_user),
            shown_limit=SHOWN_PROBLEMS,
        ),
        status,
    )


def _summary(result: worksheet.ImportResult) -> str:
    """The flash message after an import: what was saved, finished and skipped."""

    def count(n: int, word: str) -> str:
        return f"{n} {word}{'s' if n != 1 else ''}"

    message = f"Worksheet imported: {count(result.saved, 'mark')} saved"
    if result.finished:
        message += f", of which {result.finished} finished"
    return message + f"; {count(result.skipped, 'row')} left blank or unchanged."
