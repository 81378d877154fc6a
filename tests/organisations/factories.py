"""Factories for organisations."""

from __future__ import annotations

import itertools

import pytest

from lms.extensions import db as _db

_counter = itertools.count(1)


@pytest.fixture
def make_organisation(db):
    """Factory for organisations."""
    from lms.organisations.models import Organisation, OrganisationKind

    def make(name: str | None = None, kind=OrganisationKind.LICENCE_HOLDER, **fields):
        organisation = Organisation(name=name or f"Organisation {next(_counter)}", kind=kind, **fields)
        _db.session.add(organisation)
        _db.session.flush()
        return organisation

    return make
