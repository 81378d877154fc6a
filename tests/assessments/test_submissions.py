"""A trainee's attempts: drafts, files, submitting, deadlines, extensions, attempt limits, receipts."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest

from lms import mail
from lms.assessments import marking, submissions
from lms.assessments.models import Extension, MarkingState, Outcome, SubmissionStatus
from lms.courses import enrolment as enrolling
from lms.database import utcnow
from lms.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.notifications.services import set_email_choices
from lms.permissions import Role
from tests.assessments.factories import (
    PDF_BYTES,
    audits,
    docx_bytes,
    finish_mark,
    notices_of,
)


@pytest.fixture
def course(make_course):
    return make_course(modules=0)


@pytest.fixture
def markers(course, make_pool):
    return make_pool(course, 2)


@pytest.fixture
def trainee(make_user):
    return make_user(Role.TRAINEE, name="Tara Trainee")


@pytest.fixture
def enrol(make_enrolment):
    def enrol(user, assignment):
        return make_enrolment(user, assignment.course)

    return enrol


@pytest.fixture
def draft_of(enrol):
    """The trainee's open draft of ``assignment`` (enrolling them first)."""

    def make(trainee, assignment, now=None):
        if submissions.current_enrolment(trainee, assignment) is None:
            enrol(trainee, assignment)
        return submissions.open_draft(trainee, assignment, now=now)

    return make


def _release(admin, marker, submission, points):
    mark = finish_mark(marker, submission, points)
    marking.release(admin, [submission])
    return mark


def _marker_of(submission, markers):
    return next(m for m in markers if m.id == submission.marker_id)


class TestDrafts:
    def test_saving_bumps_the_revision_and_counts_words(self, make_assignment, course, trainee, draft_of):
        draft = draft_of(trainee, make_assignment(course))
        assert (draft.attempt, draft.status, draft.state, draft.draft_revision) == (
            1,
            SubmissionStatus.DRAFT,
            None,
            0,
        )
        submissions.save_draft(trainee, draft, "One two  three\nfour", 0)
        assert (draft.draft_revision, draft.word_count, draft.draft_saved_at is not None) == (1, 4, True)
        submissions.save_draft(trainee, draft, "One two three four five", 1)
        assert (draft.draft_revision, draft.word_count) == (2, 5)

    def test_a_stale_revision_is_refused_and_nothing_changes(
        self, make_assignment, course, trainee, draft_of
    ):
        draft = draft_of(trainee, make_assignment(course))
        submissions.save_draft(trainee, draft, "The newer text, from the second tab.", 0)
        with pytest.raises(Conflict, match="newer version of this draft"):
            submissions.save_draft(trainee, draft, "The older tab's text.", 0)
        assert draft.text == "The newer text, from the second tab."
        assert draft.draft_revision == 1
        assert draft.word_count == 7

    def test_opening_again_gives_the_same_draft(self, make_assignment, course, trainee, draft_of):
        assignment = make_assignment(course)
        first = draft_of(trainee, assignment)
        assert submissions.open_draft(trainee, assignment).id == first.id

    def test_only_enrolled_trainees_start_one(self, make_assignment, course, trainee):
        with pytest.raises(NotAllowed):
            submissions.open_draft(trainee, make_assignment(course))

    def test_another_trainees_draft_is_not_found(self, make_assignment, course, trainee, make_user, draft_of):
        draft = draft_of(trainee, make_assignment(course))
        other = make_user(Role.TRAINEE)
        with pytest.raises(NotFound):
            submissions.save_draft(other, draft, "Mine now", None)
        with pytest.raises(NotFound):
            submissions.add_file(other, draft, io.BytesIO(PDF_BYTES), "x.pdf")
        with pytest.raises(NotFound):
            submissions.submit(other, draft, True)
        assert draft.text == "" and not draft.is_submitted

    def test_a_files_only_assignment_takes_no_text(self, make_assignment, course, trainee, draft_of):
        draft = draft_of(trainee, make_assignment(course, accepts_text=False))
        with pytest.raises(InvalidInput) as caught:
            submissions.save_draft(trainee, draft, "text", 0)
        assert "text" in caught.value.fields

    def test_a_submitted_attempt_cannot_be_edited(self, make_assignment, course, trainee, make_submission):
        submission = make_submission(make_assignment(course), trainee)
        with pytest.raises(Conflict, match="submitted"):
            submissions.save_draft(trainee, submission, "Changed afterwards", submission.draft_revision)
        with pytest.raises(Conflict):
            submissions.add_file(trainee, submission, io.BytesIO(PDF_BYTES), "late.pdf")


