"""The marks of the assessments step of ``flask --app lms generate``: scores, moderation, grade history.

:func:`mark_rows` gives a planned attempt (see :mod:`lms.demo.generate_attempts`) the mark its
state calls for: a draft with some criteria chosen while in marking, a finished mark with
feedback after that; a moderation decision where the mark was sampled and moderated; and grade
changes where a marker drafted first, a moderator changed the mark, or an admin changed a
released one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lms.assessments.models import MarkingState, ModerationDecision, Outcome
from lms.demo.generate_attempts import AssignmentPlan, AttemptPlan
from lms.demo.generation import GenerationContext

FEEDBACK = {
    Outcome.PASS: (
        "A clear, well-organised piece that keeps the whole family in view.",
        "Your reflection on the children's voices is a real strength.",
        "To develop: weigh the evaluation evidence against other sources.",
        "Safeguarding is handled carefully and in line with procedures.",
    ),
    Outcome.REFER: (
        "There is good practice here, but the work does not yet meet the criteria for a pass.",
        "For your resubmission, show how the children's views shaped the work.",
        "Safeguarding needs more than a line: say what you recorded and who you told.",
        "Use a reflective model on your own practice and at least three sources.",
    ),
}
FEEDBACK[Outcome.FAIL] = (*FEEDBACK[Outcome.REFER][:1], "This was the last attempt allowed.")
#: Released marks changed later by an admin, with a reason (after release).
CHANGED_AFTER_RELEASE = 0.01
#: Finished marks saved as a draft first, with other levels.
DRAFTED_FIRST = 0.25
#: Moderators who change the first mark (within its outcome).
MODERATOR_CHANGES = 0.15


@dataclass
class MarkRows:
    """Rows of the marks' tables; moderations and grade changes get their ids once counted."""

    #: Ids for the marks, handed out in submission order.
    mark_ids: Iterator[int]
    marks: list[dict] = field(default_factory=list)
    scores: list[dict] = field(default_factory=list)
    moderations: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)


def _choose_levels(rng, assignment: AssignmentPlan, outcome: Outcome) -> list[tuple[int, int, int]]:
    """``(criterion id, level id, points)`` per criterion whose total gives ``outcome``."""
    passing = outcome == Outcome.PASS
    weights = (1, 5, 6, 3) if passing else (5, 4, 1, 0.2)
    for _ in range(50):
        chosen = []
        for criterion_id, levels in assignment.criteria:
            level_id, points = levels[rng.choices(range(len(levels)), weights=weights)[0]]
            chosen.append((criterion_id, level_id, points))
        if (sum(p for *_, p in chosen) >= assignment.pass_mark) == passing:
            return chosen
    # "Good" everywhere passes and "Not yet met" everywhere does not (the pass mark is "Met" throughout).
    index = 2 if passing else 0
    return [(criterion_id, *levels[index]) for criterion_id, levels in assignment.criteria]


def _other_total(rng, assignment: AssignmentPlan, chosen: list[tuple[int, int, int]]) -> int | None:
    """The total of a mark one level away on one criterion, with the same outcome, if there is one."""
    total = sum(p for *_, p in chosen)
    passing = total >= assignment.pass_mark
    order = list(range(len(chosen)))
    rng.shuffle(order)
    for i in order:
        levels = [points for _level, points in assignment.criteria[i][1]]
        index = levels.index(chosen[i][2])
        for step in rng.sample((-1, 1), 2):
            if 0 <= index + step < len(levels):
                other = total - levels[index] + levels[index + step]
                if (other >= assignment.pass_mark) == passing:
                    return other
    return None


def mark_rows(
    ctx: GenerationContext, attempt: AttemptPlan, marker: int | None, moderator: int | None, rows: MarkRows
) -> None:
    """The mark (draft or finished), its scores, the moderation decision and the grade history."""
    rng, assignment, now = ctx.rng, attempt.assignment, ctx.now
    chosen = _choose_levels(rng, assignment, attempt.outcome or Outcome.PASS)
    mark_id = next(rows.mark_ids)
    total = sum(p for *_, p in chosen)
    outcome = attempt.outcome
    completed_at = attempt.finished_at
    version, updated_at = 1, attempt.finished_at or attempt.marked_at
    if attempt.state == MarkingState.IN_MARKING:
        # A draft mark: most have criteria still to choose, so no total or outcome yet.
        if rng.random() < 0.7:
            chosen = chosen[: rng.randint(1, len(chosen) - 1)]
            total, outcome = None, None
        version = rng.randint(1, 3)
    else:
        if rng.random() < DRAFTED_FIRST:
            other = _other_total(rng, assignment, chosen)
            rows.changes.append(
                _change(mark_id, marker, completed_at, other, total, outcome, "rubric levels", "")
            )
            version += 1
        if moderator is not None:
            other = _other_total(rng, assignment, chosen) if rng.random() < MODERATOR_CHANGES else None
            notes = (
                "Agreed with the first mark." if other is None else "One criterion is a level out of line."
            )
            rows.moderations.append(
                {
                    "submission_id": attempt.id,
                    "moderator_id": moderator,
                    "first_marker_id": marker,
                    "decision": ModerationDecision.AGREED if other is None else ModerationDecision.CHANGED,
                    "first_total": total if other is None else other,
                    "first_outcome": outcome,
                    "agreed_total": total,
                    "agreed_outcome": outcome,
                    "notes": notes,
                    "decided_at": attempt.moderated_at,
                }
            )
            if other is not None:
                rows.changes.append(
                    _change(
                        mark_id,
                        moderator,
                        attempt.moderated_at,
                        other,
                        total,
                        outcome,
                        "rubric levels",
                        f"Moderation: {notes}",
                    )
                )
            version, updated_at = version + 1, attempt.moderated_at
        if attempt.state == MarkingState.RELEASED and rng.random() < CHANGED_AFTER_RELEASE:
            other = _other_total(rng, assignment, chosen)
            if other is not None:
                changed_at = attempt.released_at + (now - attempt.released_at) * rng.random()
                admin = rng.choice(ctx.ids.get("users.admin", []) or [None])
                reason = "A criterion was misread when the mark was entered."
                rows.changes.append(
                    _change(mark_id, admin, changed_at, other, total, outcome, "rubric levels", reason, True)
                )
                version, updated_at = version + 1, changed_at
    sentences = FEEDBACK.get(outcome, ())
    rows.marks.append(
        {
            "id": mark_id,
            "submission_id": attempt.id,
            "scheme_version_id": assignment.version_id,
            "marker_id": marker,
            "total": total,
            "outcome": outcome,
            "feedback": " ".join(rng.sample(sentences, min(3, len(sentences)))) if completed_at else "",
            "feedback_file_id": None,
            "completed_at": completed_at,
            "version": version,
            "created_at": attempt.marked_at,
            "updated_at": updated_at,
        }
    )
    rows.scores += [
        {"mark_id": mark_id, "criterion_id": c, "level_id": level} for c, level, _points in chosen
    ]


def _change(mark_id, by, at, before, after, outcome, what, reason, is_after_release=False) -> dict:
    """A grade-history row (its id comes later)."""
    return {
        "mark_id": mark_id,
        "changed_by_id": by,
        "changed_at": at,
        "from_total": before,
        "to_total": after,
        "from_outcome": outcome if before is not None else None,
        "to_outcome": outcome,
        "what": what,
        "reason": reason,
        "is_after_release": is_after_release,
    }
