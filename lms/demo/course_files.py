"""The demo courses as their writers keep them, under ``lms/demo/content/``.

``content/courses.toml`` lists the course folders in the order seed-demo creates them. Each
folder under ``content/courses/`` holds a ``course.toml`` (the course, its credit rule,
cohorts and modules with their knowledge checks) and one Markdown file per module, whose text
becomes the module's content exactly as written. A mistake in a file raises
:class:`ContentError` naming the file and the place in it. See docs/generate.md.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

from lms.courses.content import QuestionInput
from lms.courses.models import DeliveryFormat

#: Where the demo content lives.
CONTENT = Path(__file__).resolve().parent / "content"

_REQUIRED = object()
_KIND_NAMES = {str: "text", int: "a whole number", bool: "true or false", list: "a list", dict: "a table"}


class ContentError(ValueError):
    """A demo content file is missing or says something the seeder cannot use."""


@dataclass(frozen=True)
class DemoModule:
    """A module of a demo course, with its text, links and knowledge check, if any."""

    title: str
    minutes: int
    content: str
    questions: tuple[QuestionInput, ...] = ()
    #: Of the knowledge check, in per cent; ``None`` without one.
    pass_mark: int | None = None
    #: ``(title, url)`` of each link offered with the module.
    resources: tuple[tuple[str, str], ...] = ()
    is_required: bool = True


@dataclass(frozen=True)
class DemoCohort:
    """A run created with a demo course; its dates count in days from the day of seeding."""

    #: May hold ``{starts_on:...}``, formatted with the start date (e.g. ``{starts_on:%B %Y}``).
    name: str
    delivery_format: DeliveryFormat
    location: str
    capacity: int | None
    has_waiting_list: bool
    starts_in_days: int
    ends_in_days: int
    enrolment_opens_in_days: int | None
    enrolment_closes_in_days: int | None
    #: Emails of the facilitators (those that exist when seeding).
    facilitators: tuple[str, ...] = ()

    def data(self, today: dt.date) -> dict:
        """The cohort's fields for ``save_cohort``, for seeding on ``today``."""

        def day(offset: int | None) -> dt.date | None:
            return None if offset is None else today + dt.timedelta(days=offset)

        starts_on = day(self.starts_in_days)
        return {
            "name": self.name.format(starts_on=starts_on),
            "starts_on": starts_on,
            "ends_on": day(self.ends_in_days),
            "delivery_format": self.delivery_format,
            "location": self.location,
            "capacity": self.capacity,
            "has_waiting_list": self.has_waiting_list,
            "enrolment_opens_on": day(self.enrolment_opens_in_days),
            "enrolment_closes_on": day(self.enrolment_closes_in_days),
        }


@dataclass(frozen=True)
class DemoCredits:
    """A demo course's credit rule: which awarding body awards how many credits at which level."""

    awarding_body: str
    credits: int
    level: str


@dataclass(frozen=True)
class DemoCourse:
    """A demo course as the seed documents describe it."""

    code: str
    title: str
    summary: str
    provider: str
    delivery_format: DeliveryFormat
    notional_hours: int
    audience: str
    is_self_enrol: bool
    modules: tuple[DemoModule, ...]
    #: Codes of the courses to complete first; each is an earlier demo course.
    prerequisites: tuple[str, ...] = ()
    credits: DemoCredits | None = None
    cohorts: tuple[DemoCohort, ...] = ()


