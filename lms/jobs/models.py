"""What the scheduler records: each job run, who is the active scheduler, and "run now" requests."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms.database import UTCDateTime, enum_column, utcnow
from lms.extensions import db


class RunOutcome(enum.StrEnum):
    """How a job run ended."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: Its process died or lost the lock before the run ended; nothing of it was committed.
    INTERRUPTED = "interrupted"

    @property
    def label(self) -> str:
        """Human name."""
        return self.value.capitalize()


class JobRun(db.Model):
    """One run of one job, kept for the admin page until it is pruned."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[RunOutcome] = mapped_column(enum_column(RunOutcome, 12), default=RunOutcome.RUNNING)
    #: What the job reports it did, e.g. ``{"sent": 12, "failed": 1}``.
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The exception of a failed run, its last lines.
    error: Mapped[str | None] = mapped_column(Text)
    #: ``host:pid`` of the process that ran it.
    process: Mapped[str] = mapped_column(String(120))
    #: Who asked for it with "run now" (``None`` for its schedule).
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (db.Index("ix_job_runs_job_started_at", "job", "started_at"),)


class SchedulerLease(db.Model):
    """The active scheduler: one row per lock name.

    On SQLite this row *is* the lock (a lease renewed before it expires). On PostgreSQL the
    lock is a session-level advisory lock and this row only says who holds it, for the admin
    page.
    """

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: A random token of the holding process, so a process never renews another's lease.
    holder: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int]
    acquired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    renewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class JobRequest(db.Model):
    """A "run now" asked for on the admin page or by ``flask jobs run``, for the active scheduler."""

    __tablename__ = "job_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Set when a scheduler takes the request, so that exactly one runs it.
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("job_runs.id", ondelete="SET NULL"))
