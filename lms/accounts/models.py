"""Users, their roles and their API tokens."""

from __future__ import annotations

import datetime as dt
import secrets

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from lms.database import UTCDateTime, enum_column, utcnow
from lms.extensions import db
from lms.permissions import Role

#: werkzeug's scrypt with its current parameters; see docs/decisions.md. Tests lower the cost
#: through the ``PASSWORD_HASH_METHOD`` setting.
PASSWORD_METHOD = "scrypt"  # noqa: S105  (an algorithm name, not a password)


def normalise_email(email: str) -> str:
    """Emails are unique case-insensitively: store them trimmed and lower-cased."""
    return email.strip().lower()


def new_session_token() -> str:
    """A random value that names the user's current sessions; rotating it ends them all."""
    return secrets.token_urlsafe(24)


class User(UserMixin, db.Model):
    """A person who can sign in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active_account: Mapped[bool] = mapped_column("is_active", default=True)
    #: Part of the Flask-Login id; changing it signs the user out everywhere.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token, unique=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list[UserRole]] = relationship(back_populates="user", cascade="all, delete-orphan")
    organisation = relationship("Organisation", back_populates="members", lazy="joined")

    @validates("email")
    def _normalise_email(self, _key, value: str) -> str:
        return normalise_email(value)

    @property
    def is_active(self) -> bool:
        """Flask-Login: deactivated accounts cannot sign in."""
        return self.is_active_account

    def get_id(self) -> str:
        """Flask-Login id: the session token, so that rotating it ends every session."""
        return self.session_token

    @property
    def role_names(self) -> set[Role]:
        """The roles held, as :class:`Role` values."""
        return {r.role for r in self.roles}

    def has_role(self, role: Role) -> bool:
        """Whether the user holds ``role``."""
        return role in self.role_names

    def set_password(self, password: str) -> None:
        """Hash and store a new password."""
        method = (
            current_app.config.get("PASSWORD_HASH_METHOD", PASSWORD_METHOD)
            if has_app_context()
            else PASSWORD_METHOD
        )
        self.password_hash = generate_password_hash(password, method=method)
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        """Whether ``password`` matches; false for accounts without a password yet."""
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class UserRole(db.Model):
    """One role held by one user."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, 20), primary_key=True)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="roles")


class ApiToken(db.Model):
    """A personal API token. Only a hash is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: SHA-256 of the token; tokens are long random strings, so a fast hash is enough.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the token, so its owner can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def is_usable(self) -> bool:
        """Not revoked and not expired."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > utcnow()
