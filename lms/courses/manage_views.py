"""Progress reports and bulk enrolment for admins and organisation managers."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from lms.courses import bulk, chart, reports
from lms.courses.cohorts import course_cohorts, get_cohort
from lms.courses.manage_forms import BulkEnrolForm, ReportFilterForm
from lms.csv import csv_lines
from lms.database import MAX_ID, today
from lms.errors import InvalidInput, NotFound
from lms.forms import apply_domain_errors
from lms.pagination import page_arg
from lms.permissions import Role, roles_required
from lms.storage import services as storage
from lms.templating import add_nav_item

bp = Blueprint("course_manage", __name__, url_prefix="/manage", template_folder="templates")

#: Where the result of the last bulk enrolment waits for the result page (counts only).
BULK_SESSION_KEY = "bulk_enrolment"


def init_manage_nav(app: Flask) -> None:
    """Put "Manage training" in the navigation of org managers and admins."""
    add_nav_item(app, "Manage training", "course_manage.staff", Role.ORG_MANAGER, Role.ADMIN, order=60)


# --- helpers ---------------------------------------------------------------------------


def _filter_form(**options) -> ReportFilterForm:
    form = ReportFilterForm(request.args)
    form.prepare(reports.organisations_to_pick(current_user), **options)
    return form


# --- reports ---------------------------------------------------------------------------


@bp.route("/staff")
@roles_required(Role.ADMIN, Role.ORG_MANAGER)
def staff():
    """An organisation's people with their enrolments; admins pick the organisation."""
    form = _filter_form(with_status=False, with_search=True, everyone="Choose an organisation")
    _status, organisation_id, q = form.chosen()
    scope = reports.scope_for(current_user, organisation_id)
    page = reports.staff_overview(scope, q=q, page=page_arg())
    return render_template("courses/manage/staff.html", form=form, scope=scope, page=page, q=q)


@bp.route("/courses")
@roles_required(Role.ADMIN, Role.ORG_MANAGER)
def courses():
    """Courses with enrolment counts and completion rates for the people the actor may see."""
    form = _filter_form(with_status=False)
    _status, organisation_id, _q = form.chosen()
    scope = reports.scope_for(current_user, organisation_id)
    page = reports.courses_overview(current_user, scope, page=page_arg())
    return render_template("courses/manage/courses.html", form=form, scope=scope, page=page)


def _progress_page(course, cohort):
    form = _filter_form()
    status, organisation_id, _q = form.chosen()
    report = reports.progress_report(
        current_user, course, cohort, status=status, organisation_id=organisation_id, page=page_arg()
    )
    subject = cohort.name if cohort else course.title
    svg = chart.completions_chart(
        report.months, chart_id="completions-chart", title=f"Completions per month, {subject}"
    )
    return render_template(
        "courses/manage/progress.html",
        report=report,
        form=form,
        chart=svg,
        cohorts=course_cohorts(course) if cohort is None else [],
        csv_args={
            k: v
            for k, v in {
                "status": status.value if status else None,
                "organisation_id": organisation_id,
                "cohort_id": cohort.id if cohort else None,
            }.items()
            if v
        },
    )


@bp.route("/courses/<int:course_id>/progress")
@roles_required(Role.ADMIN, Role.ORG_MANAGER)
def course_progress(course_id: int):
    """Who is enrolled on a course, how far they are, and its completion rate."""
    course = reports.get_course_for_report(current_user, course_id)
    return _progress_page(course, None)


@bp.route("/cohorts/<int:cohort_id>/progress")
@roles_required(Role.ADMIN, Role.ORG_MANAGER)
def cohort_progress(cohort_id: int):
    """Who is enrolled in a cohort, how far they are, and its completion rate."""
    cohort = reports.get_cohort_for_report(current_user, cohort_id)
    return _progress_page(cohort.course, cohort)


