"""Bulk enrolment from CSV: every row checked first, batched lookups, two modes, the pages."""

from __future__ import annotations

import csv
import io
import re
import secrets
import time

import pytest
from sqlalchemy import func, insert, select

from lms.accounts.models import User
from lms.audit import AuditEntry
from lms.courses import bulk
from lms.courses import enrolment as enrolling
from lms.courses.models import CourseStatus, Enrolment, EnrolmentStatus
from lms.database import utcnow
from lms.errors import Conflict, InvalidInput, NotAllowed
from lms.extensions import db as _db
from lms.mail import OutboundEmail
from lms.permissions import Role

# --- test data -----------------------------------------------------------------------------


def make_csv(*rows: str, header: str = "email,name,organisation") -> bytes:
    """A CSV file (UTF-8) from lines of text."""
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def counts(db) -> dict[str, int]:
    """Rows of the tables a bulk enrolment may write."""
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (User, Enrolment, OutboundEmail, AuditEntry)
    }


def insert_people(db, organisation, count: int, prefix: str) -> None:
    """``count`` existing accounts in one bulk insert."""
    now = utcnow()
    db.session.execute(
        insert(User),
        [
            {
                "email": f"{prefix}{i}@example.org",
                "name": f"Existing {i}",
                "organisation_id": organisation.id,
                "session_token": secrets.token_urlsafe(24),
                "is_active_account": True,
                "created_at": now,
            }
            for i in range(count)
        ],
    )
    db.session.flush()


@pytest.fixture
def setting(db, make_organisation, make_user, make_course, make_cohort):
    """Two organisations, an admin, a manager of each, a course and a cohort."""
    org_a = make_organisation("Cardiff Family Centre")
    org_b = make_organisation("Swansea Prison Visitors")
    course = make_course(modules=1, title="Restorative Practice", code="RP1")
    return {
        "org_a": org_a,
        "org_b": org_b,
        "course": course,
        "cohort": make_cohort(course, name="Autumn cohort"),
        "admin": make_user(Role.ADMIN, name="Ada Admin"),
        "manager_a": make_user(Role.ORG_MANAGER, name="Mia Manager", organisation_id=org_a.id),
        "manager_b": make_user(Role.ORG_MANAGER, name="Ben Manager", organisation_id=org_b.id),
    }


def reasons(result) -> dict[int, str]:
    return {p.line: p.reason for p in result.problems}


# --- reading the file ----------------------------------------------------------------------


def test_wrong_encoding_is_refused_without_guessing(db, setting):
    data = "email,name,organisation\nzoe@example.org,Zoë Müller,Cardiff Family Centre\n".encode("latin-1")
    with pytest.raises(InvalidInput) as error:
        bulk.validate(setting["admin"], setting["course"], data)
    assert error.value.fields["file"] == [
        "The file is not UTF-8: save the file as “CSV UTF-8” and upload it again."
    ]


def test_utf8_with_bom_from_excel_is_read(db, setting):
    data = "\ufeffEmail,Name,Organisation\r\nzoe@example.org,Zoë Müller,cardiff family centre\r\n".encode()
    result = bulk.validate(setting["admin"], setting["course"], data)
    assert not result.problems and [r.name for r in result.rows] == ["Zoë Müller"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\n\n  \n", "The file is empty."),
        (b"email,name,organisation\n\n", "The file has a header row but nobody in it."),
        (b"email,name\nsam@example.org,Sam\n", "Missing: organisation."),
        (b"name\nSam\n", "Missing: email, organisation."),
        (
            b"sam@example.org,Sam,Cardiff Family Centre\n",
            "The first row looks like a person, not a header: add a header row above it.",
        ),
        (b"email,name,organisation,Email\n", "The header row names the column “email” twice."),
    ],
)
def test_problems_with_the_whole_file_stop_everything(db, setting, data, message):
    before = counts(db)
    with pytest.raises(InvalidInput) as error:
        bulk.bulk_enrol(setting["admin"], setting["course"], data)
    assert message in error.value.fields["file"][0]
    assert counts(db) == before


def test_columns_in_any_order_and_extra_columns_noted(db, setting):
    data = make_csv(
        "Cardiff Family Centre,Team 1,Sam Jones,SAM@Example.org ",
        header="Organisation,Team,Name,E-mail",
    )
    result = bulk.validate(setting["admin"], setting["course"], data)
    assert not result.problems
    assert result.rows[0].email == "sam@example.org" and result.rows[0].name == "Sam Jones"
    assert result.notes == ["Ignored the columns “Team”: only email, name and organisation are used."]


