"""The outbox: delivery after commit, retries with backoff, stuck messages, pruning, backends."""

from __future__ import annotations

import datetime as dt
import email
import smtplib
import socket
from email import policy

import pytest
from sqlalchemy import func, select

from lms import mail
from lms.database import utcnow
from lms.mail import EmailStatus, OutboundEmail


def _closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_down(app, monkeypatch):
    """The mail server refuses connections."""
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", _closed_port())
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 2)


def _queue(db, count: int = 1, **values) -> list[OutboundEmail]:
    messages = [
        OutboundEmail(
            recipient=f"person{n}@example.org",
            subject=f"Subject {n}",
            body="Hello",
            next_attempt_at=utcnow(),
            **values,
        )
        for n in range(count)
    ]
    db.session.add_all(messages)
    db.session.commit()
    return messages


class TestDelivery:
    def test_a_message_queued_in_a_request_goes_out_after_the_commit(self, db, client, outbox, make_user):
        user = make_user()
        client.post("/account/reset", data={"email": user.email})
        assert [m["to"] for m in outbox] == [user.email]
        row = db.session.scalar(select(OutboundEmail).where(OutboundEmail.recipient == user.email))
        assert row.status == EmailStatus.SENT and row.attempts == 1 and row.sent_at is not None

    def test_the_job_sends_everything_due_in_batches(self, db, outbox, monkeypatch):
        monkeypatch.setattr(mail, "BATCH_SIZE", 3)
        _queue(db, 7)
        counts = mail.deliver_job(utcnow())
        assert counts["sent"] == 7 and len(outbox) == 7
        assert db.session.scalar(select(db.func.count()).where(OutboundEmail.status == EmailStatus.SENT)) == 7

    def test_a_message_not_yet_due_waits(self, db, outbox):
        _queue(db, 1, status=EmailStatus.PENDING)
        later = db.session.scalars(select(OutboundEmail)).one()
        later.next_attempt_at = utcnow() + dt.timedelta(minutes=5)
        db.session.commit()
        assert mail.deliver_job(utcnow())["sent"] == 0 and outbox == []

    def test_a_message_taken_by_another_process_is_not_sent_again(self, db, outbox):
        (message,) = _queue(db, 1)
        message.status = EmailStatus.SENDING
        message.claimed_at = utcnow()
        db.session.commit()
        assert mail.deliver_pending()["sent"] == 0 and outbox == []