@bp.route("/courses/<int:course_id>/progress.csv")
@roles_required(Role.ADMIN, Role.ORG_MANAGER)
def course_progress_csv(course_id: int):
    """A course's (or one cohort's) progress list as CSV, streamed in batches."""
    course = reports.get_course_for_report(current_user, course_id)
    cohort_id = request.args.get("cohort_id", type=int)
    if cohort_id is not None and not 1 <= cohort_id <= MAX_ID:
        raise NotFound("No such cohort for this course.")
    cohort = get_cohort(course, cohort_id) if cohort_id else None
    form = _filter_form()
    status, organisation_id, _q = form.chosen()
    # The body is read after the request has ended (and committed): each batch of rows is
    # read in an application context of its own. Who may see what is settled here, first.
    rows = reports.progress_rows(
        current_user,
        course,
        cohort,
        status=status,
        organisation_id=organisation_id,
        reading=current_app._get_current_object().app_context,
    )

    def body():
        yield "\ufeff"  # a byte-order mark, so that Excel reads UTF-8
        yield from csv_lines(rows)

    name = f"{course.code}-{cohort.name if cohort else 'all'}-progress-{today().isoformat()}.csv"
    response = Response(body(), mimetype="text/csv")
    response.headers["Content-Disposition"] = storage.content_disposition(storage.safe_filename(name))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- bulk enrolment --------------------------------------------------------------------


@bp.route("/courses/<int:course_id>/bulk-enrol", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.ORG_MANAGER)
def bulk_enrol(course_id: int):
    """Enrol people listed in a CSV file; every row is checked before anyone is enrolled."""
    course = reports.get_course_for_report(current_user, course_id)
    form = BulkEnrolForm()
    form.set_cohorts(course_cohorts(course, not_ended=True))
    if form.validate_on_submit():
        cohort = get_cohort(course, form.cohort_id.data) if form.cohort_id.data else None
        try:
            result = bulk.bulk_enrol(
                current_user, course, form.file.data.read(), cohort, bulk.Mode(form.mode.data)
            )
        except InvalidInput as error:
            apply_domain_errors(form, error)
        else:
            session[BULK_SESSION_KEY] = {
                **result.summary(),
                "course_id": course.id,
                "user_id": current_user.id,
                "cohort": cohort.name if cohort else None,
            }
            flash(*_result_message(result))
            return redirect(url_for("course_manage.bulk_enrol_result", course_id=course.id))
    return (
        render_template("courses/manage/bulk_enrol.html", form=form, course=course, scope=_own_scope()),
        422 if form.errors else 200,
    )


def _result_message(result: bulk.BulkResult) -> tuple[str, str]:
    """A one-line summary for the flash message, and its category."""
    if not result.is_applied:
        return "Nothing was enrolled: some rows have problems.", "error"
    people = "person" if result.enrolled == 1 else "people"
    message = f"{result.enrolled} {people} enrolled"
    if result.waitlisted:
        message += f", {result.waitlisted} on the waiting list"
    problems = result.skipped + result.errors
    if problems:
        message += f"; {problems} row{'s' if problems != 1 else ''} not enrolled (see below)"
    return message + ".", "success" if result.enrolled or result.waitlisted else "warning"


def _own_scope() -> reports.Scope:
    return reports.scope_for(current_user)


@bp.route("/courses/<int:course_id>/bulk-enrol/result")
@roles_required(Role.ADMIN, Role.ORG_MANAGER)
def bulk_enrol_result(course_id: int):
    """What the last bulk enrolment on this course did: counts and the rows not enrolled."""
    course = reports.get_course_for_report(current_user, course_id)
    summary = session.get(BULK_SESSION_KEY)
    if not summary or summary.get("course_id") != course.id or summary.get("user_id") != current_user.id:
        return redirect(url_for("course_manage.bulk_enrol", course_id=course.id))
    report, problems = None, []
    if summary.get("report_id"):
        try:
            report = bulk.get_problem_report(current_user, summary["report_id"])
            problems = bulk.read_problem_report(report)
        except (NotFound, FileNotFoundError):
            report = None
    return render_template(
        "courses/manage/bulk_result.html",
        course=course,
        summary=summary,
        report=report,
        problems=problems,
        shown_limit=bulk.SHOWN_PROBLEMS,
    )


@bp.route("/bulk-enrol/problems/<int:report_id>.csv")
@roles_required(Role.ADMIN, Role.ORG_MANAGER)
def bulk_problems(report_id: int):
    """Download every row a bulk enrolment did not enrol, with the reasons (one's own reports only)."""
    return storage.send(bulk.get_problem_report(current_user, report_id))
