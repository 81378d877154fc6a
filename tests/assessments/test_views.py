"""The pages as trainees, assessors and admins use them: drafts, files, submitting, marking, admin."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select

from lms.assessments.assignments import current_version
from lms.assessments.models import Assignment, MarkingState, Submission, SubmissionStatus
from lms.database import utcnow
from lms.extensions import db
from lms.permissions import Role
from tests.assessments.factories import RUBRIC

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def course(make_course):
    return make_course(modules=0, title="Whole-family practice")


@pytest.fixture
def assignment(make_assignment, course):
    return make_assignment(course, title="Reflective case study", word_limit=50)


@pytest.fixture
def assessor(make_pool, course):
    return make_pool(course, 1)[0]


@pytest.fixture
def trainee(make_user, make_enrolment, course):
    person = make_user(Role.TRAINEE, name="Tess Trainee")
    make_enrolment(person, course)
    return person


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_trainee_writes_uploads_and_submits_with_a_receipt(
    client, login_as, assignment, trainee, assessor, outbox
):
    login_as(trainee)
    page = client.get(f"/assignments/{assignment.id}")
    assert page.status_code == 200
    assert "Reflective case study" in _text(page) and "Submit for marking" not in _text(page)

    saved = client.post(
        f"/assignments/{assignment.id}/draft", data={"text": "My first words.", "revision": "0"}
    )
    assert saved.status_code == 302
    draft = db.session.scalar(select(Submission).where(Submission.user_id == trainee.id))
    assert draft.text == "My first words." and draft.draft_revision == 1

    # The page's autosave gets JSON back; an older revision is refused and changes nothing.
    auto = client.post(
        f"/assignments/{assignment.id}/draft",
        data={"text": "My first words, and more.", "revision": "1"},
        headers={"X-Requested-With": "fetch"},
    )
    assert auto.status_code == 200 and auto.get_json()["revision"] == 2
    stale = client.post(
        f"/assignments/{assignment.id}/draft",
        data={"text": "old tab", "revision": "1"},
        headers={"X-Requested-With": "fetch"},
    )
    assert stale.status_code == 409 and "another window" in stale.get_json()["error"]["message"]
    db.session.refresh(draft)
    assert draft.text == "My first words, and more."

    upload = client.post(
        f"/assignments/{assignment.id}/files",
        data={"file": (io.BytesIO(PDF), "case-study.pdf")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302
    renamed = client.post(
        f"/assignments/{assignment.id}/files",
        data={"file": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 200), "virus.pdf")},
        content_type="multipart/form-data",
    )
    assert renamed.status_code == 422 and "renamed" in _text(renamed)

    no_declaration = client.post(f"/assignments/{assignment.id}/submit", data={})
    assert no_declaration.status_code == 422
    assert "Confirm that the work is your own" in _text(no_declaration)

    done = client.post(
        f"/assignments/{assignment.id}/submit", data={"declaration": "y"}, follow_redirects=True
    )
    assert done.status_code == 200
    body = _text(done)
    assert "Attempt 1 is submitted" in body and "case-study.pdf" in body and "SHA-256" in body
    db.session.refresh(draft)
    assert draft.status == SubmissionStatus.SUBMITTED and draft.marker_id == assessor.id
    assert any("Receipt" in message["subject"] for message in outbox)


def test_over_the_word_limit_is_refused_with_the_count(client, login_as, assignment, trainee):
    login_as(trainee)
    client.post(f"/assignments/{assignment.id}/draft", data={"text": "word " * 60, "revision": "0"})
    response = client.post(f"/assignments/{assignment.id}/submit", data={"declaration": "y"})
    assert response.status_code == 422
    assert "60 words: the limit is 50" in _text(response)


def test_someone_not_on_the_course_cannot_open_the_assignment(client, login_as, assignment, make_user):
    login_as(make_user(Role.TRAINEE))
    assert client.get(f"/assignments/{assignment.id}").status_code == 404


def test_assessor_marks_with_the_rubric_and_the_trainee_sees_nothing_before_release(
    client, login_as, assignment, trainee, assessor, make_submission, assessments_admin
):
    submission = make_submission(assignment, trainee)
    version = current_version(assignment)
    top = {c.id: c.levels[-1].id for c in version.criteria}
    login_as(assessor)
    queue = client.get("/marking")
    assert queue.status_code == 200 and "Tess Trainee, attempt 1" in _text(queue)
    page = client.get(f"/marking/submissions/{submission.id}")
    assert page.status_code == 200 and "Reflection" in _text(page)

    # A level of another criterion is refused, naming the criterion, and nothing is saved.
    first, second = version.criteria
    wrong = client.post(
        f"/marking/submissions/{submission.id}",
        data={f"level-{first.id}": str(second.levels[0].id), "feedback": "x", "finish": "y"},
    )
    assert wrong.status_code == 422 and "does not belong to the criterion" in _text(wrong)

    data = {f"level-{cid}": str(lid) for cid, lid in top.items()} | {
        "feedback": "Excellent work.",
        "finish": "y",
    }
    assert client.post(f"/marking/submissions/{submission.id}", data=data).status_code == 302
    db.session.refresh(submission)
    assert submission.state == MarkingState.MARKED

    client.post("/account/logout")
    login_as(trainee)
    before = _text(client.get(f"/assignments/{assignment.id}"))
    assert "Excellent work." not in before and "being marked" in before

    client.post("/account/logout")
    login_as(assessments_admin)
    released = client.post(
        f"/admin/assignments/{assignment.id}/submissions",
        data={"submission_ids": [submission.id], "release": "y"},
    )
    assert released.status_code == 302
    client.post("/account/logout")
    login_as(trainee)
    after = _text(client.get(f"/assignments/{assignment.id}"))
    assert "Excellent work." in after and "Total: 20 out of 20" in after


def test_stale_mark_form_is_refused(client, login_as, assignment, trainee, assessor, make_submission):
    submission = make_submission(assignment, trainee)
    version = current_version(assignment)
    levels = {f"level-{c.id}": str(c.levels[0].id) for c in version.criteria}
    login_as(assessor)
    client.post(f"/marking/submissions/{submission.id}", data={**levels, "save": "y"})
    stale = client.post(f"/marking/submissions/{submission.id}", data={**levels, "version": "0", "save": "y"})
    assert stale.status_code == 409 and "Someone else saved this mark" in _text(stale)


def test_blind_marking_shows_participant_numbers_and_renames_files(
    client, login_as, make_assignment, course, trainee, assessor, make_submission
):
    blind = make_assignment(course, is_blind=True)
    submission = make_submission(blind, trainee, files=[("tess-trainee-essay.pdf", PDF)])
    login_as(assessor)
    for path in ("/marking", f"/marking/submissions/{submission.id}"):
        body = _text(client.get(path))
        assert "Tess Trainee" not in body and f"Participant {submission.participant.number}" in body
        assert "tess-trainee-essay" not in body
    file_id = db.session.scalar(select(Submission).where(Submission.id == submission.id)).id
    from lms.assessments.submissions import files_of

    item = files_of([file_id])[file_id][0]
    download = client.get(f"/assignments/submissions/{submission.id}/files/{item.id}")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    assert "tess" not in download.headers["Content-Disposition"].lower()
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_admin_creates_an_assignment_and_its_rubric(client, login_as, assessments_admin, course):
    login_as(assessments_admin)
    due = (utcnow() + dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    form = client.get(f"/admin/assignments/new?course_id={course.id}")
    assert form.status_code == 200
    missing = client.post(
        f"/admin/assignments/new?course_id={course.id}", data={"title": "", "max_attempts": "2"}
    )
    assert missing.status_code == 422 and "Give the assignment a title" in _text(missing)
    created = client.post(
        f"/admin/assignments/new?course_id={course.id}",
        data={
            "title": "Case study",
            "accepts_text": "y",
            "due_at": due,
            "max_attempts": "2",
            "is_required": "y",
        },
    )
    assert created.status_code == 302
    assignment = db.session.scalar(select(Assignment).where(Assignment.title == "Case study"))
    scheme = {"kind": "rubric", "pass_mark": "10"}
    for n, criterion in enumerate(RUBRIC["criteria"]):
        scheme[f"criteria-{n}-title"] = criterion["title"]
        for m, level in enumerate(criterion["levels"]):
            scheme[f"criteria-{n}-levels-{m}-points"] = str(level["points"])
            scheme[f"criteria-{n}-levels-{m}-descriptor"] = level["descriptor"]
    page = client.get(f"/admin/assignments/{assignment.id}/scheme")
    assert page.status_code == 200
    assert client.post(f"/admin/assignments/{assignment.id}/scheme", data=scheme).status_code == 302
    version = current_version(assignment)
    assert version.max_points == 20 and [c.title for c in version.criteria] == ["Reflection", "Principles"]
    too_high = client.post(f"/admin/assignments/{assignment.id}/scheme", data={**scheme, "pass_mark": "21"})
    assert too_high.status_code == 422 and "cannot be above the maximum of 20" in _text(too_high)


def test_admin_pages_open(
    client, login_as, assessments_admin, assignment, trainee, make_submission, assessor
):
    make_submission(assignment, trainee)
    login_as(assessments_admin)
    for path in (
        "/admin/assignments",
        f"/admin/assignments?course_id={assignment.course_id}",
        f"/admin/assignments/{assignment.id}/submissions",
        f"/admin/assignments/{assignment.id}/submissions?state=not_marked",
        f"/admin/assignments/{assignment.id}/edit",
        f"/admin/assignments/{assignment.id}/extensions",
        f"/admin/assignments/{assignment.id}/grade-history",
        f"/admin/assignments/courses/{assignment.course_id}/assessors",
    ):
        assert client.get(path).status_code == 200, path
    csv = client.get(f"/admin/assignments/{assignment.id}/grade-history.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "changed_at" in csv.get_data(as_text=True)


def test_admin_grants_an_extension(client, login_as, assessments_admin, assignment, trainee):
    login_as(assessments_admin)
    new_date = (assignment.due_at + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    refused = client.post(
        f"/admin/assignments/{assignment.id}/extensions",
        data={"user_id": trainee.id, "due_at": new_date, "reason": ""},
    )
    assert refused.status_code == 422 and "Give the reason" in _text(refused)
    granted = client.post(
        f"/admin/assignments/{assignment.id}/extensions",
        data={"user_id": trainee.id, "due_at": new_date, "reason": "Illness"},
    )
    assert granted.status_code == 302


# --- bounded queries ----------------------------------------------------------------------------


def _statements(client, count_queries, url) -> list[str]:
    assert client.get(url).status_code == 200
    with count_queries() as counter:
        assert client.get(url).status_code == 200, url
    return counter.statements


def test_queue_marking_page_and_admin_list_query_counts_do_not_grow(
    client,
    login_as,
    make_assignment,
    make_course,
    make_pool,
    make_submission,
    make_user,
    assessments_admin,
    count_queries,
):
    counts: dict[str, list[list[str]]] = {"queue": [], "mark": [], "admin": []}
    for size in (2, 12):
        course = make_course(modules=0)
        assignment = make_assignment(course)
        (marker,) = make_pool(course, 1)
        version = current_version(assignment)
        subs = [make_submission(assignment) for _ in range(size)]
        for submission in subs:
            from lms.assessments.marking import save_mark

            save_mark(
                marker,
                submission,
                {"levels": {c.id: c.levels[1].id for c in version.criteria}},
                expected_version=None,
                is_final=True,
                feedback="Fine.",
            )
        client.post("/account/logout")
        login_as(marker)
        counts["queue"].append(_statements(client, count_queries, "/marking"))
        counts["mark"].append(_statements(client, count_queries, f"/marking/submissions/{subs[-1].id}"))
        client.post("/account/logout")
        login_as(assessments_admin)
        counts["admin"].append(
            _statements(client, count_queries, f"/admin/assignments/{assignment.id}/submissions")
        )
    for name, (small, large) in counts.items():
        assert len(small) == len(large), f"{name}: {len(small)} vs {len(large)}:\n" + "\n\n".join(
            s[:150] for s in large
        )
