"""Form helpers shared by every area."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, FieldList, FormField, SelectMultipleField, SubmitField
from wtforms.widgets import CheckboxInput, ListWidget

from lms.errors import DomainError
from lms.extensions import db
from lms.text import text_problem


def _leaf_fields(fields, nested: bool = False):
    """``(field, is_nested)`` for every field that takes input, inside field lists and sub-forms too."""
    for field in fields:
        if isinstance(field, FormField):
            yield from _leaf_fields(field.form, True)
        elif isinstance(field, FieldList):
            yield from _leaf_fields(field.entries, True)
        elif isinstance(field, Field):
            yield field, nested


class BaseForm(FlaskForm):
    """Every form of lms: text the database cannot store (NUL, a lone surrogate) is refused.

    The check (:func:`lms.text.text_problem`) runs on what was typed into every field, after
    the field's own validators, so a field added later is covered without saying so.
    """

    def validate(self, extra_validators=None) -> bool:
        """Validate as WTForms does, then refuse unstorable text in any field."""
        is_valid = super().validate(extra_validators)
        for field, is_nested in _leaf_fields(self):
            problems = [problem for raw in (field.raw_data or ()) if (problem := text_problem(raw))]
            if not problems:
                continue
            problem = problems[0]
            message = f"{field.label.text} {problem}."
            field.errors = [*field.errors, message]
            if is_nested:  # the error summary lists the top-level fields only
                self.form_errors.append(message)
            is_valid = False
        return is_valid


class ConfirmForm(BaseForm):
    """A button that posts (sign out, revoke): CSRF-protected, nothing else."""

    submit = SubmitField("Confirm")


class CheckboxesField(SelectMultipleField):
    """A group of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def apply_domain_errors(form: FlaskForm, error: DomainError) -> None:
    """Show a service's field errors on the form's fields (or as a form-level error)."""
    for field_name, messages in (error.fields or {"": [error.message]}).items():
        field = getattr(form, field_name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(messages)


def refuse(form: FlaskForm, error: DomainError) -> None:
    """Undo what a refusing service may have flushed, and show why on the form to re-show it."""
    db.session.rollback()
    apply_domain_errors(form, error)
