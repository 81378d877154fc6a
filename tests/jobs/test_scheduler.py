"""The scheduler process's decisions, without threads: catching up, taking requests, standing down."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select

from lms.database import utcnow
from lms.jobs.lock import LeaseLeadership
from lms.jobs.models import JobRequest, JobRun, RunOutcome
from lms.jobs.registry import Job, daily, every, weekly
from lms.jobs.scheduler import SchedulerProcess

JOBS = {
    "often": Job("often", lambda now: None, every(minutes=1), "Often."),
    "morning": Job("morning", lambda now: None, daily(7), "Mornings."),
    "sunday": Job("sunday", lambda now: None, weekly("sun", 5), "Sundays."),
}


class FakeAPScheduler:
    """Records what would have been scheduled."""

    def __init__(self):
        self.added = []

    def add_job(self, func, **kwargs):
        self.added.append(kwargs)

    def start(self):
        self.added.append("started")

    def shutdown(self, wait=True):
        self.added.append("shut down")


@pytest.fixture
def process(app, db, monkeypatch):
    monkeypatch.setitem(app.extensions, "lms_jobs", JOBS)
    return SchedulerProcess(app, leadership=LeaseLeadership(app, 25))


def _succeeded(db, name: str, at: dt.datetime) -> None:
    db.session.add(JobRun(job=name, process="h:1", outcome=RunOutcome.SUCCEEDED, counts={}, started_at=at))
    db.session.commit()


def test_daily_and_weekly_jobs_without_a_run_since_they_were_due_are_caught_up(db, process):
    assert {job.name for job in process._missed_jobs()} == {"morning", "sunday"}


def test_a_job_that_ran_since_it_was_due_is_not_caught_up(db, process):
    now = utcnow()
    _succeeded(db, "morning", JOBS["morning"].schedule.last_due(now) + dt.timedelta(minutes=1))
    _succeeded(db, "sunday", JOBS["sunday"].schedule.last_due(now) - dt.timedelta(days=1))
    assert {job.name for job in process._missed_jobs()} == {"sunday"}


def test_a_failed_run_does_not_count_as_done(db, process):
    now = utcnow()
    db.session.add(
        JobRun(
            job="morning",
            process="h:1",
            outcome=RunOutcome.FAILED,
            counts={},
            started_at=now - dt.timedelta(seconds=1),
        )
    )
    db.session.commit()
    assert "morning" in {job.name for job in process._missed_jobs()}


def test_requests_are_claimed_once_and_handed_to_apscheduler(db, process):
    db.session.add_all(
        [JobRequest(job="morning", requested_at=utcnow()), JobRequest(job="gone", requested_at=utcnow())]
    )
    db.session.commit()
    process.scheduler = FakeAPScheduler()
    assert process.take_requests() == 1
    assert [added["id"] for added in process.scheduler.added] == [
        f"request-{r}" for r in _claimed(db, "morning")
    ]
    # Both are claimed (the unknown job is dropped, not retried for ever); nothing is taken twice.
    assert db.session.scalar(select(JobRequest).where(JobRequest.claimed_at.is_(None))) is None
    assert process.take_requests() == 0


def _claimed(db, name):
    return list(db.session.scalars(select(JobRequest.id).where(JobRequest.job == name)))


def test_a_process_that_is_not_active_runs_nothing(app, db, process):
    ran = []
    process.run(Job("x", ran.append, every(minutes=1), "X."))
    assert ran == []


def test_losing_the_lock_stops_apscheduler_at_once(db, process, monkeypatch):
    process.active.set()
    process.scheduler = fake = FakeAPScheduler()
    monkeypatch.setattr(process.leadership, "renew", lambda: False)
    process.tick()
    assert not process.active.is_set() and fake.added == ["shut down"] and process.scheduler is None
    assert not process.may_commit()


def test_runs_of_one_job_never_overlap(app, db, process, monkeypatch):
    import threading

    monkeypatch.setattr(process, "may_commit", lambda tenure=None: True)
    process.active.set()
    inside, overlapped, release = [], [], threading.Event()

    def slow(_now):
        overlapped.append(len(inside))
        inside.append(1)
        release.wait(5)
        inside.pop()
        return {}

    job = Job("slow", slow, every(minutes=1), "Slow.")
    # Its schedule and a "run now" at the same moment, in two worker threads.
    threads = [threading.Thread(target=process.run, args=(job,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # time enough for both to be inside, were they not kept apart
    release.set()
    for thread in threads:
        thread.join(10)
    assert overlapped == [0, 0]


def test_a_request_claimed_by_a_scheduler_that_stopped_is_given_back(app, db, process, monkeypatch):
    lost = JobRequest(job="morning", requested_at=utcnow(), claimed_at=utcnow())
    db.session.add(lost)
    db.session.commit()
    monkeypatch.setattr("lms.jobs.scheduler.BackgroundScheduler", lambda **_kwargs: FakeAPScheduler())
    assert process.leadership.acquire()
    process._become_active()
    db.session.refresh(lost)
    assert lost.claimed_at is None  # the next look at the requests runs it
    process._stand_down("test over")
    process.leadership.release()


def test_a_run_now_that_finds_the_process_inactive_is_given_back(app, db, process):
    request = JobRequest(job="morning", requested_at=utcnow(), claimed_at=utcnow())
    db.session.add(request)
    db.session.commit()
    process.run(JOBS["morning"], request.id)
    db.session.refresh(request)
    assert request.claimed_at is None
