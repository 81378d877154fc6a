"""Domain errors and the one place that turns any error into a page or a JSON body."""

from __future__ import annotations

from flask import Flask, current_app, g, jsonify, render_template, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from lms.extensions import db


class DomainError(Exception):
    """A rule of the domain refused the action."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidInput(DomainError):
    """The input breaks a rule; ``fields`` names the fields and what is wrong with each."""

    status_code = 422
    code = "invalid_input"

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidInput:
        """Build the error for a single field."""
        return cls(message, {field: [message]})


class NotAllowed(DomainError):
    """The actor may not do this."""

    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    """The object does not exist, or the actor may not know that it does."""

    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    """The action clashes with the current state (a duplicate, a full cohort, a stale edit)."""

    status_code = 409
    code = "conflict"


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "server_error",
    503: "unavailable",
}


def wants_json() -> bool:
    """API requests get JSON bodies; everything else gets pages."""
    return request.path.startswith("/api/")


def error_body(status: int, message: str, fields: dict | None = None, code: str | None = None):
    """The single error body shape: ``{"error": {"code", "message", "fields"}}``."""
    body = {
        "error": {
            "code": code or HTTP_CODES.get(status, "error"),
            "message": message,
            "fields": fields or {},
        }
    }
    response = jsonify(body)
    response.status_code = status
    return response


def render_error(status: int, message: str, fields: dict | None = None, code: str | None = None):
    """Answer an error as JSON for the API or as a page for people."""
    if wants_json():
        return error_body(status, message, fields, code)
    template = f"errors/{status}.html" if status in (400, 403, 404, 500) else "errors/generic.html"
    return render_template(template, status=status, message=message, fields=fields or {}), status


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        db.session.rollback()
        return render_error(error.status_code, error.message, error.fields, error.code)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        db.session.rollback()
        if isinstance(error, InternalServerError):
            return handle_unexpected(error)
        data = getattr(error, "data", None)
        fields = _flatten_fields(data.get("messages") if isinstance(data, dict) else None)
        status = error.code or 500
        message = _describe_fields(status, fields) or error.description or error.name
        response = render_error(status, message, fields)
        # Keep the headers the error carries (Allow on 405, WWW-Authenticate, Retry-After).
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        if isinstance(response, tuple):
            return (*response, headers)
        response.headers.extend(headers)
        return response

    @app.errorhandler(IntegrityError)
    def handle_integrity_error(error: IntegrityError):
        # A unique or foreign-key rule fired inside the database: a race the
        # services could not see. Nothing was saved.
        db.session.rollback()
        current_app.logger.info("integrity error: %s", error.orig)
        return render_error(409, "That conflicts with a change someone else just made. Nothing was saved.")

    @app.errorhandler(OperationalError)
    def handle_operational_error(error: OperationalError):
        db.session.rollback()
        current_app.logger.exception("database unavailable")
        # The layout names who is signed in, and loading them needs the database that just
        # failed: draw this page as for a visitor (the session itself is left as it was).
        g._login_user = current_app.login_manager.anonymous_user()
        return render_error(503, "The service is briefly unavailable. Nothing was saved; please try again.")

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        db.session.rollback()
        current_app.logger.exception("unhandled error", exc_info=error)
        return render_error(500, "Something went wrong on our side. Nothing was saved.")


def _flatten_fields(messages: object) -> dict:
    """Flatten webargs' ``{"json": {...}}`` nesting into ``{field: [messages]}``.

    Nested fields get dotted names (``roles.0``, ``address.city``); a problem with the
    input as a whole (not JSON, not an object) is under ``_schema``, as in marshmallow.
    """
    if not isinstance(messages, dict):
        return {}
    flat: dict[str, list[str]] = {}
    for location, errors in messages.items():
        if location in {"json", "query", "form", "files", "headers", "path", "view_args"}:
            _flatten_into(flat, "", errors)
        else:
            _flatten_into(flat, str(location), errors)
    return flat


def _flatten_into(flat: dict[str, list[str]], prefix: str, errors: object) -> None:
    if isinstance(errors, dict):
        for key, value in errors.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            _flatten_into(flat, prefix if key == "_schema" else dotted, value)
    else:
        problems = errors if isinstance(errors, list | tuple) else [errors]
        flat.setdefault(prefix or "_schema", []).extend(str(p) for p in problems)


def _describe_fields(status: int, fields: dict[str, list[str]]) -> str | None:
    """A message for people from validation problems, instead of the generic HTTP text."""
    if not fields:
        return None
    if set(fields) == {"_schema"}:
        return " ".join(fields["_schema"])
    names = ", ".join(sorted(name for name in fields if name != "_schema"))
    return f"Some of the input is not valid ({names}); see fields." if status == 422 else None
