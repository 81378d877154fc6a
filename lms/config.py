"""Configuration: safe defaults, then ``instance/config.py``, then ``LMS_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

#: Placeholder values that must never be used as a production secret.
INSECURE_SECRETS = frozenset({"", "dev", "change-me", "changeme", "secret"})
#: Where ``flask run`` serves; the base of emailed links when ``BASE_URL`` is not set outside production.
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"

DEFAULTS: dict[str, object] = {
    # "development" or "production"; production refuses to start without a real secret.
    "ENV": "development",
    "SECRET_KEY": None,
    "DATABASE_URL": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_SECURE": False,
    "PERMANENT_SESSION_LIFETIME": 60 * 60 * 12,
    "MAX_CONTENT_LENGTH": 50 * 1024 * 1024,
    "WTF_CSRF_TIME_LIMIT": None,
    # Mail: "smtp" sends, "console" logs, "memory" keeps messages for tests.
    "MAIL_BACKEND": "console",
    "MAIL_SERVER": "localhost",
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": "lms@localhost",
    # Login throttling; the storage must be shared (redis://) when several processes serve.
    # Failed sign-ins count per (account, client address) pair, per address across accounts,
    # and per account from every address, with a ceiling high enough that one attacker
    # cannot lock the owner out (see docs/decisions.md).
    "RATELIMIT_STORAGE_URI": "memory://",
    "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS": "5 per 15 minutes",
    "LOGIN_LIMIT_PER_ADDRESS": "30 per 15 minutes",
    "LOGIN_LIMIT_PER_ACCOUNT": "100 per 15 minutes",
    "PASSWORD_RESET_MAX_AGE": 60 * 60,
    # Reset requests, counted whether or not the account exists.
    "PASSWORD_RESET_LIMIT_PER_EMAIL": "3 per hour",
    "PASSWORD_RESET_LIMIT_PER_ADDRESS": "10 per hour",
    # File storage: "local" (a folder) or "database" (shared by every host).
    "STORAGE_BACKEND": "local",
    "STORAGE_PATH": None,
    "BOOTSTRAP_SERVE_LOCAL": True,
    # The public address every link in an email starts with (never the request's Host
    # header). Required in production; development falls back to DEVELOPMENT_BASE_URL.
    "BASE_URL": None,
    # Number of reverse proxies in front of the app whose X-Forwarded-* headers to trust; the
    # client address (for sign-in throttling) and the scheme come from them. 0 trusts none.
    "TRUSTED_PROXIES": 0,
}


def _coerce(raw: str, default: object) -> object:
    """Turn an environment string into the type of the default."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


def from_environment(environ: dict[str, str]) -> dict[str, object]:
    """Read every known setting from ``LMS_<NAME>`` variables."""
    found: dict[str, object] = {}
    for key, default in DEFAULTS.items():
        value = environ.get(f"LMS_{key}")
        if value is not None and not isinstance(default, dict):
            found[key] = _coerce(value, default)
    return found


def is_usable_base_url(value: object) -> bool:
    """Whether ``value`` is an absolute http(s) address that links can start with."""
    if not isinstance(value, str):
        return False
    parts = urlsplit(value.strip())
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and not parts.query and not parts.fragment


def ensure_secret_key(instance_path: Path) -> str:
    """Return the secret key kept in the instance folder, generating it on first run."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        os.chmod(path, 0o600)
    return path.read_text().strip()


class ConfigurationError(RuntimeError):
    """The configuration is unsafe or incomplete; the application refuses to start."""
