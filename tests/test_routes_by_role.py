"""Every registered route, called by anonymous, by each role and by an unrelated user.

The table below is the reviewed statement of who may use what. A route that is not in
the table, or whose declared rule differs from it, fails the suite; so does a route that
lets the wrong person in or shuts the right person out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from lms.permissions import Role, rule_for_endpoint

A = Role.ADMIN
T, S, L, M = Role.TRAINEE, Role.ASSESSOR, Role.LIAISON, Role.ORG_MANAGER
PUBLIC = "public"
ANY = "authenticated"

#: endpoint -> who may call it: PUBLIC, ANY (signed in), or a set of roles.
ACCESS: dict[str, object] = {
    "static": PUBLIC,
    "bootstrap.static": PUBLIC,
    "main.index": PUBLIC,
    "main.favicon": PUBLIC,
    "main.healthz": PUBLIC,
    "main.readyz": PUBLIC,
    "main.dashboard": ANY,
    "accounts.login": PUBLIC,
    "accounts.logout": ANY,
    "accounts.change_password": ANY,
    "accounts.request_reset": PUBLIC,
    "accounts.reset_password": PUBLIC,
    "accounts.tokens": ANY,
    "accounts.revoke_token": ANY,
    "admin.users": {A},
    "admin.create_user": {A},
    "admin.user": {A},
    "admin.set_active": {A},
    "admin.resend_invitation": {A},
    "admin.audit_log": {A},
    "jobs_admin.jobs": {A},
    "jobs_admin.run_now": {A},
    "jobs_admin.outbox": {A},
    "jobs_admin.retry_email": {A},
    "notifications.index": ANY,
    "notifications.mark_read": ANY,
    "notifications.mark_all_read": ANY,
    "notifications.preferences": ANY,
    "api.docs": PUBLIC,
    "api-docs.openapi_json": PUBLIC,
    "api_me.get_me": ANY,
    "api_tokens.list_tokens": ANY,
    "api_tokens.create_token": ANY,
    "api_tokens.revoke_token": ANY,
    "api_users.list_users": {A},
    "api_users.create_user": {A},
    "api_users.get_user": {A},
    "api_users.update_user": {A},
    # courses: trainee pages
    "courses.catalogue": ANY,
    "courses.course": ANY,
    "courses.enrol": {T},
    "courses.withdraw": {T},
    "courses.module": {T, A},
    "courses.record_opening": {T},
    "courses.complete_module": {T},
    "courses.submit_check": {T},
    "courses.resource": {T, A},
    "courses.mine": {T},
    # courses: building them
    "course_admin.courses": {A},
    "course_admin.create_course": {A},
    "course_admin.edit_course": {A},
    "course_admin.course": {A},
    "course_admin.create_module": {A},
    "course_admin.edit_module": {A},
    "course_admin.move_module": {A},
    "course_admin.retire_module": {A},
    "course_admin.module_resources": {A},
    "course_admin.resource_file": {A},
    "course_admin.remove_resource": {A},
    "course_admin.knowledge_check": {A},
    "course_admin.create_cohort": {A},
    "course_admin.edit_cohort": {A},
    "course_admin.enrol": {A},
    "course_admin.withdraw": {A},
    # courses: reports and bulk enrolment (org managers see their own staff only)
    "course_manage.staff": {A, M},
    "course_manage.courses": {A, M},
    "course_manage.course_progress": {A, M},
    "course_manage.cohort_progress": {A, M},
    "course_manage.course_progress_csv": {A, M},
    "course_manage.bulk_enrol": {A, M},
    "course_manage.bulk_enrol_result": {A, M},
    "course_manage.bulk_problems": {A, M},
    # courses: API
    "api_courses.list_courses": ANY,
    "api_courses.create_course": {A},
    "api_courses.get_course": ANY,
    "api_courses.update_course": {A},
    "api_courses.list_modules": ANY,
    "api_courses.create_module": {A},
    "api_courses.reorder_modules": {A},
    "api_courses.get_module": {T, A},
    "api_courses.update_module": {A},
    "api_courses.get_knowledge_check": {T, A},
    "api_courses.save_knowledge_check": {A},
    "api_courses.list_cohorts": ANY,
    "api_courses.create_cohort": {A},
    "api_cohorts.get_cohort": ANY,
    "api_cohorts.update_cohort": {A},
    "api_cohorts.list_cohort_enrolments": {A, M},
    "api_enrolments.list_enrolments": ANY,
    "api_enrolments.create_enrolment": {T, M, A},
    "api_enrolments.get_enrolment": ANY,
    "api_enrolments.withdraw_enrolment": {T, M, A},
    "api_enrolments.open_module": {T},
    "api_enrolments.complete_module": {T},
    "api_enrolments.submit_knowledge_check": {T},
    # notifications: each person's own
    "api_notifications.list_notifications": ANY,
    "api_notifications.unread_count": ANY,
    "api_notifications.mark_read": ANY,
    "api_notifications.mark_all_read": ANY,
    # assessments: the trainee's assignments, drafts, files and submitting
    "assessments.mine": {T},
    "assessments.assignment": ANY,
    "assessments.save_draft": {T},
    "assessments.add_file": {T},
    "assessments.remove_file": {T},
    "assessments.submit": {T},
    # handed-in files and feedback: the trainee, their marker and moderator, admins (checked per object)
    "assessments.download": ANY,
    "assessments.feedback_file": ANY,
    # marking: assessors (and admins) on the work allocated to them or for them to moderate
    "marking.queue": {S, A},
    "marking.moderation_queue": {S, A},
    "marking.mark": {S, A},
    "marking.moderate": {S, A},
    "marking.extension": {S, A},
    "marking.worksheet_csv": {S, A},
    "marking.worksheet_xlsx": {S, A},
    "marking.worksheet_upload": {S, A},
    # assessments: building, allocating, releasing, extensions, grade history, overview
    "assessment_admin.assignments": {A},
    "assessment_admin.create": {A},
    "assessment_admin.edit": {A},
    "assessment_admin.scheme": {A},
    "assessment_admin.pool": {A},
    "assessment_admin.submissions": {A},
    "assessment_admin.bulk": {A},
    "assessment_admin.reveal": {A},
    "assessment_admin.moderator": {A},
    "assessment_admin.extensions": {A},
    "assessment_admin.grade_history": {A},
    "assessment_admin.grade_history_csv": {A},
    "assessment_admin.overview": {A},
    # assessments: API
    "api_assignments.list_assignments": {T, S, A},
    "api_assignments.create_assignment": {A},
    "api_assignments.get_assignment_view": {T, S, A},
    "api_assignments.update_assignment": {A},
    "api_assignments.get_scheme": {T, S, A},
    "api_assignments.put_scheme": {A},
    "api_assignments.list_attempts": {T},
    "api_assignments.save_draft": {T},
    "api_assignments.add_file": {T},
    "api_assignments.remove_file": {T},
    "api_assignments.submit": {T},
    "api_assignments.list_submissions": {A},
    "api_assignments.list_extensions": {A},
    "api_assignments.create_extension": {A},
    "api_assignments.grade_history": {A},
    "api_submissions.marking_queue": {S, A},
    "api_submissions.get_submission": {T, S, A},
    "api_submissions.put_mark": {S, A},
    "api_submissions.moderate": {S, A},
    "api_submissions.grant_extension": {S, A},
    "api_submissions.release": {A},
    "api_submissions.allocate": {A},
    "api_assessor_pools.get_pool": {A},
    "api_assessor_pools.put_pool": {A},
}


@dataclass(frozen=True)
class ObjectCase:
    """A route about one person's object: its owner gets in, another person of the same role
    gets ``unrelated_status`` and changes nothing.
    """

    owner_role: Role
    #: status the unrelated person of the same role gets
    unrelated_status: int = 404
    #: a well-formed JSON body, so that the object check (not input validation) answers
    body: dict | None = None
    #: a multipart body instead: field -> (filename, bytes)
    files: dict | None = None
    #: URL argument -> the key of ``_owned_objects`` to fill it from (``file_id`` of the draft, say)
    aliases: dict | None = None


#: endpoint -> the object-level rule to prove, for routes whose URL names someone's object.
OBJECT_LEVEL: dict[str, ObjectCase] = {
    "accounts.revoke_token": ObjectCase(T),
    "api_tokens.revoke_token": ObjectCase(T),
    "courses.module": ObjectCase(T),
    "courses.record_opening": ObjectCase(T),
    "courses.complete_module": ObjectCase(T),
    "courses.submit_check": ObjectCase(T),
    "courses.resource": ObjectCase(T),
    "api_courses.get_module": ObjectCase(T),
    "api_courses.get_knowledge_check": ObjectCase(T),
    "api_enrolments.get_enrolment": ObjectCase(T),
    "api_enrolments.withdraw_enrolment": ObjectCase(T),
    "api_enrolments.open_module": ObjectCase(T),
    "api_enrolments.complete_module": ObjectCase(T),
    "api_enrolments.submit_knowledge_check": ObjectCase(T, body={"answers": {"1": 1}}),
    "notifications.mark_read": ObjectCase(T),
    "api_notifications.mark_read": ObjectCase(T),
    # assessments: another trainee's assignment, attempt, file or feedback is not found
    "assessments.assignment": ObjectCase(T),
    "assessments.save_draft": ObjectCase(T),
    "assessments.add_file": ObjectCase(T),
    "assessments.remove_file": ObjectCase(T, aliases={"file_id": "draft_file_id"}),
    "assessments.submit": ObjectCase(T),
    "assessments.download": (ObjectCase(T), ObjectCase(S)),
    "assessments.feedback_file": ObjectCase(T),
    # marking: an assessor the work is not allocated to (nor in their moderation sample) finds nothing
    "marking.mark": ObjectCase(S),
    "marking.moderate": ObjectCase(S, aliases={"submission_id": "moderated_submission_id"}),
    "marking.extension": ObjectCase(S),
    "marking.worksheet_csv": ObjectCase(S),
    "marking.worksheet_xlsx": ObjectCase(S),
    "marking.worksheet_upload": ObjectCase(S),
    "api_assignments.get_assignment_view": (ObjectCase(T), ObjectCase(S)),
    "api_assignments.get_scheme": (ObjectCase(T), ObjectCase(S)),
    "api_assignments.list_attempts": ObjectCase(T),
    "api_assignments.save_draft": ObjectCase(T, body={"text": "Mine now", "revision": 0}),
    "api_assignments.add_file": ObjectCase(T, files={"file": ("more.txt", b"More of my work.")}),
    "api_assignments.remove_file": ObjectCase(T, aliases={"file_id": "draft_file_id"}),
    "api_assignments.submit": ObjectCase(T, body={"declaration": True}),
    "api_submissions.get_submission": (ObjectCase(T), ObjectCase(S)),
    "api_submissions.put_mark": ObjectCase(S, body={"levels": {}, "version": None}),
    "api_submissions.moderate": ObjectCase(
        S, body={"decision": "agreed", "version": 1}, aliases={"submission_id": "moderated_submission_id"}
    ),
    "api_submissions.grant_extension": ObjectCase(
        S, body={"due_at": "2099-01-01T09:00:00Z", "reason": "Illness"}
    ),
}

IDENTITIES = ["anonymous", *Role]


def _expected_allowed(access, identity) -> bool:
    if access == PUBLIC:
        return True
    if identity == "anonymous":
        return False
    return access == ANY or identity in access


def _rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_is_in_the_table_and_declares_the_same_rule(app):
    problems = []
    for rule in app.url_map.iter_rules():
        declared = rule_for_endpoint(app, rule.endpoint)
        expected = ACCESS.get(rule.endpoint)
        if declared is None:
            problems.append(f"{rule.endpoint} ({rule.rule}) declares no access rule")
        elif expected is None:
            problems.append(f"{rule.endpoint} ({rule.rule}) is missing from ACCESS in this test")
        else:
            as_table = PUBLIC if declared.is_public else (ANY if not declared.roles else set(declared.roles))
            if as_table != expected:
                problems.append(f"{rule.endpoint}: declares {as_table}, table says {expected}")
    stale = set(ACCESS) - {r.endpoint for r in app.url_map.iter_rules()}
    problems += [f"{endpoint} is in ACCESS but no longer registered" for endpoint in sorted(stale)]
    assert not problems, "\n".join(problems)


@pytest.fixture
def world(db, make_user, make_token, make_course, make_cohort, make_assignment, make_pool, make_submission):
    """One user per role, each with an API token, and objects for URL parameters."""
    from lms.accounts.services import make_password_token

    people = {role: make_user(role) for role in Role}
    tokens = {role: make_token(people[role])[1] for role in Role}
    owner_token, _plain = make_token(people[T], name="owned by the trainee")
    subject = make_user(T, name="Subject of admin pages")
    course, module, cohort, resource, enrolment = _course_objects(people[T], make_course, make_cohort)
    # The trainee's submitted attempt, with a file, allocated to the assessor.
    make_pool(course, people=[people[S]])
    assignment = make_assignment(course, file_types=["txt"])
    submission = make_submission(assignment, people[T], files=[("case.txt", b"My case study.")])
    (submitted_file,) = _files_of(submission)
    values = {
        "user_id": subject.id,
        "token_id": owner_token.id,
        "token": make_password_token(subject),
        "filename": "css/lms.css",
        "course_id": course.id,
        "module_id": module.id,
        "cohort_id": cohort.id,
        "resource_id": resource.id,
        "enrolment_id": enrolment.id,
        "report_id": 1,
        "name": "prune_mail",
        "message_id": 1,
        "assignment_id": assignment.id,
        "submission_id": submission.id,
        "file_id": submitted_file.id,
    }
    db.session.commit()
    return people, tokens, values


def _files_of(submission):
    from lms.assessments.submissions import files_of

    return files_of([submission.id])[submission.id]


def _course_objects(trainee, make_course, make_cohort):
    """A published course with a module, a link resource and a cohort; ``trainee`` is enrolled."""
    from lms.courses import content
    from lms.courses import enrolment as enrolling

    course = make_course(modules=1)
    module = content.active_modules([course.id])[course.id][0]
    cohort = make_cohort(course)
    resource = content.save_resource(module, title="Reading", url="https://example.org/reading")
    enrolment = enrolling.enrol(trainee, trainee, course, cohort)
    return course, module, cohort, resource, enrolment


def _url(rule, values, aliases=None) -> str:
    values = {**values, **{arg: values[key] for arg, key in (aliases or {}).items()}}
    missing = [arg for arg in rule.arguments if arg not in values]
    assert not missing, f"{rule.endpoint}: add an example value for {missing} to the world fixture"
    url = rule.rule
    for arg in rule.arguments:
        url = re.sub(rf"<(?:[a-z]+:)?{arg}>", str(values[arg]), url)
    return url


def _call(client, method, url, bearer=None, body=None, files=None):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    kwargs = {"json": body or {}} if url.startswith("/api/") and method in {"POST", "PATCH", "PUT"} else {}
    if files:
        import io

        kwargs = {"data": {field: (io.BytesIO(data), name) for field, (name, data) in files.items()}}
    return client.open(url, method=method, headers=headers, **kwargs)


def test_every_route_answers_each_role_as_declared(app, world, login_as):
    people, tokens, values = world
    problems = []
    clients = {"anonymous": app.test_client()}
    for role in Role:
        clients[role] = app.test_client()
        response = clients[role].post(
            "/account/login", data={"email": people[role].email, "password": "correct horse battery"}
        )
        assert response.status_code == 302
    for rule, method in _rules(app):
        if rule.endpoint in OBJECT_LEVEL or rule.endpoint == "accounts.logout":
            continue  # proved below, with their owners; logging out would end the session
        url = _url(rule, values)
        is_api = url.startswith("/api/")
        access = ACCESS.get(rule.endpoint)
        for identity in IDENTITIES:
            bearer = tokens.get(identity) if is_api else None
            status = _call(clients[identity], method, url, bearer).status_code
            allowed = _expected_allowed(access, identity)
            if status >= 500:
                problems.append(f"{method} {url} as {identity}: {status}")
            elif allowed and status in (401, 403):
                problems.append(f"{method} {url} as {identity}: refused with {status}, should be allowed")
            elif not allowed:
                refused = {401} if (is_api and identity == "anonymous") else {403}
                if not is_api and identity == "anonymous":
                    refused = {302}
                if status not in refused:
                    problems.append(f"{method} {url} as {identity}: {status}, expected {sorted(refused)}")
    assert not problems, "\n".join(problems)


def _owned_objects(owner, make_token, make_course, make_cohort, assessment_objects):
    """Objects belonging to ``owner`` for every URL parameter of the object-level routes."""
    from lms.courses import content
    from lms.notifications.services import notify
    from lms.storage import services as storage

    token, _plain = make_token(owner)
    notification = notify(owner, "storage_mismatch", about=f"owned-{owner.id}", title="A file changed")
    values = {"token_id": token.id, "notification_id": notification.id}
    if owner.has_role(T):
        course, module, _cohort, _link, enrolment = _course_objects(owner, make_course, make_cohort)
        content.save_knowledge_check(None, module, 50, [content.QuestionInput("Q", ["a", "b"], 0)])
        stored = storage.save(b"handout", "handout.txt", "text/plain")
        resource = content.save_resource(module, title="Handout", stored_file=stored)
        values |= {
            "course_id": course.id,
            "module_id": module.id,
            "resource_id": resource.id,
            "enrolment_id": enrolment.id,
        }
    return values | assessment_objects(owner)


@pytest.fixture
def assessment_objects(
    make_course, make_assignment, make_pool, make_submission, make_user, assessments_admin
):
    """``owner`` -> their assessment objects.

    A trainee: an assignment with a released, referred first attempt (a file, a feedback file)
    and a second attempt in draft with a file (``draft_file_id``). An assessor: a submission
    allocated to them, and another (``moderated_submission_id``) in their moderation sample.
    """
    import io

    from lms.assessments import marking, submissions
    from lms.assessments.allocation import allocate
    from tests.assessments.factories import finish_mark

    def build(owner):
        course = make_course(modules=0)
        if owner.has_role(T):
            (marker,) = make_pool(course, 1)
            assignment = make_assignment(course, file_types=["txt"], max_files=3)
            first = make_submission(assignment, owner, files=[("case.txt", b"My case study.")])
            feedback = io.BytesIO(b"Link it to the principles.")
            feedback.filename = "feedback.txt"
            finish_mark(marker, first, [5, 0], feedback_upload=feedback)
            marking.release(assessments_admin, [first])
            draft = submissions.open_draft(owner, assignment)
            draft_file = submissions.add_file(owner, draft, io.BytesIO(b"Second go."), "second.txt")
            return {
                "assignment_id": assignment.id,
                "submission_id": first.id,
                "file_id": _files_of(first)[0].id,
                "draft_file_id": draft_file.id,
            }
        other = make_user(S)
        make_pool(course, people=[owner, other])
        assignment = make_assignment(course, file_types=["txt"], is_moderated=True, moderation_share=0)
        work = make_submission(assignment, files=[("case.txt", b"Someone's case study.")])
        sampled = make_submission(assignment)
        allocate(assessments_admin, [work], owner)
        allocate(assessments_admin, [sampled], other)
        finish_mark(other, sampled, [5, 0])  # a referral: sampled, and the owner is the only other assessor
        assert sampled.moderator_id == owner.id
        return {
            "assignment_id": assignment.id,
            "submission_id": work.id,
            "file_id": _files_of(work)[0].id,
            "moderated_submission_id": sampled.id,
        }

    return build


def _row_counts(db):
    import sqlalchemy as sa

    skip = {"audit_entries", "api_tokens"}
    return {
        t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
        for t in db.metadata.sorted_tables
        if t.name not in skip
    }


def _object_cases():
    for endpoint, cases in OBJECT_LEVEL.items():
        for case in cases if isinstance(cases, tuple) else (cases,):
            yield endpoint, case


def test_object_level_rules(app, db, make_user, make_token, make_course, make_cohort, assessment_objects):
    problems = []
    for endpoint, case in _object_cases():
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        method = "POST" if "POST" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        owner, stranger = make_user(case.owner_role), make_user(case.owner_role)
        values = _owned_objects(owner, make_token, make_course, make_cohort, assessment_objects)
        db.session.commit()
        url = _url(rule, values, case.aliases)
        for who, actor in (("unrelated", stranger), ("owner", owner)):
            client = app.test_client()
            bearer = None
            if url.startswith("/api/"):
                _t, bearer = make_token(actor)
                db.session.commit()
            else:
                client.post(
                    "/account/login", data={"email": actor.email, "password": "correct horse battery"}
                )
            before = _row_counts(db)
            status = _call(client, method, url, bearer, case.body, case.files).status_code
            db.session.expire_all()
            if who == "unrelated":
                if status != case.unrelated_status:
                    problems.append(f"{method} {endpoint} as unrelated {case.owner_role}: {status}")
                if _row_counts(db) != before:
                    problems.append(
                        f"{method} {endpoint} as unrelated {case.owner_role} changed the database"
                    )
            elif status in (401, 403, 404) or status >= 500:
                problems.append(f"{method} {endpoint} as owner: {status}")
    assert not problems, "\n".join(problems)
