"""Offline marking: the worksheet downloads, fills in and uploads back, all or nothing, conflicts reported."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from sqlalchemy import select

from lms.assessments import marking, worksheet
from lms.assessments.assignments import current_version
from lms.assessments.models import GradeChange, Mark, MarkingState, Outcome
from lms.assessments.worksheet import WorksheetRejected
from lms.assessments.worksheet_files import MAX_ROWS
from lms.errors import InvalidInput, NotFound
from lms.extensions import db
from lms.permissions import Role
from tests.assessments.factories import levels_for

POINTS = {"kind": "points", "max_points": 50, "pass_mark": 25}


@pytest.fixture
def course(make_course):
    return make_course(modules=0, title="Whole-family practice")


@pytest.fixture
def assessor(make_pool, course):
    return make_pool(course, 1)[0]


@pytest.fixture
def assignment(make_assignment, course, assessor):
    return make_assignment(course, title="Reflective case study")


@pytest.fixture
def work(assignment, make_submission, make_user):
    """Two submitted attempts, by named trainees, both allocated to the one assessor."""
    return [
        make_submission(assignment, make_user(Role.TRAINEE, name=name))
        for name in ("Tess Trainee", "Tom Trainee")
    ]


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _to_csv(rows: list[list[object]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode()


def _row_of(rows, submission) -> list:
    return next(row for row in rows[1:] if str(row[0]) == str(submission.id))


def _set(rows, submission, **cells) -> None:
    header = [str(h) for h in rows[0]]
    row = _row_of(rows, submission)
    for name, value in cells.items():
        row[header.index(name)] = value


def _upload(client, assignment, data: bytes, name: str = "worksheet.csv"):
    return client.post(
        f"/marking/assignments/{assignment.id}/worksheet",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _mark(submission) -> Mark | None:
    return db.session.scalar(select(Mark).where(Mark.submission_id == submission.id))


# --- round trips through the pages ---------------------------------------------------------


def test_csv_round_trip_saves_marks_and_finishes(client, login_as, assignment, assessor, work):
    first, second = work
    login_as(assessor)
    response = client.get(f"/marking/assignments/{assignment.id}/worksheet.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="marking-worksheet-{assignment.id}.csv"'
    )
    rows = _csv_rows(response.data)
    assert rows[0] == [
        "Submission id", "Participant", "Name", "Attempt", "State", "Mark version",
        "Reflection", "Principles", "Total", "Feedback", "Finish",
    ]  # fmt: skip
    assert {row[2] for row in rows[1:]} == {"Tess Trainee", "Tom Trainee"}
    assert _row_of(rows, first)[4:6] == ["Not marked", ""]

    _set(rows, first, Reflection="10", Principles="5", Feedback="Clear links to practice.", Finish="yes")
    _set(rows, second, Reflection="5")  # a draft: one criterion so far
    uploaded = _upload(client, assignment, _to_csv(rows))
    assert uploaded.status_code == 302, uploaded.get_data(as_text=True)[:3000]
    assert uploaded.headers["Location"].endswith(f"/marking?assignment_id={assignment.id}")
    page = client.get(uploaded.headers["Location"])
    assert "Worksheet imported: 2 marks saved, of which 1 finished; 0 rows left blank or unchanged." in (
        page.get_data(as_text=True)
    )

    mark = _mark(first)
    assert (mark.total, mark.outcome, mark.feedback) == (15, Outcome.PASS, "Clear links to practice.")
    assert mark.completed_at is not None and first.state == MarkingState.MARKED
    draft = _mark(second)
    assert draft.total is None and draft.completed_at is None and second.state == MarkingState.IN_MARKING
    assert [s.criterion_id for s in draft.scores] == [current_version(assignment).criteria[0].id]

    # The next download carries what was saved, with each mark's version.
    rows = _csv_rows(client.get(f"/marking/assignments/{assignment.id}/worksheet.csv").data)
    assert _row_of(rows, first)[4:] == [
        "Marked",
        str(mark.version),
        "10",
        "5",
        "15",
        "Clear links to practice.",
        "yes",
    ]


def test_xlsx_round_trip_saves_marks(client, login_as, assignment, assessor, work):
    first, second = work
    login_as(assessor)
    response = client.get(f"/marking/assignments/{assignment.id}/worksheet.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == worksheet.Format.XLSX.content_type
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book["Worksheet"]
    header = [c.value for c in sheet[1]]
    assert header[:6] == ["Submission id", "Participant", "Name", "Attempt", "State", "Mark version"]
    # Drop-downs offer the levels' points and yes/no.
    formulas = {dv.formula1 for dv in sheet.data_validations.dataValidation}
    assert '"0,5,10"' in formulas and '"yes,no"' in formulas
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == first.id:
            row[header.index("Reflection")].value = 5
            row[header.index("Principles")].value = 0
            row[header.index("Feedback")].value = "Bring in the principles."
            row[header.index("Finish")].value = "Yes"
    out = io.BytesIO()
    book.save(out)
    uploaded = _upload(client, assignment, out.getvalue(), "my marking.xlsx")
    assert uploaded.status_code == 302, uploaded.get_data(as_text=True)[:3000]
    mark = _mark(first)
    assert (mark.total, mark.outcome, mark.feedback) == (5, Outcome.REFER, "Bring in the principles.")
    assert mark.completed_at is not None
    assert _mark(second) is None  # its row was left as downloaded: skipped


def test_a_points_scheme_has_one_mark_column(make_assignment, course, assessor, make_submission):
    assignment = make_assignment(course, scheme=POINTS)
    submission = make_submission(assignment)
    sheet = worksheet.build_sheet(assessor, assignment)
    assert sheet.header[6:] == ["Mark", "Total", "Feedback", "Finish"]
    rows = [sheet.header, *sheet.rows]
    _set(rows, submission, Mark=40, Finish="yes")
    result = worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")
    assert (result.saved, result.finished, result.skipped) == (1, 1, 0)
    assert _mark(submission).total == 40

    rows = [sheet.header, *worksheet.build_sheet(assessor, assignment).rows]
    _set(rows, submission, Mark=51)
    with pytest.raises(WorksheetRejected) as rejected:
        worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")
    assert "51 is above the maximum (a mark from 0 to 50)." in rejected.value.problems[0].message


# --- conflicts and all-or-nothing -----------------------------------------------------------


def test_a_mark_changed_online_since_the_download_is_a_conflict_not_overwritten(
    client, login_as, assignment, assessor, work
):
    first, second = work
    version = current_version(assignment)
    saved = marking.save_mark(assessor, first, {"levels": levels_for(version, [5, 5])}, expected_version=None)
    login_as(assessor)
    rows = _csv_rows(client.get(f"/marking/assignments/{assignment.id}/worksheet.csv").data)
    assert _row_of(rows, first)[5] == str(saved.version)

    # Meanwhile, on the marking page:
    online = marking.save_mark(
        assessor, first, {"levels": levels_for(version, [10, 5])}, expected_version=saved.version
    )
    db.session.flush()
    _set(rows, first, Reflection="0", Feedback="From the worksheet.")
    _set(rows, second, Reflection="10", Principles="10", Finish="yes")
    response = _upload(client, assignment, _to_csv(rows))
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "Conflict" in text and "changed online since you downloaded" in text
    db.session.expire_all()
    mark = _mark(first)
    assert mark.version == online.version and mark.total == 15 and mark.feedback == ""
    assert _mark(second) is None  # nothing imported, not even the good line


def test_a_bad_line_imports_nothing_and_the_report_names_each_line(
    client, login_as, assignment, assessor, work
):
    first, second = work
    login_as(assessor)
    rows = _csv_rows(client.get(f"/marking/assignments/{assignment.id}/worksheet.csv").data)
    line_of = {row[0]: number for number, row in enumerate(rows, start=1)}
    _set(rows, first, Reflection="10", Principles="10", Finish="yes")
    _set(rows, second, Reflection="7", Finish="maybe")
    rows.append(["999999", "", "", "", "", "", "5", "", "", "", ""])
    response = _upload(client, assignment, _to_csv(rows))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "There is a problem" in text and "nothing was imported" in text
    assert "7 points matches no level of this criterion (its levels give 0, 5, 10)." in text
    assert "Write yes or no (or leave it empty), not “maybe”." in text
    assert "There is no submitted work 999999 on this assignment." in text
    assert f'<td role="cell" data-label="Line">{line_of[str(second.id)]}</td>' in text
    assert f'<td role="cell" data-label="Line">{len(rows)}</td>' in text
    assert _mark(first) is None and _mark(second) is None


def test_line_checks(assignment, assessor, work, make_submission, make_pool, make_user, course):
    first, second = work
    other = make_user(Role.ASSESSOR)
    make_pool(course, people=[assessor, other])
    theirs, also_theirs = make_submission(assignment), make_submission(assignment)
    assert theirs.marker_id == also_theirs.marker_id == other.id  # the least loaded
    sheet = worksheet.build_sheet(assessor, assignment)
    assert {row[0] for row in sheet.rows} == {first.id, second.id}  # only their own work
    rows = [sheet.header, *sheet.rows]
    _set(rows, first, Reflection="10", Principles="")
    _set(rows, first, Finish="yes")  # finishing needs every criterion
    rows.append([theirs.id, "", "", 1, "", "", "5", "", "", "", ""])
    rows.append([second.id, "", "", 1, "", "", "5", "", "", "", ""])  # twice
    rows.append(["abc", "", "", "", "", "", "5", "", "", "", ""])
    rows.append([also_theirs.id, "", "", "", "", "", "", "", "", "", ""])  # blank rows are skipped, even here
    with pytest.raises(WorksheetRejected) as rejected:
        worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")
    messages = [(p.line, p.column, p.message) for p in rejected.value.problems]
    line = 1 + rows.index(_row_of(rows, first))
    assert (line, "Finish", "To finish, choose every criterion's points (missing: Principles).") in messages
    assert any(f"Submission {theirs.id} is not allocated to you" in m for _l, _c, m in messages)
    assert any(f"Submission {second.id} is on line" in m for _l, _c, m in messages)
    assert ("“abc” is not a submission id.") in [m for _l, _c, m in messages]
    assert len(messages) == 4


def test_states_where_the_mark_cannot_change_are_refused(
    make_assignment, course, assessor, make_submission, assessments_admin
):
    assignment = make_assignment(course, is_moderated=True, moderation_share=0)
    submission = make_submission(assignment)
    version = current_version(assignment)
    marking.save_mark(
        assessor, submission, {"levels": levels_for(version, [5, 0])}, expected_version=None, is_final=True
    )
    assert submission.state == MarkingState.IN_MODERATION  # a referral is always sampled
    sheet = worksheet.build_sheet(assessor, assignment)
    rows = [sheet.header, *sheet.rows]
    # Left as downloaded: skipped, whatever the state.
    assert worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv").skipped == 1
    _set(rows, submission, Feedback="More.")
    with pytest.raises(WorksheetRejected) as rejected:
        worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")
    assert rejected.value.problems[0].message == "This mark is in moderation: the moderator decides it now."
    _set(rows, submission, Finish="no")
    with pytest.raises(WorksheetRejected) as rejected:
        worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")
    assert len(rejected.value.problems) == 1  # the state alone: nothing else on the line matters now


def test_finished_marking_cannot_be_reopened(assignment, assessor, work):
    first, _second = work
    version = current_version(assignment)
    marking.save_mark(
        assessor, first, {"levels": levels_for(version, [10, 5])}, expected_version=None, is_final=True
    )
    assert first.state == MarkingState.MARKED
    sheet = worksheet.build_sheet(assessor, assignment)
    rows = [sheet.header, *sheet.rows]
    _set(rows, first, Principles="10", Finish="no")
    with pytest.raises(WorksheetRejected) as rejected:
        worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")
    assert [(p.column, p.message) for p in rejected.value.problems] == [
        ("Finish", "Marking of this submission is finished and cannot be reopened: leave it as yes.")
    ]
    _set(rows, first, Principles="", Finish="yes")
    with pytest.raises(WorksheetRejected, match="1 problem"):
        worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")
    _set(rows, first, Principles="10")
    result = worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")
    assert (result.saved, result.finished) == (1, 0)  # already finished: saved, not finished again
    assert _mark(first).total == 20 and first.state == MarkingState.MARKED


def test_the_workflow_applies_finishing_a_referral_draws_it_for_moderation(
    make_assignment, course, make_pool, make_submission
):
    assignment = make_assignment(course, is_moderated=True, moderation_share=0)
    marker, _moderator = make_pool(course, 2)
    submission = make_submission(assignment)
    marker = marker if submission.marker_id == marker.id else _moderator
    sheet = worksheet.build_sheet(marker, assignment)
    rows = [sheet.header, *sheet.rows]
    _set(rows, submission, Reflection=5, Principles=0, Finish="yes")
    worksheet.import_worksheet(marker, assignment, _to_csv(rows), "w.csv")
    assert submission.state == MarkingState.IN_MODERATION and submission.moderator_id is not None

    # The next download shows where it stands.
    sheet = worksheet.build_sheet(marker, assignment)
    assert sheet.rows[0][4] == "In moderation"


def test_grade_history_records_a_worksheet_change(assignment, assessor, work):
    first, _second = work
    version = current_version(assignment)
    saved = marking.save_mark(assessor, first, {"levels": levels_for(version, [5, 5])}, expected_version=None)
    sheet = worksheet.build_sheet(assessor, assignment)
    rows = [sheet.header, *sheet.rows]
    _set(rows, first, Reflection=10)
    result = worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")
    assert (result.saved, result.skipped) == (1, 1)
    change = db.session.scalar(select(GradeChange).where(GradeChange.mark_id == saved.id))
    assert change is not None and change.changed_by_id == assessor.id and "rubric levels" in change.what


def test_released_work_is_left_out_and_cannot_be_changed(assignment, assessor, work, assessments_admin):
    first, second = work
    version = current_version(assignment)
    sheet = worksheet.build_sheet(assessor, assignment)
    marking.save_mark(
        assessor, first, {"levels": levels_for(version, [10, 10])}, expected_version=None, is_final=True
    )
    marking.release(assessments_admin, [first])
    assert [row[0] for row in worksheet.build_sheet(assessor, assignment).rows] == [second.id]
    rows = [sheet.header, *sheet.rows]  # an older download, from before the release
    _set(rows, first, Reflection=5)
    with pytest.raises(WorksheetRejected) as rejected:
        worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")
    assert [p.column for p in rejected.value.problems] == ["State"]


# --- blind marking --------------------------------------------------------------------------


def test_blind_marking_keeps_names_out_of_the_file(
    client, login_as, make_assignment, course, assessor, make_submission, make_user, assessments_admin
):
    assignment = make_assignment(course, is_blind=True)
    trainee = make_user(Role.TRAINEE, name="Bethan Secret", email="bethan.secret@example.org")
    submission = make_submission(assignment, trainee)
    login_as(assessor)
    for extension in ("csv", "xlsx"):
        response = client.get(f"/marking/assignments/{assignment.id}/worksheet.{extension}")
        assert response.status_code == 200
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="marking-worksheet-{assignment.id}-participant-numbers.{extension}"'
        )
        body = response.data
        if extension == "xlsx":
            book = openpyxl.load_workbook(io.BytesIO(body))
            cells = [[c.value for c in row] for row in book.active.iter_rows()]
        else:
            cells = _csv_rows(body)
        flat = " ".join(str(v) for row in cells for v in row)
        assert "Bethan" not in flat and "Secret" not in flat and "bethan" not in flat
        assert "Name" not in [str(c) for c in cells[0]]
        assert str(submission.participant.number) in flat
    page = client.get(f"/marking/assignments/{assignment.id}/worksheet")
    assert page.status_code == 200 and "participant number only" in page.get_data(as_text=True)
    assert "Bethan" not in page.get_data(as_text=True)

    # Admins see names; markers too once identities are revealed.
    assert "Name" in worksheet.build_sheet(assessments_admin, assignment).header
    from lms.database import utcnow

    assignment.identities_revealed_at = utcnow()
    db.session.flush()
    sheet = worksheet.build_sheet(assessor, assignment)
    assert "Name" in sheet.header and "Bethan Secret" in sheet.rows[0]
    assert worksheet.filename(assessor, assignment, worksheet.Format.CSV).endswith(f"-{assignment.id}.csv")


# --- refusals -------------------------------------------------------------------------------

ROUTES = ["worksheet.csv", "worksheet.xlsx", "worksheet"]


@pytest.mark.parametrize("route", ROUTES)
def test_an_assessor_with_no_work_on_the_assignment_gets_404(
    client, login_as, make_user, assignment, work, route
):
    login_as(make_user(Role.ASSESSOR))
    assert client.get(f"/marking/assignments/{assignment.id}/{route}").status_code == 404


@pytest.mark.parametrize("route", ROUTES)
def test_trainees_are_refused_and_visitors_sent_to_sign_in(client, login_as, work, assignment, route):
    url = f"/marking/assignments/{assignment.id}/{route}"
    assert client.get(url).status_code == 302
    login_as(_trainee_of(work[0]))
    assert client.get(url).status_code == 403


def _trainee_of(submission):
    from lms.accounts.models import User

    return db.session.get(User, submission.user_id)


def test_another_assessor_cannot_upload_marks(client, login_as, make_user, assignment, work):
    login_as(make_user(Role.ASSESSOR))
    response = _upload(client, assignment, b"Submission id\n1\n")
    assert response.status_code == 404
    with pytest.raises(NotFound):
        worksheet.import_worksheet(make_user(Role.ASSESSOR), assignment, b"x", "w.csv")


def test_an_admin_marks_all_submitted_work_and_returns_to_the_submissions_page(
    client, login_as, assignment, work, assessments_admin
):
    login_as(assessments_admin)
    rows = _csv_rows(client.get(f"/marking/assignments/{assignment.id}/worksheet.csv").data)
    assert len(rows) == 3
    _set(rows, work[0], Reflection="0", Principles="0", Finish="yes")
    response = _upload(client, assignment, _to_csv(rows))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/assignments/{assignment.id}/submissions")
    assert _mark(work[0]).outcome == Outcome.REFER


# --- files ----------------------------------------------------------------------------------


def test_csv_injection_is_guarded_both_ways(client, login_as, assignment, assessor, work):
    first, _second = work
    version = current_version(assignment)
    formula = '=HYPERLINK("http://evil.example","Click")'
    marking.save_mark(
        assessor, first, {"levels": levels_for(version, [5, 5])}, expected_version=None, feedback=formula
    )
    login_as(assessor)
    raw = client.get(f"/marking/assignments/{assignment.id}/worksheet.csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in raw and ',"=HYPERLINK' not in raw and ",=HYPERLINK" not in raw
    rows = _csv_rows(client.get(f"/marking/assignments/{assignment.id}/worksheet.csv").data)
    assert _row_of(rows, first)[9] == "'" + formula

    book = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/marking/assignments/{assignment.id}/worksheet.xlsx").data)
    )
    cell = next(row[9] for row in book.active.iter_rows(min_row=2) if row[0].value == first.id)
    assert cell.value == formula and cell.data_type == "s" and cell.quotePrefix  # text, never a formula

    # Uploading the guarded cell back reads the feedback as it was: the row is unchanged.
    assert worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv").skipped == 2
    _set(rows, first, Feedback="'-2 for lateness", Reflection="10")
    worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")
    assert _mark(first).feedback == "-2 for lateness"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "w.csv", "The file is empty."),
        (b"%PDF-1.4\n%%EOF\n", "w.pdf", "Upload the worksheet as a .csv or .xlsx file."),
        (b"\xd0\xcf\x11\xe0", "w.xls", "Old Excel (.xls) files cannot be read"),
        (b"Submission id,Feedback\n", "w.xlsx", "is not an Excel workbook"),
        (b"PK\x03\x04broken", "w.xlsx", "cannot be read as an Excel workbook"),
        ("Submission id;Feedback\n1;caf\u00e9\n".encode("latin-1"), "w.csv", "The file is not UTF-8"),
        (
            b"Submission id,Finish\n1,yes\n",
            "w.csv",
            "Missing: “Mark version”, “Reflection”, “Principles”, “Feedback”",
        ),
        (b"a\x00b", "w.csv", "is not a CSV file"),
        (b'Submission id,Feedback\n1,"open quote\n', "w.csv", "cannot be read as CSV"),
    ],
)
def test_files_that_are_not_worksheets_are_refused_clearly(assignment, assessor, work, data, name, message):
    with pytest.raises(InvalidInput) as refused:
        worksheet.import_worksheet(assessor, assignment, data, name)
    assert message in refused.value.message and "file" in refused.value.fields


def test_too_many_rows_are_refused(assignment, assessor, work):
    sheet = worksheet.build_sheet(assessor, assignment)
    rows = [sheet.header] + [[str(n)] for n in range(MAX_ROWS + 1)]
    with pytest.raises(InvalidInput, match="more than 5,000 rows"):
        worksheet.import_worksheet(assessor, assignment, _to_csv(rows), "w.csv")


def test_semicolon_csv_and_a_bad_upload_on_the_page(client, login_as, assignment, assessor, work):
    first, _second = work
    sheet = worksheet.build_sheet(assessor, assignment)
    rows = [sheet.header, *sheet.rows]
    _set(rows, first, Reflection="5", Principles="5")
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(rows)
    assert worksheet.import_worksheet(assessor, assignment, buffer.getvalue().encode(), "w.csv").saved == 1

    login_as(assessor)
    response = _upload(client, assignment, b"%PDF-1.4", "marks.pdf")
    assert response.status_code == 422
    assert "Upload the worksheet as a .csv or .xlsx file." in response.get_data(as_text=True)
    empty = client.post(f"/marking/assignments/{assignment.id}/worksheet", data={})
    assert empty.status_code == 422 and "Choose the worksheet file to upload." in empty.get_data(as_text=True)


def test_the_download_makes_a_bounded_number_of_queries(
    assignment, assessor, work, make_submission, count_queries
):
    db.session.expire_all()
    with count_queries() as few:
        worksheet.build_sheet(assessor, assignment)
    for _ in range(4):
        make_submission(assignment)
    db.session.expire_all()
    with count_queries() as many:
        sheet = worksheet.build_sheet(assessor, assignment)
    assert len(sheet.rows) == 6
    assert many.count == few.count


def test_links_on_the_queue_filtered_to_one_assignment(client, login_as, assignment, assessor, work):
    login_as(assessor)
    page = client.get(f"/marking?assignment_id={assignment.id}").get_data(as_text=True)
    assert f"/marking/assignments/{assignment.id}/worksheet.xlsx" in page
    assert f'/marking/assignments/{assignment.id}/worksheet"' in page
    assert "/worksheet" not in client.get("/marking").get_data(as_text=True)


def test_a_link_on_the_admin_submissions_page(client, login_as, assignment, work, assessments_admin):
    login_as(assessments_admin)
    page = client.get(f"/admin/assignments/{assignment.id}/submissions").get_data(as_text=True)
    assert f"/marking/assignments/{assignment.id}/worksheet.csv" in page