def test_more_than_50000_rows_are_refused(db, setting):
    lines = [f"p{i}@example.org,Person {i},Cardiff Family Centre" for i in range(bulk.MAX_ROWS + 1)]
    with pytest.raises(InvalidInput) as error:
        bulk.validate(setting["admin"], setting["course"], make_csv(*lines))
    assert "more than 50,000 people" in error.value.fields["file"][0]


# --- checking rows -------------------------------------------------------------------------


def test_each_bad_row_is_reported_with_its_line_and_reason(db, setting, make_user):
    make_user(email="already@example.org", organisation_id=setting["org_a"].id)
    enrolling.enrol(
        setting["admin"],
        _db.session.scalar(select(User).filter_by(email="already@example.org")),
        setting["course"],
    )
    data = make_csv(
        "good@example.org,Good Person,Cardiff Family Centre",  # line 2
        "not-an-email,Bad Email,Cardiff Family Centre",  # 3
        "noname@example.org,,Cardiff Family Centre",  # 4
        "noorg@example.org,No Org,Atlantis Trust",  # 5
        "GOOD@example.org,Good Again,Cardiff Family Centre",  # 6: same email as line 2
        "=cmd|' /C calc'!A0,Formula,Cardiff Family Centre",  # 7
        "formula@example.org,@SUM(A1:A9),Cardiff Family Centre",  # 8
        "plus@example.org,Plus,+Cardiff",  # 9
        f"long@example.org,{'x' * 201},Cardiff Family Centre",  # 10
        "already@example.org,Already,cardiff family centre",  # 11
        '"quoted@example.org","Quoted, With Comma",Cardiff Family Centre',  # 12
        ",,",  # 13: blank, ignored
        "-minus@example.org,Minus,Cardiff Family Centre",  # 14
    )
    result = bulk.validate(setting["admin"], setting["course"], data)
    found = reasons(result)
    assert found == {
        3: "“not-an-email” is not a valid email address.",
        4: "Name is missing.",
        5: "No organisation called “Atlantis Trust”. Check the spelling, or add the organisation first.",
        6: "The same email is on line 2; each person only once, please.",
        7: "Email looks like a spreadsheet formula (it starts with =).",
        8: "Name looks like a spreadsheet formula (it starts with @).",
        9: "Organisation looks like a spreadsheet formula (it starts with +).",
        10: "Name is longer than 200 characters.",
        11: "Already enrolled on this course (active).",
        14: "Email looks like a spreadsheet formula (it starts with -).",
    }
    skipped = [p for p in result.problems if p.outcome == bulk.Outcome.SKIPPED]
    assert [p.line for p in skipped] == [11]
    assert [r.email for r in result.rows] == ["good@example.org", "quoted@example.org"]
    assert result.rows_read == 12


def test_text_the_database_cannot_store_is_a_row_problem_naming_the_column(db, setting):
    data = make_csv(
        "nul\x00@example.org,Nul In Email,Cardiff Family Centre",
        "name@example.org,Nul\x00Name,Cardiff Family Centre",
        "org@example.org,Nul In Organisation,Cardiff\x00 Family Centre",
        "good@example.org,Good,Cardiff Family Centre",
    )
    before = counts(db)
    result = bulk.bulk_enrol(setting["admin"], setting["course"], data)
    assert reasons(result) == {
        2: "Email contains a character that cannot be stored (NUL).",
        3: "Name contains a character that cannot be stored (NUL).",
        4: "Organisation contains a character that cannot be stored (NUL).",
    }
    assert (result.enrolled, result.accounts_created) == (1, 1)
    assert counts(db)["User"] == before["User"] + 1
    # A lone surrogate cannot even be written as UTF-8: its bytes make the file "not UTF-8".
    surrogate = "email,name,organisation\nx@example.org,\ud800x,Cardiff Family Centre\n"
    with pytest.raises(InvalidInput) as refused:
        bulk.validate(setting["admin"], setting["course"], surrogate.encode("utf-8", "surrogatepass"))
    assert refused.value.fields == {"file": [bulk.NOT_UTF8]}


