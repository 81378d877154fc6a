"""Temporary: re-exports for code not yet moved to the split course modules. To be deleted."""

# ruff: noqa: F401, F403
from lms.courses.catalogue import *
from lms.courses.catalogue import _course_snapshot
from lms.courses.cohorts import *
from lms.courses.content import *
from lms.courses.enrolment import *
from lms.courses.progress import *
from lms.database import today
from lms.courses.reports import completion_counts as completion_rate
from lms.courses.reports import completions_per_month as completions_by_month
