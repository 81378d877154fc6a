"""Jobs and their schedules: what the scheduler runs, when, in Europe/London time.

The table of every job is :data:`lms.schedule.JOBS`; this module holds the pieces it is
written with. A job is a plain function ``fn(now) -> dict | None`` that works out what is due
from the data at ``now`` (an aware UTC datetime), flushes, and returns counts for the admin
page. The runner (:mod:`lms.jobs.runner`) commits it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask, current_app

#: Every schedule is read on the clock of the people who use lms.
TIMEZONE = ZoneInfo("Europe/London")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Schedule:
    """When a job runs: every few seconds or minutes, or daily or weekly at a local time."""

    #: Seconds between runs of an interval job.
    seconds: int | None = None
    hour: int | None = None
    minute: int = 0
    weekday: str | None = None

    def trigger(self) -> BaseTrigger:
        """The APScheduler trigger for this schedule."""
        if self.seconds is not None:
            return IntervalTrigger(seconds=self.seconds, timezone=TIMEZONE)
        return CronTrigger(
            day_of_week=self.weekday or "*", hour=self.hour, minute=self.minute, timezone=TIMEZONE
        )

    @property
    def period(self) -> dt.timedelta:
        """The longest time between two runs."""
        if self.seconds is not None:
            return dt.timedelta(seconds=self.seconds)
        return dt.timedelta(days=7 if self.weekday else 1)

    def describe(self) -> str:
        """The schedule in words, e.g. ``Daily at 07:00`` or ``Every minute``."""
        if self.seconds is not None:
            if self.seconds % 60:
                return f"Every {self.seconds} seconds"
            minutes = self.seconds // 60
            return "Every minute" if minutes == 1 else f"Every {minutes} minutes"
        at = f"{self.hour:02d}:{self.minute:02d}"
        if self.weekday:
            return f"{_WEEKDAY_NAMES[WEEKDAYS.index(self.weekday)]}s at {at}"
        return f"Daily at {at}"

    def next_run(self, after: dt.datetime) -> dt.datetime:
        """The first time after ``after`` that the job is due, in UTC.

        An interval job counts from whenever its scheduler started, so for it this is only
        "one interval later".
        """
        if self.seconds is not None:
            return after + self.period
        return (
            self.trigger().get_next_fire_time(None, after + dt.timedelta(microseconds=1)).astimezone(dt.UTC)
        )

    def last_due(self, now: dt.datetime) -> dt.datetime | None:
        """The latest time at or before ``now`` that a daily or weekly job was due (UTC)."""
        if self.seconds is not None:
            return None
        trigger = self.trigger()
        due = None
        moment = trigger.get_next_fire_time(None, now - self.period - dt.timedelta(hours=2))
        while moment is not None and moment <= now:
            due = moment
            moment = trigger.get_next_fire_time(moment, moment + dt.timedelta(seconds=1))
        return due.astimezone(dt.UTC) if due else None


def every(minutes: int = 0, seconds: int = 0) -> Schedule:
    """Every so many minutes (or seconds, for tests and benchmarks)."""
    total = minutes * 60 + seconds
    if total <= 0:
        raise ValueError("an interval must be positive")
    return Schedule(seconds=total)


def daily(hour: int, minute: int = 0) -> Schedule:
    """Once a day at ``hour:minute`` London time."""
    return Schedule(hour=hour, minute=minute)


def weekly(weekday: str, hour: int, minute: int = 0) -> Schedule:
    """Once a week on ``weekday`` (``mon`` ... ``sun``) at ``hour:minute`` London time."""
    if weekday not in WEEKDAYS:
        raise ValueError(f"weekday must be one of {', '.join(WEEKDAYS)}")
    return Schedule(hour=hour, minute=minute, weekday=weekday)


@dataclass(frozen=True)
class Job:
    """One scheduled job: its name, its function, when it runs and what it does."""

    name: str
    func: Callable[[dt.datetime], dict | None] = field(compare=False)
    schedule: Schedule
    description: str
    #: How late a run may start (seconds) and still run; later, it is skipped for the next.
    #: ``None`` takes :func:`misfire_grace_time`.
    misfire_grace_time: int | None = None

    @property
    def grace_seconds(self) -> int:
        """How late a run may start and still count: half the period, at most an hour."""
        if self.misfire_grace_time is not None:
            return self.misfire_grace_time
        return int(min(self.schedule.period / 2, dt.timedelta(hours=1)).total_seconds())


def register_jobs(app: Flask, jobs: list[Job]) -> None:
    """Give the application its jobs (``create_app`` passes :data:`lms.schedule.JOBS`)."""
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise ValueError("job names must be unique")
    app.extensions["lms_jobs"] = {job.name: job for job in jobs}


def registered_jobs(app: Flask | None = None) -> dict[str, Job]:
    """Every job of the application, by name, in the table's order."""
    return (app or current_app).extensions.get("lms_jobs", {})
