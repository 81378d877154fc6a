"""Request ids, security headers and cache rules on every response."""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def no_store() -> None:
    """Mark this response as showing a secret: no cache, browser or shared, may keep it."""
    g.cache_no_store = True


def _cache_control() -> str | None:
    """``no-store`` for secrets and API answers to a token; ``private`` for signed-in pages.

    Read from what the request already loaded: Flask-Login keeps the user in
    ``g._login_user``. ``is_anonymous`` is a constant on both user classes, whereas
    ``is_authenticated`` reads the (by now committed and expired) user row again.
    """
    if g.get("cache_no_store"):
        return "no-store"
    user = g.get("_login_user")
    if user is None or user.is_anonymous:
        return None
    return "no-store" if request.path.startswith("/api/") else "private"


def init_app(app: Flask) -> None:
    """Register the request-id and header hooks."""

    @app.before_request
    def assign_request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def set_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config["SESSION_COOKIE_SECURE"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if "request_id" in g:
            headers["X-Request-ID"] = g.request_id
        # A view's own choice (a download's ``private, no-cache``, a static file) stands.
        if "Cache-Control" not in headers:
            cache_control = _cache_control()
            if cache_control:
                headers["Cache-Control"] = cache_control
        return response
