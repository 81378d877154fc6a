"""Bad input to every API endpoint: always a 400/415/422 with the error body, never a 500, never a change.

The endpoints are discovered from the OpenAPI document (cross-checked with the URL map), so an
endpoint added later by any area is covered without touching this file, unless its URL has a
parameter this file does not know how to fill: then add a factory to ``PATH_VALUES``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from lms.api import takes_json_body
from lms.extensions import db as _db
from lms.permissions import Role
from tests.api.test_base import EXCLUDED_FROM_SPEC, assert_error, openapi_path, resolve

UNKNOWN_FIELD = "surely_not_a_field"
LONG = 10_000
HUGE_INTEGER = 2**63


@dataclass
class Maker:
    """What a ``PATH_VALUES`` factory may use to create the object a URL names."""

    #: The caller: an administrator who also holds every other role.
    admin: object
    request: pytest.FixtureRequest

    def __getattr__(self, fixture_name: str):
        """Any fixture by name, e.g. ``m.make_user`` or an area's ``m.make_course``."""
        return self.request.getfixturevalue(fixture_name)


#: How to get a real value for each URL parameter, by name: a factory creates what the URL
#: names (something the admin caller may act on) and returns the value to put in the URL.
#: It also gets the values of the parameters before it in the same URL, so that
#: ``/courses/{course_id}/modules/{module_id}`` can make a module of that course.
PATH_VALUES: dict[str, Callable[[Maker, dict], object]] = {
    "user_id": lambda m, _values: m.make_user(Role.TRAINEE).id,
    "token_id": lambda m, _values: m.make_token(m.admin)[0].id,
    "organisation_id": lambda m, _values: m.make_organisation().id,
    "course_id": lambda m, _values: m.make_course().id,
    "module_id": lambda m, values: _module_id(m, values),
    "cohort_id": lambda m, _values: m.make_cohort(m.make_course()).id,
    "enrolment_id": lambda m, _values: m.make_enrolment(m.admin, m.make_course()).id,
    "notification_id": lambda m, _values: _notification_id(m),
    "assignment_id": lambda m, _values: m.make_assignment().id,
    "submission_id": lambda m, _values: m.make_submission(m.make_assignment()).id,
    "file_id": lambda m, values: _draft_file_id(m, values),
}

_notified = itertools.count(1)


def _notification_id(m: Maker) -> int:
    """A notification of the caller's own (each one about something new)."""
    from lms.notifications.services import notify

    return notify(m.admin, "storage_mismatch", about=f"path-{next(_notified)}", title="A file changed").id


def _draft_file_id(m: Maker, values: dict) -> int:
    """A file on the caller's own draft of the assignment named before it in the URL."""
    import io

    from lms.assessments import submissions
    from lms.assessments.models import Assignment

    assignment = _db.session.get(Assignment, values["assignment_id"])
    if submissions.current_enrolment(m.admin, assignment) is None:
        m.make_enrolment(m.admin, assignment.course)
    draft = submissions.open_draft(m.admin, assignment)
    return submissions.add_file(m.admin, draft, io.BytesIO(b"My notes."), "notes.txt").id


def _module_id(m: Maker, values: dict) -> int:
    """A module of the course (or enrolment's course) named before it in the URL, or of a new course."""
    from lms.courses.models import Enrolment, Module

    if "enrolment_id" in values:
        course_id = _db.session.get(Enrolment, values["enrolment_id"]).course_id
    else:
        course_id = values.get("course_id") or m.make_course().id
    return _db.session.scalar(select(Module.id).where(Module.course_id == course_id).limit(1))


@dataclass
class Operation:
    """One documented API operation."""

    method: str
    path: str
    operation: dict

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"{([^}]+)}", self.path)


