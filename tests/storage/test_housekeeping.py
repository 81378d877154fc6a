"""Storage housekeeping: deleting what nothing refers to, and the verify sweep, on both backends."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import func, select, update

from lms.database import utcnow
from lms.extensions import db as _db
from lms.storage import housekeeping
from lms.storage import services as storage
from lms.storage.backends import new_key
from lms.storage.models import StoredBlob, StoredFile
from tests.storage.test_storage import commit, local_files

DAYS = 7


@pytest.fixture
def now(app, monkeypatch):
    """The time the job runs, with ``STORAGE_ORPHAN_DAYS`` set to ``DAYS``."""
    monkeypatch.setitem(app.config, "STORAGE_ORPHAN_DAYS", DAYS)
    return utcnow()


def age(stored: StoredFile, days: float) -> StoredFile:
    """Make ``stored`` (its row and any local bytes) ``days`` old."""
    moment = utcnow() - dt.timedelta(days=days)
    stored.created_at = moment
    _db.session.flush()
    if stored.backend == "local":
        path = storage.get_backend("local").path(stored.key)
        os.utime(path, (moment.timestamp(), moment.timestamp()))
    return stored


def rows(db) -> set[str]:
    return set(db.session.scalars(select(StoredFile.filename)))


class TestCleanUp:
    def test_deletes_old_unreferenced_files_and_keeps_the_rest(
        self, db, now, backend, storage_root, make_course
    ):
        from lms.courses import content
        from lms.courses.models import Module

        course = make_course(modules=1)
        module = db.session.scalar(select(Module).where(Module.course_id == course.id))
        used = age(storage.save(b"handout", "handout.txt", "text/plain"), DAYS + 5)
        content.save_resource(module, title="Handout", stored_file=used)
        age(storage.save(b"a,b\n", "bulk-enrolment-problems-MPACT-1.csv", "text/csv"), DAYS + 1)
        age(storage.save(b"left", "never-attached.pdf", "application/pdf"), DAYS + 1)
        age(storage.save(b"new", "uploaded-today.pdf", "application/pdf"), DAYS - 1)
        commit()

        counts = housekeeping.clean_up(now)
        commit()  # the local bytes go once the deletion is committed
        assert counts["files_deleted"] == 2
        assert rows(db) == {"handout.txt", "uploaded-today.pdf"}
        if backend.name == "local":
            assert len(local_files(storage_root)) == 2
        else:
            assert db.session.scalar(select(func.count(func.distinct(StoredBlob.key)))) == 2
        assert housekeeping.clean_up(now)["files_deleted"] == 0

    def test_every_foreign_key_to_stored_files_protects_them(self, app):
        with app.app_context():
            referring = {
                f"{table.name}.{key.parent.name}"
                for table in _db.metadata.sorted_tables
                for key in table.foreign_keys
                if key.column.table.name == "stored_files"
            }
        assert "module_resources.stored_file_id" in referring

    def test_old_local_bytes_no_row_names_are_deleted(self, db, now, app, storage_root, monkeypatch):
        monkeypatch.setitem(app.config, "STORAGE_BACKEND", "local")
        backend = storage.get_backend("local")
        kept = age(storage.save(b"kept", "kept.txt", "text/plain"), DAYS - 1)
        doomed = age(storage.save(b"doomed", "unreferenced.txt", "text/plain"), DAYS + 1)
        commit()
        old_orphan, young_orphan = new_key(), new_key()
        backend.write(old_orphan, [b"crashed before its row was committed"])
        backend.write(young_orphan, [b"an upload in flight"])
        partial = backend.path(new_key()).with_name(".upload-abc.part")
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"half")
        stranger = storage_root / "README"  # not ours: never touched
        stranger.write_text("notes")
        old = (now - dt.timedelta(days=DAYS + 1)).timestamp()
        for path in (backend.path(old_orphan), partial):
            os.utime(path, (old, old))

        counts = housekeeping.clean_up(now)
        assert counts == {
            "files_deleted": 1,
            "orphan_bytes_deleted_local": 2,
            "orphan_bytes_deleted_database": 0,
        }
        # The deleted row's bytes wait for the commit: a rollback would need them.
        assert backend.exists(doomed.key)
        commit()
        assert not backend.exists(doomed.key)
        assert backend.exists(kept.key) and backend.exists(young_orphan)
        assert not backend.exists(old_orphan) and not partial.exists() and stranger.exists()

    def test_database_chunks_no_row_names_are_deleted(self, db, now, app, monkeypatch):
        monkeypatch.setitem(app.config, "STORAGE_BACKEND", "database")
        kept = storage.save(b"kept", "kept.txt", "text/plain")
        orphan = new_key()
        db.session.execute(StoredBlob.__table__.insert().values(key=orphan, chunk=0, data=b"lost"))
        commit()
        assert housekeeping.clean_up(now)["orphan_bytes_deleted_database"] == 1
        keys = set(db.session.scalars(select(StoredBlob.key)))
        assert keys == {kept.key}


class TestVerify:
    def test_finds_missing_and_changed_files(self, db, backend, storage_root):
        good = storage.save(b"good", "good.txt", "text/plain")
        changed = storage.save(b"before", "changed.txt", "text/plain")
        missing = storage.save(b"gone", "missing.txt", "text/plain")
        commit()
        if backend.name == "local":
            backend.path(changed.key).write_bytes(b"after!")
            backend.path(missing.key).unlink()
        else:
            db.session.execute(update(StoredBlob).where(StoredBlob.key == changed.key).values(data=b"after!"))
            db.session.execute(StoredBlob.__table__.delete().where(StoredBlob.key == missing.key))
        found = housekeeping.verify_all()
        assert found.checked == 3
        assert found.mismatched == [(changed.id, "changed.txt"), (missing.id, "missing.txt")]
        assert good.id not in dict(found.mismatched)

    def test_reads_the_rows_in_batches(self, db, backend, monkeypatch, count_queries):
        monkeypatch.setattr(housekeeping, "BATCH", 2)
        for n in range(5):
            storage.save(f"file {n}".encode(), f"f{n}.txt", "text/plain")
        commit()
        with count_queries() as counter:
            found = housekeeping.verify_all()
        assert found.checked == 5 and not found.mismatched
        pages = [s for s in counter.statements if "FROM stored_files" in s]
        assert len(pages) == 4  # 2 + 2 + 1 rows, then an empty page