class TestFiles:
    def test_add_and_remove(self, db, make_assignment, course, trainee, draft_of):
        draft = draft_of(trainee, make_assignment(course))
        item = submissions.add_file(trainee, draft, io.BytesIO(PDF_BYTES), "case.pdf")
        assert [f.id for f in submissions.files_of([draft.id])[draft.id]] == [item.id]
        assert item.stored_file.size == len(PDF_BYTES)
        stored_id = item.stored_file_id
        submissions.remove_file(trainee, draft, item.id)
        assert submissions.files_of([draft.id])[draft.id] == []
        from lms.storage.models import StoredFile

        assert db.session.get(StoredFile, stored_id) is None
        assert [e.before["filename"] for e in audits("submission.file_removed", draft)] == ["case.pdf"]

    def test_the_most_files_and_room_again_after_a_removal(self, make_assignment, course, trainee, draft_of):
        draft = draft_of(trainee, make_assignment(course, max_files=2))
        first = submissions.add_file(trainee, draft, io.BytesIO(PDF_BYTES), "one.pdf")
        submissions.add_file(trainee, draft, io.BytesIO(docx_bytes()), "two.docx")
        with pytest.raises(InvalidInput, match="2 files at most") as caught:
            submissions.add_file(trainee, draft, io.BytesIO(PDF_BYTES), "three.pdf")
        assert "file" in caught.value.fields
        assert len(submissions.files_of([draft.id])[draft.id]) == 2
        submissions.remove_file(trainee, draft, first.id)
        submissions.add_file(trainee, draft, io.BytesIO(PDF_BYTES), "three.pdf")
        names = [f.stored_file.filename for f in submissions.files_of([draft.id])[draft.id]]
        assert names == ["two.docx", "three.pdf"]

    def test_a_file_of_another_draft_cannot_be_removed(
        self, make_assignment, course, trainee, make_user, draft_of
    ):
        assignment = make_assignment(course)
        other = make_user(Role.TRAINEE)
        theirs = draft_of(other, assignment)
        their_file = submissions.add_file(other, theirs, io.BytesIO(PDF_BYTES), "theirs.pdf")
        mine = draft_of(trainee, assignment)
        with pytest.raises(NotFound):
            submissions.remove_file(trainee, mine, their_file.id)
        assert len(submissions.files_of([theirs.id])[theirs.id]) == 1

    def test_a_text_only_assignment_takes_no_files(self, make_assignment, course, trainee, draft_of):
        draft = draft_of(trainee, make_assignment(course, accepts_files=False, file_types=[]))
        with pytest.raises(InvalidInput, match="online text only"):
            submissions.add_file(trainee, draft, io.BytesIO(PDF_BYTES), "case.pdf")


