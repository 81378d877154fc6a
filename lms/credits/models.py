"""Credit rules (the credits area adds awards, exports and certificates)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import db


class CreditRule(db.Model):
    """On a course: which awarding body awards how many credits, at which level."""

    __tablename__ = "credit_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), unique=True)
    awarding_body_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    credits: Mapped[int]
    #: Framework level, e.g. "FHEQ level 6".
    level: Mapped[str] = mapped_column(String(60), default="")

    course = relationship("Course", backref=db.backref("credit_rule", uselist=False))
    awarding_body = relationship("Organisation", lazy="joined")

    __table_args__ = (CheckConstraint("credits > 0", name="credits_positive"),)
