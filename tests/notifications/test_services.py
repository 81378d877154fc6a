"""notify() and the rest of the notification services, without a client."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lms import mail
from lms.audit import AuditEntry
from lms.errors import NotFound
from lms.mail import OutboundEmail
from lms.notifications import kinds, services
from lms.notifications.models import Notification, NotificationPreference
from tests.notifications.conftest import DECISION, DIGEST, REMINDER

EMAIL_ONLY = kinds.NotificationKind(
    "test_email_only", "Test email-only links", "Sent by the tests, by email only.", is_in_app=False
)


def _emails(db, to: str | None = None) -> list[OutboundEmail]:
    query = select(OutboundEmail).order_by(OutboundEmail.id)
    if to is not None:
        query = query.where(OutboundEmail.recipient == to)
    return list(db.session.scalars(query))


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


class TestNotify:
    def test_the_same_key_notifies_once_however_often_it_is_called(self, db, make_user, test_kinds):
        user = make_user()
        first = services.notify(user, REMINDER.name, about="cohort-4", occasion="2026-12-09/7", title="Soon")
        again = services.notify(user, REMINDER.name, about="cohort-4", occasion="2026-12-09/7", title="Soon")
        assert first is not None and again is None
        assert _count(db, Notification) == 1
        assert len(_emails(db)) == 1  # and it is emailed once
        assert first.key == f"test_reminder:cohort-4:user-{user.id}:2026-12-09/7"

    def test_another_occasion_or_person_is_another_notification(self, db, make_user, test_kinds):
        user, other = make_user(), make_user()
        services.notify(user, REMINDER.name, about="cohort-4", occasion="7", title="In a week")
        services.notify(user, REMINDER.name, about="cohort-4", occasion="1", title="Tomorrow")
        services.notify(other, REMINDER.name, about="cohort-4", occasion="1", title="Tomorrow")
        assert _count(db, Notification) == 3

    def test_it_is_unread_with_its_title_text_and_link(self, db, make_user, test_kinds):
        user = make_user()
        notification = services.notify(
            user, REMINDER.name, about="c", title="T" * 300, text="x" * 2000, link="/courses/4"
        )
        assert notification.read_at is None and not notification.is_read
        assert notification.user_id == user.id and notification.kind == REMINDER.name
        assert len(notification.title) == services.MAX_TITLE and len(notification.text) == services.MAX_TEXT
        assert notification.link == "/courses/4"

    @pytest.mark.parametrize(
        "link",
        [
            "https://example.org/",
            "//example.org/x",
            "/\\example.org/x",
            "/courses/4\\..",
            "/courses/4\nX-Header: 1",
            "javascript:alert(1)",
            "/" * 501,
        ],
    )
    def test_a_link_must_be_a_path_inside_lms(self, db, make_user, test_kinds, link):
        with pytest.raises(ValueError, match="path inside lms"):
            services.notify(make_user(), REMINDER.name, about="c", title="T", link=link)
        assert _count(db, Notification) == 0

    def test_a_title_is_one_line_because_it_becomes_a_subject(self, db, make_user, test_kinds):
        notification = services.notify(make_user(), REMINDER.name, about="c", title="Line one\r\nBcc: x@y")
        assert notification.title == "Line one Bcc: x@y"

    def test_long_keys_stay_unique(self, db, make_user, test_kinds):
        user = make_user()
        long = "x" * 300
        first = services.notify(user, REMINDER.name, about=long, occasion="1", title="T")
        second = services.notify(user, REMINDER.name, about=long, occasion="2", title="T")
        assert first is not None and second is not None and first.key != second.key
        assert len(first.key) == services.MAX_KEY

    def test_an_unknown_kind_is_a_programming_error(self, db, make_user, test_kinds):
        with pytest.raises(KeyError):
            services.notify(make_user(), "no_such_kind", about="c", title="T")


class TestEmail:
    def test_a_kind_emailed_by_default_is_emailed(self, db, make_user, test_kinds):
        user = make_user()
        services.notify(user, REMINDER.name, about="c", title="A reminder")
        [email] = _emails(db)
        assert (email.recipient, email.subject) == (user.email, "A reminder")

    def test_a_kind_not_emailed_by_default_is_not(self, db, make_user, test_kinds):
        services.notify(make_user(), DIGEST.name, about="c", title="A digest")
        assert _emails(db) == []

    def test_the_persons_choice_wins_over_the_default(self, db, make_user, test_kinds):
        user = make_user()
        services.set_email_choices(user, user, {DIGEST.name})  # digests on, reminders off
        services.notify(user, REMINDER.name, about="c", title="A reminder")
        services.notify(user, DIGEST.name, about="c", title="A digest")
        assert [e.subject for e in _emails(db)] == ["A digest"]

    def test_essential_kinds_are_always_emailed(self, db, make_user, test_kinds):
        user = make_user()
        # Even a stored "no" (which the page cannot save) does not stop an essential kind.
        db.session.add(NotificationPreference(user_id=user.id, kind=DECISION.name, is_emailed=False))
        services.set_email_choices(user, user, set())
        services.notify(user, DECISION.name, about="award-1", title="Your award")
        [email] = _emails(db)
        assert email.subject == "Your award"
        assert services.is_emailed(user.id, DECISION.name)

    def test_the_email_has_a_text_and_an_html_part(self, app, db, make_user, test_kinds, outbox):
        user = make_user(name="Ada <Lovelace>")
        services.notify(
            user,
            REMINDER.name,
            about="c",
            title="Starts <soon> & more",
            text="Bring a pen.",
            link="/courses/4",
        )
        [row] = _emails(db)
        message = mail.build_message(row)
        assert message.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]

        mail.deliver_pending()
        [sent] = outbox
        assert sent["to"] == user.email and sent["subject"] == "Starts <soon> & more"
        text, html = sent["body"], sent["html"]
        assert "Hello Ada <Lovelace>," in text and "Bring a pen." in text
        assert "Open it in lms: http://lms.test/courses/4" in text
        assert "http://lms.test/notifications/preferences" in text
        # The HTML part is escaped, has a language and a link that says where it goes.
        assert '<html lang="en-GB">' in html
        assert "Ada &lt;Lovelace&gt;" in html and "<Lovelace>" not in html
        assert "Starts &lt;soon&gt; &amp; more" in html
        assert (
            '<a href="http://lms.test/courses/4"' in html
            and "Open “Starts &lt;soon&gt; &amp; more” in lms" in html
        )
        assert 'href="http://lms.test/notifications/preferences"' in html

    def test_an_essential_email_has_no_preferences_link_and_no_link_without_one(
        self, db, make_user, test_kinds
    ):
        user = make_user()
        services.notify(user, DECISION.name, about="award-1", title="Your award")
        [row] = _emails(db)
        assert "preferences" not in row.body and "preferences" not in row.html_body
        assert "always sent by email" in row.body and "always sent by email" in row.html_body
        assert "Open it in lms" not in row.body and "<a " not in row.html_body


class TestEmailOnlyKinds:
    @pytest.fixture(autouse=True)
    def _kind(self, app):
        kinds.add_kind(app, EMAIL_ONLY)

    def test_it_is_stored_read_and_shown_nowhere(self, db, make_user, test_kinds):
        user = make_user()
        notification = services.notify(user, EMAIL_ONLY.name, about="reset", title="Set your password")
        assert notification.is_read
        assert len(_emails(db)) == 1
        assert services.unread_count(user) == 0
        assert services.notifications_for(user, 1).items == []
        with pytest.raises(NotFound):
            services.get_own(user, notification.id)


class TestChoices:
    def test_defaults_until_chosen(self, db, make_user, test_kinds):
        choices = services.email_choices(make_user())
        assert choices[REMINDER.name] is True and choices[DIGEST.name] is False
        assert DECISION.name not in choices  # essential: not a choice

    def test_saving_stores_every_optional_kind_and_audits_the_change(self, db, make_user, test_kinds):
        user, actor = make_user(), make_user()
        changed = services.set_email_choices(actor, user, {DIGEST.name, DECISION.name, "nonsense"})
        ours = {REMINDER.name, DIGEST.name}  # other areas' kinds are registered too

        def only_ours(choices: dict) -> dict:
            return {name: value for name, value in choices.items() if name in ours}

        assert only_ours(changed) == {REMINDER.name: False, DIGEST.name: True}
        choices = services.email_choices(user)
        assert choices[REMINDER.name] is False and choices[DIGEST.name] is True
        rows = db.session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
        assert {r.kind for r in rows} == set(choices)  # no row for an essential or unknown kind
        [entry] = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "notification_preferences.changed")
        )
        assert (entry.actor_id, entry.subject_type, entry.subject_id) == (actor.id, "users", user.id)
        assert only_ours(entry.before["emailed"]) == {REMINDER.name: True, DIGEST.name: False}
        assert entry.after["emailed"] == changed

    def test_saving_the_same_choices_again_changes_and_audits_nothing(self, db, make_user, test_kinds):
        user = make_user()
        services.set_email_choices(user, user, {DIGEST.name})
        assert services.set_email_choices(user, user, {DIGEST.name}) == {}
        count = db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "notification_preferences.changed")
        )
        assert count == 1


class TestReading:
    def test_the_list_is_the_persons_own_newest_first(self, db, make_user, make_notification):
        user, other = make_user(), make_user()
        first, second = make_notification(user, title="First"), make_notification(user, title="Second")
        make_notification(other)
        page = services.notifications_for(user, 1)
        assert [n.id for n in page.items] == [second.id, first.id]
        assert page.total == 2

    def test_the_list_pages_and_filters_unread(self, db, make_user, make_notification):
        user = make_user()
        made = [make_notification(user) for _ in range(5)]
        services.mark_read(user, made[0].id)
        page = services.notifications_for(user, 2, per_page=2)
        assert [n.id for n in page.items] == [made[2].id, made[1].id] and page.pages == 3
        unread = services.notifications_for(user, 1, per_page=10, is_unread=True)
        assert [n.id for n in unread.items] == [m.id for m in reversed(made[1:])]

    def test_unread_count_and_marking_read(self, db, make_user, make_notification):
        user, other = make_user(), make_user()
        mine = [make_notification(user) for _ in range(3)]
        theirs = make_notification(other)
        assert services.unread_count(user) == 3
        marked = services.mark_read(user, mine[0].id)
        assert marked.is_read and services.unread_count(user) == 2
        read_at = marked.read_at
        assert services.mark_read(user, mine[0].id).read_at == read_at  # again: unchanged
        assert services.mark_all_read(user) == 2
        assert services.unread_count(user) == 0 and services.mark_all_read(user) == 0
        db.session.expire_all()
        assert db.session.get(Notification, theirs.id).read_at is None
        assert services.unread_count(other) == 1

    def test_someone_elses_notification_is_not_found(self, db, make_user, make_notification):
        owner, stranger = make_user(), make_user()
        notification = make_notification(owner)
        for action in (services.get_own, services.mark_read):
            with pytest.raises(NotFound):
                action(stranger, notification.id)
        with pytest.raises(NotFound):
            services.get_own(owner, notification.id + 1000)
        assert db.session.get(Notification, notification.id).read_at is None
