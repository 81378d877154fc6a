"""The worksheet's files: writing CSV and XLSX, and reading an uploaded one back as lines of cells.

Both formats hold the same columns. CSV is UTF-8 with a byte-order mark (so that Excel reads
it as UTF-8), RFC 4180, every cell through :func:`lms.csv.csv_safe`; reading undoes the guard.
In XLSX, text is written as typed text cells, so a spreadsheet never runs it as a formula.
An upload is bounded (size, rows, columns, how far an XLSX zip may expand) and anything but
CSV or XLSX is refused with a message saying what to upload instead.
"""

from __future__ import annotations

import csv
import enum
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from lms.csv import FORMULA_PREFIXES, csv_lines
from lms.errors import InvalidInput

#: Largest worksheet file accepted, and most rows of submissions it may hold.
MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 5_000
#: Most records read, empty ones included, before a file is refused as too long.
MAX_RECORDS = 2 * MAX_ROWS + 1_000
#: Columns read from an XLSX sheet; anything to the right is ignored.
MAX_COLUMNS = 100
#: An XLSX file (a zip) may expand to at most this much, in at most this many parts.
MAX_EXPANDED = 200 * 1024 * 1024
MAX_PARTS = 1_000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The name of the sheet in the workbook (an upload is read from it, or else from the first sheet).
SHEET_TITLE = "Worksheet"


class Format(enum.StrEnum):
    """The file formats of the worksheet."""

    CSV = "csv"
    XLSX = "xlsx"

    @property
    def content_type(self) -> str:
        """The MIME type the download is sent as."""
        return "text/csv; charset=utf-8" if self is Format.CSV else XLSX_TYPE


@dataclass
class Sheet:
    """A worksheet ready to write: its header, its rows, and what each score column takes."""

    header: list[str]
    rows: list[list[object]]
    #: Score column header -> the point values a cell may hold (for the XLSX drop-downs).
    choices: dict[str, list[int]] = field(default_factory=dict)
    #: Score column header -> the most a plain mark may be (a "points" scheme).
    maxima: dict[str, int] = field(default_factory=dict)
    #: Columns of long text (shown wide), and columns that take yes or no.
    wide: frozenset[str] = frozenset()
    yes_no: frozenset[str] = frozenset()


def csv_text(sheet: Sheet) -> Iterator[str]:
    """The worksheet as CSV: UTF-8 with a byte-order mark, RFC 4180, every cell formula-guarded."""
    yield "\ufeff"
    yield from csv_lines([sheet.header, *sheet.rows])


def xlsx_bytes(sheet: Sheet) -> bytes:
    """The worksheet as an Excel workbook: the same columns, text never read as a formula."""
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = SHEET_TITLE
    for row_number, row in enumerate([sheet.header, *sheet.rows], start=1):
        for column_number, value in enumerate(row, start=1):
            cell = worksheet.cell(row_number, column_number, value)
            if isinstance(value, str):
                # A typed string cell, never a formula; quotePrefix keeps it text when edited.
                cell.data_type = "s"
                cell.quotePrefix = value.startswith(FORMULA_PREFIXES)
    for cell in worksheet[1]:
        cell.font = Font(bold=True)
    worksheet.freeze_panes = "A2"
    last = len(sheet.rows) + 1
    for column_number, name in enumerate(sheet.header, start=1):
        letter = get_column_letter(column_number)
        worksheet.column_dimensions[letter].width = 50 if name in sheet.wide else max(12, len(name) + 2)
        if last < 2:
            continue
        validation = None
        if name in sheet.choices:
            allowed = ",".join(str(p) for p in sheet.choices[name])
            validation = DataValidation(type="list", formula1=f'"{allowed}"', allow_blank=True)
            validation.error = f"Choose the points of one of the levels: {allowed}."
        elif name in sheet.maxima:
            validation = DataValidation(
                type="whole",
                operator="between",
                formula1="0",
                formula2=str(sheet.maxima[name]),
                allow_blank=True,
            )
            validation.error = f"A whole number from 0 to {sheet.maxima[name]}."
        elif name in sheet.yes_no:
            validation = DataValidation(type="list", formula1='"yes,no"', allow_blank=True)
            validation.error = "yes or no."
        if validation is not None:
            validation.showErrorMessage = True
            worksheet.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{last}")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- reading an upload --------------------------------------------------------------------


