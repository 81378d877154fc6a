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
    # Mail: "smtp" sends; "file" writes each message as an .eml file under MAIL_FILE_PATH
    # (instance/mail/ unless set), for development; "console" logs; "memory" keeps messages
    # for tests. Production must use "smtp".
    "MAIL_BACKEND": "file",
    "MAIL_SERVER": "localhost",
    "MAIL_PORT": 25,
    # STARTTLS on a plain connection (usually port 587), or implicit TLS (usually port 465).
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": "lms@localhost",
    "MAIL_REPLY_TO": None,
    "MAIL_TIMEOUT": 30,
    "MAIL_FILE_PATH": None,
    # Delivery: a failed send waits MAIL_RETRY_SECONDS, doubling each time (at most an hour),
    # up to MAIL_MAX_ATTEMPTS attempts (about 4 hours in all with the defaults), then it is
    # marked failed for an admin to retry. A message "sending" for MAIL_SENDING_TIMEOUT
    # seconds (its process died) goes back to the queue.
    "MAIL_MAX_ATTEMPTS": 10,
    "MAIL_RETRY_SECONDS": 60,
    "MAIL_SENDING_TIMEOUT": 600,
    "MAIL_RETENTION_DAYS": 30,
    # The scheduler: a standby looks for the lock every SCHEDULER_POLL_SECONDS; on SQLite
    # the active one's lease lasts SCHEDULER_LEASE_SECONDS, so failover takes at most the
    # sum (on PostgreSQL the lock goes with the dead process's connection: at most the poll).
    "SCHEDULER_POLL_SECONDS": 5,
    "SCHEDULER_LEASE_SECONDS": 25,
    "JOB_RUN_RETENTION_DAYS": 90,
    # Enrolments still active this many days after their cohort ended, with no activity for
    # as long, become lapsed.
    "LAPSE_AFTER_DAYS": 60,
    # Marking still not done this many days after its marking due date is escalated to admins.
    "MARKING_ESCALATE_AFTER_DAYS": 7,
    # A referred trainee has this many days from the release of the referral to resubmit
    # (when that is later than the assignment's due date).
    "RESUBMISSION_DAYS": 28,
    # Storage housekeeping: orphaned files and bulk-enrolment problem reports older than
    # this are deleted.
    "STORAGE_ORPHAN_DAYS": 7,
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
