"""Schedules in Europe/London time: right across the clock changes, described in words."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from lms.jobs.registry import TIMEZONE, Job, daily, every, register_jobs, weekly
from lms.schedule import JOBS

UTC = dt.UTC


def _runs(schedule, start: dt.datetime, days: int) -> list[dt.datetime]:
    """Every run of ``schedule`` from ``start`` for ``days`` days, in UTC."""
    runs, moment = [], start
    while moment < start + dt.timedelta(days=days):
        moment = schedule.next_run(moment)
        runs.append(moment)
    return runs[:-1]


@pytest.mark.parametrize(
    ("start", "before", "after"),
    [
        # 29 March 2026: clocks go forward (GMT to BST); 25 October 2026: back (BST to GMT).
        (dt.datetime(2026, 3, 27, 12, tzinfo=UTC), 7, 6),
        (dt.datetime(2026, 10, 23, 12, tzinfo=UTC), 6, 7),
    ],
)
def test_a_daily_job_runs_once_a_day_at_the_same_london_time_across_a_clock_change(start, before, after):
    runs = _runs(daily(7), start, 4)
    assert len(runs) == 4
    assert {run.astimezone(TIMEZONE).strftime("%H:%M") for run in runs} == {"07:00"}
    assert len({run.astimezone(TIMEZONE).date() for run in runs}) == 4
    assert runs[0].hour == before and runs[-1].hour == after


def test_a_weekly_job_keeps_its_day_and_local_time_across_the_october_change():
    runs = _runs(weekly("sun", 5), dt.datetime(2026, 10, 10, tzinfo=UTC), 21)
    assert [run.astimezone(TIMEZONE).strftime("%a %H:%M") for run in runs] == ["Sun 05:00"] * 3
    assert [run.hour for run in runs] == [4, 4, 5]  # 05:00 BST is 04:00 UTC; from 25 October, GMT


def test_an_interval_job_is_not_affected_by_the_clock_change():
    runs = _runs(every(minutes=30), dt.datetime(2026, 10, 25, 0, tzinfo=UTC), 1)
    gaps = {b - a for a, b in itertools.pairwise(runs)}
    assert gaps == {dt.timedelta(minutes=30)}


def test_last_due_is_the_latest_run_at_or_before_now():
    now = dt.datetime(2026, 7, 1, 6, 30, tzinfo=UTC)  # 07:30 BST
    assert daily(7).last_due(now) == dt.datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    assert daily(8).last_due(now) == dt.datetime(2026, 6, 30, 7, 0, tzinfo=UTC)
    assert weekly("mon", 9).last_due(now) == dt.datetime(2026, 6, 29, 8, 0, tzinfo=UTC)
    assert every(minutes=1).last_due(now) is None


def test_last_due_across_the_clock_changes():
    # The morning after the clocks go forward (29 March 2026) and back (25 October 2026):
    # the 07:00 run was at 06:00 UTC (BST), the one before it at 07:00 UTC (GMT), and back.
    after_spring = dt.datetime(2026, 3, 29, 6, 30, tzinfo=UTC)
    assert daily(7).last_due(after_spring) == dt.datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert daily(7).last_due(after_spring - dt.timedelta(hours=1)) == dt.datetime(
        2026, 3, 28, 7, 0, tzinfo=UTC
    )
    after_autumn = dt.datetime(2026, 10, 25, 7, 30, tzinfo=UTC)
    assert daily(7).last_due(after_autumn) == dt.datetime(2026, 10, 25, 7, 0, tzinfo=UTC)
    assert daily(7).last_due(after_autumn - dt.timedelta(hours=1)) == dt.datetime(
        2026, 10, 24, 6, 0, tzinfo=UTC
    )


def test_schedules_in_words():
    assert every(minutes=1).describe() == "Every minute"
    assert every(minutes=15).describe() == "Every 15 minutes"
    assert every(seconds=5).describe() == "Every 5 seconds"
    assert daily(7, 5).describe() == "Daily at 07:05"
    assert weekly("sun", 5).describe() == "Sundays at 05:00"
    with pytest.raises(ValueError):
        weekly("sunday", 5)
    with pytest.raises(ValueError):
        every()


def test_the_table_keeps_clear_of_the_hours_the_clocks_change():
    for job in JOBS:
        if job.schedule.hour is not None:
            assert not 1 <= job.schedule.hour < 3, f"{job.name} runs when the clocks change"


def test_every_job_has_a_name_a_description_and_a_sensible_grace_time():
    assert len({job.name for job in JOBS}) == len(JOBS)
    for job in JOBS:
        assert job.description.endswith(".")
        assert 0 < job.grace_seconds <= 3600


def test_job_names_must_be_unique(app):
    job = Job("twice", lambda now: None, every(minutes=1), "Twice.")
    with pytest.raises(ValueError):
        register_jobs(app, [job, job])