class TestSubmitting:
    def test_the_declaration_is_needed(self, make_assignment, course, trainee, draft_of):
        draft = draft_of(trainee, make_assignment(course))
        submissions.save_draft(trainee, draft, "My work", 0)
        with pytest.raises(InvalidInput) as caught:
            submissions.submit(trainee, draft, False)
        assert list(caught.value.fields) == ["declaration"]
        assert draft.status == SubmissionStatus.DRAFT and draft.state is None

    @pytest.mark.parametrize(
        ("fields", "field", "message"),
        [
            ({}, "text", "Write your answer or add a file"),
            ({"accepts_files": False, "file_types": []}, "text", "Write your answer before"),
            ({"accepts_text": False}, "file", "Add your file before"),
        ],
    )
    def test_empty_work_is_refused(self, make_assignment, course, trainee, draft_of, fields, field, message):
        assignment = make_assignment(course, **fields)
        draft = draft_of(trainee, assignment)
        if assignment.accepts_text:
            submissions.save_draft(trainee, draft, "   \n\t  ", 0)
        with pytest.raises(InvalidInput, match=message) as caught:
            submissions.submit(trainee, draft, True)
        assert list(caught.value.fields) == [field]
        assert not draft.is_submitted

    def test_a_file_alone_is_enough_where_files_are_taken(
        self, make_assignment, course, markers, trainee, draft_of
    ):
        draft = draft_of(trainee, make_assignment(course))
        submissions.add_file(trainee, draft, io.BytesIO(PDF_BYTES), "case.pdf")
        assert submissions.submit(trainee, draft, True)["word_count"] == 0
        assert draft.is_submitted

    def test_the_word_limit(self, make_assignment, course, markers, trainee, draft_of):
        draft = draft_of(trainee, make_assignment(course, word_limit=5))
        submissions.save_draft(trainee, draft, "one two three four five six", 0)
        with pytest.raises(InvalidInput, match="has 6 words: the limit is 5") as caught:
            submissions.submit(trainee, draft, True)
        assert list(caught.value.fields) == ["text"]
        submissions.save_draft(trainee, draft, "one two three four five", 1)
        assert submissions.submit(trainee, draft, True)["word_count"] == 5

    def test_submitting_sets_the_state_and_allocates(
        self, make_assignment, course, markers, trainee, draft_of
    ):
        draft = draft_of(trainee, make_assignment(course))
        submissions.save_draft(trainee, draft, "My work", 0)
        submissions.submit(trainee, draft, True)
        assert draft.status == SubmissionStatus.SUBMITTED
        assert draft.state == MarkingState.NOT_MARKED
        assert draft.submitted_at is not None and draft.is_late is False
        assert draft.marker_id in {m.id for m in markers}

    def test_submitting_twice_is_refused(self, make_assignment, course, markers, trainee, make_submission):
        submission = make_submission(make_assignment(course), trainee)
        submitted_at = submission.submitted_at
        with pytest.raises(Conflict):
            submissions.submit(trainee, submission, True)
        assert submission.submitted_at == submitted_at

    def test_a_trainee_who_left_the_course_cannot_submit(
        self, make_assignment, course, trainee, draft_of, assessments_admin
    ):
        assignment = make_assignment(course)
        draft = draft_of(trainee, assignment)
        submissions.save_draft(trainee, draft, "My work", 0)
        enrolling.withdraw(assessments_admin, submissions.current_enrolment(trainee, assignment))
        with pytest.raises(NotAllowed):
            submissions.submit(trainee, draft, True)
        assert not draft.is_submitted


