"""The JSON API at ``/api/v1``: thin handlers over the areas' services.

How to add an endpoint is in ``docs/api.md``. In short: a flask-smorest blueprint in the
area's API module, input and output schemas (input ones derive from
:class:`~lms.api.schemas.StrictSchema`), an access rule on each view, and a line in
:func:`init_api`. The OpenAPI document then describes the route, its security and its error
answers without anything else to write.
"""

from __future__ import annotations

import http
import json
from collections.abc import Callable

from apispec import BasePlugin
from flask import Flask, current_app, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from webargs.flaskparser import abort
from werkzeug.exceptions import UnsupportedMediaType

from lms.api.schemas import ErrorSchema, NotBlank, UpdateSchema
from lms.extensions import csrf
from lms.permissions import PUBLIC, declare_endpoint, rule_for_endpoint

API_PREFIX = "/api/v1"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: Methods that change data: the database may refuse them for a clash with existing data (409).
WRITE_METHODS = BODY_METHODS | {"DELETE"}
#: What apispec writes for the ``null`` branch of a nullable nested schema in OpenAPI 3.0. It
#: accepts any object (``{}`` included), so it is narrowed to ``null`` alone (see ``schema_helper``).
_APISPEC_NULL_BRANCH = {"type": "object", "nullable": True}
_NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}


