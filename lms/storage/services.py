"""The file-storage service: save, read, send, verify and delete stored files.

Every area (submissions, feedback, hub resources, certificates, module resources) keeps
its files through these functions and holds a foreign key to :class:`StoredFile`.
Functions flush and never commit; the request or job that calls them commits.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import re
import unicodedata
from collections.abc import Iterator
from typing import BinaryIO, Protocol
from urllib.parse import quote

from flask import Response, current_app, request

from lms.errors import InvalidInput
from lms.extensions import db
from lms.storage.backends import CHUNK_SIZE, get_backend, new_key
from lms.storage.models import StoredFile
from lms.transactions import after_commit

#: Longest filename kept, in characters (the column's length).
MAX_FILENAME_LENGTH = 255
#: The type given to bytes whose type is unknown or not safe to declare.
OCTET_STREAM = "application/octet-stream"
#: Types a browser may show inside a page when asked to: none of them runs script.
#: Anything else is always sent as an attachment.
INLINE_TYPES = frozenset(
    {
        "application/pdf",
        "audio/mpeg",
        "audio/ogg",
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/webp",
        "text/plain",
        "video/mp4",
        "video/webm",
    }
)
#: Types that run script when a browser opens them (with every ``+xml`` type): served as
#: opaque bytes, whatever was declared on upload.
ACTIVE_TYPES = frozenset(
    {
        "application/ecmascript",
        "application/javascript",
        "application/x-shockwave-flash",
        "application/xml",
        "multipart/x-mixed-replace",
        "text/ecmascript",
        "text/html",
        "text/javascript",
        "text/xml",
        "text/xsl",
    }
)
#: Policy for a served file: no scripts, no loads, a unique origin if it is ever rendered.
FILE_CONTENT_SECURITY_POLICY = "default-src 'none'; sandbox"

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_SEPARATORS = re.compile(r"[/\\]")
_WINDOWS_UNSAFE = re.compile(r'[<>:"|?*]')
_WHITESPACE = re.compile(r"\s+")
_FALLBACK_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\%]')


class Readable(Protocol):
    """Anything with a binary ``read``: an open file, ``io.BytesIO``, werkzeug's ``FileStorage``."""

    def read(self, size: int = -1, /) -> bytes:
        """Read up to ``size`` bytes."""
        ...


