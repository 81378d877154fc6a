"""The one check on text from outside: refuse characters the database cannot store.

PostgreSQL refuses NUL in text outright and SQLite would store it; a lone surrogate (half
of a UTF-16 pair, which JSON can spell with a backslash-u escape) cannot be encoded as UTF-8 at all.
Forms (:class:`lms.forms.BaseForm`), CSV uploads (:mod:`lms.courses.bulk`) and the API's input
schemas (:mod:`lms.api.schemas`) all ask :func:`text_problem`, so the rule is written once.
"""

from __future__ import annotations

import re

#: A problem with a value, as shown next to its field (after the field's name in a CSV row).
NUL_PROBLEM = "contains a character that cannot be stored (NUL)"
SURROGATE_PROBLEM = "contains an invalid character (a lone surrogate)"

_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: object) -> str | None:
    """Why ``value`` cannot be stored as text, or ``None`` when it can (or is not a string)."""
    if not isinstance(value, str):
        return None
    if "\x00" in value:
        return NUL_PROBLEM
    if _SURROGATE.search(value):
        return SURROGATE_PROBLEM
    return None


def message_for(value: object) -> str | None:
    """:func:`text_problem` as a sentence for a field's error list ("Contains ...")."""
    problem = text_problem(value)
    return f"{problem[0].upper()}{problem[1:]}." if problem else None
