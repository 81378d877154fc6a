"""What the admin page and ``flask jobs list`` show: each job, its runs, the active scheduler."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from lms.database import utcnow
from lms.errors import InvalidInput
from lms.extensions import db
from lms.jobs.lock import active_scheduler
from lms.jobs.models import JobRequest, JobRun, SchedulerLease
from lms.jobs.registry import Job, registered_jobs
from lms.jobs.runner import last_runs
from lms.pagination import Page, paginate


@dataclass(frozen=True)
class JobRow:
    """One job as the overview shows it."""

    job: Job
    last_run: JobRun | None
    #: ``None`` while no scheduler is running: nothing will run until one starts.
    next_run: dt.datetime | None
    #: A "run now" asked for and not yet taken by a scheduler.
    is_requested: bool


@dataclass(frozen=True)
class Overview:
    """Every job, and who runs them."""

    jobs: list[JobRow]
    active: SchedulerLease | None


def overview(now: dt.datetime | None = None) -> Overview:
    """Each job with its last run, next run and any waiting request (four queries)."""
    now = now or utcnow()
    jobs = registered_jobs()
    runs = last_runs(list(jobs))
    waiting = set(
        db.session.scalars(select(JobRequest.job).where(JobRequest.claimed_at.is_(None)).distinct())
    )
    active = active_scheduler()
    rows = [
        JobRow(job, runs.get(name), job.schedule.next_run(now) if active else None, name in waiting)
        for name, job in jobs.items()
    ]
    return Overview(rows, active)


def request_run(actor, name: str) -> JobRequest:
    """Ask the active scheduler to run job ``name`` now (it takes requests every few seconds).

    :raises InvalidInput: on ``job`` when no job has that name.
    """
    if name not in registered_jobs():
        raise InvalidInput.for_field("job", f"No job is called “{name}”.")
    request = JobRequest(job=name, requested_by_id=getattr(actor, "id", None), requested_at=utcnow())
    db.session.add(request)
    db.session.flush()
    return request


def recent_runs(page: int, per_page: int = 25, job: str | None = None) -> Page:
    """Runs, newest first, optionally of one job."""
    statement = select(JobRun).order_by(JobRun.id.desc())
    if job:
        statement = statement.where(JobRun.job == job)
    return paginate(statement, page, per_page)
