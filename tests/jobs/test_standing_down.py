"""What a scheduler that lost its lock, and then got it back, leaves behind (found by the fault tests).

A job run that started before the loss must never commit, even once the same process holds
the lock again (another process may have run the job in between), and its run record must
not stay "running" for ever. A run whose database went away while it rolled back is still
recorded once the database is back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from lms.jobs.models import JobRun, RunOutcome
from lms.jobs.registry import Job, every
from lms.jobs.runner import run_job
from lms.jobs.scheduler import SchedulerProcess


class SwitchableLeadership:
    """A lock the test gives and takes away."""

    def __init__(self):
        self.is_held = False
        self.available = True

    def acquire(self) -> bool:
        self.is_held = self.available
        return self.is_held

    def renew(self) -> bool:
        self.is_held = self.is_held and self.available
        return self.is_held

    def confirm(self) -> bool:
        return self.is_held

    def release(self) -> None:
        self.is_held = False


def _process(app, monkeypatch) -> tuple[SchedulerProcess, SwitchableLeadership, list]:
    monkeypatch.setitem(app.extensions, "lms_jobs", {})
    leadership = SwitchableLeadership()
    process = SchedulerProcess(app, leadership=leadership)
    guards = []
    monkeypatch.setattr("lms.jobs.scheduler.run_job", lambda app, job, guard, **kwargs: guards.append(guard))
    return process, leadership, guards


def test_a_run_from_before_a_stand_down_may_not_commit_after_the_lock_comes_back(app, db, monkeypatch):
    process, leadership, guards = _process(app, monkeypatch)
    job = Job("slow", lambda now: None, every(minutes=1), "Slow.")
    try:
        process.tick()
        assert process.active.is_set()
        process.run(job)
        (before,) = guards
        assert before()

        leadership.available = False
        process.tick()
        assert not process.active.is_set() and not before()

        # The lock comes back to the same process: the old run (another process may have run
        # the job meanwhile) still may not commit; a new run may.
        leadership.available = True
        process.tick()
        assert process.active.is_set()
        process.run(job)
        assert not before() and guards[-1]()
    finally:
        process.stop()


def test_its_own_runs_from_before_a_stand_down_are_marked_interrupted(app, db, monkeypatch):
    process, _leadership, _guards = _process(app, monkeypatch)
    db.session.add(JobRun(job="slow", process=process.process, outcome=RunOutcome.RUNNING, counts={}))
    db.session.commit()
    try:
        process.tick()
        assert process.active.is_set()
    finally:
        process.stop()
    db.session.expire_all()
    assert db.session.scalar(select(JobRun.outcome).where(JobRun.job == "slow")) == RunOutcome.INTERRUPTED


def test_a_run_whose_rollback_fails_is_still_recorded(app, db, monkeypatch):
    real_rollback = db.session.rollback
    failures = []

    def rollback():
        real_rollback()
        if not failures:
            failures.append(1)
            raise OperationalError("ROLLBACK", {}, Exception("server closed the connection"))

    def job(now):
        monkeypatch.setattr(db.session, "rollback", rollback)
        raise RuntimeError("boom")

    result = run_job(app, Job("fails", job, every(minutes=1), "Fails."))
    assert result.outcome == RunOutcome.FAILED and failures
    db.session.expire_all()
    assert db.session.get(JobRun, result.run_id).outcome == RunOutcome.FAILED
