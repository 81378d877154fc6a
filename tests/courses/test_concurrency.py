"""Races, run with real threads and connections against PostgreSQL.

Each test gets its own freshly migrated database (committed data, no rollback fixture),
because concurrent transactions must really commit to race each other.
"""

from __future__ import annotations

import functools
import threading
import time

import pytest
from sqlalchemy import func, select

from lms.extensions import db
from lms.permissions import Role
from tests import races
from tests.races import in_app, run_together

pytestmark = pytest.mark.postgres_only
THREADS = 16


@pytest.fixture(scope="module")
def race_app(app_config, worker_id):
    yield from races.race_app(app_config, f"race_{worker_id}", pool_size=THREADS + 2)


def _race(app, work, count=THREADS):
    """Run ``work(i)`` in ``count`` threads released at the same moment; return outcomes."""
    return run_together(app, [functools.partial(work, i) for i in range(count)])


def _people(n, tag):
    from lms.accounts.models import User, UserRole

    users = []
    for i in range(n):
        user = User(email=f"{tag}{i}@race.example.org", name=f"Racer {i}")
        user.roles = [UserRole(role=Role.TRAINEE)]
        db.session.add(user)
        users.append(user)
    db.session.flush()
    return [u.id for u in users]


def _course(code, modules=1):
    import datetime as dt

    from lms.courses.models import Cohort, Course, CourseStatus, DeliveryFormat, Module
    from lms.organisations.models import Organisation

    provider = Organisation(name=f"Provider {code}")
    course = Course(
        code=code,
        title=code,
        provider=provider,
        delivery_format=DeliveryFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
    )
    for position in range(1, modules + 1):
        db.session.add(Module(course=course, position=position, title=f"M{position}"))
    today = dt.date.today()
    cohort = Cohort(
        course=course,
        name="Last places",
        starts_on=today,
        ends_on=today + dt.timedelta(days=30),
        delivery_format=DeliveryFormat.ONLINE,
        capacity=5,
        has_waiting_list=False,
    )
    db.session.add_all([course, cohort])
    db.session.flush()
    return course.id, cohort.id


def test_many_people_racing_for_the_last_places(race_app):
    from lms.accounts.models import User
    from lms.courses import enrolment as enrolling
    from lms.courses.models import Cohort, Course, Enrolment

    user_ids = in_app(race_app, lambda: _people(THREADS, "cap"))
    course_id, cohort_id = in_app(race_app, lambda: _course("RACE1"))

    def enrol(i):
        user = db.session.get(User, user_ids[i])
        return enrolling.enrol(
            user, user, db.session.get(Course, course_id), db.session.get(Cohort, cohort_id)
        ).id

    outcomes = _race(race_app, enrol)
    with race_app.app_context():
        enrolled = db.session.scalar(
            select(func.count()).select_from(Enrolment).where(Enrolment.cohort_id == cohort_id)
        )
        cohort = db.session.get(Cohort, cohort_id)
        assert enrolled == 5
        assert cohort.seats_taken == 5
    assert sum(isinstance(o, int) for o in outcomes) == 5
    assert all("full" in str(o) for o in outcomes if not isinstance(o, int))


def test_same_person_enrolling_twice_at_once(race_app):
    from lms.accounts.models import User
    from lms.courses import enrolment as enrolling
    from lms.courses.models import Cohort, Course, Enrolment

    (user_id,) = in_app(race_app, lambda: _people(1, "twice"))
    course_id, cohort_id = in_app(race_app, lambda: _course("RACE2"))

    def enrol(_i):
        user = db.session.get(User, user_id)
        return enrolling.enrol(
            user, user, db.session.get(Course, course_id), db.session.get(Cohort, cohort_id)
        ).id

    outcomes = _race(race_app, enrol, count=8)
    with race_app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.user_id == user_id))
            == 1
        )
        assert db.session.get(Cohort, cohort_id).seats_taken == 1
    assert sum(isinstance(o, int) for o in outcomes) == 1


def test_finishing_the_last_two_modules_at_once_completes_exactly_once(race_app, monkeypatch):
    from lms.accounts.models import User
    from lms.courses import content, progress
    from lms.courses import enrolment as enrolling
    from lms.courses.completion import hooks
    from lms.courses.models import Course, Enrolment, Module

    (user_id,) = in_app(race_app, lambda: _people(1, "complete"))
    course_id, _cohort_id = in_app(race_app, lambda: _course("RACE3", modules=2))

    def prepare():
        user = db.session.get(User, user_id)
        course = db.session.get(Course, course_id)
        from lms.accounts.models import UserRole

        admin = User(email="race-admin@race.example.org", name="Admin", roles=[UserRole(role=Role.ADMIN)])
        db.session.add(admin)
        enrolment = enrolling.enrol(admin, user, course)
        for module in content.active_modules([course_id])[course_id]:
            progress.open_module(user, enrolment, module)
        return enrolment.id

    enrolment_id = in_app(race_app, prepare)
    # Widen the window between writing progress and checking completion, so that the two
    # requests overlap there every time (without the row lock, both would miss the other).
    original = progress.unmet_requirements

    def slow_unmet(enrolment):
        time.sleep(0.3)
        return original(enrolment)

    monkeypatch.setattr(progress, "unmet_requirements", slow_unmet)
    announced = []
    hooks(race_app).listeners.append(lambda enrolment, actor: announced.append(enrolment.id))
    try:
        module_ids = in_app(race_app, lambda: [m.id for m in content.active_modules([course_id])[course_id]])

        def complete(i):
            user = db.session.get(User, user_id)
            enrolment = db.session.get(Enrolment, enrolment_id)
            progress.complete_module(user, enrolment, db.session.get(Module, module_ids[i]))

        outcomes = _race(race_app, complete, count=2)
    finally:
        hooks(race_app).listeners.pop()
    assert outcomes == [None, None]
    with race_app.app_context():
        enrolment = db.session.get(Enrolment, enrolment_id)
        assert enrolment.completed_at is not None
    assert announced == [enrolment_id]


def test_concurrent_api_requests_for_the_last_places(race_app):
    """The same race through real HTTP requests: never more enrolments than places."""
    from lms.accounts.models import User
    from lms.accounts.services import create_api_token
    from lms.courses.models import Cohort, Enrolment

    def people_with_tokens():
        ids = _people(THREADS, "http")
        return [create_api_token(db.session.get(User, i), "race")[1] for i in ids]

    tokens = in_app(race_app, lambda: people_with_tokens())
    course_id, cohort_id = in_app(race_app, lambda: _course("RACE4"))
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = [0] * THREADS

    def post(i):
        client = race_app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/enrolments",
            json={"course_id": course_id, "cohort_id": cohort_id},
            headers={"Authorization": f"Bearer {tokens[i]}"},
        )
        statuses[i] = response.status_code

    threads = [threading.Thread(target=post, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [201] * 5 + [409] * (THREADS - 5), statuses
    with race_app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(Enrolment).where(Enrolment.cohort_id == cohort_id)
            )
            == 5
        )
        assert db.session.get(Cohort, cohort_id).seats_taken == 5
