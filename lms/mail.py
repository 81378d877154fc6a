"""Outgoing email through a transactional outbox.

A message is stored in the same transaction as the change that caused it, then delivered
once that transaction commits. Anything not delivered stays in the outbox for the delivery
job (every minute), which retries with exponential backoff up to ``MAIL_MAX_ATTEMPTS``,
puts back messages whose process died mid-send, and sends a backlog in batches over one
connection per batch. What is guaranteed is in ``docs/jobs.md``: each message is sent at
least once, and twice only when the mail server accepted it but its sending was not
recorded (the process died, or the database or the server's answer was lost, in that
instant); it is then sent again after ``MAIL_SENDING_TIMEOUT``, with the same Message-ID.
"""

from __future__ import annotations

import datetime as dt
import enum
import smtplib
import ssl
from contextlib import ExitStack
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

from flask import current_app
from sqlalchemy import String, Text, and_, delete, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from lms.database import UTCDateTime, enum_column, utcnow
from lms.extensions import db
from lms.jobs.runner import keep_going
from lms.transactions import after_commit_shared

#: Messages claimed and sent per batch (one SMTP connection each).
BATCH_SIZE = 100
#: The most a delivery run sends before it ends (the next run carries on).
RUN_BUDGET = dt.timedelta(seconds=50)


