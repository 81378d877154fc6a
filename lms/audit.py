"""The audit log: an append-only record of who changed what, when, from what to what."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g, has_app_context
from sqlalchemy import JSON, ForeignKey, Select, String, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from lms.database import UTCDateTime, utcnow
from lms.extensions import db


class AuditEntry(db.Model):
    """One audited change. Rows are only ever inserted."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The person who acted; ``None`` for the system (scheduled jobs, the CLI).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    #: Dotted verb, e.g. ``user.roles_changed`` or ``award.confirmed``.
    action: Mapped[str] = mapped_column(String(80), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int | None]
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    #: The request (``X-Request-ID``) or job run (``job-run:<id>``) that made the change.
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (db.Index("ix_audit_entries_subject", "subject_type", "subject_id"),)


def record(
    actor,
    action: str,
    subject: Any,
    before: dict | None = None,
    after: dict | None = None,
    *,
    subject_type: str | None = None,
) -> AuditEntry:
    """Add an audit entry for ``subject`` (a model instance) in the current transaction."""
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        action=action,
        subject_type=subject_type or subject.__tablename__,
        subject_id=getattr(subject, "id", None),
        before=before,
        after=after,
        request_id=g.get("request_id") if has_app_context() else None,
    )
    db.session.add(entry)
    return entry


def history_of(subject_type: str, subject_id: int, limit: int) -> list[AuditEntry]:
    """The latest ``limit`` entries about one subject, newest first: one query."""
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject_type == subject_type, AuditEntry.subject_id == subject_id)
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )


def log_query(subject_type: str | None = None) -> Select:
    """Every entry, newest first, optionally about one type of subject (for paginating)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if subject_type:
        query = query.where(AuditEntry.subject_type == subject_type[:40])
    return query


def init_app(_app) -> None:
    """Install the ORM guard that keeps audit entries append-only (once per process)."""
    if not event.contains(Session, "before_flush", _refuse_audit_changes):
        event.listen(Session, "before_flush", _refuse_audit_changes)


def _refuse_audit_changes(session: Session, _flush_context, _instances) -> None:
    """Audit entries are append-only: an update or delete through the ORM is a bug."""
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise RuntimeError("audit entries are append-only")
