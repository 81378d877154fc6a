"""The file-storage service, on both backends: saving, reading, sending, verifying, deleting."""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import pytest
from flask import Response
from sqlalchemy import func, select, update
from werkzeug.datastructures import FileStorage

from lms.config import ConfigurationError
from lms.errors import InvalidInput
from lms.storage import services as storage
from lms.storage.backends import CHUNK_SIZE, DatabaseBackend, LocalBackend
from lms.storage.models import StoredBlob, StoredFile
from lms.transactions import finish_request


def local_files(root: Path) -> list[Path]:
    """Every file under the storage folder, temporary ones included."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def stored_state(db, root: Path) -> tuple[int, int, list[Path]]:
    """How much is stored: metadata rows, blob rows and local files."""
    files = db.session.scalar(select(func.count()).select_from(StoredFile))
    blobs = db.session.scalar(select(func.count()).select_from(StoredBlob))
    return files, blobs, local_files(root)


def commit():
    """End the 'request' successfully, as the app does: commit, then run after-commit callbacks."""
    finish_request(Response("ok"))


def fail():
    """End the 'request' with an error: roll back and drop the callbacks."""
    finish_request(Response("no", status=500))


def body_of(response) -> bytes:
    """The streamed body of a response, consumed and closed."""
    try:
        return b"".join(response.response)
    finally:
        response.close()


# Saving


def test_save_records_checksum_size_and_metadata(backend, db, make_user):
    user = make_user()
    data = os.urandom(3 * CHUNK_SIZE + 17)

    stored = storage.save(data, "Portfolio.pdf", "application/pdf", actor=user)

    assert stored.id is not None
    assert re.fullmatch(r"[0-9a-f]{32}", stored.key)
    assert stored.size == len(data)
    assert stored.checksum == hashlib.sha256(data).hexdigest()
    assert stored.backend == backend.name
    assert stored.filename == "Portfolio.pdf"
    assert stored.content_type == "application/pdf"
    assert stored.created_by_id == user.id
    assert stored.created_at.tzinfo is not None
    assert storage.read_bytes(stored) == data
    assert storage.verify(stored)


def test_save_streams_a_file_storage_upload(backend, db):
    data = b"essay text\n" * 10_000
    upload = FileStorage(io.BytesIO(data), filename="essay.txt", content_type="text/plain")

    stored = storage.save(upload, upload.filename, upload.mimetype)

    assert (stored.size, stored.checksum) == (len(data), hashlib.sha256(data).hexdigest())
    with storage.open_file(stored) as handle:
        assert handle.read(5) == b"essay"
        assert handle.read() == data[5:]


def test_database_backend_keeps_large_files_in_chunks(app, db, storage_root, monkeypatch):
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "database")
    monkeypatch.setattr(DatabaseBackend, "blob_size", 1000)
    data = os.urandom(2500)

    stored = storage.save(data, "big.bin", None)

    rows = db.session.execute(
        select(StoredBlob.chunk, func.length(StoredBlob.data)).where(StoredBlob.key == stored.key)
    ).all()
    assert sorted(rows) == [(0, 1000), (1, 1000), (2, 500)]
    assert storage.read_bytes(stored) == data
    assert local_files(storage_root) == []


def test_local_backend_shards_by_key_and_leaves_no_temporary_files(app, db, storage_root):
    stored = storage.save(b"hello", "hello.txt", "text/plain")

    key = stored.key
    assert local_files(storage_root) == [storage_root / key[:2] / key[2:4] / key]
    assert (storage_root / key[:2] / key[2:4] / key).read_bytes() == b"hello"


def test_files_are_read_through_the_backend_that_wrote_them(app, db, storage_root, monkeypatch):
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "local")
    on_disk = storage.save(b"on disk", "a.txt", "text/plain")
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "database")
    in_database = storage.save(b"in the database", "b.txt", "text/plain")

    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "local")
    assert storage.read_bytes(in_database) == b"in the database"
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "database")
    assert storage.read_bytes(on_disk) == b"on disk"


def test_unknown_backend_is_a_configuration_error(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "floppy")

    with pytest.raises(ConfigurationError, match="floppy"):
        storage.save(b"x", "x.txt", "text/plain")


def test_text_streams_are_refused(backend, db):
    with pytest.raises(TypeError):
        storage.save(io.StringIO("text"), "x.txt", "text/plain")


# Refusals


@pytest.mark.parametrize(
    ("size", "max_size", "limit"),
    [(101, 100, "100 bytes"), (3 * CHUNK_SIZE, 2 * CHUNK_SIZE + 100, "128.1 KB")],
)
def test_too_large_is_refused_on_field_file_and_nothing_is_stored(
    backend, db, storage_root, monkeypatch, size, max_size, limit
):
    # Small database chunks, so that rows are written before the refusal comes mid-stream.
    monkeypatch.setattr(DatabaseBackend, "blob_size", 1000)
    before = stored_state(db, storage_root)

    with pytest.raises(InvalidInput) as refused:
        storage.save(io.BytesIO(b"x" * size), "big.txt", "text/plain", max_size=max_size)

    assert refused.value.fields == {"file": [f"The file is larger than the limit of {limit}."]}
    assert stored_state(db, storage_root) == before


def test_exactly_the_maximum_is_accepted(backend, db):
    stored = storage.save(b"x" * 100, "limit.txt", "text/plain", max_size=100)

    assert stored.size == 100


@pytest.mark.parametrize("empty", [b"", io.BytesIO(b"")])
def test_empty_files_are_refused(backend, db, storage_root, empty):
    before = stored_state(db, storage_root)

    with pytest.raises(InvalidInput) as refused:
        storage.save(empty, "empty.txt", "text/plain")

    assert refused.value.fields == {"file": ["The file is empty."]}
    assert stored_state(db, storage_root) == before


# Hostile names


HOSTILE_NAMES = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\win.ini", "win.ini"),
    ("/etc/shadow", "shadow"),
    ("report\x00.pdf", "report.pdf"),
    ("evil\x00/../../x", "x"),
    ("..", "file"),
    ("", "file"),
    (None, "file"),
    ("line\r\nbreak.txt", "line break.txt"),
    ("\u202egpj.exe", "gpj.exe"),
    ('what?"<>|*:.txt', "what_______.txt"),
    ("Prüfung \u2013 Übung 😀.docx", "Prüfung \u2013 Übung 😀.docx"),
    ("e\u0301cole.txt", "\u00e9cole.txt"),
    ("  .hidden  ", "hidden"),
]


@pytest.mark.parametrize(("name", "expected"), HOSTILE_NAMES)
def test_hostile_filenames_are_kept_as_safe_metadata_only(
    backend, db, storage_root, tmp_path, name, expected
):
    stored = storage.save(b"content", name, "text/plain")
    db.session.expire_all()
    stored = db.session.get(StoredFile, stored.id)

    assert stored.filename == expected
    assert storage.read_bytes(stored) == b"content"
    # Nothing was written anywhere but at the key's place inside the storage folder.
    expected_files = (
        [storage_root / stored.key[:2] / stored.key[2:4] / stored.key] if backend.name == "local" else []
    )
    assert local_files(storage_root) == expected_files
    assert sorted(p.name for p in tmp_path.iterdir()) == (["files"] if expected_files else [])


def test_very_long_names_are_shortened_keeping_the_extension(backend, db):
    stored = storage.save(b"content", "ü" * 1000 + ".pdf", "application/pdf")
    db.session.expire_all()
    stored = db.session.get(StoredFile, stored.id)

    assert len(stored.filename) == 255
    assert stored.filename.endswith("ü.pdf")


@pytest.mark.parametrize(
    "key", ["../../etc/passwd", "ABCDEF0123456789abcdef0123456789", "a" * 31, "a" * 32 + "\n", "", "/var/x"]
)
def test_local_backend_only_accepts_generated_keys(app, storage_root, key):
    with pytest.raises(ValueError, match="not a storage key"):
        LocalBackend(app.config).path(key)


@pytest.mark.parametrize(
    ("declared", "filename", "expected"),
    [
        ("TEXT/HTML; charset=utf-8", "a.html", "text/html"),
        ("image/png", "a.exe", "image/png"),
        (None, "a.pdf", "application/pdf"),
        ("application/octet-stream", "a.pdf", "application/pdf"),
        (None, "noextension", "application/octet-stream"),
        ("not a type", "x", "application/octet-stream"),
        ("text/plain\r\nX-Evil: 1", "x", "application/octet-stream"),
    ],
)
def test_content_types_are_normalised(declared, filename, expected):
    assert storage.normalise_content_type(declared, filename) == expected


# Sending


def test_send_streams_an_attachment_with_safe_headers(app, backend, db):
    data = os.urandom(CHUNK_SIZE * 2 + 5)
    stored = storage.save(data, "Marking sheet.pdf", "application/pdf")
    commit()

    with app.test_request_context("/files/1"):
        response = storage.send(stored)
    # A server iterates the body after the request has ended and its session is gone.
    db.session.remove()
    body = body_of(response)

    assert response.status_code == 200
    assert body == data
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="Marking sheet.pdf"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["ETag"] == f'"{stored.checksum}"'
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_send_answers_a_matching_etag_with_304(app, backend, db):
    stored = storage.save(b"certificate", "certificate.pdf", "application/pdf")

    with app.test_request_context("/files/1", headers={"If-None-Match": f'"{stored.checksum}"'}):
        response = storage.send(stored)

    assert response.status_code == 304
    assert response.headers["ETag"] == f'"{stored.checksum}"'
    assert body_of(response) == b""


@pytest.mark.parametrize(
    "content_type", ["text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "text/javascript"]
)
def test_active_content_is_never_inline(app, backend, db, content_type):
    stored = storage.save(b"<script>alert(1)</script>", "page.html", content_type)

    with app.test_request_context("/files/1"):
        response = storage.send(stored, as_attachment=False)
        body_of(response)

    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("content_type", "disposition"),
    [("image/png", "inline"), ("text/plain", "inline"), ("application/zip", "attachment")],
)
def test_inline_only_for_passive_types(app, db, storage_root, content_type, disposition):
    stored = storage.save(b"bytes", "file", content_type)

    with app.test_request_context("/files/1"):
        response = storage.send(stored, as_attachment=False)
        body_of(response)

    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Disposition"].split(";")[0] == disposition


def test_unicode_names_use_rfc_5987(app, db, storage_root):
    stored = storage.save(b"bytes", 'Prüfung "final" 😀.pdf', "application/pdf")

    with app.test_request_context("/files/1"):
        response = storage.send(stored)
        body_of(response)

    assert response.headers["Content-Disposition"] == (
        'attachment; filename="Prufung _final_ .pdf"; '
        "filename*=UTF-8''Pr%C3%BCfung%20_final_%20%F0%9F%98%80.pdf"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("plain.txt", 'attachment; filename="plain.txt"'),
        ("100%.txt", "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"),
        ("論文.pdf", "attachment; filename=\"file.pdf\"; filename*=UTF-8''%E8%AB%96%E6%96%87.pdf"),
        ("論文", "attachment; filename=\"file\"; filename*=UTF-8''%E8%AB%96%E6%96%87"),
        ("a\\b;c.txt", 'attachment; filename="b;c.txt"'),
    ],
)
def test_content_disposition(name, expected):
    assert storage.content_disposition(name) == expected


def test_missing_bytes_are_not_found(app, backend, db):
    stored = storage.save(b"soon gone", "x.txt", "text/plain")
    backend.delete(stored.key)

    with pytest.raises(FileNotFoundError):
        storage.read_bytes(stored)
    with app.test_request_context("/files/1"), pytest.raises(FileNotFoundError):
        storage.send(stored)


# Verifying


def test_verify_detects_corruption(backend, db, storage_root):
    stored = storage.save(b"original bytes", "x.txt", "text/plain")
    assert storage.verify(stored)

    if backend.name == "local":
        backend.path(stored.key).write_bytes(b"tampered bytes")
    else:
        db.session.execute(
            update(StoredBlob).where(StoredBlob.key == stored.key).values(data=b"tampered bytes")
        )

    assert not storage.verify(stored)


def test_verify_detects_truncation_and_loss(backend, db):
    stored = storage.save(b"original bytes", "x.txt", "text/plain")
    stored.size += 1
    assert not storage.verify(stored)

    stored.size -= 1
    backend.delete(stored.key)
    assert not storage.verify(stored)


# Deleting


def test_delete_removes_bytes_only_after_commit(backend, db):
    stored = storage.save(b"trainee work", "work.docx", None)
    commit()
    stored_id, key = stored.id, stored.key

    storage.delete(stored)
    assert db.session.get(StoredFile, stored_id) is None
    if backend.name == "local":
        assert backend.exists(key), "a file must outlive its row until the deletion commits"

    commit()
    assert db.session.get(StoredFile, stored_id) is None
    assert not backend.exists(key)


def test_rolled_back_delete_loses_nothing(backend, db):
    stored = storage.save(b"trainee work", "work.docx", None)
    commit()
    stored_id = stored.id

    storage.delete(stored)
    fail()

    stored = db.session.get(StoredFile, stored_id)
    assert stored is not None
    assert storage.read_bytes(stored) == b"trainee work"
    assert storage.verify(stored)


def test_delete_after_commit_tolerates_a_missing_file(app, db, storage_root):
    stored = storage.save(b"x", "x.txt", "text/plain")
    commit()
    stored_id = stored.id
    LocalBackend(app.config).delete(stored.key)

    storage.delete(stored)
    commit()

    assert db.session.get(StoredFile, stored_id) is None


@pytest.mark.parametrize(
    ("size", "expected"), [(0, "0 bytes"), (100, "100 bytes"), (1536, "1.5 KB"), (20 * 1024 * 1024, "20 MB")]
)
def test_format_size(size, expected):
    assert storage.format_size(size) == expected
