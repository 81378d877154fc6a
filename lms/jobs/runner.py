"""Run one job in one transaction, and record the run.

The runner opens an application context, records that the run started (its own small
transaction, so a run whose process dies still shows), calls the job, commits once, then
runs the :func:`lms.transactions.after_commit` callbacks (e.g. sending the emails the job
queued). On any error, or when the scheduler lost its lock meanwhile, it rolls back and
records why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from lms.database import utcnow
from lms.extensions import db
from lms.jobs.models import JobRequest, JobRun, RunOutcome
from lms.jobs.registry import Job
from lms.transactions import run_after_commit

#: Longest error text kept on a run.
MAX_ERROR_LENGTH = 4000


@dataclass(frozen=True)
class RunResult:
    """How one run ended (what its :class:`JobRun` row records)."""

    run_id: int
    job: str
    outcome: RunOutcome
    counts: dict
    error: str | None


class LostLock(RuntimeError):
    """The scheduler stopped being the active one while the job ran; its work is undone."""


def process_name() -> str:
    """``host:pid`` of this process, as runs and the active-scheduler row show it."""
    return f"{socket.gethostname()[:90]}:{os.getpid()}"


def clock() -> dt.datetime:
    """The time jobs see as "now" (tests and benchmarks may set ``app.extensions['lms_clock']``)."""
    return current_app.extensions.get("lms_clock", utcnow)()


def keep_going() -> bool:
    """Whether the running job may carry on: false once its scheduler lost the lock.

    Jobs that commit along the way (email delivery) check it between batches; outside a
    scheduler it is always true.
    """
    guard = g.get("job_guard")
    return guard is None or guard()


def run_job(
    app: Flask,
    job: Job,
    *,
    process: str | None = None,
    guard: Callable[[], bool] | None = None,
    request_id: int | None = None,
    requested_by_id: int | None = None,
) -> RunResult:
    """Run ``job`` once in its own application context; return how it went.

    ``guard`` says whether this process may still commit (it holds the scheduler lock);
    ``request_id`` is the "run now" request being answered.
    """
    with app.app_context():
        run = JobRun(
            job=job.name,
            started_at=utcnow(),
            process=process or process_name(),
            requested_by_id=requested_by_id,
            counts={},
        )
        db.session.add(run)
        db.session.flush()
        if request_id is not None:
            db.session.execute(update(JobRequest).where(JobRequest.id == request_id).values(run_id=run.id))
        db.session.commit()
        run_id = run.id
        g.request_id = f"job-run:{run_id}"
        g.job_guard = guard

        outcome, counts, error = RunOutcome.SUCCEEDED, {}, None
        try:
            counts = job.func(clock()) or {}
            if guard is not None and not guard():
                raise LostLock("this scheduler lost its lock; the run was undone")
            db.session.commit()
        except Exception as exc:
            # The rollback itself fails when the database went away; the record is still tried.
            with contextlib.suppress(SQLAlchemyError):
                db.session.rollback()
            g.pop("after_commit", None)
            outcome = RunOutcome.INTERRUPTED if isinstance(exc, LostLock) else RunOutcome.FAILED
            error = traceback.format_exc()[-MAX_ERROR_LENGTH:]
            app.logger.error("job %s (run %s) %s: %s", job.name, run_id, outcome.value, exc)
        else:
            run_after_commit()

        try:
            db.session.execute(
                update(JobRun)
                .where(JobRun.id == run_id)
                .values(finished_at=utcnow(), outcome=outcome, counts=_plain(counts), error=error)
            )
            db.session.commit()
        except SQLAlchemyError as exc:
            with contextlib.suppress(SQLAlchemyError):
                db.session.rollback()
            app.logger.error(
                "job %s (run %s) finished %s but was not recorded: %s", job.name, run_id, outcome, exc
            )
        db.session.remove()
        return RunResult(run_id, job.name, outcome, _plain(counts), error)


def _plain(counts: dict) -> dict:
    """Counts as JSON can hold them: names to numbers or short text."""
    return {str(k): (v if isinstance(v, int | float) else str(v)[:200]) for k, v in dict(counts).items()}


def interrupt_stale_runs(process: str | None) -> int:
    """Mark runs left ``running`` by other processes (or by any, with ``None``) as interrupted.

    Called by a scheduler that has just become the active one: no other process runs jobs.
    """
    statement = update(JobRun).where(JobRun.outcome == RunOutcome.RUNNING)
    if process is not None:
        statement = statement.where(JobRun.process != process)
    return db.session.execute(
        statement.values(
            outcome=RunOutcome.INTERRUPTED,
            finished_at=utcnow(),
            error="Its scheduler stopped before the run ended.",
        )
    ).rowcount


def last_runs(names: list[str]) -> dict[str, JobRun]:
    """The latest run of each job named, in one query."""
    latest = (
        select(JobRun.job, db.func.max(JobRun.id).label("id"))
        .where(JobRun.job.in_(names))
        .group_by(JobRun.job)
    ).subquery()
    runs = db.session.scalars(select(JobRun).join(latest, JobRun.id == latest.c.id)).all()
    return {run.job: run for run in runs}


def last_success(name: str) -> dt.datetime | None:
    """When the latest successful run of ``name`` started."""
    return db.session.scalar(
        select(db.func.max(JobRun.started_at)).where(
            JobRun.job == name, JobRun.outcome == RunOutcome.SUCCEEDED
        )
    )


def prune_runs(now: dt.datetime) -> dict:
    """Delete run records and answered requests older than ``JOB_RUN_RETENTION_DAYS``."""
    cutoff = now - dt.timedelta(days=current_app.config["JOB_RUN_RETENTION_DAYS"])
    requests = db.session.execute(delete(JobRequest).where(JobRequest.requested_at < cutoff)).rowcount
    runs = db.session.execute(
        delete(JobRun).where(JobRun.started_at < cutoff, JobRun.outcome != RunOutcome.RUNNING)
    ).rowcount
    return {"runs deleted": runs, "requests deleted": requests}
