"""The OpenAPI document is a contract: schemathesis checks every operation against it, in process.

Every operation of ``/api/v1/openapi.json`` is called with data generated from the document,
valid and invalid, as an administrator and as a trainee. A test fails on any 5xx, on an answer
whose status, content type, headers or body the document does not describe, on invalid input
that is accepted, and on valid input that is refused by the input schemas (as opposed to a rule
of the domain the document cannot express: those are documented 409/422 answers). The
operations are read from the document when the tests are collected, so a new endpoint gets its
own two tests (``[METHOD /path][admin]`` and ``[...][trainee]``) without anyone listing it.

The calls go through the ``client`` fixture, so they run in the test's rolled-back transaction:
whatever they create is gone after the test. Ids in URLs are mostly those of a small seeded
catalogue (so that more than 404 is checked), sometimes generated ones.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from lms import create_app
from lms.courses import content
from lms.courses.content import QuestionInput
from lms.courses.models import Module
from lms.database import MAX_ID, today, utcnow
from lms.notifications.services import notify
from lms.permissions import Role
from lms.text import NUL_PROBLEM, SURROGATE_PROBLEM

#: Generated examples per operation and caller: a small, fixed-seed budget, not an exhaustive search.
#: ``LMS_SCHEMATHESIS_EXAMPLES=200 pytest tests/api/test_schemathesis.py`` searches harder.
MAX_EXAMPLES = int(os.environ.get("LMS_SCHEMATHESIS_EXAMPLES", "10"))

#: The message :mod:`lms.errors` gives to a 422 from the input schemas (not from a domain rule).
SCHEMA_REFUSAL = "Some of the input is not valid"

#: Real ids the URLs use most of the time (set by the ``world`` fixture of each test).
KNOWN_IDS: dict[str, list[int]] = {}


def _load_schema() -> schemathesis.BaseSchema:
    """The API's document, read once from an application of its own (it needs no database)."""
    document_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "only-the-openapi-document-is-read",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
        }
    )
    config = schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # Query strings ignore parameters they do not know (cache-busters, tracking), on
                # purpose; unknown body fields are refused, and tests/api/test_bad_input.py checks it.
                "allow-extra-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
            "checks": {
                # Valid input may still break a rule the document cannot express (a duplicate
                # code, dates out of order, a capacity below the places taken): a documented
                # 409/422. `valid_input_passes_the_schemas` below catches the input schemas
                # refusing what the document allows.
                "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422"]},
            },
        }
    )
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", document_app, config=config)


schema = _load_schema()


@schema.hook
def map_path_parameters(_context, path_parameters):
    """Most generated ids become ids of the seeded catalogue, so more than 404 is checked."""
    if not path_parameters:
        return path_parameters
    mapped = dict(path_parameters)
    for name, value in path_parameters.items():
        known = KNOWN_IDS.get(name)
        # Only ids the document allows are replaced, so an invalid one stays invalid.
        if known and type(value) is int and 0 <= value <= MAX_ID and value % 4:
            mapped[name] = known[value % len(known)]
    return mapped


def _storage_problem(problem: str) -> bool:
    return any(known.lower() in problem.lower() for known in (NUL_PROBLEM, SURROGATE_PROBLEM))


def valid_input_passes_the_schemas(_ctx, response, case):
    """Input the document allows is not refused by the input schemas (a 422 naming fields).

    Two refusals the document cannot express in OpenAPI 3.0 are let through: text the database
    cannot store (NUL, lone surrogates) and object keys of the wrong shape (``answers.<key>.key``).
    """
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    error = response.json().get("error", {})
    if not error.get("message", "").startswith(SCHEMA_REFUSAL):
        return None  # a rule of the domain: a documented 422
    refused = {
        name: problems
        for name, problems in error.get("fields", {}).items()
        if not name.endswith(".key") and not all(_storage_problem(p) for p in problems)
    }
    if refused:
        raise Failure(
            operation=case.operation.label,
            title="Schema-valid input refused by the input schemas",
            message=f"The document allows this input, the server's schemas refuse it: {refused}",
        )
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    valid_input_passes_the_schemas,
]


@pytest.fixture(params=["admin", "trainee"])
def role(request) -> str:
    """Who calls: every operation is run once as an administrator and once as a trainee."""
    return request.param


