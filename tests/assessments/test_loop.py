"""The whole loop through the services: submit, allocate, mark, moderate, release, refer, resubmit, pass."""

from __future__ import annotations

import pytest

from lms.assessments import marking, moderation
from lms.assessments.assignments import current_version
from lms.assessments.models import MarkingState, ModerationDecision, Outcome
from lms.assessments.submissions import open_draft, save_draft, submit
from lms.courses.models import EnrolmentStatus
from lms.courses.progress import unmet_requirements
from lms.errors import Conflict
from lms.permissions import Role
from tests.assessments.factories import levels_for


@pytest.fixture
def setup(make_assignment, make_pool, make_course, make_user, assessments_admin):
    course = make_course(modules=0)
    assignment = make_assignment(course, is_moderated=True, moderation_share=0)
    first, second = make_pool(course, 2)
    return course, assignment, first, second, assessments_admin


def test_refer_resubmit_pass_completes_the_course(setup, make_submission, make_user, db):
    course, assignment, first, second, admin = setup
    trainee = make_user(Role.TRAINEE)
    attempt1 = make_submission(assignment, trainee)
    assert attempt1.state == MarkingState.NOT_MARKED
    assert attempt1.marker_id in {first.id, second.id}
    marker = first if attempt1.marker_id == first.id else second
    moderator = second if marker is first else first
    version = current_version(assignment)
    enrolment = db.session.get(type(trainee), trainee.id)  # noqa: F841
    assert unmet_requirements(_enrolment(trainee, course)) == [f"Pass the assignment “{assignment.title}”."]

    mark = marking.save_mark(marker, attempt1, {"levels": levels_for(version, [5, 0])}, expected_version=None)
    assert attempt1.state == MarkingState.IN_MARKING
    mark = marking.save_mark(
        marker,
        attempt1,
        {"levels": levels_for(version, [5, 0])},
        expected_version=mark.version,
        is_final=True,
        feedback="Link it to the principles.",
    )
    assert mark.outcome == Outcome.REFER
    # A referral is always in the sample.
    assert attempt1.state == MarkingState.IN_MODERATION
    assert attempt1.moderator_id == moderator.id
    with pytest.raises(Conflict):
        marking.release(admin, [attempt1])
    moderation.moderate(moderator, attempt1, ModerationDecision.AGREED, expected_version=mark.version)
    assert attempt1.state == MarkingState.READY_FOR_RELEASE
    assert marking.release(admin, [attempt1]) == 1
    assert attempt1.state == MarkingState.RELEASED

    attempt2 = open_draft(trainee, assignment)
    assert attempt2.attempt == 2
    assert attempt2.text == attempt1.text
    save_draft(trainee, attempt2, attempt1.text + " Now with the principles.", attempt2.draft_revision)
    submit(trainee, attempt2, True)
    marker2 = first if attempt2.marker_id == first.id else second
    mark2 = marking.save_mark(
        marker2, attempt2, {"levels": levels_for(version, [10, 5])}, expected_version=None, is_final=True
    )
    assert mark2.outcome == Outcome.PASS
    assert attempt2.state == MarkingState.MARKED  # share 0: a pass is not sampled
    marking.release(admin, [attempt2])
    assert _enrolment(trainee, course).status == EnrolmentStatus.COMPLETED


def test_fail_on_last_attempt_ends_the_enrolment(
    make_assignment, make_course, make_pool, make_submission, make_user, assessments_admin
):
    course = make_course(modules=0)
    assignment = make_assignment(course, max_attempts=1)
    (marker,) = make_pool(course, 1)
    trainee = make_user(Role.TRAINEE)
    submission = make_submission(assignment, trainee)
    version = current_version(assignment)
    mark = marking.save_mark(
        marker, submission, {"levels": levels_for(version, [0, 5])}, expected_version=None, is_final=True
    )
    assert mark.outcome == Outcome.FAIL
    marking.release(assessments_admin, [submission])
    assert _enrolment(trainee, course).status == EnrolmentStatus.NOT_COMPLETED


def _enrolment(user, course):
    from sqlalchemy import select

    from lms.courses.models import Enrolment
    from lms.extensions import db

    return db.session.scalar(
        select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.course_id == course.id)
    )
