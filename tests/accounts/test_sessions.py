"""Sessions: signing out ends this session on the server, "sign out everywhere" ends them all."""

from __future__ import annotations

import datetime as dt

from flask_login.utils import encode_cookie
from sqlalchemy import func, select

from lms.accounts.models import SESSION_LIFETIME, UserSession
from lms.audit import AuditEntry
from lms.database import utcnow
from tests.conftest import PASSWORD

COOKIE_DOMAIN = "lms.test"


def _cookie(client, name="session"):
    cookie = client.get_cookie(name, domain=COOKIE_DOMAIN)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def _sign_in(client, user):
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def _session_rows(db, user):
    return db.session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)
    )


def test_a_cookie_saved_before_signing_out_no_longer_works(client, make_user):
    user = make_user()
    _sign_in(client, user)
    assert client.get("/dashboard").status_code == 200
    saved = _cookie(client)

    assert client.post("/account/logout").status_code == 302
    client.set_cookie("session", saved, domain=COOKIE_DOMAIN)

    response = client.get("/dashboard")
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]


def test_signing_out_ends_only_this_session(app, client, make_user, db):
    user = make_user()
    other_device = app.test_client()
    _sign_in(other_device, user)
    _sign_in(client, user)
    assert _session_rows(db, user) == 2

    client.post("/account/logout")

    assert client.get("/dashboard").status_code == 302
    assert other_device.get("/dashboard").status_code == 200
    assert _session_rows(db, user) == 1


def test_sign_out_everywhere_ends_every_session_and_remember_cookie(app, client, make_user, db):
    user = make_user()
    other_device = app.test_client()
    _sign_in(other_device, user)
    with other_device.session_transaction() as session:
        other_id = session["_user_id"]
    # A browser holding only a remember-me cookie for that session is signed in by it ...
    remembered = app.test_client()
    remembered.set_cookie("remember_token", encode_cookie(other_id), domain=COOKIE_DOMAIN)
    assert remembered.get("/dashboard").status_code == 200

    _sign_in(client, user)
    page = client.get("/account/password").get_data(as_text=True)
    assert "Sign out everywhere" in page
    response = client.post("/account/logout", data={"everywhere": "1"})
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]

    assert client.get("/dashboard").status_code == 302
    assert other_device.get("/dashboard").status_code == 302
    # ... and no longer once every session has ended.
    fresh = app.test_client()
    fresh.set_cookie("remember_token", encode_cookie(other_id), domain=COOKIE_DOMAIN)
    assert fresh.get("/dashboard").status_code == 302
    assert _session_rows(db, user) == 0
    assert db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.signed_out_everywhere")
    ).all()
    # Signing in again works.
    _sign_in(client, user)
    assert client.get("/dashboard").status_code == 200


def test_signing_out_needs_post(client, login_as, make_user):
    login_as(make_user())
    assert client.get("/account/logout?everywhere=1").status_code == 405
    assert client.get("/dashboard").status_code == 200


def test_change_password_keeps_this_session_only(app, client, make_user, db):
    user = make_user()
    other_device = app.test_client()
    _sign_in(other_device, user)
    _sign_in(client, user)
    saved = _cookie(client)
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
    assert _session_rows(db, user) == 1
    # The cookie from before the change named the old session, which has ended.
    stale = app.test_client()
    stale.set_cookie("session", saved, domain=COOKIE_DOMAIN)
    assert stale.get("/dashboard").status_code == 302


def test_a_signed_in_page_checks_the_session_in_the_user_query(client, login_as, make_user, count_queries):
    login_as(make_user())
    client.get("/account/password")  # warm up
    with count_queries() as counter:
        assert client.get("/account/password").status_code == 200
    # One query for the user and their session, one for their roles, one for the unread
    # notifications of the navigation: nothing else.
    assert counter.count <= 3, counter.statements


def test_an_old_style_session_id_signs_nobody_in(app, client, make_user):
    user = make_user()
    with client.session_transaction() as session:
        session["_user_id"] = user.session_token
        session["_fresh"] = True
    assert client.get("/dashboard").status_code == 302


def test_a_session_ends_after_its_lifetime(client, login_as, make_user, db):
    user = login_as(make_user())
    assert client.get("/dashboard").status_code == 200
    row = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    row.created_at = utcnow() - SESSION_LIFETIME - dt.timedelta(minutes=1)
    db.session.flush()
    assert client.get("/dashboard").status_code == 302
    login_as(user)  # signing in again forgets the expired row
    assert _session_rows(db, user) == 1
