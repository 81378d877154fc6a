"""The job runner: one transaction per job, after-commit callbacks, run records, pruning."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from lms import audit
from lms.audit import AuditEntry
from lms.database import utcnow
from lms.jobs.models import JobRequest, JobRun, RunOutcome
from lms.jobs.registry import Job, every
from lms.jobs.runner import interrupt_stale_runs, keep_going, last_runs, prune_runs, run_job
from lms.mail import queue_email


def _audits(db, action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def _writes(action: str, *, fail: bool = False, email: bool = False):
    def job(now):
        audit.record(None, action, None, subject_type="test", after={"now": now.isoformat()})
        if email:
            queue_email("someone@example.org", "From a job", "Hello")
        if fail:
            raise RuntimeError("the job broke")
        return {"written": 1}

    return job


def test_a_job_commits_its_work_once_and_records_the_run(db, app):
    result = run_job(app, Job("writer", _writes("test.written"), every(minutes=1), "Writes."))
    assert result.outcome == RunOutcome.SUCCEEDED and result.counts == {"written": 1}
    assert _audits(db, "test.written") == 1
    run = db.session.get(JobRun, result.run_id)
    assert run.outcome == RunOutcome.SUCCEEDED and run.finished_at >= run.started_at
    assert run.counts == {"written": 1} and run.error is None and ":" in run.process
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "test.written"))
    assert entry.request_id == f"job-run:{run.id}"


def test_after_commit_callbacks_run_once_the_job_has_committed(db, app, outbox):
    run_job(app, Job("mailer", _writes("test.mailed", email=True), every(minutes=1), "Mails."))
    assert [m["subject"] for m in outbox] == ["From a job"]


def test_a_failing_job_is_rolled_back_and_its_error_recorded(db, app, outbox):
    result = run_job(
        app, Job("broken", _writes("test.broken", fail=True, email=True), every(minutes=1), "Breaks.")
    )
    assert result.outcome == RunOutcome.FAILED and "the job broke" in result.error
    assert _audits(db, "test.broken") == 0 and outbox == []
    run = db.session.get(JobRun, result.run_id)
    assert run.outcome == RunOutcome.FAILED and "RuntimeError: the job broke" in run.error


def test_a_job_whose_scheduler_lost_the_lock_commits_nothing(db, app, outbox):
    job = Job("late", _writes("test.late", email=True), every(minutes=1), "Late.")
    result = run_job(app, job, guard=lambda: False)
    assert result.outcome == RunOutcome.INTERRUPTED
    assert _audits(db, "test.late") == 0 and outbox == []


def test_keep_going_follows_the_guard(db, app):
    seen = []
    run_job(
        app,
        Job("looks", lambda now: seen.append(keep_going()), every(minutes=1), "Looks."),
        guard=lambda: True,
    )
    assert seen == [True] and keep_going() is True  # outside a scheduler, always


def test_the_run_answers_its_request(db, app):
    request = JobRequest(job="asked", requested_at=utcnow())
    db.session.add(request)
    db.session.commit()
    result = run_job(app, Job("asked", lambda now: None, every(minutes=1), "Asked."), request_id=request.id)
    db.session.refresh(request)
    assert request.run_id == result.run_id


def test_the_clock_can_be_set(db, app, monkeypatch):
    moment = dt.datetime(2027, 3, 28, 6, tzinfo=dt.UTC)
    monkeypatch.setitem(app.extensions, "lms_clock", lambda: moment)
    seen = []
    run_job(app, Job("clock", seen.append, every(minutes=1), "Clock."))
    assert seen == [moment]


def test_runs_left_running_by_a_dead_process_are_marked_interrupted(db):
    db.session.add_all(
        [
            JobRun(job="a", process="other:1", outcome=RunOutcome.RUNNING, counts={}),
            JobRun(job="b", process="me:2", outcome=RunOutcome.RUNNING, counts={}),
        ]
    )
    db.session.flush()
    assert interrupt_stale_runs("me:2") == 1
    outcomes = dict(db.session.execute(select(JobRun.job, JobRun.outcome)).all())
    assert outcomes == {"a": RunOutcome.INTERRUPTED, "b": RunOutcome.RUNNING}


def test_last_runs_gives_the_latest_of_each_job(db, count_queries):
    for job, outcome in (("a", RunOutcome.FAILED), ("a", RunOutcome.SUCCEEDED), ("b", RunOutcome.FAILED)):
        db.session.add(JobRun(job=job, process="p:1", outcome=outcome, counts={}))
        db.session.flush()
    with count_queries() as counter:
        latest = last_runs(["a", "b", "c"])
    assert counter.count == 1
    assert {name: run.outcome for name, run in latest.items()} == {
        "a": RunOutcome.SUCCEEDED,
        "b": RunOutcome.FAILED,
    }


@pytest.mark.parametrize("age_days", [1, 89])
def test_recent_runs_are_kept(db, app, age_days):
    db.session.add(
        JobRun(
            job="a",
            process="p:1",
            outcome=RunOutcome.SUCCEEDED,
            counts={},
            started_at=utcnow() - dt.timedelta(days=age_days),
        )
    )
    db.session.flush()
    assert prune_runs(utcnow())["runs deleted"] == 0


def test_old_runs_and_requests_are_pruned(db, app):
    old = utcnow() - dt.timedelta(days=app.config["JOB_RUN_RETENTION_DAYS"] + 1)
    db.session.add_all(
        [
            JobRun(job="a", process="p:1", outcome=RunOutcome.SUCCEEDED, counts={}, started_at=old),
            JobRun(job="a", process="p:1", outcome=RunOutcome.SUCCEEDED, counts={}),
            JobRequest(job="a", requested_at=old, claimed_at=old),
        ]
    )
    db.session.flush()
    assert prune_runs(utcnow()) == {"runs deleted": 1, "requests deleted": 1}
