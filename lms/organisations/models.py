"""Organisation models."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.database import UTCDateTime, enum_column, utcnow
from lms.extensions import db


class OrganisationKind(enum.StrEnum):
    """What an organisation is to the programme."""

    PROVIDER = "provider"
    LICENCE_HOLDER = "licence_holder"
    TRAINING_PARTNER = "training_partner"
    AWARDING_BODY = "awarding_body"
    OTHER = "other"

    @property
    def label(self) -> str:
        """Human name of the kind."""
        return self.value.replace("_", " ").capitalize()


class Organisation(db.Model):
    """A body that people belong to or that provides, licenses or accredits training."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrganisationKind] = mapped_column(
        enum_column(OrganisationKind), default=OrganisationKind.OTHER
    )
    #: Community, prison or school-based site, free text from the licence paperwork.
    site_type: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    members = relationship("User", back_populates="organisation", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.name!r}>"
