"""Bulk enrolment from a CSV file: check every row first, in a few batched queries, then enrol.

The file has a header row naming the columns ``email``, ``name`` and ``organisation`` (in
any order; other columns are ignored). Every row is checked before anything is written;
the lookups are batched (people by email, organisations, existing enrolments, completed
prerequisites), so a 50,000-row file is checked in a handful of queries. In an administrator's
file, people without an account get one (trainee, in the organisation named) and an
invitation; an org manager enrols existing accounts of their own organisation only (see
docs/courses.md); everyone is then enrolled through :func:`lms.courses.enrol`, which owns
every enrolment rule.

Two modes: enrol the valid rows and report the rest, or enrol nobody unless every row is
valid and everyone gets a place. The second runs in one savepoint, so a failure at any row
leaves nothing behind: no accounts, no enrolments, no invitations.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import ARRAY, Integer, String, and_, any_, bindparam, select

from lms import audit
from lms.accounts import services as accounts
from lms.accounts.models import User, normalise_email
from lms.courses.enrolment import enrol
from lms.courses.models import Cohort, Course, Enrolment, EnrolmentStatus
from lms.csv import FORMULA_PREFIXES, csv_lines, csv_unsafe
from lms.errors import DomainError, InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.organisations.models import Organisation
from lms.organisations.scope import scope_for
from lms.permissions import Role, is_admin
from lms.storage import services as storage
from lms.storage.models import StoredFile
from lms.text import text_problem

#: Most people one file may hold.
MAX_ROWS = 50_000
#: The columns a file must have, as named in its header row.
REQUIRED_COLUMNS = ("email", "name", "organisation")
#: Other spellings accepted in the header row.
COLUMN_ALIASES = {"e-mail": "email", "email address": "email", "organization": "organisation"}
#: Longest values, as the database stores them.
MAX_LENGTHS = {"email": 254, "name": 200, "organisation": 200}
#: Values per ``IN (...)`` list: below SQLite's 32,766 and PostgreSQL's 65,535 parameters.
LOOKUP_CHUNK = 10_000
#: Problem rows shown on the result page; the downloadable report has them all.
SHOWN_PROBLEMS = 100
#: Stored problem reports are recognised by this start of their filename.
REPORT_PREFIX = "bulk-enrolment-problems"
#: What statuses mean "already on the course".
ALREADY_ON_COURSE = (EnrolmentStatus.ACTIVE, EnrolmentStatus.WAITLISTED, EnrolmentStatus.COMPLETED)

#: Pragmatic email shape: something@domain.tld, no spaces; the invitation email proves the rest.
_EMAIL_CHAR = r"[^\s@\"<>,;:()\[\]\\]"
_DOMAIN_PART = r"[^\s@\"<>,;:()\[\]\\.]+"
EMAIL_PATTERN = re.compile(rf"^{_EMAIL_CHAR}{{1,64}}@{_DOMAIN_PART}(\.{_DOMAIN_PART})+$")

NOT_UTF8 = "The file is not UTF-8: save the file as “CSV UTF-8” and upload it again."


class Mode(enum.StrEnum):
    """What to do when some rows are not valid."""

    VALID_ROWS = "valid_rows"
    ALL_OR_NOTHING = "all_or_nothing"

    @property
    def label(self) -> str:
        """Human description."""
        return {
            "valid_rows": "Enrol everyone on a valid row, and report the rest",
            "all_or_nothing": "Enrol nobody unless every row is valid and everyone gets a place",
        }[self.value]


class Outcome(enum.StrEnum):
    """What happened to a row that was not enrolled."""

    ERROR = "error"
    SKIPPED = "skipped"
    NOT_ENROLLED = "not_enrolled"

    @property
    def label(self) -> str:
        """Human name."""
        return {"error": "Error", "skipped": "Skipped", "not_enrolled": "Not enrolled"}[self.value]


@dataclass
class RowProblem:
    """A row that was not enrolled, with its line in the file and the reason."""

    line: int
    email: str
    name: str
    organisation: str
    reason: str
    outcome: Outcome = Outcome.ERROR


@dataclass
class Row:
    """A valid row, ready to enrol."""

    line: int
    email: str
    name: str
    organisation_id: int
    #: The organisation as the file names it, for the problem report.
    organisation_name: str
    #: The existing account with this email, if any.
    user_id: int | None = None


@dataclass
class Validation:
    """Every row of a file, checked: the rows ready to enrol and the problems."""

    rows_read: int = 0
    rows: list[Row] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class BulkResult:
    """What a bulk enrolment did."""

    mode: Mode
    rows_read: int
    enrolled: int = 0
    waitlisted: int = 0
    accounts_created: int = 0
    #: Whether anything was written (always, in "valid rows" mode; only on success otherwise).
    is_applied: bool = False
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The downloadable CSV of every problem row, when there are any.
    report: StoredFile | None = None

    @property
    def skipped(self) -> int:
        """Rows of people already on the course."""
        return sum(1 for p in self.problems if p.outcome == Outcome.SKIPPED)

    @property
    def errors(self) -> int:
        """Rows not enrolled because of a problem (invalid, or no place)."""
        return sum(1 for p in self.problems if p.outcome != Outcome.SKIPPED)

    def summary(self) -> dict:
        """The counts and notes, small enough to keep in the session for the result page."""
        return {
            "mode": str(self.mode),
            "rows_read": self.rows_read,
            "enrolled": self.enrolled,
            "waitlisted": self.waitlisted,
            "accounts_created": self.accounts_created,
            "skipped": self.skipped,
            "errors": self.errors,
            "is_applied": self.is_applied,
            "notes": self.notes[:5],
            "report_id": self.report.id if self.report else None,
        }


# --- reading the file ------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """The file's text.

    :raises InvalidInput: empty, or not UTF-8 (guessing another encoding would garble names).
    """
    if not data:
        raise InvalidInput.for_field("file", "The file is empty.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput.for_field("file", NOT_UTF8) from error
    if not text.strip():
        raise InvalidInput.for_field("file", "The file is empty.")
    return text


def _is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def _header(cells: list[str]) -> tuple[dict[str, int], list[str]]:
    """Positions of the required columns, and the names of ignored ones.

    :raises InvalidInput: a required column is missing or named twice.
    """
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for index, cell in enumerate(cells):
        name = " ".join(cell.strip().lower().split())
        name = COLUMN_ALIASES.get(name, name)
        if name in REQUIRED_COLUMNS:
            if name in positions:
                raise InvalidInput.for_field("file", f"The header row names the column “{name}” twice.")
            positions[name] = index
        elif cell.strip():
            ignored.append(cell.strip()[:40])
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        looks_like_data = any("@" in cell for cell in cells)
        message = (
            "The first row must be a header row naming the columns email, name and organisation "
            f"(in any order). Missing: {', '.join(missing)}."
        )
        if looks_like_data:
            message += " The first row looks like a person, not a header: add a header row above it."
        raise InvalidInput.for_field("file", message)
    return positions, ignored


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` for each record, ``line`` being where it starts in the file.

    :raises InvalidInput: the text is not CSV.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    previous = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise InvalidInput.for_field(
                "file", f"Line {reader.line_num} cannot be read as CSV ({error}). Nothing was enrolled."
            ) from error
        line = previous + 1
        previous = reader.line_num
        yield line, cells


def _check_cell(label: str, value: str, limit: int) -> str | None:
    if not value:
        return f"{label} is missing."
    problem = text_problem(value)
    if problem:
        return f"{label} {problem}."
    if value.startswith(FORMULA_PREFIXES):
        return f"{label} looks like a spreadsheet formula (it starts with {value[0]})."
    if len(value) > limit:
        return f"{label} is longer than {limit} characters."
    return None


# --- checking every row ----------------------------------------------------------------


def _any_of(column, values: list, item_type) -> Iterator:
    """``column IN values`` as few, cheap queries: one array parameter on PostgreSQL, else chunks.

    PostgreSQL takes the whole list as one ``= ANY(:array)`` parameter, which is far cheaper to
    compile and send than tens of thousands of parameters; SQLite has no arrays, so the list
    goes in chunks of ``LOOKUP_CHUNK`` (below its limit of 32,766 parameters).
    """
    if not values:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        yield column == any_(bindparam(None, value=list(values), type_=ARRAY(item_type)))
        return
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield column.in_(values[start : start + LOOKUP_CHUNK])


@dataclass
class _Account:
    id: int
    organisation_id: int | None
    is_active: bool
    status_on_course: EnrolmentStatus | None


def _accounts_by_email(emails: list[str], course: Course) -> dict[str, _Account]:
    """Existing accounts with these emails and their enrolment on ``course``, in one or a few queries."""
    found: dict[str, _Account] = {}
    for condition in _any_of(User.email, emails, String):
        rows = db.session.execute(
            select(User.id, User.email, User.organisation_id, User.is_active_account, Enrolment.status)
            .outerjoin(Enrolment, and_(Enrolment.user_id == User.id, Enrolment.course_id == course.id))
            .where(condition)
        )
        for user_id, email, organisation_id, is_active, status in rows:
            found[email] = _Account(
                user_id, organisation_id, bool(is_active), EnrolmentStatus(status) if status else None
            )
    return found


def _missing_prerequisites(user_ids: list[int], course: Course) -> dict[int, list[Course]]:
    """For each user, the prerequisites of ``course`` not completed yet, in one or a few queries."""
    if not course.prerequisites:
        return {}
    required = {c.id: c for c in course.prerequisites}
    done: dict[int, set[int]] = {user_id: set() for user_id in user_ids}
    for condition in _any_of(Enrolment.user_id, user_ids, Integer):
        rows = db.session.execute(
            select(Enrolment.user_id, Enrolment.course_id).where(
                condition,
                Enrolment.course_id.in_(required),
                Enrolment.status == EnrolmentStatus.COMPLETED,
            )
        )
        for user_id, course_id in rows:
            done[user_id].add(course_id)
    return {user_id: [c for cid, c in required.items() if cid not in done[user_id]] for user_id in user_ids}


def _organisations_for(actor) -> tuple[dict[str, Organisation], dict[int, str]]:
    """Organisations rows may name, by case-folded name, and every known name by id (one query).

    An org manager may only name their own organisation.
    """
    if is_admin(actor):
        organisations = list(db.session.scalars(select(Organisation)))
    else:
        organisations = [actor.organisation]
    by_name = {o.name.casefold(): o for o in organisations}
    return by_name, {o.id: o.name for o in organisations}


def _require_actor(actor) -> None:
    scope = scope_for(actor, refusal="Only administrators and organisation managers enrol people in bulk.")
    if scope.is_empty:
        raise NotAllowed(
            "Your account is not linked to an organisation, so you cannot enrol staff. Ask an administrator."
        )


def validate(
    actor, course: Course, data: bytes, cohort: Cohort | None = None, mode: Mode = Mode.VALID_ROWS
) -> Validation:
    """Check every row of a CSV file; return the rows ready to enrol and every problem, by line.

    Writes nothing. In "all or nothing" mode a cohort too small for every valid row gives the
    rows beyond its free places a problem.

    :raises InvalidInput: on ``file``, for problems with the file as a whole (empty, not UTF-8,
        not CSV, no header row or a missing column, more than 50,000 rows) or the course.
    :raises NotAllowed: the actor may not enrol others.
    """
    _require_actor(actor)
    if not course.is_published:
        raise InvalidInput.for_field("file", f"{course.title} is not published, so it takes no enrolments.")
    if cohort is not None and cohort.course_id != course.id:
        raise NotFound("No such cohort for this course.")

    records = _records(_decode(data))
    header = next(((line, cells) for line, cells in records if not _is_blank(cells)), None)
    if header is None:
        raise InvalidInput.for_field("file", "The file is empty.")
    positions, ignored = _header(header[1])
    result = Validation()
    if ignored:
        listed = ", ".join(f"“{name}”" for name in ignored[:10])
        listed += " and others" if len(ignored) > 10 else ""
        result.notes.append(f"Ignored the columns {listed}: only email, name and organisation are used.")

    def cell(cells: list[str], name: str) -> str:
        index = positions[name]
        return cells[index].strip() if index < len(cells) else ""

    candidates: list[tuple[int, str, str, str]] = []
    first_line_of: dict[str, int] = {}
    for line, cells in records:
        if _is_blank(cells):
            continue
        result.rows_read += 1
        if result.rows_read > MAX_ROWS:
            raise InvalidInput.for_field(
                "file",
                f"The file has more than {MAX_ROWS:,} people. "
                f"Split it into files of up to {MAX_ROWS:,} rows.",
            )
        email, name, organisation = cell(cells, "email"), cell(cells, "name"), cell(cells, "organisation")
        email_problem = _check_cell("Email", email, MAX_LENGTHS["email"])
        if email_problem is None and not EMAIL_PATTERN.match(email):
            email_problem = f"“{email}” is not a valid email address."
        reasons = [
            reason
            for reason in (
                email_problem,
                _check_cell("Name", name, MAX_LENGTHS["name"]),
                _check_cell("Organisation", organisation, MAX_LENGTHS["organisation"]),
            )
            if reason
        ]
        if email_problem is None:
            email = normalise_email(email)
            first = first_line_of.setdefault(email, line)
            if first != line:
                reasons.append(f"The same email is on line {first}; each person only once, please.")
        if reasons:
            result.problems.append(RowProblem(line, email, name, organisation, " ".join(reasons)))
        else:
            candidates.append((line, email, name, organisation))

    if result.rows_read == 0:
        raise InvalidInput.for_field("file", "The file has a header row but nobody in it.")

    organisations, organisation_names = _organisations_for(actor)
    accounts_found = _accounts_by_email(sorted({c[1] for c in candidates}), course)
    missing = (
        _missing_prerequisites(sorted({a.id for a in accounts_found.values()}), course)
        if course.prerequisites
        else {}
    )
    own = actor.organisation_id if not is_admin(actor) else None
    for line, email, name, organisation_name in candidates:
        problem = RowProblem(line, email, name, organisation_name, "")
        organisation = organisations.get(organisation_name.casefold())
        account = accounts_found.get(email)
        if organisation is None:
            problem.reason = (
                f"No organisation called “{organisation_name}”. "
                "Check the spelling, or add the organisation first."
                if own is None
                else f"You can only enrol staff of {organisation_names[own]}; "
                f"“{organisation_name}” is another organisation."
            )
        elif own is not None and (account is None or account.organisation_id != own):
            # An org manager enrols their own staff only, and may not learn whether an email has
            # an account elsewhere: an unknown email and another organisation's account get the
            # same answer, and nothing is created (an administrator adds or moves the account).
            problem.reason = (
                f"No account of {organisation_names[own]} has this email, so you cannot enrol "
                "this person. Ask an administrator to add them."
            )
        elif account is not None and account.organisation_id != organisation.id:
            current = organisation_names.get(account.organisation_id, "no organisation")
            problem.reason = (
                f"This person's account is with {current}, not {organisation.name}. "
                "Correct the row, or change the organisation on their account first."
            )
        elif account is not None and not account.is_active:
            problem.reason = "This account is deactivated."
        elif account is not None and account.status_on_course in ALREADY_ON_COURSE:
            problem.reason = f"Already enrolled on this course ({account.status_on_course.label.lower()})."
            problem.outcome = Outcome.SKIPPED
        elif course.prerequisites and (account is None or missing.get(account.id)):
            lacking = course.prerequisites if account is None else missing[account.id]
            names = ", ".join(f"{c.title} ({c.code})" for c in lacking)
            problem.reason = f"Has not completed {names}, needed before {course.title}."
        else:
            user_id = account.id if account is not None else None
            result.rows.append(Row(line, email, name, organisation.id, organisation_name, user_id))
            continue
        result.problems.append(problem)

    if mode == Mode.ALL_OR_NOTHING and cohort is not None and cohort.seats_left is not None:
        places = cohort.seats_left
        if len(result.rows) > places:
            reason = (
                f"No place left in {cohort.name}: it has {places} free place{'s' if places != 1 else ''} "
                f"for {len(result.rows)} people."
            )
            for row in result.rows[places:]:
                result.problems.append(_row_problem(row, reason))
    result.problems.sort(key=lambda p: p.line)
    return result


# --- enrolling -------------------------------------------------------------------------


def _row_problem(row: Row, reason: str) -> RowProblem:
    return RowProblem(row.line, row.email, row.name, row.organisation_name, reason, Outcome.NOT_ENROLLED)


class _Abort(Exception):
    """Stops an all-or-nothing run; the savepoint rolls everything back."""

    def __init__(self, problem: RowProblem):
        super().__init__(problem.reason)
        self.problem = problem


def _enrol_row(actor, row: Row, course: Course, cohort: Cohort | None) -> tuple[Enrolment, bool]:
    """Create the account if needed, then enrol; ``(enrolment, account_created)``."""
    if row.user_id is not None:
        user = db.session.get(User, row.user_id)
        created = False
    else:
        user = accounts.create_user(
            actor,
            email=row.email,
            name=row.name,
            roles={Role.TRAINEE},
            organisation_id=row.organisation_id,
            invite=True,
        )
        created = True
    return enrol(actor, user, course, cohort), created


def bulk_enrol(
    actor, course: Course, data: bytes, cohort: Cohort | None = None, mode: Mode = Mode.VALID_ROWS
) -> BulkResult:
    """Check a CSV file of people, then create missing accounts and enrol them; return what happened.

    "Valid rows": each valid row is enrolled in a savepoint of its own; a row refused at
    that point (e.g. the cohort filled and has no waiting list) is reported and the others go
    on. "All or nothing": nothing is written unless every row is valid and everyone gets a
    place; any refusal rolls back every row.

    :raises InvalidInput: on ``file``, for problems with the file as a whole.
    :raises NotAllowed: the actor may not enrol others.
    """
    checked = validate(actor, course, data, cohort, mode)
    result = BulkResult(
        mode=mode, rows_read=checked.rows_read, problems=checked.problems, notes=checked.notes
    )
    blocking = [p for p in checked.problems if p.outcome != Outcome.SKIPPED]
    if mode == Mode.ALL_OR_NOTHING:
        if not blocking:
            _enrol_all_or_nothing(actor, course, cohort, checked.rows, result)
    else:
        _enrol_valid_rows(actor, course, cohort, checked.rows, result)
    if result.is_applied and (result.enrolled or result.waitlisted):
        audit.record(
            actor,
            "course.bulk_enrolment",
            course,
            after={
                "cohort_id": cohort.id if cohort else None,
                "mode": str(mode),
                "rows": result.rows_read,
                "enrolled": result.enrolled,
                "waitlisted": result.waitlisted,
                "accounts_created": result.accounts_created,
                "skipped": result.skipped,
                "errors": result.errors,
            },
        )
    if result.problems:
        result.report = store_problem_report(actor, course, result.problems)
    return result


def _enrol_valid_rows(actor, course, cohort, rows: list[Row], result: BulkResult) -> None:
    result.is_applied = True
    for row in rows:
        try:
            with db.session.begin_nested():
                enrolment, created = _enrol_row(actor, row, course, cohort)
        except DomainError as error:
            result.problems.append(_row_problem(row, error.message))
            continue
        result.accounts_created += created
        if enrolment.status == EnrolmentStatus.WAITLISTED:
            result.waitlisted += 1
        else:
            result.enrolled += 1
    result.problems.sort(key=lambda p: p.line)


def _enrol_all_or_nothing(actor, course, cohort, rows: list[Row], result: BulkResult) -> None:
    enrolled = created_count = 0
    try:
        with db.session.begin_nested():
            for row in rows:
                try:
                    enrolment, created = _enrol_row(actor, row, course, cohort)
                except DomainError as error:
                    raise _Abort(_row_problem(row, error.message)) from error
                if enrolment.status == EnrolmentStatus.WAITLISTED:
                    place = cohort.name if cohort is not None else "the course"
                    raise _Abort(_row_problem(row, f"No place left in {place}."))
                enrolled += 1
                created_count += created
    except _Abort as stop:
        stop.problem.reason += " Nothing was enrolled."
        result.problems.append(stop.problem)
        result.problems.sort(key=lambda p: p.line)
        return
    result.is_applied = True
    result.enrolled = enrolled
    result.accounts_created = created_count


# --- the problem report ----------------------------------------------------------------


REPORT_COLUMNS = ("line", "email", "name", "organisation", "outcome", "reason")


def store_problem_report(actor, course: Course, problems: list[RowProblem]) -> StoredFile:
    """Keep every problem row as a CSV file the actor can download (cells formula-safe)."""
    rows = [REPORT_COLUMNS] + [
        (p.line, p.email, p.name, p.organisation, p.outcome.label, p.reason) for p in problems
    ]
    data = ("\ufeff" + "".join(csv_lines(rows))).encode("utf-8")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return storage.save(data, f"{REPORT_PREFIX}-{course.code}-{stamp}.csv", "text/csv", actor=actor)


def get_problem_report(actor, report_id: int) -> StoredFile:
    """A problem report the actor made.

    :raises NotFound: no such report, or someone else's, so that ids reveal nothing.
    """
    report = db.session.get(StoredFile, report_id)
    if (
        report is None
        or actor is None
        or report.created_by_id != actor.id
        or not report.filename.startswith(REPORT_PREFIX)
    ):
        raise NotFound("No such report.")
    return report


def read_problem_report(report: StoredFile, limit: int = SHOWN_PROBLEMS) -> list[dict[str, str]]:
    """The first ``limit`` rows of a stored problem report, as the result page shows them."""
    with storage.open_file(report) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        rows = []
        for row in reader:
            if len(rows) >= limit:
                break
            rows.append({key: csv_unsafe(value) for key, value in row.items() if key})
        return rows
