"""The models and the Alembic migrations describe the same schema, on this run's database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from lms import create_app
from lms.extensions import db as _db


def test_models_match_migrations(app, db):
    # The session's database was built by `upgrade()` from empty (see conftest.app).
    connection = db.session.connection()
    context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
    differences = compare_metadata(context, _db.metadata)
    assert differences == [], f"models and migrations differ; run `flask db migrate`: {differences}"


def test_downgrade_to_base_and_upgrade_again(app_config, tmp_path):
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'roundtrip.db'}"})
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert _db.inspect(_db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        assert "users" in _db.inspect(_db.engine).get_table_names()
        _db.engine.dispose()
