"""Offline marking: a worksheet of an assignment's submissions to download, fill in and upload back.

The worksheet (CSV or XLSX, the same columns) has one row per submitted attempt the marker
may mark: an assessor's allocated work, or every submission for an admin. Under blind
marking a non-admin marker sees participant numbers only. Each row carries its mark's
``version``: a row whose mark changed online since the download is a conflict and is never
overwritten. An upload is checked line by line first and imports nothing unless every line
is good; the good rows then go through :func:`lms.assessments.marking.save_mark`, so grade
history, the workflow and moderation sampling apply as on the marking page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lms import audit
from lms.accounts.models import User
from lms.assessments.assignments import current_versions, get_assignment
from lms.assessments.identity import sees_identity
from lms.assessments.marking import save_mark, score
from lms.assessments.models import (
    Assignment,
    Criterion,
    MarkingState,
    SchemeKind,
    SchemeVersion,
    Submission,
    SubmissionStatus,
)
from lms.assessments.worksheet_files import Format, Sheet, csv_text, read_table, xlsx_bytes
from lms.csv import csv_unsafe
from lms.errors import Conflict, DomainError, InvalidInput, NotFound
from lms.extensions import db
from lms.permissions import is_admin
from lms.text import text_problem

#: Longest feedback, as on the marking page.
MAX_FEEDBACK = 50_000

SUBMISSION, PARTICIPANT, NAME, ATTEMPT, STATE = "Submission id", "Participant", "Name", "Attempt", "State"
VERSION, TOTAL, FEEDBACK, FINISH, MARK = "Mark version", "Total", "Feedback", "Finish", "Mark"
#: Fixed columns; a criterion with one of these titles gets " (criterion)" added to its header.
FIXED = {
    c.casefold() for c in (SUBMISSION, PARTICIPANT, NAME, ATTEMPT, STATE, VERSION, TOTAL, FEEDBACK, FINISH)
}
FINISH_VALUES = {"yes": True, "no": False, "": False}
#: What the check of a line says when the line holds the mark as it already is.
UNCHANGED = "unchanged"


@dataclass(frozen=True)
class LineProblem:
    """One problem found in an uploaded worksheet: where, in which column, and what."""

    line: int
    column: str
    message: str
    is_conflict: bool = False


class WorksheetRejected(DomainError):
    """An uploaded worksheet had problems on some lines, so nothing of it was imported."""

    def __init__(self, problems: list[LineProblem]):
        count = len(problems)
        super().__init__(
            f"The worksheet has {count} problem{'s' if count != 1 else ''}: nothing was imported. "
            "Correct the lines listed and upload it again.",
            {"file": [f"{p.column or 'Line'} on line {p.line}: {p.message}" for p in problems[:20]]},
        )
        self.problems = problems
        # Only conflicts (marks changed online since the download): 409, as any stale edit.
        if all(p.is_conflict for p in problems):
            self.status_code, self.code = Conflict.status_code, Conflict.code
        else:
            self.status_code, self.code = InvalidInput.status_code, InvalidInput.code


@dataclass
class ImportResult:
    """What an import did: marks saved (of which newly finished), and rows skipped (blank or unchanged)."""

    saved: int = 0
    finished: int = 0
    skipped: int = 0


# --- who may use a worksheet --------------------------------------------------------------


def get_for_marker(actor, assignment_id: int) -> Assignment:
    """The assignment, for an admin or an assessor with submitted work allocated on it.

    :raises NotFound: no such assignment, or none of its work is allocated to the actor.
    """
    assignment = get_assignment(assignment_id)
    if is_admin(actor):
        return assignment
    allocated = db.session.scalar(
        select(Submission.id)
        .where(
            Submission.assignment_id == assignment.id,
            Submission.status == SubmissionStatus.SUBMITTED,
            Submission.marker_id == getattr(actor, "id", None),
        )
        .limit(1)
    )
    if allocated is None:
        raise NotFound("No such assignment.")
    return assignment


def _submissions(actor, assignment: Assignment, *, for_download: bool) -> list[Submission]:
    """Submitted attempts of the assignment, marks loaded: the actor's own unless an admin.

    The download leaves out released work: a released mark is changed on its marking page,
    with a reason. The upload looks at every attempt, to say why a line cannot be used.
    """
    statement = (
        select(Submission)
        .where(Submission.assignment_id == assignment.id, Submission.status == SubmissionStatus.SUBMITTED)
        .options(selectinload(Submission.mark))
    )
    if for_download:
        statement = statement.where(Submission.state != MarkingState.RELEASED)
        if not is_admin(actor):
            statement = statement.where(Submission.marker_id == actor.id)
    return list(db.session.scalars(statement))


def _current_version(assignment: Assignment) -> SchemeVersion:
    version = current_versions([assignment.id]).get(assignment.id)
    if version is None:
        raise Conflict("This assignment has no marking scheme yet, so there is nothing to mark.")
    return version


# --- columns ------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return " ".join(text.split())


def score_columns(
    versions: Iterable[SchemeVersion],
) -> tuple[list[str], dict[int, dict[str, Criterion | None]]]:
    """The score column headers, and for each scheme version which criterion each header holds.

    A rubric gives one column per criterion (headed by its title); a mark out of N gives one
    "Mark" column (``None`` in the map). Marks keep the version they used, so a worksheet may
    need the columns of several versions; a row leaves the others empty.
    """
    headers: list[str] = []
    per_version: dict[int, dict[str, Criterion | None]] = {}
    for version in versions:
        mapping: dict[str, Criterion | None] = {}
        if version.kind == SchemeKind.POINTS:
            mapping[MARK] = None
        else:
            for criterion in version.criteria:
                name = _clean(criterion.title) or f"Criterion {criterion.position + 1}"
                if name.casefold() in FIXED:
                    name = f"{name} (criterion)"
                base, number = name, 1
                while name.casefold() in {m.casefold() for m in mapping}:
                    number += 1
                    name = f"{base} ({number})"
                mapping[name] = criterion
        for name in mapping:
            if name.casefold() not in {h.casefold() for h in headers}:
                headers.append(name)
        per_version[version.id] = {
            next(h for h in headers if h.casefold() == name.casefold()): target
            for name, target in mapping.items()
        }
    return headers, per_version


def _versions_for(assignment: Assignment, submissions: list[Submission]) -> list[SchemeVersion]:
    """The current scheme version first, then the older ones marks still use, newest first."""
    current = _current_version(assignment)
    older = {s.mark.scheme_version.id: s.mark.scheme_version for s in submissions if s.mark is not None}
    older.pop(current.id, None)
    return [current, *sorted(older.values(), key=lambda v: -v.number)]


def _version_of(submission: Submission, current: SchemeVersion) -> SchemeVersion:
    return submission.mark.scheme_version if submission.mark is not None else current


# --- download -----------------------------------------------------------------------------


def build_sheet(actor, assignment: Assignment) -> Sheet:
    """The worksheet of ``assignment`` for ``actor``: header and one row per attempt (bounded queries).

    :raises NotFound: the actor is neither an admin nor the marker of any of its work.
    """
    get_for_marker(actor, assignment.id)
    submissions = _submissions(actor, assignment, for_download=True)
    versions = _versions_for(assignment, submissions)
    scores, per_version = score_columns(versions)
    is_named = sees_identity(actor, assignment)
    names: dict[int, str] = {}
    if is_named and submissions:
        statement = select(User.id, User.name).where(User.id.in_({s.user_id for s in submissions}))
        names = dict(db.session.execute(statement).all())
        submissions.sort(key=lambda s: ((names.get(s.user_id) or "").casefold(), s.user_id, s.attempt))
    else:
        # Never by name (it would hint at who is who), nor by arrival: by participant number.
        submissions.sort(key=lambda s: (s.participant.number, s.attempt))
    header = [SUBMISSION, PARTICIPANT, *([NAME] if is_named else []), ATTEMPT, STATE, VERSION]
    header += [*scores, TOTAL, FEEDBACK, FINISH]
    rows = []
    for submission in submissions:
        mark = submission.mark
        mapping = per_version[_version_of(submission, versions[0]).id]
        chosen = {s.criterion_id: s.level_id for s in mark.scores} if mark else {}
        cells: list[object] = []
        for name in scores:
            if name not in mapping or mark is None:
                cells.append("")
            elif mapping[name] is None:
                cells.append("" if mark.total is None else mark.total)
            else:
                points = {level.id: level.points for level in mapping[name].levels}
                cells.append(points.get(chosen.get(mapping[name].id), ""))
        rows.append(
            [
                submission.id,
                submission.participant.number,
                *([names.get(submission.user_id, "")] if is_named else []),
                submission.attempt,
                submission.state.label,
                mark.version if mark else "",
                *cells,
                "" if mark is None or mark.total is None else mark.total,
                mark.feedback if mark else "",
                "yes" if mark is not None and mark.completed_at is not None else "no",
            ]
        )
    choices: dict[str, set[int]] = {}
    maxima: dict[str, int] = {}
    for version in versions:
        for name, target in per_version[version.id].items():
            if target is None:
                maxima[name] = max(maxima.get(name, 0), version.max_points)
            else:
                choices.setdefault(name, set()).update(level.points for level in target.levels)
    return Sheet(
        header,
        rows,
        {k: sorted(v) for k, v in choices.items()},
        maxima,
        wide=frozenset({FEEDBACK}),
        yes_no=frozenset({FINISH}),
    )


def download(actor, assignment: Assignment, fmt: Format) -> tuple[str, Iterator[str] | bytes]:
    """The worksheet file for ``actor``: its name and its body (CSV text pieces, or XLSX bytes)."""
    sheet = build_sheet(actor, assignment)
    body = csv_text(sheet) if fmt is Format.CSV else xlsx_bytes(sheet)
    return filename(actor, assignment, fmt), body


def filename(actor, assignment: Assignment, fmt: Format) -> str:
    """The download's name: it says the rows are participant numbers when they are."""
    blind = "" if sees_identity(actor, assignment) else "-participant-numbers"
    return f"marking-worksheet-{assignment.id}{blind}.{fmt.value}"


