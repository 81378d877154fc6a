"""The scheduler process (``flask --app lms scheduler``): stand by, or be the one that runs jobs.

Any number of these may run against one database. Each loops: a standby tries to take the
lock (:mod:`lms.jobs.lock`) every ``SCHEDULER_POLL_SECONDS``; the active one renews it at
the same pace and, while it holds it, runs an APScheduler 3 ``BackgroundScheduler`` with
every job of :data:`lms.schedule.JOBS` and takes the "run now" requests. APScheduler's job
store is in memory and private to the process: the lock, not a shared job store, is what
makes one process the only one running jobs (APScheduler 3 cannot share a store).

When the active one loses the lock (its database connection died, its lease was taken),
it stops its APScheduler at once and every job still running rolls back instead of
committing (see :func:`lms.jobs.runner.keep_going`). A job that a failover skipped is
caught up: on becoming active, a daily or weekly job whose latest due time has no
successful run since runs at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import threading

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy import make_url, select, update
from sqlalchemy.exc import SQLAlchemyError

from lms.database import utcnow
from lms.extensions import db
from lms.jobs.lock import Leadership, leadership_for
from lms.jobs.models import JobRequest
from lms.jobs.registry import TIMEZONE, Job, registered_jobs
from lms.jobs.runner import interrupt_stale_runs, last_success, process_name, run_job

log = logging.getLogger("lms.scheduler")
#: Jobs that may run at the same time in the active scheduler (each job at most once).
#: SQLite has a single writer, so there jobs run one after the other.
WORKERS = 4


class SchedulerProcess:
    """One scheduler process: a standby until it holds the lock, then the active one."""

    def __init__(self, app: Flask, leadership: Leadership | None = None):
        self.app = app
        self.jobs: dict[str, Job] = registered_jobs(app)
        self.leadership = leadership or leadership_for(app)
        self.poll_seconds = app.config["SCHEDULER_POLL_SECONDS"]
        self.process = process_name()
        #: Set while this process holds the lock; jobs may commit only while it is set.
        self.active = threading.Event()
        #: Counts the times this process became active: a run may commit only in the tenure
        #: it started in (after a stand-down, another process may have run the job meanwhile).
        self.tenure = 0
        #: One lock per job name: runs of a job never overlap (see ``run``).
        self._job_locks: dict[str, threading.Lock] = {}
        self.stopping = threading.Event()
        self.scheduler: BackgroundScheduler | None = None

    # -- the loop -------------------------------------------------------------------------

    def run_forever(self) -> None:
        """Loop until SIGTERM or SIGINT: stand by, take over, run, stand down."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        log.info("scheduler %s standing by (poll every %ss)", self.process, self.poll_seconds)
        try:
            while not self.stopping.is_set():
                self.tick()
                self.stopping.wait(self.poll_seconds)
        finally:
            self.stop()

    def tick(self) -> None:
        """One look at the lock: take it, keep it or notice it is gone; then take requests."""
        try:
            if not self.active.is_set():
                if self.leadership.acquire():
                    self._become_active()
            elif not self.leadership.renew():
                self._stand_down("lost the scheduler lock")
            if self.active.is_set():
                self.take_requests()
        except SQLAlchemyError as error:
            # The database is unreachable: a standby tries again at its next look; the active
            # one cannot prove it still holds the lock, so it stops running jobs now.
            log.warning("scheduler %s: database error: %s", self.process, error)
            if self.active.is_set() and not self.leadership.renew():
                self._stand_down("database unreachable")

    def stop(self) -> None:
        """Stop running jobs and give the lock up."""
        self._stand_down("stopping")
        with contextlib.suppress(SQLAlchemyError):
            self.leadership.release()
        log.info("scheduler %s stopped", self.process)

    # -- becoming active and standing down ---------------------------------------------

    def _become_active(self) -> None:
        try:
            with self.app.app_context():
                # Every run still "running" is stale, this process's own from before it stood
                # down too: those can no longer commit (see ``may_commit``).
                interrupt_stale_runs(None)
                # "Run now" requests claimed by a scheduler that stopped before running them.
                db.session.execute(
                    update(JobRequest)
                    .where(JobRequest.claimed_at.is_not(None), JobRequest.run_id.is_(None))
                    .values(claimed_at=None)
                )
                db.session.commit()
                due = self._missed_jobs()
                db.session.remove()
        except SQLAlchemyError:
            # Holding the lock without running jobs would stop everyone: give it back.
            self.leadership.release()
            raise
        self.tenure += 1
        self.active.set()
        log.info("scheduler %s is now the active scheduler", self.process)
        scheduler = BackgroundScheduler(
            timezone=TIMEZONE,
            executors={"default": ThreadPoolExecutor(1 if self._is_sqlite() else WORKERS)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        for job in self.jobs.values():
            scheduler.add_job(
                self.run,
                trigger=job.schedule.trigger(),
                args=[job],
                id=job.name,
                name=job.name,
                misfire_grace_time=job.grace_seconds,
            )
        scheduler.start()
        self.scheduler = scheduler
        for job in due:
            log.info("catching up %s, missed while no scheduler was active", job.name)
            scheduler.add_job(
                self.run,
                args=[job],
                id=f"catch-up-{job.name}",
                next_run_time=utcnow(),
                misfire_grace_time=None,
            )

    def _is_sqlite(self) -> bool:
        return make_url(self.app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "sqlite"

    def _missed_jobs(self) -> list[Job]:
        """Daily and weekly jobs whose latest due time passed with no successful run since."""
        now = utcnow()
        missed = []
        for job in self.jobs.values():
            due = job.schedule.last_due(now)
            if due is None:
                continue
            succeeded = last_success(job.name)
            if succeeded is None or succeeded < due - dt.timedelta(seconds=job.grace_seconds):
                missed.append(job)
        return missed

    def _stand_down(self, reason: str) -> None:
        was_active = self.active.is_set()
        self.active.clear()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if was_active:
            log.warning("scheduler %s stopped running jobs: %s", self.process, reason)

    # -- running ---------------------------------------------------------------------------

    def run(self, job: Job, request_id: int | None = None, requested_by_id: int | None = None) -> None:
        """Run one job (in an APScheduler worker thread), if this process is still active.

        Runs of one job never overlap: its schedule, a catch-up and a "run now" are separate
        APScheduler jobs, so ``max_instances`` alone does not keep them apart; a run that
        finds the job running waits for it. A "run now" that finds this process no longer
        active is given back for the next active scheduler.
        """
        with self._job_locks.setdefault(job.name, threading.Lock()):
            if not self.active.is_set():
                if request_id is not None:
                    self._unclaim(request_id)
                return
            tenure = self.tenure
            run_job(
                self.app,
                job,
                process=self.process,
                guard=lambda: self.may_commit(tenure),
                request_id=request_id,
                requested_by_id=requested_by_id,
            )

    def _unclaim(self, request_id: int) -> None:
        try:
            with self.app.app_context():
                db.session.execute(
                    update(JobRequest)
                    .where(JobRequest.id == request_id, JobRequest.run_id.is_(None))
                    .values(claimed_at=None)
                )
                db.session.commit()
                db.session.remove()
        except SQLAlchemyError:
            log.warning("run-now request %s could not be given back; ask again", request_id)

    def may_commit(self, tenure: int | None = None) -> bool:
        """Whether a job may commit now: this process is active and the lock is still its own.

        ``tenure``: the run started then, and it must not have lost the lock since, even if
        it holds it again now.
        """
        if tenure is not None and tenure != self.tenure:
            return False
        return self.active.is_set() and self.leadership.confirm()

    def take_requests(self) -> int:
        """Claim the waiting "run now" requests and run each once; return how many."""
        if self.scheduler is None:
            return 0
        taken = 0
        with self.app.app_context():
            waiting = db.session.execute(
                select(JobRequest.id, JobRequest.job, JobRequest.requested_by_id)
                .where(JobRequest.claimed_at.is_(None))
                .order_by(JobRequest.id)
                .limit(20)
            ).all()
            for request_id, name, requested_by_id in waiting:
                claimed = db.session.execute(
                    update(JobRequest)
                    .where(JobRequest.id == request_id, JobRequest.claimed_at.is_(None))
                    .values(claimed_at=utcnow())
                ).rowcount
                db.session.commit()
                job = self.jobs.get(name)
                if not claimed or job is None:
                    continue
                self.scheduler.add_job(
                    self.run,
                    args=[job, request_id, requested_by_id],
                    id=f"request-{request_id}",
                    next_run_time=utcnow(),
                    misfire_grace_time=None,
                )
                taken += 1
            db.session.remove()
        return taken
