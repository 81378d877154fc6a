"""Moderation: a reproducible sample, a second assessor who agrees or changes, no release before it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lms.assessments import marking, moderation, sampling
from lms.assessments.assignments import current_version
from lms.assessments.models import MarkingState, ModerationDecision, Outcome
from lms.errors import Conflict, InvalidInput, NotAllowed
from lms.permissions import Role
from tests.assessments.factories import audits, finish_mark, levels_for, notices_of


def _fake(number: int, *, share: int = 20, assignment_id: int = 7, attempt: int = 1, is_moderated=True):
    """Just what the draw reads of a submission."""
    assignment = SimpleNamespace(id=assignment_id, is_moderated=is_moderated, moderation_share=share)
    return SimpleNamespace(assignment=assignment, participant=SimpleNamespace(number=number), attempt=attempt)


NUMBERS = range(100000, 102000)


class TestSample:
    def test_the_same_work_is_always_drawn_the_same_way(self):
        first = [sampling.is_drawn(_fake(n), Outcome.PASS) for n in NUMBERS]
        again = [sampling.is_drawn(_fake(n), Outcome.PASS) for n in reversed(NUMBERS)]
        assert first == list(reversed(again))

    def test_every_fail_and_referral_is_drawn(self):
        for outcome in (Outcome.FAIL, Outcome.REFER):
            assert all(sampling.is_drawn(_fake(n, share=0), outcome) for n in NUMBERS)

    @pytest.mark.parametrize("share", [0, 10, 20, 50, 100])
    def test_about_the_configured_share_of_passes_is_drawn(self, share):
        drawn = sum(sampling.is_drawn(_fake(n, share=share), Outcome.PASS) for n in NUMBERS)
        # 2000 draws: within four standard deviations of the share (exact at 0 and 100).
        spread = 4 * (len(NUMBERS) * share / 100 * (1 - share / 100)) ** 0.5
        assert abs(drawn - len(NUMBERS) * share / 100) <= spread

    def test_the_draw_differs_between_assignments_and_attempts(self):
        one = [sampling.is_drawn(_fake(n, share=50), Outcome.PASS) for n in NUMBERS]
        other_assignment = [
            sampling.is_drawn(_fake(n, share=50, assignment_id=8), Outcome.PASS) for n in NUMBERS
        ]
        second_attempt = [sampling.is_drawn(_fake(n, share=50, attempt=2), Outcome.PASS) for n in NUMBERS]
        assert one != other_assignment and one != second_attempt

    def test_nothing_is_drawn_when_moderation_is_off(self):
        assert not any(sampling.is_drawn(_fake(n, is_moderated=False), Outcome.FAIL) for n in NUMBERS)

    def test_the_order_of_marking_does_not_steer_the_draw(
        self, make_assignment, make_course, make_pool, make_submission
    ):
        course = make_course(modules=0)
        assignment = make_assignment(course, is_moderated=True, moderation_share=50)
        make_pool(course, 2)
        made = [make_submission(assignment) for _ in range(8)]
        expected = {s.id: sampling.is_drawn(s, Outcome.PASS) for s in made}
        for submission in reversed(made):
            finish_mark(_user(submission.marker_id), submission, [10, 10])
        assert {s.id: s.is_sampled for s in made} == expected
        for submission in made:
            wanted = MarkingState.IN_MODERATION if expected[submission.id] else MarkingState.MARKED
            assert submission.state == wanted


def _user(user_id):
    from lms.accounts.models import User
    from lms.extensions import db

    return db.session.get(User, user_id)


@pytest.fixture
def course(make_course):
    return make_course(modules=0)


@pytest.fixture
def team(course, make_user, make_pool):
    """Marker (lowest id, so allocated first), moderator, and a third assessor, all in the pool."""
    people = [make_user(Role.ASSESSOR, name=n) for n in ("Mary Marker", "Moira Moderator", "Tom Third")]
    make_pool(course, people=people)
    return people


@pytest.fixture
def assignment(make_assignment, course, team):
    return make_assignment(course, is_moderated=True, moderation_share=0)


@pytest.fixture
def trainee(make_user):
    return make_user(Role.TRAINEE)


@pytest.fixture
def sampled(assignment, team, trainee, make_submission):
    """A referral in moderation: marked by the marker, waiting for the moderator."""
    marker, _moderator, _third = team
    submission = make_submission(assignment, trainee)
    assert submission.marker_id == marker.id
    mark = finish_mark(marker, submission, [5, 0], feedback="Needs the principles.")
    return submission, mark


class TestModerator:
    def test_a_second_assessor_the_least_busy_not_the_marker(self, sampled, team):
        submission, _mark = sampled
        marker, moderator, _third = team
        assert submission.is_sampled and submission.state == MarkingState.IN_MODERATION
        assert submission.moderator_id == moderator.id  # lower id of the two who are not the marker
        (notice,) = notices_of(moderator, "moderation_waiting")
        assert notice.link == f"/marking/submissions/{submission.id}/moderate"
        assert notices_of(marker, "moderation_waiting") == []
        assert [e.after for e in audits("submission.sampled", submission)] == [{"moderator_id": moderator.id}]

    def test_load_spreads_moderation(self, assignment, team, make_submission, make_user, assessments_admin):
        marker, moderator, third = team
        made = [make_submission(assignment, make_user(Role.TRAINEE)) for _ in range(2)]
        from lms.assessments.allocation import allocate

        allocate(assessments_admin, made, marker)
        for submission in made:
            finish_mark(marker, submission, [0, 0])
        assert sorted(s.moderator_id for s in made) == sorted([moderator.id, third.id])

    def test_with_nobody_else_in_the_pool_there_is_no_moderator(
        self, make_assignment, make_course, make_pool, make_submission
    ):
        course = make_course(modules=0)
        (alone,) = make_pool(course, 1)
        submission = make_submission(make_assignment(course, is_moderated=True))
        finish_mark(alone, submission, [0, 0])
        assert submission.state == MarkingState.IN_MODERATION and submission.moderator_id is None

    def test_admins_choose_another_moderator_but_never_the_marker(
        self, sampled, team, make_user, assessments_admin
    ):
        submission, _mark = sampled
        marker, moderator, third = team
        with pytest.raises(InvalidInput, match="cannot moderate their own mark") as caught:
            moderation.assign_moderator(assessments_admin, submission, marker)
        assert list(caught.value.fields) == ["moderator_id"]
        with pytest.raises(InvalidInput, match="is not an assessor of this course"):
            moderation.assign_moderator(assessments_admin, submission, make_user(Role.ASSESSOR))
        with pytest.raises(NotAllowed):
            moderation.assign_moderator(moderator, submission, third)
        assert submission.moderator_id == moderator.id
        moderation.assign_moderator(assessments_admin, submission, third)
        assert submission.moderator_id == third.id
        (entry,) = audits("submission.moderator_changed", submission)
        assert (entry.before, entry.after) == ({"moderator_id": moderator.id}, {"moderator_id": third.id})
        assert len(notices_of(third, "moderation_waiting")) == 1

    def test_no_moderator_is_chosen_for_work_not_in_moderation(
        self, assignment, team, make_submission, assessments_admin
    ):
        submission = make_submission(assignment)
        with pytest.raises(Conflict):
            moderation.assign_moderator(assessments_admin, submission, team[1])


class TestDeciding:
    def test_only_the_moderator_or_an_admin_and_never_the_marker(
        self, sampled, team, make_user, assessments_admin
    ):
        submission, mark = sampled
        marker, _moderator, third = team
        for refused in (marker, third, make_user(Role.TRAINEE)):
            with pytest.raises(NotAllowed):
                moderation.moderate(
                    refused, submission, ModerationDecision.AGREED, expected_version=mark.version
                )
        assert submission.state == MarkingState.IN_MODERATION
        assert moderation.moderation_of(submission) is None
        # An admin who did not mark it may decide.
        moderation.moderate(
            assessments_admin, submission, ModerationDecision.AGREED, expected_version=mark.version
        )
        assert submission.state == MarkingState.READY_FOR_RELEASE

    def test_an_admin_who_marked_it_may_not_moderate_it(
        self, assignment, make_submission, assessments_admin, team
    ):
        submission = make_submission(assignment)
        mark = finish_mark(assessments_admin, submission, [0, 0])
        with pytest.raises(NotAllowed, match="someone else must moderate"):
            moderation.moderate(
                assessments_admin, submission, ModerationDecision.AGREED, expected_version=mark.version
            )

    def test_the_first_marker_may_not_moderate_after_the_work_moved_on(
        self, sampled, team, assessments_admin
    ):
        from lms.assessments.allocation import allocate

        submission, mark = sampled
        marker, _moderator, third = team
        allocate(assessments_admin, [submission], third)  # the work moves; the mark keeps its marker
        with pytest.raises(InvalidInput, match="first marker cannot moderate"):
            moderation.assign_moderator(assessments_admin, submission, marker)
        submission.moderator_id = marker.id  # chosen before the rule, say: the decision is refused too
        with pytest.raises(NotAllowed, match="someone else must moderate"):
            moderation.moderate(marker, submission, ModerationDecision.AGREED, expected_version=mark.version)
        assert submission.state == MarkingState.IN_MODERATION

    def test_agreeing_records_both_markers(self, sampled, team):
        submission, mark = sampled
        marker, moderator, _third = team
        before = mark.version
        decided = moderation.moderate(
            moderator, submission, ModerationDecision.AGREED, expected_version=mark.version, notes=" Fair. "
        )
        assert submission.state == MarkingState.READY_FOR_RELEASE
        assert (decided.moderator_id, decided.first_marker_id) == (moderator.id, marker.id)
        assert (decided.first_total, decided.agreed_total) == (5, 5)
        assert (decided.first_outcome, decided.agreed_outcome) == (Outcome.REFER, Outcome.REFER)
        assert decided.notes == "Fair."
        assert marking.changes_of(mark) == []
        assert mark.version == before + 1  # anyone's open form of the first mark is now stale
        (entry,) = audits("mark.moderated", submission)
        assert entry.actor_id == moderator.id and entry.after["decision"] == "agreed"

    @pytest.mark.parametrize("notes", ["", "  "])
    def test_changing_needs_notes_and_without_them_nothing_changes(self, sampled, team, notes):
        submission, mark = sampled
        version = current_version(submission.assignment)
        with pytest.raises(InvalidInput) as caught:
            moderation.moderate(
                team[1],
                submission,
                ModerationDecision.CHANGED,
                expected_version=mark.version,
                data={"levels": levels_for(version, [10, 5])},
                notes=notes,
            )
        assert list(caught.value.fields) == ["notes"]
        assert (mark.total, submission.state) == (5, MarkingState.IN_MODERATION)
        assert moderation.moderation_of(submission) is None

    def test_a_changed_mark_must_be_complete(self, sampled, team):
        submission, mark = sampled
        version = current_version(submission.assignment)
        partial = {version.criteria[0].id: version.criteria[0].levels[2].id}
        with pytest.raises(InvalidInput, match="complete mark"):
            moderation.moderate(
                team[1],
                submission,
                ModerationDecision.CHANGED,
                expected_version=mark.version,
                data={"levels": partial},
                notes="Higher",
            )
        assert mark.total == 5

    def test_changing_keeps_the_grade_history_naming_the_moderation(self, sampled, team):
        submission, mark = sampled
        marker, moderator, _third = team
        version = current_version(submission.assignment)
        decided = moderation.moderate(
            moderator,
            submission,
            ModerationDecision.CHANGED,
            expected_version=mark.version,
            data={"levels": levels_for(version, [10, 5])},
            notes="Applies the principles in section 3",
        )
        assert (mark.total, mark.outcome) == (15, Outcome.PASS)
        assert mark.marker_id == marker.id  # the first marker is kept
        assert (decided.decision, decided.first_total, decided.agreed_total) == (
            ModerationDecision.CHANGED,
            5,
            15,
        )
        assert (decided.first_outcome, decided.agreed_outcome) == (Outcome.REFER, Outcome.PASS)
        (change,) = marking.changes_of(mark)
        assert (change.from_total, change.to_total, change.changed_by_id) == (5, 15, moderator.id)
        assert change.reason == "Moderation: Applies the principles in section 3"
        assert change.what == "rubric levels" and change.is_after_release is False
        assert submission.state == MarkingState.READY_FOR_RELEASE

    def test_a_stale_version_is_refused(self, sampled, team):
        submission, mark = sampled
        with pytest.raises(Conflict, match="Someone else saved"):
            moderation.moderate(
                team[1], submission, ModerationDecision.AGREED, expected_version=mark.version - 1
            )
        assert submission.state == MarkingState.IN_MODERATION

    def test_deciding_twice_is_refused(self, sampled, team):
        submission, mark = sampled
        moderation.moderate(team[1], submission, ModerationDecision.AGREED, expected_version=mark.version)
        with pytest.raises(Conflict, match="not waiting for moderation"):
            moderation.moderate(team[1], submission, ModerationDecision.AGREED, expected_version=mark.version)

    def test_the_moderation_queue(self, db, sampled, team):
        submission, mark = sampled
        moderator = team[1]
        assert list(db.session.scalars(moderation.moderation_queue_query(moderator))) == [submission]
        assert list(db.session.scalars(moderation.moderation_queue_query(team[0]))) == []
        moderation.moderate(moderator, submission, ModerationDecision.AGREED, expected_version=mark.version)
        assert list(db.session.scalars(moderation.moderation_queue_query(moderator))) == []

    def test_the_moderator_sees_the_work_and_the_mark(self, sampled, team):
        submission, mark = sampled
        assert marking.get_for_staff(team[1], submission.id) is submission
        assert marking.visible_mark(team[1], submission) is mark


class TestRelease:
    def test_no_release_before_moderation_then_release(self, sampled, team, trainee, assessments_admin):
        submission, mark = sampled
        with pytest.raises(Conflict, match="still need moderation"):
            marking.release(assessments_admin, [submission])
        assert notices_of(trainee, "marks_released") == []
        moderation.moderate(team[1], submission, ModerationDecision.AGREED, expected_version=mark.version)
        assert marking.release(assessments_admin, [submission]) == 1
        assert submission.state == MarkingState.RELEASED
        assert len(notices_of(trainee, "marks_released")) == 1

    def test_a_moderated_mark_is_changed_only_by_admins(self, sampled, team, assessments_admin):
        submission, mark = sampled
        moderation.moderate(team[1], submission, ModerationDecision.AGREED, expected_version=mark.version)
        with pytest.raises(Conflict, match="has been moderated"):
            finish_mark(team[0], submission, [10, 10])
        finish_mark(assessments_admin, submission, [10, 10])
        assert mark.total == 20 and submission.state == MarkingState.READY_FOR_RELEASE