@pytest.fixture
def spec(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def operations(spec: dict) -> list[Operation]:
    found = []
    for path, item in sorted(spec["paths"].items()):
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append(Operation(method, path, operation))
    return found


def body_schema(spec: dict, op: Operation) -> dict | None:
    """The JSON request body schema of an operation, if it takes one."""
    content = op.operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return resolve(spec, content["application/json"]["schema"])


def json_body_operations(spec: dict) -> list[Operation]:
    return [op for op in operations(spec) if body_schema(spec, op) is not None]


def list_operations(spec: dict) -> list[Operation]:
    """GET operations answering a page ``{items, page, per_page, total, pages}``."""
    found = []
    for op in operations(spec):
        ok = op.operation["responses"].get("200", {})
        schema = resolve(spec, ok.get("content", {}).get("application/json", {}).get("schema", {}))
        if op.method == "get" and {"items", "page", "per_page", "total", "pages"} <= set(
            schema.get("properties", {})
        ):
            found.append(op)
    return found


@pytest.fixture
def maker(request, make_user) -> Maker:
    # An administrator who also holds every other role, so that no route's role rule stands
    # between the input and its validation.
    return Maker(make_user(*Role), request)


@pytest.fixture
def caller(api, maker):
    return api(maker.admin)


def url_for_operation(op: Operation, maker: Maker, **overrides: object) -> str:
    """The operation's URL, with real values (or ``overrides``) for its parameters."""
    values: dict[str, object] = {}
    for name in op.parameters:
        if name not in overrides and name not in PATH_VALUES:
            pytest.fail(f"{op}: no example value for URL parameter {name!r}; add a factory to PATH_VALUES")
        values[name] = PATH_VALUES[name](maker, dict(values)) if name in PATH_VALUES else None
    values.update(overrides)
    path = op.path
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", str(value))
    return path


def database_state() -> dict[str, tuple[int, list]]:
    """Rows of every table: their count and their contents."""
    state = {}
    for table in _db.metadata.sorted_tables:
        count = _db.session.scalar(select(func.count()).select_from(table))
        rows = sorted(repr(tuple(row)) for row in _db.session.execute(select(table)))
        state[table.name] = (count, rows)
    return state


def assert_unchanged(before: dict, where: str) -> None:
    _db.session.expire_all()
    after = database_state()
    counts_before = {name: count for name, (count, _rows) in before.items()}
    counts_after = {name: count for name, (count, _rows) in after.items()}
    assert counts_after == counts_before, f"{where}: row counts changed"
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"{where}: rows changed in {changed}"


# ---------------------------------------------------------------------------------------------
# Values of the wrong type, per leaf field of a body schema.


@dataclass
class Leaf:
    """A field of a body schema, with its dotted name (``roles.0`` for a list's items)."""

    name: str
    schema: dict
    #: Builds a body putting ``value`` at this field.
    wrap: Callable[[object], object]


def leaves(spec: dict, schema: dict, prefix: str = "", wrap=lambda v: v) -> Iterator[Leaf]:
    """Every field of an object schema, descending into nested objects and list items."""
    for name, prop in schema.get("properties", {}).items():
        if prop.get("readOnly"):
            continue
        prop = resolve(spec, prop)
        dotted = f"{prefix}{name}"

        def put(value, _name=name, _wrap=wrap):
            return _wrap({_name: value})

        yield Leaf(dotted, prop, put)
        if prop.get("type") == "object" and "properties" in prop:
            yield from leaves(spec, prop, f"{dotted}.", put)
        if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
            items = resolve(spec, prop["items"])

            def put_item(value, _put=put):
                return _put([value])

            yield Leaf(f"{dotted}.0", items, put_item)
            if items.get("type") == "object" and "properties" in items:
                yield from leaves(spec, items, f"{dotted}.0.", put_item)


WRONG_TYPE = {
    "string": [12345, True, ["a list"], {"an": "object"}],
    "integer": ["twelve", "12", 1.5, True, [1]],
    "number": ["twelve", True, [1]],
    "boolean": ["maybe", 2, [True]],
    "array": ["not a list", 7, {"an": "object"}],
    "object": ["not an object", 7, ["a list"]],
}


def names_field(error: dict, name: str) -> bool:
    """The error names ``name`` or something inside it."""
    return any(f == name or f.startswith(name + ".") for f in error["fields"])


def send(caller, op: Operation, url: str, **kwargs):
    response = getattr(caller, op.method)(url, **kwargs)
    assert response.status_code != 500, f"{op}: 500 for {repr(kwargs)[:200]}"
    return response


# ---------------------------------------------------------------------------------------------


def test_endpoints_with_json_bodies_are_discovered(app, spec):
    """Every route whose view reads a JSON body is in the document with a request body."""
    documented = {(op.method, op.path) for op in json_body_operations(spec)}
    assert {
        ("post", "/api/v1/users"),
        ("patch", "/api/v1/users/{user_id}"),
        ("post", "/api/v1/tokens"),
    } <= documented
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule in EXCLUDED_FROM_SPEC:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if takes_json_body(app.view_functions[rule.endpoint], method):
                assert (method.lower(), openapi_path(rule.rule)) in documented, f"{method} {rule.rule}"


def test_every_url_parameter_has_an_example_value(spec):
    missing = sorted(
        f"{name} (in {op})" for op in operations(spec) for name in op.parameters if name not in PATH_VALUES
    )
    assert not missing, "Add a factory to PATH_VALUES in tests/api/test_bad_input.py for: " + ", ".join(
        missing
    )


def test_malformed_json(spec, caller, maker):
    for op in json_body_operations(spec):
        url = url_for_operation(op, maker)
        before = database_state()
        for raw in ['{"name": ', "{'single': 'quotes'}", "{,}", '{"a": 1}}', "[" * 100_000, b"\xff\xfe\x00"]:
            response = send(caller, op, url, data=raw, content_type="application/json")
            assert_error(response, 400, "bad_request", field="_schema", where=f"{op}: {raw[:20]!r}")
        assert_unchanged(before, str(op))


def test_not_an_object(spec, caller, maker):
    for op in json_body_operations(spec):
        url = url_for_operation(op, maker)
        before = database_state()
        for body in ([], [{}], ["x"], "text", 42, True, None):
            response = send(caller, op, url, data=json.dumps(body), content_type="application/json")
            assert_error(response, 422, "invalid_input", field="_schema", where=f"{op}: {body!r}")
        assert_unchanged(before, str(op))


def test_wrong_content_type(spec, caller, maker):
    for op in json_body_operations(spec):
        url = url_for_operation(op, maker)
        before = database_state()
        for content_type, data in [
            ("application/x-www-form-urlencoded", "a=1"),
            ("text/plain", "{}"),
            ("", "{}"),
        ]:
            response = send(caller, op, url, data=data, content_type=content_type or None)
            assert_error(response, 415, "unsupported_media_type", where=f"{op}: {content_type!r}")
        assert_unchanged(before, str(op))


def test_wrong_types(spec, caller, maker):
    for op in json_body_operations(spec):
        url = url_for_operation(op, maker)
        before = database_state()
        for leaf in leaves(spec, body_schema(spec, op)):
            for value in WRONG_TYPE.get(leaf.schema.get("type"), []):
                # JSON has types: "12" is not an integer (use strict=True, or object_id() for ids).
                where = f"{op}: {leaf.name}={value!r}"
                error = assert_error(
                    send(caller, op, url, json=leaf.wrap(value)), 422, "invalid_input", where=where
                )
                assert names_field(error, leaf.name), f"{where} gave {error}"
        assert_unchanged(before, str(op))


def test_out_of_range_numbers(spec, caller, maker):
    for op in json_body_operations(spec):
        url = url_for_operation(op, maker)
        before = database_state()
        for leaf in leaves(spec, body_schema(spec, op)):
            if leaf.schema.get("type") in {"integer", "number"}:
                for value in (HUGE_INTEGER, -HUGE_INTEGER):
                    where = f"{op}: {leaf.name}={value} (give it validate.Range(max=...))"
                    response = send(caller, op, url, json=leaf.wrap(value))
                    error = assert_error(response, 422, "invalid_input", where=where)
                    assert names_field(error, leaf.name), f"{where} gave {error}"
        assert_unchanged(before, str(op))


def test_missing_required_fields(spec, caller, maker):
    for op in json_body_operations(spec):
        required = body_schema(spec, op).get("required", [])
        if not required:
            continue
        url = url_for_operation(op, maker)
        before = database_state()
        error = assert_error(send(caller, op, url, json={}), 422, "invalid_input", where=str(op))
        assert set(required) <= set(error["fields"]), f"{op}: {error}"
        assert_unchanged(before, str(op))


def test_over_long_strings(spec, caller, maker):
    for op in json_body_operations(spec):
        url = url_for_operation(op, maker)
        before = database_state()
        for leaf in leaves(spec, body_schema(spec, op)):
            if leaf.schema.get("type") != "string":
                continue
            length = max(LONG, leaf.schema.get("maxLength", 0) + 1)
            response = send(caller, op, url, json=leaf.wrap("x" * length))
            assert response.status_code in (400, 422), (
                f"{op}: {leaf.name} accepted {length} characters; give it validate.Length(max=...)"
            )
            error = assert_error(response, response.status_code)
            assert names_field(error, leaf.name), f"{op}: {leaf.name} too long gave {error}"
        assert_unchanged(before, str(op))


def test_unknown_fields(spec, caller, maker):
    for op in json_body_operations(spec):
        url = url_for_operation(op, maker)
        before = database_state()
        error = assert_error(
            send(caller, op, url, json={UNKNOWN_FIELD: 1}), 422, "invalid_input", where=str(op)
        )
        assert UNKNOWN_FIELD in error["fields"], f"{op}: {error}"
        assert_unchanged(before, str(op))


def test_ids_beyond_any_table_in_urls(spec, caller, maker):
    for op in operations(spec):
        for name in op.parameters:
            url = url_for_operation(op, maker, **{name: 10**20})
            kwargs = {"json": {}} if body_schema(spec, op) is not None else {}
            before = database_state()
            assert_error(send(caller, op, url, **kwargs), 404, "not_found", where=f"{op} with {name}=10**20")
            assert_unchanged(before, str(op))


@pytest.mark.parametrize(
    "query, field",
    [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page=-3", "page"),
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
    ],
)
def test_lists_refuse_invalid_page_values(spec, caller, maker, query, field):
    lists = list_operations(spec)
    assert lists, "no paginated lists found in the document"
    for op in lists:
        url = url_for_operation(op, maker)
        response = send(caller, op, f"{url}?{query}")
        assert_error(response, 422, "invalid_input", field=field, where=f"{op}?{query}")


def test_lists_answer_the_page_envelope(spec, caller, maker):
    for op in list_operations(spec):
        body = send(caller, op, url_for_operation(op, maker) + "?page=1&per_page=100").get_json()
        assert set(body) == {"items", "page", "per_page", "total", "pages"}, str(op)
        assert (body["page"], body["per_page"]) == (1, 100), str(op)
