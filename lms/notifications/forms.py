"""The form of the notification preferences page."""

from __future__ import annotations

from wtforms import SubmitField

from lms.forms import BaseForm, CheckboxesField


class PreferencesForm(BaseForm):
    """Which optional kinds of notification the person wants by email (the view sets the choices)."""

    emailed = CheckboxesField("Email me about", choices=[])
    submit = SubmitField("Save preferences")