@pytest.fixture
def world(db, make_user, make_course, make_cohort, make_enrolment, make_token, assessments_world):
    """A small catalogue: a course with modules and a knowledge check, a cohort, two enrolments."""
    admin = make_user(Role.ADMIN)
    trainee = make_user(Role.TRAINEE)
    course = make_course(modules=3, is_self_enrol=True)
    other = make_course(modules=1)
    cohort = make_cohort(other, capacity=3, enrolment_opens_on=today() - dt.timedelta(days=1))
    modules = db.session.scalars(select(Module).where(Module.course_id == course.id)).all()
    content.save_knowledge_check(
        admin,
        modules[-1],
        50,
        [QuestionInput(prompt="Two and two?", options=["3", "4"], correct=1, explanation="Count.")],
    )
    enrolment = make_enrolment(trainee, course)
    # Nothing left to do and no cohort: the nullable fields of an enrolment are null here.
    finished = make_enrolment(trainee, make_course(modules=0))
    tokens = {"admin": make_token(admin), "trainee": make_token(trainee)}
    assessments_ids = assessments_world(admin, trainee, course)
    # One read and one unread notification each, so the list shows both shapes.
    notices = [
        notify(person, "storage_mismatch", about=f"world-{n}", title="A file changed", link="/admin/jobs")
        for person in (admin, trainee)
        for n in (1, 2)
    ]
    notices[0].read_at = notices[2].read_at = utcnow()
    KNOWN_IDS.update(
        {
            "course_id": [course.id, other.id],
            "module_id": [m.id for m in modules],
            "cohort_id": [cohort.id],
            "enrolment_id": [enrolment.id, finished.id],
            "user_id": [trainee.id, admin.id],
            "token_id": [token.id for token, _plain in tokens.values()],
            "notification_id": [n.id for n in notices],
            **assessments_ids,
        }
    )
    yield {role: plain for role, (_token, plain) in tokens.items()}
    KNOWN_IDS.clear()


@pytest.fixture
def assessments_world(db, make_assignment, make_pool, make_submission) -> Callable[..., dict[str, list[int]]]:
    """Assignments with work in every shape: a blind, moderated assignment where the trainee's
    first attempt was referred, moderated, released and changed after release (a grade history),
    their second attempt a draft with a file, an extension; and another trainee's unmarked work.
    """
    from lms.assessments import marking, moderation, submissions
    from lms.assessments.assignments import current_version
    from lms.assessments.models import ModerationDecision
    from tests.assessments.factories import PDF_BYTES, levels_for

    def build(admin, trainee, course) -> dict[str, list[int]]:
        first_marker, second_marker = make_pool(course, 2)
        blind = make_assignment(course, is_blind=True, is_moderated=True, moderation_share=0, max_attempts=3)
        points = make_assignment(course, scheme={"kind": "points", "max_points": 50, "pass_mark": 20})
        first = make_submission(blind, trainee, files=[("case study.pdf", PDF_BYTES)])
        marker = first_marker if first.marker_id == first_marker.id else second_marker
        moderator = second_marker if marker is first_marker else first_marker
        levels = {"levels": levels_for(current_version(blind), [5, 0])}
        mark = marking.save_mark(
            marker, first, levels, expected_version=None, is_final=True, feedback="Refer."
        )
        moderation.moderate(moderator, first, ModerationDecision.AGREED, expected_version=mark.version)
        marking.release(admin, [first])
        marking.save_mark(
            admin, first, levels, expected_version=mark.version, feedback="Refer, see notes.", reason="Typo"
        )
        draft = submissions.open_draft(trainee, blind)
        upload = submissions.add_file(trainee, draft, io.BytesIO(b"My notes."), "notes.txt")
        submissions.grant_extension(admin, blind, trainee, utcnow() + dt.timedelta(days=14), "Illness")
        unmarked = make_submission(points)
        return {
            "assignment_id": [blind.id, points.id],
            "submission_id": [first.id, draft.id, unmarked.id],
            "file_id": [upload.id],
        }

    return build


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_to_the_document(case, app, client, world, role):
    case.call_and_validate(
        app=app, session=client, headers={"Authorization": f"Bearer {world[role]}"}, checks=CHECKS
    )
