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

from lms import mail
from lms.jobs.registry import Job, daily, every
from lms.jobs.runner import prune_runs

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
]