def save(
    source: bytes | Readable,
    filename: str | None,
    content_type: str | None,
    actor=None,
    max_size: int | None = None,
) -> StoredFile:
    """Store the bytes of ``source`` under a new random key; return the flushed :class:`StoredFile`.

    ``source`` is read in chunks while being hashed, so a large upload is never held in
    memory. ``filename`` and ``content_type`` are kept only as sanitised metadata.

    :raises InvalidInput: on field ``file`` when the file is empty or larger than ``max_size``.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray | memoryview) else source
    first = _read_chunk(stream)
    if not first:
        raise InvalidInput.for_field("file", "The file is empty.")

    digest = hashlib.sha256()
    size = 0

    def hashed_chunks() -> Iterator[bytes]:
        nonlocal size
        chunk = first
        while chunk:
            size += len(chunk)
            if max_size is not None and size > max_size:
                raise InvalidInput.for_field(
                    "file", f"The file is larger than the limit of {format_size(max_size)}."
                )
            digest.update(chunk)
            yield chunk
            chunk = _read_chunk(stream)

    backend = get_backend()
    key = new_key()
    backend.write(key, hashed_chunks())
    # If the transaction rolls back from here on, a local file is left without a row: an
    # orphan, harmless and never served. The reverse (a row without bytes) cannot happen.
    clean_name = safe_filename(filename)
    stored = StoredFile(
        key=key,
        filename=clean_name,
        content_type=normalise_content_type(content_type, clean_name),
        size=size,
        checksum=digest.hexdigest(),
        backend=backend.name,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(stored)
    db.session.flush()
    return stored


def _read_chunk(stream: Readable) -> bytes:
    """Read the next chunk; refuse text streams, whose bytes would depend on an encoding."""
    chunk = stream.read(CHUNK_SIZE)
    if not isinstance(chunk, bytes | bytearray):
        raise TypeError("storage needs a binary stream or bytes")
    return bytes(chunk)


def open_file(stored: StoredFile) -> BinaryIO:
    """Open the bytes of ``stored`` for reading in chunks; use it in a ``with`` block.

    :raises FileNotFoundError: when the backend has no bytes for the file.
    """
    return get_backend(stored.backend).open(stored.key)


def read_bytes(stored: StoredFile) -> bytes:
    """The whole content of ``stored``, in memory: for small files only (use ``open_file``)."""
    with open_file(stored) as handle:
        return handle.read()


def send(stored: StoredFile, as_attachment: bool = True) -> Response:
    """A response streaming ``stored`` to the browser, with headers that keep it inert.

    ``as_attachment=False`` asks for the file to be shown in the page; it is honoured only
    for :data:`INLINE_TYPES`. HTML, SVG, XML and script are sent as downloads of
    ``application/octet-stream``. The checksum is the ETag, so a cached copy costs a 304.

    :raises FileNotFoundError: when the backend has no bytes for the file.
    """
    content_type, is_attachment = served_type(stored.content_type, as_attachment)
    response_class = current_app.response_class
    if request.if_none_match.contains_weak(stored.checksum):
        response = response_class(status=304)
        del response.headers["Content-Type"]
    else:
        body = get_backend(stored.backend).stream(stored.key)
        response = response_class(body, content_type=content_type, direct_passthrough=True)
        response.content_length = stored.size
        response.headers["Content-Disposition"] = content_disposition(stored.filename, is_attachment)
    response.set_etag(stored.checksum)
    response.last_modified = stored.created_at
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Chrome's PDF viewer does not start in a sandboxed document; PDFs keep the site policy.
    if content_type != "application/pdf":
        response.headers["Content-Security-Policy"] = FILE_CONTENT_SECURITY_POLICY
    return response


def served_type(content_type: str, as_attachment: bool = True) -> tuple[str, bool]:
    """The ``Content-Type`` to send for a stored type, and whether it must be an attachment."""
    if is_active_type(content_type):
        return OCTET_STREAM, True
    return content_type, as_attachment or content_type not in INLINE_TYPES


def is_active_type(content_type: str) -> bool:
    """Whether a browser would run script in a document of this type (HTML, SVG, XML, JS)."""
    mimetype = content_type.split(";", 1)[0].strip().lower()
    return mimetype in ACTIVE_TYPES or mimetype.endswith("+xml")


def delete(stored: StoredFile) -> None:
    """Delete the row now and the bytes only once that deletion has committed.

    A local file is removed after the commit (so a rollback keeps it); database chunks are
    deleted in the same transaction as the row (so a rollback restores both).
    """
    backend = get_backend(stored.backend)
    key = stored.key
    db.session.delete(stored)
    db.session.flush()
    if backend.is_transactional:
        backend.delete(key)
        return

    def remove_bytes() -> None:
        try:
            backend.delete(key)
        except OSError as error:
            # The row is gone; what is left is an orphan, harmless and never served.
            current_app.logger.warning("stored file %s not removed: %s", key, error)

    after_commit(remove_bytes)


def verify(stored: StoredFile) -> bool:
    """Whether the stored bytes are all there and still have the recorded size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open_file(stored) as handle:
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return False
    return size == stored.size and digest.hexdigest() == stored.checksum


def safe_filename(name: str | None, default: str = "file") -> str:
    """A display name made from a user-supplied filename: its last component, printable, short.

    Control and format characters (NUL, newlines, right-to-left overrides) are dropped,
    path separators cut everything before them, and characters Windows refuses become
    ``_``. The result is still never used as a path.
    """
    if not name:
        return default
    text = unicodedata.normalize("NFC", str(name))
    text = "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace() or not unicodedata.category(char).startswith("C")
    )
    text = _SEPARATORS.split(text)[-1]
    text = _WINDOWS_UNSAFE.sub("_", text)
    text = _WHITESPACE.sub(" ", text).strip(" .")
    if not text:
        return default
    if len(text) > MAX_FILENAME_LENGTH:
        stem, dot, extension = text.rpartition(".")
        if dot and stem and len(extension) <= 16:
            text = f"{stem[: MAX_FILENAME_LENGTH - len(extension) - 1].rstrip(' .')}.{extension}"
        else:
            text = text[:MAX_FILENAME_LENGTH]
    return text


def normalise_content_type(content_type: str | None, filename: str | None = None) -> str:
    """The bare, lower-case media type; guessed from ``filename`` when missing or generic."""
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if (not mimetype or mimetype == OCTET_STREAM) and filename:
        mimetype = mimetypes.guess_type(filename, strict=False)[0] or OCTET_STREAM
    return mimetype if _MEDIA_TYPE.match(mimetype) else OCTET_STREAM


def content_disposition(filename: str, as_attachment: bool = True) -> str:
    """A ``Content-Disposition`` value: an ASCII ``filename`` and, if needed, an RFC 5987 ``filename*``."""
    name = safe_filename(filename)
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = _FALLBACK_UNSAFE.sub("_", fallback).strip()
    if not fallback.strip("._ "):
        fallback = "file"
    elif fallback.startswith("."):
        fallback = f"file{fallback}"
    value = f'{"attachment" if as_attachment else "inline"}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='!#$&+-.^_`|~')}"
    return value


def format_size(size: int) -> str:
    """A size in bytes for people: ``512 bytes``, ``1.5 KB``, ``20 MB``."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"
