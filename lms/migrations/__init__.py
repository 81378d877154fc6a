"""Alembic migrations (Flask-Migrate), inside the package so that an installed wheel carries them."""
