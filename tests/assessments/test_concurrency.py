"""Races in marking and handing in, run with real threads and connections against PostgreSQL.

As in ``tests/courses/test_concurrency.py``: a freshly migrated database of the module's own,
committed data, each thread with its own application context and session. Each race widens
the window between the check and the write (a short sleep), so that the two transactions
overlap there every time; the rule must then hold through the database, not through luck.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lms.errors import Conflict
from lms.extensions import db
from lms.permissions import Role
from tests import races
from tests.races import in_app, run_together

pytestmark = pytest.mark.postgres_only
#: How long a thread holds the window open between its check and its write.
WINDOW = 0.3


@pytest.fixture(scope="module")
def race_app(app_config, worker_id):
    yield from races.race_app(app_config, f"race_assess_{worker_id}", pool_size=12)


def _slowed(original, calls: list | None = None):
    """``original``, after holding the race window open (each call noted in ``calls``)."""

    def slow(*args, **kwargs):
        if calls is not None:
            calls.append(threading.get_ident())
        time.sleep(WINDOW)
        return original(*args, **kwargs)

    return slow


_tags = iter(range(1, 10_000))


def _world(tag: str, *, text: str = "A case study about whole-family work.", submit: bool = True) -> dict:
    """An admin, a course with two assessors, an assignment and a trainee's attempt (ids)."""
    from lms.accounts.models import User, UserRole
    from lms.assessments import submissions
    from lms.assessments.assignments import save_assignment, save_scheme, set_pool
    from lms.courses import enrolment as enrolling
    from lms.courses.models import Course, CourseStatus, DeliveryFormat
    from lms.database import utcnow
    from lms.organisations.models import Organisation
    from tests.assessments.factories import RUBRIC

    n = next(_tags)

    def person(role, name):
        user = User(email=f"{tag}-{name}-{n}@race.example.org", name=f"{name} {n}")
        user.roles = [UserRole(role=role)]
        db.session.add(user)
        return user

    admin = person(Role.ADMIN, "admin")
    marker = person(Role.ASSESSOR, "marker")
    colleague = person(Role.ASSESSOR, "colleague")
    trainee = person(Role.TRAINEE, "trainee")
    course = Course(
        code=f"{tag.upper()}{n}",
        title=f"Race course {n}",
        provider=Organisation(name=f"Provider {tag} {n}"),
        delivery_format=DeliveryFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
    )
    db.session.add(course)
    db.session.flush()
    set_pool(admin, course, [marker.id, colleague.id])
    assignment = save_assignment(
        admin, course, None, {"title": "Case study", "due_at": utcnow() + dt.timedelta(days=7)}
    )
    save_scheme(admin, assignment, RUBRIC)
    enrolling.enrol(admin, trainee, course)
    draft = submissions.open_draft(trainee, assignment)
    submissions.save_draft(trainee, draft, text, 0)
    if submit:
        submissions.submit(trainee, draft, True)
        assert draft.marker_id == marker.id  # the lower id of two idle assessors
    db.session.flush()
    return {
        "admin": admin.id,
        "marker": marker.id,
        "colleague": colleague.id,
        "trainee": trainee.id,
        "course": course.id,
        "assignment": assignment.id,
        "submission": draft.id,
    }


def _get(model_name: str, ident: int):
    from lms.accounts.models import User
    from lms.assessments.models import Submission

    return db.session.get({"user": User, "submission": Submission}[model_name], ident)


def _levels(submission, points):
    from lms.assessments.assignments import current_version
    from tests.assessments.factories import levels_for

    return levels_for(current_version(submission.assignment), points)


def test_two_assessors_saving_the_same_mark_at_once_one_wins_and_nothing_is_lost(race_app, monkeypatch):
    from lms.assessments import marking
    from lms.assessments.models import GradeChange

    ids = in_app(race_app, lambda: _world("mark"))

    def first_draft():
        submission = _get("submission", ids["submission"])
        mark = marking.save_mark(
            _get("user", ids["marker"]),
            submission,
            {"levels": _levels(submission, [5, 5])},
            expected_version=None,
            feedback="First thoughts",
        )
        return mark.version

    seen = in_app(race_app, first_draft)
    scored = []
    monkeypatch.setattr(marking, "score", _slowed(marking.score, scored))  # after the version check
    choices = {"marker": [10, 5], "admin": [0, 5]}

    def save_as(who):
        def work():
            submission = _get("submission", ids["submission"])
            mark = marking.save_mark(
                _get("user", ids[who]),
                submission,
                {"levels": _levels(submission, choices[who])},
                expected_version=seen,
                feedback=f"Saved by {who}",
            )
            return (who, mark.version)

        return work

    outcomes = run_together(race_app, [save_as("marker"), save_as("admin")])
    # The submission's row lock serialises the two saves: the second waits for the first to
    # commit, then finds the mark's version moved and is refused before scoring anything.
    assert len(set(scored)) == 1
    wins = [o for o in outcomes if isinstance(o, tuple)]
    losses = [o for o in outcomes if not isinstance(o, tuple)]
    assert len(wins) == 1 and len(losses) == 1, outcomes
    assert isinstance(losses[0], Conflict) and "reload the page" in losses[0].message
    winner, version = wins[0]
    assert version == seen + 1

    def check():
        submission = _get("submission", ids["submission"])
        mark = marking.mark_of(submission)
        assert (mark.version, mark.feedback, mark.total) == (
            seen + 1,
            f"Saved by {winner}",
            sum(choices[winner]),
        )
        assert sorted(s.level_id for s in mark.scores) == sorted(
            _levels(submission, choices[winner]).values()
        )
        changes = list(db.session.scalars(select(GradeChange).where(GradeChange.mark_id == mark.id)))
        assert [(c.from_total, c.to_total, c.changed_by_id) for c in changes] == [
            (10, sum(choices[winner]), ids[winner])
        ]

    in_app(race_app, check)