# --- checking and importing ---------------------------------------------------------------


def _key(text: str) -> str:
    return _clean(text).casefold()


def _whole(raw: str) -> int | None:
    """A whole number as typed or as a spreadsheet writes it ("5", "5.0"), else ``None``."""
    try:
        number = float(raw)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


@dataclass
class _Planned:
    line: int
    submission: Submission
    data: dict
    expected_version: int | None
    is_final: bool
    feedback: str


class _Line:
    """One data line of an upload: its cells by header, and the problems found in it."""

    def __init__(self, line: int, cells: list[str], positions: dict[str, int], problems: list[LineProblem]):
        self.line, self._cells, self._positions, self._problems = line, cells, positions, problems

    def get(self, header: str) -> str:
        index = self._positions.get(_key(header))
        raw = self._cells[index] if index is not None and index < len(self._cells) else ""
        return csv_unsafe(raw).replace("\r\n", "\n").strip()

    def problem(self, column: str, message: str, *, is_conflict: bool = False) -> None:
        self._problems.append(LineProblem(self.line, column, message, is_conflict))


def _positions(header: list[str], required: list[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = _key(cell.lstrip("\ufeff"))
        if not name:
            continue
        if name in positions:
            raise InvalidInput.for_field("file", f"The header row names the column “{_clean(cell)}” twice.")
        positions[name] = index
    missing = [name for name in required if _key(name) not in positions]
    if missing:
        raise InvalidInput.for_field(
            "file",
            "The first row must be the worksheet's header row, as downloaded. Missing: "
            + ", ".join(f"“{m}”" for m in missing)
            + ".",
        )
    return positions


def check_worksheet(
    actor, assignment: Assignment, data: bytes, name: str | None
) -> tuple[list[_Planned], int]:
    """Read and check an uploaded worksheet: the marks to save, and how many rows are skipped.

    :raises InvalidInput: the file cannot be read (see :func:`read_table`).
    :raises WorksheetRejected: some lines have problems; each is named with its line number.
    """
    get_for_marker(actor, assignment.id)
    table = read_table(data, name)
    submissions = _submissions(actor, assignment, for_download=False)
    versions = _versions_for(assignment, submissions)
    scores, per_version = score_columns(versions)
    current = [h for h in scores if h in per_version[versions[0].id]]
    positions = _positions(table[0][1], [SUBMISSION, VERSION, *current, FEEDBACK, FINISH])
    scores = [h for h in scores if _key(h) in positions]
    known = {s.id: s for s in submissions}
    problems: list[LineProblem] = []
    planned: list[_Planned] = []
    seen: dict[int, int] = {}
    skipped = 0
    for number, cells in table[1:]:
        row = _Line(number, cells, positions, problems)
        for index, cell in enumerate(cells):
            if problem := text_problem(cell):
                header = _clean(table[0][1][index]) if index < len(table[0][1]) else ""
                row.problem(header or f"Column {index + 1}", f"The cell {problem}.")
        raw_id = row.get(SUBMISSION)
        submission_id = _whole(raw_id)
        finish_raw = row.get(FINISH)
        is_blank = (
            all(not row.get(h) for h in scores)
            and not row.get(FEEDBACK)
            and finish_raw.casefold() in ("", "no")
        )
        if submission_id is None:
            row.problem(SUBMISSION, "Missing." if not raw_id else f"“{raw_id[:20]}” is not a submission id.")
            continue
        submission = known.get(submission_id)
        if submission is None:
            row.problem(SUBMISSION, f"There is no submitted work {submission_id} on this assignment.")
            continue
        if submission_id in seen:
            row.problem(SUBMISSION, f"Submission {submission_id} is on line {seen[submission_id]} already.")
            continue
        seen[submission_id] = number
        if is_blank:
            skipped += 1  # left blank: nothing to do
            continue
        if not is_admin(actor) and submission.marker_id != actor.id:
            row.problem(
                SUBMISSION,
                f"Submission {submission_id} is not allocated to you: "
                "clear its row, or download a new worksheet.",
            )
            continue
        version = _version_of(submission, versions[0])
        item = _check_row(actor, row, submission, version, per_version[version.id], scores)
        if item is UNCHANGED:
            skipped += 1
        elif item is not None:
            planned.append(item)
    if problems:
        raise WorksheetRejected(problems)
    return planned, skipped


def _check_row(
    actor, row: _Line, submission: Submission, version: SchemeVersion, mapping: dict, scores: list[str]
):
    """A checked line: what to save, :data:`UNCHANGED`, or ``None`` with its problems recorded.

    ``mapping`` says which criterion each score column holds in ``version`` (the scheme
    version of the submission's mark); ``scores`` are the score columns the file has. A line
    whose mark cannot change now (its state, or a change online since the download) reports
    that alone: the rest of the line no longer matters.
    """
    mark = submission.mark
    found: list[tuple[str, str]] = []
    levels, points = _read_scores(row, version, mapping, scores, found)
    feedback, finish_raw = row.get(FEEDBACK), row.get(FINISH).casefold()
    if len(feedback) > MAX_FEEDBACK:
        found.append((FEEDBACK, f"Longer than {MAX_FEEDBACK:,} characters."))
    if finish_raw not in FINISH_VALUES:
        found.append((FINISH, f"Write yes or no (or leave it empty), not “{row.get(FINISH)[:20]}”."))
    is_finished = mark is not None and mark.completed_at is not None
    finish = FINISH_VALUES.get(finish_raw, False) and not is_finished
    if not found and mark is not None and not finish:
        same_scores = (
            mark.total == points
            if version.kind == SchemeKind.POINTS
            else {s.criterion_id: s.level_id for s in mark.scores} == levels
        )
        if same_scores and _clean_text(mark.feedback) == _clean_text(feedback):
            return UNCHANGED
    if (refusal := _state_refusal(actor, submission)) is not None:
        row.problem(STATE, refusal)
        return None
    raw_version = row.get(VERSION)
    sheet_version = _whole(raw_version) if raw_version else None
    if raw_version and sheet_version is None:
        found.append(
            (VERSION, f"“{raw_version[:20]}” is not a mark version: keep the number from the download.")
        )
    elif (mark.version if mark else None) != sheet_version:
        now = f"version {mark.version}" if mark else "no mark"
        row.problem(
            VERSION,
            f"This mark changed online since you downloaded the worksheet (now {now}, the worksheet has "
            f"{'version ' + str(sheet_version) if sheet_version is not None else 'no mark'}). It was not "
            "overwritten: download a new worksheet, or change the mark on its marking page.",
            is_conflict=True,
        )
        return None
    if is_finished and finish_raw == "no":
        found.append(
            (FINISH, "Marking of this submission is finished and cannot be reopened: leave it as yes.")
        )
    data = {"points": points} if version.kind == SchemeKind.POINTS else {"levels": levels}
    if not found:
        try:
            scored = score(version, data, submission)
        except InvalidInput as error:  # checked above; kept so that no rule of score() is skipped
            found.append((MARK if version.kind == SchemeKind.POINTS else "Rubric", error.message))
        else:
            if (finish or is_finished) and scored.missing:
                what = (
                    "enter the mark"
                    if version.kind == SchemeKind.POINTS
                    else "choose every criterion's points"
                )
                found.append((FINISH, f"To finish, {what} (missing: {', '.join(scored.missing)})."))
    for column, message in found:
        row.problem(column, message)
    if found:
        return None
    return _Planned(row.line, submission, data, sheet_version, finish, feedback)


def _read_scores(row: _Line, version: SchemeVersion, mapping: dict, scores: list[str], found: list):
    """The rubric levels (criterion id -> level id) and plain mark of a line; problems go into ``found``."""
    levels: dict[int, int] = {}
    points: int | None = None
    for header in mapping:
        if header not in scores:
            found.append((header, f"The worksheet has no “{header}” column, which this mark needs."))
    for header in scores:
        raw = row.get(header)
        if not raw:
            continue
        if header not in mapping:
            found.append(
                (header, f"This mark uses version {version.number} of the scheme, which has no “{header}”.")
            )
            continue
        value = _whole(raw)
        if value is None:
            found.append((header, f"“{raw[:20]}” is not a whole number of points."))
            continue
        target = mapping[header]
        if target is None:
            if not 0 <= value <= version.max_points:
                where = "above the maximum" if value > 0 else "below the minimum"
                found.append((header, f"{value} is {where} (a mark from 0 to {version.max_points})."))
            points = value
            continue
        level = next((lv for lv in target.levels if lv.points == value), None)
        if level is None:
            allowed = ", ".join(str(lv.points) for lv in target.levels)
            found.append(
                (header, f"{value} points matches no level of this criterion (its levels give {allowed}).")
            )
            continue
        levels[target.id] = level.id
    return levels, points


def _clean_text(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").strip()


def _state_refusal(actor, submission: Submission) -> str | None:
    """Why the worksheet may not change this mark in its workflow state (as the marking page)."""
    state = submission.state
    if state == MarkingState.RELEASED:
        return "This mark has been released: change it on its marking page, where a reason is asked for."
    if state == MarkingState.IN_MODERATION and not is_admin(actor):
        return "This mark is in moderation: the moderator decides it now."
    if state == MarkingState.READY_FOR_RELEASE and not is_admin(actor):
        return "This mark has been moderated. Ask an administrator if it must change."
    return None


def import_worksheet(actor, assignment: Assignment, data: bytes, name: str | None) -> ImportResult:
    """Check an uploaded worksheet and, if every line is good, save its marks; otherwise save nothing.

    :raises InvalidInput: the file cannot be read as a worksheet.
    :raises WorksheetRejected: some lines have problems (or a save failed): nothing was imported.
    """
    planned, skipped = check_worksheet(actor, assignment, data, name)
    result = ImportResult(skipped=skipped)
    savepoint = db.session.begin_nested()
    for item in planned:
        try:
            save_mark(
                actor,
                item.submission,
                item.data,
                expected_version=item.expected_version,
                is_final=item.is_final,
                feedback=item.feedback,
            )
        except DomainError as error:
            # Checked above, so only a race gets here (a save in between): undo every row.
            savepoint.rollback()
            column = VERSION if isinstance(error, Conflict) else ""
            raise WorksheetRejected(
                [LineProblem(item.line, column, error.message, isinstance(error, Conflict))]
            ) from None
        result.saved += 1
        result.finished += int(item.is_final)
    savepoint.commit()
    audit.record(
        actor,
        "worksheet.imported",
        assignment,
        after={"saved": result.saved, "finished": result.finished, "skipped": result.skipped},
    )
    db.session.flush()
    return result
