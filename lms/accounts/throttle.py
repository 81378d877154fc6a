"""Sign-in and reset-request throttling, in storage shared by every process."""

from __future__ import annotations

import time

from flask import Flask, current_app
from limits import RateLimitItem, parse, storage, strategies


def _storage(storage_or_uri: str | storage.Storage) -> storage.Storage:
    if isinstance(storage_or_uri, str):
        return storage.storage_from_string(storage_or_uri)
    return storage_or_uri


def _address_key(address: str) -> str:
    return address or "unknown"


def _email_key(email: str) -> str:
    return email.strip().lower()


class LoginThrottle:
    """Counts failed sign-ins in a moving window, three ways.

    - per (account, client address) pair, with a low limit: one address guessing one
      account is stopped quickly, without stopping the owner signing in from elsewhere;
    - per client address across accounts: one address trying many accounts is stopped;
    - per account from every address, with a much higher ceiling: a guessing attack spread
      over many addresses is stopped too, at the price of locking the owner out only then.

    The account key is the email typed, not a user id, so throttling behaves the same
    whether or not an account exists.
    """

    def __init__(
        self,
        storage_uri: str | storage.Storage,
        per_account: str,
        per_address: str,
        per_account_and_address: str = "5 per 15 minutes",
    ):
        self._limiter = strategies.MovingWindowRateLimiter(_storage(storage_uri))
        self._per_account = parse(per_account)
        self._per_address = parse(per_address)
        self._per_pair = parse(per_account_and_address)
        # At most one alert to an account's owner per window of the account-wide limit.
        self._alert = type(self._per_account)(1, self._per_account.multiples)

    @property
    def storage(self) -> storage.Storage:
        """Where the counts are kept (shared with the reset throttle)."""
        return self._limiter.storage

    def _checks(self, email: str, address: str) -> tuple[tuple[RateLimitItem, str, str], ...]:
        email, address = _email_key(email), _address_key(address)
        return (
            (self._per_pair, "login-pair", f"{email}|{address}"),
            (self._per_address, "login-address", address),
            (self._per_account, "login-account", email),
        )

    def retry_after(self, email: str, address: str) -> int:
        """Seconds until another attempt is allowed; 0 when one is allowed now."""
        waits = []
        for limit, namespace, key in self._checks(email, address):
            if not self._limiter.test(limit, namespace, key):
                reset_at, _remaining = self._limiter.get_window_stats(limit, namespace, key)
                waits.append(max(1, int(reset_at - time.time())))
        return max(waits, default=0)

    def register_failure(self, email: str, address: str) -> bool:
        """Count one failed attempt; whether it has just locked the account from this address.

        Locked means the pair limit or the account-wide ceiling is now used up (an address
        failing across accounts is not, by itself, an attack on this account).
        """
        checks = self._checks(email, address)
        for limit, namespace, key in checks:
            self._limiter.hit(limit, namespace, key)
        pair, _address, account = checks
        return not self._limiter.test(*pair) or not self._limiter.test(*account)

    def is_account_locked(self, email: str) -> bool:
        """Whether the account-wide ceiling is used up, so nobody can sign in to it for now."""
        limit, namespace, key = self._checks(email, "")[2]
        return not self._limiter.test(limit, namespace, key)

    def claim_alert(self, email: str) -> bool:
        """Whether to alert the owner now: true at most once per window for an account."""
        return self._limiter.hit(self._alert, "login-alert", _email_key(email))

    def clear_pair(self, email: str, address: str) -> None:
        """Forget this address's failures for this account after it signed in.

        The account-wide count stays: a success by the owner must not give an attacker
        elsewhere a fresh allowance.
        """
        limit, namespace, key = self._checks(email, address)[0]
        self._limiter.clear(limit, namespace, key)

    def clear_account(self, email: str) -> None:
        """Forget the account-wide failures of an account (operators, after an incident)."""
        limit, namespace, key = self._checks(email, "")[2]
        self._limiter.clear(limit, namespace, key)

    def reset_all(self) -> None:
        """Forget every count, of sign-ins and reset requests (tests, and operators after an incident)."""
        self._limiter.storage.reset()


class ResetThrottle:
    """Counts password-reset requests per email typed and per client address.

    Every request counts, whether or not the account exists, so the page can answer the
    same either way.
    """

    def __init__(self, storage_uri: str | storage.Storage, per_email: str, per_address: str):
        self._limiter = strategies.MovingWindowRateLimiter(_storage(storage_uri))
        self._per_email = parse(per_email)
        self._per_address = parse(per_address)

    def allow(self, email: str, address: str) -> bool:
        """Count one request; whether it is within both limits (and so may send an email)."""
        checks = (
            (self._per_address, "reset-address", _address_key(address)),
            (self._per_email, "reset-email", _email_key(email)),
        )
        if not all(self._limiter.test(*check) for check in checks):
            return False
        hits = [self._limiter.hit(*check) for check in checks]  # count against both, always
        return all(hits)


def init_throttle(app: Flask) -> None:
    """Create the throttles from configuration, sharing one storage."""
    config = app.config
    login = LoginThrottle(
        config["RATELIMIT_STORAGE_URI"],
        config["LOGIN_LIMIT_PER_ACCOUNT"],
        config["LOGIN_LIMIT_PER_ADDRESS"],
        config["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"],
    )
    app.extensions["lms_login_throttle"] = login
    app.extensions["lms_reset_throttle"] = ResetThrottle(
        login.storage, config["PASSWORD_RESET_LIMIT_PER_EMAIL"], config["PASSWORD_RESET_LIMIT_PER_ADDRESS"]
    )


def login_throttle() -> LoginThrottle:
    """The application's sign-in throttle."""
    return current_app.extensions["lms_login_throttle"]


def reset_throttle() -> ResetThrottle:
    """The application's reset-request throttle."""
    return current_app.extensions["lms_reset_throttle"]
