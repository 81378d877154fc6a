"""Form helpers shared by every area."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, SubmitField
from wtforms.widgets import CheckboxInput, ListWidget

from lms.errors import InvalidInput


class ConfirmForm(FlaskForm):
    """A button that posts (sign out, revoke): CSRF-protected, nothing else."""

    submit = SubmitField("Confirm")


class CheckboxesField(SelectMultipleField):
    """A group of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def apply_domain_errors(form: FlaskForm, error: InvalidInput) -> None:
    """Show a service's field errors on the form's fields (or as a form-level error)."""
    for field_name, messages in (error.fields or {"": [error.message]}).items():
        field = getattr(form, field_name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(messages)
