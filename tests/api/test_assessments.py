"""The assessments API: assignments, schemes, pools, a trainee's work, marking, moderation, extensions.

Each endpoint's happy path, the refusals role by role and object by object, blind marking never
leaking who wrote the work in any answer, and the 409/422 answers with the field they name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import pytest
from sqlalchemy import select

from lms.accounts.models import User
from lms.assessments import marking, moderation
from lms.assessments.assignments import current_version
from lms.assessments.models import (
    GradeChange,
    Mark,
    MarkingState,
    ModerationDecision,
    Submission,
    SubmissionStatus,
)
from lms.database import utcnow
from lms.extensions import db as _db
from lms.permissions import Role
from tests.api.test_base import assert_error
from tests.assessments.factories import EXE_BYTES, PDF_BYTES, levels_for, notices_of

A, T, S, L, M = Role.ADMIN, Role.TRAINEE, Role.ASSESSOR, Role.LIAISON, Role.ORG_MANAGER
POINTS = {"kind": "points", "max_points": 50, "pass_mark": 20}


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_json()


def _keys(node) -> set[str]:
    """Every key anywhere in a JSON answer."""
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in _keys(value)}
    if isinstance(node, list):
        return {k for item in node for k in _keys(item)}
    return set()


def _marker_of(submission: Submission) -> User:
    return _db.session.get(User, submission.marker_id)


@pytest.fixture
def admin(assessments_admin):
    return assessments_admin


@pytest.fixture
def trainee(make_user):
    return make_user(T, name="Alex Quillfeather", email="alex.quillfeather@example.org")


@pytest.fixture
def other_trainee(make_user):
    return make_user(T, name="Bea Other")


@pytest.fixture
def course(make_course):
    return make_course(modules=0, title="Family practice")


@pytest.fixture
def marker(course, make_pool, make_user):
    """The one assessor of the course's pool: every submission is allocated to them."""
    (person,) = make_pool(course, people=[make_user(S, name="Mo Marker")])
    return person


@pytest.fixture
def outsider(make_user):
    """An assessor of no pool."""
    return make_user(S, name="Oz Outsider")


@pytest.fixture
def assignment(course, marker, make_assignment):
    return make_assignment(course, title="Reflective case study")


@pytest.fixture
def enrolled(trainee, course, make_enrolment):
    make_enrolment(trainee, course)
    return trainee


@pytest.fixture
def submitted(assignment, enrolled, make_submission):
    """The trainee's submitted first attempt, with a file."""
    return make_submission(assignment, enrolled, files=[("Alex Quillfeather essay.pdf", PDF_BYTES)])


def _finish(submission, points=(5, 5), **kwargs) -> Mark:
    """Mark a rubric submission as its marker and finish."""
    levels = levels_for(current_version(submission.assignment), list(points))
    return marking.save_mark(
        _marker_of(submission), submission, {"levels": levels}, expected_version=None, is_final=True, **kwargs
    )


# --- assignments ------------------------------------------------------------------------------


