"""``flask --app lms scheduler`` and ``flask --app lms jobs list|run``."""

from __future__ import annotations

import logging
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from lms.database import utcnow
from lms.extensions import db
from lms.jobs import status
from lms.jobs.lock import leadership_for
from lms.jobs.models import JobRequest, JobRun, RunOutcome
from lms.jobs.registry import registered_jobs
from lms.jobs.runner import run_job


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduler in the foreground: one process among any number is active."""
    from lms.jobs.scheduler import SchedulerProcess

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()
    db.session.remove()
    SchedulerProcess(app).run_forever()


@click.group("jobs")
def jobs_group() -> None:
    """List the scheduled jobs, or run one now."""


@jobs_group.command("list")
@with_appcontext
def list_command() -> None:
    """Each job with its schedule, last run and next run, and the active scheduler."""
    overview = status.overview()
    active = overview.active
    if active is None:
        click.echo("Active scheduler: none (start one with `flask --app lms scheduler`)")
    else:
        since = f"{active.acquired_at:%Y-%m-%d %H:%M:%S} UTC"
        click.echo(f"Active scheduler: {active.host} pid {active.pid}, since {since}")
    click.echo()
    rows = [("JOB", "SCHEDULE (Europe/London)", "LAST RUN", "OUTCOME", "NEXT RUN")]
    for row in overview.jobs:
        last = row.last_run
        rows.append(
            (
                row.job.name,
                row.job.schedule.describe(),
                f"{last.started_at:%Y-%m-%d %H:%M} UTC" if last else "never",
                last.outcome.value if last else "",
                f"{row.next_run:%Y-%m-%d %H:%M} UTC" if row.next_run else "when a scheduler runs",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip())


@jobs_group.command("run")
@click.argument("name")
@click.option("--wait", default=120, show_default=True, help="Seconds to wait for the active scheduler.")
@with_appcontext
def run_command(name: str, wait: int) -> None:
    """Run job NAME once, now, through the scheduler lock.

    With no active scheduler, this command takes the lock and runs the job itself; otherwise
    it asks the active scheduler, which runs it within seconds, and waits for the outcome.
    """
    app = current_app._get_current_object()
    job = registered_jobs(app).get(name)
    if job is None:
        raise click.ClickException(f"No job is called {name!r}. Known: {', '.join(registered_jobs(app))}.")
    db.session.remove()
    leadership = leadership_for(app)
    if leadership.acquire():
        try:
            result = run_job(app, job, guard=leadership.confirm)
        finally:
            leadership.release()
        _report(result.outcome, result.counts, result.error)
        return

    request = JobRequest(job=name, requested_at=utcnow())
    db.session.add(request)
    db.session.commit()
    click.echo(f"Asked the active scheduler to run {name}; waiting up to {wait} s.")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.5)
        db.session.rollback()  # a fresh snapshot each time
        run = db.session.scalar(
            select(JobRun).join(JobRequest, JobRequest.run_id == JobRun.id).where(JobRequest.id == request.id)
        )
        if run is not None and run.outcome != RunOutcome.RUNNING:
            _report(run.outcome, run.counts, run.error)
            return
    raise click.ClickException("The active scheduler has not run the job yet; it stays asked for.")


def _report(outcome: RunOutcome, counts: dict, error: str | None) -> None:
    summary = ", ".join(f"{key}: {value}" for key, value in counts.items()) or "nothing to do"
    if outcome == RunOutcome.SUCCEEDED:
        click.echo(f"Succeeded ({summary}).")
        return
    lines = (error or "").strip().splitlines()
    raise click.ClickException(f"{outcome.label}: {lines[-1] if lines else 'no detail recorded'}")


COMMANDS = (scheduler_command, jobs_group)
