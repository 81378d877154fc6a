"""The courses' scheduled jobs: cohort start reminders and lapsing idle enrolments."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from lms.audit import AuditEntry
from lms.courses.jobs import lapse_enrolments, send_cohort_reminders
from lms.courses.models import Cohort, CourseStatus, EnrolmentStatus
from lms.extensions import db as _db
from lms.mail import OutboundEmail
from lms.notifications.models import Notification
from lms.notifications.services import set_email_choices

#: A Wednesday in winter (GMT): London and UTC agree.
WINTER_MORNING = dt.datetime(2026, 12, 2, 7, 0, tzinfo=dt.UTC)


def notices(user, kind: str) -> list[Notification]:
    return list(
        _db.session.scalars(
            select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
        )
    )


class TestCohortReminders:
    @pytest.fixture
    def cohort_in(self, make_course, make_cohort):
        course = make_course(title="Trauma Informed Practice")

        def make(days: int, **fields):
            return make_cohort(
                course, starts_on=WINTER_MORNING.date() + dt.timedelta(days=days), location="Dublin", **fields
            )

        return make

    def test_a_week_before_and_the_day_before_each_once(
        self, db, cohort_in, make_user, make_enrolment, outbox
    ):
        now = WINTER_MORNING
        cohort = cohort_in(7)
        trainee = make_user()
        make_enrolment(trainee, cohort.course, cohort)

        assert send_cohort_reminders(now) == {"reminders": 1, "cohorts": 1}
        (week,) = notices(trainee, "cohort_starting")
        assert week.title == "Trauma Informed Practice starts in 7 days, on Wednesday 9 December 2026"
        assert "Dublin" in week.text and week.link == f"/courses/{cohort.course_id}"
        assert send_cohort_reminders(now) == {"reminders": 0, "cohorts": 0}  # run again: nothing new

        now = WINTER_MORNING + dt.timedelta(days=3)
        assert send_cohort_reminders(now)["reminders"] == 0  # between the two reminders
        now = WINTER_MORNING + dt.timedelta(days=6)
        assert send_cohort_reminders(now)["reminders"] == 1
        titles = sorted(n.title for n in notices(trainee, "cohort_starting"))
        assert titles[1] == "Trauma Informed Practice starts tomorrow, on Wednesday 9 December 2026"
        emailed = _db.session.scalars(
            select(OutboundEmail.subject).where(OutboundEmail.recipient == trainee.email)
        )
        assert sorted(emailed) == titles

    def test_a_missed_day_is_made_up_the_next(self, db, cohort_in, make_user, make_enrolment):
        now = WINTER_MORNING
        cohort = cohort_in(6)  # the 7-day run was missed yesterday
        trainee = make_user()
        make_enrolment(trainee, cohort.course, cohort)
        assert send_cohort_reminders(now)["reminders"] == 1
        assert "starts in 6 days" in notices(trainee, "cohort_starting")[0].title

    def test_only_active_places_of_published_courses_and_active_accounts(
        self, db, cohort_in, make_user, make_enrolment
    ):
        now = WINTER_MORNING
        cohort = cohort_in(1, capacity=1)
        active, waiting, withdrawn, closed = (make_user() for _ in range(4))
        make_enrolment(active, cohort.course, cohort)
        assert make_enrolment(waiting, cohort.course, cohort).status == EnrolmentStatus.WAITLISTED
        other = cohort_in(1)
        gone = make_enrolment(withdrawn, other.course, other)
        gone.status = EnrolmentStatus.WITHDRAWN
        make_enrolment(closed, other.course, other).user.is_active_account = False
        _db.session.flush()

        assert send_cohort_reminders(now) == {"reminders": 1, "cohorts": 1}
        assert [len(notices(u, "cohort_starting")) for u in (active, waiting, withdrawn, closed)] == [
            1,
            0,
            0,
            0,
        ]

        cohort.course.status = CourseStatus.ARCHIVED
        now = WINTER_MORNING + dt.timedelta(days=1)
        assert send_cohort_reminders(now)["reminders"] == 0

    def test_a_moved_start_is_reminded_of_again(self, db, cohort_in, make_user, make_enrolment):
        now = WINTER_MORNING
        cohort = cohort_in(7)
        trainee = make_user()
        make_enrolment(trainee, cohort.course, cohort)
        send_cohort_reminders(now)
        cohort.starts_on += dt.timedelta(days=-2)
        _db.session.flush()
        assert send_cohort_reminders(now)["reminders"] == 1
        assert len(notices(trainee, "cohort_starting")) == 2

    def test_no_email_for_someone_who_turned_it_off(self, db, cohort_in, make_user, make_enrolment):
        now = WINTER_MORNING
        cohort = cohort_in(7)
        trainee = make_user()
        make_enrolment(trainee, cohort.course, cohort)
        set_email_choices(trainee, trainee, set())
        send_cohort_reminders(now)
        assert len(notices(trainee, "cohort_starting")) == 1
        assert not _db.session.scalar(select(func.count()).where(OutboundEmail.recipient == trainee.email))

    def test_the_day_is_londons(self, db, make_course, make_cohort, make_user, make_enrolment):
        # 23:30 UTC on 30 June is already 1 July in London (BST, UTC+1).
        now = dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC)
        course = make_course()
        cohort = make_cohort(course, starts_on=dt.date(2026, 7, 2), ends_on=dt.date(2026, 8, 1))
        trainee = make_user()
        make_enrolment(trainee, course, cohort)
        send_cohort_reminders(now)
        assert "starts tomorrow" in notices(trainee, "cohort_starting")[0].title

    def test_a_bounded_number_of_queries_to_find_who_is_due(
        self, db, cohort_in, make_user, make_enrolment, count_queries
    ):
        now = WINTER_MORNING
        for days in (3, 5):
            cohort = cohort_in(days)
            for _ in range(3):
                make_enrolment(make_user(), cohort.course, cohort)
        _db.session.flush()
        # Everything already sent: what is left is finding who is due, whatever their number.
        send_cohort_reminders(now)
        with count_queries() as counter:
            assert send_cohort_reminders(now)["reminders"] == 0
        assert counter.count == 2, counter.statements  # who is due; which were sent before


class TestLapsing:
    DAYS = 60

    @pytest.fixture
    def ended(self, make_course, make_cohort, make_user, make_enrolment):
        """An enrolment in a cohort that ended ``days_ago`` days before the clock, idle since."""

        def make(days_ago: int, *, status=EnrolmentStatus.ACTIVE, active_days_ago: int | None = None):
            end = WINTER_MORNING.date() - dt.timedelta(days=days_ago)
            course = make_course()
            cohort = make_cohort(course, starts_on=end - dt.timedelta(days=30), ends_on=end, capacity=5)
            enrolment = make_enrolment(make_user(), course, cohort)
            enrolment.status = status
            if active_days_ago is not None:
                enrolment.last_activity_at = WINTER_MORNING - dt.timedelta(days=active_days_ago)
            _db.session.flush()
            return enrolment

        return make

    def test_the_rule_at_its_boundaries(self, db, ended):
        now = WINTER_MORNING
        on_the_day = ended(self.DAYS)  # ended exactly 60 days ago: not yet
        after = ended(self.DAYS + 1)
        busy = ended(self.DAYS + 1, active_days_ago=self.DAYS - 1)
        idle = ended(self.DAYS + 30, active_days_ago=self.DAYS + 1)
        done = ended(self.DAYS + 1, status=EnrolmentStatus.COMPLETED)
        waiting = ended(self.DAYS + 1, status=EnrolmentStatus.WAITLISTED)

        assert lapse_enrolments(now) == {"lapsed_active": 2, "lapsed_waitlisted": 1}
        statuses = [e.status for e in (on_the_day, after, busy, idle, done, waiting)]
        assert statuses == [
            EnrolmentStatus.ACTIVE,
            EnrolmentStatus.LAPSED,
            EnrolmentStatus.ACTIVE,
            EnrolmentStatus.LAPSED,
            EnrolmentStatus.COMPLETED,
            EnrolmentStatus.LAPSED,
        ]
        assert lapse_enrolments(now) == {"lapsed_active": 0, "lapsed_waitlisted": 0}

    def test_audited_told_and_the_place_given_back(self, db, ended):
        now = WINTER_MORNING
        enrolment = ended(self.DAYS + 1)
        cohort = _db.session.get(Cohort, enrolment.cohort_id)
        assert cohort.seats_taken == 1
        lapse_enrolments(now)
        _db.session.refresh(cohort)
        assert cohort.seats_taken == 0
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "enrolment.lapsed"))
        assert entry.subject_id == enrolment.id and entry.actor_id is None
        assert entry.before == {"status": "active"} and entry.after["status"] == "lapsed"
        (notice,) = notices(enrolment.user, "enrolment_lapsed")
        assert notice.title == f"Your place on {enrolment.course.title} has lapsed"
        assert "enrol on the course again" in notice.text

    def test_the_configured_number_of_days(self, db, app, ended, monkeypatch):
        monkeypatch.setitem(app.config, "LAPSE_AFTER_DAYS", 10)
        now = WINTER_MORNING
        enrolment = ended(11)
        lapse_enrolments(now)
        assert enrolment.status == EnrolmentStatus.LAPSED

    def test_a_lapsed_trainee_can_enrol_again(self, db, ended, make_cohort):
        from lms.courses.enrolment import enrol

        now = WINTER_MORNING
        enrolment = ended(self.DAYS + 1)
        lapse_enrolments(now)
        again = make_cohort(enrolment.course)
        assert enrol(enrolment.user, enrolment.user, enrolment.course, again).status == EnrolmentStatus.ACTIVE