class TestAssignments:
    def test_each_audience_lists_its_own(
        self, api, admin, enrolled, marker, outsider, assignment, make_assignment, make_user, make_course
    ):
        elsewhere = make_assignment(make_course(modules=0))
        everything = _ok(api(admin).get("/api/v1/assignments?per_page=100"))
        assert {assignment.id, elsewhere.id} <= {a["id"] for a in everything["items"]}
        narrowed = _ok(api(admin).get(f"/api/v1/assignments?course_id={assignment.course_id}"))
        assert [a["id"] for a in narrowed["items"]] == [assignment.id]
        assert narrowed["items"][0]["moderation_share"] == 20

        mine = _ok(api(enrolled).get("/api/v1/assignments"))
        assert [a["id"] for a in mine["items"]] == [assignment.id]
        # Trainees get the assignment without how marking is run.
        assert not {"is_moderated", "moderation_share", "marking_days"} & set(mine["items"][0])
        assert mine["items"][0]["brief_html"].startswith("<p>Write a <strong>reflective</strong>")

        assert [a["id"] for a in _ok(api(marker).get("/api/v1/assignments"))["items"]] == [assignment.id]
        assert _ok(api(outsider).get("/api/v1/assignments"))["items"] == []
        assert _ok(api(make_user(T)).get("/api/v1/assignments"))["total"] == 0
        assert_error(api(make_user(L)).get("/api/v1/assignments"), 403, "forbidden")

    def test_one_assignment_is_404_to_whoever_may_not_see_it(
        self, api, admin, enrolled, marker, outsider, assignment, make_user
    ):
        url = f"/api/v1/assignments/{assignment.id}"
        assert _ok(api(admin).get(url))["title"] == "Reflective case study"
        assert "marking_days" in _ok(api(marker).get(url))
        assert "marking_days" not in _ok(api(enrolled).get(url))
        assert_error(api(make_user(T)).get(url), 404, "not_found")
        assert_error(api(outsider).get(url), 404, "not_found")
        assert_error(api(admin).get("/api/v1/assignments/999999"), 404, "not_found")

    def test_admins_create_and_change_assignments(self, api, admin, course, enrolled):
        due = (utcnow() + dt.timedelta(days=10)).replace(microsecond=0)
        body = {
            "course_id": course.id,
            "title": "Portfolio",
            "due_at": due.isoformat(),
            "accepts_files": True,
            "file_types": ["pdf"],
            "is_blind": True,
        }
        created = _ok(api(admin).post("/api/v1/assignments", json=body), 201)
        assert created["course"]["id"] == course.id and created["file_types"] == ["pdf"]
        assert dt.datetime.fromisoformat(created["due_at"]) == due
        scheme = _ok(api(admin).get(f"/api/v1/assignments/{created['id']}/scheme"))
        assert (scheme["kind"], scheme["max_points"], scheme["pass_mark"], scheme["version"]) == (
            "points",
            100,
            40,
            1,
        )

        url = f"/api/v1/assignments/{created['id']}"
        assert (
            _ok(api(admin).patch(url, json={"title": "Portfolio 2", "max_attempts": 3}))["max_attempts"] == 3
        )
        before = (due - dt.timedelta(days=1)).isoformat()
        assert_error(
            api(admin).patch(url, json={"cutoff_at": before}), 422, "invalid_input", field="cutoff_at"
        )
        assert_error(
            api(admin).patch(url, json={"accepts_text": False, "accepts_files": False}),
            422,
            "invalid_input",
            field="accepts_text",
        )
        assert_error(api(admin).patch(url, json={"due_at": "0001-01-01T05:00:00+06:00"}), 422, field="due_at")
        assert_error(api(admin).patch(url, json={}), 422, "invalid_input")
        assert_error(
            api(admin).post("/api/v1/assignments", json={**body, "course_id": 999999}), 422, field="course_id"
        )
        assert_error(api(enrolled).post("/api/v1/assignments", json=body), 403, "forbidden")
        assert_error(api(enrolled).patch(url, json={"title": "Mine now"}), 403, "forbidden")

    def test_a_scheme_with_marks_gets_a_new_version(self, api, admin, submitted, enrolled):
        url = f"/api/v1/assignments/{submitted.assignment_id}/scheme"
        first = _ok(api(admin).get(url))
        assert first["kind"] == "rubric" and len(first["criteria"]) == 2
        mark = _finish(submitted)
        changed = {
            "kind": "rubric",
            "pass_mark": 3,
            "criteria": [
                {
                    "title": "Reflection",
                    "levels": [{"points": 0, "descriptor": "No"}, {"points": 5, "descriptor": "Yes"}],
                }
            ],
        }
        saved = _ok(api(admin).put(url, json=changed))
        assert saved["version"] == first["version"] + 1 and saved["max_points"] == 5
        assert _db.session.get(Mark, mark.id).scheme_version.number == first["version"]
        # No mark uses the new version yet, so it is changed in place.
        assert _ok(api(admin).put(url, json=POINTS))["version"] == first["version"] + 1

        assert_error(api(admin).put(url, json={**POINTS, "pass_mark": 90}), 422, field="pass_mark")
        assert_error(api(admin).put(url, json={"kind": "rubric", "pass_mark": 1}), 422, field="criteria")
        assert_error(api(admin).put(url, json={"kind": "points", "pass_mark": 1}), 422, field="max_points")
        assert _ok(api(enrolled).get(url))["kind"] == "points"
        assert_error(api(enrolled).put(url, json=POINTS), 403, "forbidden")

    def test_assessor_pools(self, api, admin, course, marker, make_user, enrolled):
        url = f"/api/v1/courses/{course.id}/assessors"
        assert [p["id"] for p in _ok(api(admin).get(url))["assessors"]] == [marker.id]
        other = make_user(S, name="Aa Second")
        pool = _ok(api(admin).put(url, json={"assessor_ids": [marker.id, other.id]}))
        assert [p["name"] for p in pool["assessors"]] == ["Aa Second", "Mo Marker"]
        assert_error(api(admin).put(url, json={"assessor_ids": [enrolled.id]}), 422, field="assessor_ids")
        assert_error(api(admin).get("/api/v1/courses/999999/assessors"), 404, "not_found")
        assert_error(api(marker).get(url), 403, "forbidden")
        assert_error(api(enrolled).put(url, json={"assessor_ids": []}), 403, "forbidden")


