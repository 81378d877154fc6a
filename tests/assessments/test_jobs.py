"""The assessments' scheduled jobs: due reminders, overdue marking and its escalation, moderation waiting."""

from __future__ import annotations

import datetime as dt

import pytest

from lms.accounts.services import people_with_roles
from lms.assessments import jobs, submissions
from lms.assessments.allocation import allocate
from lms.courses import enrolment as enrolling
from lms.courses.models import CourseStatus
from lms.database import utcnow
from lms.permissions import Role
from lms.templating import format_datetime
from tests.assessments.factories import finish_mark, notices_of

DAY = dt.timedelta(days=1)


@pytest.fixture
def start():
    """The moment the test's assignments are made; the jobs run at times after it."""
    return utcnow().replace(microsecond=0)


@pytest.fixture
def course(make_course):
    return make_course(modules=0)


class TestDueReminders:
    @pytest.fixture
    def assignment(self, make_assignment, course, start):
        return make_assignment(course, title="Case study", due_at=start + 10 * DAY)

    @pytest.fixture
    def trainee(self, make_user, make_enrolment, course):
        trainee = make_user(Role.TRAINEE)
        make_enrolment(trainee, course)
        return trainee

    def test_seven_days_and_one_day_before_each_once(self, assignment, trainee, outbox):
        due = assignment.due_at
        assert jobs.send_due_reminders(due - 8 * DAY) == {"reminders": 0}  # not yet
        assert jobs.send_due_reminders(due - 7 * DAY + dt.timedelta(hours=1)) == {"reminders": 1}
        assert jobs.send_due_reminders(due - 6 * DAY) == {"reminders": 0}  # run again: nothing more
        assert jobs.send_due_reminders(due - dt.timedelta(hours=36)) == {"reminders": 0}  # in between
        assert jobs.send_due_reminders(due - dt.timedelta(hours=20)) == {"reminders": 1}
        assert jobs.send_due_reminders(due - dt.timedelta(hours=2)) == {"reminders": 0}
        assert jobs.send_due_reminders(due + dt.timedelta(hours=1)) == {"reminders": 0}  # too late
        week, day = notices_of(trainee, "assignment_due")
        assert week.title == day.title == f"“Case study” is due on {format_datetime(due)}"
        assert week.link == f"/assignments/{assignment.id}"
        assert week.key.endswith(f"{due.isoformat()}-7d") and day.key.endswith(f"{due.isoformat()}-1d")

    def test_a_missed_run_is_made_up(self, assignment, trainee):
        assert jobs.send_due_reminders(assignment.due_at - 4 * DAY) == {"reminders": 1}
        assert len(notices_of(trainee, "assignment_due")) == 1

    def test_the_extension_date_is_used(self, assignment, trainee, make_user, make_enrolment, course):
        on_time = make_user(Role.TRAINEE)
        make_enrolment(on_time, course)
        admin = make_user(Role.ADMIN)
        extended_to = assignment.due_at + 20 * DAY
        submissions.grant_extension(admin, assignment, trainee, extended_to, "Illness")
        assert jobs.send_due_reminders(assignment.due_at - 6 * DAY) == {"reminders": 1}
        assert notices_of(trainee, "assignment_due") == []
        assert len(notices_of(on_time, "assignment_due")) == 1
        assert jobs.send_due_reminders(extended_to - 6 * DAY) == {"reminders": 1}
        assert jobs.send_due_reminders(extended_to - dt.timedelta(hours=12)) == {"reminders": 1}
        week, day = notices_of(trainee, "assignment_due")
        assert week.title == f"“Case study” is due on {format_datetime(extended_to)}"
        assert day.key.endswith(f"{extended_to.isoformat()}-1d")

    def test_a_moved_due_date_reminds_again(self, assignment, trainee, assessments_admin):
        from lms.assessments.assignments import save_assignment

        first_due = assignment.due_at
        assert jobs.send_due_reminders(first_due - 6 * DAY) == {"reminders": 1}
        save_assignment(assessments_admin, assignment.course, assignment, {"due_at": first_due + DAY})
        assert jobs.send_due_reminders(first_due - 5 * DAY) == {"reminders": 1}
        assert len(notices_of(trainee, "assignment_due")) == 2

    def test_submitted_trainees_are_not_chased(self, assignment, trainee, make_user, make_enrolment, course):
        drafting = make_user(Role.TRAINEE)
        make_enrolment(drafting, course)
        draft = submissions.open_draft(drafting, assignment)
        submissions.save_draft(drafting, draft, "Half written", 0)
        done = submissions.open_draft(trainee, assignment)
        submissions.save_draft(trainee, done, "All written", 0)
        submissions.submit(trainee, done, True)
        assert jobs.send_due_reminders(assignment.due_at - 6 * DAY) == {"reminders": 1}
        assert notices_of(trainee, "assignment_due") == []
        assert len(notices_of(drafting, "assignment_due")) == 1  # a draft is not handed in

    def test_only_active_places_on_published_courses_and_open_assignments(
        self, make_assignment, make_course, make_user, make_enrolment, course, assessments_admin, start
    ):
        assignment = make_assignment(course, due_at=start + 10 * DAY)
        left = make_user(Role.TRAINEE)
        enrolling.withdraw(assessments_admin, make_enrolment(left, course))
        inactive = make_user(Role.TRAINEE)
        make_enrolment(inactive, course)
        inactive.is_active_account = False
        draft_course = make_course(modules=0)
        make_assignment(draft_course, due_at=start + 10 * DAY)
        on_draft = make_user(Role.TRAINEE)
        make_enrolment(on_draft, draft_course)
        draft_course.status = CourseStatus.DRAFT
        later_course = make_course(modules=0)
        make_assignment(later_course, due_at=start + 10 * DAY, opens_at=start + 9 * DAY)
        early = make_user(Role.TRAINEE)
        make_enrolment(early, later_course)
        assert jobs.send_due_reminders(assignment.due_at - 6 * DAY) == {"reminders": 0}
        for person in (left, inactive, on_draft, early):
            assert notices_of(person, "assignment_due") == []


