"""Configuration, security headers, CSRF, error pages, audit log and health checks."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from lms import create_app
from lms.audit import AuditEntry, record
from lms.config import ConfigurationError
from lms.permissions import Role


class TestConfiguration:
    def test_production_refuses_missing_or_default_secret(self, tmp_path, monkeypatch):
        monkeypatch.setenv("LMS_ENV", "production")
        for secret in (None, "dev", "short"):
            if secret is None:
                monkeypatch.delenv("LMS_SECRET_KEY", raising=False)
            else:
                monkeypatch.setenv("LMS_SECRET_KEY", secret)
            with pytest.raises(ConfigurationError):
                create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})

    def test_production_with_real_secret_sets_secure_cookies(self, tmp_path, monkeypatch):
        monkeypatch.setenv("LMS_ENV", "production")
        monkeypatch.setenv("LMS_SECRET_KEY", "k" * 40)
        monkeypatch.setenv("LMS_BASE_URL", "https://lms.example.org")
        monkeypatch.setenv("LMS_MAIL_BACKEND", "smtp")
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
        assert app.config["SESSION_COOKIE_SECURE"] is True

    @pytest.mark.parametrize("base_url", [None, "", "lms.example.org", "ftp://lms.example.org"])
    def test_production_refuses_a_missing_or_unusable_base_url(self, tmp_path, monkeypatch, base_url):
        monkeypatch.setenv("LMS_ENV", "production")
        monkeypatch.setenv("LMS_SECRET_KEY", "k" * 40)
        monkeypatch.setenv("LMS_MAIL_BACKEND", "smtp")
        if base_url is None:
            monkeypatch.delenv("LMS_BASE_URL", raising=False)
        else:
            monkeypatch.setenv("LMS_BASE_URL", base_url)
        with pytest.raises(ConfigurationError, match="LMS_BASE_URL"):
            create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})

    def test_development_has_a_local_base_url(self, tmp_path, monkeypatch):
        monkeypatch.delenv("LMS_BASE_URL", raising=False)
        monkeypatch.delenv("LMS_ENV", raising=False)
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
        assert app.config["BASE_URL"] == "http://127.0.0.1:5000"

    def test_environment_overrides(self, tmp_path, monkeypatch):
        monkeypatch.setenv("LMS_DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
        monkeypatch.setenv("LMS_MAIL_PORT", "2525")
        monkeypatch.setenv("LMS_MAIL_USE_TLS", "true")
        app = create_app()
        assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.db")
        assert app.config["MAIL_PORT"] == 2525
        assert app.config["MAIL_USE_TLS"] is True

    def test_sqlite_runs_with_foreign_keys_and_wal(self, app, db):
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite only")
        assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"


class TestSecurity:
    def test_headers(self, client):
        response = client.get("/account/login")
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Request-ID"]

    def test_signed_in_pages_are_private_and_secrets_not_stored(self, client, login_as, make_user):
        assert "private" not in client.get("/account/login").headers.get("Cache-Control", "")
        login_as(make_user())
        for path in ("/dashboard", "/account/password", "/account/tokens"):
            assert client.get(path).headers["Cache-Control"] == "private", path
        shown = client.post("/account/tokens", data={"name": "script"})
        assert shown.status_code == 201
        assert shown.headers["Cache-Control"] == "no-store"

    def test_api_answers_to_a_token_are_not_stored(self, api, make_user):
        caller = api(make_user())
        assert caller.get("/api/v1/me").headers["Cache-Control"] == "no-store"
        assert caller.post("/api/v1/tokens", json={"name": "ci"}).headers["Cache-Control"] == "no-store"

    def test_reset_link_page_is_not_stored(self, client, make_user):
        from lms.accounts.services import make_password_token

        response = client.get(f"/account/reset/{make_password_token(make_user())}")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"

    def test_a_views_own_cache_control_is_kept(self, app_config, db):
        from flask import make_response
        from flask_login import UserMixin, login_user

        from lms.permissions import public

        app = create_app(app_config)

        class Someone(UserMixin):
            def get_id(self):
                return "someone"

        @app.route("/download")
        def download():
            login_user(Someone())
            response = make_response("file")
            response.headers["Cache-Control"] = "private, no-cache"
            return response

        @app.route("/page")
        def page():
            login_user(Someone())
            return "page"

        public(app.view_functions["download"])
        public(app.view_functions["page"])
        browser = app.test_client()
        assert browser.get("/download").headers["Cache-Control"] == "private, no-cache"
        assert browser.get("/page").headers["Cache-Control"] == "private"

    def test_no_inline_script_in_pages(self, client, login_as, make_user):
        login_as(make_user(Role.ADMIN))
        for path in ("/dashboard", "/admin/users", "/account/tokens", "/api/v1/docs"):
            page = client.get(path).get_data(as_text=True)
            assert "<script>" not in page and " onclick=" not in page and "javascript:" not in page

    def test_csrf_is_enforced(self, app_config, db, make_user):
        app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
        user = make_user()
        db.session.commit()
        client = app.test_client()
        response = client.post(
            "/account/login", data={"email": user.email, "password": "correct horse battery"}
        )
        assert response.status_code == 400
        assert "CSRF" in response.get_data(as_text=True) or "expired" in response.get_data(as_text=True)

    def test_user_text_is_escaped(self, client, login_as, make_user):
        login_as(make_user(Role.ADMIN))
        make_user(name='<script>alert("x")</script>')
        page = client.get("/admin/users").get_data(as_text=True)
        assert '<script>alert("x")</script>' not in page
        assert "&lt;script&gt;" in page

    def test_404_page_leaks_nothing(self, client):
        response = client.get("/no/such/page")
        assert response.status_code == 404
        assert "Page not found" in response.get_data(as_text=True)

    def test_500_page_leaks_nothing(self, app_config, db):
        app = create_app({**app_config, "PROPAGATE_EXCEPTIONS": False, "TESTING": False})

        @app.route("/boom")
        def boom():
            raise RuntimeError("secret internals")

        from lms.permissions import public

        public(app.view_functions["boom"])
        response = app.test_client().get("/boom")
        assert response.status_code == 500
        body = response.get_data(as_text=True)
        assert "secret internals" not in body and "Traceback" not in body
        api = app.test_client().get("/api/v1/nope")
        assert api.status_code == 404 and api.json["error"]["code"] == "not_found"

    def test_route_without_rule_is_refused(self, app_config, db):
        app = create_app(app_config)

        @app.route("/forgotten")
        def forgotten():
            return "should never be seen"

        response = app.test_client().get("/forgotten")
        assert response.status_code == 403


class TestAudit:
    def test_record_keeps_request_id_and_values(self, client, login_as, make_user, db):
        admin = login_as(make_user(Role.ADMIN))
        person = make_user()
        client.post(
            f"/admin/users/{person.id}", data={"roles": ["assessor"]}, headers={"X-Request-ID": "req-123"}
        )
        entry = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "user.roles_changed")
        ).one()
        assert (entry.actor_id, entry.subject_type, entry.subject_id) == (admin.id, "users", person.id)
        assert entry.request_id == "req-123"

    def test_orm_refuses_updates_and_deletes(self, db, make_user):
        entry = record(None, "test.thing", make_user())
        db.session.flush()
        entry.action = "changed"
        with pytest.raises(RuntimeError, match="append-only"):
            db.session.flush()
        db.session.rollback()

    def test_database_refuses_updates_and_deletes(self, db, make_user):
        record(None, "test.thing", make_user())
        db.session.flush()
        for statement in ("UPDATE audit_entries SET action = 'x'", "DELETE FROM audit_entries"):
            nested = db.session.begin_nested()
            with pytest.raises(DatabaseError):
                db.session.execute(sa.text(statement))
            nested.rollback()


class TestHealth:
    def test_healthz_and_readyz(self, client):
        assert client.get("/healthz").json == {"status": "ok"}
        assert client.get("/readyz").json["database"] == "ok"


def test_trusted_proxy_gives_the_client_address(app, client, make_user, monkeypatch):
    from lms import register_proxy

    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", 1)
    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)
    register_proxy(app)
    user = make_user()

    def attempt(email, password, address):
        return client.post(
            "/account/login",
            data={"email": email, "password": password},
            headers={"X-Forwarded-For": address},
        ).status_code

    for n in range(30):
        attempt(f"guess{n}@example.org", "wrong password!", "203.0.113.7")
    assert attempt(user.email, "correct horse battery", "203.0.113.7") == 429
    assert attempt(user.email, "correct horse battery", "198.51.100.9") == 302
