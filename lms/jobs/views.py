"""Admin pages: the scheduled jobs (with "run now") and the email outbox (with "retry")."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms import audit, mail
from lms.forms import ConfirmForm
from lms.jobs import status
from lms.jobs.models import RunOutcome
from lms.jobs.registry import registered_jobs
from lms.pagination import page_arg, paginate
from lms.permissions import Role, roles_required

bp = Blueprint("jobs_admin", __name__, url_prefix="/admin/jobs", template_folder="templates")


@bp.route("")
@roles_required(Role.ADMIN)
def jobs():
    """Every job: schedule, last run, next run, and which scheduler is active."""
    job = request.args.get("job") or None
    if job is not None and job not in registered_jobs():
        abort(404, "There is no such job.")
    return render_template(
        "jobs/jobs.html",
        overview=status.overview(),
        runs=status.recent_runs(page_arg(), job=job),
        job_filter=job,
        outbox=mail.outbox_counts(),
        form=ConfirmForm(),
        RunOutcome=RunOutcome,
    )


@bp.route("/<name>/run", methods=["POST"])
@roles_required(Role.ADMIN)
def run_now(name: str):
    """Ask the active scheduler to run a job now."""
    if name not in registered_jobs():
        abort(404, "There is no such job.")
    run_request = status.request_run(current_user, name)
    audit.record(current_user, "job.run_requested", run_request, after={"job": name})
    if status.active_scheduler() is None:
        flash(f"{name} is asked for. No scheduler is running: it runs when one starts.", "warning")
    else:
        flash(f"{name} will run within a few seconds, once the active scheduler takes it.", "success")
    return redirect(url_for("jobs_admin.jobs"))


@bp.route("/outbox")
@roles_required(Role.ADMIN)
def outbox():
    """Emails by status: failed ones first, each with a retry button."""
    raw = request.args.get("status", "failed")
    try:
        chosen = mail.EmailStatus(raw) if raw else None
    except ValueError:
        abort(400, "The status must be one of: " + ", ".join(s.value for s in mail.EmailStatus) + ".")
    return render_template(
        "jobs/outbox.html",
        page=paginate(mail.outbox_query(chosen), page_arg(), 25),
        chosen=chosen,
        counts=mail.outbox_counts(),
        statuses=list(mail.EmailStatus),
        form=ConfirmForm(),
    )


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@roles_required(Role.ADMIN)
def retry_email(message_id: int):
    """Send a failed email again."""
    message = mail.retry(message_id)
    if message is None:
        abort(404, "There is no failed email with that number.")
    audit.record(current_user, "email.retried", message, after={"recipient": message.recipient})
    flash(f"The email to {message.recipient} will be sent again.", "success")
    return redirect(url_for("jobs_admin.outbox"))