# --- a trainee's work -------------------------------------------------------------------------


class TestTraineeWork:
    def test_draft_file_submit_and_receipt(self, api, assignment, enrolled, marker):
        caller = api(enrolled)
        base = f"/api/v1/assignments/{assignment.id}"
        draft = _ok(caller.put(f"{base}/draft", json={"text": "Three words here", "revision": 0}))
        assert "state" not in draft
        assert (draft["status"], draft["word_count"], draft["draft_revision"]) == (
            "draft",
            3,
            1,
        )
        error = assert_error(
            caller.put(f"{base}/draft", json={"text": "Lost?", "revision": 0}), 409, "conflict"
        )
        assert "newer version" in error["message"]
        assert_error(caller.put(f"{base}/draft", json={"revision": 1}), 422, field="text")
        _ok(caller.put(f"{base}/draft", json={"text": "Four words are here", "revision": 1}))

        upload = caller.post(
            f"{base}/files",
            data={"file": (io.BytesIO(PDF_BYTES), "My essay.pdf")},
            content_type="multipart/form-data",
        )
        added = _ok(upload, 201)
        assert added["filename"] == "My essay.pdf" and added["size"] == len(PDF_BYTES)
        assert added["sha256"] == hashlib.sha256(PDF_BYTES).hexdigest()

        assert_error(caller.post(f"{base}/submit", json={"declaration": False}), 422, field="declaration")
        receipt = _ok(caller.post(f"{base}/submit", json={"declaration": True}))
        assert (receipt["attempt"], receipt["word_count"], receipt["is_late"]) == (1, 4, False)
        assert receipt["files"] == [
            {
                "filename": "My essay.pdf",
                "size": len(PDF_BYTES),
                "sha256": hashlib.sha256(PDF_BYTES).hexdigest(),
            }
        ]
        (notice,) = notices_of(enrolled, "submission_receipt")
        assert hashlib.sha256(PDF_BYTES).hexdigest() in notice.text

        attempts = _ok(caller.get(f"{base}/attempts"))
        (attempt,) = attempts["items"]
        assert (attempt["status"], attempt["mark"]) == ("submitted", None) and "state" not in attempt
        # A trainee sees nothing of how marking runs.
        assert not {"participant", "marker", "moderator", "is_sampled", "moderation", "user"} & set(attempt)
        assert_error(caller.post(f"{base}/submit", json={"declaration": True}), 409, "conflict")
        assert_error(caller.put(f"{base}/draft", json={"text": "Again", "revision": 2}), 409, "conflict")

    def test_uploads_are_checked(self, api, assignment, enrolled):
        url = f"/api/v1/assignments/{assignment.id}/files"
        caller = api(enrolled)
        renamed = caller.post(
            url, data={"file": (io.BytesIO(EXE_BYTES), "essay.pdf")}, content_type="multipart/form-data"
        )
        assert "renamed" in assert_error(renamed, 422, "invalid_input", field="file")["message"]
        assert_error(
            caller.post(
                url, data={"file": (io.BytesIO(b""), "empty.txt")}, content_type="multipart/form-data"
            ),
            422,
            field="file",
        )
        assert_error(caller.post(url, data={}, content_type="multipart/form-data"), 422, field="file")
        assert_error(caller.post(url, json={"file": "text"}), 415, "unsupported_media_type")
        assert_error(caller.post(url), 422, field="file")
        assert _db.session.scalar(select(Submission.id).where(Submission.user_id == enrolled.id)) is None

    def test_removing_files(self, api, assignment, enrolled):
        caller = api(enrolled)
        base = f"/api/v1/assignments/{assignment.id}"
        added = _ok(
            caller.post(
                f"{base}/files",
                data={"file": (io.BytesIO(b"notes"), "n.txt")},
                content_type="multipart/form-data",
            ),
            201,
        )
        assert caller.delete(f"{base}/files/{added['id']}").status_code == 204
        assert_error(caller.delete(f"{base}/files/{added['id']}"), 404, "not_found")
        _ok(caller.put(f"{base}/draft", json={"text": "Done", "revision": 0}))
        _ok(caller.post(f"{base}/submit", json={"declaration": True}))
        assert_error(caller.delete(f"{base}/files/{added['id']}"), 409, "conflict")

    def test_refusals(self, api, assignment, enrolled, other_trainee, submitted, marker):
        base = f"/api/v1/assignments/{assignment.id}"
        # No draft left: the first attempt is being marked.
        assert_error(api(enrolled).post(f"{base}/submit", json={"declaration": True}), 409, "conflict")
        # Not on the course: the assignment does not exist for them.
        for response in (
            api(other_trainee).get(base),
            api(other_trainee).put(f"{base}/draft", json={"text": "x", "revision": 0}),
            api(other_trainee).get(f"{base}/attempts"),
        ):
            assert_error(response, 404, "not_found")
        assert_error(api(other_trainee).get(f"/api/v1/submissions/{submitted.id}"), 404, "not_found")
        assert_error(api(marker).put(f"{base}/draft", json={"text": "x", "revision": 0}), 403, "forbidden")

    def test_the_mark_shows_only_once_released(self, api, admin, submitted, enrolled):
        url = f"/api/v1/submissions/{submitted.id}"
        _finish(submitted, (10, 5), feedback="Well argued.")
        seen = _ok(api(enrolled).get(url))
        # Not even the workflow state: "in moderation" would hint at a referral.
        assert "state" not in seen and seen["mark"] is None and seen["released_at"] is None
        marking.release(admin, [submitted])
        seen = _ok(api(enrolled).get(url))
        mark = seen["mark"]
        assert (mark["total"], mark["outcome"], mark["feedback"]) == (15, "pass", "Well argued.")
        assert not {"version", "marker_id", "completed_at"} & set(mark)
        assert seen["files"][0]["filename"] == "Alex Quillfeather essay.pdf"
        assert not {"moderation", "is_sampled", "participant"} & _keys(seen)
        assert seen["scheme"]["version"] == 1


