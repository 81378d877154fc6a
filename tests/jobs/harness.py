"""A real scheduler process for the fault tests: ``python -m tests.jobs.harness --start T --days D``.

It builds the application with :func:`lms.create_app` (configured, like production, by
``LMS_*`` environment variables: the database, the SMTP server, ``SCHEDULER_POLL_SECONDS``)
and runs :class:`lms.jobs.scheduler.SchedulerProcess` with two jobs on one-second intervals
instead of :data:`lms.schedule.JOBS`:

- ``remind``: on an accelerated clock where a "day" lasts ``--day-seconds`` real seconds from
  ``--start``, notifies every ``@faults.test`` person once for each day so far (up to
  ``--days``), with the day as the occasion. Like the real reminder jobs it computes what is
  due from the data, so a run that was undone is simply done again by the next one.
- ``deliver_mail``: :func:`lms.mail.deliver_job`, on the real clock.

With ``--slow S`` a reminder run that created notifications sleeps ``S`` seconds before it
returns (so before its commit), holding the delivery job off meanwhile, and says so with a
marker file ``<marker-dir>/<pid>.json``: a test that kills or cuts off the process while the
marker exists hits uncommitted reminder work, never an email between the mail server's
acceptance and the commit of ``sent`` (the one window SMTP leaves open; docs/jobs.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import threading
import time
from pathlib import Path

from sqlalchemy import select

from lms import create_app, mail
from lms.accounts.models import User
from lms.extensions import db
from lms.jobs.registry import Job, every, register_jobs
from lms.jobs.scheduler import SchedulerProcess
from lms.notifications.kinds import NotificationKind, add_kind
from lms.notifications.services import notify

#: The people the reminder job writes to: every address in this domain.
DOMAIN = "faults.test"
#: The accelerated calendar's day 0.
FIRST_DAY = dt.date(2030, 1, 1)
KIND = NotificationKind(
    "fault_reminder",
    "Fault-test reminders",
    "One reminder a day to each test person (tests/jobs/test_faults.py).",
    is_essential=True,
)
#: Held by delivery runs, and by a slow reminder run while it sleeps (see the module's docstring).
DELIVERY = threading.Lock()


def reminder_subject(day: dt.date) -> str:
    """The subject of the reminder for ``day`` (what the SMTP sink counts, with the recipient)."""
    return f"Reminder for {day.isoformat()}"


def make_jobs(start: float, days: int, day_seconds: float, slow: float, marker_dir: Path | None) -> list[Job]:
    """The two jobs of a harness process."""

    def remind(_now: dt.datetime) -> dict:
        today = min(int((time.time() - start) // day_seconds), days - 1)
        people = db.session.scalars(
            select(User).where(User.email.like(f"%@{DOMAIN}")).order_by(User.id)
        ).all()
        created = 0
        for number in range(today + 1):
            day = FIRST_DAY + dt.timedelta(days=number)
            for person in people:
                made = notify(
                    person,
                    KIND.name,
                    about="fault-reminder",
                    occasion=day.isoformat(),
                    title=reminder_subject(day),
                    text=f"Day {number} of the fault test.",
                )
                created += made is not None
        if slow and created:
            with DELIVERY:
                marker = marker_dir / f"{os.getpid()}.json"
                marker.write_text(json.dumps({"pid": os.getpid(), "created": created, "at": time.time()}))
                try:
                    time.sleep(slow)
                finally:
                    marker.unlink(missing_ok=True)
        return {"day": today, "created": created}

    def deliver(now: dt.datetime) -> dict:
        with DELIVERY:
            return mail.deliver_job(now)

    # Grace explicitly: half of a one-second period rounds down to none at all.
    return [
        Job("remind", remind, every(seconds=1), "Fault-test reminders, one per person per day.", 30),
        Job("deliver_mail", deliver, every(seconds=1), "Sends the emails that are due.", 30),
    ]


def main(argv: list[str] | None = None) -> None:
    """Run one scheduler process until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=float, required=True, help="Unix time at which day 0 begins.")
    parser.add_argument("--days", type=int, required=True, help="How many days of reminders in all.")
    parser.add_argument("--day-seconds", type=float, default=1.0, help="Real seconds per day.")
    parser.add_argument(
        "--slow", type=float, default=0.0, help="Seconds a reminder run sleeps before it commits."
    )
    parser.add_argument("--marker-dir", type=Path, help="Where a slow run says it is sleeping.")
    args = parser.parse_args(argv)
    if args.slow and args.marker_dir is None:
        parser.error("--slow needs --marker-dir")

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
    )
    # APScheduler says "maximum number of running instances reached" each second a slow run blocks.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    app = create_app()
    add_kind(app, KIND)
    register_jobs(app, make_jobs(args.start, args.days, args.day_seconds, args.slow, args.marker_dir))
    SchedulerProcess(app).run_forever()


if __name__ == "__main__":
    main()