class TestDeadlines:
    @pytest.fixture
    def now(self):
        return utcnow()

    @pytest.fixture
    def assignment(self, make_assignment, course, markers, now):
        return make_assignment(
            course, due_at=now + dt.timedelta(days=1), cutoff_at=now + dt.timedelta(days=3)
        )

    @pytest.fixture
    def draft(self, assignment, trainee, draft_of):
        draft = draft_of(trainee, assignment)
        submissions.save_draft(trainee, draft, "My work", 0)
        return draft

    def test_on_time(self, trainee, draft, now):
        assert submissions.submit(trainee, draft, True, now=now)["is_late"] is False

    def test_after_the_due_date_it_is_flagged_late(self, trainee, draft, now):
        receipt = submissions.submit(trainee, draft, True, now=now + dt.timedelta(days=2))
        assert receipt["is_late"] is True and draft.is_late is True
        (notice,) = notices_of(trainee, "submission_receipt")
        assert "after the due date and is marked as late" in notice.text

    def test_after_the_cut_off_it_is_refused_and_nothing_changes(self, trainee, draft, now):
        with pytest.raises(Conflict, match="cut-off date has passed"):
            submissions.submit(trainee, draft, True, now=now + dt.timedelta(days=4))
        assert draft.status == SubmissionStatus.DRAFT and draft.submitted_at is None
        assert notices_of(trainee, "submission_receipt") == []

    def test_no_attempt_starts_after_the_cut_off(self, assignment, make_user, draft_of, now):
        with pytest.raises(Conflict, match="cut-off date has passed"):
            draft_of(make_user(Role.TRAINEE), assignment, now=now + dt.timedelta(days=4))

    def test_an_extension_lets_it_in_after_the_cut_off(
        self, assessments_admin, assignment, trainee, draft, now
    ):
        submissions.grant_extension(
            assessments_admin, assignment, trainee, now + dt.timedelta(days=5), "Illness"
        )
        receipt = submissions.submit(trainee, draft, True, now=now + dt.timedelta(days=4))
        assert receipt["is_late"] is False  # within the trainee's own deadline
        assert draft.is_submitted

    def test_after_the_extended_date_it_is_refused_again(
        self, assessments_admin, assignment, trainee, draft, now
    ):
        submissions.grant_extension(
            assessments_admin, assignment, trainee, now + dt.timedelta(days=5), "Illness"
        )
        with pytest.raises(Conflict):
            submissions.submit(trainee, draft, True, now=now + dt.timedelta(days=6))

    def test_an_extension_never_shortens_the_time_to_hand_in(
        self, assessments_admin, assignment, trainee, draft, now
    ):
        # An extension to before the cut-off moves the due date; late work is still taken until
        # the cut-off, as it is from everyone else.
        submissions.grant_extension(
            assessments_admin, assignment, trainee, now + dt.timedelta(days=2), "Leave"
        )
        receipt = submissions.submit(trainee, draft, True, now=now + dt.timedelta(hours=60))
        assert receipt["is_late"] is True and draft.is_submitted

    def test_without_a_cut_off_an_extended_trainee_may_still_hand_in_late(
        self, assessments_admin, make_assignment, course, markers, trainee, draft_of, now
    ):
        assignment = make_assignment(course, due_at=now + dt.timedelta(days=1))
        draft = draft_of(trainee, assignment)
        submissions.save_draft(trainee, draft, "My work", 0)
        submissions.grant_extension(
            assessments_admin, assignment, trainee, now + dt.timedelta(days=3), "Leave"
        )
        deadline = submissions.deadline_for(assignment, trainee.id)
        assert deadline.due_at == now + dt.timedelta(days=3) and deadline.cutoff_at is None
        receipt = submissions.submit(trainee, draft, True, now=now + dt.timedelta(days=10))
        assert receipt["is_late"] is True


