"""Rules across the workflow: edited marks are drawn again, released outcomes that completed or
ended a course stay, "not completed" is final, resubmissions get their own deadline."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lms.assessments import marking
from lms.assessments.assignments import current_version
from lms.assessments.models import MarkingState, Outcome
from lms.assessments.submissions import deadline_for, open_draft
from lms.courses.enrolment import enrol
from lms.courses.models import Enrolment, EnrolmentStatus
from lms.database import utcnow
from lms.errors import Conflict
from lms.extensions import db
from lms.permissions import Role
from tests.assessments.factories import finish_mark, levels_for


def _enrolment(submission):
    return db.session.scalar(
        select(Enrolment).where(
            Enrolment.user_id == submission.user_id, Enrolment.course_id == submission.assignment.course_id
        )
    )


@pytest.fixture
def course(make_course):
    return make_course(modules=0)


def test_a_finished_pass_changed_to_a_referral_is_drawn_for_moderation(
    course, make_assignment, make_pool, make_submission, assessments_admin
):
    assignment = make_assignment(course, is_moderated=True, moderation_share=0)
    marker, _second = make_pool(course, 2)
    submission = make_submission(assignment)
    if submission.marker_id != marker.id:
        marker = _second
    mark = finish_mark(marker, submission, [10, 5])
    assert submission.state == MarkingState.MARKED and not submission.is_sampled
    version = mark.scheme_version
    marking.save_mark(
        marker, submission, {"levels": levels_for(version, [0, 0])}, expected_version=mark.version
    )
    assert mark.outcome == Outcome.REFER
    assert submission.state == MarkingState.IN_MODERATION and submission.is_sampled
    with pytest.raises(Conflict):
        marking.release(assessments_admin, [submission])


def test_a_pass_that_completed_the_course_keeps_its_outcome(
    course, make_assignment, make_pool, make_submission, assessments_admin
):
    assignment = make_assignment(course)
    (marker,) = make_pool(course, 1)
    submission = make_submission(assignment)
    mark = finish_mark(marker, submission, [10, 10])
    marking.release(assessments_admin, [submission])
    assert _enrolment(submission).status == EnrolmentStatus.COMPLETED
    version = mark.scheme_version
    with pytest.raises(Conflict, match="completed the course"):
        marking.save_mark(
            assessments_admin,
            submission,
            {"levels": levels_for(version, [0, 5])},
            expected_version=mark.version,
            reason="Marked in error",
        )
    # The levels may still change while it stays a pass.
    marking.save_mark(
        assessments_admin,
        submission,
        {"levels": levels_for(version, [10, 5])},
        expected_version=mark.version,
        reason="Typo in a level",
    )
    assert mark.total == 15 and mark.outcome == Outcome.PASS


def test_not_completed_is_final(course, make_assignment, make_pool, make_submission, assessments_admin):
    assignment = make_assignment(course, max_attempts=1)
    (marker,) = make_pool(course, 1)
    submission = make_submission(assignment)
    finish_mark(marker, submission, [0, 0])
    marking.release(assessments_admin, [submission])
    enrolment = _enrolment(submission)
    assert enrolment.status == EnrolmentStatus.NOT_COMPLETED
    with pytest.raises(Conflict, match="did not complete"):
        enrol(assessments_admin, db.session.get(type(assessments_admin), submission.user_id), course)
    assert enrolment.status == EnrolmentStatus.NOT_COMPLETED


def test_a_resubmission_is_due_weeks_after_the_referral(
    app, course, make_assignment, make_pool, make_submission, assessments_admin, make_user
):
    assignment = make_assignment(
        course, due_at=utcnow() + dt.timedelta(days=1), cutoff_at=utcnow() + dt.timedelta(days=2)
    )
    (marker,) = make_pool(course, 1)
    trainee = make_user(Role.TRAINEE)
    submission = make_submission(assignment, trainee)
    finish_mark(marker, submission, [5, 0])
    marking.release(assessments_admin, [submission])
    deadline = deadline_for(assignment, trainee.id)
    expected = submission.released_at + dt.timedelta(days=app.config["RESUBMISSION_DAYS"])
    assert deadline.due_at == expected and deadline.cutoff_at == expected
    # Past the assignment's own cut-off, the resubmission is still open.
    assert open_draft(trainee, assignment, now=assignment.cutoff_at + dt.timedelta(days=1)).attempt == 2


def test_odd_numbers_in_the_marking_form_are_refused_not_a_crash(
    client, login_as, course, make_assignment, make_pool, make_submission
):
    assignment = make_assignment(course)
    (marker,) = make_pool(course, 1)
    submission = make_submission(assignment)
    login_as(marker)
    criterion = current_version(assignment).criteria[0]
    for value in ("²", "99999999999999999999999", "-1", "x"):
        response = client.post(
            f"/marking/submissions/{submission.id}",
            data={f"level-{criterion.id}": value, "version": value, "save": "y"},
        )
        assert response.status_code in (409, 422), (value, response.status_code)
