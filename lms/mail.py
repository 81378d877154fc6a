"""Outgoing email through a transactional outbox.

A message is stored in the same transaction as the change that caused it, then delivered
once that transaction commits. Anything not delivered (the mail server was down, the
process died) stays pending for :func:`deliver_pending`, which the scheduler runs.
"""

from __future__ import annotations

import datetime as dt
import enum
import smtplib
from email.message import EmailMessage
from urllib.parse import quote, urlsplit

from flask import current_app
from sqlalchemy import String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from lms.database import UTCDateTime, enum_column, utcnow
from lms.extensions import db
from lms.transactions import after_commit

MAX_ATTEMPTS = 8


class EmailStatus(enum.StrEnum):
    """Where a message is in delivery."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboundEmail(db.Model):
    """One message to one recipient."""

    __tablename__ = "outbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[EmailStatus] = mapped_column(
        enum_column(EmailStatus, 10), default=EmailStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def absolute_url(endpoint: str, **values) -> str:
    """An absolute link for an email, on the configured ``BASE_URL``.

    Never built from the request (whose Host header the client chooses), so a link is the
    same from a page, the API or a scheduled job, and works outside a request.
    """
    app = current_app._get_current_object()
    base = urlsplit(app.config["BASE_URL"])
    adapter = app.url_map.bind(base.netloc, script_name=base.path.rstrip("/") or "/", url_scheme=base.scheme)
    app.inject_url_defaults(endpoint, values)
    anchor = values.pop("_anchor", None)
    url = adapter.build(endpoint, values, force_external=True)
    return f"{url}#{quote(anchor, safe='%!#$&()*+,/:;=?@')}" if anchor else url


def queue_email(recipient: str, subject: str, body: str) -> OutboundEmail:
    """Store a message in the current transaction and deliver it after commit."""
    message = OutboundEmail(recipient=recipient, subject=subject, body=body)
    db.session.add(message)
    db.session.flush()
    message_id = message.id
    after_commit(lambda: deliver_pending(ids=[message_id]))
    return message


def deliver_pending(ids: list[int] | None = None, limit: int = 100) -> int:
    """Send pending messages (all, or those in ``ids``); return how many went out.

    Each message is claimed with a conditional update first, so two processes never send
    the same message.
    """
    query = select(OutboundEmail.id).where(OutboundEmail.status == EmailStatus.PENDING)
    if ids is not None:
        query = query.where(OutboundEmail.id.in_(ids))
    candidate_ids = db.session.scalars(query.order_by(OutboundEmail.id).limit(limit)).all()
    sent = 0
    for message_id in candidate_ids:
        claimed = db.session.execute(
            update(OutboundEmail)
            .where(OutboundEmail.id == message_id, OutboundEmail.status == EmailStatus.PENDING)
            .values(status=EmailStatus.SENDING, attempts=OutboundEmail.attempts + 1)
        ).rowcount
        db.session.commit()
        if not claimed:
            continue
        message = db.session.get(OutboundEmail, message_id)
        try:
            _backend_send(message)
        except (OSError, smtplib.SMTPException) as error:
            current_app.logger.warning("mail %s not delivered: %s", message_id, error)
            message.status = EmailStatus.FAILED if message.attempts >= MAX_ATTEMPTS else EmailStatus.PENDING
            message.last_error = str(error)[:500]
        else:
            message.status = EmailStatus.SENT
            message.sent_at = utcnow()
            sent += 1
        db.session.commit()
    return sent


def _backend_send(message: OutboundEmail) -> None:
    """Hand one message to the configured backend."""
    config = current_app.config
    backend = config["MAIL_BACKEND"]
    if backend == "memory":
        current_app.extensions.setdefault("lms_mail_outbox", []).append(
            {"to": message.recipient, "subject": message.subject, "body": message.body}
        )
        return
    if backend == "console":
        current_app.logger.info("mail to %s: %s\n%s", message.recipient, message.subject, message.body)
        return
    email = EmailMessage()
    email["From"] = config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email.set_content(message.body)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(email)
