"""Factories for assignments, assessor pools and submissions, made through the real services."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from lms.database import utcnow
from lms.extensions import db as _db
from lms.permissions import Role

_counter = itertools.count(1)

#: A two-criterion rubric: 0/5/10 points each, so the maximum is 20; pass at 10.
RUBRIC = {
    "kind": "rubric",
    "pass_mark": 10,
    "criteria": [
        {
            "title": "Reflection",
            "description": "Links theory to practice.",
            "levels": [
                {"points": 0, "descriptor": "Missing"},
                {"points": 5, "descriptor": "Descriptive"},
                {"points": 10, "descriptor": "Critical"},
            ],
        },
        {
            "title": "Principles",
            "description": "Uses the programme's principles.",
            "levels": [
                {"points": 0, "descriptor": "Missing"},
                {"points": 5, "descriptor": "Named"},
                {"points": 10, "descriptor": "Applied"},
            ],
        },
    ],
}


@pytest.fixture
def assessments_admin(make_user):
    """The administrator the factories act as."""
    return make_user(Role.ADMIN, name="Ada Admin")


@pytest.fixture
def make_assignment(db, assessments_admin, make_course):
    """Factory: an assignment (due in a week, text and PDF/DOCX files, two attempts) with the RUBRIC."""
    from lms.assessments.assignments import save_assignment, save_scheme

    def make(course=None, *, scheme=RUBRIC, **fields):
        course = course or make_course(modules=0)
        data = {
            "title": f"Assignment {next(_counter)}",
            "brief": "Write a **reflective** case study.",
            "due_at": utcnow() + dt.timedelta(days=7),
            "accepts_text": True,
            "accepts_files": True,
            "file_types": ["pdf", "docx", "txt"],
            "max_files": 2,
            "max_attempts": 2,
            **fields,
        }
        assignment = save_assignment(assessments_admin, course, None, data)
        if scheme is not None:
            save_scheme(assessments_admin, assignment, scheme)
        return assignment

    return make


@pytest.fixture
def make_pool(db, assessments_admin, make_user):
    """Factory: ``count`` assessors made the course's pool; returns them."""
    from lms.assessments.assignments import set_pool

    def make(course, count: int = 1, people=()):
        people = list(people) or [make_user(Role.ASSESSOR) for _ in range(count)]
        set_pool(assessments_admin, course, [p.id for p in people])
        return people

    return make


@pytest.fixture
def make_submission(db, make_user, make_enrolment):
    """Factory: an enrolled trainee's submitted attempt (text only unless ``files`` are given)."""
    from lms.assessments import submissions

    def make(assignment, trainee=None, *, text="My reflective case study about whole-family work.", files=()):
        trainee = trainee or make_user(Role.TRAINEE)
        if submissions.current_enrolment(trainee, assignment) is None:
            make_enrolment(trainee, assignment.course)
        draft = submissions.open_draft(trainee, assignment)
        if text:
            submissions.save_draft(trainee, draft, text, draft.draft_revision)
        for name, data in files:
            import io

            submissions.add_file(trainee, draft, io.BytesIO(data), name)
        submissions.submit(trainee, draft, True)
        _db.session.flush()
        return draft

    return make


def levels_for(version, points: list[int]) -> dict:
    """Rubric input choosing, for each criterion in order, the level with these points."""
    return {
        c.id: next(level.id for level in c.levels if level.points == p)
        for c, p in zip(version.criteria, points, strict=True)
    }


# --- real file bytes for upload tests ------------------------------------------------------

#: A minimal but well-formed PDF: header, one catalogue object, trailer.
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
#: A 1x1 PNG.
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
#: The start of a Windows executable: the DOS stub ("MZ") and the PE signature it points to.
EXE_BYTES = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8" + b"\x00" * 43 + b"\x40\x00\x00\x00"
    b"PE\x00\x00\x4c\x01\x03\x00" + b"\x00" * 200
)


def zip_bytes(members: dict[str, bytes | str], compression: int | None = None) -> bytes:
    """A zip archive holding ``members`` (name -> content), deflated unless told otherwise."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression or zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx_bytes(text: str = "My case study.") -> bytes:
    """A Word document as Word writes one: content types, relationships and word/document.xml."""
    return zip_bytes(
        {
            "[Content_Types].xml": (
                '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
                'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>'
            ),
            "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships/>',
            "word/document.xml": (
                '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                f'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>'
            ),
        }
    )


def zip_bomb(expanded: int = 20 * 1024 * 1024) -> bytes:
    """A small zip that expands to ``expanded`` bytes of zeros (a zip bomb)."""
    return zip_bytes({"word/document.xml": b"\x00" * expanded, "readme.txt": b"nothing to see"})


# --- reading what the services left behind -------------------------------------------------


def notices_of(user, kind: str) -> list:
    """The notifications ``user`` got of ``kind``, oldest first."""
    from sqlalchemy import select

    from lms.notifications.models import Notification

    statement = (
        select(Notification)
        .where(Notification.user_id == user.id, Notification.kind == kind)
        .order_by(Notification.id)
    )
    return list(_db.session.scalars(statement))


def audits(action: str, subject=None) -> list:
    """The audit entries of ``action`` (about ``subject`` if given), oldest first."""
    from sqlalchemy import select

    from lms.audit import AuditEntry

    statement = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    if subject is not None:
        statement = statement.where(
            AuditEntry.subject_type == subject.__tablename__, AuditEntry.subject_id == subject.id
        )
    return list(_db.session.scalars(statement))


def finish_mark(marker, submission, points: list[int], **kwargs):
    """Mark ``submission`` against its assignment's current rubric and finish marking; return the mark."""
    from lms.assessments import marking
    from lms.assessments.assignments import current_version

    mark = marking.mark_of(submission)
    version = mark.scheme_version if mark else current_version(submission.assignment)
    return marking.save_mark(
        marker,
        submission,
        {"levels": levels_for(version, points)},
        expected_version=mark.version if mark else None,
        is_final=True,
        **kwargs,
    )
