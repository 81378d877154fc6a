"""Storage housekeeping, run by the scheduler: deleting what nothing uses, checking what is kept.

- :func:`clean_up` deletes stored files that no row of any table refers to, once they are
  older than ``STORAGE_ORPHAN_DAYS``: uploads whose form was never saved, files replaced
  since, and the problem reports of bulk enrolment (downloaded by id, referred to by
  nothing, so the same rule takes them). Then the bytes in each backend that no stored
  file names (left by a crash between writing them and committing their row).
- :func:`verify_all` re-reads every stored file and compares it with its recorded size and
  SHA-256; the scheduled job that calls it tells the administrators what it found.

A reference is any foreign key to ``stored_files`` in the metadata, so a later area's table
(an assignment's submitted files, say) protects its files without telling this module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import and_, select, true

from lms.config import ConfigurationError
from lms.extensions import db
from lms.storage import services
from lms.storage.backends import BACKENDS
from lms.storage.models import StoredFile

#: Files deleted, or verified, per query.
BATCH = 200
#: At most this many files deleted in one run; the next run carries on.
MAX_DELETED_PER_RUN = 10_000


def _unreferenced():
    """A condition true of stored files that no foreign key in the metadata refers to."""
    table = StoredFile.__table__
    conditions = []
    for other in db.metadata.sorted_tables:
        for key in other.foreign_keys:
            if key.column.table is table:
                conditions.append(~select(key.parent).where(key.parent == key.column).exists())
    return and_(true(), *conditions)


def clean_up(now: dt.datetime) -> dict[str, int]:
    """Delete the unreferenced stored files older than ``STORAGE_ORPHAN_DAYS``, then orphan bytes."""
    before = now - dt.timedelta(days=int(current_app.config["STORAGE_ORPHAN_DAYS"]))
    deleted: set[str] = set()
    unreferenced = (
        select(StoredFile)
        .where(StoredFile.created_at < before, _unreferenced())
        .order_by(StoredFile.id)
        .limit(BATCH)
    )
    while len(deleted) < MAX_DELETED_PER_RUN and (batch := db.session.scalars(unreferenced).all()):
        for stored in batch:
            deleted.add(stored.key)
            # The bytes go after the commit (local files) or with it (database chunks).
            services.delete(stored)
    counts = {"files_deleted": len(deleted)}
    for name, backend_class in BACKENDS.items():
        try:
            backend = backend_class(current_app.config)
        except ConfigurationError:
            continue  # not set up here (a local backend without STORAGE_PATH)
        # Not the bytes of the rows just deleted: they must stay if this transaction fails.
        counts[f"orphan_bytes_deleted_{name}"] = backend.delete_orphans(before, frozenset(deleted))
    return counts


@dataclass
class Verification:
    """What a verify sweep found."""

    checked: int = 0
    #: The files whose bytes are missing or differ from their checksum: ``(id, filename)``.
    mismatched: list[tuple[int, str]] = field(default_factory=list)


def verify_all() -> Verification:
    """Check every stored file against its size and SHA-256, a batch of rows at a time.

    Reading is streamed (see :func:`lms.storage.services.verify`), so memory stays flat
    whatever the size of the files or their number.
    """
    result = Verification()
    last_id = 0
    while batch := db.session.scalars(
        select(StoredFile).where(StoredFile.id > last_id).order_by(StoredFile.id).limit(BATCH)
    ).all():
        for stored in batch:
            if not services.verify(stored):
                current_app.logger.warning("stored file %s (%s) fails its check", stored.id, stored.key)
                result.mismatched.append((stored.id, stored.filename))
        result.checked += len(batch)
        last_id = batch[-1].id
    return result
