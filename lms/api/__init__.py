"""The JSON API at ``/api/v1``: thin handlers over the areas' services."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lms.api.schemas import ErrorSchema
from lms.permissions import PUBLIC, declare_endpoint

API_PREFIX = "/api/v1"


class LmsApi(Api):
    """flask-smorest's Api with lms's one error body shape documented."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = "Error"

    def _register_error_handlers(self):
        """Errors are answered by :mod:`lms.errors` for pages and API alike."""


api = LmsApi()


def init_api(app: Flask) -> None:
    """Configure the OpenAPI document and register every API blueprint."""
    app.config.setdefault("API_TITLE", "lms API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": (
                    "Practitioner training and accreditation. Authenticate with a personal API token: "
                    "`Authorization: Bearer <token>`. Every error has the body "
                    '`{"error": {"code", "message", "fields"}}`. Lists are paginated with `page` and '
                    "`per_page` and answer `{items, page, per_page, total, pages}`."
                ),
            },
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
    )
    api.init_app(app)
    declare_endpoint(app, "api-docs.openapi_json", PUBLIC)

    from lms.api import accounts, docs

    app.register_blueprint(docs.bp)
    for blueprint in (accounts.me_blp, accounts.tokens_blp, accounts.users_blp):
        api.register_blueprint(blueprint)