class TestExtensions:
    @pytest.fixture
    def assignment(self, make_assignment, course, markers):
        return make_assignment(course)

    def test_admins_grant_them_audited_and_notified(self, assessments_admin, assignment, trainee, enrol):
        enrol(trainee, assignment)
        until = assignment.due_at + dt.timedelta(days=3)
        extension = submissions.grant_extension(
            assessments_admin, assignment, trainee, until, "  Bereavement "
        )
        assert (extension.due_at, extension.reason, extension.granted_by_id) == (
            until,
            "Bereavement",
            assessments_admin.id,
        )
        (entry,) = audits("extension.granted", extension)
        assert entry.before is None
        assert entry.after == {
            "assignment_id": assignment.id,
            "user_id": trainee.id,
            "due_at": until.isoformat(),
            "reason": "Bereavement",
        }
        (notice,) = notices_of(trainee, "extension_granted")
        assert notice.link == f"/assignments/{assignment.id}"

    def test_the_allocated_assessor_grants_them_and_no_other(
        self, assignment, trainee, markers, make_submission, make_user
    ):
        submission = make_submission(assignment, trainee)
        allocated = _marker_of(submission, markers)
        other = next(m for m in markers if m is not allocated)
        until = assignment.due_at + dt.timedelta(days=3)
        for refused in (other, trainee, make_user(Role.ORG_MANAGER), make_user(Role.ASSESSOR)):
            with pytest.raises(NotAllowed):
                submissions.grant_extension(refused, assignment, trainee, until, "Because")
        assert submissions.extensions_of(assignment) == []
        assert submissions.grant_extension(
            allocated, assignment, trainee, until, "Because"
        ).granted_by_id == (allocated.id)

    @pytest.mark.parametrize("reason", ["", "   ", None])
    def test_a_reason_is_required(self, assessments_admin, assignment, trainee, reason):
        with pytest.raises(InvalidInput) as caught:
            submissions.grant_extension(
                assessments_admin, assignment, trainee, assignment.due_at + dt.timedelta(days=1), reason
            )
        assert list(caught.value.fields) == ["reason"]
        assert submissions.extensions_of(assignment) == []

    def test_the_date_must_be_after_the_due_date(self, assessments_admin, assignment, trainee):
        for until in (assignment.due_at, assignment.due_at - dt.timedelta(hours=1)):
            with pytest.raises(InvalidInput, match="after the assignment's due date") as caught:
                submissions.grant_extension(assessments_admin, assignment, trainee, until, "Illness")
            assert list(caught.value.fields) == ["due_at"]

    def test_the_date_must_be_in_the_future(self, assessments_admin, make_assignment, course, trainee):
        past = make_assignment(course, due_at=utcnow() - dt.timedelta(days=5))
        with pytest.raises(InvalidInput, match="in the future") as caught:
            submissions.grant_extension(
                assessments_admin, past, trainee, utcnow() - dt.timedelta(days=1), "Illness"
            )
        assert list(caught.value.fields) == ["due_at"]

    def test_granting_again_updates_the_one_extension_and_audits_the_change(
        self, db, assessments_admin, assignment, trainee
    ):
        first = assignment.due_at + dt.timedelta(days=2)
        second = assignment.due_at + dt.timedelta(days=9)
        submissions.grant_extension(assessments_admin, assignment, trainee, first, "Illness")
        extension = submissions.grant_extension(assessments_admin, assignment, trainee, second, "Still ill")
        from sqlalchemy import func, select

        assert db.session.scalar(select(func.count()).select_from(Extension)) == 1
        assert (extension.due_at, extension.reason) == (second, "Still ill")
        assert submissions.deadline_for(assignment, trainee.id).due_at == second
        entries = audits("extension.granted", extension)
        assert [e.before for e in entries] == [None, {"due_at": first.isoformat(), "reason": "Illness"}]
        assert entries[1].after["due_at"] == second.isoformat()
        # Each new date is a new notice.
        assert len(notices_of(trainee, "extension_granted")) == 2


class TestAttempts:
    @pytest.fixture
    def assignment(self, make_assignment, course, markers):
        return make_assignment(course, max_attempts=2)

    def test_no_new_attempt_while_marking_is_under_way(self, assignment, trainee, markers, make_submission):
        submission = make_submission(assignment, trainee)
        with pytest.raises(Conflict, match="being marked"):
            submissions.open_draft(trainee, assignment)
        finish_mark(_marker_of(submission, markers), submission, [5, 0])  # a referral, not released
        with pytest.raises(Conflict, match="being marked"):
            submissions.open_draft(trainee, assignment)
        assert len(submissions.attempts_of(trainee.id, assignment)) == 1

    def test_after_a_released_referral_the_next_attempt_starts_from_the_previous_text(
        self, assignment, trainee, markers, make_submission, assessments_admin
    ):
        first = make_submission(assignment, trainee, text="My first go at the case study.")
        mark = _release(assessments_admin, _marker_of(first, markers), first, [5, 0])
        assert mark.outcome == Outcome.REFER
        second = submissions.open_draft(trainee, assignment)
        assert second.attempt == 2
        assert second.text == "My first go at the case study." and second.word_count == 7
        assert second.participant_id == first.participant_id
        # The first attempt keeps its own work.
        submissions.save_draft(trainee, second, "A better second go.", second.draft_revision)
        assert first.text == "My first go at the case study."

    def test_not_beyond_the_maximum(
        self, make_assignment, course, trainee, markers, make_submission, assessments_admin
    ):
        # Not required for completion, so that the last fail leaves the trainee on the course.
        assignment = make_assignment(course, max_attempts=2, is_required=False)
        first = make_submission(assignment, trainee)
        _release(assessments_admin, _marker_of(first, markers), first, [5, 0])
        second = make_submission(assignment, trainee)
        assert second.attempt == 2
        mark = _release(assessments_admin, _marker_of(second, markers), second, [5, 0])
        assert mark.outcome == Outcome.FAIL  # below the pass mark on the last attempt
        with pytest.raises(Conflict, match="no attempt left"):
            submissions.open_draft(trainee, assignment)
        assert len(submissions.attempts_of(trainee.id, assignment)) == 2

    def test_a_last_fail_on_a_required_assignment_ends_the_place_so_nothing_more_starts(
        self, assignment, trainee, markers, make_submission, assessments_admin
    ):
        first = make_submission(assignment, trainee)
        _release(assessments_admin, _marker_of(first, markers), first, [5, 0])
        second = make_submission(assignment, trainee)
        _release(assessments_admin, _marker_of(second, markers), second, [0, 0])
        with pytest.raises(NotAllowed):
            submissions.open_draft(trainee, assignment)

    def test_not_beyond_a_maximum_lowered_after_a_referral(
        self, assignment, trainee, markers, make_submission, assessments_admin
    ):
        from lms.assessments.assignments import save_assignment

        save_assignment(assessments_admin, assignment.course, assignment, {"max_attempts": 3})
        first = make_submission(assignment, trainee)
        _release(assessments_admin, _marker_of(first, markers), first, [5, 0])
        second = make_submission(assignment, trainee)
        assert (
            _release(assessments_admin, _marker_of(second, markers), second, [5, 0]).outcome == Outcome.REFER
        )
        save_assignment(assessments_admin, assignment.course, assignment, {"max_attempts": 2})
        with pytest.raises(Conflict, match="no attempt left"):
            submissions.open_draft(trainee, assignment)

    def test_not_after_a_pass(self, assignment, trainee, markers, make_submission, assessments_admin):
        first = make_submission(assignment, trainee)
        assert _release(assessments_admin, _marker_of(first, markers), first, [10, 5]).outcome == Outcome.PASS
        with pytest.raises(Conflict, match="no attempt left"):
            submissions.open_draft(trainee, assignment)


