"""Marking: who may see and mark what, saving marks (optimistic locking, grade history), release.

The workflow, in the spirit of Moodle's: not marked -> in marking (a draft mark) -> marked
(finished; or in moderation when sampled, then ready for release) -> released. Trainees see
nothing of a mark before release.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import raiseload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from lms import audit
from lms.accounts.models import User
from lms.assessments import notices
from lms.assessments.assignments import current_version
from lms.assessments.models import (
    Assignment,
    GradeChange,
    Mark,
    MarkingState,
    MarkScore,
    Outcome,
    SchemeKind,
    SchemeVersion,
    Submission,
    SubmissionStatus,
)
from lms.assessments.requirements import after_release, outcome_change_problem
from lms.assessments.sampling import finish_marking
from lms.assessments.uploads import check_upload
from lms.database import utcnow
from lms.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.permissions import is_admin
from lms.storage import services as storage

#: What an assessor may attach as written feedback.
FEEDBACK_FILE_TYPES = ["pdf", "docx", "odt", "txt"]
FEEDBACK_MAX_SIZE = 10 * 1024 * 1024

STALE_MESSAGE = (
    "Someone else saved this mark since you opened it. Nothing was saved: reload the page to see "
    "their changes, then make yours again."
)


# --- who may see what ---------------------------------------------------------------------


def is_marker(actor, submission: Submission) -> bool:
    """The assessor the submission is allocated to."""
    return actor is not None and submission.marker_id == actor.id


def is_moderator(actor, submission: Submission) -> bool:
    """The assessor who moderates the submission (once it is in the sample)."""
    return actor is not None and submission.is_sampled and submission.moderator_id == actor.id


def get_for_staff(actor, submission_id: int) -> Submission:
    """A submitted attempt the actor may see as staff: admins, its marker, its moderator.

    :raises NotFound: no such submission, a draft, or one the actor may not see (ids reveal nothing).
    """
    submission = db.session.get(Submission, submission_id)
    if submission is None or not submission.is_submitted:
        raise NotFound("No such submission.")
    if is_admin(actor) or is_marker(actor, submission) or is_moderator(actor, submission):
        return submission
    raise NotFound("No such submission.")


def get_for_viewer(actor, submission_id: int) -> Submission:
    """A submission the actor may see: their own (drafts too), or as staff.

    :raises NotFound: otherwise.
    """
    submission = db.session.get(Submission, submission_id)
    if submission is not None and actor is not None and submission.user_id == actor.id:
        return submission
    return get_for_staff(actor, submission_id)


def visible_mark(actor, submission: Submission) -> Mark | None:
    """The mark the actor may see: staff always, the trainee only once released."""
    mark = db.session.scalar(select(Mark).where(Mark.submission_id == submission.id))
    if mark is None:
        return None
    if submission.user_id == getattr(actor, "id", None) and not is_admin(actor):
        return mark if submission.is_released else None
    if not (is_admin(actor) or is_marker(actor, submission) or is_moderator(actor, submission)):
        return None  # another trainee, or an assessor this work is not allocated to
    return mark


# --- scoring ------------------------------------------------------------------------------


@dataclass
class Scored:
    """Validated marking input: the levels chosen, the total (``None`` until complete) and the outcome."""

    levels: dict[int, int]
    total: int | None
    outcome: Outcome | None
    missing: list[str]


def outcome_for(total: int, version: SchemeVersion, attempt: int, max_attempts: int) -> Outcome:
    """Pass at or above the pass mark; below it, refer while attempts remain and fail on the last."""
    if total >= version.pass_mark:
        return Outcome.PASS
    return Outcome.REFER if attempt < max_attempts else Outcome.FAIL


def score(version: SchemeVersion, data: dict, submission: Submission) -> Scored:
    """Check marking input against a scheme version.

    ``data``: ``{"levels": {criterion_id: level_id}}`` for a rubric, ``{"points": n}`` for a
    mark out of N. Criteria may be left out of a draft.

    :raises InvalidInput: a criterion or level not in this version, a level of another
        criterion, points not a whole number or above the maximum.
    """
    assignment = submission.assignment
    if version.kind == SchemeKind.POINTS:
        points = data.get("points")
        if points is None or points == "":
            return Scored({}, None, None, ["the mark"])
        if not isinstance(points, int) or isinstance(points, bool):
            raise InvalidInput.for_field("points", "The mark must be a whole number.")
        if not 0 <= points <= version.max_points:
            raise InvalidInput.for_field("points", f"The mark must be between 0 and {version.max_points}.")
        return Scored(
            {}, points, outcome_for(points, version, submission.attempt, assignment.max_attempts), []
        )
    raw = data.get("levels") or {}
    if not isinstance(raw, dict):
        raise InvalidInput.for_field("levels", "Choose a level for each criterion.")
    criteria = {c.id: c for c in version.criteria}
    chosen: dict[int, int] = {}
    for key, value in raw.items():
        if value in (None, ""):
            continue
        try:
            criterion_id, level_id = int(key), int(value)
        except (TypeError, ValueError):
            raise InvalidInput.for_field("levels", "Levels and criteria are named by their ids.") from None
        criterion = criteria.get(criterion_id)
        if criterion is None:
            raise InvalidInput.for_field("levels", f"Criterion {criterion_id} is not part of this rubric.")
        if level_id not in {level.id for level in criterion.levels}:
            raise InvalidInput.for_field(
                "levels", f"That level does not belong to the criterion “{criterion.title}”."
            )
        chosen[criterion_id] = level_id
    missing = [c.title for c in version.criteria if c.id not in chosen]
    if missing:
        return Scored(chosen, None, None, missing)
    points = {level.id: level.points for c in version.criteria for level in c.levels}
    total = sum(points[level_id] for level_id in chosen.values())
    return Scored(chosen, total, outcome_for(total, version, submission.attempt, assignment.max_attempts), [])


# --- saving marks -------------------------------------------------------------------------


def mark_of(submission: Submission) -> Mark | None:
    """The submission's mark, if one was saved."""
    return db.session.scalar(select(Mark).where(Mark.submission_id == submission.id))


