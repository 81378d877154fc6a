"""Fixtures of the storage tests: a storage folder of the test's own, and each backend in turn."""

from __future__ import annotations

import pytest

from lms.storage.backends import get_backend

BACKEND_NAMES = ["local", "database"]


@pytest.fixture
def storage_root(app, tmp_path, monkeypatch):
    """A fresh ``STORAGE_PATH`` for the test, so that every file in it is the test's."""
    root = tmp_path / "files"
    monkeypatch.setitem(app.config, "STORAGE_PATH", str(root))
    return root


@pytest.fixture(params=BACKEND_NAMES)
def backend(request, app, db, storage_root, monkeypatch):
    """Run the test once per backend, with ``STORAGE_BACKEND`` switched and then restored."""
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", request.param)
    return get_backend()