# --- marking ----------------------------------------------------------------------------------


class TestMarking:
    def test_queue_filters_and_pages(
        self, api, assignment, marker, make_assignment, make_submission, course, outsider
    ):
        second = make_assignment(course, title="Second")
        subs = [make_submission(assignment) for _ in range(3)] + [make_submission(second)]
        subs[0].is_late = True
        _finish(subs[1])
        caller = api(marker)
        everything = _ok(caller.get("/api/v1/submissions"))
        assert everything["total"] == 4
        assert {s["id"] for s in everything["items"]} == {s.id for s in subs}
        assert _ok(caller.get(f"/api/v1/submissions?assignment_id={second.id}"))["total"] == 1
        assert _ok(caller.get(f"/api/v1/submissions?course_id={course.id}"))["total"] == 4
        assert _ok(caller.get("/api/v1/submissions?course_id=999999"))["total"] == 0
        assert [s["id"] for s in _ok(caller.get("/api/v1/submissions?state=marked"))["items"]] == [subs[1].id]
        assert [s["id"] for s in _ok(caller.get("/api/v1/submissions?late=true"))["items"]] == [subs[0].id]
        page = _ok(caller.get("/api/v1/submissions?per_page=3&page=2"))
        assert (page["total"], page["pages"], len(page["items"])) == (4, 2, 1)
        assert_error(caller.get("/api/v1/submissions?state=lost"), 422, field="state")
        assert_error(caller.get("/api/v1/submissions?late=yes"), 422, field="late")
        assert _ok(api(outsider).get("/api/v1/submissions"))["total"] == 0

    def test_the_queue_runs_a_fixed_number_of_queries(
        self, api, assignment, marker, make_submission, count_queries
    ):
        caller = api(marker)
        caller.get("/api/v1/me")  # the token's first use is recorded: not a query of the queue

        def count() -> int:
            with count_queries() as counter:
                _ok(caller.get("/api/v1/submissions?per_page=100"))
            return counter.count

        for _ in range(2):
            _finish(make_submission(assignment, files=[("a.pdf", PDF_BYTES)]))
        few = count()
        for _ in range(5):
            _finish(make_submission(assignment, files=[("a.pdf", PDF_BYTES)]))
        assert count() == few

    @pytest.mark.parametrize(
        "who, status",
        [
            ("admin", 200),
            ("marker", 200),
            ("trainee", 200),
            ("other_trainee", 404),
            ("outsider", 404),
            ("pool", 404),
        ],
    )
    def test_who_reads_a_submission(
        self, api, request, submitted, course, make_pool, marker, make_user, who, status
    ):
        people = {"trainee": submitted.user_id}
        if who == "pool":  # an assessor of the course, but this is not allocated to them
            user = make_user(S)
            make_pool(course, people=[marker, user])
        elif who in people:
            user = _db.session.get(User, people[who])
        else:
            user = request.getfixturevalue(who)
        response = api(user).get(f"/api/v1/submissions/{submitted.id}")
        if status == 200:
            assert _ok(response)["id"] == submitted.id
        else:
            assert_error(response, 404, "not_found")

    def test_drafts_are_404_to_staff(self, api, admin, assignment, enrolled):
        _ok(
            api(enrolled).put(f"/api/v1/assignments/{assignment.id}/draft", json={"text": "x", "revision": 0})
        )
        draft = _db.session.scalar(select(Submission).where(Submission.user_id == enrolled.id))
        assert draft.status == SubmissionStatus.DRAFT
        assert_error(api(admin).get(f"/api/v1/submissions/{draft.id}"), 404, "not_found")
        assert _ok(api(enrolled).get(f"/api/v1/submissions/{draft.id}"))["status"] == "draft"

    def test_saving_marks(self, api, submitted, marker, enrolled, course, make_pool, make_user):
        url = f"/api/v1/submissions/{submitted.id}/mark"
        version = current_version(submitted.assignment)
        half = {str(k): v for k, v in levels_for(version, [5, 0]).items()}
        first_criterion = str(version.criteria[0].id)
        caller = api(marker)

        draft = _ok(caller.put(url, json={"levels": {first_criterion: half[first_criterion]}}))
        assert (
            draft["state"] == "in_marking"
            and draft["mark"]["total"] is None
            and draft["mark"]["version"] == 1
        )
        error = assert_error(caller.put(url, json={"levels": half}), 409, "conflict")
        assert "reload" in error["message"]
        assert_error(caller.put(url, json={"levels": half, "version": 7}), 409, "conflict")
        wrong = {first_criterion: version.criteria[1].levels[0].id}
        assert_error(caller.put(url, json={"levels": wrong, "version": 1}), 422, field="levels")
        assert_error(
            caller.put(
                url, json={"levels": {first_criterion: half[first_criterion]}, "version": 1, "finish": True}
            ),
            422,
            field="levels",
        )
        assert_error(caller.put(url, json={"levels": {"1": 2}, "version": "1"}), 422, field="version")
        done = _ok(caller.put(url, json={"levels": half, "version": 1, "finish": True, "feedback": "Refer."}))
        assert (done["state"], done["mark"]["total"], done["mark"]["outcome"]) == ("marked", 5, "refer")
        assert done["mark"]["levels"] == half

        assert_error(api(enrolled).put(url, json={"levels": half}), 403, "forbidden")
        stranger = make_user(S)
        make_pool(course, people=[marker, stranger])
        assert_error(api(stranger).put(url, json={"levels": half}), 404, "not_found")

    def test_points_above_the_maximum(self, api, marker, course, make_assignment, make_submission):
        submission = make_submission(make_assignment(course, scheme=POINTS))
        url = f"/api/v1/submissions/{submission.id}/mark"
        assert_error(api(marker).put(url, json={"points": 51}), 422, "invalid_input", field="points")
        assert _ok(api(marker).put(url, json={"points": 50, "finish": True}))["mark"]["outcome"] == "pass"

    def test_moderation(self, api, admin, course, make_pool, make_assignment, make_submission, make_user):
        make_pool(course, 2)
        assignment = make_assignment(course, is_moderated=True, moderation_share=0)
        submission = make_submission(assignment)
        mark = _finish(submission, (5, 0))
        assert submission.state == MarkingState.IN_MODERATION
        moderator = _db.session.get(User, submission.moderator_id)
        url = f"/api/v1/submissions/{submission.id}/moderation"
        release = {"submission_ids": [submission.id]}
        assert_error(api(admin).post("/api/v1/submissions/release", json=release), 409, "conflict")
        assert_error(api(moderator).post(url, json={"decision": "agreed", "version": 99}), 409, "conflict")
        assert_error(
            api(moderator).post(url, json={"decision": "changed", "version": mark.version}),
            422,
            field="notes",
        )
        assert_error(
            api(moderator).post(url, json={"decision": "maybe", "version": 1}), 422, field="decision"
        )
        assert_error(api(make_user(S)).post(url, json={"decision": "agreed", "version": 1}), 404, "not_found")
        marker = _marker_of(submission)
        assert_error(
            api(marker).post(url, json={"decision": "agreed", "version": mark.version}), 403, "forbidden"
        )

        moderated = _ok(
            api(moderator).post(url, json={"decision": "agreed", "version": mark.version, "notes": "Fair"})
        )
        assert moderated["state"] == "ready_for_release"
        assert (
            moderated["moderation"]["decision"] == "agreed"
            and moderated["moderation"]["agreed_outcome"] == "refer"
        )
        assert _ok(api(admin).post("/api/v1/submissions/release", json=release)) == {"released": 1}
        assert _ok(api(admin).get(f"/api/v1/submissions/{submission.id}"))["moderation"]["notes"] == "Fair"

    def test_release_and_allocate(
        self, api, admin, submitted, marker, course, make_pool, make_user, enrolled
    ):
        other = make_user(S, name="Second Marker")
        make_pool(course, people=[marker, other])
        allocate = "/api/v1/submissions/allocate"
        assert _ok(
            api(admin).post(allocate, json={"submission_ids": [submitted.id], "marker_id": other.id})
        ) == {"allocated": 1}
        assert submitted.marker_id == other.id
        # Balancing gives it back to the less loaded assessor.
        assert _ok(api(admin).post(allocate, json={"submission_ids": [submitted.id], "marker_id": None}))
        assert_error(
            api(admin).post(allocate, json={"submission_ids": [submitted.id], "marker_id": make_user(S).id}),
            422,
            field="marker_id",
        )
        assert_error(
            api(admin).post(allocate, json={"submission_ids": [submitted.id], "marker_id": 999999}),
            422,
            field="marker_id",
        )
        assert_error(
            api(admin).post(allocate, json={"submission_ids": [999999]}), 422, field="submission_ids"
        )
        assert_error(api(admin).post(allocate, json={"submission_ids": []}), 422, field="submission_ids")
        assert_error(api(marker).post(allocate, json={"submission_ids": [submitted.id]}), 403, "forbidden")

        release = "/api/v1/submissions/release"
        assert_error(api(admin).post(release, json={"submission_ids": [submitted.id]}), 409, "conflict")
        _finish(submitted)
        assert_error(api(enrolled).post(release, json={"submission_ids": [submitted.id]}), 403, "forbidden")
        assert _ok(api(admin).post(release, json={"submission_ids": [submitted.id]})) == {"released": 1}
        assert _ok(api(admin).post(release, json={"submission_ids": [submitted.id]})) == {"released": 0}

    def test_assignment_submissions_for_admins(self, api, admin, submitted, marker, make_submission):
        other = make_submission(submitted.assignment)
        _finish(other)
        url = f"/api/v1/assignments/{submitted.assignment_id}/submissions"
        assert {s["id"] for s in _ok(api(admin).get(url))["items"]} == {submitted.id, other.id}
        assert [s["id"] for s in _ok(api(admin).get(f"{url}?state=marked"))["items"]] == [other.id]
        assert _ok(api(admin).get(f"{url}?state=unallocated"))["total"] == 0
        assert_error(api(admin).get(f"{url}?state=lost"), 422, field="state")
        assert_error(api(marker).get(url), 403, "forbidden")

    def test_extensions(
        self, api, admin, submitted, marker, enrolled, other_trainee, course, make_pool, make_user
    ):
        assignment = submitted.assignment
        later = (assignment.due_at + dt.timedelta(days=5)).isoformat()
        url = f"/api/v1/assignments/{assignment.id}/extensions"
        granted = _ok(
            api(admin).post(url, json={"user_id": enrolled.id, "due_at": later, "reason": "Illness"}), 201
        )
        assert (granted["user_id"], granted["reason"], granted["granted_by"]["id"]) == (
            enrolled.id,
            "Illness",
            admin.id,
        )
        assert granted["participant"] == submitted.participant.number
        assert_error(
            api(admin).post(url, json={"user_id": other_trainee.id, "due_at": later, "reason": "x"}),
            422,
            field="user_id",
        )
        early = (assignment.due_at - dt.timedelta(days=1)).isoformat()
        assert_error(
            api(admin).post(url, json={"user_id": enrolled.id, "due_at": early, "reason": "x"}),
            422,
            field="due_at",
        )
        assert_error(
            api(admin).post(url, json={"user_id": enrolled.id, "due_at": later, "reason": " "}),
            422,
            field="reason",
        )
        listed = _ok(api(admin).get(url))
        assert [e["id"] for e in listed["items"]] == [granted["id"]]
        assert_error(api(marker).get(url), 403, "forbidden")

        own = f"/api/v1/submissions/{submitted.id}/extension"
        even_later = (assignment.due_at + dt.timedelta(days=9)).isoformat()
        by_marker = _ok(api(marker).post(own, json={"due_at": even_later, "reason": "Bereavement"}), 201)
        assert by_marker["id"] == granted["id"] and by_marker["granted_by"]["id"] == marker.id
        stranger = make_user(S)
        make_pool(course, people=[marker, stranger])
        assert_error(api(stranger).post(own, json={"due_at": even_later, "reason": "x"}), 404, "not_found")
        assert_error(api(enrolled).post(own, json={"due_at": even_later, "reason": "x"}), 403, "forbidden")

    def test_grade_history(self, api, admin, submitted, marker):
        mark = _finish(submitted, (5, 5))
        marking.release(admin, [submitted])
        url = f"/api/v1/submissions/{submitted.id}/mark"
        levels = {str(k): v for k, v in levels_for(current_version(submitted.assignment), [10, 10]).items()}
        assert_error(
            api(admin).put(url, json={"levels": levels, "version": mark.version}), 422, field="reason"
        )
        assert_error(api(marker).put(url, json={"levels": levels, "version": mark.version}), 409, "conflict")
        changed = _ok(
            api(admin).put(url, json={"levels": levels, "version": mark.version, "reason": "Re-marked"})
        )
        assert changed["mark"]["total"] == 20 and changed["state"] == "released"

        history = _ok(api(admin).get(f"/api/v1/assignments/{submitted.assignment_id}/grade-history"))
        (change,) = history["items"]
        assert (change["from_total"], change["to_total"], change["reason"], change["is_after_release"]) == (
            10,
            20,
            "Re-marked",
            True,
        )
        assert (
            change["changed_by"]["id"] == admin.id and change["participant"] == submitted.participant.number
        )
        assert _db.session.scalar(select(GradeChange.id)) == change["id"]
        assert_error(api(marker).get(f"/api/v1/assignments/{submitted.assignment_id}/grade-history"), 403)


