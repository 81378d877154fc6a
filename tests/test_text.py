"""Text the database cannot store (NUL, a lone surrogate) is refused by one check in every form.

The API's side is in ``tests/api/test_bad_text.py`` and the CSV upload's in
``tests/courses/test_bulk.py``. Forms are found, not listed: every form class of lms, and every
form that a page of lms shows, so a form added later is covered without touching this file.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import Form, StringField

from lms.forms import BaseForm
from lms.permissions import Role
from lms.text import NUL_PROBLEM, SURROGATE_PROBLEM, message_for, text_problem

NUL = "nul\x00here"
SURROGATE = "\ud800x"
BAD = {"NUL": (NUL, NUL_PROBLEM), "surrogate": (SURROGATE, SURROGATE_PROBLEM)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("Zoë Ödegård, 東京 🙂", None),  # astral characters are one code point each, not pairs
        ("line\nbreak\ttab", None),
        ("\x00", NUL_PROBLEM),
        ("a\x00", NUL_PROBLEM),
        ("\ud800", SURROGATE_PROBLEM),
        ("x\udfff", SURROGATE_PROBLEM),
        (None, None),
        (3, None),
    ],
)
def test_text_problem(value, expected):
    assert text_problem(value) == expected


def test_message_for_is_a_sentence():
    assert message_for("a\x00") == "Contains a character that cannot be stored (NUL)."
    assert message_for("fine") is None


# --- every form class ---------------------------------------------------------------------------


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _lms_classes(cls):
    return sorted(
        {c for c in _subclasses(cls) if c.__module__.startswith("lms.")}, key=lambda c: c.__qualname__
    )


def test_every_form_of_lms_uses_the_shared_base(app):
    strays = [
        f"{c.__module__}.{c.__qualname__}"
        for c in _lms_classes(FlaskForm)
        if not issubclass(c, BaseForm) and c is not BaseForm
    ]
    assert not strays, f"derive these from lms.forms.BaseForm: {strays}"
    assert len(_lms_classes(BaseForm)) >= 20  # the discovery found the forms


def _text_fields(fields, prefix=""):
    """``(input name, field)`` for every text input of a form, inside field lists and sub-forms."""
    for field in fields:
        if hasattr(field, "form") and isinstance(field.form, Form):
            yield from _text_fields(field.form)
        elif hasattr(field, "entries"):
            yield from _text_fields(field.entries)
        elif isinstance(field, StringField):
            yield field.name, field


def _import_all():
    """Import every module of lms, so that every form class is defined."""
    import importlib
    import pkgutil

    import lms

    for module in pkgutil.walk_packages(lms.__path__, "lms."):
        if ".migrations" not in module.name and ".demo.content" not in module.name:
            importlib.import_module(module.name)
    return _lms_classes(BaseForm)


@pytest.mark.parametrize("cls", _import_all(), ids=lambda c: c.__qualname__)
def test_every_text_field_of_every_form_refuses_unstorable_text(app, cls):
    problems = []
    with app.test_request_context(method="POST"):
        names = [name for name, _field in _text_fields(cls(formdata=None))]
        for name in names:
            for label, (value, problem) in BAD.items():
                form = cls(formdata=MultiDict({name: value}))
                for field in form:  # choices the view fills from the database
                    if getattr(field, "choices", ()) is None:
                        field.choices = []
                is_valid = form.validate()
                errors = dict(_text_fields(form))[name].errors
                if is_valid or not any(problem in message for message in errors):
                    problems.append(f"{name} with {label}: valid={is_valid}, errors={errors}")
    assert not problems, "\n".join(problems)


def test_fine_text_passes_the_check(app):
    from lms.accounts.forms import TokenForm

    with app.test_request_context(method="POST"):
        form = TokenForm(formdata=MultiDict({"name": "Zoë's laptop 🙂"}))
        form.validate()
        assert not any("cannot be stored" in m or "invalid character" in m for m in form.name.errors)


# --- every form a page shows ---------------------------------------------------------------------


class _Forms(HTMLParser):
    """The forms of a page: action, method and their inputs with default values."""

    TEXT_TYPES = {"text", "email", "password", "search", "url", "tel", None}

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action") or "",
                    "method": (a.get("method") or "get").lower(),
                    "fields": [],
                    "enctype": a.get("enctype") or "",
                }
            )
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self.forms[-1]["fields"].append((a["name"], a.get("value") or "y", False))
            elif kind == "file":
                self.forms[-1]["fields"].append((a["name"], None, False))
            elif kind == "submit":
                self.forms[-1].setdefault("submits", []).append((a["name"], a.get("value") or ""))
            elif kind not in {"button", "image", "reset"}:
                self.forms[-1]["fields"].append((a["name"], a.get("value") or "", kind in self.TEXT_TYPES))
        elif tag == "textarea" and a.get("name"):
            self.forms[-1]["fields"].append((a["name"], "", True))
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.forms[-1]["fields"].append((self._select, a.get("value") or "", False))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


@pytest.fixture
def page_world(db, make_user, make_course, make_cohort, make_organisation):
    """Someone who holds every role, and a course, module, cohort and person for the URLs."""
    from lms.courses import content
    from lms.courses import enrolment as enrolling

    organisation = make_organisation("Cardiff Family Centre")
    person = make_user(*Role, organisation_id=organisation.id)
    course = make_course(modules=1)
    module = content.active_modules([course.id])[course.id][0]
    cohort = make_cohort(course)
    content.save_knowledge_check(None, module, 50, [content.QuestionInput("Q", ["a", "b"], 0)])
    other = make_user(Role.TRAINEE, organisation_id=organisation.id)
    enrolling.enrol(person, person, course, cohort)
    db.session.commit()
    return person, {
        "course_id": course.id,
        "module_id": module.id,
        "cohort_id": cohort.id,
        "user_id": other.id,
    }


def _pages(app, values):
    """Every GET page of lms (not the API) whose URL parameters we can fill."""
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api/", "/static", "/bootstrap")):
            continue
        if not set(rule.arguments) <= set(values):
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(rf"<(?:[a-z]+:)?{arg}>", str(values[arg]), url)
        yield url


def _database_rows(db):
    import sqlalchemy as sa

    skip = {"audit_entries", "api_tokens", "user_sessions"}
    db.session.expire_all()
    return {
        t.name: sorted(repr(tuple(r)) for r in db.session.execute(sa.select(t)))
        for t in db.metadata.sorted_tables
        if t.name not in skip
    }


def test_every_text_input_of_every_page_refuses_unstorable_text(app, db, client, login_as, page_world):
    """Fill each text input of each form of each page with NUL (and with a lone surrogate's bytes).

    NUL must be refused: the form is shown again (422) with the error summary naming the field.
    A lone surrogate cannot reach a form: its bytes are not UTF-8 and the server reads them as
    U+FFFD; it must not be stored as a surrogate nor give a 500.
    """
    person, values = page_world
    login_as(person)
    problems, tried = [], set()
    for page in _pages(app, values):
        response = client.get(page)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        parser = _Forms()
        parser.feed(response.get_data(as_text=True))
        for form in parser.forms:
            action = form["action"] or page
            if action.endswith("/logout") or "/logout" in action or "sessions/end" in action:
                continue
            for index, (name, _default, is_text) in enumerate(form["fields"]):
                if not is_text or name == "csrf_token" or (action, name) in tried:
                    continue
                tried.add((action, name))
                for label, value in (("NUL", NUL), ("surrogate", SURROGATE)):
                    where = f"{form['method'].upper()} {action} {name}={label} (from {page})"
                    # A page with several forms tells them apart by their button: try each.
                    for submit in [None, *form.get("submits", [])]:
                        data = [(n, v) for i, (n, v, _t) in enumerate(form["fields"]) if i != index]
                        data = [(n, v) for n, v in data if v is not None] + [(name, value)]
                        data += [submit] if submit else []
                        before = _database_rows(db)
                        answer = _send(client, form["method"], action, data)
                        text = answer.get_data(as_text=True)
                        is_refused = answer.status_code == 422 and "There is a problem" in text
                        is_refused = is_refused and NUL_PROBLEM in text
                        if answer.status_code >= 500:
                            problems.append(f"{where}: {answer.status_code}")
                        if label == "NUL" and _database_rows(db) != before:
                            problems.append(f"{where}: the database changed")
                        if "\ud800" in "".join(str(v) for v in _database_rows(db).values()):
                            problems.append(f"{where}: a surrogate was stored")
                        login_as(person)  # in case a form ended the session
                        if is_refused or label != "NUL":
                            break
                    else:
                        if (form["method"], action.split("?")[0]) not in SEARCHES_THAT_IGNORE_BAD_INPUT:
                            problems.append(
                                f"{where}: {answer.status_code}, not refused with the error summary"
                            )
    assert len(tried) >= 15, sorted(tried)
    assert not problems, "\n".join(problems)


#: GET searches whose pages drop a search they cannot use and list everything, without an
#: error summary (lms/admin/views.py and lms/courses/admin_views.py decide so). NUL is still
#: refused by the form (never sent to the database); the page is not re-shown with an error.
SEARCHES_THAT_IGNORE_BAD_INPUT = {("get", "/admin/users"), ("get", "/admin/courses/")}


def _send(client, method: str, action: str, data: list[tuple[str, str]]):
    raw = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in data)
    if method == "get":
        return client.get(f"{action.split('?')[0]}?{raw}")
    return client.post(action, data=raw, content_type="application/x-www-form-urlencoded")


def _quote(value: str) -> str:
    from urllib.parse import quote

    # surrogatepass: the bytes a client would send for a lone surrogate (not valid UTF-8).
    return quote(value.encode("utf-8", "surrogatepass"), safe="")