class TestMarkingAlerts:
    @pytest.fixture
    def setup(self, make_assignment, course, make_pool, make_submission):
        assignment = make_assignment(course, title="Case study", marking_days=14)
        (marker,) = make_pool(course, 1)
        submission = make_submission(assignment)
        return submission, marker

    def test_the_marker_is_told_once_when_marking_is_overdue(self, setup):
        submission, marker = setup
        due = submission.marking_due_at
        assert jobs.send_marking_alerts(due - dt.timedelta(hours=1)) == {"alerts": 0, "escalations": 0}
        assert jobs.send_marking_alerts(due + dt.timedelta(hours=1)) == {"alerts": 1, "escalations": 0}
        assert jobs.send_marking_alerts(due + 2 * DAY) == {"alerts": 0, "escalations": 0}
        (notice,) = notices_of(marker, "marking_overdue")
        assert notice.title == "Marking overdue: Case study"
        assert notice.link == f"/marking/submissions/{submission.id}"

    def test_escalation_to_admins_after_the_configured_days(self, app, setup, make_user, monkeypatch):
        submission, marker = setup
        monkeypatch.setitem(app.config, "MARKING_ESCALATE_AFTER_DAYS", 3)
        make_user(Role.ADMIN, is_active_account=False)  # not told
        admins = [a for a in people_with_roles({Role.ADMIN}) if a.is_active_account]
        due = submission.marking_due_at
        assert jobs.send_marking_alerts(due + 2 * DAY) == {"alerts": 1, "escalations": 0}
        assert jobs.send_marking_alerts(due + 3 * DAY) == {"alerts": 0, "escalations": len(admins)}
        assert jobs.send_marking_alerts(due + 5 * DAY) == {"alerts": 0, "escalations": 0}
        for admin in admins:
            (notice,) = notices_of(admin, "marking_overdue")
            assert notice.title == "Marking long overdue: Case study"
            assert marker.name in notice.text
            assert notice.link == f"/admin/assignments/{submission.assignment_id}/submissions"
        assert len(notices_of(marker, "marking_overdue")) == 1

    def test_the_default_escalation_is_seven_days(self, setup):
        submission, _marker = setup
        due = submission.marking_due_at
        assert jobs.send_marking_alerts(due + 6 * DAY)["escalations"] == 0
        assert jobs.send_marking_alerts(due + 7 * DAY)["escalations"] >= 1

    def test_the_alert_does_not_name_a_blind_markers_trainee(
        self, make_assignment, course, make_pool, make_submission, make_user
    ):
        (marker,) = make_pool(course, 1)
        trainee = make_user(Role.TRAINEE, name="Niamh Namesake")
        submission = make_submission(make_assignment(course, is_blind=True), trainee)
        jobs.send_marking_alerts(submission.marking_due_at + DAY)
        (notice,) = notices_of(marker, "marking_overdue")
        assert "Niamh" not in notice.text and str(submission.participant.number) in notice.text

    def test_marked_and_unallocated_work_is_not_chased(self, setup, make_assignment, make_submission):
        submission, marker = setup
        finish_mark(marker, submission, [10, 10])
        other_course_assignment = make_assignment(title="Nobody marks this")
        unallocated = make_submission(other_course_assignment)
        assert unallocated.marker_id is None
        assert jobs.send_marking_alerts(submission.marking_due_at + 30 * DAY) == {
            "alerts": 0,
            "escalations": 0,
        }

    def test_a_draft_mark_is_still_chased(self, setup):
        submission, marker = setup
        from lms.assessments import marking

        marking.save_mark(marker, submission, {"levels": {}}, expected_version=None, feedback="Started")
        assert jobs.send_marking_alerts(submission.marking_due_at + DAY)["alerts"] == 1

    def test_reallocated_work_tells_the_new_marker_of_its_new_date(
        self, setup, course, make_pool, make_user, assessments_admin
    ):
        submission, marker = setup
        jobs.send_marking_alerts(submission.marking_due_at + DAY)
        newcomer = make_user(Role.ASSESSOR)
        make_pool(course, people=[marker, newcomer])
        allocate(assessments_admin, [submission], newcomer)
        # Allocated now, so due to be marked 14 days from now.
        assert jobs.send_marking_alerts(utcnow() + 13 * DAY)["alerts"] == 0
        assert jobs.send_marking_alerts(submission.marking_due_at + DAY)["alerts"] == 1
        assert len(notices_of(newcomer, "marking_overdue")) == 1