# --- blind marking ----------------------------------------------------------------------------


class TestBlindMarking:
    @pytest.fixture
    def blind_work(self, course, marker, make_assignment, make_submission, enrolled):
        assignment = make_assignment(course, is_blind=True)
        return make_submission(assignment, enrolled, files=[("Alex Quillfeather essay.pdf", PDF_BYTES)])

    @staticmethod
    def _assert_anonymous(body, trainee):
        text = json.dumps(body)
        for secret in (trainee.name, trainee.email, "Quillfeather"):
            assert secret not in text, f"{secret!r} leaked: {text[:500]}"
        assert not {"user_id", "user"} & _keys(body), text[:500]

    def test_a_blind_marker_never_learns_who_wrote_it(self, api, blind_work, marker, enrolled):
        caller = api(marker)
        url = f"/api/v1/submissions/{blind_work.id}"
        number = blind_work.participant.number
        version = current_version(blind_work.assignment)
        levels = {str(k): v for k, v in levels_for(version, [5, 5]).items()}
        later = (blind_work.assignment.due_at + dt.timedelta(days=3)).isoformat()
        answers = [
            _ok(caller.get("/api/v1/submissions")),
            _ok(caller.get(f"/api/v1/submissions?assignment_id={blind_work.assignment_id}")),
            _ok(caller.get(url)),
            _ok(caller.put(f"{url}/mark", json={"levels": levels})),
            _ok(caller.post(f"{url}/extension", json={"due_at": later, "reason": "Asked"}), 201),
            _ok(caller.get(f"/api/v1/assignments/{blind_work.assignment_id}")),
        ]
        for body in answers:
            self._assert_anonymous(body, enrolled)
        single = answers[2]
        assert single["participant"] == number
        assert single["files"][0]["filename"] == f"participant-{number}-attempt-1-file-1.pdf"
        assert answers[4]["participant"] == number

    def test_a_blind_moderator_too(self, api, course, make_pool, make_assignment, make_submission, enrolled):
        make_pool(course, 2)
        assignment = make_assignment(course, is_blind=True, is_moderated=True, moderation_share=0)
        submission = make_submission(assignment, enrolled)
        mark = _finish(submission, (0, 0))
        moderator = _db.session.get(User, submission.moderator_id)
        url = f"/api/v1/submissions/{submission.id}"
        self._assert_anonymous(_ok(api(moderator).get(url)), enrolled)
        self._assert_anonymous(_ok(api(moderator).get("/api/v1/submissions?queue=moderation")), enrolled)
        body = _ok(
            api(moderator).post(f"{url}/moderation", json={"decision": "agreed", "version": mark.version})
        )
        self._assert_anonymous(body, enrolled)
        moderation_done = _db.session.get(Submission, submission.id)
        assert moderation_done.state == MarkingState.READY_FOR_RELEASE

    def test_admins_and_revealed_assignments_show_names(self, api, admin, blind_work, marker, enrolled):
        url = f"/api/v1/submissions/{blind_work.id}"
        seen = _ok(api(admin).get(url))
        assert (
            seen["user"]["name"] == enrolled.name
            and seen["files"][0]["filename"] == "Alex Quillfeather essay.pdf"
        )
        blind_work.assignment.identities_revealed_at = utcnow()
        _db.session.flush()
        seen = _ok(api(marker).get(url))
        assert seen["user_id"] == enrolled.id and seen["user"]["email"] == enrolled.email
        assert seen["files"][0]["filename"] == "Alex Quillfeather essay.pdf"

    def test_the_trainee_sees_their_own_work_by_its_name(self, api, blind_work, enrolled):
        seen = _ok(api(enrolled).get(f"/api/v1/submissions/{blind_work.id}"))
        assert seen["files"][0]["filename"] == "Alex Quillfeather essay.pdf"


def test_moderation_queue_lists_what_to_moderate(api, course, make_pool, make_assignment, make_submission):
    make_pool(course, 2)
    assignment = make_assignment(course, is_moderated=True, moderation_share=0)
    submission = make_submission(assignment)
    _finish(submission, (0, 0))
    moderator = _db.session.get(User, submission.moderator_id)
    queue = _ok(api(moderator).get("/api/v1/submissions?queue=moderation"))
    assert [s["id"] for s in queue["items"]] == [submission.id]
    assert _ok(api(moderator).get("/api/v1/submissions?queue=moderation&late=true"))["total"] == 0
    assert (
        _ok(api(moderator).get(f"/api/v1/submissions?queue=moderation&course_id={course.id}"))["total"] == 1
    )
    moderation.moderate(
        moderator, submission, ModerationDecision.AGREED, expected_version=marking.mark_of(submission).version
    )
    assert _ok(api(moderator).get("/api/v1/submissions?queue=moderation"))["total"] == 0
