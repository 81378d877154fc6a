"""Faults the scheduler and the outbox survive, with real processes, a real SMTP server and PostgreSQL.

Every scheduler here is a process of its own (``python -m tests.jobs.harness``: the real
application and :class:`~lms.jobs.scheduler.SchedulerProcess`, with a reminder job on an
accelerated clock, one "day" a second, and the delivery job, both every second). Every email
is counted where it lands, at an aiosmtpd server on loopback, by recipient and subject.

- three schedulers on one database: one is active, every reminder is delivered exactly once;
- the active one is killed with SIGKILL inside a run: a standby takes over within the poll
  interval, and no reminder is sent twice or skipped;
- the mail server is down for a while: emails wait, retried with backoff, then go out once each;
- a PostgreSQL server of the test's own restarts under two schedulers: one takes the lock
  again and they carry on; a web request during the outage gets a clean 503.

(The SQLite lease: ``test_sqlite_failover.py``.)
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.accounts.services import create_api_token
from lms.extensions import db
from lms.jobs.lock import LOCK_NAME
from lms.jobs.models import JobRun, RunOutcome, SchedulerLease
from lms.mail import EmailStatus, OutboundEmail
from lms.notifications.models import Notification
from tests.conftest import PASSWORD
from tests.jobs.conftest import POLL_SECONDS, fault_app, migrate, wait_for
from tests.jobs.harness import DOMAIN, FIRST_DAY, reminder_subject

pytestmark = pytest.mark.postgres_only

PEOPLE = 4
#: How long a slow reminder run sleeps before its commit (the window a kill or an outage hits).
SLOW = 2.0
#: A standby takes over within one poll interval; this much more allows for a busy CI machine.
TAKEOVER_MARGIN = 4.0
#: Seconds for the scheduler processes to start (day 0 begins then; days missed are caught up).
STARTUP = 2.0


@dataclass(frozen=True)
class Run:
    """One row of ``job_runs``."""

    id: int
    job: str
    pid: int
    outcome: RunOutcome
    started_at: dt.datetime
    finished_at: dt.datetime | None


def make_people(app, count: int = PEOPLE) -> list[str]:
    """Add the people the reminder job writes to; return their addresses."""
    with app.app_context():
        emails = [f"person{n}@{DOMAIN}" for n in range(1, count + 1)]
        db.session.add_all(User(email=address, name=f"Person {n}") for n, address in enumerate(emails, 1))
        db.session.commit()
        db.session.remove()
    return emails


def signed_in_reader(app):
    """A test client signed in as a person with an API token; return it and the token's headers.

    Both the page and the API answer 200 before the test cuts the database off.
    """
    with app.app_context():
        reader = User(email="reader@example.test", name="Reader")
        reader.set_password(PASSWORD)
        db.session.add(reader)
        db.session.flush()
        _token, plain = create_api_token(reader, "fault test")
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    signed_in = client.post("/account/login", data={"email": "reader@example.test", "password": PASSWORD})
    assert signed_in.status_code == 302
    api_headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/notifications").status_code == 200
    assert client.get("/api/v1/notifications", headers=api_headers).status_code == 200
    return client, api_headers


def every_reminder(emails: list[str], days: int) -> collections.Counter:
    """Each (recipient, subject) the SMTP server should see, once."""
    subjects = [reminder_subject(FIRST_DAY + dt.timedelta(days=n)) for n in range(days)]
    return collections.Counter({(address, subject): 1 for address in emails for subject in subjects})


def lease(app) -> SchedulerLease | None:
    """The scheduler lease row as it is now (who took the lock last, and when)."""
    with app.app_context():
        row = db.session.get(SchedulerLease, LOCK_NAME)
        if row is not None:
            db.session.expunge(row)
        db.session.remove()
        return row


def lease_pid(app) -> int | None:
    row = lease(app)
    return row.pid if row else None


def runs(app) -> list[Run]:
    """Every job run, in order."""
    with app.app_context():
        rows = db.session.execute(
            select(
                JobRun.id, JobRun.job, JobRun.process, JobRun.outcome, JobRun.started_at, JobRun.finished_at
            ).order_by(JobRun.id)
        ).all()
        db.session.remove()
    return [
        Run(r.id, r.job, int(r.process.rsplit(":", 1)[1]), r.outcome, r.started_at, r.finished_at)
        for r in rows
    ]


def outbox(app) -> list[OutboundEmail]:
    """Every outbox row, detached."""
    with app.app_context():
        rows = db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return list(rows)


def notifications_since(app, moment: float) -> int:
    """How many notifications were created after ``moment`` (Unix time)."""
    with app.app_context():
        count = db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.created_at > dt.datetime.fromtimestamp(moment, dt.UTC))
        )
        db.session.remove()
    return count


def all_delivered(app, sink, expected: collections.Counter) -> bool:
    """The sink has seen as many messages as expected and the outbox has nothing left to send."""
    if sink.total() < sum(expected.values()):
        return False
    rows = outbox(app)
    return len(rows) == sum(expected.values()) and all(row.status == EmailStatus.SENT for row in rows)


def settle(app) -> None:
    """Wait for two more successful delivery runs, so a late duplicate would have shown by now."""
    last = max(run.id for run in runs(app))
    wait_for(
        lambda: (
            sum(1 for r in runs(app) if r.id > last and r.job == "deliver_mail" and r.outcome == "succeeded")
            >= 2
        ),
        20,
        "two more delivery runs",
    )


def succeeded_runs_never_overlap_across_processes(all_runs: list[Run]) -> None:
    """Work was committed by one process at a time: no two processes' successful runs overlap."""
    done = [r for r in all_runs if r.outcome == RunOutcome.SUCCEEDED]
    for one, other in itertools.combinations(done, 2):
        if one.pid != other.pid:
            apart = one.finished_at <= other.started_at or other.finished_at <= one.started_at
            assert apart, f"runs {one} and {other} of two processes overlap"


