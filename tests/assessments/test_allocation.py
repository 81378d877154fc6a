"""Allocation: automatic by load, ties, an empty pool, by hand singly and in bulk, reallocation."""

from __future__ import annotations

import datetime as dt

import pytest

from lms.assessments import allocation, marking
from lms.assessments.assignments import current_version
from lms.assessments.models import MarkingState
from lms.errors import InvalidInput, NotAllowed
from lms.permissions import Role
from tests.assessments.factories import audits, finish_mark, levels_for, notices_of


@pytest.fixture
def course(make_course):
    return make_course(modules=0)


@pytest.fixture
def assignment(make_assignment, course):
    return make_assignment(course, marking_days=10)


def _by_marker(items) -> dict[int, int]:
    counts: dict[int, int] = {}
    for submission in items:
        counts[submission.marker_id] = counts.get(submission.marker_id, 0) + 1
    return counts


class TestAutomatic:
    def test_balanced_by_load(self, assignment, course, make_pool, make_submission):
        pool = make_pool(course, 3)
        made = [make_submission(assignment) for _ in range(7)]
        counts = _by_marker(made)
        assert set(counts) == {p.id for p in pool}
        assert sorted(counts.values()) == [2, 2, 3]
        assert allocation.loads({p.id for p in pool}) == counts

    def test_ties_go_to_the_longest_serving_assessor(self, assignment, course, make_pool, make_submission):
        pool = sorted(make_pool(course, 3), key=lambda p: p.id)
        made = [make_submission(assignment) for _ in range(3)]
        assert [s.marker_id for s in made] == [p.id for p in pool]

    def test_existing_work_on_other_assignments_counts(
        self, assignment, course, make_pool, make_submission, make_assignment
    ):
        busy, free = sorted(make_pool(course, 2), key=lambda p: p.id)
        other = make_assignment(course)
        for _ in range(2):
            make_submission(other)  # one each
        extra = make_submission(other)
        assert extra.marker_id == busy.id  # the tie went to the lower id: busy now has 2
        assert make_submission(assignment).marker_id == free.id

    def test_released_work_is_no_longer_load(
        self, assignment, course, make_pool, make_submission, assessments_admin
    ):
        first, second = sorted(make_pool(course, 2), key=lambda p: p.id)
        done = make_submission(assignment)
        assert done.marker_id == first.id
        finish_mark(first, done, [10, 10])
        marking.release(assessments_admin, [done])
        assert allocation.loads({first.id, second.id}) == {first.id: 0, second.id: 0}
        assert make_submission(assignment).marker_id == first.id  # a tie again: by id

    def test_the_marking_due_date_and_the_notice(self, assignment, course, make_pool, make_submission):
        (marker,) = make_pool(course, 1)
        submission = make_submission(assignment)
        assert submission.marker_id == marker.id
        assert submission.allocated_at is not None
        assert submission.marking_due_at == submission.submitted_at + dt.timedelta(days=10)
        (entry,) = audits("submission.allocated", submission)
        assert entry.actor_id is None and entry.after == {"marker_id": marker.id, "automatic": True}
        (notice,) = notices_of(marker, "marking_allocated")
        assert notice.link == f"/marking/submissions/{submission.id}"

    def test_a_blind_marker_is_told_a_participant_number_not_a_name(
        self, make_assignment, course, make_pool, make_submission, make_user
    ):
        (marker,) = make_pool(course, 1)
        trainee = make_user(Role.TRAINEE, name="Siobhan Identifiable")
        submission = make_submission(make_assignment(course, is_blind=True), trainee)
        (notice,) = notices_of(marker, "marking_allocated")
        assert "Siobhan" not in notice.text and "Identifiable" not in notice.text
        assert f"Participant {submission.participant.number}" in notice.text

    def test_an_empty_pool_leaves_it_unallocated(self, assignment, make_submission):
        submission = make_submission(assignment)
        assert submission.marker_id is None
        assert submission.marking_due_at is None and submission.allocated_at is None
        assert submission.state == MarkingState.NOT_MARKED
        assert allocation.unallocated(assignment) == [submission]
        assert audits("submission.allocated", submission) == []


