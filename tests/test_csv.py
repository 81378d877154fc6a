"""The one CSV formula guard, used by every export and by the bulk-enrolment problem report."""

from __future__ import annotations

import csv
import io

import pytest

from lms.courses import bulk
from lms.csv import FORMULA_PREFIXES, csv_lines, csv_safe, csv_unsafe
from lms.permissions import Role
from lms.storage import services as storage

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def test_csv_cell_guard():
    assert csv_safe("=1+1") == "'=1+1"
    for start in ("+", "-", "@", "\t", "\r"):
        assert csv_safe(start + "x") == "'" + start + "x"
    assert csv_safe("Sam") == "Sam"
    assert csv_safe(None) == ""
    assert csv_safe(50) == "50"


def test_the_guard_covers_every_dangerous_first_character():
    assert set(FORMULA_PREFIXES) == set(DANGEROUS)


@pytest.mark.parametrize("start", DANGEROUS)
def test_unsafe_undoes_safe_for_display(start):
    value = start + "SUM(A1)"
    assert csv_unsafe(csv_safe(value)) == value
    assert csv_unsafe("'quoted by the person") == "'quoted by the person"
    assert csv_unsafe(None) == ""


def test_lines_are_crlf_and_guarded():
    text = "".join(csv_lines([("a", "=b"), ("\tc", None)]))
    assert text == "a,'=b\r\n'\tc,\r\n"


@pytest.mark.parametrize("start", DANGEROUS)
def test_bulk_problem_report_neutralises_each_dangerous_cell(db, make_user, make_course, start):
    """Tab and carriage return are guarded in the stored report too, not only = + - @."""
    admin = make_user(Role.ADMIN)
    course = make_course(code="CSV1")
    problem = bulk.RowProblem(
        line=2,
        email=f"{start}mail",
        name=f"{start}name",
        organisation=f"{start}org",
        reason=f"{start}reason",
    )
    report = bulk.store_problem_report(admin, course, [problem])
    raw = storage.read_bytes(report).decode("utf-8-sig")
    row = list(csv.reader(io.StringIO(raw)))[1]
    assert row[1:4] == [f"'{start}mail", f"'{start}name", f"'{start}org"]
    assert row[5] == f"'{start}reason"
    shown = bulk.read_problem_report(report)[0]
    assert (shown["email"], shown["name"], shown["reason"]) == (
        f"{start}mail",
        f"{start}name",
        f"{start}reason",
    )
