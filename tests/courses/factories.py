"""Factories for courses, cohorts and enrolments."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import sqlalchemy as sa

from lms import database
from lms.extensions import db as _db
from lms.permissions import Role

_counter = itertools.count(1)


@pytest.fixture
def make_course(db, make_organisation):
    """Factory for courses: published, self-enrol, online, with ``modules`` plain modules."""
    from lms.courses.models import Course, CourseStatus, DeliveryFormat, Module

    def make(
        *,
        modules: int = 2,
        status=CourseStatus.PUBLISHED,
        provider=None,
        prerequisites=(),
        **fields,
    ):
        n = next(_counter)
        course = Course(
            code=fields.pop("code", f"C{n:04d}"),
            title=fields.pop("title", f"Course {n}"),
            summary=fields.pop("summary", "A course."),
            provider=provider or make_organisation(),
            delivery_format=fields.pop("delivery_format", DeliveryFormat.ONLINE),
            status=status,
            **fields,
        )
        course.prerequisites = list(prerequisites)
        _db.session.add(course)
        for position in range(1, modules + 1):
            _db.session.add(
                Module(course=course, position=position, title=f"Module {position}", content="Read this.")
            )
        _db.session.flush()
        return course

    return make


@pytest.fixture
def make_cohort(db):
    """Factory for cohorts taking enrolments now."""
    from lms.courses.models import Cohort

    def make(course, *, capacity=None, has_waiting_list=True, **fields):
        today = database.today()  # the services' clock (UTC), not the machine's
        cohort = Cohort(
            course=course,
            name=fields.pop("name", f"Cohort {next(_counter)}"),
            starts_on=fields.pop("starts_on", today + dt.timedelta(days=7)),
            ends_on=fields.pop("ends_on", today + dt.timedelta(days=60)),
            delivery_format=fields.pop("delivery_format", course.delivery_format),
            capacity=capacity,
            has_waiting_list=has_waiting_list,
            **fields,
        )
        _db.session.add(cohort)
        _db.session.flush()
        return cohort

    return make


@pytest.fixture
def make_enrolment(db):
    """Enrol a user through the real service (as an admin would)."""
    from lms.accounts.models import User, UserRole
    from lms.courses import enrolment as enrolling

    def make(user, course, cohort=None):
        admin = _db.session.scalar(sa.select(User).join(UserRole).where(UserRole.role == Role.ADMIN).limit(1))
        if admin is None:
            admin = User(email=f"enroller{next(_counter)}@example.org", name="Enroller")
            admin.roles = [UserRole(role=Role.ADMIN)]
            _db.session.add(admin)
            _db.session.flush()
        return enrolling.enrol(admin, user, course, cohort)

    return make
