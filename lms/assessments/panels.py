"""The assessor's dashboard panel: what to do now, in one query."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select

from lms.assessments.models import MarkingState, Submission, SubmissionStatus
from lms.database import utcnow
from lms.extensions import db

#: The panel's template (``templates/assessments/_marking_panel.html``).
PANEL_TEMPLATE = "assessments/_marking_panel.html"
#: How far back "released this week" looks.
RECENT = dt.timedelta(days=7)


@dataclass(frozen=True)
class MarkingSummary:
    """An assessor's marking and moderation, counted."""

    #: Allocated and not started, and started (a draft mark) but not finished.
    not_marked: int
    in_marking: int
    #: Of those, past their marking due date.
    overdue: int
    #: Marks waiting for this assessor to moderate.
    to_moderate: int
    #: Marks of theirs released in the last seven days.
    released_recently: int

    @property
    def to_mark(self) -> int:
        """Allocated work not yet finished."""
        return self.not_marked + self.in_marking

    @property
    def is_clear(self) -> bool:
        """Nothing waiting for the assessor."""
        return not (self.to_mark or self.to_moderate)


def marking_summary(actor, now: dt.datetime | None = None) -> MarkingSummary:
    """What ``actor`` has to mark and moderate, and what of theirs was released lately: one query."""
    now = now or utcnow()
    mine = Submission.marker_id == actor.id
    moderating = Submission.moderator_id == actor.id

    def counted(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    to_mark = Submission.state.in_([MarkingState.NOT_MARKED, MarkingState.IN_MARKING])
    statement = select(
        counted(and_(mine, Submission.state == MarkingState.NOT_MARKED)),
        counted(and_(mine, Submission.state == MarkingState.IN_MARKING)),
        counted(and_(mine, to_mark, Submission.marking_due_at < now)),
        counted(and_(moderating, Submission.state == MarkingState.IN_MODERATION)),
        counted(
            and_(mine, Submission.state == MarkingState.RELEASED, Submission.released_at >= now - RECENT)
        ),
    ).where(Submission.status == SubmissionStatus.SUBMITTED, or_(mine, moderating))
    return MarkingSummary(*(int(value) for value in db.session.execute(statement).one()))


def marking_panel(user) -> dict:
    """The dashboard panel's template variables (``add_dashboard_panel``'s context)."""
    return {"marking": marking_summary(user)}
