"""Notify people: one record per message, shown in the app and, by their choice, emailed.

Every area calls :func:`notify`. A notification carries a unique key (kind, subject,
recipient, occasion); the insert tolerates a clash with an existing key and then does
nothing more, so a job run twice, by two schedulers or after a crash creates nothing twice,
and emails nothing twice. Functions flush and never commit.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from sqlalchemy import func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from lms import audit
from lms.database import utcnow
from lms.errors import NotFound
from lms.extensions import db
from lms.mail import absolute_path_url, queue_email
from lms.notifications.kinds import all_kinds, get_kind
from lms.notifications.models import Notification, NotificationPreference
from lms.pagination import Page, paginate

#: Longest title and text kept (the columns' lengths).
MAX_TITLE, MAX_TEXT = 200, 1000
#: Longest link (the column's length); a link is never cut short.
MAX_LINK = 500
#: Longest key (the column's length).
MAX_KEY = 250


def notification_key(kind: str, about: str, recipient_id: int, occasion: str = "") -> str:
    """The unique key of a notification, e.g. ``cohort_starting:cohort-4:user-9:2026-12-09-7d``.

    A key too long for its column ends in a digest of the whole, so two long keys never clash.
    """
    key = f"{kind}:{about}:user-{recipient_id}:{occasion}"
    if len(key) <= MAX_KEY:
        return key
    return key[: MAX_KEY - 65] + "#" + hashlib.sha256(key.encode()).hexdigest()


def already_notified(keys) -> set[str]:
    """Which of these notification keys exist: one query, so a job skips what it sent before.

    Only an optimisation: :func:`notify` itself never creates a key twice.
    """
    keys = list(set(keys))
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        found.update(
            db.session.scalars(
                select(Notification.key).where(Notification.key.in_(keys[start : start + 500]))
            )
        )
    return found


def notify(
    recipient,
    kind: str,
    *,
    about: str,
    occasion: str = "",
    title: str,
    text: str = "",
    link: str = "",
) -> Notification | None:
    """Notify ``recipient`` once for (``kind``, ``about``, ``occasion``); return it, or ``None`` if it exists.

    ``about`` names the subject (``cohort-4``), ``occasion`` what makes this one distinct
    (a due date); ``link`` is a path inside lms. The email, if the person gets this kind by
    email, is queued in the same transaction.

    :raises ValueError: for a ``link`` that is not a path inside lms (a programming error).
    """
    definition = get_kind(kind)
    # Not "//host" nor "/\host" (browsers read both as another site), nor control characters.
    if link and (
        not link.startswith("/")
        or link.startswith("//")
        or "\\" in link
        or not link.isprintable()
        or len(link) > MAX_LINK
    ):
        raise ValueError(f"a notification's link is a path inside lms, not {link!r}")
    key = notification_key(kind, about, recipient.id, occasion)
    values = {
        "user_id": recipient.id,
        "kind": kind,
        "key": key,
        # One line: it becomes an email's subject.
        "title": " ".join(title.split())[:MAX_TITLE],
        "text": text[:MAX_TEXT],
        "link": link,
        "created_at": utcnow(),
        "read_at": None if definition.is_in_app else utcnow(),
    }
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Notification)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Notification.id)
    )
    notification_id = db.session.scalar(statement)
    if notification_id is None:
        return None
    notification = db.session.get(Notification, notification_id)
    if definition.is_essential or is_emailed(recipient.id, kind):
        _email(recipient, notification, definition.is_essential)
    return notification


def _email(recipient, notification: Notification, is_essential: bool) -> None:
    """Queue the email of ``notification``, with a plain-text and an HTML part."""
    context = {
        "recipient": recipient,
        "notification": notification,
        "link": absolute_path_url(notification.link) if notification.link else None,
        "preferences": None if is_essential else absolute_path_url("/notifications/preferences"),
    }
    queue_email(
        recipient.email,
        notification.title,
        _render("email/notification.txt", context),
        html=_render("email/notification.html", context),
    )


def _render(template: str, context: dict) -> str:
    """Render an email template with ``context`` alone.

    Not ``flask.render_template``: a scheduled job notifies outside any request, and the
    layout's context processors read the request. The ``.html`` template is autoescaped.
    """
    return current_app.jinja_env.get_template(template).render(**context)


def is_emailed(user_id: int, kind: str) -> bool:
    """Whether the person gets ``kind`` by email: their choice, or the kind's default."""
    definition = get_kind(kind)
    if definition.is_essential:
        return True
    chosen = db.session.scalar(
        select(NotificationPreference.is_emailed).where(
            NotificationPreference.user_id == user_id, NotificationPreference.kind == kind
        )
    )
    return definition.is_emailed_by_default if chosen is None else chosen


def email_choices(user) -> dict[str, bool]:
    """For every kind a person may turn off, whether they get it by email (one query)."""
    chosen = dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.is_emailed).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )
    return {
        k.name: chosen.get(k.name, k.is_emailed_by_default) for k in all_kinds(user) if not k.is_essential
    }


def set_email_choices(actor, user, emailed: set[str]) -> dict[str, bool]:
    """Email ``user`` the optional kinds in ``emailed`` and not the others; return what changed.

    Every optional kind gets a row (the person chose, so a later change of a kind's default
    does not override them); essential kinds, kinds not for this person and unknown names in
    ``emailed`` are ignored.
    A change is audited; saving the same choices again records nothing.
    """
    rows = {
        row.kind: row
        for row in db.session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    before, after = {}, {}
    for kind in all_kinds(user):
        if kind.is_essential:
            continue
        row = rows.get(kind.name)
        was = kind.is_emailed_by_default if row is None else row.is_emailed
        wanted = kind.name in emailed
        if row is None:
            db.session.add(NotificationPreference(user_id=user.id, kind=kind.name, is_emailed=wanted))
        else:
            row.is_emailed = wanted
        if wanted != was:
            before[kind.name], after[kind.name] = was, wanted
    if after:
        audit.record(
            actor,
            "notification_preferences.changed",
            user,
            before={"emailed": before},
            after={"emailed": after},
        )
    db.session.flush()
    return after


def _email_only() -> set[str]:
    """The kinds sent by email only: stored read, with no place in the list nor in the API."""
    return {k.name for k in all_kinds() if not k.is_in_app}


def _in_app():
    """A condition leaving out the email-only kinds."""
    email_only = _email_only()
    return Notification.kind.not_in(sorted(email_only)) if email_only else true()


def notifications_for(user, page: int, per_page: int = 20, *, is_unread: bool = False) -> Page:
    """A person's notifications, newest first (only the unread ones if asked)."""
    statement = select(Notification).where(Notification.user_id == user.id, _in_app())
    if is_unread:
        statement = statement.where(Notification.read_at.is_(None))
    return paginate(statement.order_by(Notification.id.desc()), page, per_page)


def unread_count(user) -> int:
    """How many notifications the person has not read (one query)."""
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )


def get_own(user, notification_id: int) -> Notification:
    """One of the person's own notifications.

    :raises NotFound: when it does not exist or is someone else's.
    """
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id or notification.kind in _email_only():
        raise NotFound("There is no such notification.")
    return notification


def mark_read(user, notification_id: int) -> Notification:
    """Mark one of the person's notifications read (again is harmless).

    :raises NotFound: when it does not exist or is someone else's.
    """
    notification = get_own(user, notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.flush()
    return notification


def mark_all_read(user) -> int:
    """Mark every unread notification of the person read; return how many."""
    return db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    ).rowcount
