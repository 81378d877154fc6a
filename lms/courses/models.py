"""Courses, their credit rules, modules and knowledge checks, cohorts, enrolments and module progress."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
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


class DeliveryFormat(enum.StrEnum):
    """How a course or cohort is delivered."""

    ONLINE = "online"
    BLENDED = "blended"
    FACE_TO_FACE = "face_to_face"

    @property
    def label(self) -> str:
        """Human name."""
        return {"online": "Online", "blended": "Blended", "face_to_face": "Face to face"}[self.value]


class CourseStatus(enum.StrEnum):
    """Only published courses are visible to trainees."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        """Human name."""
        return self.value.capitalize()


class EnrolmentStatus(enum.StrEnum):
    """Where an enrolment stands."""

    ACTIVE = "active"
    WAITLISTED = "waitlisted"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"
    #: Ended without completing: a requirement can no longer be met (the last attempt failed).
    #: Final: it is not taken up again by enrolling (the attempts are used).
    NOT_COMPLETED = "not_completed"

    @property
    def label(self) -> str:
        """Human name."""
        labels = {"waitlisted": "On the waiting list", "not_completed": "Not completed"}
        return labels.get(self.value, self.value.capitalize())

    @property
    def is_current(self) -> bool:
        """Active or completed: the trainee holds a place and can open the modules."""
        return self in (EnrolmentStatus.ACTIVE, EnrolmentStatus.COMPLETED)

    @property
    def is_ended(self) -> bool:
        """Withdrawn or lapsed: enrolling again takes the enrolment up, with its progress."""
        return self in (EnrolmentStatus.WITHDRAWN, EnrolmentStatus.LAPSED)


course_prerequisites = Table(
    "course_prerequisites",
    db.metadata,
    Column("course_id", ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    Column("required_course_id", ForeignKey("courses.id", ondelete="RESTRICT"), primary_key=True),
    CheckConstraint("course_id <> required_course_id", name="not_self"),
)

cohort_facilitators = Table(
    "cohort_facilitators",
    db.metadata,
    Column("cohort_id", ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Course(db.Model):
    """A unit of training with a code, a provider and, optionally, a credit rule."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    provider_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    delivery_format: Mapped[DeliveryFormat] = mapped_column(enum_column(DeliveryFormat, 20))
    #: Notional learning hours; UK convention: 10 hours per credit.
    notional_hours: Mapped[int] = mapped_column(default=0)
    #: Who the course is for, in the provider's words (e.g. "staff and volunteers").
    audience: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[CourseStatus] = mapped_column(
        enum_column(CourseStatus, 20), default=CourseStatus.DRAFT, index=True
    )
    #: Trainees may enrol themselves (otherwise an admin or org manager enrols them).
    is_self_enrol: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    provider = relationship("Organisation", lazy="joined")
    modules: Mapped[list[Module]] = relationship(
        back_populates="course", order_by="(Module.position, Module.id)", lazy="raise_on_sql"
    )
    cohorts: Mapped[list[Cohort]] = relationship(back_populates="course", lazy="raise_on_sql")
    prerequisites: Mapped[list[Course]] = relationship(
        secondary=course_prerequisites,
        primaryjoin=lambda: Course.id == course_prerequisites.c.course_id,
        secondaryjoin=lambda: Course.id == course_prerequisites.c.required_course_id,
        order_by="Course.code",
        lazy="selectin",
    )
    credit_rule: Mapped[CreditRule | None] = relationship(back_populates="course")

    @property
    def is_published(self) -> bool:
        """Visible to trainees."""
        return self.status == CourseStatus.PUBLISHED

    def __repr__(self) -> str:
        return f"<Course {self.code}>"


class CreditRule(db.Model):
    """On a course: which awarding body awards how many credits, at which level.

    Course data (the catalogue filters on it); the credits area reads it to make awards.
    """

    __tablename__ = "credit_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), unique=True)
    awarding_body_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    credits: Mapped[int]
    #: Framework level, e.g. "FHEQ level 6".
    level: Mapped[str] = mapped_column(String(60), default="")

    course: Mapped[Course] = relationship(back_populates="credit_rule")
    awarding_body = relationship("Organisation", lazy="joined")

    __table_args__ = (CheckConstraint("credits > 0", name="credits_positive"),)


class Module(db.Model):
    """An ordered part of a course: Markdown content, resources, maybe a knowledge check."""

    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    #: Order within the course; gaps are allowed, ties are broken by id.
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))
    #: Markdown source, rendered to sanitised HTML on display.
    content: Mapped[str] = mapped_column(Text, default="")
    estimated_minutes: Mapped[int] = mapped_column(default=15)
    #: Optional modules do not count towards completion.
    is_required: Mapped[bool] = mapped_column(default=True)
    #: Retired modules keep their trainees' progress but are no longer shown or required.
    is_retired: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    #: Plain lazy load: a module's course is nearly always in the session already.
    course: Mapped[Course] = relationship(back_populates="modules")
    resources: Mapped[list[ModuleResource]] = relationship(
        back_populates="module",
        order_by="ModuleResource.position",
        lazy="raise_on_sql",
        cascade="all, delete-orphan",
    )
    knowledge_check: Mapped[KnowledgeCheck | None] = relationship(
        back_populates="module", lazy="raise_on_sql", cascade="all, delete-orphan", uselist=False
    )


