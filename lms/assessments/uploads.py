"""Checking uploaded work before it is stored: size, extension and content (magic bytes).

The content is identified with puremagic (see docs/decisions.md); zip-based documents and
archives are opened to check their structure and refused when they would expand far beyond
their size (a zip bomb). Nothing here trusts the browser's declared type.
"""

from __future__ import annotations

import codecs
import tempfile
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

import puremagic

from lms.errors import InvalidInput
from lms.storage.backends import CHUNK_SIZE
from lms.storage.services import format_size, safe_filename


@dataclass(frozen=True)
class FileType:
    """A type of file an assignment may accept."""

    label: str
    content_type: str
    #: Extensions puremagic may report for this content (any of them will do).
    magic: tuple[str, ...] = ()
    #: A zip container: opened and checked for a zip bomb and for this member.
    zip_member: str | None = None
    #: Plain text: must be UTF-8 without NUL bytes.
    is_text: bool = False


FILE_TYPES: dict[str, FileType] = {
    "pdf": FileType("PDF", "application/pdf", (".pdf",)),
    "docx": FileType(
        "Word document",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (".docx", ".zip", ".pptx", ".xlsx"),
        zip_member="word/document.xml",
    ),
    "doc": FileType("Word 97-2003 document", "application/msword", (".doc", ".xls", ".ppt", ".msg", ".msi")),
    "odt": FileType(
        "OpenDocument text",
        "application/vnd.oasis.opendocument.text",
        (".odt", ".zip", ".ods", ".odp", ".docx"),
        zip_member="content.xml",
    ),
    "rtf": FileType("Rich text", "application/rtf", (".rtf",)),
    "txt": FileType("Plain text", "text/plain", is_text=True),
    "jpg": FileType("JPEG image", "image/jpeg", (".jpg", ".jpeg", ".jfif", ".jpe")),
    "jpeg": FileType("JPEG image", "image/jpeg", (".jpg", ".jpeg", ".jfif", ".jpe")),
    "png": FileType("PNG image", "image/png", (".png",)),
    "zip": FileType(
        "Zip archive", "application/zip", (".zip", ".docx", ".xlsx", ".pptx", ".odt", ".jar"), zip_member=""
    ),
}

#: How much of the start of a file is read to identify it.
HEAD_SIZE = 64 * 1024
#: A zip whose members would expand to more than this many times its size is refused.
MAX_ZIP_RATIO = 100
#: And one that expands past this in total, or has more members than ``MAX_ZIP_MEMBERS``.
MAX_ZIP_EXPANDED = 200 * 1024 * 1024
MAX_ZIP_MEMBERS = 1000


@dataclass
class CheckedUpload:
    """An upload that passed every check, spooled and rewound, ready for ``storage.save``."""

    stream: BinaryIO
    filename: str
    content_type: str
    size: int


def check_upload(source, filename: str | None, allowed: list[str], max_size: int) -> CheckedUpload:
    """Read ``source`` (a binary stream) and check it against an assignment's rules.

    :raises InvalidInput: on field ``file``: no name, a type not allowed, empty, too large,
        content that does not match the extension, unreadable text, or a suspicious archive.
    """
    name = safe_filename(filename, default="")
    if not name:
        raise InvalidInput.for_field("file", "Choose a file to upload.")
    stem, dot, extension = name.rpartition(".")
    extension = extension.lower() if dot and stem else ""
    if extension not in allowed:
        kinds = ", ".join(f".{e}" for e in allowed) or "none"
        raise InvalidInput.for_field("file", f"“{name}” is not a type this assignment accepts ({kinds}).")
    file_type = FILE_TYPES[extension]
    spooled, size = _spool(source, max_size, name)
    try:
        spooled.seek(0)
        head = spooled.read(HEAD_SIZE)
        _check_content(spooled, head, name, extension, file_type, size)
    except Exception:
        spooled.close()
        raise
    spooled.seek(0)
    return CheckedUpload(spooled, name, file_type.content_type, size)


def _spool(source, max_size: int, name: str) -> tuple[BinaryIO, int]:
    spooled = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115  (returned open)
    size = 0
    while chunk := source.read(CHUNK_SIZE):
        if not isinstance(chunk, bytes | bytearray):
            spooled.close()
            raise TypeError("uploads are read as bytes")
        size += len(chunk)
        if size > max_size:
            spooled.close()
            raise InvalidInput.for_field(
                "file", f"“{name}” is larger than the limit of {format_size(max_size)}."
            )
        spooled.write(chunk)
    if size == 0:
        spooled.close()
        raise InvalidInput.for_field("file", f"“{name}” is empty.")
    return spooled, size


def _check_content(spooled, head: bytes, name: str, extension: str, file_type: FileType, size: int) -> None:
    mismatch = InvalidInput.for_field(
        "file", f"“{name}” does not contain what a .{extension} file should: it may have been renamed."
    )
    if file_type.is_text:
        if b"\x00" in head or _looks_binary(spooled):
            raise mismatch
        return
    found = _identify(head, name)
    if not found & set(file_type.magic):
        raise mismatch
    if file_type.zip_member is not None:
        _check_zip(spooled, name, size, file_type.zip_member, mismatch)


def _identify(head: bytes, name: str) -> set[str]:
    try:
        matches = puremagic.magic_string(head, filename=name)
    except (puremagic.PureError, ValueError):
        return set()
    return {match.extension.lower() for match in matches}


def _looks_binary(spooled) -> bool:
    """Whether a supposed text file holds NUL bytes or is not UTF-8."""
    spooled.seek(0)
    incremental = codecs.getincrementaldecoder("utf-8")()
    while chunk := spooled.read(CHUNK_SIZE):
        if b"\x00" in chunk:
            return True
        try:
            incremental.decode(chunk)
        except UnicodeDecodeError:
            return True
    try:
        incremental.decode(b"", final=True)
    except UnicodeDecodeError:
        return True
    return False


def _check_zip(spooled, name: str, size: int, member: str, mismatch: InvalidInput) -> None:
    spooled.seek(0)
    try:
        with zipfile.ZipFile(spooled) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise InvalidInput.for_field("file", f"“{name}” holds too many files ({len(infos)}).")
            expanded = sum(info.file_size for info in infos)
            if expanded > MAX_ZIP_EXPANDED or expanded > MAX_ZIP_RATIO * max(size, 1):
                raise InvalidInput.for_field(
                    "file", f"“{name}” would expand to {format_size(expanded)}: it is refused as unsafe."
                )
            names = {info.filename for info in infos}
            if member and member not in names:
                raise mismatch
            if any(n.startswith("/") or ".." in n.split("/") for n in names):
                raise InvalidInput.for_field("file", f"“{name}” holds files with unsafe paths.")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError):
        raise mismatch from None
