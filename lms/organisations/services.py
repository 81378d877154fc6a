"""Organisation look-ups shared by the pages of every area."""

from __future__ import annotations

from sqlalchemy import select

from lms.extensions import db
from lms.organisations.models import Organisation


def all_organisations() -> list[Organisation]:
    """Every organisation, by name."""
    return list(db.session.scalars(select(Organisation).order_by(Organisation.name)))
