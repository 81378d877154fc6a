"""seed-demo's assignment: the practitioner programme's case study, its rubric, and work in every state."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import pytest
import sqlalchemy as sa

from lms import database
from lms.accounts.models import User
from lms.assessments import sampling
from lms.assessments.assignments import current_version, pool_of
from lms.assessments.marking import QueueFilter, mark_of, queue_query
from lms.assessments.models import (
    Assignment,
    MarkingState,
    Moderation,
    Outcome,
    SchemeKind,
    Submission,
    SubmissionStatus,
)
from lms.assessments.moderation import moderation_queue_query
from lms.audit import AuditEntry
from lms.courses.catalogue import get_course_by_code
from lms.courses.enrolment import own_enrolment
from lms.courses.models import EnrolmentStatus
from lms.courses.progress import unmet_requirements
from lms.demo import assessments as demo_assessments
from lms.demo import courses as demo
from lms.demo import people
from lms.demo.assessments import ASSESSMENTS, load_assignments
from lms.demo.course_files import ContentError
from lms.demo.seed import DEMO_PASSWORD, seed_demo
from lms.extensions import db as _db

AOIFE, DECLAN, NIAMH, CIARAN = (email for email, *_ in demo.DEMO_STAFF)


def by_email(email: str) -> User:
    return _db.session.scalar(sa.select(User).where(User.email == email))


def attempts(email: str) -> list[Submission]:
    statement = (
        sa.select(Submission).where(Submission.user_id == by_email(email).id).order_by(Submission.attempt)
    )
    return list(_db.session.scalars(statement))


@pytest.fixture
def seeded(db):
    """The demo, seeded once."""
    report = seed_demo()
    db.session.flush()
    return report


@pytest.fixture
def assignment(seeded) -> Assignment:
    mpact = get_course_by_code(demo.MPACT_CODE)
    return _db.session.scalars(sa.select(Assignment).where(Assignment.course_id == mpact.id)).one()


def test_the_programme_has_a_reflective_case_study_with_a_five_criterion_rubric(assignment):
    version = current_version(assignment)
    now = database.utcnow()

    assert assignment.title == "Reflective case study: M-PACT's principles in practice"
    assert "2,500 words" in assignment.brief and "Children first" in assignment.brief
    assert assignment.is_required and assignment.max_attempts == 2
    assert not assignment.is_blind and assignment.is_moderated and assignment.moderation_share == 20
    assert assignment.opens_at < now < assignment.due_at < assignment.cutoff_at
    assert dt.timedelta(days=19) < assignment.due_at - now < dt.timedelta(days=23)
    assert assignment.accepts_text and assignment.accepts_files and assignment.extensions == ["pdf", "docx"]
    assert version.kind == SchemeKind.RUBRIC and version.max_points == 100 and version.pass_mark == 50
    assert [c.title for c in version.criteria] == [
        "Whole-family understanding",
        "Children first",
        "Multi-family group work",
        "Safeguarding",
        "Reflection and use of evidence",
    ]
    for criterion in version.criteria:
        assert criterion.description
        assert [level.points for level in criterion.levels] == [4, 10, 15, 20]
        assert all(level.descriptor for level in criterion.levels)
    assert [u.email for u in pool_of(assignment.course_id)] == [
        people.DEMO_ASSESSOR,
        people.DEMO_SECOND_ASSESSOR,
    ]
    assert by_email(people.DEMO_SECOND_ASSESSOR).name == "Priya Shah"


def test_the_demo_assessor_has_work_to_mark_and_a_mark_to_moderate(assignment):
    alex = by_email(people.DEMO_ASSESSOR)
    priya = by_email(people.DEMO_SECOND_ASSESSOR)

    queue = list(_db.session.scalars(queue_query(alex, QueueFilter())))
    (waiting,) = queue
    assert waiting.user_id == by_email(NIAMH).id and waiting.state == MarkingState.NOT_MARKED
    assert mark_of(waiting) is None and not waiting.is_late
    (to_moderate,) = _db.session.scalars(moderation_queue_query(alex))
    assert to_moderate.user_id == by_email(CIARAN).id
    assert to_moderate.marker_id == priya.id and to_moderate.is_sampled
    assert mark_of(to_moderate).outcome == Outcome.REFER and mark_of(to_moderate).feedback
    assert list(_db.session.scalars(queue_query(priya, QueueFilter()))) == [to_moderate]


def test_a_referral_was_moderated_released_and_is_being_resubmitted(assignment):
    first, second = attempts(DECLAN)

    assert first.state == MarkingState.RELEASED and mark_of(first).outcome == Outcome.REFER
    assert "Children first (not yet met)" in mark_of(first).feedback
    moderation = _db.session.scalar(sa.select(Moderation).where(Moderation.submission_id == first.id))
    assert moderation.moderator_id == by_email(people.DEMO_SECOND_ASSESSOR).id
    assert moderation.first_marker_id == by_email(people.DEMO_ASSESSOR).id
    assert second.attempt == 2 and second.status == SubmissionStatus.DRAFT and second.state is None
    assert second.text.startswith(first.text.rstrip()) and "rewritten for the resubmission" in second.text
    assert second.draft_revision == 1
    assert own_enrolment(by_email(DECLAN), assignment.course).status == EnrolmentStatus.ACTIVE


def test_aoifes_released_pass_completes_her_programme(assignment):
    aoife = by_email(AOIFE)
    admin = by_email(people.DEMO_ADMIN)
    (submission,) = attempts(AOIFE)
    enrolment = own_enrolment(aoife, assignment.course)

    assert submission.state == MarkingState.RELEASED and submission.released_by_id == admin.id
    assert mark_of(submission).outcome == Outcome.PASS and mark_of(submission).total == 90
    assert enrolment.status == EnrolmentStatus.COMPLETED and unmet_requirements(enrolment) == []
    # The completion came with the release, by the admin, not with her last module.
    completed = _db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.action == "enrolment.completed", AuditEntry.subject_id == enrolment.id
        )
    ).all()
    assert [entry.actor_id for entry in completed] == [admin.id]


@pytest.mark.parametrize("is_sampled", [True, False], ids=["sampled", "not-sampled"])
def test_aoifes_pass_is_released_whether_or_not_it_is_drawn_for_moderation(db, monkeypatch, is_sampled):
    drawn = sampling.is_drawn
    monkeypatch.setattr(
        sampling,
        "is_drawn",
        lambda submission, outcome: is_sampled if outcome == Outcome.PASS else drawn(submission, outcome),
    )

    seed_demo()

    (submission,) = attempts(AOIFE)
    assert submission.state == MarkingState.RELEASED and submission.is_sampled == is_sampled
    moderation = db.session.scalar(sa.select(Moderation).where(Moderation.submission_id == submission.id))
    assert (moderation is not None) == is_sampled
    if is_sampled:
        assert moderation.moderator_id == by_email(people.DEMO_SECOND_ASSESSOR).id
    assert own_enrolment(by_email(AOIFE), submission.assignment.course).status == EnrolmentStatus.COMPLETED


def test_the_seed_report_counts_the_work_and_lists_the_second_assessor(seeded):
    assert seeded.created["assignments"] == 1
    assert seeded.created["submissions"] == 4
    assert seeded.created["marks"] == 3
    assert seeded.created["marks released"] == 2
    assert seeded.created["resubmissions started"] == 1
    assert re.search(r"Assessor +second\.assessor@example\.org Priya Shah", seeded.render())


def test_reseeding_hands_in_only_the_missing_work(db, assignment):
    niamh = by_email(NIAMH)
    db.session.execute(sa.delete(Submission).where(Submission.user_id == niamh.id))
    db.session.expire_all()

    report = seed_demo()

    assert report.created == {"submissions": 1}
    (again,) = attempts(NIAMH)
    assert again.state == MarkingState.NOT_MARKED and again.marker_id == by_email(people.DEMO_ASSESSOR).id
    assert len(attempts(DECLAN)) == 2


def test_an_admins_rubric_is_kept_and_work_that_no_longer_fits_it_is_left_out(db, assignment):
    from lms.assessments.assignments import save_scheme

    admin = by_email(people.DEMO_ADMIN)
    save_scheme(admin, assignment, {"kind": "points", "max_points": 20, "pass_mark": 10})
    db.session.execute(sa.delete(Submission).where(Submission.assignment_id == assignment.id))
    db.session.expire_all()

    report = seed_demo()

    # Niamh's unmarked work still fits any scheme; the marked work's rubric levels do not.
    assert report.created == {"submissions": 1}
    assert current_version(assignment).kind == SchemeKind.POINTS


def test_the_demo_people_see_their_work_on_the_pages(client, assignment):
    client.post("/account/login", data={"email": people.DEMO_ASSESSOR, "password": DEMO_PASSWORD})
    (waiting,) = attempts(NIAMH)

    queue = client.get("/marking").get_data(as_text=True)
    page = client.get(f"/marking/submissions/{waiting.id}")
    moderation = client.get("/marking/moderation").get_data(as_text=True)

    assert "Niamh Kelly" in queue
    assert page.status_code == 200 and "Whole-family understanding" in page.get_data(as_text=True)
    assert "Ciarán Doyle" in moderation
    client.post("/account/logout")
    client.post("/account/login", data={"email": DECLAN, "password": DEMO_PASSWORD})
    mine = client.get(f"/assignments/{assignment.id}").get_data(as_text=True)
    assert "Children first (not yet met)" in mine  # the referral's feedback
    assert "Your draft" in mine and "rewritten for the resubmission" in mine  # attempt 2 under way


# --- the content files ---------------------------------------------------------------------------


@pytest.fixture
def content(tmp_path):
    """A copy of lms/demo/content/assessments/ to edit."""
    shutil.copytree(ASSESSMENTS, tmp_path / "assessments")
    return tmp_path / "assessments"


def test_the_assignment_is_the_text_of_its_files(content):
    brief = content / "mpact-pt" / "brief.md"
    brief.write_text(brief.read_text(encoding="utf-8").replace("Write a", "Write one", 1), encoding="utf-8")

    (spec,) = load_assignments(content)

    assert spec.brief.startswith("## The task\n\nWrite one")
    assert [w.trainee for w in spec.work] == [AOIFE, DECLAN, NIAMH, CIARAN]
    assert spec.work[0].text == (content / "mpact-pt" / "aoife-brennan.md").read_text(encoding="utf-8")
    assert spec.work == demo_assessments.demo_assignments()[0].work


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("levels = [20, 20, 15, 20, 15]", "levels = [20, 20, 15, 20]", "work 1: levels should give 5 points"),
        ("levels = [20, 20, 15, 20, 15]", "levels = [20, 20, 16, 20, 15]", "16 is not the points of a level"),
        (
            'marker = "second.assessor',
            'marker = "nobody',
            "work 4: nobody@example.org is not one of the assessors",
        ),
        ('text = "mpact-pt/niamh-kelly.md"', 'text = "mpact-pt/gone.md"', "mpact-pt/gone.md is missing"),
        ('text = "mpact-pt/niamh-kelly.md"', 'text = "../courses.toml"', "should name a .md file"),
        ("max_attempts = 2", "max_attempt = 2", "max_attempts is missing"),
        ("moderated = true", "moderated = true\nmoderation = true", "unknown moderation (a typo?)"),
        ("pass_mark = 50", 'pass_mark = "50"', "rubric: pass_mark should be a whole number"),
        (
            'marker = "assessor@example.org"\n\n',
            'marker = "assessor@example.org"\nrelease = true\n\n',
            "work 3: feedback, moderation and release need the levels of a mark",
        ),
    ],
)
def test_a_mistake_in_the_assignment_file_is_named(content, old, new, message):
    path = content / "mpact-pt.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")

    with pytest.raises(ContentError, match=re.escape(message)):
        load_assignments(content)
