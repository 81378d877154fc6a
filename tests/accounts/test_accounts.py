"""Sign-in, throttling, passwords, sessions and admin management of people."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lms.accounts import services
from lms.accounts.models import User
from lms.audit import AuditEntry
from lms.errors import InvalidInput, NotAllowed
from lms.permissions import Role
from tests.conftest import PASSWORD


def _audit(db, action):
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


class TestSignIn:
    def test_wrong_password_and_unknown_email_get_the_same_message(self, client, make_user):
        user = make_user()
        wrong = client.post("/account/login", data={"email": user.email, "password": "not the password"})
        unknown = client.post("/account/login", data={"email": "nobody@example.org", "password": "whatever"})
        assert wrong.status_code == unknown.status_code == 200
        assert services.GENERIC_LOGIN_ERROR in wrong.get_data(as_text=True)
        assert services.GENERIC_LOGIN_ERROR in unknown.get_data(as_text=True)

    def test_email_is_case_insensitive(self, client, make_user):
        user = make_user(email="Mixed.Case@Example.org")
        assert user.email == "mixed.case@example.org"
        response = client.post(
            "/account/login", data={"email": "MIXED.case@example.ORG", "password": PASSWORD}
        )
        assert response.status_code == 302

    def test_deactivated_account_cannot_sign_in(self, client, make_user):
        user = make_user(is_active_account=False)
        response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
        assert services.GENERIC_LOGIN_ERROR in response.get_data(as_text=True)

    def test_next_only_follows_local_paths(self, client, make_user):
        user = make_user()
        response = client.post(
            "/account/login?next=https://evil.example/x", data={"email": user.email, "password": PASSWORD}
        )
        assert response.headers["Location"].endswith("/dashboard")

    def test_empty_form_shows_error_summary(self, client):
        response = client.post("/account/login", data={})
        page = response.get_data(as_text=True)
        assert "There is a problem" in page
        assert 'href="#email"' in page

    def test_throttled_per_account_whether_or_not_it_exists(self, client, make_user):
        user = make_user()
        for email in (user.email, "ghost@example.org"):
            for _ in range(5):
                client.post("/account/login", data={"email": email, "password": "wrong password!"})
            blocked = client.post("/account/login", data={"email": email, "password": PASSWORD})
            assert blocked.status_code == 429
            assert "Too many sign-in attempts" in blocked.get_data(as_text=True)

    def test_throttled_per_address(self, app, client, make_user):
        user = make_user()
        for n in range(30):
            client.post(
                "/account/login", data={"email": f"guess{n}@example.org", "password": "wrong password!"}
            )
        response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 429

    def test_success_clears_account_failures(self, client, make_user):
        user = make_user()
        for _ in range(4):
            client.post("/account/login", data={"email": user.email, "password": "wrong password!"})
        assert (
            client.post("/account/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
        )
        client.post("/account/logout")
        for _ in range(4):
            client.post("/account/login", data={"email": user.email, "password": "wrong password!"})
        assert (
            client.post("/account/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
        )

    def test_session_cookie_flags(self, client, make_user):
        user = make_user()
        response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


class TestPasswords:
    def test_change_password_ends_other_sessions(self, app, client, make_user):
        user = make_user()
        other_device = app.test_client()
        other_device.post("/account/login", data={"email": user.email, "password": PASSWORD})
        client.post("/account/login", data={"email": user.email, "password": PASSWORD})
        response = client.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": "a brand new passphrase",
                "confirm_password": "a brand new passphrase",
            },
        )
        assert response.status_code == 302
        assert client.get("/dashboard").status_code == 200
        assert other_device.get("/dashboard").status_code == 302
        assert user.check_password("a brand new passphrase")

    def test_wrong_current_password_changes_nothing(self, client, login_as, make_user):
        user = login_as(make_user())
        old_hash = user.password_hash
        response = client.post(
            "/account/password",
            data={
                "current_password": "nope nope nope",
                "new_password": "x" * 12,
                "confirm_password": "x" * 12,
            },
        )
        assert response.status_code == 422
        assert "current password is not correct" in response.get_data(as_text=True)
        assert user.password_hash == old_hash

    def test_password_rules(self):
        with pytest.raises(InvalidInput):
            services.check_password_rules("short")
        with pytest.raises(InvalidInput):
            services.check_password_rules("me@example.org", "ME@example.org")

    def test_reset_flow_is_single_use(self, client, make_user, outbox):
        user = make_user()
        response = client.post("/account/reset", data={"email": user.email.upper()})
        assert response.status_code == 302
        assert len(outbox) == 1
        link = re.search(r"http://\S+", outbox[0]["body"]).group(0)
        path = link.replace("http://lms.test", "")
        form = {"password": "my new passphrase", "confirm_password": "my new passphrase"}
        assert client.post(path, data=form).status_code == 302
        assert (
            client.post(
                "/account/login", data={"email": user.email, "password": "my new passphrase"}
            ).status_code
            == 302
        )
        client.post("/account/logout")
        again = client.post(
            path, data={"password": "another passphrase", "confirm_password": "another passphrase"}
        )
        assert again.status_code == 400
        assert "already been used" in again.get_data(as_text=True)

    def test_reset_for_unknown_email_says_the_same_and_sends_nothing(self, client, outbox):
        response = client.post("/account/reset", data={"email": "nobody@example.org"}, follow_redirects=True)
        assert "If an account uses that address" in response.get_data(as_text=True)
        assert outbox == []

    def test_expired_or_tampered_token(self, app, client, make_user):
        user = make_user()
        token = services.make_password_token(user)
        assert client.get(f"/account/reset/{token}x").status_code == 400
        app.config["PASSWORD_RESET_MAX_AGE"] = -1
        try:
            assert "expired" in client.get(f"/account/reset/{token}").get_data(as_text=True)
        finally:
            app.config["PASSWORD_RESET_MAX_AGE"] = 3600


class TestAdminPeople:
    def test_create_and_invite(self, client, login_as, make_user, make_organisation, outbox, db):
        login_as(make_user(Role.ADMIN))
        organisation = make_organisation()
        response = client.post(
            "/admin/users/new",
            data={
                "name": "New Person",
                "email": "New.Person@Example.org",
                "organisation_id": organisation.id,
                "roles": ["trainee", "assessor"],
                "invite": "y",
            },
        )
        assert response.status_code == 302
        person = services.find_user_by_email("new.person@example.org")
        assert person.role_names == {Role.TRAINEE, Role.ASSESSOR}
        assert person.organisation_id == organisation.id
        assert outbox[-1]["to"] == "new.person@example.org"
        assert _audit(db, "user.created")[-1].after["roles"] == ["assessor", "trainee"]

    def test_duplicate_email_reshows_form(self, client, login_as, make_user, db):
        login_as(make_user(Role.ADMIN))
        existing = make_user()
        before = db.session.query(User).count()
        response = client.post(
            "/admin/users/new", data={"name": "X", "email": existing.email.upper(), "organisation_id": 0}
        )
        assert response.status_code == 422
        assert "already exists" in response.get_data(as_text=True)
        assert db.session.query(User).count() == before

    def test_role_change_is_audited(self, client, login_as, make_user, db):
        admin = login_as(make_user(Role.ADMIN))
        person = make_user(Role.TRAINEE)
        response = client.post(f"/admin/users/{person.id}", data={"roles": ["trainee", "liaison"]})
        assert response.status_code == 302
        entry = _audit(db, "user.roles_changed")[-1]
        assert entry.actor_id == admin.id
        assert entry.before == {"roles": ["trainee"]}
        assert entry.after == {"roles": ["liaison", "trainee"]}

    def test_admin_cannot_remove_own_admin_role(self, make_user):
        admin = make_user(Role.ADMIN)
        with pytest.raises(NotAllowed):
            services.set_roles(admin, admin, {Role.TRAINEE})

    def test_deactivation_ends_sessions(self, app, client, login_as, make_user):
        person = make_user()
        their_browser = app.test_client()
        their_browser.post("/account/login", data={"email": person.email, "password": PASSWORD})
        assert their_browser.get("/dashboard").status_code == 200
        login_as(make_user(Role.ADMIN))
        assert client.post(f"/admin/users/{person.id}/active", data={"active": "0"}).status_code == 302
        assert their_browser.get("/dashboard").status_code == 302

    def test_users_list_paginates_with_bounded_queries(self, client, login_as, make_user, count_queries):
        login_as(make_user(Role.ADMIN))
        for _ in range(3):
            make_user()
        with count_queries() as few:
            assert client.get("/admin/users").status_code == 200
        for _ in range(40):
            make_user()
        with count_queries() as many:
            response = client.get("/admin/users")
        assert response.status_code == 200
        assert "Page 1 of 2" in response.get_data(as_text=True)
        assert many.count == few.count

    def test_bad_page_number_is_400(self, client, login_as, make_user):
        login_as(make_user(Role.ADMIN))
        assert client.get("/admin/users?page=abc").status_code == 400

    def test_api_tokens_page(self, client, login_as, make_user):
        login_as(make_user())
        response = client.post("/account/tokens", data={"name": "my script"})
        assert response.status_code == 201
        assert "lms_" in response.get_data(as_text=True)
        page = client.get("/account/tokens").get_data(as_text=True)
        assert "my script" in page
        assert "Copy it now" not in page


def test_reactivation_does_not_revive_tokens(db, make_user, make_token):
    admin = make_user(Role.ADMIN)
    person = make_user()
    token, _plain = make_token(person)
    services.set_active(admin, person, False)
    services.set_active(admin, person, True)
    assert token.revoked_at is not None and not token.is_usable


def test_absurd_ids_are_not_found(client, login_as, make_user):
    login_as(make_user(Role.ADMIN))
    assert client.get("/admin/users/99999999999999999999").status_code == 404
