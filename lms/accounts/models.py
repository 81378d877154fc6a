"""Users, their roles, their signed-in sessions and their API tokens."""

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


#: A signed-in session ends after this long even if it is used every day.
SESSION_LIFETIME = dt.timedelta(days=30)


def password_method() -> str:
    """The hashing method and cost for new passwords: the configured one inside an app."""
    if has_app_context():
        return current_app.config.get("PASSWORD_HASH_METHOD", PASSWORD_METHOD)
    return PASSWORD_METHOD


#: One hash per method, made on first use from a random password nobody knows.
_dummy_hashes: dict[str, str] = {}


def check_dummy_password(password: str) -> bool:
    """Spend as long as checking a real password, and fail.

    For sign-ins to unknown, deactivated or password-less accounts, so that the time an
    answer takes does not tell whether the account exists.
    """
    method = password_method()
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash(secrets.token_urlsafe(16), method=method)
    check_password_hash(_dummy_hashes[method], password)
    return False


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

    #: The key of the browser session this object was loaded for (not stored; see
    #: :class:`UserSession`). ``None`` outside a signed-in request.
    session_key = None

    @validates("email")
    def _normalise_email(self, _key, value: str) -> str:
        return normalise_email(value)

    @property
    def is_active(self) -> bool:
        """Flask-Login: deactivated accounts cannot sign in."""
        return self.is_active_account

    def get_id(self) -> str:
        """Flask-Login id: ``<session token>.<session key>``.

        Rotating the session token ends every session of the user at once; deleting the
        :class:`UserSession` row of the key ends that one. Without a key (no session was
        started) the id names no session, so nobody is signed in by it.
        """
        if self.session_key is None:
            return self.session_token
        return f"{self.session_token}.{self.session_key}"

    @property
    def role_names(self) -> set[Role]:
        """The roles held, as :class:`Role` values."""
        return {r.role for r in self.roles}

    def has_role(self, role: Role) -> bool:
        """Whether the user holds ``role``."""
        return role in self.role_names

    def set_password(self, password: str) -> None:
        """Hash and store a new password."""
        self.password_hash = generate_password_hash(password, method=password_method())
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        """Whether ``password`` matches; false (as slowly) for accounts without a password yet."""
        if not self.password_hash:
            return check_dummy_password(password)
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class UserRole(db.Model):
    """One role held by one user."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, 20), primary_key=True)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="roles")


class UserSession(db.Model):
    """One signed-in browser. Signing out deletes its row, which ends that session only."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the random key in the session cookie; the key itself is not stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


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
