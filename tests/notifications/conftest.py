"""Notification kinds for the tests, and a factory of notifications."""

from __future__ import annotations

import itertools

import pytest

from lms.notifications import kinds

#: Emailed unless the person turns it off.
REMINDER = kinds.NotificationKind("test_reminder", "Test reminders", "Sent by the tests, emailed by default.")
#: Not emailed unless the person turns it on.
DIGEST = kinds.NotificationKind(
    "test_digest", "Test digests", "Sent by the tests, not emailed by default.", is_emailed_by_default=False
)
#: Always emailed.
DECISION = kinds.NotificationKind(
    "test_decision", "Test decisions", "Sent by the tests, always emailed.", is_essential=True
)

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def test_kinds(app):
    """Register the test kinds on the (session-wide) app; registering the same kind again is harmless."""
    for kind in (REMINDER, DIGEST, DECISION):
        kinds.add_kind(app, kind)
    return REMINDER, DIGEST, DECISION


@pytest.fixture
def make_notification(db, test_kinds):
    """Factory: ``make_notification(user, title=..., link=..., kind=...)`` notifies ``user`` once."""
    from lms.notifications.services import notify

    def make(user, *, kind: str = REMINDER.name, title: str | None = None, text: str = "", link: str = ""):
        n = next(_counter)
        notification = notify(
            user, kind, about=f"test-{n}", title=title or f"Notification {n}", text=text, link=link
        )
        assert notification is not None
        return notification

    return make