class _Fields:
    """One TOML table being read: values are taken by key and type, and no key may be left over."""

    def __init__(self, data: dict, where: str) -> None:
        self.data = dict(data)
        self.where = where

    def take(self, key: str, kind: type, default=_REQUIRED):
        """The value of ``key``, which must be of ``kind``; ``default`` if it is left out."""
        if key not in self.data:
            if default is _REQUIRED:
                raise ContentError(f"{self.where}: {key} is missing")
            return default
        value = self.data.pop(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ContentError(f"{self.where}: {key} should be {_KIND_NAMES[kind]}, not {value!r}")
        return value

    def texts(self, key: str, default=_REQUIRED) -> tuple[str, ...]:
        """A list of texts."""
        values = self.take(key, list, default)
        if not all(isinstance(v, str) for v in values):
            raise ContentError(f"{self.where}: {key} should be a list of texts")
        return tuple(values)

    def tables(self, key: str) -> list[_Fields]:
        """An array of tables (``[[key]]``), each to be read in turn; none if left out."""
        values = self.take(key, list, [])
        if not all(isinstance(v, dict) for v in values):
            raise ContentError(f"{self.where}: {key} should be a list of tables ([[{key}]])")
        return [
            _Fields(v, f"{self.where}, {key.removesuffix('s')} {n}") for n, v in enumerate(values, start=1)
        ]

    def delivery_format(self, key: str = "delivery_format") -> DeliveryFormat:
        """One of the delivery formats, by its value."""
        value = self.take(key, str)
        try:
            return DeliveryFormat(value)
        except ValueError:
            known = ", ".join(f.value for f in DeliveryFormat)
            raise ContentError(f"{self.where}: {key} should be one of {known}, not {value!r}") from None

    def done(self) -> None:
        """Refuse keys nobody took, which are most often typos."""
        if self.data:
            raise ContentError(f"{self.where}: unknown {', '.join(sorted(self.data))} (a typo?)")


def _read_toml(path: Path) -> _Fields:
    try:
        return _Fields(tomllib.loads(path.read_text(encoding="utf-8")), _shown(path))
    except FileNotFoundError:
        raise ContentError(f"{_shown(path)} is missing") from None
    except tomllib.TOMLDecodeError as error:
        raise ContentError(f"{_shown(path)}: {error}") from None


def _shown(path: Path) -> str:
    """``path`` from the package folder, as a writer sees it in the repository."""
    try:
        return str(path.relative_to(CONTENT.parent.parent.parent))
    except ValueError:
        return str(path)


def load_courses(content: Path = CONTENT) -> tuple[DemoCourse, ...]:
    """Every demo course, in the order of ``courses.toml``.

    :raises ContentError: a file is missing or malformed, or a folder is not listed.
    """
    index = _read_toml(content / "courses.toml")
    folders = index.texts("courses")
    index.done()
    unlisted = sorted(p.name for p in (content / "courses").iterdir() if p.is_dir() and p.name not in folders)
    if unlisted:
        raise ContentError(f"{index.where}: courses does not list {', '.join(unlisted)}")
    courses: list[DemoCourse] = []
    for folder in folders:
        course = load_course(content / "courses" / folder)
        earlier = {c.code for c in courses}
        if course.code in earlier:
            raise ContentError(f"{_shown(content / 'courses' / folder)}: code {course.code} is taken")
        if not set(course.prerequisites) <= earlier:
            raise ContentError(
                f"{index.where}: {folder} requires {', '.join(course.prerequisites)}, "
                "which must come before it in courses"
            )
        courses.append(course)
    return tuple(courses)


def load_course(folder: Path) -> DemoCourse:
    """The course of one folder: its ``course.toml`` and the Markdown files it names.

    :raises ContentError:
    """
    fields = _read_toml(folder / "course.toml")
    course = DemoCourse(
        code=fields.take("code", str),
        title=fields.take("title", str),
        summary=fields.take("summary", str),
        provider=fields.take("provider", str),
        audience=fields.take("audience", str),
        delivery_format=fields.delivery_format(),
        notional_hours=fields.take("notional_hours", int),
        is_self_enrol=fields.take("self_enrol", bool),
        prerequisites=fields.texts("prerequisites", []),
        credits=_credits(fields),
        cohorts=tuple(_cohort(table) for table in fields.tables("cohorts")),
        modules=tuple(_module(folder, table) for table in fields.tables("modules")),
    )
    fields.done()
    return course


def _credits(fields: _Fields) -> DemoCredits | None:
    table = fields.take("credits", dict, None)
    if table is None:
        return None
    rule = _Fields(table, f"{fields.where}, credits")
    credits = DemoCredits(rule.take("awarding_body", str), rule.take("credits", int), rule.take("level", str))
    rule.done()
    return credits


def _cohort(fields: _Fields) -> DemoCohort:
    cohort = DemoCohort(
        name=fields.take("name", str),
        delivery_format=fields.delivery_format(),
        location=fields.take("location", str, ""),
        capacity=fields.take("capacity", int, None),
        has_waiting_list=fields.take("has_waiting_list", bool, False),
        starts_in_days=fields.take("starts_in_days", int),
        ends_in_days=fields.take("ends_in_days", int),
        enrolment_opens_in_days=fields.take("enrolment_opens_in_days", int, None),
        enrolment_closes_in_days=fields.take("enrolment_closes_in_days", int, None),
        facilitators=fields.texts("facilitators", []),
    )
    fields.done()
    return cohort


def _module(folder: Path, fields: _Fields) -> DemoModule:
    name = fields.take("file", str)
    path = folder / name
    if path.parent != folder or path.suffix != ".md":
        raise ContentError(f"{fields.where}: file should name a .md file in {_shown(folder)}, not {name!r}")
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContentError(f"{fields.where}: {_shown(path)} is missing") from None
    resources = []
    for table in fields.tables("resources"):
        resources.append((table.take("title", str), table.take("url", str)))
        table.done()
    title = fields.take("title", str)
    minutes = fields.take("estimated_minutes", int)
    is_required = fields.take("required", bool, True)
    pass_mark, questions = _knowledge_check(fields)
    fields.done()
    return DemoModule(
        title=title,
        minutes=minutes,
        content=content,
        questions=questions,
        pass_mark=pass_mark,
        resources=tuple(resources),
        is_required=is_required,
    )


def _knowledge_check(fields: _Fields) -> tuple[int | None, tuple[QuestionInput, ...]]:
    table = fields.take("knowledge_check", dict, None)
    if table is None:
        return None, ()
    check = _Fields(table, f"{fields.where}, knowledge_check")
    pass_mark = check.take("pass_mark", int)
    questions = []
    for question in check.tables("questions"):
        options = list(question.texts("options"))
        answer = question.take("answer", str)
        if len(set(options)) != len(options):
            raise ContentError(f"{question.where}: two options are the same")
        if answer not in options:
            raise ContentError(f"{question.where}: the answer {answer!r} is not one of the options")
        questions.append(
            QuestionInput(
                prompt=question.take("prompt", str),
                options=options,
                correct=options.index(answer),
                explanation=question.take("explanation", str, ""),
            )
        )
        question.done()
    if not questions:
        raise ContentError(f"{check.where}: a knowledge check needs [[modules.knowledge_check.questions]]")
    check.done()
    return pass_mark, tuple(questions)
