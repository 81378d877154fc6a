"""Links in emails, the cost of a failed sign-in, and what a password change does to API tokens."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

import lms.accounts.models as account_models
from lms.accounts import services
from lms.accounts.models import ApiToken
from lms.audit import AuditEntry
from lms.database import utcnow
from lms.mail import absolute_url
from lms.permissions import Role
from tests.conftest import PASSWORD

NEW = "a brand new passphrase"


def _link(message) -> str:
    return re.search(r"https?://\S+", message["body"]).group(0)


class TestLinksInEmails:
    @pytest.fixture
    def public_address(self, app, monkeypatch):
        # Accept any Host header, as a server behind a permissive proxy would.
        monkeypatch.setitem(app.config, "SERVER_NAME", None)
        monkeypatch.setitem(app.config, "BASE_URL", "https://learn.example.org/lms/")
        return "https://learn.example.org/lms/"

    def test_reset_link_uses_the_base_url_not_the_host_header(
        self, client, make_user, outbox, public_address
    ):
        user = make_user()
        response = client.post("/account/reset", data={"email": user.email}, headers={"Host": "evil.example"})
        assert response.status_code == 302
        link = _link(outbox[-1])
        assert link.startswith(public_address + "account/reset/"), link
        assert "evil.example" not in outbox[-1]["body"]

    def test_invitation_link_uses_the_base_url(self, client, make_user, outbox, public_address):
        admin = make_user(Role.ADMIN)
        evil = {"Host": "evil.example"}  # the session cookie belongs to the host it was set for
        client.post("/account/login", data={"email": admin.email, "password": PASSWORD}, headers=evil)
        response = client.post(
            "/admin/users/new",
            data={"name": "New Person", "email": "new@example.org", "organisation_id": 0, "invite": "y"},
            headers={"Host": "evil.example"},
        )
        assert response.status_code == 302
        assert _link(outbox[-1]).startswith(public_address + "account/reset/")

    def test_absolute_url_needs_no_request(self, app, db, public_address):
        assert absolute_url("accounts.login") == public_address + "account/login"
        assert absolute_url("accounts.reset_password", token="abc", x="1") == (
            public_address + "account/reset/abc?x=1"
        )


class TestFailedSignInCostsTheSame:
    @pytest.fixture
    def hash_checks(self, monkeypatch):
        calls = []
        real = account_models.check_password_hash

        def spy(pwhash, password):
            calls.append(pwhash)
            return real(pwhash, password)

        monkeypatch.setattr(account_models, "check_password_hash", spy)
        return calls

    def test_unknown_email_still_checks_a_password_hash(self, client, hash_checks, app):
        client.post("/account/login", data={"email": "nobody@example.org", "password": "whatever it is"})
        [checked] = hash_checks
        method = app.config["PASSWORD_HASH_METHOD"]
        assert checked.startswith(method + "$"), "the dummy hash uses the configured method and cost"

    @pytest.mark.parametrize("fields", [{"is_active_account": False}, {}], ids=["deactivated", "invited"])
    def test_accounts_that_cannot_sign_in_still_check_a_hash(
        self, client, db, make_user, hash_checks, fields
    ):
        user = make_user(**fields)
        if not fields:
            user.password_hash = None  # invited, no password chosen yet
            db.session.flush()
        response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
        assert services.GENERIC_LOGIN_ERROR in response.get_data(as_text=True)
        assert len(hash_checks) == 1

    def test_the_dummy_hash_is_made_once(self, client, hash_checks):
        for n in range(3):
            client.post(
                "/account/login", data={"email": f"nobody{n}@example.org", "password": "whatever it is"}
            )
        assert len(set(hash_checks)) == 1 and len(hash_checks) == 3


def _change(client, revoke: bool | None):
    data = {"current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW}
    if revoke:
        data["revoke_tokens"] = "y"
    return client.post("/account/password", data=data)


class TestChangePasswordAndTokens:
    def test_the_box_is_offered_and_ticked(self, client, login_as, make_user):
        login_as(make_user())
        page = client.get("/account/password").get_data(as_text=True)
        assert re.search(
            r'<input[^>]*checked[^>]*name="revoke_tokens"|name="revoke_tokens"[^>]*checked', page
        )
        assert "Also revoke my API tokens" in page

    def test_revokes_the_tokens_when_ticked(self, client, login_as, make_user, make_token, db):
        user = login_as(make_user())
        tokens = [make_token(user)[0] for _ in range(2)]
        assert _change(client, revoke=True).status_code == 302
        for token in tokens:
            assert db.session.get(ApiToken, token.id).revoked_at is not None
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "api_token.revoked")).all()
        assert {e.subject_id for e in entries} == {t.id for t in tokens}
        assert all(e.actor_id == user.id for e in entries)

    def test_keeps_the_tokens_when_not_ticked(self, client, login_as, make_user, make_token, db):
        user = login_as(make_user())
        token, plain = make_token(user)
        assert _change(client, revoke=False).status_code == 302
        assert db.session.get(ApiToken, token.id).revoked_at is None
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 200

    def test_revoked_tokens_stop_working(self, client, login_as, make_user, make_token):
        user = login_as(make_user())
        _token, plain = make_token(user)
        _change(client, revoke=True)
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 401

    def test_service_default_revokes(self, make_user, make_token):
        user = make_user()
        token, _plain = make_token(user)
        services.change_password(user, PASSWORD, NEW)
        assert token.revoked_at is not None


class TestTokensPage:
    def test_lists_each_tokens_last_use(self, client, login_as, make_user, make_token, db):
        user = login_as(make_user())
        used, _plain = make_token(user, "used one")
        make_token(user, "never used")
        used.last_used_at = dt.datetime(2026, 3, 3, 14, 5, tzinfo=dt.UTC)
        db.session.flush()
        page = client.get("/account/tokens").get_data(as_text=True)
        assert "3 Mar 2026, 14:05 UTC" in page
        assert "Never" in page

    def test_last_use_is_written_at_most_once_a_minute(
        self, client, make_user, make_token, db, count_queries
    ):
        token, plain = make_token(make_user())
        headers = {"Authorization": f"Bearer {plain}"}
        client.get("/api/v1/me", headers=headers)
        first = db.session.get(ApiToken, token.id).last_used_at
        with count_queries() as counter:
            client.get("/api/v1/me", headers=headers)
        assert not [s for s in counter.statements if s.lstrip().upper().startswith("UPDATE")]
        assert db.session.get(ApiToken, token.id).last_used_at == first
        db.session.get(ApiToken, token.id).last_used_at = utcnow() - dt.timedelta(minutes=2)
        db.session.flush()
        with count_queries() as counter:
            client.get("/api/v1/me", headers=headers)
        assert len([s for s in counter.statements if s.lstrip().upper().startswith("UPDATE")]) == 1
