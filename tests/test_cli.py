"""The ``flask --app lms`` commands."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import func, select

from lms.accounts.models import ApiToken, User
from lms.accounts.throttle import LoginThrottle
from lms.organisations.models import Organisation
from lms.permissions import Role


def _count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_init_creates_the_first_admin_once(runner, db):
    result = runner.invoke(
        args=["init", "--admin-email", "First@Example.org", "--admin-password", "a long password"]
    )
    assert result.exit_code == 0, result.output
    assert "Administrator first@example.org created" in result.output
    admin = db.session.scalar(select(User).where(User.email == "first@example.org"))
    assert admin.has_role(Role.ADMIN) and admin.check_password("a long password")
    again = runner.invoke(
        args=["init", "--admin-email", "second@example.org", "--admin-password", "a long password"]
    )
    assert "exists already" in again.output
    assert db.session.scalar(select(User).where(User.email == "second@example.org")) is None


def test_create_user_with_roles_and_bad_input(runner, db):
    result = runner.invoke(
        args=[
            "create-user",
            "sam@example.org",
            "--name",
            "Sam",
            "--role",
            "trainee",
            "--role",
            "assessor",
            "--password",
            "a long password",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "sam@example.org"))
    assert user.role_names == {Role.TRAINEE, Role.ASSESSOR}
    duplicate = runner.invoke(
        args=["create-user", "SAM@example.org", "--name", "Sam", "--password", "a long password"]
    )
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    short = runner.invoke(args=["create-user", "x@example.org", "--name", "X", "--password", "short"])
    assert short.exit_code != 0 and "password" in short.output
    bad_role = runner.invoke(
        args=["create-user", "y@example.org", "--name", "Y", "--role", "wizard", "--password", "x" * 12]
    )
    assert bad_role.exit_code != 0


def test_create_token_prints_a_working_token(runner, db, client, make_user):
    user = make_user(Role.TRAINEE)
    db.session.commit()
    result = runner.invoke(args=["create-token", user.email, "--name", "script"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert _count(db, ApiToken) == 1
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json["email"] == user.email
    unknown = runner.invoke(args=["create-token", "nobody@example.org"])
    assert unknown.exit_code != 0


def test_seed_demo_is_idempotent(runner, db):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "trainee@example.org" in first.output
    counts = {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "Nothing new" in second.output
    again = {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }
    changed = {name for name in counts if counts[name] != again[name] and name != "audit_entries"}
    assert not changed
    assert _count(db, Organisation) >= 5
    for email in (
        "trainee@example.org",
        "assessor@example.org",
        "liaison@example.org",
        "manager@example.org",
        "admin@example.org",
    ):
        assert db.session.scalar(select(User).where(User.email == email)) is not None


def test_login_throttle_is_shared_through_redis():
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    uri = "redis://127.0.0.1:6379"
    one = LoginThrottle(uri, "3 per 15 minutes", "100 per 15 minutes")
    other = LoginThrottle(uri, "3 per 15 minutes", "100 per 15 minutes")
    email = "shared-throttle@example.org"
    one.clear_account(email)
    try:
        for _ in range(3):
            one.register_failure(email, "10.0.0.1")
        assert other.retry_after(email, "10.0.0.2") > 0
    finally:
        other.clear_account(email)
