"""Schemas of the notifications API: a person's own notifications, as they see them."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from lms.api.schemas import PageQuerySchema, page_of, query_boolean


class NotificationSchema(ma.Schema):
    """One notification to the caller."""

    id = fields.Integer()
    kind = fields.String(metadata={"description": "What kind of notification, e.g. `cohort_starting`"})
    title = fields.String()
    text = fields.String(metadata={"description": "More detail; empty when the title says it all"})
    link = fields.Function(
        lambda notification: notification.link or None,
        metadata={
            "type": "string",
            "nullable": True,
            "description": (
                "The page it is about, as a path inside lms (e.g. `/courses/4`) to put after the "
                "service's address; `null` when it is about no page"
            ),
        },
    )
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True, metadata={"description": "When it was read; `null` if unread"})
    is_read = fields.Boolean()


NotificationPageSchema = page_of(NotificationSchema, "NotificationPageSchema")


class NotificationQuerySchema(PageQuerySchema):
    """Which page of the caller's notifications, optionally only the unread ones."""

    unread = query_boolean(
        load_default=False, metadata={"description": "`true` for the unread notifications only"}
    )


class UnreadCountSchema(ma.Schema):
    """How many notifications the caller has not read."""

    unread = fields.Integer(required=True)


class MarkedSchema(ma.Schema):
    """How many notifications were just marked read."""

    marked = fields.Integer(required=True)
