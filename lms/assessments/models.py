"""Assignments, marking schemes (versioned rubrics), submissions, marks, moderation, extensions."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.database import UTCDateTime, enum_column, utcnow
from lms.extensions import db


class SchemeKind(enum.StrEnum):
    """How work is marked: against a rubric, or as a simple mark out of N."""

    RUBRIC = "rubric"
    POINTS = "points"

    @property
    def label(self) -> str:
        """Human name."""
        return {"rubric": "Rubric", "points": "Mark out of N"}[self.value]


class Outcome(enum.StrEnum):
    """What a mark means for the trainee."""

    PASS = "pass"  # noqa: S105  (an outcome, not a password)
    REFER = "refer"
    FAIL = "fail"

    @property
    def label(self) -> str:
        """Human name."""
        return {"pass": "Pass", "refer": "Referred (resubmit)", "fail": "Fail"}[self.value]


class SubmissionStatus(enum.StrEnum):
    """A trainee's attempt: still a draft, or handed in for marking."""

    DRAFT = "draft"
    SUBMITTED = "submitted"

    @property
    def label(self) -> str:
        """Human name."""
        return {"draft": "Draft", "submitted": "Submitted"}[self.value]


class MarkingState(enum.StrEnum):
    """Where a submitted attempt stands in marking, in the spirit of Moodle's marking workflow."""

    NOT_MARKED = "not_marked"
    IN_MARKING = "in_marking"
    MARKED = "marked"
    IN_MODERATION = "in_moderation"
    READY_FOR_RELEASE = "ready_for_release"
    RELEASED = "released"

    @property
    def label(self) -> str:
        """Human name."""
        return STATE_LABELS[self]

    @property
    def is_releasable(self) -> bool:
        """Marked and, where it was sampled, moderated."""
        return self in (MarkingState.MARKED, MarkingState.READY_FOR_RELEASE)


STATE_LABELS = {
    MarkingState.NOT_MARKED: "Not marked",
    MarkingState.IN_MARKING: "In marking",
    MarkingState.MARKED: "Marked",
    MarkingState.IN_MODERATION: "In moderation",
    MarkingState.READY_FOR_RELEASE: "Ready for release",
    MarkingState.RELEASED: "Released",
}


class ModerationDecision(enum.StrEnum):
    """What the moderator decided about the first mark."""

    AGREED = "agreed"
    CHANGED = "changed"

    @property
    def label(self) -> str:
        """Human name."""
        return {"agreed": "Agreed with the first mark", "changed": "Changed the mark"}[self.value]


