"""Stored files: one row of metadata per file, and the bytes of the database backend."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.database import UTCDateTime, utcnow
from lms.extensions import db


class StoredFile(db.Model):
    """One stored file: where its bytes are and what they are. The bytes never change."""

    __tablename__ = "stored_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Random name of the bytes in their backend; never derived from anything a user sent.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    #: The uploader's name for the file, sanitised; shown and offered on download, never a path.
    filename: Mapped[str] = mapped_column(String(255))
    #: The declared media type, normalised; not trusted to render inline (see ``services.send``).
    content_type: Mapped[str] = mapped_column(String(255))
    #: Length in bytes.
    size: Mapped[int] = mapped_column(BigInteger)
    #: SHA-256 of the bytes, lowercase hex; also the download's ETag.
    checksum: Mapped[str] = mapped_column(String(64))
    #: Name of the backend holding the bytes (``local``, ``database``); the file is always
    #: read back through this one, whatever ``STORAGE_BACKEND`` says today.
    backend: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)

    #: By name: storage sits below accounts, so it does not import the ``User`` model.
    created_by = relationship("User")

    def __repr__(self) -> str:
        return f"<StoredFile {self.id} {self.key} {self.filename!r}>"


class StoredBlob(db.Model):
    """One chunk of the bytes of a file kept by the ``database`` backend."""

    __tablename__ = "stored_blobs"

    #: The :attr:`StoredFile.key` of the file. Not a foreign key: the bytes are written
    #: before the metadata row exists, and the service deletes both in one transaction.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Position of the chunk in the file, from 0.
    chunk: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
