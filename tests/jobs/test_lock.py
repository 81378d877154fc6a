"""The scheduler lock: one holder at a time; a lease runs out; an advisory lock dies with its connection."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import update

from lms.database import utcnow
from lms.jobs.lock import LOCK_NAME, LeaseLeadership, PostgresLeadership, active_scheduler
from lms.jobs.models import SchedulerLease


def _is_postgres(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


class TestLease:
    def test_one_holder_at_a_time_and_release_hands_it_over(self, db, app):
        first, second = LeaseLeadership(app, 25), LeaseLeadership(app, 25)
        assert first.acquire() and not second.acquire()
        assert first.renew() and active_scheduler().holder == first.holder
        first.release()
        assert active_scheduler() is None
        assert second.acquire() and active_scheduler().holder == second.holder

    def test_a_lease_that_ran_out_is_taken_over_and_its_old_holder_knows(self, db, app):
        first, second = LeaseLeadership(app, 25), LeaseLeadership(app, 25)
        assert first.acquire()
        # The holder died (or froze) and stopped renewing: its lease runs out.
        db.session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == LOCK_NAME)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        db.session.commit()
        assert active_scheduler() is None
        assert second.acquire()
        assert not first.confirm() and second.confirm()
        assert not first.renew() and not first.is_held
        assert second.renew()

    def test_a_lease_past_its_expiry_that_nobody_took_is_still_the_holders(self, db, app):
        # A job of the holder kept the database busy past the expiry: nobody could take over.
        holder = LeaseLeadership(app, 25)
        assert holder.acquire()
        db.session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == LOCK_NAME)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        db.session.commit()
        assert holder.confirm()

    def test_a_busy_database_does_not_cost_the_holder_its_lease(self, db, app, monkeypatch):
        from sqlalchemy.exc import OperationalError

        holder = LeaseLeadership(app, 1)
        assert holder.acquire()

        def busy(*_args, **_kwargs):
            raise OperationalError("UPDATE scheduler_leases", {}, Exception("database is locked"))

        monkeypatch.setattr(holder, "_write_row", busy)
        holder._expires = utcnow() - dt.timedelta(seconds=5)  # well past its expiry
        assert holder.renew() and holder.is_held

    def test_the_holder_renews_its_own_lease(self, db, app):
        holder = LeaseLeadership(app, 25)
        assert holder.acquire()
        before = active_scheduler().expires_at
        assert holder.acquire() and holder.renew()  # taking it again is harmless
        assert active_scheduler().expires_at >= before


@pytest.mark.postgres_only
class TestAdvisoryLock:
    @pytest.fixture(autouse=True)
    def _needs_postgres(self, app):
        if not _is_postgres(app):
            pytest.skip("the advisory lock needs PostgreSQL: set LMS_TEST_DATABASE_URL (CI does)")

    def test_one_holder_at_a_time(self, db, app):
        first, second = PostgresLeadership(app, 25), PostgresLeadership(app, 25)
        try:
            assert first.acquire() and not second.acquire()
            assert first.renew() and not second.renew()
            # A job thread asks before it commits.
            answers = []
            thread = threading.Thread(target=lambda: answers.append((first.confirm(), second.confirm())))
            thread.start()
            thread.join()
            assert answers == [(True, False)]
            assert active_scheduler().holder == first.holder
            first.release()
            assert second.acquire() and second.renew()
            assert active_scheduler().holder == second.holder
        finally:
            first.release()
            second.release()

    def test_the_lock_dies_with_its_connection(self, db, app):
        first, second = PostgresLeadership(app, 25), PostgresLeadership(app, 25)
        try:
            assert first.acquire()
            # What the server sees when the holder is killed: its connection ends.
            first.connection.connection.dbapi_connection.close()
            assert not first.confirm()
            assert not first.renew() and not first.is_held
            assert second.acquire()
            # The old holder reconnects, but the lock is someone else's now.
            assert not first.acquire()
        finally:
            first.release()
            second.release()
