"""Sign-in, password and token forms."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from lms.accounts.services import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from lms.forms import BaseForm


class LoginForm(BaseForm):
    """Email and password."""

    email = EmailField(
        "Email address", validators=[DataRequired("Enter your email address."), Length(max=254)]
    )
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=200)])
    submit = SubmitField("Sign in")


def _new_password_field(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired("Enter a new password."),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=f"Use between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters.",
            ),
        ],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. A short sentence is easy to remember.",
    )


class ChangePasswordForm(BaseForm):
    """Current password, then the new one twice."""

    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
    new_password = _new_password_field("New password")
    confirm_password = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("new_password", "The passwords do not match."),
        ],
    )
    revoke_tokens = BooleanField(
        "Also revoke my API tokens",
        default=True,
        description="Programs using your tokens will stop working until you give them new ones.",
    )
    submit = SubmitField("Change password")


class ResetRequestForm(BaseForm):
    """Ask for a reset link."""

    email = EmailField(
        "Email address",
        validators=[
            DataRequired("Enter your email address."),
            Email("Enter a valid email address."),
            Length(max=254),
        ],
    )
    submit = SubmitField("Send reset link")


class ResetPasswordForm(BaseForm):
    """Choose a new password from a link."""

    password = _new_password_field("New password")
    confirm_password = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("password", "The passwords do not match."),
        ],
    )
    submit = SubmitField("Set password")


class TokenForm(BaseForm):
    """Name a new API token."""

    name = StringField(
        "Token name",
        validators=[DataRequired("Give the token a name."), Length(max=100)],
        description="Where you will use it, e.g. “university export script”.",
    )
    submit = SubmitField("Create token")
