"""Checking uploaded work: every case of the issue's "bad input and safety" list, with real bytes."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select

from lms.assessments import submissions
from lms.assessments.uploads import MAX_ZIP_MEMBERS, check_upload
from lms.errors import InvalidInput
from lms.permissions import Role
from lms.storage.models import StoredFile
from tests.assessments.factories import (
    EXE_BYTES,
    PDF_BYTES,
    PNG_BYTES,
    docx_bytes,
    zip_bomb,
    zip_bytes,
)

ALLOWED = ["pdf", "docx", "txt", "png"]
LIMIT = 1024 * 1024


def check(data: bytes, name: str | None, allowed=ALLOWED, max_size: int = LIMIT):
    return check_upload(io.BytesIO(data), name, allowed, max_size)


def refusal(data: bytes, name: str | None, allowed=ALLOWED, max_size: int = LIMIT) -> str:
    """The message of the refusal, which always names the ``file`` field."""
    with pytest.raises(InvalidInput) as caught:
        check(data, name, allowed, max_size)
    assert list(caught.value.fields) == ["file"]
    return caught.value.message


class TestAccepted:
    @pytest.mark.parametrize(
        ("name", "data", "content_type"),
        [
            ("case-study.pdf", PDF_BYTES, "application/pdf"),
            (
                "case-study.docx",
                docx_bytes(),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
            ("notes.txt", "Réflexion sur la pratique — café.\n".encode(), "text/plain"),
            ("genogram.png", PNG_BYTES, "image/png"),
            ("SHOUTING.PDF", PDF_BYTES, "application/pdf"),
        ],
    )
    def test_valid_files_pass_with_the_type_lms_decides(self, name, data, content_type):
        checked = check(data, name)
        assert checked.filename == name
        assert checked.size == len(data)
        assert checked.content_type == content_type
        # Rewound and whole: what is stored is exactly what was sent.
        assert checked.stream.read() == data

    def test_a_file_exactly_at_the_limit_is_accepted(self):
        data = b"a" * 100
        assert check(data, "notes.txt", max_size=100).size == 100


class TestRefused:
    def test_over_the_size_limit(self):
        message = refusal(b"a" * 101, "notes.txt", max_size=100)
        assert "larger than the limit of 100 bytes" in message

    def test_an_empty_file(self):
        assert "“notes.txt” is empty" in refusal(b"", "notes.txt")

    @pytest.mark.parametrize(
        "name", ["tool.exe", "page.html", "drawing.svg", "macro.docm", "README", "archive.zip"]
    )
    def test_a_type_the_assignment_does_not_accept(self, name):
        message = refusal(b"anything", name)
        assert "is not a type this assignment accepts (.pdf, .docx, .txt, .png)" in message

    def test_an_exe_renamed_to_pdf(self):
        assert "may have been renamed" in refusal(EXE_BYTES, "report.pdf")

    @pytest.mark.parametrize(
        ("name", "data"),
        [
            ("photo.pdf", PNG_BYTES),
            ("report.png", PDF_BYTES),
            ("report.docx", PDF_BYTES),
            ("binary.txt", PNG_BYTES),
            ("latin1.txt", "café".encode("latin-1")),
            ("nul.txt", b"plain text\x00with a NUL"),
            ("truncated.txt", "fin ré".encode()[:-1]),
        ],
    )
    def test_content_that_does_not_match_the_extension(self, name, data):
        assert f"“{name}” does not contain what a" in refusal(data, name)

    def test_a_docx_that_is_a_zip_of_something_else(self):
        not_word = zip_bytes({"content.xml": "<office:document/>", "mimetype": "application/x"})
        assert "may have been renamed" in refusal(not_word, "essay.docx")

    def test_a_docx_that_is_not_a_zip_at_all(self):
        fake = b"PK\x03\x04" + b"\x00" * 60  # a zip signature, then nothing a zip reader accepts
        assert "may have been renamed" in refusal(fake, "essay.docx")

    def test_a_zip_bomb_where_zip_is_allowed(self):
        bomb = zip_bomb()
        assert len(bomb) < 100 * 1024  # small on the wire ...
        message = refusal(bomb, "evidence.zip", allowed=["zip"])
        assert "would expand to 20 MB" in message and "unsafe" in message  # ... huge on disk

    def test_a_zip_bomb_dressed_as_a_docx(self):
        assert "unsafe" in refusal(zip_bomb(), "essay.docx")

    def test_a_zip_with_too_many_members(self):
        crowded = zip_bytes({f"f{i}.txt": b"" for i in range(MAX_ZIP_MEMBERS + 1)}, zipfile.ZIP_STORED)
        assert "holds too many files" in refusal(crowded, "evidence.zip", allowed=["zip"])

    @pytest.mark.parametrize("member", ["../../etc/cron.d/evil", "/etc/passwd"])
    def test_a_zip_whose_members_climb_out(self, member):
        archive = zip_bytes({"ok.txt": b"fine", member: b"evil"})
        assert "unsafe paths" in refusal(archive, "evidence.zip", allowed=["zip"])

    def test_a_harmless_zip_where_zip_is_allowed_is_accepted(self):
        archive = zip_bytes({"notes/one.txt": b"one", "notes/two.txt": b"two"})
        assert check(archive, "evidence.zip", allowed=["zip"]).content_type == "application/zip"

    @pytest.mark.parametrize("name", [None, "", "..", ".", "/", "\\", " . ", "\x00", "\x01\x02"])
    def test_names_that_are_no_name(self, name):
        assert refusal(PDF_BYTES, name) == "Choose a file to upload."

    def test_a_name_that_is_only_an_extension(self):
        assert "is not a type this assignment accepts" in refusal(PDF_BYTES, ".pdf")

    def test_an_html_file_with_script_renamed_to_pdf(self):
        html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
        assert "may have been renamed" in refusal(html, "report.pdf")

    def test_an_svg_with_script_renamed_to_png(self):
        svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
        assert "may have been renamed" in refusal(svg, "image.png")

    def test_a_right_to_left_override_cannot_disguise_an_exe(self):
        # "report\u202efdp.exe" shows as "reportexe.pdf" in many file lists.
        assert "is not a type this assignment accepts" in refusal(EXE_BYTES, "report\u202efdp.exe")


class TestNames:
    """Names are cleaned into a display name that is never a path."""

    @pytest.mark.parametrize(
        ("name", "kept"),
        [
            ("../../etc/passwd.pdf", "passwd.pdf"),
            ("..\\..\\Windows\\win.ini.pdf", "win.ini.pdf"),
            ("C:\\Users\\me\\Desktop\\case.pdf", "case.pdf"),
            ("/absolute/path/case.pdf", "case.pdf"),
            ("case\x00.pdf", "case.pdf"),
            ("case\nstudy\r\t.pdf", "case study .pdf"),  # each run of white space is one space
            ("bell\x07and\x1bescape.pdf", "bellandescape.pdf"),
            ('what?<is>"this"|*.pdf', "what__is__this___.pdf"),
        ],
    )
    def test_path_separators_dots_and_control_characters_are_dropped(self, name, kept):
        checked = check(PDF_BYTES, name)
        assert checked.filename == kept
        assert "/" not in checked.filename and "\\" not in checked.filename
        assert checked.filename.isprintable()

    def test_a_300_character_name_is_shortened_keeping_its_extension(self):
        checked = check(PDF_BYTES, "a" * 296 + ".pdf")
        assert len(checked.filename) == 255
        assert checked.filename.endswith(".pdf")

    def test_a_long_name_cannot_push_the_extension_out(self):
        # Cut naively at 255 characters, this would end in ".exe" cut to ".pdf" or the reverse.
        assert "is not a type" in refusal(EXE_BYTES, "a" * 300 + ".pdf.exe")


class TestThroughADraft:
    @pytest.fixture
    def draft(self, make_assignment, make_user, make_enrolment):
        assignment = make_assignment(file_types=["pdf", "docx", "txt"], max_file_size=2048, max_files=3)
        trainee = make_user(Role.TRAINEE)
        make_enrolment(trainee, assignment.course)
        return trainee, submissions.open_draft(trainee, assignment)

    def test_a_refused_upload_stores_nothing(self, db, draft):
        trainee, submission = draft
        stored_before = db.session.scalar(select(func.count()).select_from(StoredFile))
        for name, data in [
            ("report.pdf", EXE_BYTES),
            ("big.txt", b"a" * 2049),
            ("empty.pdf", b""),
            ("page.html", b"<script>alert(1)</script>"),
        ]:
            with pytest.raises(InvalidInput):
                submissions.add_file(trainee, submission, io.BytesIO(data), name)
        assert db.session.scalar(select(func.count()).select_from(StoredFile)) == stored_before
        assert submissions.files_of([submission.id])[submission.id] == []

    def test_the_stored_file_has_the_checked_type_not_the_browsers(self, draft):
        trainee, submission = draft
        item = submissions.add_file(trainee, submission, io.BytesIO(docx_bytes()), "../../essay.docx")
        assert item.stored_file.filename == "essay.docx"
        assert item.stored_file.content_type.endswith("wordprocessingml.document")

    def test_a_txt_holding_script_is_stored_and_only_ever_downloaded(self, db, draft, client, login_as):
        trainee, submission = draft
        script = b"<html><script>alert(document.cookie)</script></html>"
        item = submissions.add_file(trainee, submission, io.BytesIO(script), "notes.txt")
        assert item.stored_file.content_type == "text/plain"
        db.session.commit()
        login_as(trainee)
        response = client.get(f"/assignments/submissions/{submission.id}/files/{item.id}")
        assert response.status_code == 200
        assert response.data == script
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.mimetype == "text/plain"
        assert "sandbox" in response.headers["Content-Security-Policy"]
