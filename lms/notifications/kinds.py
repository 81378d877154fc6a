"""The kinds of notification: each area registers its own, with a name people read.

A kind says whether it is *essential* (always emailed, the person cannot turn it off: a
password reset, marks released, an award decision) and whether people get it by email
unless they choose otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from lms.permissions import Role


@dataclass(frozen=True)
class NotificationKind:
    """One kind of notification."""

    name: str
    #: What the preferences page calls it, e.g. "Reminders before a cohort starts".
    label: str
    #: Who gets it and when, for the preferences page.
    description: str
    is_essential: bool = False
    is_emailed_by_default: bool = True
    #: False for email-only messages that must not sit in the app (a password reset link).
    is_in_app: bool = True
    #: The roles of the people it is sent to; empty: anyone. The preferences page shows a
    #: person only the kinds they can receive.
    roles: frozenset[Role] = frozenset()

    def is_for(self, user) -> bool:
        """Whether ``user`` can receive this kind (holds one of its roles, or it has none)."""
        return not self.roles or bool(self.roles & user.role_names)


def add_kind(app: Flask, kind: NotificationKind) -> None:
    """Register a kind (an area calls this from its ``init_app``)."""
    kinds = app.extensions.setdefault("lms_notification_kinds", {})
    if kind.name in kinds and kinds[kind.name] != kind:
        raise ValueError(f"notification kind {kind.name!r} is registered twice")
    kinds[kind.name] = kind


def get_kind(name: str) -> NotificationKind:
    """The registered kind called ``name``.

    :raises KeyError: for a kind nobody registered (a programming error).
    """
    return current_app.extensions.get("lms_notification_kinds", {})[name]


def all_kinds(user=None) -> list[NotificationKind]:
    """Every registered kind (those ``user`` can receive, given one): essential first, then by label."""
    kinds = current_app.extensions.get("lms_notification_kinds", {}).values()
    if user is not None:
        kinds = [k for k in kinds if k.is_for(user)]
    return sorted(kinds, key=lambda k: (not k.is_essential, k.label))


STORAGE_MISMATCH = NotificationKind(
    "storage_mismatch",
    "Stored files that fail their check",
    "To administrators, when the weekly check finds a stored file missing or changed.",
    roles=frozenset({Role.ADMIN}),
)
PASSWORD_RESET = NotificationKind(
    "password_reset",
    "Password reset and invitation links",
    "When you or an administrator asks for a link to set your password. Sent by email only.",
    is_essential=True,
    is_in_app=False,
)


def init_app(app: Flask) -> None:
    """Register the kinds the shared services send."""
    add_kind(app, STORAGE_MISMATCH)
    add_kind(app, PASSWORD_RESET)