class TestFailures:
    def test_an_unreachable_server_leaves_the_message_waiting_with_backoff(self, db, app, smtp_down):
        (message,) = _queue(db, 1)
        message_id = message.id
        before = utcnow()
        counts = mail.deliver_job(before)
        assert counts["retrying"] == 1 and counts["sent"] == 0
        message = db.session.get(OutboundEmail, message_id)
        assert message.status == EmailStatus.PENDING and message.attempts == 1
        assert "could not be reached" in message.last_error
        wait = message.next_attempt_at - before
        assert (
            dt.timedelta(seconds=app.config["MAIL_RETRY_SECONDS"])
            <= wait
            < dt.timedelta(seconds=app.config["MAIL_RETRY_SECONDS"] + 30)
        )

    def test_the_wait_doubles_up_to_an_hour(self, app):
        with app.app_context():
            waits = [mail.retry_delay(n).total_seconds() for n in range(1, 9)]
        base = app.config["MAIL_RETRY_SECONDS"]
        assert waits[:3] == [base, base * 2, base * 4]
        assert max(waits) == 3600 and waits == sorted(waits)

    def test_after_the_last_attempt_it_is_failed(self, db, app, smtp_down):
        (message,) = _queue(db, 1, attempts=app.config["MAIL_MAX_ATTEMPTS"] - 1)
        assert mail.deliver_job(utcnow())["failed"] == 1
        assert db.session.get(OutboundEmail, message.id).status == EmailStatus.FAILED

    @pytest.mark.parametrize(
        ("error", "expected"),
        [
            (smtplib.SMTPRecipientsRefused({"x@example.org": (550, b"No such user")}), EmailStatus.FAILED),
            (smtplib.SMTPRecipientsRefused({"x@example.org": (451, b"Try later")}), EmailStatus.PENDING),
            (smtplib.SMTPDataError(554, b"Rejected"), EmailStatus.FAILED),
            (smtplib.SMTPDataError(421, b"Busy"), EmailStatus.PENDING),
        ],
    )
    def test_a_permanent_refusal_fails_at_once_and_a_temporary_one_retries(
        self, db, monkeypatch, error, expected
    ):
        def refuse(_connection, _message):
            raise error

        monkeypatch.setattr(mail._Connection, "send", refuse)
        (message,) = _queue(db, 1)
        mail.deliver_job(utcnow())
        assert db.session.get(OutboundEmail, message.id).status == expected

    def test_one_bad_message_does_not_hold_up_the_rest(self, db, monkeypatch, outbox):
        first, second = _queue(db, 2)
        original = mail._Connection.send

        def refuse_first(connection, message):
            if message.id == first.id:
                raise smtplib.SMTPRecipientsRefused({message.recipient: (550, b"No such user")})
            original(connection, message)

        monkeypatch.setattr(mail._Connection, "send", refuse_first)
        counts = mail.deliver_job(utcnow())
        assert counts == {"sent": 1, "retrying": 0, "failed": 1, "put back": 0}
        assert [m["to"] for m in outbox] == [second.recipient]

    def test_a_message_that_cannot_be_built_fails_and_the_rest_go(self, db, monkeypatch, outbox):
        first, bad, last = _queue(db, 3)
        bad.subject = "Broken\r\nBcc: someone@example.org"
        db.session.commit()
        original = mail._Connection.send

        def build_first(connection, message):
            mail.build_message(message)  # the email library refuses the header: ValueError
            original(connection, message)

        monkeypatch.setattr(mail._Connection, "send", build_first)
        counts = mail.deliver_job(utcnow())
        assert counts["sent"] == 2 and counts["failed"] == 1
        assert sorted(m["to"] for m in outbox) == sorted([first.recipient, last.recipient])
        failed = db.session.get(OutboundEmail, bad.id)
        assert failed.status == EmailStatus.FAILED and "could not be built" in failed.last_error

    def test_what_one_transaction_queued_goes_out_over_one_connection(self, db, app, monkeypatch):
        connections = []
        original = mail._connect

        def counting_connect():
            connections.append(1)
            return original()

        monkeypatch.setattr(mail, "_connect", counting_connect)
        from lms.transactions import run_after_commit

        for n in range(5):
            mail.queue_email(f"p{n}@example.org", f"Reminder {n}", "Hello")
        db.session.commit()
        run_after_commit()
        assert len(connections) == 1
        assert db.session.scalar(select(func.count()).where(OutboundEmail.status == EmailStatus.SENT)) == 5

    def test_a_message_stuck_from_before_claims_were_timed_goes_back(self, db, outbox):
        (message,) = _queue(db, 1, status=EmailStatus.SENDING)
        assert message.claimed_at is None
        assert mail.deliver_job(utcnow())["put back"] == 1 and len(outbox) == 1

    def test_a_message_stuck_on_every_attempt_is_failed(self, db, app, outbox):
        long_ago = utcnow() - dt.timedelta(hours=1)
        attempts = app.config["MAIL_MAX_ATTEMPTS"]
        (message,) = _queue(db, 1, status=EmailStatus.SENDING, claimed_at=long_ago, attempts=attempts)
        mail.deliver_job(utcnow())
        assert db.session.get(OutboundEmail, message.id).status == EmailStatus.FAILED and outbox == []

    def test_a_message_stuck_while_sending_goes_back_and_is_sent(self, db, app, outbox):
        (message,) = _queue(db, 1)
        message.status = EmailStatus.SENDING
        message.claimed_at = utcnow() - dt.timedelta(seconds=app.config["MAIL_SENDING_TIMEOUT"] + 1)
        db.session.commit()
        counts = mail.deliver_job(utcnow())
        assert counts["put back"] == 1 and counts["sent"] == 1 and len(outbox) == 1

    def test_a_message_sending_for_less_than_the_timeout_stays(self, db, outbox):
        (message,) = _queue(db, 1)
        message.status = EmailStatus.SENDING
        message.claimed_at = utcnow() - dt.timedelta(seconds=30)
        db.session.commit()
        assert mail.deliver_job(utcnow())["put back"] == 0 and outbox == []

    def test_retry_sends_a_failed_message_again(self, db, outbox):
        (message,) = _queue(db, 1, status=EmailStatus.FAILED, attempts=10)
        assert mail.retry(message.id) is not None
        db.session.commit()
        mail.deliver_job(utcnow())
        assert len(outbox) == 1 and db.session.get(OutboundEmail, message.id).attempts == 1

    def test_retry_refuses_a_message_that_did_not_fail(self, db):
        (message,) = _queue(db, 1, status=EmailStatus.SENT)
        assert mail.retry(message.id) is None and mail.retry(10**6) is None


