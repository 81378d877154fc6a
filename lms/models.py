"""Every model, imported in one place so that the metadata (and Alembic) sees all tables."""

from lms.accounts.models import ApiToken, User, UserRole
from lms.audit import AuditEntry
from lms.mail import OutboundEmail
from lms.organisations.models import Organisation

__all__ = ["ApiToken", "AuditEntry", "Organisation", "OutboundEmail", "User", "UserRole"]
