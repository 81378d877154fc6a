"""Factories for people: users with roles and a known password."""

from __future__ import annotations

import itertools

import pytest

from lms.extensions import db as _db
from lms.permissions import Role
from tests.conftest import PASSWORD

_counter = itertools.count(1)


@pytest.fixture
def make_user(db):
    """Factory for users with roles and a known password."""
    from lms.accounts.models import User, UserRole

    def make(
        *roles: Role, email: str | None = None, name: str | None = None, password: str = PASSWORD, **fields
    ):
        n = next(_counter)
        user = User(email=email or f"person{n}@example.org", name=name or f"Person {n}", **fields)
        user.set_password(password)
        user.roles = [UserRole(role=r) for r in (roles or (Role.TRAINEE,))]
        _db.session.add(user)
        _db.session.flush()
        return user

    return make
