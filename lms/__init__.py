"""lms: practitioner training and accreditation."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from lms import config as lms_config
from lms.extensions import bootstrap, csrf, db, login_manager, migrate


class LmsFlask(Flask):
    """Flask with one transaction per request: commit on success, roll back otherwise."""

    def dispatch_request(self):
        """Run the view, then commit if the response is a success and roll back if not."""
        from lms.transactions import finish_request

        response = self.make_response(super().dispatch_request())
        return finish_request(response)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: defaults, instance config, environment, then ``test_config``."""
    app = LmsFlask(__name__, instance_relative_config=True)
    load_config(app, test_config)
    register_extensions(app)
    register_proxy(app)
    register_security(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    register_jobs(app)
    return app


def load_config(app: Flask, test_config: dict | None) -> None:
    """Layer the configuration and check that it is safe to run with."""
    app.config.from_mapping(lms_config.DEFAULTS)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(lms_config.from_environment(dict(os.environ)))
    if test_config:
        app.config.update(test_config)

    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"] or (
            f"sqlite:///{instance / 'lms.sqlite3'}"
        )
    if not app.config.get("STORAGE_PATH"):
        app.config["STORAGE_PATH"] = str(instance / "files")
    if not app.config.get("MAIL_FILE_PATH"):
        app.config["MAIL_FILE_PATH"] = str(instance / "mail")

    is_production = app.config["ENV"] == "production"
    secret = app.config.get("SECRET_KEY")
    if is_production:
        if not secret or secret in lms_config.INSECURE_SECRETS or len(secret) < 32:
            raise lms_config.ConfigurationError(
                "LMS_SECRET_KEY must be set to a random value of at least 32 characters in production"
            )
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
        if app.config["MAIL_BACKEND"] != "smtp":
            raise lms_config.ConfigurationError("LMS_MAIL_BACKEND must be smtp in production")
    elif not secret:
        app.config["SECRET_KEY"] = lms_config.ensure_secret_key(instance)

    if app.config["MAIL_USE_TLS"] and app.config["MAIL_USE_SSL"]:
        raise lms_config.ConfigurationError(
            "Set one of LMS_MAIL_USE_TLS (STARTTLS, usually port 587) and LMS_MAIL_USE_SSL "
            "(implicit TLS, usually port 465), not both"
        )

    # Emailed links start with BASE_URL, never with the request's Host header.
    if not app.config.get("BASE_URL") and not is_production:
        app.config["BASE_URL"] = lms_config.DEVELOPMENT_BASE_URL
    if not lms_config.is_usable_base_url(app.config.get("BASE_URL")):
        raise lms_config.ConfigurationError(
            "LMS_BASE_URL must be the public address of the service, e.g. https://lms.example.org"
            + (" (required in production)" if is_production else "")
        )
    app.config["BASE_URL"] = app.config["BASE_URL"].strip()


def register_extensions(app: Flask) -> None:
    """Bind the extensions and configure the database engines."""
    from lms import models  # noqa: F401  (every table on the metadata)
    from lms.database import configure_engine

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            configure_engine(engine)
    migrate.init_app(
        app,
        db,
        directory=str(Path(app.root_path) / "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)
    bootstrap.init_app(app)

    from lms.accounts import auth

    auth.init_login(app, login_manager)

    from lms.accounts.throttle import init_throttle

    init_throttle(app)


def register_proxy(app: Flask) -> None:
    """Trust the configured number of reverse proxies for the client's address and scheme."""
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)


def register_security(app: Flask) -> None:
    """Install request ids, security headers and deny-by-default access checks."""
    from lms import audit, permissions, routing, security

    security.init_app(app)
    routing.init_app(app)
    permissions.init_app(app)
    audit.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Mount each area's blueprint."""
    from lms import assessments, courses, jobs, notifications
    from lms.accounts.views import bp as accounts_bp
    from lms.admin.views import bp as admin_bp
    from lms.api import init_api
    from lms.main.views import bp as main_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    notifications.init_app(app)
    jobs.init_app(app)
    courses.init_app(app)
    assessments.init_app(app)
    init_api(app)


def register_errorhandlers(app: Flask) -> None:
    """Turn domain errors and HTTP errors into pages or JSON bodies."""
    from lms import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """Add the ``flask --app lms`` commands."""
    from lms import cli

    cli.init_app(app)


def register_jobs(app: Flask) -> None:
    """Give the scheduler its table of jobs (run only by ``flask --app lms scheduler``)."""
    from lms.jobs.registry import register_jobs as register
    from lms.schedule import JOBS

    register(app, JOBS)


def register_template_helpers(app: Flask) -> None:
    """Expose navigation and formatting helpers to templates."""
    from lms import templating

    templating.init_app(app)
