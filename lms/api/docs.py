"""A readable page of the API documentation, rendered on the server from the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, render_template

from lms.permissions import public

bp = Blueprint("api", __name__, url_prefix="/api/v1", template_folder="templates")
METHODS = ("get", "post", "put", "patch", "delete")


@bp.route("/docs")
@public
def docs():
    """Every path, operation, parameter and schema of the API, without any script."""
    from lms.api import api

    spec = api.spec.to_dict()
    operations = []
    for path, item in sorted(spec.get("paths", {}).items()):
        for method in METHODS:
            if method in item:
                operations.append((path, method.upper(), item[method]))
    return render_template(
        "api/docs.html", spec=spec, operations=operations, schemas=spec.get("components", {}).get("schemas", {})
    )
