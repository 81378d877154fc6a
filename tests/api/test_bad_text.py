"""Text the database cannot store, in every string of every API operation: 422 naming the field.

Driven by the OpenAPI document: every string property of every request body (nested objects
and list items included) and every string query parameter gets a NUL and a lone surrogate, so
an operation added later is covered without touching this file. The surrogate is sent as JSON
escapes (``"\\ud800x"``), which is valid JSON that decodes to a string UTF-8 cannot encode.
"""

from __future__ import annotations

import json

import pytest

from lms.text import NUL_PROBLEM, SURROGATE_PROBLEM
from tests.api import test_bad_input
from tests.api.test_bad_input import (
    assert_unchanged,
    body_schema,
    database_state,
    leaves,
    operations,
    url_for_operation,
)
from tests.api.test_base import assert_error, resolve

#: The fixtures of the bad-input suite: the document, and an administrator holding every role.
spec, maker, caller = test_bad_input.spec, test_bad_input.maker, test_bad_input.caller

BAD = {"NUL": ("nul\x00here", NUL_PROBLEM), "surrogate": ("\ud800x", SURROGATE_PROBLEM)}


def _is_string(schema: dict) -> bool:
    kind = schema.get("type")
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def _string_leaves(spec: dict, op) -> list:
    schema = body_schema(spec, op)
    return [leaf for leaf in leaves(spec, schema) if _is_string(leaf.schema)] if schema else []


def _string_query_parameters(spec: dict, op) -> list[str]:
    return [
        p["name"]
        for p in (resolve(spec, p) for p in op.operation.get("parameters", []))
        if p.get("in") == "query" and _is_string(resolve(spec, p.get("schema", {})))
    ]


def test_the_document_has_string_inputs_to_try(spec):
    found = {str(op): [leaf.name for leaf in _string_leaves(spec, op)] for op in operations(spec)}
    tried = [f"{op} {name}" for op, names in found.items() for name in names]
    assert "POST /api/v1/tokens name" in tried and "PATCH /api/v1/courses/{course_id} summary" in tried
    assert "PUT /api/v1/courses/{course_id}/modules/{module_id}/knowledge-check questions.0.prompt" in tried
    assert any(q == "q" for op in operations(spec) for q in _string_query_parameters(spec, op))


@pytest.mark.parametrize("label", list(BAD))
def test_every_string_of_every_body_refuses_unstorable_text(client, spec, maker, caller, db, label):
    value, problem = BAD[label]
    problems = []
    for op in operations(spec):
        string_leaves = _string_leaves(spec, op)
        if not string_leaves:
            continue
        url = url_for_operation(op, maker)
        db.session.commit()
        before = database_state()
        for leaf in string_leaves:
            response = getattr(caller, op.method)(
                url, data=json.dumps(leaf.wrap(value)), content_type="application/json"
            )
            where = f"{op} {leaf.name}={label}"
            if response.status_code != 422:
                problems.append(f"{where}: {response.status_code} {response.get_data(as_text=True)[:300]}")
                continue
            error = assert_error(response, 422, "invalid_input", where=where)
            # A list's item is named by its index (``options.0``, ``questions.0.prompt``).
            if not any(problem.lower() in message.lower() for message in error["fields"].get(leaf.name, [])):
                problems.append(f"{where}: fields {error['fields']}")
        assert_unchanged(before, str(op))
    assert not problems, "\n".join(problems)


def test_every_string_query_parameter_refuses_nul(client, spec, maker, caller, db):
    problems = []
    for op in operations(spec):
        for name in _string_query_parameters(spec, op):
            url = url_for_operation(op, maker)
            response = caller.get(f"{url}?{name}=nul%00here")
            error = assert_error(response, 422, "invalid_input", where=f"{op} ?{name}")
            if not any(NUL_PROBLEM.lower() in message.lower() for message in error["fields"].get(name, [])):
                problems.append(f"{op} ?{name}: {error['fields']}")
            # A lone surrogate cannot be sent in a URL: its bytes are not UTF-8 and become U+FFFD.
            response = caller.get(f"{url}?{name}=%ED%A0%80x")
            if response.status_code >= 500:
                problems.append(f"{op} ?{name} with a surrogate's bytes: {response.status_code}")
    assert not problems, "\n".join(problems)


def test_the_reported_cases_answer_422_not_500(db, api, make_user, make_course):
    """The cases of the report: ``{"name": "\\ud800x"}`` to tokens, users and a course."""
    from lms.permissions import Role

    admin = make_user(Role.ADMIN)
    course = make_course()
    user = make_user(Role.TRAINEE)
    db.session.commit()
    for method, url, body, field in [
        ("post", "/api/v1/tokens", {"name": "\ud800x"}, "name"),
        ("patch", f"/api/v1/courses/{course.id}", {"title": "\ud800x"}, "title"),
        ("patch", f"/api/v1/courses/{course.id}", {"summary": "a\x00b"}, "summary"),
        ("post", "/api/v1/users", {"email": "x@example.org", "name": "\ud800x"}, "name"),
        ("post", "/api/v1/users", {"email": "x@example.org", "name": "Nul\x00Name"}, "name"),
        ("patch", f"/api/v1/users/{user.id}", {"name": "\ud800x"}, "name"),
    ]:
        response = getattr(api(admin), method)(url, data=json.dumps(body), content_type="application/json")
        error = assert_error(response, 422, "invalid_input", where=f"{method} {url}")
        assert list(error["fields"]) == [field], error
        assert field in error["message"]
