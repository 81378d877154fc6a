"""Marking: scoring rules, outcomes, optimistic locking, grade history, visibility, versions, release."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from lms import mail
from lms.assessments import marking
from lms.assessments.allocation import allocate
from lms.assessments.assignments import current_version, save_scheme
from lms.assessments.models import GradeChange, Mark, MarkingState, Outcome
from lms.assessments.submissions import open_draft
from lms.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.permissions import Role
from tests.assessments.factories import (
    PDF_BYTES,
    RUBRIC,
    audits,
    finish_mark,
    levels_for,
    notices_of,
)

POINTS = {"kind": "points", "max_points": 50, "pass_mark": 25}


@pytest.fixture
def course(make_course):
    return make_course(modules=0)


@pytest.fixture
def marker(course, make_pool):
    (marker,) = make_pool(course, 1)
    return marker


@pytest.fixture
def assignment(make_assignment, course, marker):
    return make_assignment(course)


@pytest.fixture
def trainee(make_user):
    return make_user(Role.TRAINEE)


@pytest.fixture
def submission(assignment, trainee, make_submission):
    return make_submission(assignment, trainee)


def _marks_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Mark))


def _changes(mark) -> list[GradeChange]:
    return marking.changes_of(mark)


class TestScoring:
    def test_a_level_from_another_criterion_is_refused_and_nothing_saved(self, marker, submission):
        version = current_version(submission.assignment)
        reflection, principles = version.criteria
        wrong = {reflection.id: principles.levels[1].id}
        with pytest.raises(InvalidInput, match="does not belong to the criterion “Reflection”") as caught:
            marking.save_mark(marker, submission, {"levels": wrong}, expected_version=None)
        assert list(caught.value.fields) == ["levels"]
        assert marking.mark_of(submission) is None
        assert submission.state == MarkingState.NOT_MARKED

    def test_a_criterion_of_another_assignment_is_refused(
        self, db, marker, submission, make_assignment, course
    ):
        other = current_version(make_assignment(course))
        foreign = {other.criteria[0].id: other.criteria[0].levels[0].id}
        with pytest.raises(InvalidInput, match="is not part of this rubric"):
            marking.save_mark(marker, submission, {"levels": foreign}, expected_version=None)
        assert _marks_count(db) == 0

    @pytest.mark.parametrize("value", [{"a": "b"}, "not a dict", ["x"]])
    def test_levels_that_are_not_ids_are_refused(self, marker, submission, value):
        with pytest.raises(InvalidInput) as caught:
            marking.save_mark(marker, submission, {"levels": value}, expected_version=None)
        assert list(caught.value.fields) == ["levels"]

    @pytest.mark.parametrize("points", [51, 1000, -1])
    def test_a_mark_outside_zero_to_the_maximum_is_refused(
        self, make_assignment, course, marker, make_submission, points
    ):
        submission = make_submission(make_assignment(course, scheme=POINTS))
        with pytest.raises(InvalidInput, match="between 0 and 50") as caught:
            marking.save_mark(marker, submission, {"points": points}, expected_version=None, is_final=True)
        assert list(caught.value.fields) == ["points"]
        assert marking.mark_of(submission) is None

    @pytest.mark.parametrize("points", ["30", 30.5, True])
    def test_a_mark_that_is_not_a_whole_number_is_refused(
        self, make_assignment, course, marker, make_submission, points
    ):
        submission = make_submission(make_assignment(course, scheme=POINTS))
        with pytest.raises(InvalidInput, match="whole number"):
            marking.save_mark(marker, submission, {"points": points}, expected_version=None)

    def test_the_maximum_itself_is_accepted(self, make_assignment, course, marker, make_submission):
        submission = make_submission(make_assignment(course, scheme=POINTS))
        mark = marking.save_mark(marker, submission, {"points": 50}, expected_version=None, is_final=True)
        assert (mark.total, mark.outcome) == (50, Outcome.PASS)

    def test_finishing_with_criteria_missing_is_refused(self, marker, submission):
        version = current_version(submission.assignment)
        partial = {version.criteria[0].id: version.criteria[0].levels[2].id}
        draft = marking.save_mark(marker, submission, {"levels": partial}, expected_version=None)
        assert (draft.total, draft.outcome, submission.state) == (None, None, MarkingState.IN_MARKING)
        with pytest.raises(InvalidInput, match="every criterion before you finish: Principles") as caught:
            marking.save_mark(
                marker, submission, {"levels": partial}, expected_version=draft.version, is_final=True
            )
        assert list(caught.value.fields) == ["levels"]
        assert draft.completed_at is None and submission.state == MarkingState.IN_MARKING

    def test_finishing_a_points_mark_without_the_mark_is_refused(
        self, make_assignment, course, marker, make_submission
    ):
        submission = make_submission(make_assignment(course, scheme=POINTS))
        with pytest.raises(InvalidInput, match="Enter the mark") as caught:
            marking.save_mark(marker, submission, {"points": ""}, expected_version=None, is_final=True)
        assert list(caught.value.fields) == ["points"]

    def test_a_finished_mark_cannot_be_made_incomplete_again(self, marker, submission, assessments_admin):
        mark = finish_mark(marker, submission, [10, 10])
        version = current_version(submission.assignment)
        partial = {version.criteria[0].id: version.criteria[0].levels[0].id}
        with pytest.raises(InvalidInput):
            marking.save_mark(
                assessments_admin, submission, {"levels": partial}, expected_version=mark.version
            )
        assert mark.total == 20


class TestOutcomes:
    @pytest.mark.parametrize(
        ("points", "attempt", "max_attempts", "outcome"),
        [
            ([5, 5], 1, 2, Outcome.PASS),  # exactly the pass mark
            ([10, 10], 2, 2, Outcome.PASS),
            ([5, 0], 1, 2, Outcome.REFER),  # below, attempts left
            ([0, 0], 1, 3, Outcome.REFER),
            ([5, 0], 2, 2, Outcome.FAIL),  # below, on the last attempt
            ([5, 0], 1, 1, Outcome.FAIL),  # a single attempt
        ],
    )
    def test_pass_refer_fail(self, assignment, points, attempt, max_attempts, outcome):
        version = current_version(assignment)
        total = sum(points)
        assert marking.outcome_for(total, version, attempt, max_attempts) == outcome

    def test_the_outcome_follows_the_attempt(
        self, make_assignment, course, marker, make_submission, assessments_admin, trainee
    ):
        assignment = make_assignment(course, max_attempts=2, is_required=False)
        first = make_submission(assignment, trainee)
        assert finish_mark(marker, first, [5, 0]).outcome == Outcome.REFER
        marking.release(assessments_admin, [first])
        second = make_submission(assignment, trainee)
        assert finish_mark(marker, second, [5, 0]).outcome == Outcome.FAIL


class TestLocking:
    def test_a_stale_version_is_refused_and_nothing_saved(self, db, marker, submission, assessments_admin):
        version = current_version(submission.assignment)
        mark = marking.save_mark(
            marker, submission, {"levels": levels_for(version, [5, 5])}, expected_version=None
        )
        seen = mark.version
        # Someone else (an admin) saves first.
        marking.save_mark(
            assessments_admin, submission, {"levels": levels_for(version, [10, 5])}, expected_version=seen
        )
        assert mark.version == seen + 1
        changes = len(_changes(mark))
        with pytest.raises(Conflict, match="Someone else saved this mark"):
            marking.save_mark(
                marker,
                submission,
                {"levels": levels_for(version, [0, 0])},
                expected_version=seen,
                feedback="Overwrite",
            )
        db.session.expire_all()
        mark = marking.mark_of(submission)
        assert (mark.total, mark.feedback, mark.version) == (15, "", seen + 1)
        assert sorted(s.level_id for s in mark.scores) == sorted(levels_for(version, [10, 5]).values())
        assert len(_changes(mark)) == changes

    def test_a_second_first_mark_is_refused(self, marker, submission):
        version = current_version(submission.assignment)
        marking.save_mark(marker, submission, {"levels": levels_for(version, [5, 5])}, expected_version=None)
        with pytest.raises(Conflict):
            marking.save_mark(
                marker, submission, {"levels": levels_for(version, [0, 0])}, expected_version=None
            )

    def test_a_version_from_the_future_is_refused(self, marker, submission):
        version = current_version(submission.assignment)
        mark = marking.save_mark(
            marker, submission, {"levels": levels_for(version, [5, 5])}, expected_version=None
        )
        with pytest.raises(Conflict):
            marking.save_mark(
                marker, submission, {"levels": levels_for(version, [0, 0])}, expected_version=mark.version + 5
            )


class TestGradeHistory:
    def test_the_first_save_is_not_a_change_and_every_later_change_is_kept(self, marker, submission):
        version = current_version(submission.assignment)
        mark = marking.save_mark(
            marker,
            submission,
            {"levels": levels_for(version, [5, 5])},
            expected_version=None,
            feedback="Good",
        )
        assert _changes(mark) == []
        mark = marking.save_mark(
            marker,
            submission,
            {"levels": levels_for(version, [10, 5])},
            expected_version=mark.version,
            feedback="Good",
        )
        mark = marking.save_mark(
            marker,
            submission,
            {"levels": levels_for(version, [10, 5])},
            expected_version=mark.version,
            feedback="Very good",
        )
        # The same again is no change.
        marking.save_mark(
            marker,
            submission,
            {"levels": levels_for(version, [10, 5])},
            expected_version=mark.version,
            feedback="Very good",
        )
        first, second = _changes(mark)
        assert (first.from_total, first.to_total, first.what) == (10, 15, "rubric levels")
        assert (first.from_outcome, first.to_outcome) == (Outcome.PASS, Outcome.PASS)
        assert first.changed_by_id == marker.id and first.changed_at is not None
        assert first.is_after_release is False
        assert (second.from_total, second.to_total, second.what) == (15, 15, "feedback")
        rows = marking.db.session.execute(marking.grade_history_query(submission.assignment)).all()
        assert [(c.id, s.id) for c, s in rows] == [(second.id, submission.id), (first.id, submission.id)]

    def test_the_reason_is_kept(self, marker, submission):
        mark = finish_mark(marker, submission, [5, 0])
        mark = finish_mark(marker, submission, [5, 5], reason="Misread the second criterion")
        (change,) = _changes(mark)
        assert (change.from_outcome, change.to_outcome) == (Outcome.REFER, Outcome.PASS)
        assert change.reason == "Misread the second criterion"


class TestAfterRelease:
    @pytest.fixture
    def released(self, marker, submission, assessments_admin):
        mark = finish_mark(marker, submission, [5, 5], feedback="A pass.")
        assert marking.release(assessments_admin, [submission]) == 1
        return mark

    def test_the_marker_may_no_longer_change_it(self, marker, submission, released):
        with pytest.raises(Conflict, match="has been released"):
            finish_mark(marker, submission, [10, 10], reason="Second thoughts")
        assert released.total == 10

    def test_an_admin_needs_a_reason(self, submission, released, assessments_admin):
        for reason in ("", "   "):
            with pytest.raises(InvalidInput) as caught:
                finish_mark(assessments_admin, submission, [10, 10], reason=reason)
            assert list(caught.value.fields) == ["reason"]
        assert released.total == 10 and _changes(released) == []

    def test_a_change_with_a_reason_is_kept_and_the_trainee_told(
        self, submission, released, assessments_admin, trainee, outbox
    ):
        mark = finish_mark(assessments_admin, submission, [10, 5], reason="Moderation board raised it")
        (change,) = _changes(mark)
        assert (change.from_total, change.to_total, change.is_after_release) == (10, 15, True)
        assert change.reason == "Moderation board raised it" and change.changed_by_id == assessments_admin.id
        assert submission.state == MarkingState.RELEASED
        released_notice, changed_notice = notices_of(trainee, "marks_released")
        assert released_notice.title.startswith("Mark released")
        assert changed_notice.title.startswith("Mark changed")
        assert "changed to 15" in changed_notice.text and "Moderation board raised it" in changed_notice.text
        mail.deliver_pending()
        subjects = [m["subject"] for m in outbox if m["to"] == trainee.email]
        assert any(s.startswith("Mark changed") for s in subjects)

    def test_a_second_change_is_a_second_notice(self, submission, released, assessments_admin, trainee):
        finish_mark(assessments_admin, submission, [10, 5], reason="Raised")
        finish_mark(assessments_admin, submission, [10, 10], reason="Raised again")
        assert len(notices_of(trainee, "marks_released")) == 3

    def test_saving_it_unchanged_tells_nobody(self, submission, released, assessments_admin, trainee):
        finish_mark(assessments_admin, submission, [5, 5], reason="Checked", feedback="A pass.")
        assert len(notices_of(trainee, "marks_released")) == 1
        assert _changes(released) == []


@pytest.fixture
def colleague(course, marker, make_pool, make_user):
    """A second assessor in the pool (made after ``marker``, so ties still go to ``marker``)."""
    colleague = make_user(Role.ASSESSOR, name="Colm Colleague")
    make_pool(course, people=[marker, colleague])
    return colleague


class TestVisibility:
    def test_trainees_never_see_an_unreleased_mark(
        self, make_assignment, course, marker, colleague, make_submission, trainee, assessments_admin
    ):
        from lms.assessments.models import ModerationDecision
        from lms.assessments.moderation import moderate

        assignment = make_assignment(course, is_moderated=True, moderation_share=0)
        submission = make_submission(assignment, trainee)
        assert submission.marker_id == marker.id
        version = current_version(assignment)
        marking.save_mark(marker, submission, {"levels": levels_for(version, [5, 0])}, expected_version=None)
        seen = [(submission.state, marking.visible_mark(trainee, submission))]
        mark = finish_mark(marker, submission, [5, 0])
        seen.append((submission.state, marking.visible_mark(trainee, submission)))
        moderate(colleague, submission, ModerationDecision.AGREED, expected_version=mark.version)
        seen.append((submission.state, marking.visible_mark(trainee, submission)))
        assert seen == [
            (MarkingState.IN_MARKING, None),
            (MarkingState.IN_MODERATION, None),
            (MarkingState.READY_FOR_RELEASE, None),
        ]
        # Staff see it all along.
        assert marking.visible_mark(marker, submission) is mark
        assert marking.visible_mark(colleague, submission) is mark
        assert marking.visible_mark(assessments_admin, submission) is mark
        marking.release(assessments_admin, [submission])
        assert marking.visible_mark(trainee, submission) is mark

    def test_nobody_else_sees_a_mark(self, marker, submission, assessments_admin, make_user):
        finish_mark(marker, submission, [10, 10])
        marking.release(assessments_admin, [submission])
        other_trainee = make_user(Role.TRAINEE)
        unallocated = make_user(Role.ASSESSOR)
        assert marking.visible_mark(other_trainee, submission) is None
        assert marking.visible_mark(unallocated, submission) is None
        assert marking.visible_mark(None, submission) is None

    def test_staff_access_to_the_work(self, marker, submission, make_user, trainee):
        assert marking.get_for_staff(marker, submission.id) is submission
        for refused in (make_user(Role.ASSESSOR), trainee, make_user(Role.ORG_MANAGER)):
            with pytest.raises(NotFound):
                marking.get_for_staff(refused, submission.id)
        assert marking.get_for_viewer(trainee, submission.id) is submission
        with pytest.raises(NotFound):
            marking.get_for_viewer(make_user(Role.TRAINEE), submission.id)

    def test_a_draft_is_not_for_staff(self, assignment, make_user, make_enrolment, assessments_admin):
        trainee = make_user(Role.TRAINEE)
        make_enrolment(trainee, assignment.course)
        draft = open_draft(trainee, assignment)
        with pytest.raises(NotFound):
            marking.get_for_staff(assessments_admin, draft.id)
        with pytest.raises(Conflict):
            marking.save_mark(assessments_admin, draft, {}, expected_version=None)


class TestWhoMarks:
    def test_marking_work_not_allocated_to_you_is_refused(
        self, db, submission, marker, colleague, make_user, trainee
    ):
        version = current_version(submission.assignment)
        for refused in (colleague, trainee, make_user(Role.ORG_MANAGER)):
            with pytest.raises(NotAllowed, match="not allocated to you"):
                marking.save_mark(
                    refused, submission, {"levels": levels_for(version, [10, 10])}, expected_version=None
                )
        assert _marks_count(db) == 0
        assert submission.state == MarkingState.NOT_MARKED

    def test_an_admin_may_mark_anything(self, submission, assessments_admin):
        assert finish_mark(assessments_admin, submission, [10, 10]).marker_id == assessments_admin.id

    def test_in_moderation_the_marker_waits(
        self, make_assignment, course, marker, colleague, make_submission
    ):
        submission = make_submission(make_assignment(course, is_moderated=True))
        assert submission.marker_id == marker.id
        finish_mark(marker, submission, [0, 0])
        assert submission.state == MarkingState.IN_MODERATION
        with pytest.raises(Conflict, match="in moderation"):
            finish_mark(marker, submission, [10, 10])
        assert marking.mark_of(submission).total == 0


class TestFeedbackFile:
    def test_a_feedback_file_is_checked_and_stored(self, marker, submission):
        version = current_version(submission.assignment)
        upload = io.BytesIO(PDF_BYTES)
        upload.filename = "feedback.pdf"
        mark = marking.save_mark(
            marker,
            submission,
            {"levels": levels_for(version, [5, 5])},
            expected_version=None,
            feedback_upload=upload,
        )
        assert mark.feedback_file.filename == "feedback.pdf"
        mark = marking.save_mark(
            marker,
            submission,
            {"levels": levels_for(version, [5, 5])},
            expected_version=mark.version,
            remove_feedback_file=True,
        )
        assert mark.feedback_file is None
        (change,) = _changes(mark)
        assert change.what == "feedback file"

    def test_a_bad_feedback_file_saves_nothing(self, db, marker, submission):
        version = current_version(submission.assignment)
        upload = io.BytesIO(b"MZ\x90\x00" + b"\x00" * 100)
        upload.filename = "feedback.pdf"
        with pytest.raises(InvalidInput) as caught:
            marking.save_mark(
                marker,
                submission,
                {"levels": levels_for(version, [5, 5])},
                expected_version=None,
                feedback_upload=upload,
            )
        assert list(caught.value.fields) == ["file"]
        db.session.rollback()  # as the request does
        assert marking.mark_of(submission) is None


class TestSchemeVersions:
    def test_editing_an_unused_scheme_changes_it_in_place(self, assignment, assessments_admin):
        before = current_version(assignment)
        changed = {**RUBRIC, "pass_mark": 12}
        after = save_scheme(assessments_admin, assignment, changed)
        assert (after.id, after.number, after.pass_mark) == (before.id, before.number, 12)

    def test_saving_the_same_scheme_makes_no_version(self, assignment, marker, submission, assessments_admin):
        finish_mark(marker, submission, [5, 5])
        assert save_scheme(assessments_admin, assignment, RUBRIC).number == current_version(assignment).number

    def test_editing_a_used_scheme_makes_version_2_and_old_marks_keep_version_1(
        self, assignment, marker, submission, make_submission, assessments_admin
    ):
        v1 = current_version(assignment)
        old = finish_mark(marker, submission, [5, 5])
        stricter = {**RUBRIC, "pass_mark": 15}
        v2 = save_scheme(assessments_admin, assignment, stricter)
        assert (v1.number, v2.number) == (1, 2) and v2.id != v1.id
        assert current_version(assignment).id == v2.id
        assert old.scheme_version_id == v1.id
        assert old.outcome == Outcome.PASS  # 10 passed under version 1, and still does
        assert [e.after["version"] for e in audits("scheme.versioned", assignment)] == [2]
        # New work is marked against version 2.
        new = make_submission(assignment)
        assert finish_mark(marker, new, [5, 5]).scheme_version_id == v2.id
        assert marking.mark_of(new).outcome == Outcome.REFER
        # The old mark is still edited against version 1: version 2's levels are foreign to it.
        with pytest.raises(InvalidInput):
            marking.save_mark(
                marker, submission, {"levels": levels_for(v2, [10, 10])}, expected_version=old.version
            )
        assert finish_mark(marker, submission, [10, 5]).total == 15
        assert old.scheme_version_id == v1.id


class TestRelease:
    @pytest.fixture
    def moderated_assignment(self, make_assignment, course, colleague):
        return make_assignment(course, is_moderated=True, moderation_share=0)

    def _marker(self, submission):
        from lms.accounts.models import User

        return marking.db.session.get(User, submission.marker_id)

    def test_release_refuses_marks_needing_moderation(
        self, moderated_assignment, make_submission, assessments_admin, trainee
    ):
        submission = make_submission(moderated_assignment, trainee)
        finish_mark(self._marker(submission), submission, [0, 0])
        assert submission.state == MarkingState.IN_MODERATION
        with pytest.raises(Conflict, match="still need moderation"):
            marking.release(assessments_admin, [submission])
        assert submission.state == MarkingState.IN_MODERATION and submission.released_at is None
        assert notices_of(trainee, "marks_released") == []

    def test_a_bulk_with_one_blocked_releases_nothing(
        self, moderated_assignment, make_submission, assessments_admin, make_user
    ):
        trainees = [make_user(Role.TRAINEE) for _ in range(3)]
        made = [make_submission(moderated_assignment, t) for t in trainees]
        finish_mark(self._marker(made[0]), made[0], [10, 10])  # a pass, not sampled
        finish_mark(self._marker(made[1]), made[1], [10, 5])
        finish_mark(self._marker(made[2]), made[2], [0, 5])  # a referral: sampled
        with pytest.raises(Conflict, match="Nothing was released"):
            marking.release(assessments_admin, made)
        assert [s.state for s in made] == [
            MarkingState.MARKED,
            MarkingState.MARKED,
            MarkingState.IN_MODERATION,
        ]
        assert all(notices_of(t, "marks_released") == [] for t in trainees)
        assert audits("mark.released") == []

    def test_unmarked_work_is_not_released(self, submission, marker, assessments_admin):
        with pytest.raises(Conflict, match="have not been marked yet"):
            marking.release(assessments_admin, [submission])
        version = current_version(submission.assignment)
        marking.save_mark(marker, submission, {"levels": levels_for(version, [5, 5])}, expected_version=None)
        with pytest.raises(Conflict, match="have not been marked yet"):
            marking.release(assessments_admin, [submission])
        assert submission.state == MarkingState.IN_MARKING

    def test_only_admins_release(self, submission, marker, trainee):
        finish_mark(marker, submission, [10, 10])
        for refused in (marker, trainee):
            with pytest.raises(NotAllowed):
                marking.release(refused, [submission])
        assert submission.state == MarkingState.MARKED

    def test_release_notifies_once(self, submission, marker, assessments_admin, trainee, outbox):
        finish_mark(marker, submission, [10, 10], feedback="Excellent.")
        assert marking.release(assessments_admin, [submission]) == 1
        assert marking.release(assessments_admin, [submission]) == 0
        assert submission.state == MarkingState.RELEASED
        assert (submission.released_by_id, submission.released_at is not None) == (assessments_admin.id, True)
        (notice,) = notices_of(trainee, "marks_released")
        assert notice.title == f"Mark released: {submission.assignment.title}"
        assert len(audits("mark.released", submission)) == 1
        mail.deliver_pending()
        assert [m["subject"] for m in outbox if m["to"] == trainee.email].count(notice.title) == 1

    def test_a_bulk_release(self, assignment, make_submission, marker, assessments_admin, make_user):
        made = [make_submission(assignment, make_user(Role.TRAINEE)) for _ in range(3)]
        for submission in made:
            finish_mark(marker, submission, [10, 0])
        assert marking.release(assessments_admin, made) == 3
        assert {s.state for s in made} == {MarkingState.RELEASED}

    def test_nothing_to_release_is_invalid(self, assessments_admin):
        with pytest.raises(InvalidInput):
            marking.release(assessments_admin, [])


class TestQueue:
    def test_the_queue_holds_my_allocated_work_by_marking_due_date(
        self, db, assignment, marker, colleague, make_submission, assessments_admin
    ):
        mine = [make_submission(assignment) for _ in range(2)]
        for submission in mine:
            allocate(assessments_admin, [submission], marker)
        theirs = make_submission(assignment)
        allocate(assessments_admin, [theirs], colleague)
        finish_mark(marker, mine[0], [10, 10])
        marking.release(assessments_admin, [mine[0]])
        queue = list(db.session.scalars(marking.queue_query(marker, marking.QueueFilter())))
        assert queue == [mine[1]]
        everything = list(
            db.session.scalars(marking.queue_query(marker, marking.QueueFilter(include_released=True)))
        )
        assert everything == mine
        late = list(db.session.scalars(marking.queue_query(marker, marking.QueueFilter(is_late=True))))
        assert late == []