def _file_error(message: str) -> InvalidInput:
    return InvalidInput.for_field("file", message)


def read_table(data: bytes, name: str | None) -> list[tuple[int, list[str]]]:
    """``(line, cells)`` for every line of an uploaded CSV or XLSX worksheet, header first.

    :raises InvalidInput: on field ``file``: empty, too large, too many rows, not a CSV or
        XLSX file, not UTF-8, or unreadable.
    """
    name = (name or "").strip()
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if not data:
        raise _file_error("The file is empty.")
    if len(data) > MAX_BYTES:
        raise _file_error(f"The file is larger than the limit of {MAX_BYTES // (1024 * 1024)} MB.")
    is_zip = data.startswith(b"PK\x03\x04")
    if extension == "xls":
        raise _file_error("Old Excel (.xls) files cannot be read: save the sheet as .xlsx or as “CSV UTF-8”.")
    if extension == "xlsx" or (is_zip and extension not in ("csv", "txt")):
        if not is_zip:
            raise _file_error(f"“{name}” is not an Excel workbook: it may have been renamed.")
        lines = _xlsx_lines(data)
    elif extension in ("csv", "txt", ""):
        if is_zip or b"\x00" in data:
            raise _file_error(
                f"“{name or 'The file'}” is not a CSV file: upload the .csv or .xlsx worksheet."
            )
        lines = _csv_lines(data)
    else:
        raise _file_error("Upload the worksheet as a .csv or .xlsx file.")
    table = []
    for count, (line, cells) in enumerate(lines, start=1):
        # Empty rows are skipped, but bounded too (a file of nothing but line breaks).
        if count > MAX_RECORDS:
            raise _file_error(f"The worksheet has more than {MAX_ROWS:,} rows.")
        if any(cell.strip() for cell in cells):
            table.append((line, cells))
            if len(table) > MAX_ROWS + 1:
                raise _file_error(f"The worksheet has more than {MAX_ROWS:,} rows.")
    if not table:
        raise _file_error("The file is empty.")
    return table


def _csv_lines(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _file_error(
            "The file is not UTF-8: save the sheet as “CSV UTF-8” and upload it again."
        ) from None
    first = text.split("\n", 1)[0]
    # Spreadsheets in some languages save "CSV" with semicolons; the header shows which.
    delimiter = "," if "," in first else ";" if ";" in first else "\t" if "\t" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    previous = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _file_error(f"Line {reader.line_num} cannot be read as CSV ({error}).") from None
        yield previous + 1, cells
        previous = reader.line_num


def _xlsx_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_lines(data: bytes) -> Iterator[tuple[int, list[str]]]:
    unreadable = _file_error("The file cannot be read as an Excel workbook: save it as .xlsx and try again.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_PARTS or sum(i.file_size for i in infos) > MAX_EXPANDED:
                raise _file_error("The workbook would expand far beyond its size: it is refused as unsafe.")
    except zipfile.BadZipFile:
        raise unreadable from None
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds of error on a damaged or foreign file
        raise unreadable from None
    try:
        names = workbook.sheetnames
        worksheet = workbook[SHEET_TITLE] if SHEET_TITLE in names else workbook[names[0]]
        rows = worksheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
        # Gaps between rows come back as empty rows, so the row's place is its line number.
        for number, row in enumerate(rows, start=1):
            yield number, [_xlsx_cell(v) for v in row]
    except InvalidInput:
        raise
    except Exception:
        raise unreadable from None
    finally:
        workbook.close()
