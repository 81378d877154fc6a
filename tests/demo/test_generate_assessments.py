"""The benchmark data set's assessments (generate): assignments, pools, submissions, marks, moderation."""

from __future__ import annotations

import collections

import pytest
import sqlalchemy as sa

from lms.accounts.models import User
from lms.assessments.marking import QueueFilter, outcome_for, queue_query
from lms.assessments.models import (
    Assignment,
    Criterion,
    Extension,
    GradeChange,
    Level,
    Mark,
    MarkingState,
    MarkScore,
    Moderation,
    Outcome,
    Participant,
    SchemeVersion,
    Submission,
    SubmissionStatus,
    course_assessors,
)
from lms.assessments.requirements import unmet_assignments
from lms.assessments.sampling import is_drawn
from lms.courses.models import Enrolment, EnrolmentStatus
from lms.demo import generate as generator
from lms.demo.generate import GENERATED_PASSWORD, SIZES, Step, generate

XS, S = SIZES["xs"], SIZES["s"]
TABLES = (
    Assignment.__table__,
    SchemeVersion.__table__,
    Criterion.__table__,
    Level.__table__,
    course_assessors,
    Participant.__table__,
    Submission.__table__,
    Mark.__table__,
    MarkScore.__table__,
    Moderation.__table__,
    GradeChange.__table__,
    Extension.__table__,
)


def count(db, table) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(table))


def test_generate_xs_fills_every_assessments_table(db, monkeypatch):
    seen = {}
    core_steps = generator.steps()
    monkeypatch.setattr(
        generator, "steps", lambda: (*core_steps, Step("peek", lambda ctx: seen.update(ctx.ids)))
    )

    report = generate("xs", seed=2)

    assert "assessments" in report.step_seconds
    assert count(db, Assignment) == len(seen["courses.credited"]) * XS.assignments_per_course
    assert count(db, Submission) == XS.submissions
    for table in TABLES:
        assert count(db, table) > 0, table.name
    assert len(seen["assessments.submission"]) == XS.submissions
    assert set(seen["assessments.released"]) < set(seen["assessments.submission"])
    assert len(seen["assessments.mark"]) == count(db, Mark)


@pytest.fixture
def small(db):
    """Size s, generated in the test's transaction."""
    generate("s", seed=1)
    return db


def test_generated_submissions_follow_the_rules_of_the_app(small):
    db = small
    now = generator.ANCHOR
    assignments = {a.id: a for a in db.session.scalars(sa.select(Assignment))}
    versions = {v.assignment_id: v for v in db.session.scalars(sa.select(SchemeVersion))}
    points = dict(db.session.execute(sa.select(Level.id, Level.points)).all())
    level_of = dict(db.session.execute(sa.select(Level.id, Level.criterion_id)).all())
    pools = collections.defaultdict(set)
    for course_id, user_id in db.session.execute(sa.select(course_assessors)):
        pools[course_id].add(user_id)
    marks = {m.submission_id: m for m in db.session.scalars(sa.select(Mark))}
    moderations = {m.submission_id: m for m in db.session.scalars(sa.select(Moderation))}
    extensions = {(e.assignment_id, e.user_id): e for e in db.session.scalars(sa.select(Extension))}
    submissions = db.session.scalars(sa.select(Submission).order_by(Submission.id)).all()

    assert len(submissions) == S.submissions
    attempts = {(s.assignment_id, s.user_id, s.attempt): s for s in submissions}
    for s in submissions:
        a, mark = assignments[s.assignment_id], marks.get(s.id)
        pool = pools[a.course_id]
        assert a.created_at <= s.created_at <= (s.submitted_at or s.created_at)
        assert (s.submitted_at or s.created_at) <= (s.released_at or now) <= now
        if s.attempt > 1:  # a resubmission follows a released referral
            first = attempts[(s.assignment_id, s.user_id, s.attempt - 1)]
            assert first.state == MarkingState.RELEASED and marks[first.id].outcome == Outcome.REFER
            assert first.released_at <= s.created_at and s.text.startswith(first.text)
        if s.status == SubmissionStatus.DRAFT:
            assert s.state is None and s.marker_id is None and mark is None
            continue
        # Allocated within the course's pool, with a marking due date; late against the trainee's deadline.
        assert s.marker_id in pool and s.allocated_at == s.submitted_at and s.marking_due_at > s.submitted_at
        extension = extensions.get((s.assignment_id, s.user_id))
        covered = extension is not None and extension.granted_at <= s.submitted_at
        assert s.is_late == (s.submitted_at > (extension.due_at if covered else a.due_at))
        assert s.submitted_at <= a.cutoff_at or (covered and s.submitted_at <= extension.due_at)
        if s.state == MarkingState.NOT_MARKED:
            assert mark is None
            continue
        chosen = db.session.execute(
            sa.select(MarkScore.criterion_id, MarkScore.level_id).where(MarkScore.mark_id == mark.id)
        ).all()
        assert all(level_of[level] == criterion for criterion, level in chosen)
        assert mark.marker_id == s.marker_id and mark.scheme_version_id == versions[a.id].id
        if s.state == MarkingState.IN_MARKING:
            assert mark.completed_at is None and not s.is_sampled
            continue
        # A finished mark: every criterion scored, the total and outcome the app would compute.
        assert len(chosen) == len(versions[a.id].criteria) and mark.feedback
        assert mark.total == sum(points[level] for _criterion, level in chosen)
        assert mark.outcome == outcome_for(mark.total, versions[a.id], s.attempt, a.max_attempts)
        assert s.submitted_at <= mark.created_at <= mark.completed_at <= now
        assert s.is_sampled == is_drawn(s, mark.outcome)
        assert (s.moderator_id is not None) == s.is_sampled
        if s.is_sampled:
            assert s.moderator_id in pool and s.moderator_id != s.marker_id
        moderation = moderations.get(s.id)
        decided = s.is_sampled and s.state in (MarkingState.READY_FOR_RELEASE, MarkingState.RELEASED)
        assert (moderation is not None) == decided
        if moderation is not None:
            assert moderation.moderator_id == s.moderator_id and moderation.first_marker_id == s.marker_id
            assert moderation.agreed_total == mark.total and moderation.agreed_outcome == mark.outcome
            assert mark.completed_at <= moderation.decided_at <= (s.released_at or now)
    states = collections.Counter(s.state for s in submissions)
    assert states[MarkingState.RELEASED] > len(submissions) / 2
    assert all(states[state] for state in (None, *MarkingState)), states
    assert sum(s.is_late for s in submissions) and extensions
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(GradeChange).where(GradeChange.is_after_release)
    )