def test_existing_people_matched_by_email_and_their_organisation_checked(db, setting, make_user):
    make_user(email="Known@Example.org", name="Known Person", organisation_id=setting["org_b"].id)
    make_user(email="gone@example.org", organisation_id=setting["org_a"].id, is_active_account=False)
    data = make_csv(
        "known@example.org,Known Person,Swansea Prison Visitors",
        "KNOWN@example.org,Known Person,Cardiff Family Centre",
        "gone@example.org,Gone,Cardiff Family Centre",
    )
    result = bulk.validate(setting["admin"], setting["course"], data)
    assert reasons(result) == {
        3: "The same email is on line 2; each person only once, please.",
        4: "This account is deactivated.",
    }
    assert result.rows[0].user_id is not None
    data = make_csv("known@example.org,Known Person,Cardiff Family Centre")
    assert reasons(bulk.validate(setting["admin"], setting["course"], data)) == {
        2: "This person's account is with Swansea Prison Visitors, not Cardiff Family Centre. "
        "Correct the row, or change the organisation on their account first."
    }


def test_prerequisites_are_checked_for_everyone_in_one_go(db, setting, make_course, make_user):
    first = setting["course"]
    second = make_course(title="Family Group Conferencing", code="FGC1", prerequisites=[first])
    done = make_user(email="done@example.org", organisation_id=setting["org_a"].id)
    enrolling.enrol(setting["admin"], done, first).status = EnrolmentStatus.COMPLETED
    make_user(email="notdone@example.org", organisation_id=setting["org_a"].id)
    data = make_csv(
        "done@example.org,Done,Cardiff Family Centre",
        "notdone@example.org,Not Done,Cardiff Family Centre",
        "new@example.org,New,Cardiff Family Centre",
    )
    result = bulk.validate(setting["admin"], second, data)
    needed = "Has not completed Restorative Practice (RP1), needed before Family Group Conferencing."
    assert reasons(result) == {3: needed, 4: needed}
    assert [r.email for r in result.rows] == ["done@example.org"]


def test_unpublished_course_takes_no_bulk_enrolment(db, setting, make_course):
    draft = make_course(status=CourseStatus.DRAFT)
    with pytest.raises(InvalidInput):
        bulk.validate(setting["admin"], draft, make_csv("a@example.org,A,Cardiff Family Centre"))


# --- org managers --------------------------------------------------------------------------


NOT_YOUR_STAFF = (
    "No account of Cardiff Family Centre has this email, so you cannot enrol this person. "
    "Ask an administrator to add them."
)


def test_org_manager_can_only_enrol_own_staff(db, setting, make_user):
    make_user(email="bstaff@example.org", name="B Staff", organisation_id=setting["org_b"].id)
    make_user(email="astaff@example.org", name="A Staff", organisation_id=setting["org_a"].id)
    data = make_csv(
        "astaff@example.org,A Staff,Cardiff Family Centre",
        "newa@example.org,New A,cardiff family centre",
        "newb@example.org,New B,Swansea Prison Visitors",
        "bstaff@example.org,B Staff,Cardiff Family Centre",
        "nowhere@example.org,Nowhere,Atlantis Trust",
    )
    before = counts(db)
    result = bulk.bulk_enrol(setting["manager_a"], setting["course"], data)
    assert reasons(result) == {
        3: NOT_YOUR_STAFF,
        4: "You can only enrol staff of Cardiff Family Centre; "
        "“Swansea Prison Visitors” is another organisation.",
        5: NOT_YOUR_STAFF,
        6: "You can only enrol staff of Cardiff Family Centre; “Atlantis Trust” is another organisation.",
    }
    assert (result.enrolled, result.accounts_created, result.errors) == (1, 0, 4)
    enrolled = db.session.scalars(
        select(User.email)
        .join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.course_id == setting["course"].id)
    ).all()
    assert enrolled == ["astaff@example.org"]
    assert counts(db)["User"] == before["User"]


@pytest.mark.parametrize("mode", list(bulk.Mode))
def test_org_manager_cannot_tell_an_account_elsewhere_from_no_account(db, setting, make_user, mode):
    """Whether an email has an account in another organisation is none of the manager's business.

    An unknown email and another organisation's account get the same row, the same counts, the
    same (absent) emails and the same database: nothing is created, in either organisation.
    """
    make_user(email="elsewhere@example.org", name="Sam Elsewhere", organisation_id=setting["org_b"].id)
    seen = []
    for email in ("elsewhere@example.org", "nobody@example.org"):
        before = counts(db)
        data = make_csv(f"{email},Sam Elsewhere,Cardiff Family Centre")
        result = bulk.bulk_enrol(setting["manager_a"], setting["course"], data, mode=mode)
        after = counts(db)
        assert after == before  # no account, enrolment, invitation or audit entry
        problem = result.problems[0]
        seen.append((problem.line, problem.reason, problem.outcome, result.summary() | {"report_id": 0}))
    assert seen[0] == seen[1]
    assert seen[0][1] == NOT_YOUR_STAFF


