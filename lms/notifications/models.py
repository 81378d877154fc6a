"""A message to one person, and which kinds each person wants by email."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lms.database import UTCDateTime, utcnow
from lms.extensions import db


class Notification(db.Model):
    """One notification to one person, shown in the app until they read it."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: The registered kind (:mod:`lms.notifications.kinds`), e.g. ``cohort_starting``.
    kind: Mapped[str] = mapped_column(String(50))
    #: Kind, subject, recipient and occasion, e.g. ``cohort_starting:cohort-4:user-9:2026-12-09/7``.
    #: Unique: whatever runs twice (a job, two schedulers, a retry) creates it once.
    key: Mapped[str] = mapped_column(String(250), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(String(1000), default="")
    #: The page it is about, a path inside lms (``/courses/4``); empty for none.
    link: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        db.Index("ix_notifications_user_id_id", "user_id", "id"),
        db.Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
    )

    @property
    def is_read(self) -> bool:
        """Whether the person has read it."""
        return self.read_at is not None


class NotificationPreference(db.Model):
    """Whether one person gets one kind by email; no row means the kind's default."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), primary_key=True)
    is_emailed: Mapped[bool]
