"""The jobs and outbox pages, and ``flask jobs list|run``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lms.audit import AuditEntry
from lms.database import utcnow
from lms.jobs.lock import LeaseLeadership, leadership_for
from lms.jobs.models import JobRequest, JobRun, RunOutcome
from lms.mail import EmailStatus, OutboundEmail
from lms.permissions import Role
from lms.schedule import JOBS


def _fail(db, recipient="lost@example.org") -> OutboundEmail:
    message = OutboundEmail(
        recipient=recipient,
        subject="Lost",
        body="Hello",
        status=EmailStatus.FAILED,
        attempts=10,
        last_error="550 No such user",
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    db.session.commit()
    return message


class TestJobsPage:
    def test_lists_every_job_with_its_schedule_and_last_run(self, db, client, login_as, make_user):
        db.session.add(
            JobRun(
                job="deliver_mail",
                process="host:1",
                outcome=RunOutcome.FAILED,
                counts={"sent": 3},
                error="Boom\nSMTP down",
            )
        )
        db.session.commit()
        login_as(make_user(Role.ADMIN))
        page = client.get("/admin/jobs").get_data(as_text=True)
        for job in JOBS:
            assert job.name in page and job.schedule.describe() in page
        assert "SMTP down" in page and "sent: 3" in page
        assert "No scheduler is running" in page and "When a scheduler runs" in page

    def test_shows_the_active_scheduler(self, db, app, client, login_as, make_user):
        LeaseLeadership(app, 25).acquire()
        login_as(make_user(Role.ADMIN))
        page = client.get("/admin/jobs").get_data(as_text=True)
        assert "Active scheduler:" in page and "When a scheduler runs" not in page

    def test_run_now_queues_a_request_for_the_scheduler(self, db, client, login_as, make_user):
        admin = login_as(make_user(Role.ADMIN))
        response = client.post("/admin/jobs/prune_mail/run")
        assert response.status_code == 302
        request = db.session.scalar(select(JobRequest))
        assert (
            request.job == "prune_mail" and request.requested_by_id == admin.id and request.claimed_at is None
        )
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "job.run_requested"))
        page = client.get("/admin/jobs").get_data(as_text=True)
        assert "Asked for; waiting" in page and "No scheduler is running: it runs when one starts" in page

    def test_unknown_jobs_are_404(self, db, client, login_as, make_user):
        login_as(make_user(Role.ADMIN))
        assert client.post("/admin/jobs/nothing/run").status_code == 404
        assert client.get("/admin/jobs?job=nothing").status_code == 404
        assert db.session.scalar(select(JobRequest)) is None

    def test_runs_can_be_filtered_by_job(self, db, client, login_as, make_user):
        for job in ("prune_mail", "deliver_mail"):
            db.session.add(JobRun(job=job, process=f"{job}-host:1", outcome=RunOutcome.SUCCEEDED, counts={}))
        db.session.commit()
        login_as(make_user(Role.ADMIN))
        page = client.get("/admin/jobs?job=prune_mail").get_data(as_text=True)
        assert "prune_mail-host:1" in page and "deliver_mail-host:1" not in page

    def test_the_page_costs_a_fixed_number_of_queries(self, db, client, login_as, make_user, count_queries):
        login_as(make_user(Role.ADMIN))
        client.get("/admin/jobs")
        with count_queries() as few:
            client.get("/admin/jobs")
        for n in range(30):
            db.session.add(
                JobRun(job=JOBS[n % len(JOBS)].name, process="h:1", outcome=RunOutcome.SUCCEEDED, counts={})
            )
        db.session.commit()
        with count_queries() as many:
            client.get("/admin/jobs")
        assert many.count == few.count


class TestOutboxPage:
    def test_failed_emails_are_shown_with_a_retry_button(self, db, client, login_as, make_user, outbox):
        message = _fail(db)
        login_as(make_user(Role.ADMIN))
        page = client.get("/admin/jobs/outbox").get_data(as_text=True)
        assert "lost@example.org" in page and "550 No such user" in page and "Retry" in page
        response = client.post(f"/admin/jobs/outbox/{message.id}/retry")
        assert response.status_code == 302
        db.session.refresh(message)
        assert message.status == EmailStatus.SENT and [m["to"] for m in outbox] == ["lost@example.org"]

    def test_retrying_a_message_that_did_not_fail_is_404(self, db, client, login_as, make_user):
        login_as(make_user(Role.ADMIN))
        assert client.post("/admin/jobs/outbox/999999/retry").status_code == 404

    def test_a_bad_status_is_400(self, db, client, login_as, make_user):
        login_as(make_user(Role.ADMIN))
        response = client.get("/admin/jobs/outbox?status=lost")
        assert response.status_code == 400 and "status must be one of" in response.get_data(as_text=True)

    def test_filters_by_status(self, db, client, login_as, make_user):
        _fail(db, "failed@example.org")
        login_as(make_user(Role.ADMIN))
        assert "failed@example.org" not in client.get("/admin/jobs/outbox?status=sent").get_data(as_text=True)


class TestCommands:
    def test_jobs_list_prints_every_job(self, db, runner):
        result = runner.invoke(args=["jobs", "list"])
        assert result.exit_code == 0, result.output
        assert "Active scheduler: none" in result.output
        for job in JOBS:
            assert job.name in result.output and job.schedule.describe() in result.output

    def test_jobs_run_takes_the_lock_when_no_scheduler_is_active(self, db, runner):
        old = OutboundEmail(
            recipient="a@example.org",
            subject="Old",
            body="x",
            status=EmailStatus.SENT,
            sent_at=utcnow() - dt.timedelta(days=400),
            next_attempt_at=utcnow(),
        )
        db.session.add(old)
        db.session.commit()
        result = runner.invoke(args=["jobs", "run", "prune_mail"])
        assert result.exit_code == 0, result.output
        assert "Succeeded (deleted: 1)" in result.output
        run = db.session.scalar(select(JobRun).where(JobRun.job == "prune_mail"))
        assert run.outcome == RunOutcome.SUCCEEDED

    def test_jobs_run_asks_the_active_scheduler_when_there_is_one(self, db, app, runner):
        holder = leadership_for(app)  # the advisory lock on PostgreSQL, the lease on SQLite
        assert holder.acquire()
        try:
            result = runner.invoke(args=["jobs", "run", "prune_mail", "--wait", "1"])
        finally:
            holder.release()
        assert result.exit_code == 1 and "has not run the job yet" in result.output
        assert db.session.scalar(select(JobRequest.job)) == "prune_mail"

    def test_jobs_run_refuses_an_unknown_job(self, db, runner):
        result = runner.invoke(args=["jobs", "run", "nothing"])
        assert result.exit_code == 1 and "No job is called 'nothing'" in result.output