class TestByHand:
    def test_a_single_allocation(self, assignment, course, make_pool, make_submission, assessments_admin):
        submission = make_submission(assignment)  # nobody in the pool yet
        (marker,) = make_pool(course, 1)
        assert allocation.allocate(assessments_admin, [submission], marker) == 1
        assert submission.marker_id == marker.id
        assert submission.marking_due_at == submission.submitted_at + dt.timedelta(days=10)
        (entry,) = audits("submission.allocated", submission)
        assert (entry.actor_id, entry.before, entry.after) == (
            assessments_admin.id,
            {"marker_id": None},
            {"marker_id": marker.id},
        )
        assert allocation.unallocated(assignment) == []
        assert len(notices_of(marker, "marking_allocated")) == 1

    def test_bulk_to_one_marker(self, assignment, course, make_pool, make_submission, assessments_admin):
        made = [make_submission(assignment) for _ in range(3)]
        marker, _other = make_pool(course, 2)
        assert allocation.allocate(assessments_admin, made, marker) == 3
        assert {s.marker_id for s in made} == {marker.id}

    def test_bulk_balanced_over_the_pool(
        self, assignment, course, make_pool, make_submission, assessments_admin
    ):
        made = [make_submission(assignment) for _ in range(4)]
        pool = make_pool(course, 2)
        assert allocation.allocate(assessments_admin, made, None) == 4
        assert _by_marker(made) == {pool[0].id: 2, pool[1].id: 2}

    def test_balancing_over_an_empty_pool_is_refused(self, assignment, make_submission, assessments_admin):
        submission = make_submission(assignment)
        with pytest.raises(InvalidInput, match="no assessors") as caught:
            allocation.allocate(assessments_admin, [submission], None)
        assert list(caught.value.fields) == ["marker_id"]

    def test_the_same_marker_again_changes_nothing(
        self, assignment, course, make_pool, make_submission, assessments_admin
    ):
        (marker,) = make_pool(course, 1)
        submission = make_submission(assignment)
        assert allocation.allocate(assessments_admin, [submission], marker) == 0
        assert audits("submission.reallocated", submission) == []

    def test_released_work_stays_with_its_marker(
        self, assignment, course, make_pool, make_submission, assessments_admin
    ):
        first, second = make_pool(course, 2)
        submission = make_submission(assignment)
        marker = first if submission.marker_id == first.id else second
        finish_mark(marker, submission, [10, 10])
        marking.release(assessments_admin, [submission])
        other = second if marker is first else first
        assert allocation.allocate(assessments_admin, [submission], other) == 0
        assert submission.marker_id == marker.id

    def test_only_admins_and_only_submitted_work(
        self, assignment, course, make_pool, make_submission, make_user, make_enrolment, assessments_admin
    ):
        from lms.assessments.submissions import open_draft

        (marker,) = make_pool(course, 1)
        submission = make_submission(assignment)
        for refused in (marker, make_user(Role.TRAINEE), make_user(Role.ORG_MANAGER)):
            with pytest.raises(NotAllowed):
                allocation.allocate(refused, [submission], marker)
        trainee = make_user(Role.TRAINEE)
        make_enrolment(trainee, course)
        draft = open_draft(trainee, assignment)
        with pytest.raises(InvalidInput, match="Only submitted work"):
            allocation.allocate(assessments_admin, [draft], marker)
        assert draft.marker_id is None
        with pytest.raises(InvalidInput):
            allocation.allocate(assessments_admin, [], marker)

    def test_a_marker_outside_the_pool_is_refused(
        self, assignment, course, make_pool, make_submission, make_user, assessments_admin
    ):
        (marker,) = make_pool(course, 1)
        submission = make_submission(assignment)
        outsider = make_user(Role.ASSESSOR, name="Olga Outsider")
        with pytest.raises(InvalidInput, match="Olga Outsider is not an assessor of") as caught:
            allocation.allocate(assessments_admin, [submission], outsider)
        assert list(caught.value.fields) == ["marker_id"]
        assert submission.marker_id == marker.id
        assert audits("submission.reallocated", submission) == []
        assert notices_of(outsider, "marking_allocated") == []


class TestReallocation:
    def test_a_draft_mark_moves_with_the_work_and_the_move_is_audited(
        self, assignment, course, make_pool, make_submission, assessments_admin
    ):
        first, second = sorted(make_pool(course, 2), key=lambda p: p.id)
        submission = make_submission(assignment)
        assert submission.marker_id == first.id
        version = current_version(assignment)
        levels = levels_for(version, [5, 10])
        mark = marking.save_mark(
            first,
            submission,
            {"levels": {next(iter(levels)): next(iter(levels.values()))}},
            expected_version=None,
        )
        mark_version = mark.version
        assert allocation.allocate(assessments_admin, [submission], second) == 1
        assert submission.marker_id == second.id
        kept = marking.mark_of(submission)
        assert kept.id == mark.id and kept.marker_id == second.id
        assert [(s.criterion_id, s.level_id) for s in kept.scores] == [next(iter(levels.items()))]
        assert kept.version == mark_version + 1  # the old marker's open form is now stale
        (entry,) = audits("submission.reallocated", submission)
        assert (entry.before, entry.after) == ({"marker_id": first.id}, {"marker_id": second.id})
        # The new marker finishes it from where it was; the old one may no longer touch it.
        with pytest.raises(NotAllowed):
            marking.save_mark(first, submission, {"levels": levels}, expected_version=kept.version)
        finished = marking.save_mark(
            second, submission, {"levels": levels}, expected_version=kept.version, is_final=True
        )
        assert finished.total == 15

    def test_a_finished_mark_keeps_its_first_marker(
        self, assignment, course, make_pool, make_submission, assessments_admin
    ):
        first, second = sorted(make_pool(course, 2), key=lambda p: p.id)
        submission = make_submission(assignment)
        finish_mark(first, submission, [10, 5])
        # Finished marking stays with its marker: nothing moves.
        assert allocation.allocate(assessments_admin, [submission], second) == 0
        assert submission.marker_id == first.id
        assert marking.mark_of(submission).marker_id == first.id

    def test_work_in_moderation_stays_with_its_marker_and_moderator(
        self, make_assignment, course, make_pool, make_submission, assessments_admin
    ):
        assignment = make_assignment(course, is_moderated=True, moderation_share=0)
        first, second = sorted(make_pool(course, 2), key=lambda p: p.id)
        submission = make_submission(assignment)
        finish_mark(first, submission, [5, 0])  # a referral: always sampled
        assert submission.state == MarkingState.IN_MODERATION
        assert submission.moderator_id == second.id
        assert allocation.allocate(assessments_admin, [submission], second) == 0
        assert allocation.allocate(assessments_admin, [submission], None) == 0
        assert (submission.marker_id, submission.moderator_id) == (first.id, second.id)