def test_admins_still_create_accounts_and_see_where_an_account_is(db, setting, make_user):
    make_user(email="elsewhere@example.org", organisation_id=setting["org_b"].id)
    data = make_csv(
        "elsewhere@example.org,Sam,Cardiff Family Centre", "nobody@example.org,Nobody,Cardiff Family Centre"
    )
    result = bulk.bulk_enrol(setting["admin"], setting["course"], data)
    assert reasons(result) == {
        2: "This person's account is with Swansea Prison Visitors, not Cardiff Family Centre. "
        "Correct the row, or change the organisation on their account first."
    }
    assert (result.enrolled, result.accounts_created) == (1, 1)


def test_org_manager_without_organisation_is_refused(db, setting, make_user):
    with pytest.raises(NotAllowed):
        bulk.validate(make_user(Role.ORG_MANAGER), setting["course"], make_csv())


# --- the two modes -------------------------------------------------------------------------


def test_valid_rows_mode_enrols_the_good_ones_and_invites_new_people(db, setting, make_user):
    make_user(email="known@example.org", organisation_id=setting["org_a"].id)
    data = make_csv(
        "known@example.org,Known,Cardiff Family Centre",
        "new@example.org,New Person,Cardiff Family Centre",
        "bad email,Bad,Cardiff Family Centre",
    )
    before = counts(db)
    result = bulk.bulk_enrol(setting["admin"], setting["course"], data, setting["cohort"])
    assert result.is_applied
    assert (result.enrolled, result.waitlisted, result.accounts_created, result.skipped, result.errors) == (
        2,
        0,
        1,
        0,
        1,
    )
    after = counts(db)
    assert after["User"] == before["User"] + 1
    assert after["Enrolment"] == before["Enrolment"] + 2
    invitation = db.session.scalars(
        select(OutboundEmail).where(OutboundEmail.recipient == "new@example.org")
    ).one()
    assert "invited" in invitation.subject
    assert (
        db.session.scalar(select(AuditEntry).where(AuditEntry.action == "course.bulk_enrolment")).after[
            "enrolled"
        ]
        == 2
    )
    assert result.report is not None and result.report.filename.startswith("bulk-enrolment-problems-RP1-")


def test_all_or_nothing_with_a_bad_row_writes_nothing(db, setting):
    data = make_csv(
        "one@example.org,One,Cardiff Family Centre",
        "two@example.org,Two,Cardiff Family Centre",
        "three@example.org,,Cardiff Family Centre",
    )
    before = counts(db)
    result = bulk.bulk_enrol(setting["admin"], setting["course"], data, mode=bulk.Mode.ALL_OR_NOTHING)
    assert not result.is_applied and result.enrolled == 0 and result.accounts_created == 0
    assert reasons(result) == {4: "Name is missing."}
    after = counts(db)
    # Only the stored problem report was written (a file, not a person or an enrolment).
    assert after == before


def test_all_or_nothing_rolls_back_a_refusal_in_the_middle(db, setting, monkeypatch):
    """A row refused while enrolling (a race the checks could not see) undoes the rows before it."""
    real_enrol = enrolling.enrol
    calls = []

    def enrol(actor, user, course, cohort=None):
        calls.append(user.email)
        if len(calls) == 3:
            raise Conflict(f"{user.name} is already enrolled on {course.title}.")
        return real_enrol(actor, user, course, cohort)

    monkeypatch.setattr(bulk, "enrol", enrol)
    data = make_csv(*(f"p{i}@example.org,Person {i},Cardiff Family Centre" for i in range(5)))
    before = counts(db)
    result = bulk.bulk_enrol(setting["admin"], setting["course"], data, mode=bulk.Mode.ALL_OR_NOTHING)
    assert len(calls) == 3
    assert not result.is_applied and (result.enrolled, result.accounts_created) == (0, 0)
    assert reasons(result) == {
        4: "Person 2 is already enrolled on Restorative Practice. Nothing was enrolled."
    }
    assert counts(db) == before
    assert db.session.scalar(select(User).where(User.email.in_(calls))) is None