def sleeping_run(marker_dir: Path, pid: int) -> dict | None:
    """The marker of a slow reminder run of ``pid`` that made notifications and has a second left to sleep."""
    try:
        marker = json.loads((marker_dir / f"{pid}.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if marker["created"] and time.time() - marker["at"] < SLOW - 1.0:
        return marker
    return None


def start_slow_schedulers(schedulers, app, url: str, smtp_sink, markers: Path, count: int, days: int):
    """Start ``count`` schedulers with slow reminder runs; return them and the active one's pid.

    It returns once the first reminders are out and a reminder run sleeps with uncommitted work.
    """
    processes = schedulers.start(
        count,
        database_url=url,
        smtp_port=smtp_sink.port,
        start=time.time() + STARTUP,
        days=days,
        slow=SLOW,
        marker_dir=markers,
    )
    first = wait_for(lambda: lease_pid(app), 30, "a scheduler to become active")
    wait_for(lambda: smtp_sink.total() >= PEOPLE, 30, "the first reminders to be delivered")
    wait_for(lambda: sleeping_run(markers, first), 20, "a reminder run with uncommitted work", interval=0.02)
    return processes, first


def test_three_schedulers_deliver_every_reminder_exactly_once(fault_database, smtp_sink, schedulers):
    days = 6
    app = fault_app(fault_database)
    emails = make_people(app)
    expected = every_reminder(emails, days)
    processes = schedulers.start(
        3, database_url=fault_database, smtp_port=smtp_sink.port, start=time.time() + STARTUP, days=days
    )

    holders = set()

    def delivered():
        pid = lease_pid(app)
        if pid is not None:
            holders.add(pid)
        return all_delivered(app, smtp_sink, expected)

    wait_for(delivered, days + STARTUP + 30, "every reminder to be delivered")
    settle(app)

    assert smtp_sink.counts() == expected
    assert [p.poll() for p in processes] == [None, None, None], "a scheduler process died"
    # Exactly one was active all along: it ran every job, it alone held the lock, it alone said so.
    active = {run.pid for run in runs(app)}
    assert len(active) == 1 and active == holders, (active, holders)
    (active_pid,) = active
    assert active_pid in {p.pid for p in processes}
    announced = [p.pid for p in processes if "is now the active scheduler" in schedulers.log(p)]
    assert announced == [active_pid]


def test_a_standby_takes_over_when_the_active_scheduler_is_killed_mid_run(
    fault_database, smtp_sink, schedulers, tmp_path
):
    days = 9
    markers = tmp_path / "markers"
    markers.mkdir()
    app = fault_app(fault_database)
    emails = make_people(app)
    expected = every_reminder(emails, days)
    # Kill it while a reminder run sleeps with new notifications not yet committed (and no
    # delivery under way: a slow run holds the delivery job off while it sleeps).
    processes, first = start_slow_schedulers(schedulers, app, fault_database, smtp_sink, markers, 3, days)
    victim = schedulers.by_pid(first)
    victim.send_signal(signal.SIGKILL)
    killed_at = time.time()
    victim.wait(10)

    successor = wait_for(
        lambda: (row := lease(app)) is not None and row.pid != first and row,
        POLL_SECONDS + 20,
        "a standby to take over",
    )
    takeover = successor.acquired_at.timestamp() - killed_at
    first_run = wait_for(
        lambda: next((r for r in runs(app) if r.pid == successor.pid), None), 20, "the successor's first run"
    )
    print(  # the measured failover, for docs/jobs.md (pytest -s shows it)
        f"\ntakeover: lock taken {takeover:.2f} s after SIGKILL, first job started "
        f"{first_run.started_at.timestamp() - killed_at:.2f} s after (poll {POLL_SECONDS} s)"
    )
    assert takeover <= POLL_SECONDS + TAKEOVER_MARGIN, f"takeover took {takeover:.1f} s"

    wait_for(lambda: all_delivered(app, smtp_sink, expected), days + 40, "every reminder to be delivered")
    settle(app)

    assert smtp_sink.counts() == expected, "a reminder was sent twice or skipped"
    all_runs = runs(app)
    # The kill landed inside a run: the successor marked it interrupted, and redid its work.
    killed_runs = [r for r in all_runs if r.pid == first]
    assert any(r.job == "remind" and r.outcome == RunOutcome.INTERRUPTED for r in killed_runs)
    assert not [r for r in killed_runs if r.outcome == RunOutcome.RUNNING]
    assert notifications_since(app, killed_at) > 0
    # One standby took over, the other still stands by; no two processes ever committed at once.
    assert {r.pid for r in all_runs if r.started_at.timestamp() > killed_at} == {successor.pid}
    assert sorted(p.pid for p in processes if p.poll() is None) == sorted(
        p.pid for p in processes if p.pid != first
    )
    succeeded_runs_never_overlap_across_processes(all_runs)


def test_emails_wait_while_the_mail_server_is_down_then_go_out_once_each(
    fault_database, smtp_sink, schedulers
):
    days = 8
    app = fault_app(fault_database)
    emails = make_people(app)
    expected = every_reminder(emails, days)
    (process,) = schedulers.start(
        1, database_url=fault_database, smtp_port=smtp_sink.port, start=time.time() + STARTUP, days=days
    )
    wait_for(lambda: smtp_sink.total() >= PEOPLE, 30, "the first reminders to be delivered")

    smtp_sink.stop()
    delivered_before = smtp_sink.total()

    def waiting():
        rows = outbox(app)
        pending = [r for r in rows if r.status == EmailStatus.PENDING]
        # Several days' reminders queued meanwhile, each tried at least once, one tried thrice.
        if len(pending) < 2 * PEOPLE or not all(r.attempts >= 1 for r in pending):
            return None
        return rows if max(r.attempts for r in pending) >= 3 else None

    rows = wait_for(waiting, 30, "emails to wait through several failed attempts")
    now = dt.datetime.now(dt.UTC)
    pending = [r for r in rows if r.status == EmailStatus.PENDING]
    assert not [r for r in rows if r.status == EmailStatus.FAILED]
    # (A message that arrived as the server closed was refused with a 421; after that, none connects.)
    assert all(r.last_error for r in pending)
    assert all("could not be reached" in r.last_error for r in pending if r.attempts >= 2)
    for row in pending:
        # Backoff: MAIL_RETRY_SECONDS (1 s), doubling after each failure.
        wait = (row.next_attempt_at - row.claimed_at).total_seconds()
        assert 2 ** (row.attempts - 1) <= wait < 2 ** (row.attempts - 1) + 1.5, (row.attempts, wait)
    assert any(r.next_attempt_at > now for r in pending)
    assert smtp_sink.total() == delivered_before, "something was delivered while the server was down"

    smtp_sink.start()
    wait_for(lambda: all_delivered(app, smtp_sink, expected), 40, "every waiting email to go out")
    settle(app)

    assert smtp_sink.counts() == expected, "an email was lost or sent twice"
    retried = [r for r in outbox(app) if r.attempts >= 3]
    assert retried and all(r.status == EmailStatus.SENT and r.last_error is None for r in retried)
    assert process.poll() is None


def test_schedulers_carry_on_after_postgresql_restarts_and_pages_answer_503_meanwhile(
    pg_cluster, smtp_sink, schedulers, tmp_path
):
    days = 10
    markers = tmp_path / "markers"
    markers.mkdir()
    url = pg_cluster.create_database("lms_restart")
    migrate(url)
    # Not TESTING: errors go through the error handlers as they do in production.
    app = fault_app(url, TESTING=False)
    emails = make_people(app)
    expected = every_reminder(emails, days)
    client, api_headers = signed_in_reader(app)

    processes, first = start_slow_schedulers(schedulers, app, url, smtp_sink, markers, 2, days)

    pg_cluster.stop("fast")
    stopped_at = time.time()

    # (A signed-in page during an outage: test_a_signed_in_page_during_an_outage_gets_a_clean_503.)
    answer = client.get("/api/v1/notifications", headers=api_headers)
    assert answer.status_code == 503, answer.get_data(as_text=True)[:3000]
    assert answer.get_json()["error"]["code"] == "unavailable"

    active, standby = schedulers.by_pid(first), next(p for p in processes if p.pid != first)
    wait_for(
        lambda: (
            "stopped running jobs" in schedulers.log(active) and "database error" in schedulers.log(standby)
        ),
        15,
        "both schedulers to notice the outage",
    )
    # (Taken before the start: a scheduler may take the lock before pg_ctl says the server is up.)
    restarted_at = time.time()
    pg_cluster.start()

    retaken = wait_for(
        lambda: (row := lease(app)) is not None and row.acquired_at.timestamp() > restarted_at and row,
        POLL_SECONDS + 20,
        "a scheduler to take the lock again",
    )
    print(f"\nlock retaken {retaken.acquired_at.timestamp() - restarted_at:.2f} s after the restart")
    wait_for(lambda: all_delivered(app, smtp_sink, expected), days + 40, "every reminder to be delivered")
    settle(app)

    assert smtp_sink.counts() == expected, "a reminder was sent twice or skipped"
    after = [r for r in runs(app) if r.started_at.timestamp() > restarted_at]
    assert {r.pid for r in after} == {retaken.pid}, "more than one scheduler ran jobs after the restart"
    assert {r.job for r in after if r.outcome == RunOutcome.SUCCEEDED} == {"remind", "deliver_mail"}
    # The run the outage cut off was rolled back and done again afterwards.
    assert notifications_since(app, stopped_at) > 0
    assert [p.poll() for p in processes] == [None, None], "a scheduler process died"
    succeeded_runs_never_overlap_across_processes(runs(app))
    # The web side reconnects by itself.
    assert client.get("/notifications").status_code == 200
    assert client.get("/api/v1/notifications", headers=api_headers).status_code == 200


def test_a_signed_in_page_during_an_outage_gets_a_clean_503(pg_cluster):
    url = pg_cluster.create_database("lms_outage")
    migrate(url)
    app = fault_app(url, TESTING=False)
    client, _api_headers = signed_in_reader(app)

    pg_cluster.stop("fast")
    page = client.get("/notifications")
    body = page.get_data(as_text=True)
    assert page.status_code == 503, body[:3000]
    assert "text/html" in page.content_type
    assert "briefly unavailable" in body and "Traceback" not in body

    pg_cluster.start()
    assert client.get("/notifications").status_code == 200
