"""The assignment as a completion requirement, and what a released mark does to the enrolment."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lms.assessments import marking
from lms.assessments.models import Outcome
from lms.courses import content, progress
from lms.courses.completion import add_completion_listener, hooks, other_unmet_requirements
from lms.courses.models import Enrolment, EnrolmentStatus
from lms.extensions import db as _db
from lms.permissions import Role
from tests.assessments.factories import audits, finish_mark, notices_of


@pytest.fixture
def completions(app):
    """Completions announced to the listeners while the test runs (the listener is removed after)."""
    announced = []

    def listener(enrolment, actor):
        announced.append((enrolment.id, getattr(actor, "id", None)))

    add_completion_listener(app, listener)
    try:
        yield announced
    finally:
        hooks(app).listeners.remove(listener)


@pytest.fixture
def course(make_course):
    return make_course(modules=0, title="Practitioner training")


@pytest.fixture
def marker(course, make_pool):
    (marker,) = make_pool(course, 1)
    return marker


@pytest.fixture
def trainee(make_user):
    return make_user(Role.TRAINEE)


def _enrolment(user, course) -> Enrolment:
    enrolment = _db.session.scalar(
        select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.course_id == course.id)
    )
    _db.session.refresh(enrolment)
    return enrolment


def _release(admin, marker, submission, points):
    mark = finish_mark(marker, submission, points)
    marking.release(admin, [submission])
    return mark


class TestTheRequirement:
    def test_a_required_assignment_is_unmet_until_a_pass_is_released(
        self, make_assignment, course, marker, trainee, make_submission, assessments_admin
    ):
        assignment = make_assignment(course, title="Reflective case study")
        submission = make_submission(assignment, trainee)
        enrolment = _enrolment(trainee, course)
        wanted = ["Pass the assignment “Reflective case study”."]
        assert progress.unmet_requirements(enrolment) == wanted
        finish_mark(marker, submission, [10, 10])
        assert progress.unmet_requirements(enrolment) == wanted  # marked, not released
        marking.release(assessments_admin, [submission])
        assert progress.unmet_requirements(_enrolment(trainee, course)) == []

    def test_a_released_referral_does_not_count(
        self, make_assignment, course, marker, trainee, make_submission, assessments_admin
    ):
        assignment = make_assignment(course, title="Case study")
        submission = make_submission(assignment, trainee)
        _release(assessments_admin, marker, submission, [5, 0])
        enrolment = _enrolment(trainee, course)
        assert enrolment.status == EnrolmentStatus.ACTIVE
        assert progress.unmet_requirements(enrolment) == ["Pass the assignment “Case study”."]

    def test_each_required_assignment_counts_and_optional_ones_do_not(
        self, make_assignment, course, trainee, make_enrolment
    ):
        make_assignment(course, title="First")
        make_assignment(course, title="Optional", is_required=False)
        make_assignment(course, title="Second")
        enrolment = make_enrolment(trainee, course)
        assert progress.unmet_requirements(enrolment) == [
            "Pass the assignment “First”.",
            "Pass the assignment “Second”.",
        ]

    def test_a_pass_of_another_trainee_or_another_course_does_not_count(
        self,
        make_assignment,
        course,
        marker,
        trainee,
        make_user,
        make_submission,
        make_enrolment,
        assessments_admin,
    ):
        assignment = make_assignment(course)
        other = make_user(Role.TRAINEE)
        _release(assessments_admin, marker, make_submission(assignment, other), [10, 10])
        enrolment = make_enrolment(trainee, course)
        assert len(progress.unmet_requirements(enrolment)) == 1

    def test_a_bounded_number_of_queries_for_many_enrolments(
        self,
        make_assignment,
        make_course,
        make_user,
        make_enrolment,
        make_pool,
        make_submission,
        assessments_admin,
        count_queries,
    ):
        courses = [make_course(modules=0) for _ in range(3)]
        for each in courses:
            (marker,) = make_pool(each, 1)
            for _ in range(2):
                assignment = make_assignment(each)
            _release(assessments_admin, marker, make_submission(assignment), [10, 10])
        enrolments = list(_db.session.scalars(select(Enrolment).order_by(Enrolment.id)))
        few = enrolments[:1]
        for each in courses:
            for _ in range(10):
                enrolments.append(make_enrolment(make_user(Role.TRAINEE), each))
        _db.session.flush()
        with count_queries() as one:
            other_unmet_requirements(few)
        with count_queries() as many:
            found = other_unmet_requirements(enrolments)
        assert len(enrolments) == 33
        assert many.count == one.count <= 2
        assert sum(1 for problems in found.values() if len(problems) == 1) == 3  # each passed one of two
        assert sum(1 for problems in found.values() if len(problems) == 2) == 30

    def test_one_enrolments_check_does_not_grow_with_the_assignments(
        self, make_assignment, course, trainee, make_enrolment, count_queries
    ):
        make_assignment(course)
        enrolment = make_enrolment(trainee, course)
        with count_queries() as few:
            progress.unmet_requirements(enrolment)
        for _ in range(5):
            make_assignment(course)
        _db.session.flush()  # the factories' pending audit entries are not the check's queries
        with count_queries() as many:
            assert len(progress.unmet_requirements(enrolment)) == 6
        assert many.count == few.count


class TestCompletion:
    def test_the_pass_completes_the_course_once_and_the_listeners_run_once(
        self, make_assignment, course, marker, trainee, make_submission, assessments_admin, completions
    ):
        submission = make_submission(make_assignment(course), trainee)
        enrolment_id = _enrolment(trainee, course).id
        _release(assessments_admin, marker, submission, [10, 5])
        enrolment = _enrolment(trainee, course)
        assert enrolment.status == EnrolmentStatus.COMPLETED and enrolment.completed_at is not None
        assert completions == [(enrolment_id, assessments_admin.id)]
        assert len(audits("enrolment.completed", enrolment)) == 1
        # Releasing again, or changing the released pass, completes nothing more.
        assert marking.release(assessments_admin, [submission]) == 0
        finish_mark(assessments_admin, submission, [10, 10], reason="Raised on review")
        assert completions == [(enrolment_id, assessments_admin.id)]
        assert len(audits("enrolment.completed", enrolment)) == 1

    def test_a_pass_on_the_resubmission_completes_it(
        self, make_assignment, course, marker, trainee, make_submission, assessments_admin, completions
    ):
        assignment = make_assignment(course)
        _release(assessments_admin, marker, make_submission(assignment, trainee), [0, 5])
        assert completions == []
        _release(assessments_admin, marker, make_submission(assignment, trainee), [5, 5])
        assert _enrolment(trainee, course).status == EnrolmentStatus.COMPLETED
        assert len(completions) == 1

    def test_the_pass_waits_for_the_modules_and_the_last_module_completes_it(
        self,
        make_course,
        make_assignment,
        make_pool,
        make_user,
        make_submission,
        assessments_admin,
        completions,
    ):
        course = make_course(modules=1)
        (marker,) = make_pool(course, 1)
        trainee = make_user(Role.TRAINEE)
        _release(assessments_admin, marker, make_submission(make_assignment(course), trainee), [10, 10])
        enrolment = _enrolment(trainee, course)
        assert enrolment.status == EnrolmentStatus.ACTIVE and completions == []
        (module,) = content.active_modules([course.id])[course.id]
        progress.open_module(trainee, enrolment, module)
        progress.complete_module(trainee, enrolment, module)
        assert _enrolment(trainee, course).status == EnrolmentStatus.COMPLETED
        assert completions == [(enrolment.id, trainee.id)]

    def test_modules_done_but_the_assignment_not_passed_is_not_complete(
        self, make_course, make_assignment, make_user, make_enrolment, completions
    ):
        course = make_course(modules=1)
        make_assignment(course)
        trainee = make_user(Role.TRAINEE)
        enrolment = make_enrolment(trainee, course)
        (module,) = content.active_modules([course.id])[course.id]
        progress.open_module(trainee, enrolment, module)
        progress.complete_module(trainee, enrolment, module)
        assert _enrolment(trainee, course).status == EnrolmentStatus.ACTIVE
        assert completions == []

    def test_an_optional_assignment_does_not_block_completion(
        self, make_course, make_assignment, make_user, make_enrolment, completions
    ):
        course = make_course(modules=1)
        make_assignment(course, is_required=False)
        trainee = make_user(Role.TRAINEE)
        enrolment = make_enrolment(trainee, course)
        (module,) = content.active_modules([course.id])[course.id]
        progress.open_module(trainee, enrolment, module)
        progress.complete_module(trainee, enrolment, module)
        assert _enrolment(trainee, course).status == EnrolmentStatus.COMPLETED
        assert len(completions) == 1


class TestLastAttemptFailed:
    @pytest.fixture
    def people(self, make_organisation, make_user):
        organisation = make_organisation()
        trainee = make_user(Role.TRAINEE, name="Fergal Trainee", organisation_id=organisation.id)
        manager = make_user(Role.ORG_MANAGER, name="Orla Manager", organisation_id=organisation.id)
        elsewhere = make_user(Role.ORG_MANAGER, organisation_id=make_organisation().id)
        return trainee, manager, elsewhere

    def test_it_ends_the_enrolment_and_tells_the_trainee_and_their_manager(
        self, make_assignment, course, marker, make_submission, assessments_admin, people, completions
    ):
        trainee, manager, elsewhere = people
        assignment = make_assignment(course, max_attempts=1, title="Case study")
        submission = make_submission(assignment, trainee)
        assert _release(assessments_admin, marker, submission, [5, 0]).outcome == Outcome.FAIL
        enrolment = _enrolment(trainee, course)
        assert enrolment.status == EnrolmentStatus.NOT_COMPLETED and enrolment.completed_at is None
        (entry,) = audits("enrolment.not_completed", enrolment)
        assert "Case study" in entry.after["reason"]
        (to_trainee,) = notices_of(trainee, "attempts_used")
        assert to_trainee.text.startswith("You did not pass “Case study”")
        assert to_trainee.link == f"/assignments/{assignment.id}"
        (to_manager,) = notices_of(manager, "attempts_used")
        assert to_manager.text.startswith("Fergal Trainee did not pass")
        assert to_manager.link == ""
        assert notices_of(elsewhere, "attempts_used") == []
        assert completions == []

    def test_a_referral_on_an_earlier_attempt_does_not(
        self, make_assignment, course, marker, make_submission, assessments_admin, people
    ):
        trainee, manager, _elsewhere = people
        submission = make_submission(make_assignment(course, max_attempts=2), trainee)
        assert _release(assessments_admin, marker, submission, [5, 0]).outcome == Outcome.REFER
        assert _enrolment(trainee, course).status == EnrolmentStatus.ACTIVE
        assert notices_of(trainee, "attempts_used") == [] and notices_of(manager, "attempts_used") == []

    def test_a_failed_optional_assignment_leaves_the_enrolment_alone(
        self, make_assignment, course, marker, make_submission, assessments_admin, people
    ):
        trainee, _manager, _elsewhere = people
        required = make_assignment(course)
        submission = make_submission(make_assignment(course, max_attempts=1, is_required=False), trainee)
        assert _release(assessments_admin, marker, submission, [0, 0]).outcome == Outcome.FAIL
        enrolment = _enrolment(trainee, course)
        assert enrolment.status == EnrolmentStatus.ACTIVE
        assert notices_of(trainee, "attempts_used") == []
        assert progress.unmet_requirements(enrolment) == [f"Pass the assignment “{required.title}”."]
        assert notices_of(trainee, "attempts_used") == []
