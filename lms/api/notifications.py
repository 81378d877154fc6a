"""API for the caller's own notifications: the list, the unread count and marking them read.

Thin handlers over :mod:`lms.notifications.services`, with the caller as the person: someone
else's notification answers 404, as if it did not exist.
"""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint

from lms.api.notifications_schemas import (
    MarkedSchema,
    NotificationPageSchema,
    NotificationQuerySchema,
    NotificationSchema,
    UnreadCountSchema,
)
from lms.api.schemas import page_body
from lms.notifications import services
from lms.permissions import authenticated

blp = Blueprint(
    "api_notifications",
    __name__,
    url_prefix="/api/v1/notifications",
    description="The caller's notifications.",
)


@blp.route("", methods=["GET"])
@blp.arguments(NotificationQuerySchema, location="query")
@blp.response(200, NotificationPageSchema)
@authenticated
def list_notifications(query):
    """The caller's notifications, newest first (`unread=true`: the unread ones only)."""
    page = services.notifications_for(
        current_user, query["page"], query["per_page"], is_unread=query["unread"]
    )
    return page_body(page)


@blp.route("/unread-count", methods=["GET"])
@blp.response(200, UnreadCountSchema)
@authenticated
def unread_count():
    """How many notifications the caller has not read (for a badge: one query)."""
    return {"unread": services.unread_count(current_user)}


@blp.route("/<int:notification_id>/read", methods=["POST"])
@blp.response(200, NotificationSchema)
@authenticated
def mark_read(notification_id: int):
    """Mark one of the caller's notifications read (again changes nothing)."""
    return services.mark_read(current_user, notification_id)


@blp.route("/read-all", methods=["POST"])
@blp.response(200, MarkedSchema)
@authenticated
def mark_all_read():
    """Mark every unread notification of the caller read."""
    return {"marked": services.mark_all_read(current_user)}
