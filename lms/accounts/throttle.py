"""Sign-in throttling per account and per address, in storage shared by every process."""

from __future__ import annotations

import time

from flask import Flask, current_app
from limits import parse, storage, strategies


class LoginThrottle:
    """Counts failed sign-ins in a moving window, by email and by client address.

    The email key is the address typed, not a user id, so throttling behaves the same
    whether or not an account exists.
    """

    def __init__(self, storage_uri: str, per_account: str, per_address: str):
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))
        self._per_account = parse(per_account)
        self._per_address = parse(per_address)

    def _checks(self, email: str, address: str):
        return (
            (self._per_account, "login-account", email.strip().lower()),
            (self._per_address, "login-address", address or "unknown"),
        )

    def retry_after(self, email: str, address: str) -> int:
        """Seconds until another attempt is allowed; 0 when one is allowed now."""
        waits = []
        for limit, namespace, key in self._checks(email, address):
            if not self._limiter.test(limit, namespace, key):
                reset_at, _remaining = self._limiter.get_window_stats(limit, namespace, key)
                waits.append(max(1, int(reset_at - time.time())))
        return max(waits, default=0)

    def register_failure(self, email: str, address: str) -> None:
        """Count one failed attempt against the account and the address."""
        for limit, namespace, key in self._checks(email, address):
            self._limiter.hit(limit, namespace, key)

    def clear_account(self, email: str) -> None:
        """Forget failures for an account after a successful sign-in."""
        limit, namespace, key = self._checks(email, "")[0]
        self._limiter.clear(limit, namespace, key)

    def reset_all(self) -> None:
        """Forget every count (tests and operators after an incident)."""
        self._limiter.storage.reset()


def init_throttle(app: Flask) -> None:
    """Create the throttle from configuration."""
    app.extensions["lms_login_throttle"] = LoginThrottle(
        app.config["RATELIMIT_STORAGE_URI"],
        app.config["LOGIN_LIMIT_PER_ACCOUNT"],
        app.config["LOGIN_LIMIT_PER_ADDRESS"],
    )


def login_throttle() -> LoginThrottle:
    """The application's throttle."""
    return current_app.extensions["lms_login_throttle"]
