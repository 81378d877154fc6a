"""Admin forms for people and roles."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional

from lms.forms import BaseForm, CheckboxesField
from lms.permissions import ROLE_LABELS, Role


def _role_choices():
    return [SelectChoice(role.value, ROLE_LABELS[role]) for role in Role]


class UserForm(BaseForm):
    """Create or edit a person."""

    email = EmailField(
        "Email address",
        validators=[
            DataRequired("Enter an email address."),
            Email("Enter a valid email address."),
            Length(max=254),
        ],
    )
    name = StringField("Full name", validators=[DataRequired("Enter the person's name."), Length(max=200)])
    organisation_id = SelectField("Organisation", coerce=int, validators=[Optional()])
    roles = CheckboxesField("Roles", choices=_role_choices())
    invite = BooleanField("Email an invitation to choose a password", default=True)
    submit = SubmitField("Save")

    def set_organisations(self, organisations) -> None:
        """Fill the organisation choices."""
        self.organisation_id.choices = [SelectChoice(0, "No organisation")] + [
            SelectChoice(o.id, o.name) for o in organisations
        ]


class RolesForm(BaseForm):
    """Change a person's roles."""

    roles = CheckboxesField("Roles", choices=_role_choices())
    submit = SubmitField("Save roles")


class SearchForm(BaseForm):
    """Find people by name or email."""

    class Meta:
        csrf = False

    q = StringField("Search by name or email", validators=[Optional(), Length(max=100)])