def _check_may_change(actor, submission: Submission, reason: str) -> None:
    if not submission.is_submitted:
        raise Conflict("This attempt has not been submitted yet.")
    admin = is_admin(actor)
    if not admin and not is_marker(actor, submission):
        raise NotAllowed("This submission is not allocated to you.")
    state = submission.state
    if state == MarkingState.IN_MODERATION and not admin:
        raise Conflict("This mark is in moderation: the moderator decides it now.")
    if state == MarkingState.READY_FOR_RELEASE and not admin:
        raise Conflict("This mark has been moderated. Ask an administrator if it must change.")
    if state == MarkingState.RELEASED:
        if not admin:
            raise Conflict("This mark has been released. Ask an administrator if it must change.")
        if not reason.strip():
            raise InvalidInput.for_field("reason", "Give the reason for changing a released mark.")


def save_mark(
    actor,
    submission: Submission,
    data: dict,
    *,
    expected_version: int | None,
    is_final: bool = False,
    feedback: str | None = None,
    reason: str = "",
    feedback_upload=None,
    remove_feedback_file: bool = False,
) -> Mark:
    """Save the mark of ``submission`` as a draft or, with ``is_final``, finish marking.

    ``expected_version`` is the mark's ``version`` the marker saw (``None`` for a first
    mark); if the mark changed since, nothing is saved. Every change after the first save
    is kept in the grade history; a change after release needs ``reason`` and tells the
    trainee.

    :raises NotAllowed: the submission is not allocated to the actor.
    :raises Conflict: someone else saved the mark since (reload), or the state forbids it.
    :raises InvalidInput: a level from another criterion, a mark above the maximum, an
        unfinished rubric when finishing, a bad feedback file.
    """
    reason = (reason or "").strip()
    # Lock the submission and read its state again: a release (or another save) committed
    # since the page was read must be seen here, not overwritten.
    db.session.execute(select(Submission.id).where(Submission.id == submission.id).with_for_update())
    db.session.refresh(submission, ["state", "marker_id", "moderator_id", "is_sampled"])
    _check_may_change(actor, submission, reason)
    mark = mark_of(submission)
    if mark is not None and expected_version is not None and mark.version != expected_version:
        raise Conflict(STALE_MESSAGE)
    if mark is not None and expected_version is None:
        raise Conflict(STALE_MESSAGE)
    version = mark.scheme_version if mark is not None else current_version(submission.assignment)
    scored = score(version, data, submission)
    finishing = is_final or (mark is not None and mark.completed_at is not None)
    if finishing and scored.missing:
        raise InvalidInput.for_field(
            "levels" if version.kind == SchemeKind.RUBRIC else "points",
            "Choose a level for every criterion before you finish: " + ", ".join(scored.missing) + "."
            if version.kind == SchemeKind.RUBRIC
            else "Enter the mark before you finish.",
        )
    is_new = mark is None
    before = None if is_new else _mark_state(mark)
    if (
        before is not None
        and submission.state == MarkingState.RELEASED
        and before["outcome"] != scored.outcome
    ):
        problem = outcome_change_problem(submission, before["outcome"], scored.outcome)
        if problem:
            raise Conflict(problem)
    if is_new:
        mark = Mark(submission_id=submission.id, scheme_version_id=version.id, marker_id=actor.id)
        mark.submission = submission
        db.session.add(mark)
    if feedback is not None:
        mark.feedback = feedback
    if feedback_upload is not None:
        checked = check_upload(
            feedback_upload,
            getattr(feedback_upload, "filename", None),
            FEEDBACK_FILE_TYPES,
            FEEDBACK_MAX_SIZE,
        )
        with checked.stream:
            mark.feedback_file = storage.save(
                checked.stream, checked.filename, checked.content_type, actor, max_size=FEEDBACK_MAX_SIZE
            )
    elif remove_feedback_file:
        mark.feedback_file = None
    set_scores(mark, scored)
    mark.total = scored.total
    mark.outcome = scored.outcome
    if is_final and mark.completed_at is None:
        mark.completed_at = utcnow()
    mark.updated_at = utcnow()
    flush_or_conflict()
    after = _mark_state(mark)
    was_released = submission.state == MarkingState.RELEASED
    if before is not None and before != after:
        _record_change(actor, mark, before, after, reason, is_after_release=was_released)
    audit.record(
        actor,
        "mark.saved" if not is_final else "mark.finished",
        submission,
        after={"total": mark.total, "outcome": str(mark.outcome) if mark.outcome else None},
    )
    if was_released:
        if before != after:
            notices.send_released(submission, _trainee(submission), mark, is_change=True, reason=reason)
            after_release(actor, submission, mark)
    elif is_final and submission.state in (MarkingState.NOT_MARKED, MarkingState.IN_MARKING):
        finish_marking(actor, submission, mark)
    elif (
        submission.state == MarkingState.MARKED
        and before is not None
        and before["outcome"] != after["outcome"]
    ):
        # A finished mark whose outcome changed is drawn again: a pass changed to a referral
        # must not skip the moderation every referral gets.
        finish_marking(actor, submission, mark)
    elif submission.state == MarkingState.NOT_MARKED or (
        not is_final and submission.state == MarkingState.MARKED and mark.completed_at is None
    ):
        submission.state = MarkingState.IN_MARKING
    db.session.flush()
    return mark