class EmailStatus(enum.StrEnum):
    """Where a message is in delivery."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """Human name."""
        return {"pending": "Waiting", "sending": "Being sent"}.get(self.value, self.value.capitalize())


class OutboundEmail(db.Model):
    """One message to one recipient."""

    __tablename__ = "outbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: The HTML alternative of ``body``, when there is one.
    html_body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[EmailStatus] = mapped_column(
        enum_column(EmailStatus, 10), default=EmailStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Not sent before this time: a failed attempt waits longer after each failure.
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When a process took it for sending; a message ``sending`` for too long goes back.
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (db.Index("ix_outbound_emails_status_next_attempt_at", "status", "next_attempt_at"),)


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


def absolute_path_url(path: str) -> str:
    """``path`` (a path inside lms, such as a notification's link) on the configured ``BASE_URL``."""
    base = current_app.config["BASE_URL"].rstrip("/") + "/"
    return urljoin(base, path.lstrip("/"))


def queue_email(recipient: str, subject: str, body: str, html: str | None = None) -> OutboundEmail:
    """Store a message in the current transaction and try to deliver it after commit."""
    message = OutboundEmail(
        recipient=recipient, subject=subject, body=body, html_body=html, next_attempt_at=utcnow()
    )
    db.session.add(message)
    db.session.flush()
    # One delivery after the commit for every message the transaction queued: one connection
    # to the server for a job's hundred reminders, not a hundred.
    after_commit_shared(_DeliverAfterCommit).ids.append(message.id)
    return message


class _DeliverAfterCommit:
    """The after-commit callback that sends what one transaction queued (dropped on rollback)."""

    def __init__(self):
        self.ids: list[int] = []

    def __call__(self) -> None:
        deliver_pending(ids=self.ids)


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failure: ``MAIL_RETRY_SECONDS``, doubling, at most an hour."""
    base = current_app.config["MAIL_RETRY_SECONDS"]
    return dt.timedelta(seconds=min(base * 2 ** max(0, attempts - 1), 3600))


def deliver_pending(ids: list[int] | None = None, now: dt.datetime | None = None) -> dict:
    """Send the messages that are due (all, or those in ``ids``), in batches; return counts.

    Each batch is claimed first with one conditional update (``pending`` to ``sending``,
    committed), so no two processes send the same message; each message's outcome is
    committed as soon as the server answers. Stops early when the run's budget is spent or
    the scheduler lost its lock.
    """
    now = now or utcnow()
    started = utcnow()
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    last_id = 0
    while keep_going() and utcnow() - started < RUN_BUDGET:
        batch = _claim_batch(ids, now, after_id=last_id)
        if not batch:
            break
        last_id = batch[-1]
        if not _send_batch(batch, counts):
            break
    return counts


def _claim_batch(ids: list[int] | None, now: dt.datetime, after_id: int) -> list[int]:
    """Mark up to :data:`BATCH_SIZE` due messages ``sending`` for this process; return their ids."""
    query = select(OutboundEmail.id).where(
        OutboundEmail.status == EmailStatus.PENDING,
        OutboundEmail.next_attempt_at <= now,
        OutboundEmail.id > after_id,
    )
    if ids is not None:
        query = query.where(OutboundEmail.id.in_(ids))
    candidates = db.session.scalars(query.order_by(OutboundEmail.id).limit(BATCH_SIZE)).all()
    if not candidates:
        return []
    claimed = db.session.scalars(
        update(OutboundEmail)
        .where(OutboundEmail.id.in_(candidates), OutboundEmail.status == EmailStatus.PENDING)
        .values(status=EmailStatus.SENDING, claimed_at=utcnow(), attempts=OutboundEmail.attempts + 1)
        .returning(OutboundEmail.id)
    ).all()
    db.session.commit()
    if not claimed:
        # Another process took all of these meanwhile: look further along.
        return _claim_batch(ids, now, after_id=candidates[-1])
    return sorted(claimed)


def _send_batch(message_ids: list[int], counts: dict) -> bool:
    """Send claimed messages over one connection, committing each outcome as it comes.

    Returns false when the mail server cannot be reached: the rest of the batch then waits
    for its next attempt, and the run stops.
    """
    # Committed rows are held weakly by the session, so a long backlog is not kept in memory.
    with ExitStack() as stack:
        connection = None
        for position, message_id in enumerate(message_ids):
            message = db.session.get(OutboundEmail, message_id)
            try:
                if connection is None:
                    connection = stack.enter_context(_connect())
            except (OSError, smtplib.SMTPException) as error:
                reason = f"The mail server could not be reached: {error or type(error).__name__}"
                for waiting_id in message_ids[position:]:
                    _record_failure(
                        db.session.get(OutboundEmail, waiting_id), reason, counts, is_permanent=False
                    )
                db.session.commit()
                return False
            try:
                connection.send(message)
            except smtplib.SMTPResponseException as error:
                # 5xx: the server will never take it (an unknown address); 4xx: try again later.
                is_permanent = 500 <= error.smtp_code < 600
                _record_failure(message, f"{error.smtp_code} {_text(error.smtp_error)}", counts, is_permanent)
            except smtplib.SMTPRecipientsRefused as error:
                codes = [code for code, _reply in error.recipients.values()]
                replies = "; ".join(f"{code} {_text(reply)}" for code, reply in error.recipients.values())
                _record_failure(message, replies, counts, is_permanent=all(code >= 500 for code in codes))
            except (OSError, smtplib.SMTPException) as error:
                _record_failure(message, str(error) or type(error).__name__, counts, is_permanent=False)
                # The connection may be broken: the next message opens a new one.
                stack.close()
                connection = None
            except Exception as error:
                # It cannot be built (a bad header, say) and would fail the same way every
                # time: fail it, and send the rest of the batch.
                reason = f"The message could not be built: {error}"
                _record_failure(message, reason, counts, is_permanent=True)
            else:
                message.status = EmailStatus.SENT
                message.sent_at = utcnow()
                message.last_error = None
                counts["sent"] += 1
            db.session.commit()
    return True


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _record_failure(message: OutboundEmail, error: str, counts: dict, is_permanent: bool) -> None:
    current_app.logger.warning("mail %s to %s not delivered: %s", message.id, message.recipient, error)
    message.last_error = error[:500]
    if is_permanent or message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        message.status = EmailStatus.FAILED
        counts["failed"] += 1
    else:
        message.status = EmailStatus.PENDING
        message.next_attempt_at = utcnow() + retry_delay(message.attempts)
        counts["retrying"] += 1


def release_stuck(now: dt.datetime) -> int:
    """Put back messages left ``sending`` longer than ``MAIL_SENDING_TIMEOUT`` (their process died).

    A message claimed before claims were timed (no ``claimed_at``) counts as stuck. One that
    has used up its attempts this way (it takes its process down each time, say) is failed.
    """
    cutoff = now - dt.timedelta(seconds=current_app.config["MAIL_SENDING_TIMEOUT"])
    is_stuck = and_(
        OutboundEmail.status == EmailStatus.SENDING,
        or_(OutboundEmail.claimed_at.is_(None), OutboundEmail.claimed_at < cutoff),
    )
    db.session.execute(
        update(OutboundEmail)
        .where(is_stuck, OutboundEmail.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"])
        .values(status=EmailStatus.FAILED, last_error="Its sending process stopped on every attempt.")
    )
    return db.session.execute(
        update(OutboundEmail).where(is_stuck).values(status=EmailStatus.PENDING, next_attempt_at=now)
    ).rowcount


def deliver_job(now: dt.datetime) -> dict:
    """The delivery job: put back stuck messages, then send everything due."""
    released = release_stuck(now)
    db.session.commit()
    counts = deliver_pending(now=now)
    return {**counts, "put back": released}


def prune_job(now: dt.datetime) -> dict:
    """Delete sent messages older than ``MAIL_RETENTION_DAYS`` (failed ones stay for admins)."""
    cutoff = now - dt.timedelta(days=current_app.config["MAIL_RETENTION_DAYS"])
    deleted = db.session.execute(
        delete(OutboundEmail).where(OutboundEmail.status == EmailStatus.SENT, OutboundEmail.sent_at < cutoff)
    ).rowcount
    return {"deleted": deleted}


def retry(message_id: int) -> OutboundEmail | None:
    """Send a failed message again from the start (an admin's "retry"); ``None`` if not failed."""
    message = db.session.get(OutboundEmail, message_id)
    if message is None or message.status != EmailStatus.FAILED:
        return None
    message.status = EmailStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = utcnow()
    db.session.flush()
    after_commit_shared(_DeliverAfterCommit).ids.append(message_id)
    return message


def outbox_query(status: EmailStatus | None = None):
    """Messages, newest first, optionally of one status (for the admin's outbox page)."""
    statement = select(OutboundEmail).order_by(OutboundEmail.id.desc())
    if status is not None:
        statement = statement.where(OutboundEmail.status == status)
    return statement


def outbox_counts() -> dict[EmailStatus, int]:
    """How many messages are in each status."""
    rows = db.session.execute(
        select(OutboundEmail.status, db.func.count()).group_by(OutboundEmail.status)
    ).all()
    return dict.fromkeys(EmailStatus, 0) | dict(rows)


# -- backends -------------------------------------------------------------------------------


def build_message(message: OutboundEmail) -> EmailMessage:
    """The RFC 5322 message for an outbox row: plain text, with an HTML alternative if any."""
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    # The same id on every attempt, so a receiving system can drop a duplicate.
    domain = urlsplit(config["BASE_URL"]).hostname or "lms.local"
    email["Message-ID"] = f"<lms.outbox.{message.id}.{int(message.created_at.timestamp())}@{domain}>"
    if config["MAIL_REPLY_TO"]:
        email["Reply-To"] = config["MAIL_REPLY_TO"]
    email.set_content(message.body)
    if message.html_body:
        email.add_alternative(message.html_body, subtype="html")
    return email


class _Connection:
    """One open line to the configured backend, sending messages one by one."""

    def __init__(self, backend: str, smtp: smtplib.SMTP | None = None):
        self.backend = backend
        self.smtp = smtp

    def send(self, message: OutboundEmail) -> None:
        config = current_app.config
        if self.backend == "memory":
            current_app.extensions.setdefault("lms_mail_outbox", []).append(
                {
                    "to": message.recipient,
                    "subject": message.subject,
                    "body": message.body,
                    "html": message.html_body,
                }
            )
        elif self.backend == "console":
            current_app.logger.info("mail to %s: %s\n%s", message.recipient, message.subject, message.body)
        elif self.backend == "file":
            folder = Path(config["MAIL_FILE_PATH"])
            folder.mkdir(parents=True, exist_ok=True)
            stamp = utcnow().strftime("%Y%m%d-%H%M%S")
            (folder / f"{stamp}-{message.id}.eml").write_bytes(bytes(build_message(message)))
        else:
            self.smtp.send_message(build_message(message))


class _connect:
    """Open a connection to the configured backend for one batch (SMTP: login once)."""

    def __enter__(self) -> _Connection:
        config = current_app.config
        backend = config["MAIL_BACKEND"]
        if backend != "smtp":
            return _Connection(backend)
        timeout = config["MAIL_TIMEOUT"]
        if config["MAIL_USE_SSL"]:
            smtp = smtplib.SMTP_SSL(
                config["MAIL_SERVER"],
                config["MAIL_PORT"],
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
        try:
            if config["MAIL_USE_TLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        except BaseException:
            smtp.close()
            raise
        self.smtp = smtp
        return _Connection(backend, smtp)

    def __exit__(self, *exc) -> None:
        smtp = getattr(self, "smtp", None)
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
