"""The jobs of ``lms/schedule.py`` that live there: the weekly check of stored files and its notice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from lms.jobs.models import RunOutcome
from lms.jobs.runner import run_job
from lms.notifications.models import Notification
from lms.permissions import Role
from lms.schedule import JOBS, verify_stored_files
from lms.storage import services as storage
from lms.storage.models import StoredBlob
from lms.transactions import finish_request


def _break(db, *stored) -> None:
    for one in stored:
        db.session.execute(update(StoredBlob).where(StoredBlob.key == one.key).values(data=b"changed"))


def _notices(db, user) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)))


def test_every_job_of_the_issue_is_in_the_table():
    assert {job.name for job in JOBS} >= {
        "deliver_mail",
        "prune_mail",
        "prune_job_runs",
        "send_cohort_reminders",
        "lapse_enrolments",
        "clean_up_storage",
        "verify_stored_files",
    }


@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.name)
def test_every_job_runs_through_the_runner_on_an_empty_database(db, app, job):
    # As the scheduler calls it: its own context, the clock's "now", one commit.
    result = run_job(app, job)
    assert result.outcome == RunOutcome.SUCCEEDED, result.error
    assert all(isinstance(value, int) for value in result.counts.values()), result.counts


def test_a_mismatch_is_told_to_each_active_admin_once_a_sweep(db, app, make_user, monkeypatch):
    from flask import Response

    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "database")
    moment = dt.datetime(2026, 12, 6, 5, 0, tzinfo=dt.UTC)
    admin, gone, trainee = make_user(Role.ADMIN), make_user(Role.ADMIN), make_user(Role.TRAINEE)
    gone.is_active_account = False
    files = [storage.save(f"file {n}".encode(), f"report-{n}.pdf", "application/pdf") for n in range(12)]
    finish_request(Response("ok"))
    _break(db, *files[:11])

    assert verify_stored_files(moment) == {"checked": 12, "mismatched": 11}
    (notice,) = _notices(db, admin)
    assert notice.title == "11 stored files failed the weekly check"
    assert "report-0.pdf" in notice.text and "and 1 more" in notice.text and notice.link == "/admin/jobs"
    assert _notices(db, gone) == [] and _notices(db, trainee) == []

    verify_stored_files(moment)  # the same sweep again (run now): no second notice
    assert len(_notices(db, admin)) == 1
    moment += dt.timedelta(days=7)
    verify_stored_files(moment)  # still broken a week later: told again
    assert len(_notices(db, admin)) == 2


def test_nothing_is_told_when_every_file_is_sound(db, app, make_user, monkeypatch):
    admin = make_user(Role.ADMIN)
    storage.save(b"fine", "fine.txt", "text/plain")
    assert verify_stored_files(dt.datetime(2026, 12, 6, 5, 0, tzinfo=dt.UTC))["mismatched"] == 0
    assert _notices(db, admin) == []