def test_many_tabs_saving_the_same_mark_at_once_exactly_one_wins(race_app, monkeypatch):
    from lms.assessments import marking

    ids = in_app(race_app, lambda: _world("tabs"))
    monkeypatch.setattr(marking, "score", _slowed(marking.score))

    def save(points):
        def work():
            submission = _get("submission", ids["submission"])
            return marking.save_mark(
                _get("user", ids["marker"]),
                submission,
                {"levels": _levels(submission, points)},
                expected_version=None,  # each tab believes it gives the first mark
            ).total

        return work

    tabs = [[0, 0], [5, 0], [5, 5], [10, 5], [10, 10], [0, 10]]
    outcomes = run_together(race_app, [save(points) for points in tabs])
    totals = [o for o in outcomes if isinstance(o, int)]
    assert len(totals) == 1, outcomes
    # The losers were told to reload: a conflict, or the unique mark per submission refusing a second.
    assert all(isinstance(o, Conflict | IntegrityError) for o in outcomes if not isinstance(o, int))

    def check():
        from lms.assessments.models import Mark

        marks = list(db.session.scalars(select(Mark).where(Mark.submission_id == ids["submission"])))
        assert [(m.total, m.version) for m in marks] == [(totals[0], 1)]

    in_app(race_app, check)


def test_two_releases_of_the_same_submission_at_once_release_and_notify_once(race_app, monkeypatch):
    from lms.assessments import marking
    from lms.assessments.models import MarkingState
    from lms.audit import AuditEntry
    from lms.courses.completion import add_completion_listener, hooks
    from lms.courses.models import Enrolment, EnrolmentStatus
    from lms.mail import OutboundEmail
    from lms.notifications.models import Notification
    from tests.assessments.factories import finish_mark

    ids = in_app(race_app, lambda: _world("release"))
    in_app(
        race_app,
        lambda: finish_mark(_get("user", ids["marker"]), _get("submission", ids["submission"]), [10, 5]),
    )
    # The window between "is it releasable?" and the conditional update.
    monkeypatch.setattr(marking, "utcnow", _slowed(marking.utcnow))
    completed = []

    def listener(enrolment, _actor):
        completed.append(enrolment.id)

    add_completion_listener(race_app, listener)
    try:
        seen = []

        def release():
            submission = _get("submission", ids["submission"])
            seen.append(submission.state)
            return marking.release(_get("user", ids["admin"]), [submission])

        outcomes = run_together(race_app, [release, release])
    finally:
        hooks(race_app).listeners.remove(listener)
    assert seen == [MarkingState.MARKED, MarkingState.MARKED]  # both found it releasable
    assert sorted(outcomes) == [0, 1], outcomes

    def check():
        submission = _get("submission", ids["submission"])
        assert submission.is_released
        trainee = _get("user", ids["trainee"])
        notices = db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == trainee.id, Notification.kind == "marks_released")
        )
        assert notices == 1
        emails = db.session.scalar(
            select(func.count())
            .select_from(OutboundEmail)
            .where(OutboundEmail.recipient == trainee.email, OutboundEmail.subject.like("Mark released%"))
        )
        assert emails == 1
        released = db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "mark.released", AuditEntry.subject_id == submission.id)
        )
        assert released == 1
        enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == trainee.id))
        assert enrolment.status == EnrolmentStatus.COMPLETED
        return enrolment.id

    enrolment_id = in_app(race_app, check)
    assert completed == [enrolment_id]  # the pass completed the course exactly once


def test_two_submits_of_the_same_draft_at_once_one_submitted_one_receipt(race_app, monkeypatch):
    from lms.assessments import submissions
    from lms.assessments.models import SubmissionStatus
    from lms.audit import AuditEntry
    from lms.notifications.models import Notification

    ids = in_app(race_app, lambda: _world("submit", submit=False))
    # The window after the row lock: the second submit must wait for the first and then see it.
    monkeypatch.setattr(submissions, "deadline_for", _slowed(submissions.deadline_for))

    seen = []

    def submit():
        submission = _get("submission", ids["submission"])
        seen.append(submission.status)
        return submissions.submit(_get("user", ids["trainee"]), submission, True)

    outcomes = run_together(race_app, [submit, submit])
    assert seen == [SubmissionStatus.DRAFT, SubmissionStatus.DRAFT]  # both found a draft to submit
    receipts = [o for o in outcomes if isinstance(o, dict)]
    assert len(receipts) == 1, outcomes
    (refused,) = [o for o in outcomes if not isinstance(o, dict)]
    assert isinstance(refused, Conflict) and "submitted" in refused.message

    def check():
        submission = _get("submission", ids["submission"])
        assert submission.is_submitted and submission.submitted_at == receipts[0]["submitted_at"]
        assert submission.marker_id == ids["marker"]

        def count(model, *where):
            return db.session.scalar(select(func.count()).select_from(model).where(*where))

        assert (
            count(
                Notification,
                Notification.user_id == ids["trainee"],
                Notification.kind == "submission_receipt",
            )
            == 1
        )
        for action in ("submission.submitted", "submission.allocated"):
            assert count(AuditEntry, AuditEntry.action == action, AuditEntry.subject_id == submission.id) == 1
        assert (
            count(
                Notification, Notification.user_id == ids["marker"], Notification.kind == "marking_allocated"
            )
            == 1
        )

    in_app(race_app, check)