class TestModerationReminders:
    @pytest.fixture
    def sampled(self, make_assignment, course, make_pool, make_submission):
        marker, moderator = make_pool(course, 2)
        submission = make_submission(make_assignment(course, is_moderated=True, title="Case study"))
        who = marker if submission.marker_id == marker.id else moderator
        finish_mark(who, submission, [0, 0])
        return submission, (moderator if who is marker else marker)

    def test_the_moderator_is_reminded_once_after_three_days(self, sampled):
        submission, moderator = sampled
        assert submission.moderator_id == moderator.id
        waiting_since = submission.submitted_at
        assert jobs.send_moderation_reminders(waiting_since + 2 * DAY) == {"reminders": 0}
        assert jobs.send_moderation_reminders(waiting_since + 3 * DAY + dt.timedelta(minutes=1)) == {
            "reminders": 1
        }
        assert jobs.send_moderation_reminders(waiting_since + 9 * DAY) == {"reminders": 0}
        reminder = notices_of(moderator, "moderation_waiting")[-1]
        assert reminder.title == "Still waiting for moderation: Case study"
        assert reminder.link == f"/marking/submissions/{submission.id}/moderate"
        assert "for you to moderate it" in reminder.text

    def test_with_no_moderator_the_admins_are_told(
        self, make_assignment, make_course, make_pool, make_submission, assessments_admin
    ):
        course = make_course(modules=0)
        (alone,) = make_pool(course, 1)
        submission = make_submission(make_assignment(course, is_moderated=True))
        finish_mark(alone, submission, [0, 0])
        assert submission.moderator_id is None
        admins = [a for a in people_with_roles({Role.ADMIN}) if a.is_active_account]
        assert jobs.send_moderation_reminders(submission.submitted_at + 4 * DAY) == {"reminders": len(admins)}
        (notice,) = notices_of(assessments_admin, "moderation_waiting")
        assert "for a moderator to be chosen" in notice.text
        assert notice.link == f"/admin/assignments/{submission.assignment_id}/submissions"

    def test_moderated_work_is_not_chased(self, sampled):
        from lms.assessments.marking import mark_of
        from lms.assessments.models import ModerationDecision
        from lms.assessments.moderation import moderate

        submission, moderator = sampled
        moderate(
            moderator, submission, ModerationDecision.AGREED, expected_version=mark_of(submission).version
        )
        assert jobs.send_moderation_reminders(submission.submitted_at + 4 * DAY) == {"reminders": 0}