def _argument_locations(view: Callable | None, method: str) -> set[str]:
    """Where a flask-smorest view reads its ``@arguments`` from for ``method`` (``json``, ``query``)."""
    if view is None:
        return set()
    view_class = getattr(view, "view_class", None)
    function = getattr(view_class, method.lower(), None) if view_class is not None else view
    parameters = getattr(function, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    return {p.get("in") for p in parameters if isinstance(p, dict)}


def takes_json_body(view: Callable | None, method: str) -> bool:
    """Whether a flask-smorest view reads a JSON body for ``method`` (from its ``@arguments``)."""
    return "json" in _argument_locations(view, method)


def _status_name(status: int) -> str:
    return http.HTTPStatus(status).name


class AccessDocPlugin(BasePlugin):
    """Document on every operation the security and error answers its route implies.

    The access rule declared on the view gives ``security`` and the 401/403 answers; a URL
    with parameters may answer 404; a JSON body may be malformed (400) or of another
    type (415); a body or a query string may be invalid (422); a write may clash with
    existing data (409, e.g. a change someone else just made). Answers documented explicitly
    on the view (``@blp.alt_response(409, ...)`` where the service raises ``Conflict``) are kept.

    It also makes the schemas say what the server checks: nullable nested objects are
    ``null`` or the object (not any object), a PATCH body (:class:`~lms.api.schemas.UpdateSchema`)
    has at least one field, and a non-blank string has a non-space character.
    """

    def __init__(self, api: LmsApi):
        super().__init__()
        self.api = api

    def operation_helper(self, path=None, operations=None, **kwargs):
        """Complete the operations of one path (called by apispec for every path)."""
        rule = kwargs.get("rule")
        app = self.api.app
        if rule is None or app is None or not operations:
            return
        access = rule_for_endpoint(app, rule.endpoint)
        view = app.view_functions.get(rule.endpoint)
        for method, operation in operations.items():
            if method.startswith("x-") or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if access is not None and access.is_public:
                operation["security"] = []
            else:
                _add_response(responses, 401)
            if access is None or access.roles:
                _add_response(responses, 403)
            if rule.arguments:
                _add_response(responses, 404)
            locations = _argument_locations(view, method)
            if "json" in locations:
                _add_response(responses, 400)
                _add_response(responses, 415)
            if locations & {"json", "query"}:
                _add_response(responses, 422)
            if method.upper() in WRITE_METHODS:
                _add_response(responses, 409)

    def schema_helper(self, name, definition, **kwargs):
        """Complete one schema component (called by apispec after the marshmallow plugin)."""
        _narrow_null_branches(definition)
        schema = kwargs.get("schema")
        schema_class = schema if isinstance(schema, type) else type(schema)
        is_update = isinstance(schema_class, type) and issubclass(schema_class, UpdateSchema)
        # A create schema may derive from its update schema; its required fields say enough.
        if is_update and not any(f.required for f in schema_class._declared_fields.values()):
            definition["minProperties"] = 1
        return definition


def _narrow_null_branches(node: object) -> None:
    """Replace apispec's "any object" null branch by one that allows ``null`` only, in place."""
    if isinstance(node, dict):
        branches = node.get("anyOf")
        if isinstance(branches, list):
            node["anyOf"] = [dict(_NULL_ONLY) if b == _APISPEC_NULL_BRANCH else b for b in branches]
        for value in node.values():
            _narrow_null_branches(value)
    elif isinstance(node, list):
        for item in node:
            _narrow_null_branches(item)


def _space_class() -> str:
    """The characters ``str.strip()`` removes, as a regex class body (engines disagree on spaces)."""
    spaces = [c for c in range(0x3001) if chr(c).isspace()]
    runs: list[list[int]] = []
    for c in spaces:
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return "".join(f"\\u{a:04x}" + (f"-\\u{b:04x}" if b > a else "") for a, b in runs)


#: "Holds a character that is not a space": what :class:`~lms.api.schemas.NotBlank` asks.
NOT_BLANK_PATTERN = f"[^{_space_class()}]"


def _not_blank_pattern(_converter, field, **_kwargs) -> dict:
    """A string refused when blank (:class:`~lms.api.schemas.NotBlank`) must hold a non-space."""
    if any(isinstance(v, NotBlank) for v in getattr(field, "validators", ())):
        return {"pattern": NOT_BLANK_PATTERN}
    return {}


def _add_response(responses: dict, status: int) -> None:
    if status not in responses and str(status) not in responses:
        responses[status] = _status_name(status)


class LmsApi(Api):
    """flask-smorest's Api with lms's one error body shape documented.

    Errors are answered by :mod:`lms.errors` (for pages and API alike), so flask-smorest's
    own handler is not installed; only its documentation of errors is kept.
    """

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = "Error"

    @property
    def app(self) -> Flask | None:
        """The application this Api was last initialised with."""
        return self._app

    def _init_spec(self, **options):
        extra = list(options.pop("extra_plugins", None) or ())
        super()._init_spec(extra_plugins=[*extra, AccessDocPlugin(self)], **options)
        self.ma_plugin.converter.add_attribute_function(_not_blank_pattern)

    def _register_responses(self):
        """Register ``Error`` (every operation's default answer) and one response per status."""
        super()._register_responses()
        response = {"description": "Any other error", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response)

    def _register_pagination_header(self):
        """Lists carry their page in the body, not in flask-smorest's ``X-Pagination`` header."""

    def _register_error_handlers(self):
        """Errors are answered by :mod:`lms.errors` for pages and API alike."""

    def register_blueprint(self, blp, *, parameters=None, **options):
        """Register an API blueprint, exempt from CSRF checks.

        API requests authenticate with a bearer token only and ignore the session cookie
        (:func:`lms.accounts.auth.load_session_user`), so a cross-site request cannot act
        as anyone: there is nothing for a CSRF token to protect.
        """
        csrf.exempt(blp)
        super().register_blueprint(blp, parameters=parameters, **options)


api = LmsApi()


def check_api_request() -> None:
    """Refuse bodies the views should never see.

    (Ids too large for the database never match a route: see :mod:`lms.routing`.) An
    endpoint that reads a JSON body is refused a body of any other type (415; no body at all
    is an empty input) and a body that does not parse (400);
    parsing here also catches nesting too deep for the parser, which webargs would let
    through as an unexpected error.
    """
    if not request.path.startswith(API_PREFIX + "/") or request.endpoint is None:
        return
    if request.method not in BODY_METHODS:
        return
    if not takes_json_body(current_app.view_functions.get(request.endpoint), request.method):
        return
    if not request.is_json and (request.content_length or request.mimetype):
        raise UnsupportedMediaType("Send the body as JSON, with the header 'Content-Type: application/json'.")
    body = request.get_data(cache=True)
    if body.strip():
        try:
            json.loads(body)
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            abort(400, messages={"json": ["Invalid JSON body."]})


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
                    "`Authorization: Bearer <token>` (session cookies are ignored). Bodies are JSON. "
                    'Every error has the body `{"error": {"code", "message", "fields"}}`, where `fields` '
                    "names each field at fault with its problems. Lists are paginated with `page` and "
                    "`per_page` (at most 100) and answer `{items, page, per_page, total, pages}`."
                ),
            },
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
    )
    api.init_app(app)
    app.extensions["lms_api"] = api  # for the docs page, which lms.api.docs cannot import
    declare_endpoint(app, "api-docs.openapi_json", PUBLIC)
    app.before_request(check_api_request)

    from lms.api import accounts, assessments, courses, docs, notifications

    app.register_blueprint(docs.bp)
    for blueprint in (
        accounts.me_blp,
        accounts.tokens_blp,
        accounts.users_blp,
        courses.courses_blp,
        courses.cohorts_blp,
        courses.enrolments_blp,
        notifications.blp,
        *assessments.BLUEPRINTS,
    ):
        api.register_blueprint(blueprint)
