"""Who is making the request: a session for pages, a bearer token for the API."""

from __future__ import annotations

import datetime as dt
import hashlib

from flask import Flask, g, request
from flask_login import LoginManager
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lms.accounts.models import SESSION_LIFETIME, ApiToken, User, UserSession
from lms.database import utcnow
from lms.extensions import db

#: Don't write ``last_used_at`` on every API call; once a minute is enough to be useful.
TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)


def hash_token(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_api_request() -> bool:
    """API routes authenticate by bearer token only, never by cookie (so no CSRF)."""
    return request.path.startswith("/api/")


def load_session_user(session_id: str) -> User | None:
    """Flask-Login user loader: ``<session token>.<session key>`` names a user and one session.

    The session is checked in the same query as the user: a signed-in page costs no extra
    query for it.
    """
    if is_api_request():
        return None
    session_token, _, key = session_id.partition(".")
    if not key:
        return None
    user = db.session.scalar(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.session_token == session_token,
            UserSession.key_hash == hash_token(key),
            UserSession.created_at > utcnow() - SESSION_LIFETIME,
        )
        .options(selectinload(User.roles))
    )
    if user is None or not user.is_active:
        return None
    user.session_key = key
    return user


def load_token_user(req) -> User | None:
    """Flask-Login request loader: a bearer token on an API request."""
    if not is_api_request():
        return None
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    api_token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip())))
    if api_token is None or not api_token.is_usable or not api_token.user.is_active:
        return None
    now = utcnow()
    if api_token.last_used_at is None or now - api_token.last_used_at > TOKEN_TOUCH_INTERVAL:
        api_token.last_used_at = now
    g.api_token = api_token
    return api_token.user


def init_login(app: Flask, login_manager: LoginManager) -> None:
    """Configure Flask-Login."""
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_session_user)
    login_manager.request_loader(load_token_user)