class TestReceipt:
    def test_the_receipt_has_time_attempt_words_and_each_files_checksum(
        self, make_assignment, course, markers, trainee, draft_of
    ):
        draft = draft_of(trainee, make_assignment(course, title="Reflective case study"))
        submissions.save_draft(trainee, draft, "Five words in this answer", 0)
        docx = docx_bytes("Whole-family work")
        submissions.add_file(trainee, draft, io.BytesIO(PDF_BYTES), "case.pdf")
        submissions.add_file(trainee, draft, io.BytesIO(docx), "notes.docx")
        at = utcnow()
        receipt = submissions.submit(trainee, draft, True, now=at)
        assert receipt == {
            "submission_id": draft.id,
            "attempt": 1,
            "submitted_at": at,
            "is_late": False,
            "word_count": 5,
            "files": [
                {
                    "filename": "case.pdf",
                    "size": len(PDF_BYTES),
                    "sha256": hashlib.sha256(PDF_BYTES).hexdigest(),
                },
                {"filename": "notes.docx", "size": len(docx), "sha256": hashlib.sha256(docx).hexdigest()},
            ],
        }
        assert submissions.receipt_of(draft) == receipt
        (notice,) = notices_of(trainee, "submission_receipt")
        assert notice.title == "Receipt: Reflective case study, attempt 1"
        assert hashlib.sha256(PDF_BYTES).hexdigest() in notice.text
        assert hashlib.sha256(docx).hexdigest() in notice.text
        assert "Words: 5." in notice.text
        (entry,) = audits("submission.submitted", draft)
        assert entry.after["files"] == receipt["files"]

    def test_the_receipt_is_essential_and_emailed_even_to_someone_who_opted_out(
        self, make_assignment, course, markers, trainee, draft_of, outbox
    ):
        set_email_choices(trainee, trainee, set())
        draft = draft_of(trainee, make_assignment(course, title="Reflective case study"))
        submissions.save_draft(trainee, draft, "My answer", 0)
        submissions.submit(trainee, draft, True)
        mail.deliver_pending()
        mine = [m for m in outbox if m["to"] == trainee.email]
        assert [m["subject"] for m in mine] == ["Receipt: Reflective case study, attempt 1"]
        assert "Words: 2." in mine[0]["body"]
        # Essential: no link to turn it off.
        assert "/notifications/preferences" not in mine[0]["body"]