#: The assessors who mark a course's assignments.
course_assessors = Table(
    "course_assessors",
    db.metadata,
    Column("course_id", ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Assignment(db.Model):
    """A piece of assessed work on a course: brief, dates, what may be handed in, how it is marked."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    #: Markdown, rendered sanitised.
    brief: Mapped[str] = mapped_column(Text, default="")
    accepts_text: Mapped[bool] = mapped_column(default=True)
    #: Most words an online text may have; ``None`` for no limit.
    word_limit: Mapped[int | None]
    accepts_files: Mapped[bool] = mapped_column(default=False)
    #: Allowed file extensions, lower case without dots, comma separated (``pdf,docx``).
    file_types: Mapped[str] = mapped_column(String(200), default="")
    max_file_size: Mapped[int] = mapped_column(default=10 * 1024 * 1024)
    max_files: Mapped[int] = mapped_column(default=1)
    opens_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: After this, nothing is accepted without an extension; ``None``: late work is always taken.
    cutoff_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: A first attempt plus resubmissions after referral.
    max_attempts: Mapped[int] = mapped_column(default=2)
    is_required: Mapped[bool] = mapped_column(default=True)
    #: Markers see participant numbers, not names, until identities are revealed.
    is_blind: Mapped[bool] = mapped_column(default=False)
    is_moderated: Mapped[bool] = mapped_column(default=False)
    #: Share of passes drawn for moderation, in per cent (fails and referrals always are).
    moderation_share: Mapped[int] = mapped_column(default=20)
    #: Days an assessor has to mark a submission.
    marking_days: Mapped[int] = mapped_column(default=14)
    identities_revealed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course = relationship("Course", lazy="joined")
    versions: Mapped[list[SchemeVersion]] = relationship(
        back_populates="assignment", order_by="SchemeVersion.number", lazy="raise_on_sql"
    )

    __table_args__ = (
        CheckConstraint("accepts_text OR accepts_files", name="accepts_something"),
        CheckConstraint("max_attempts BETWEEN 1 AND 10", name="attempts_range"),
        CheckConstraint("max_files BETWEEN 1 AND 20", name="files_range"),
        CheckConstraint("moderation_share BETWEEN 0 AND 100", name="share_range"),
        CheckConstraint("cutoff_at IS NULL OR cutoff_at >= due_at", name="cutoff_after_due"),
        CheckConstraint("opens_at IS NULL OR opens_at <= due_at", name="opens_before_due"),
    )

    @property
    def is_blind_now(self) -> bool:
        """Whether markers still see participant numbers instead of names."""
        return self.is_blind and self.identities_revealed_at is None

    @property
    def extensions(self) -> list[str]:
        """The allowed file extensions, as a list."""
        return [e for e in self.file_types.split(",") if e]


class SchemeVersion(db.Model):
    """One version of an assignment's marking scheme; a mark keeps the version it used."""

    __tablename__ = "scheme_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(default=1)
    kind: Mapped[SchemeKind] = mapped_column(enum_column(SchemeKind, 10))
    #: The most points a mark can have (the sum of each criterion's best level for a rubric).
    max_points: Mapped[int]
    #: Points needed to pass.
    pass_mark: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    assignment: Mapped[Assignment] = relationship(back_populates="versions")
    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="version",
        order_by="(Criterion.position, Criterion.id)",
        lazy="selectin",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        UniqueConstraint("assignment_id", "number"),
        CheckConstraint("max_points >= 1", name="max_positive"),
        CheckConstraint("pass_mark BETWEEN 0 AND max_points", name="pass_mark_range"),
    )


class Criterion(db.Model):
    """A rubric criterion (e.g. "Reflection on practice")."""

    __tablename__ = "criteria"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("scheme_versions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")

    version: Mapped[SchemeVersion] = relationship(back_populates="criteria")
    levels: Mapped[list[Level]] = relationship(
        back_populates="criterion",
        order_by="(Level.points, Level.id)",
        lazy="selectin",
        cascade="all, delete-orphan",
    )


class Level(db.Model):
    """A level of a criterion: the points it carries and what work at that level looks like."""

    __tablename__ = "levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("criteria.id", ondelete="CASCADE"), index=True)
    points: Mapped[int]
    descriptor: Mapped[str] = mapped_column(Text)

    criterion: Mapped[Criterion] = relationship(back_populates="levels")

    __table_args__ = (CheckConstraint("points >= 0", name="points_not_negative"),)


class Participant(db.Model):
    """A trainee's participant number on an assignment: what blind markers see instead of a name."""

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: Random, unique within the assignment; says nothing of the person or of the order of arrival.
    number: Mapped[int]

    __table_args__ = (
        UniqueConstraint("assignment_id", "user_id"),
        UniqueConstraint("assignment_id", "number"),
    )


class Submission(db.Model):
    """One attempt at an assignment by one trainee: its work, and where its marking stands."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(default=1)
    status: Mapped[SubmissionStatus] = mapped_column(
        enum_column(SubmissionStatus, 10), default=SubmissionStatus.DRAFT
    )
    #: Online text, Markdown as typed; rendered sanitised.
    text: Mapped[str] = mapped_column(Text, default="")
    word_count: Mapped[int] = mapped_column(default=0)
    #: Bumped by every saved draft, so that an older autosave never overwrites a newer one.
    draft_revision: Mapped[int] = mapped_column(default=0)
    draft_saved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    is_late: Mapped[bool] = mapped_column(default=False)
    #: ``None`` until submitted.
    state: Mapped[MarkingState | None] = mapped_column(enum_column(MarkingState, 20))
    marker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    allocated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: When the allocated assessor should have marked it by.
    marking_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Drawn into the moderation sample (decided when marking is finished).
    is_sampled: Mapped[bool] = mapped_column(default=False)
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    assignment: Mapped[Assignment] = relationship(lazy="joined")
    participant: Mapped[Participant] = relationship(lazy="joined")
    user = relationship("User", foreign_keys=[user_id], lazy="raise_on_sql")
    marker = relationship("User", foreign_keys=[marker_id], lazy="raise_on_sql")
    moderator = relationship("User", foreign_keys=[moderator_id], lazy="raise_on_sql")
    files: Mapped[list[SubmissionFile]] = relationship(
        back_populates="submission",
        order_by="SubmissionFile.id",
        lazy="raise_on_sql",
        cascade="all, delete-orphan",
    )
    mark: Mapped[Mark | None] = relationship(back_populates="submission", lazy="raise_on_sql", uselist=False)

    __table_args__ = (
        UniqueConstraint("assignment_id", "user_id", "attempt"),
        Index("ix_submissions_assignment_state", "assignment_id", "state"),
        Index("ix_submissions_marker_state", "marker_id", "state"),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
        CheckConstraint("(status = 'draft') = (state IS NULL)", name="state_when_submitted"),
    )

    @property
    def is_submitted(self) -> bool:
        """Handed in for marking."""
        return self.status == SubmissionStatus.SUBMITTED

    @property
    def is_released(self) -> bool:
        """The mark has been released to the trainee."""
        return self.state == MarkingState.RELEASED


class SubmissionFile(db.Model):
    """A file handed in with a submission (bytes through ``lms.storage``)."""

    __tablename__ = "submission_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    stored_file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id", ondelete="RESTRICT"))

    submission: Mapped[Submission] = relationship(back_populates="files")
    stored_file = relationship("StoredFile", lazy="joined")


class Mark(db.Model):
    """The mark of one submission: scores against a scheme version, total, outcome and feedback."""

    __tablename__ = "marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    scheme_version_id: Mapped[int] = mapped_column(ForeignKey("scheme_versions.id", ondelete="RESTRICT"))
    #: The first marker (kept when the mark is moderated or reallocated).
    marker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: ``None`` while a rubric is only partly filled in.
    total: Mapped[int | None]
    outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, 10))
    feedback: Mapped[str] = mapped_column(Text, default="")
    feedback_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="RESTRICT"))
    #: Set when the marker finished marking (``None`` while a draft).
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Optimistic lock: every save checks and bumps it, so two markers never overwrite each other.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="mark")
    scheme_version: Mapped[SchemeVersion] = relationship(lazy="joined")
    scores: Mapped[list[MarkScore]] = relationship(
        back_populates="mark", lazy="selectin", cascade="all, delete-orphan"
    )
    feedback_file = relationship("StoredFile", lazy="joined")

    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (CheckConstraint("total IS NULL OR total >= 0", name="total_not_negative"),)


class MarkScore(db.Model):
    """The level chosen for one rubric criterion in a mark."""

    __tablename__ = "mark_scores"

    mark_id: Mapped[int] = mapped_column(ForeignKey("marks.id", ondelete="CASCADE"), primary_key=True)
    criterion_id: Mapped[int] = mapped_column(
        ForeignKey("criteria.id", ondelete="RESTRICT"), primary_key=True
    )
    level_id: Mapped[int] = mapped_column(ForeignKey("levels.id", ondelete="RESTRICT"))

    mark: Mapped[Mark] = relationship(back_populates="scores")


class GradeChange(db.Model):
    """A change to a mark after it was first saved: who, when, from, to and why."""

    __tablename__ = "grade_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    mark_id: Mapped[int] = mapped_column(ForeignKey("marks.id", ondelete="CASCADE"), index=True)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_total: Mapped[int | None]
    to_total: Mapped[int | None]
    from_outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, 10, name="from_outcome"))
    to_outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, 10, name="to_outcome"))
    #: What else changed ("feedback", "rubric levels", "scheme version").
    what: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    #: The change came after the mark was released to the trainee.
    is_after_release: Mapped[bool] = mapped_column(default=False)

    changed_by = relationship("User", lazy="joined")


class Moderation(db.Model):
    """A second assessor's decision on a sampled mark; the agreed mark names both markers."""

    __tablename__ = "moderations"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    first_marker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision: Mapped[ModerationDecision] = mapped_column(enum_column(ModerationDecision, 10))
    first_total: Mapped[int | None]
    first_outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, 10, name="first_outcome"))
    agreed_total: Mapped[int | None]
    agreed_outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, 10, name="agreed_outcome"))
    notes: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Extension(db.Model):
    """More time for one trainee on one assignment: a new deadline, with the reason."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The trainee's own due date and cut-off.
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    granted_by = relationship("User", foreign_keys=[granted_by_id], lazy="joined")

    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)