def _trainee(submission: Submission):
    return db.session.get(User, submission.user_id)


def flush_or_conflict() -> None:
    """Flush; a concurrent save of the same mark (its version moved) becomes a :class:`Conflict`."""
    try:
        db.session.flush()
    except StaleDataError:
        # A concurrent save bumped the version between our check and our UPDATE.
        raise Conflict(STALE_MESSAGE) from None


def set_scores(mark: Mark, scored: Scored) -> None:
    """Make the mark's chosen levels those of ``scored``, changing rows in place."""
    existing = {s.criterion_id: s for s in mark.scores} if mark.id else {}
    for criterion_id, score_row in list(existing.items()):
        if criterion_id not in scored.levels:
            mark.scores.remove(score_row)
    for criterion_id, level_id in scored.levels.items():
        if criterion_id in existing:
            existing[criterion_id].level_id = level_id
        else:
            mark.scores.append(MarkScore(criterion_id=criterion_id, level_id=level_id))


def _mark_state(mark: Mark) -> dict:
    return {
        "total": mark.total,
        "outcome": mark.outcome,
        "levels": sorted((s.criterion_id, s.level_id) for s in mark.scores),
        "feedback": mark.feedback,
        "feedback_file": mark.feedback_file_id if mark.feedback_file is None else mark.feedback_file.id,
    }


def _record_change(
    actor, mark: Mark, before: dict, after: dict, reason: str, *, is_after_release: bool
) -> None:
    what = [
        label
        for key, label in (
            ("levels", "rubric levels"),
            ("feedback", "feedback"),
            ("feedback_file", "feedback file"),
        )
        if before[key] != after[key]
    ]
    db.session.add(
        GradeChange(
            mark_id=mark.id,
            changed_by_id=getattr(actor, "id", None),
            from_total=before["total"],
            to_total=after["total"],
            from_outcome=before["outcome"],
            to_outcome=after["outcome"],
            what=", ".join(what)[:200],
            reason=reason,
            is_after_release=is_after_release,
        )
    )


def record_moderation_change(actor, mark: Mark, before: dict, reason: str) -> None:
    """Keep a moderator's change in the grade history (used by :mod:`moderation`)."""
    _record_change(actor, mark, before, _mark_state(mark), reason, is_after_release=False)