def test_pruning_deletes_old_sent_mail_only(db, app):
    old = utcnow() - dt.timedelta(days=app.config["MAIL_RETENTION_DAYS"] + 1)
    sent_old, sent_new, failed_old = _queue(db, 3)
    sent_old.status, sent_old.sent_at = EmailStatus.SENT, old
    sent_new.status, sent_new.sent_at = EmailStatus.SENT, utcnow()
    failed_old.status, failed_old.created_at = EmailStatus.FAILED, old
    db.session.commit()
    assert mail.prune_job(utcnow()) == {"deleted": 1}
    remaining = set(db.session.scalars(select(OutboundEmail.id)))
    assert remaining == {sent_new.id, failed_old.id}


class TestMessages:
    def test_the_file_backend_writes_an_eml_with_text_and_html(self, db, app, tmp_path, monkeypatch):
        monkeypatch.setitem(app.config, "MAIL_BACKEND", "file")
        monkeypatch.setitem(app.config, "MAIL_FILE_PATH", str(tmp_path))
        monkeypatch.setitem(app.config, "MAIL_REPLY_TO", "help@example.org")
        mail.queue_email("a@example.org", "Hello there", "Plain text", html="<p>Rich <b>text</b></p>")
        db.session.commit()
        mail.deliver_job(utcnow())
        (written,) = tmp_path.glob("*.eml")
        parsed = email.message_from_bytes(written.read_bytes(), policy=policy.default)
        assert parsed["To"] == "a@example.org" and parsed["Subject"] == "Hello there"
        assert parsed["Reply-To"] == "help@example.org" and parsed["Message-ID"]
        assert parsed.get_body(("plain",)).get_content().strip() == "Plain text"
        assert "<b>text</b>" in parsed.get_body(("html",)).get_content()

    def test_the_message_id_is_the_same_on_every_attempt(self, db, app):
        (message,) = _queue(db, 1)
        with app.test_request_context():
            assert mail.build_message(message)["Message-ID"] == mail.build_message(message)["Message-ID"]

    def test_starttls_and_implicit_tls_together_are_refused(self, app_config):
        from lms import create_app
        from lms.config import ConfigurationError

        with pytest.raises(ConfigurationError, match="not both"):
            create_app({**app_config, "MAIL_USE_TLS": True, "MAIL_USE_SSL": True})

    def test_production_refuses_a_backend_that_does_not_send(self, app_config):
        from lms import create_app
        from lms.config import ConfigurationError

        config = {**app_config, "ENV": "production", "SECRET_KEY": "x" * 40, "MAIL_BACKEND": "file"}
        with pytest.raises(ConfigurationError, match="MAIL_BACKEND"):
            create_app(config)
