"""Where the bytes of stored files live: one class per backend, chosen by ``STORAGE_BACKEND``.

A backend only knows keys (random hex strings made by :func:`new_key`) and bytes. It
knows nothing of filenames, users or checksums; :mod:`lms.storage.services` does that.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO, ClassVar

from flask import current_app, request
from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.orm import Session, scoped_session
from werkzeug.wsgi import wrap_file

from lms.config import ConfigurationError
from lms.extensions import db
from lms.storage.models import StoredBlob, StoredFile

#: Bytes read or written at a time when streaming.
CHUNK_SIZE = 64 * 1024
#: Files looked up in one query when looking for orphans.
ORPHAN_BATCH = 500

_KEY = re.compile(r"[0-9a-f]{32}")


def new_key() -> str:
    """A new random key: 32 lowercase hex characters (128 bits)."""
    return secrets.token_hex(16)


def check_key(key: str) -> str:
    """Return ``key`` if it is one that :func:`new_key` could have made; refuse anything else."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class StorageBackend:
    """The interface of a backend. Subclasses set ``name`` and implement the methods."""

    #: The value of ``STORAGE_BACKEND`` (and of ``StoredFile.backend``) that selects it.
    name: ClassVar[str]
    #: True when :meth:`delete` happens inside the database transaction (and so rolls back
    #: with it); false when it is physical and must wait until the transaction commits.
    is_transactional: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, object]):
        self.config = config

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        """Store the bytes of ``chunks`` under ``key``; store nothing if ``chunks`` raises."""
        raise NotImplementedError

    def open(self, key: str) -> BinaryIO:
        """Open the bytes of ``key`` for reading; :class:`FileNotFoundError` if there are none."""
        raise NotImplementedError

    def stream(self, key: str) -> Iterable[bytes]:
        """The bytes of ``key`` as a WSGI response body, read lazily during the request."""
        return wrap_file(request.environ, self.open(key), CHUNK_SIZE)

    def delete(self, key: str) -> None:
        """Remove the bytes of ``key``; nothing happens if there are none."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        """Whether bytes are stored under ``key``."""
        raise NotImplementedError

    def delete_orphans(self, before: dt.datetime, skip: frozenset[str] = frozenset()) -> int:
        """Delete bytes that no stored-file row names, if written before ``before``; return how many.

        ``skip``: keys whose rows this transaction deleted; their bytes go once it commits.
        """
        raise NotImplementedError


class LocalBackend(StorageBackend):
    """Files in a folder (``STORAGE_PATH``), sharded as ``ab/cd/abcd...`` by key prefix."""

    name = "local"

    def __init__(self, config: Mapping[str, object]):
        super().__init__(config)
        if not config.get("STORAGE_PATH"):
            raise ConfigurationError("STORAGE_PATH must name a folder for the local storage backend")
        self.root = Path(str(config["STORAGE_PATH"]))

    def path(self, key: str) -> Path:
        """Where the bytes of ``key`` are; only a checked key ever becomes part of a path."""
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        """Write to a temporary file beside the final one, sync it, then rename it into place."""
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=final.parent, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            # Atomic on one filesystem: readers see the whole file or none of it.
            os.replace(temporary, final)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _sync_folder(final.parent)

    def open(self, key: str) -> BinaryIO:
        """Open the file for reading in binary."""
        return self.path(key).open("rb")

    def delete(self, key: str) -> None:
        """Unlink the file."""
        with suppress(FileNotFoundError):
            self.path(key).unlink()

    def exists(self, key: str) -> bool:
        """Whether the file is there."""
        return self.path(key).is_file()

    def delete_orphans(self, before: dt.datetime, skip: frozenset[str] = frozenset()) -> int:
        """Delete files older than ``before`` that no stored-file row names; return how many.

        Bytes are written before their row is committed, so a young file may be an upload
        in flight: only files older than ``before`` are looked at. Temporary files of writes
        that never finished (``.upload-*.part``) go too.
        """
        cutoff = before.timestamp()
        removed, batch = 0, []
        for path in self.root.glob("??/??/*") if self.root.is_dir() else ():
            try:
                if not path.is_file() or path.stat().st_mtime >= cutoff:
                    continue
            except FileNotFoundError:
                continue
            if path.name.startswith(".upload-"):
                path.unlink(missing_ok=True)
                removed += 1
            elif _KEY.fullmatch(path.name) and path == self.path(path.name) and path.name not in skip:
                batch.append(path)
                if len(batch) == ORPHAN_BATCH:
                    removed += _delete_unnamed(batch)
                    batch = []
        return removed + _delete_unnamed(batch)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


class DatabaseBackend(StorageBackend):
    """The bytes in the ``stored_blobs`` table, in chunks, for hosts sharing one database."""

    name = "database"
    is_transactional = True
    #: Bytes per row: large enough to keep the row count low, small enough to stream.
    blob_size = 1024 * 1024

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        """Insert the chunks inside a savepoint, so that a refusal mid-stream leaves no rows."""
        check_key(key)
        with db.session.begin_nested():
            position = 0
            buffer = bytearray()
            for chunk in chunks:
                buffer += chunk
                while len(buffer) >= self.blob_size:
                    self._insert(key, position, bytes(buffer[: self.blob_size]))
                    del buffer[: self.blob_size]
                    position += 1
            if buffer or position == 0:
                self._insert(key, position, bytes(buffer))

    def _insert(self, key: str, position: int, data: bytes) -> None:
        db.session.execute(StoredBlob.__table__.insert().values(key=key, chunk=position, data=data))

    def _count(self, key: str) -> int:
        """How many chunks are stored under ``key``; :class:`FileNotFoundError` if none."""
        check_key(key)
        count = db.session.scalar(select(func.count()).where(StoredBlob.key == key)) or 0
        if not count:
            raise FileNotFoundError(key)
        return count

    @staticmethod
    def _fetch(session: Session | scoped_session, key: str, count: int) -> Iterator[bytes]:
        """Yield the chunks in order, one query each, so that only one is in memory."""
        for position in range(count):
            data = session.scalar(
                select(StoredBlob.data).where(StoredBlob.key == key, StoredBlob.chunk == position)
            )
            if data is None:
                raise FileNotFoundError(f"{key} chunk {position}")
            yield bytes(data)

    def open(self, key: str) -> BinaryIO:
        """A buffered reader over the chunks, read with the current session as it is read."""
        count = self._count(key)
        return io.BufferedReader(_ChunkReader(self._fetch(db.session, key, count)), CHUNK_SIZE)

    def stream(self, key: str) -> Iterable[bytes]:
        """The chunks, read through a session of their own while the response streams.

        The request's session is closed as soon as the view returns, before the server
        iterates the body, so the body cannot use it.
        """
        count = self._count(key)
        return self._stream(db.session.get_bind(mapper=StoredBlob), key, count)

    def _stream(self, bind: Engine | Connection, key: str, count: int) -> Iterator[bytes]:
        with Session(bind) as session:
            yield from self._fetch(session, key, count)

    def delete(self, key: str) -> None:
        """Delete the rows in the current transaction."""
        check_key(key)
        db.session.execute(delete(StoredBlob).where(StoredBlob.key == key))

    def exists(self, key: str) -> bool:
        """Whether any chunk is stored."""
        check_key(key)
        return db.session.scalar(select(StoredBlob.chunk).where(StoredBlob.key == key).limit(1)) is not None

    def delete_orphans(self, before: dt.datetime, skip: frozenset[str] = frozenset()) -> int:
        """Delete the chunks of keys that no stored-file row names; return how many chunks.

        Chunks commit in the transaction that adds their row, so committed chunks without a
        row are never an upload in flight, whatever their age (``before`` is not needed).
        """
        named = select(StoredFile.key).where(StoredFile.key == StoredBlob.key)
        return db.session.execute(delete(StoredBlob).where(~named.exists())).rowcount


def _delete_unnamed(paths: list[Path]) -> int:
    """Unlink the files among ``paths`` whose key no stored-file row names (one query)."""
    if not paths:
        return 0
    named = set(db.session.scalars(select(StoredFile.key).where(StoredFile.key.in_([p.name for p in paths]))))
    removed = 0
    for path in paths:
        if path.name not in named:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


class _ChunkReader(io.RawIOBase):
    """A read-only raw file over an iterator of byte strings."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


#: Every backend by name. A new backend (S3, say) is one more class in this tuple.
BACKENDS: dict[str, type[StorageBackend]] = {cls.name: cls for cls in (LocalBackend, DatabaseBackend)}


def get_backend(name: str | None = None) -> StorageBackend:
    """The backend called ``name``, or the configured ``STORAGE_BACKEND`` when ``name`` is None."""
    config = current_app.config
    name = name or str(config["STORAGE_BACKEND"])
    try:
        backend_class = BACKENDS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown storage backend {name!r}; expected one of {', '.join(sorted(BACKENDS))}"
        ) from None
    return backend_class(config)