class ModuleResource(db.Model):
    """A downloadable file or a link offered with a module."""

    __tablename__ = "module_resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))
    #: An http(s) link; exactly one of ``url`` and ``stored_file_id`` is set.
    url: Mapped[str | None] = mapped_column(String(2000))
    stored_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="RESTRICT"))

    module: Mapped[Module] = relationship(back_populates="resources")
    stored_file = relationship("StoredFile", lazy="joined")

    __table_args__ = (CheckConstraint("(url IS NULL) <> (stored_file_id IS NULL)", name="link_or_file"),)


class KnowledgeCheck(db.Model):
    """A short multiple-choice quiz at the end of a module, marked automatically."""

    __tablename__ = "knowledge_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), unique=True)
    #: Percentage of questions to answer correctly to pass.
    pass_mark: Mapped[int] = mapped_column(default=80)

    module: Mapped[Module] = relationship(back_populates="knowledge_check")
    questions: Mapped[list[Question]] = relationship(
        back_populates="check",
        order_by="(Question.position, Question.id)",
        lazy="selectin",
        cascade="all, delete-orphan",
    )

    __table_args__ = (CheckConstraint("pass_mark BETWEEN 1 AND 100", name="pass_mark_range"),)


class Question(db.Model):
    """One multiple-choice question with exactly one correct option."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("knowledge_checks.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    prompt: Mapped[str] = mapped_column(Text)
    #: Shown after an attempt, to teach rather than only to test.
    explanation: Mapped[str] = mapped_column(Text, default="")

    check: Mapped[KnowledgeCheck] = relationship(back_populates="questions")
    options: Mapped[list[Option]] = relationship(
        back_populates="question",
        order_by="(Option.position, Option.id)",
        lazy="selectin",
        cascade="all, delete-orphan",
    )


class Option(db.Model):
    """An answer to choose."""

    __tablename__ = "options"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(String(500))
    is_correct: Mapped[bool] = mapped_column(default=False)

    question: Mapped[Question] = relationship(back_populates="options")


class Cohort(db.Model):
    """One run of a course (a training event), with dates, capacity and facilitators."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    delivery_format: Mapped[DeliveryFormat] = mapped_column(enum_column(DeliveryFormat, 20))
    #: A venue for face-to-face and blended runs; empty for online ones.
    location: Mapped[str] = mapped_column(String(300), default="")
    #: ``None`` means no limit.
    capacity: Mapped[int | None]
    #: Places taken by active and completed enrolments; changed only by a conditional update.
    seats_taken: Mapped[int] = mapped_column(default=0)
    has_waiting_list: Mapped[bool] = mapped_column(default=True)
    enrolment_opens_on: Mapped[dt.date | None] = mapped_column(Date)
    enrolment_closes_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[Course] = relationship(back_populates="cohorts")
    #: Loaded where shown (``selectinload``), not with every cohort.
    facilitators = relationship("User", secondary=cohort_facilitators, order_by="User.name")

    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        CheckConstraint("capacity IS NULL OR capacity >= 1", name="capacity_positive"),
        CheckConstraint("capacity IS NULL OR seats_taken <= capacity", name="not_overbooked"),
        CheckConstraint("seats_taken >= 0", name="seats_not_negative"),
    )

    @property
    def seats_left(self) -> int | None:
        """Free places, or ``None`` when unlimited."""
        return None if self.capacity is None else max(0, self.capacity - self.seats_taken)

    def is_open_on(self, day: dt.date) -> bool:
        """Whether enrolment is open on ``day``."""
        if self.enrolment_opens_on and day < self.enrolment_opens_on:
            return False
        closes = self.enrolment_closes_on or self.ends_on
        return day <= closes


class Enrolment(db.Model):
    """A trainee on a course, usually in a cohort. One per trainee and course, ever."""

    __tablename__ = "enrolments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id", ondelete="SET NULL"), index=True)
    status: Mapped[EnrolmentStatus] = mapped_column(
        enum_column(EnrolmentStatus, 20), default=EnrolmentStatus.ACTIVE, index=True
    )
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Set once, by the conditional update that records completion.
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The module the trainee last opened ("continue where I left off").
    last_module_id: Mapped[int | None] = mapped_column(ForeignKey("modules.id", ondelete="SET NULL"))
    last_activity_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", foreign_keys=[user_id], lazy="joined")
    course: Mapped[Course] = relationship(lazy="joined")
    cohort: Mapped[Cohort | None] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("user_id", "course_id"),
        Index("ix_enrolments_user_status", "user_id", "status"),
    )

    @property
    def is_current(self) -> bool:
        """Active or completed: the trainee can open its modules."""
        return self.status.is_current


class ModuleProgress(db.Model):
    """A trainee's progress through one module of one enrolment."""

    __tablename__ = "module_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("enrolment_id", "module_id"),)


class CheckAttempt(db.Model):
    """One attempt at a knowledge check; retakes add attempts."""

    __tablename__ = "check_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("knowledge_checks.id", ondelete="CASCADE"))
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    #: ``{question_id: option_id}`` as chosen, kept so the trainee can review the attempt.
    answers: Mapped[dict] = mapped_column(JSON)
    score: Mapped[int]
    is_passed: Mapped[bool]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