def test_every_completion_on_a_credited_course_has_its_passes(small):
    db = small
    assessed = set(db.session.scalars(sa.select(Assignment.course_id)))
    completed = db.session.scalars(
        sa.select(Enrolment).where(
            Enrolment.status == EnrolmentStatus.COMPLETED, Enrolment.course_id.in_(assessed)
        )
    ).all()
    active = db.session.scalars(
        sa.select(Enrolment).where(
            Enrolment.status == EnrolmentStatus.ACTIVE, Enrolment.course_id.in_(assessed)
        )
    ).all()

    assert len(completed) >= S.credit_awards
    assert all(not problems for problems in unmet_assignments(completed).values())
    # Released passes came before the completion they allowed.
    for enrolment in completed[:50]:
        passes = db.session.scalars(
            sa.select(Submission).where(
                Submission.user_id == enrolment.user_id, Submission.state == MarkingState.RELEASED
            )
        ).all()
        assert all(
            p.released_at <= enrolment.completed_at
            for p in passes
            if p.assignment.course_id == enrolment.course_id
        )
    # Nobody still on a course has a released fail (that would have ended the enrolment).
    released_fails = set(
        db.session.execute(
            sa.select(Submission.user_id, Assignment.course_id)
            .join(Assignment, Assignment.id == Submission.assignment_id)
            .join(Mark, Mark.submission_id == Submission.id)
            .where(Submission.state == MarkingState.RELEASED, Mark.outcome == Outcome.FAIL)
        ).all()
    )
    assert not released_fails & {(e.user_id, e.course_id) for e in active}


def test_an_assessor_works_the_generated_queue_in_the_browser(small, client):
    db = small
    marker_id, _open = db.session.execute(
        sa.select(Submission.marker_id, sa.func.count())
        .where(Submission.state != MarkingState.RELEASED, Submission.marker_id.is_not(None))
        .group_by(Submission.marker_id)
        .order_by(sa.func.count().desc(), Submission.marker_id)
        .limit(1)
    ).one()
    assessor = db.session.get(User, marker_id)
    queue = db.session.scalars(queue_query(assessor, QueueFilter())).all()
    marked = next(s for s in queue if s.state == MarkingState.IN_MARKING or s.state == MarkingState.MARKED)

    response = client.post("/account/login", data={"email": assessor.email, "password": GENERATED_PASSWORD})
    assert response.status_code == 302
    page = client.get("/marking")
    mark_page = client.get(f"/marking/submissions/{marked.id}")

    assert page.status_code == 200 and f"/marking/submissions/{queue[0].id}" in page.get_data(as_text=True)
    assert mark_page.status_code == 200