def test_all_or_nothing_enrols_everyone_when_all_is_well(db, setting):
    data = make_csv(*(f"p{i}@example.org,Person {i},Cardiff Family Centre" for i in range(4)))
    result = bulk.bulk_enrol(
        setting["admin"], setting["course"], data, setting["cohort"], mode=bulk.Mode.ALL_OR_NOTHING
    )
    assert result.is_applied and (result.enrolled, result.accounts_created) == (4, 4)
    assert result.report is None


# --- cohort capacity -----------------------------------------------------------------------


def test_full_cohort_sends_the_rest_to_the_waiting_list(db, setting, make_cohort):
    cohort = make_cohort(setting["course"], capacity=2, has_waiting_list=True)
    data = make_csv(*(f"p{i}@example.org,Person {i},Cardiff Family Centre" for i in range(3)))
    result = bulk.bulk_enrol(setting["admin"], setting["course"], data, cohort)
    assert (result.enrolled, result.waitlisted, result.errors) == (2, 1, 0)
    waiting = db.session.scalar(select(Enrolment).where(Enrolment.status == EnrolmentStatus.WAITLISTED))
    assert waiting.user.email == "p2@example.org"


def test_full_cohort_without_waiting_list_reports_the_rest(db, setting, make_cohort):
    cohort = make_cohort(setting["course"], capacity=2, has_waiting_list=False, name="Small cohort")
    data = make_csv(*(f"p{i}@example.org,Person {i},Cardiff Family Centre" for i in range(3)))
    before = counts(db)
    result = bulk.bulk_enrol(setting["admin"], setting["course"], data, cohort)
    assert (result.enrolled, result.waitlisted, result.errors) == (2, 0, 1)
    assert reasons(result) == {4: "Small cohort is full."}
    assert result.problems[0].outcome == bulk.Outcome.NOT_ENROLLED
    # The row that found no place left no account behind either.
    assert counts(db)["User"] == before["User"] + 2


def test_all_or_nothing_with_too_few_places_enrols_nobody(db, setting, make_cohort):
    cohort = make_cohort(setting["course"], capacity=2, has_waiting_list=True, name="Small cohort")
    data = make_csv(*(f"p{i}@example.org,Person {i},Cardiff Family Centre" for i in range(3)))
    before = counts(db)
    result = bulk.bulk_enrol(setting["admin"], setting["course"], data, cohort, mode=bulk.Mode.ALL_OR_NOTHING)
    assert not result.is_applied
    assert reasons(result) == {4: "No place left in Small cohort: it has 2 free places for 3 people."}
    assert counts(db) == before


# --- speed ---------------------------------------------------------------------------------


def test_50000_rows_are_checked_in_seconds_with_a_bounded_number_of_queries(db, setting, count_queries):
    insert_people(db, setting["org_a"], 5_000, prefix="known")
    lines = [
        f"{'known' if i % 10 == 0 else 'new'}{i}@example.org,Person {i},Cardiff Family Centre"
        for i in range(bulk.MAX_ROWS - 1)
    ]
    lines.append("broken,Broken Row,Cardiff Family Centre")
    data = make_csv(*lines)
    before = counts(db)
    started = time.perf_counter()
    with count_queries() as counter:
        result = bulk.bulk_enrol(setting["admin"], setting["course"], data, mode=bulk.Mode.ALL_OR_NOTHING)
    elapsed = time.perf_counter() - started
    assert result.rows_read == bulk.MAX_ROWS
    assert not result.is_applied
    assert reasons(result) == {bulk.MAX_ROWS + 1: "“broken” is not a valid email address."}
    # Organisations (1), accounts with their enrolment on the course (5 batches of 10,000),
    # the stored report (1): never one query per row.
    assert counter.count <= 10, counter.statements
    # About 2 s on a quiet machine; the bound is loose so that a busy CI machine passes, and
    # still fails one query per row, which takes minutes.
    assert elapsed < 20, elapsed
    assert counts(db) == before


# --- the pages -----------------------------------------------------------------------------


def _upload(client, course, data: bytes, *, mode="valid_rows", cohort_id=0, filename="people.csv"):
    return client.post(
        f"/manage/courses/{course.id}/bulk-enrol",
        data={"file": (io.BytesIO(data), filename), "mode": mode, "cohort_id": str(cohort_id)},
        content_type="multipart/form-data",
    )


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def test_form_page(client, login_as, setting):
    login_as(setting["manager_a"])
    response = client.get(f"/manage/courses/{setting['course'].id}/bulk-enrol")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'type="file"' in page and 'enctype="multipart/form-data"' in page
    assert "Autumn cohort" in page
    assert "every row must name" in page and "Cardiff Family Centre" in page
    assert "Enrol nobody unless every row is valid" in page


