"""The scheduler lock: exactly one active scheduler among any number of processes.

On PostgreSQL the lock is a session-level advisory lock held on a dedicated connection: the
server releases it the moment that connection ends, whether the process exits or is killed
with SIGKILL, or, when its host vanishes, once the server's TCP keepalives go unanswered
(set to about 11 s on the lock's connection). On
SQLite, where every process is on one host, it is a lease row that the holder renews
before it expires; a process that dies stops renewing and the lease runs out.

Both kinds also write :class:`~lms.jobs.models.SchedulerLease`, so the admin page can say
who is active and since when.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import socket
import threading
import zlib
from collections.abc import Iterator

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from lms.database import utcnow
from lms.extensions import db
from lms.jobs.models import SchedulerLease

#: Name of the one lock (and of its row).
LOCK_NAME = "scheduler"
#: The advisory lock key: a fixed number derived from the name, the same in every process.
ADVISORY_KEY = zlib.crc32(b"lms.scheduler")


class Leadership:
    """Take, keep and give up the scheduler lock. Used from one thread only."""

    def __init__(self, app: Flask, lease_seconds: int):
        self.app = app
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.holder = secrets.token_hex(16)
        self.host = socket.gethostname()[:100]
        self.pid = os.getpid()
        self.is_held = False
        #: The main loop and the job threads (``confirm``) share the lock's connection.
        self._mutex = threading.RLock()

    def acquire(self) -> bool:
        """Try to take the lock; true when this process now holds it."""
        raise NotImplementedError

    def renew(self) -> bool:
        """Confirm the lock is still held (renewing a lease); false when it was lost."""
        raise NotImplementedError

    def release(self) -> None:
        """Give the lock up, so a standby takes over at once."""
        raise NotImplementedError

    def confirm(self) -> bool:
        """Whether the lock is still ours right now (from any thread; a job asks before it commits)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A session of its own (a fresh application context), committed at the end."""
        with self.app.app_context():
            try:
                yield db.session
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    def _write_row(self, session: Session, *, fresh: bool, force: bool = False) -> int:
        """Record this process as the holder; return 1 if the row is now ours, else 0.

        ``fresh`` takes the row when it is ours or its lease is over (``force``: whatever it
        says, for the holder of the advisory lock); otherwise only renews our own row.
        """
        now = utcnow()
        values = {"holder": self.holder, "host": self.host, "pid": self.pid, "renewed_at": now}
        values["expires_at"] = now + self.lease
        table = SchedulerLease.__table__
        statement = update(table).where(table.c.name == LOCK_NAME)
        if fresh:
            values["acquired_at"] = now
            if not force:
                statement = statement.where(sa.or_(table.c.holder == self.holder, table.c.expires_at < now))
        else:
            statement = statement.where(table.c.holder == self.holder)
        if session.execute(statement.values(**values)).rowcount:
            return 1
        if not fresh:
            return 0
        try:
            with session.begin_nested():
                session.execute(insert(table).values(name=LOCK_NAME, **values))
        except IntegrityError:
            return 0
        return 1


class PostgresLeadership(Leadership):
    """A session-level advisory lock on a connection of its own (``pg_try_advisory_lock``)."""

    def __init__(self, app: Flask, lease_seconds: int):
        super().__init__(app, lease_seconds)
        url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        # Its own engine, without a pool: the lock lives and dies with this one connection.
        # Keepalives make a silent network loss end the connection (and the lock) in seconds.
        self.engine = sa.create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "connect_timeout": 5,
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
                # And the server's side: a host that vanishes (power, network) stops answering
                # its keepalives, so the server ends the session, and frees the lock, in about
                # 11 s rather than the operating system's default of two hours.
                "options": "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3",
                "application_name": "lms-scheduler",
            },
        )
        self.connection: Connection | None = None

    def acquire(self) -> bool:
        """Connect if need be and try the advisory lock without waiting."""
        with self._mutex:
            return self._acquire()

    def _acquire(self) -> bool:
        try:
            if self.connection is None:
                self.connection = self.engine.connect()
            got = self.connection.scalar(select(sa.func.pg_try_advisory_lock(ADVISORY_KEY)))
            if got:
                with self._transaction() as session:
                    self._write_row(session, fresh=True, force=True)
        except SQLAlchemyError:
            self._drop_connection()
            raise
        self.is_held = bool(got)
        return self.is_held

    def renew(self) -> bool:
        """Check on the lock's own connection that the server still counts the lock as ours."""
        with self._mutex:
            try:
                self.is_held = self._server_says_held()
            except SQLAlchemyError:
                self._drop_connection()
                self.is_held = False
                return False
        if self.is_held:
            try:
                with self._transaction() as session:
                    self._write_row(session, fresh=False) or self._write_row(session, fresh=True, force=True)
            except SQLAlchemyError:
                # The row is for people to read; the lock itself is still held.
                pass
        return self.is_held

    def confirm(self) -> bool:
        """Ask the server, on the lock's own connection."""
        with self._mutex:
            try:
                return self._server_says_held()
            except SQLAlchemyError:
                return False

    def _server_says_held(self) -> bool:
        if self.connection is None:
            return False
        count = self.connection.scalar(
            sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND objid = :key"
            ),
            {"key": ADVISORY_KEY},
        )
        return bool(count)

    def release(self) -> None:
        """Unlock, clear the row and close the connection."""
        with self._mutex:
            self._release()

    def _release(self) -> None:
        if self.connection is not None and self.is_held:
            try:
                self.connection.scalar(select(sa.func.pg_advisory_unlock(ADVISORY_KEY)))
                with self._transaction() as session:
                    session.execute(delete(SchedulerLease).where(SchedulerLease.holder == self.holder))
            except SQLAlchemyError:
                pass
        self._drop_connection()
        self.is_held = False
        self.engine.dispose()

    def _drop_connection(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                self.connection.close()
            self.connection = None


class LeaseLeadership(Leadership):
    """A lease row with an expiry, renewed well before it runs out (SQLite: one host)."""

    def acquire(self) -> bool:
        """Take the lease if nobody holds it or the holder's lease has run out."""
        with self._transaction() as session:
            self.is_held = bool(self._write_row(session, fresh=True))
        self._expires = utcnow() + self.lease
        return self.is_held

    def renew(self) -> bool:
        """Extend the lease; false if it was taken over (it had run out) or cannot be written in time.

        SQLite lets one connection write at a time. When the database is busy (a job of this
        process is writing, say), nobody else can write the lease either, so it is still ours
        even past its expiry: a takeover would have to rewrite the row, and ``confirm`` sees it.
        """
        try:
            with self._transaction() as session:
                self.is_held = bool(self._write_row(session, fresh=False))
        except OperationalError as error:
            if "locked" in str(error).lower() or "busy" in str(error).lower():
                return self.is_held
            self.is_held = utcnow() < self._expires - dt.timedelta(seconds=1)
            return self.is_held
        except SQLAlchemyError:
            # Unreachable: still ours until it expires, never after.
            self.is_held = utcnow() < self._expires - dt.timedelta(seconds=1)
            return self.is_held
        if self.is_held:
            self._expires = utcnow() + self.lease
        return self.is_held

    def confirm(self) -> bool:
        """Read the lease: true while it still names this process.

        A standby that took over after the lease ran out (this process froze, or was busy
        past its expiry) wrote its own name, so the row says who may commit; a lease past its
        expiry that nobody took is still this process's. A job that writes holds SQLite's
        write lock until its commit, so nobody can take the lease between this check and it.
        """
        try:
            with self._transaction() as session:
                lease = session.get(SchedulerLease, LOCK_NAME)
                return lease is not None and lease.holder == self.holder
        except SQLAlchemyError:
            return utcnow() < getattr(self, "_expires", utcnow()) - dt.timedelta(seconds=1)

    def release(self) -> None:
        """Delete the lease row, so a standby takes over at its next look."""
        try:
            with self._transaction() as session:
                session.execute(delete(SchedulerLease).where(SchedulerLease.holder == self.holder))
        except SQLAlchemyError:
            pass
        self.is_held = False


def leadership_for(app: Flask) -> Leadership:
    """The lock that fits the application's database."""
    lease_seconds = app.config["SCHEDULER_LEASE_SECONDS"]
    if sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "postgresql":
        return PostgresLeadership(app, lease_seconds)
    return LeaseLeadership(app, lease_seconds)


def active_scheduler() -> SchedulerLease | None:
    """Who holds the lock now, if anyone (a lease past its expiry counts as nobody)."""
    lease = db.session.get(SchedulerLease, LOCK_NAME)
    if lease is None or lease.expires_at < utcnow():
        return None
    return lease