def snapshot(mark: Mark) -> dict:
    """A mark's comparable state (for the grade history)."""
    return _mark_state(mark)


# --- release --------------------------------------------------------------------------------


def release(actor, submissions: list[Submission]) -> int:
    """Release marks to their trainees, all or none; return how many were released.

    :raises NotAllowed: the actor is not an admin.
    :raises Conflict: any of them is not marked yet or still needs moderation (nothing released).
    """
    if not is_admin(actor):
        raise NotAllowed("Only administrators release marks.")
    if not submissions:
        raise InvalidInput.for_field("submission_ids", "Choose at least one submission to release.")
    blocked = [
        s
        for s in submissions
        if not (s.state and (s.state.is_releasable or s.state == MarkingState.RELEASED))
    ]
    if blocked:
        waiting = [s for s in blocked if s.state == MarkingState.IN_MODERATION]
        if waiting:
            raise Conflict(
                f"{len(waiting)} of these marks still need moderation and cannot be released yet. "
                "Nothing was released."
            )
        raise Conflict(f"{len(blocked)} of these have not been marked yet. Nothing was released.")
    now = utcnow()
    released = 0
    for submission in submissions:
        if submission.state == MarkingState.RELEASED:
            continue
        # One release per submission, whatever the concurrency: a conditional update.
        result = db.session.execute(
            Submission.__table__.update()
            .where(
                Submission.id == submission.id,
                Submission.state.in_([MarkingState.MARKED, MarkingState.READY_FOR_RELEASE]),
            )
            .values(state=MarkingState.RELEASED, released_at=now, released_by_id=actor.id)
        )
        db.session.expire(submission, ["state", "released_at", "released_by_id"])
        if result.rowcount != 1:
            continue
        mark = mark_of(submission)
        audit.record(
            actor, "mark.released", submission, after={"total": mark.total, "outcome": str(mark.outcome)}
        )
        notices.send_released(submission, _trainee(submission), mark)
        after_release(actor, submission, mark)
        released += 1
    db.session.flush()
    return released


# --- lists ----------------------------------------------------------------------------------


@dataclass
class QueueFilter:
    """Filters of the marking queue."""

    course_id: int | None = None
    assignment_id: int | None = None
    state: MarkingState | None = None
    is_late: bool | None = None
    #: Only work still to mark whose marking due date has passed.
    is_overdue: bool = False
    #: Released work is hidden unless asked for.
    include_released: bool = False


def queue_query(actor, filters: QueueFilter):
    """The actor's allocated submissions, by marking due date (a select to paginate)."""
    statement = (
        select(Submission)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Submission.marker_id == actor.id, Submission.status == SubmissionStatus.SUBMITTED)
        # The queue shows each mark's outcome only: not its scores, scheme or file.
        .options(
            selectinload(Submission.mark).options(
                raiseload(Mark.scores), raiseload(Mark.scheme_version), raiseload(Mark.feedback_file)
            )
        )
    )
    if filters.course_id:
        statement = statement.where(Assignment.course_id == filters.course_id)
    if filters.assignment_id:
        statement = statement.where(Submission.assignment_id == filters.assignment_id)
    if filters.state:
        statement = statement.where(Submission.state == filters.state)
    elif not filters.include_released:
        statement = statement.where(Submission.state != MarkingState.RELEASED)
    if filters.is_late is not None:
        statement = statement.where(Submission.is_late.is_(filters.is_late))
    if filters.is_overdue:
        statement = statement.where(overdue_clause(utcnow()))
    return statement.order_by(Submission.marking_due_at.is_(None), Submission.marking_due_at, Submission.id)


def overdue_clause(now):
    """SQL for "still to mark and past its marking due date"."""
    return Submission.state.in_([MarkingState.NOT_MARKED, MarkingState.IN_MARKING]) & (
        Submission.marking_due_at < now
    )


def grade_history_query(assignment: Assignment):
    """Every grade change on an assignment's marks, newest first, with the submission."""
    return (
        select(GradeChange, Submission)
        .join(Mark, Mark.id == GradeChange.mark_id)
        .join(Submission, Submission.id == Mark.submission_id)
        .where(Submission.assignment_id == assignment.id)
        .order_by(GradeChange.id.desc())
    )


def changes_of(mark: Mark) -> list[GradeChange]:
    """One mark's grade history, oldest first."""
    statement = select(GradeChange).where(GradeChange.mark_id == mark.id).order_by(GradeChange.id)
    return list(db.session.scalars(statement))
