"""Sign-in throttling per account and address, and the owner's alert; reset-request throttling."""

from __future__ import annotations

import pytest

from lms.accounts.throttle import LoginThrottle
from tests.conftest import PASSWORD

WRONG = "wrong password!"


def _attempt(client, email, password, address="192.0.2.1"):
    return client.post(
        "/account/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _alerts(outbox, user):
    return [m for m in outbox if m["to"] == user.email and "sign-in" in m["subject"].lower()]


class TestSignInThrottle:
    def test_failures_from_one_address_do_not_lock_the_owner_out(self, client, make_user):
        user = make_user()
        for _ in range(5):
            _attempt(client, user.email, WRONG, "203.0.113.7")
        blocked = _attempt(client, user.email, PASSWORD, "203.0.113.7")
        assert blocked.status_code == 429
        assert "Too many sign-in attempts" in blocked.get_data(as_text=True)
        assert _attempt(client, user.email, PASSWORD, "198.51.100.9").status_code == 302

    def test_an_address_failing_across_accounts_is_stopped(self, client, make_user):
        user = make_user()
        for n in range(30):
            _attempt(client, f"guess{n}@example.org", WRONG, "203.0.113.7")
        assert _attempt(client, user.email, PASSWORD, "203.0.113.7").status_code == 429
        assert _attempt(client, user.email, PASSWORD, "198.51.100.9").status_code == 302

    def test_the_account_wide_ceiling_stops_a_distributed_attack(
        self, app, client, make_user, monkeypatch, outbox
    ):
        throttle = LoginThrottle("memory://", "12 per 15 minutes", "30 per 15 minutes", "5 per 15 minutes")
        monkeypatch.setitem(app.extensions, "lms_login_throttle", throttle)
        user = make_user()
        for n in range(12):
            _attempt(client, user.email, WRONG, f"203.0.113.{n % 3 + 1}")
        # Each address is still under its own limits, but the account has had enough.
        assert _attempt(client, user.email, PASSWORD, "198.51.100.9").status_code == 429
        [alert] = [m for m in outbox if m["to"] == user.email]
        assert "paused for everyone" in alert["body"]
        assert _attempt(client, "someone.else@example.org", WRONG, "198.51.100.9").status_code == 200

    def test_default_ceiling_is_much_higher_than_the_pair_limit(self, app):
        from limits import parse

        ceiling = parse(app.config["LOGIN_LIMIT_PER_ACCOUNT"])
        pair = parse(app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"])
        assert ceiling.amount >= 10 * pair.amount

    def test_success_clears_the_pair_but_not_the_ceiling(self, app, client, make_user, monkeypatch):
        throttle = LoginThrottle("memory://", "8 per 15 minutes", "30 per 15 minutes", "5 per 15 minutes")
        monkeypatch.setitem(app.extensions, "lms_login_throttle", throttle)
        user = make_user()
        for _ in range(4):
            _attempt(client, user.email, WRONG)
        assert _attempt(client, user.email, PASSWORD).status_code == 302
        client.post("/account/logout")
        for _ in range(4):
            _attempt(client, user.email, WRONG)
        # Four more from this address would have locked the pair had the success not cleared it;
        # the account-wide count kept all eight.
        assert _attempt(client, user.email, PASSWORD, "198.51.100.9").status_code == 429

    def test_unknown_accounts_are_throttled_the_same(self, client):
        for _ in range(5):
            _attempt(client, "ghost@example.org", WRONG)
        assert _attempt(client, "ghost@example.org", WRONG).status_code == 429

    def test_owner_is_emailed_once_per_lockout_window(self, client, make_user, outbox):
        user = make_user()
        for _ in range(4):
            _attempt(client, user.email, WRONG, "203.0.113.7")
        assert _alerts(outbox, user) == []
        _attempt(client, user.email, WRONG, "203.0.113.7")  # the fifth locks this address out
        [alert] = _alerts(outbox, user)
        assert "203.0.113.7" in alert["body"] and "you can still sign in" in alert["body"]
        assert "http://lms.test/account/password" in alert["body"]
        for n in range(20):
            _attempt(client, user.email, WRONG, f"198.51.100.{n // 5 + 1}")
        assert len(_alerts(outbox, user)) == 1

    def test_no_alert_for_an_unknown_or_deactivated_account(self, client, make_user, outbox):
        user = make_user(is_active_account=False)
        for email in ("ghost@example.org", user.email):
            for _ in range(6):
                _attempt(client, email, WRONG)
        assert outbox == []


def _reset(client, email, address="192.0.2.1"):
    return client.post(
        "/account/reset", data={"email": email}, environ_base={"REMOTE_ADDR": address}, follow_redirects=True
    )


class TestResetThrottle:
    def test_at_most_three_emails_to_one_address_an_hour(self, client, make_user, outbox):
        user = make_user()
        responses = [_reset(client, user.email, f"203.0.113.{n}") for n in range(5)]
        assert len([m for m in outbox if m["to"] == user.email]) == 3
        pages = {r.status_code for r in responses}
        assert pages == {200}
        assert all("If an account uses that address" in r.get_data(as_text=True) for r in responses)

    def test_at_most_ten_requests_per_client_address_an_hour(self, client, make_user, outbox):
        users = [make_user() for _ in range(12)]
        for user in users:
            assert "If an account uses that address" in _reset(client, user.email).get_data(as_text=True)
        assert len(outbox) == 10
        assert _reset(client, users[0].email, "198.51.100.9").status_code == 200
        assert len(outbox) == 11

    @pytest.mark.parametrize("exists", [True, False])
    def test_the_answer_is_the_same_when_throttled(self, client, make_user, exists):
        email = make_user().email if exists else "nobody@example.org"
        first = _reset(client, email)
        for _ in range(4):
            last = _reset(client, email)
        assert first.status_code == last.status_code == 200
        assert "If an account uses that address" in last.get_data(as_text=True)
