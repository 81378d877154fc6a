"""Every scheduled job, at a glance: name, schedule (Europe/London), what it does.

The functions live in their areas; the scheduler (``flask --app lms scheduler``) runs this
table, and the admin page and ``flask --app lms jobs list`` show it. Daily and weekly
times avoid 01:00 to 03:00, the hours the clocks change in March and October, so every job
runs exactly once a day whatever the season. A run missed while no scheduler was active is
caught up when one becomes active; runs that pile up while a job is still running are
coalesced into one (each job computes what is due from the data, so one catch-up run does
all of it). The choices are explained in docs/jobs.md.
"""

from __future__ import annotations

import datetime as dt

from lms import mail
from lms.accounts.services import people_with_roles
from lms.assessments import jobs as assessments
from lms.courses import jobs as courses
from lms.jobs.registry import Job, daily, every, weekly
from lms.jobs.runner import prune_runs
from lms.notifications.kinds import STORAGE_MISMATCH
from lms.notifications.services import notify
from lms.permissions import Role
from lms.routing import path_for
from lms.storage import housekeeping


def verify_stored_files(now: dt.datetime) -> dict[str, int]:
    """Check every stored file, and tell each active administrator what fails, once a sweep."""
    found = housekeeping.verify_all()
    if found.mismatched:
        _report_mismatches(found.mismatched, now)
    return {"checked": found.checked, "mismatched": len(found.mismatched)}


JOBS: list[Job] = [
    Job(
        "deliver_mail",
        mail.deliver_job,
        every(1),
        "Sends the emails that are due, retrying failures with backoff; "
        "puts back messages stuck while sending.",
        misfire_grace_time=30,
    ),
    Job("prune_mail", mail.prune_job, daily(3, 15), "Deletes sent emails older than the retention age."),
    Job("prune_job_runs", prune_runs, daily(3, 20), "Deletes job-run records older than the retention age."),
    Job(
        "clean_up_storage",
        housekeeping.clean_up,
        daily(3, 30),
        "Deletes stored files nothing refers to (bulk-enrolment problem reports included) once "
        "they are STORAGE_ORPHAN_DAYS old, and bytes that no stored file names.",
    ),
    Job(
        "lapse_enrolments",
        courses.lapse_enrolments,
        daily(4, 0),
        courses.LAPSE_RULE + " Each lapse is audited and the trainee told.",
    ),
    Job(
        "verify_stored_files",
        verify_stored_files,
        weekly("sun", 5, 0),
        "Re-reads every stored file against its SHA-256 and tells administrators of any that "
        "is missing or changed.",
    ),
    Job(
        "send_cohort_reminders",
        courses.send_cohort_reminders,
        daily(7, 0),
        "Reminds trainees with a place in a cohort a week before it starts and the day before.",
    ),
    Job(
        "send_assignment_reminders",
        assessments.send_due_reminders,
        daily(7, 10),
        "Reminds trainees who have not handed in an assignment 7 days and 1 day before it is due "
        "(their extension's date, if they have one).",
    ),
    Job(
        "send_marking_alerts",
        assessments.send_marking_alerts,
        daily(8, 0),
        "Tells assessors of marking past its due date, and administrators once it is "
        "MARKING_ESCALATE_AFTER_DAYS (7) past.",
    ),
    Job(
        "send_moderation_reminders",
        assessments.send_moderation_reminders,
        daily(8, 10),
        "Reminds moderators of marks waiting for moderation for 3 days or more, and "
        "administrators when no moderator is chosen.",
    ),
]

#: Files named in a mismatch notice; the rest are counted (the log names every one).
NAMED_IN_NOTICE = 10


def _report_mismatches(mismatched: list[tuple[int, str]], now: dt.datetime) -> None:
    """One notice per administrator per sweep (its date is the occasion), naming the files."""
    names = ", ".join(f"{name} (file {file_id})" for file_id, name in mismatched[:NAMED_IN_NOTICE])
    more = len(mismatched) - NAMED_IN_NOTICE
    if more > 0:
        names += f" and {more} more"
    count = len(mismatched)
    for admin in people_with_roles({Role.ADMIN}):
        if not admin.is_active_account:
            continue
        notify(
            admin,
            STORAGE_MISMATCH.name,
            about="stored-files",
            occasion=now.date().isoformat(),
            title=f"{count} stored file{'s' if count != 1 else ''} failed the weekly check",
            text=f"Missing, or not the bytes that were stored: {names}. Restore them from a backup.",
            link=path_for("jobs_admin.jobs"),
        )
