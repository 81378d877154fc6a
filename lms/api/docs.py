"""A readable page of the API documentation, rendered on the server from the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from lms.permissions import public

bp = Blueprint("api", __name__, url_prefix="/api/v1", template_folder="templates")
METHODS = ("get", "post", "put", "patch", "delete")


@bp.route("/docs")
@public
def docs():
    """Every path, operation, parameter and schema of the API, without any script."""
    spec = current_app.extensions["lms_api"].spec.to_dict()
    components = spec.get("components", {})
    operations = []
    for path, item in sorted(spec.get("paths", {}).items()):
        for method in METHODS:
            if method in item:
                operations.append(_operation(path, method, item, components))
    return render_template(
        "api/docs.html", spec=spec, operations=operations, schemas=components.get("schemas", {})
    )


def _operation(path: str, method: str, item: dict, components: dict) -> dict:
    """One operation, with the path's parameters and referenced responses filled in."""
    operation = item[method]
    responses = []
    for status, response in sorted(
        operation.get("responses", {}).items(), key=lambda r: (r[0] == "default", r[0])
    ):
        if "$ref" in response:
            response = components.get("responses", {}).get(response["$ref"].split("/")[-1], {})
        responses.append((status, response))
    return {
        "path": path,
        "method": method.upper(),
        "summary": operation.get("summary", ""),
        "description": operation.get("description", ""),
        "is_public": operation.get("security") == [],
        "parameters": [*item.get("parameters", []), *operation.get("parameters", [])],
        "request_body": operation.get("requestBody"),
        "responses": responses,
    }