def test_upload_then_result_page_then_problem_download(client, login_as, db, setting, make_user):
    make_user(email="staff@example.org", name="Staff Person", organisation_id=setting["org_a"].id)
    db.session.commit()
    login_as(setting["manager_a"])
    data = make_csv(
        "staff@example.org,Staff Person,Cardiff Family Centre",
        "=1+1,Formula,Cardiff Family Centre",
        "other@example.org,Other,Swansea Prison Visitors",
        header="email,name,organisation,notes",
    )
    response = _upload(client, setting["course"], data, cohort_id=setting["cohort"].id)
    assert response.status_code == 302
    result = client.get(response.headers["Location"])
    assert result.status_code == 200
    text = _text(result)
    assert (
        "Enrolled 1" in text
        and "Not enrolled (problems) 2" in text
        and "1 person enrolled; 2 rows not enrolled" in text
        and "New accounts (invited by email) 0" in text
    )
    assert "Line 3" in text and "Email looks like a spreadsheet formula (it starts with =)." in text
    assert "Line 4" in text and "another organisation" in text
    assert "Ignored the columns “notes”" in text
    link = re.search(r'href="(/manage/bulk-enrol/problems/\d+\.csv)"', result.get_data(as_text=True)).group(1)
    download = client.get(link)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == list(bulk.REPORT_COLUMNS)
    assert rows[1][:2] == ["3", "'=1+1"]  # the formula is defused in the download
    # Nobody else may download it, not even an admin.
    for other in (setting["manager_b"], setting["admin"]):
        client.post("/account/logout")
        login_as(other)
        assert client.get(link).status_code == 404


def test_all_or_nothing_through_the_page_leaves_the_database_unchanged(client, login_as, db, setting):
    login_as(setting["admin"])
    data = make_csv(
        "one@example.org,One,Cardiff Family Centre",
        "two@example.org,Two,Swansea Prison Visitors",
        "three@example.org,Three,Nowhere",
    )
    before = counts(db)
    response = _upload(client, setting["course"], data, mode="all_or_nothing")
    assert response.status_code == 302
    text = _text(client.get(response.headers["Location"]))
    assert "Nothing was enrolled" in text and "No organisation called “Nowhere”" in text
    after = counts(db)
    assert after == before


def test_file_problems_reshow_the_form(client, login_as, setting):
    login_as(setting["admin"])
    latin = "email,name,organisation\nzoe@example.org,Zoë,Cardiff Family Centre\n".encode("latin-1")
    response = _upload(client, setting["course"], latin)
    assert response.status_code == 422
    assert "There is a problem" in response.get_data(as_text=True)
    assert "not UTF-8" in _text(response)
    response = _upload(client, setting["course"], b"name\nx\n")
    assert response.status_code == 422 and "Missing: email, organisation." in _text(response)
    response = _upload(client, setting["course"], b"x", filename="people.xlsx")
    assert response.status_code == 422 and "Upload a .csv file" in _text(response)
    response = client.post(f"/manage/courses/{setting['course'].id}/bulk-enrol", data={"mode": "valid_rows"})
    assert response.status_code == 422 and "Choose a CSV file to upload." in _text(response)


def test_bulk_pages_refuse_others(client, login_as, setting, make_user, make_course):
    draft = make_course(status=CourseStatus.DRAFT)
    login_as(setting["manager_a"])
    assert client.get(f"/manage/courses/{draft.id}/bulk-enrol").status_code == 404
    assert client.get("/manage/courses/999999/bulk-enrol").status_code == 404
    assert client.get("/manage/bulk-enrol/problems/999999.csv").status_code == 404
    # No result in this session: back to the form.
    response = client.get(f"/manage/courses/{setting['course'].id}/bulk-enrol/result")
    assert response.status_code == 302 and response.headers["Location"].endswith("/bulk-enrol")
    client.post("/account/logout")
    login_as(make_user(Role.TRAINEE))
    assert client.get(f"/manage/courses/{setting['course'].id}/bulk-enrol").status_code == 403
    assert _upload(client, setting["course"], make_csv()).status_code == 403
