"""Sign in and out, passwords and personal API tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from lms.accounts import services
from lms.accounts.forms import (
    ChangePasswordForm,
    LoginForm,
    ResetPasswordForm,
    ResetRequestForm,
    TokenForm,
)
from lms.errors import InvalidInput
from lms.forms import ConfirmForm, apply_domain_errors
from lms.permissions import authenticated, public
from lms.security import no_store

bp = Blueprint("accounts", __name__, url_prefix="/account", template_folder="templates")


def _safe_next(target: str | None) -> str:
    """Only follow local redirect targets."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data, request.remote_addr or "")
        except services.SignInRefused as refused:
            form.form_errors.append(refused.message)
            status = 429 if refused.retry_after else 200
        else:
            services.start_session(user)
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    elif form.is_submitted():
        status = 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@authenticated
def logout():
    """Sign out of this browser, or with ``everywhere=1`` of every device, this one included.

    The session ends on the server, not only in the cookie: a copy of the cookie no longer works.
    """
    if request.form.get("everywhere") == "1":
        services.sign_out_everywhere(current_user)
        message = "You have signed out on every device."
    else:
        services.end_session(current_user)
        message = "You have signed out."
    logout_user()
    flash(message, "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password", methods=["GET", "POST"])
@authenticated
def change_password():
    """Change one's own password; other sessions end."""
    form = ChangePasswordForm()
    user = current_user._get_current_object()  # login_user below needs the user, not the proxy
    if form.validate_on_submit():
        try:
            revoked = services.change_password(
                user,
                form.current_password.data,
                form.new_password.data,
                revoke_tokens=form.revoke_tokens.data,
            )
        except InvalidInput as error:
            apply_domain_errors(form, error)
        else:
            # Every session ended with the old password: keep this one signed in with a new one.
            services.start_session(user)
            login_user(user)
            message = "Your password has been changed. Other devices have been signed out."
            if revoked:
                message += f" {revoked} API token{'s have' if revoked != 1 else ' has'} been revoked."
            flash(message, "success")
            return redirect(url_for("main.dashboard"))
    return (
        render_template("accounts/change_password.html", form=form, sign_out_form=ConfirmForm()),
        422 if form.errors else 200,
    )


@bp.route("/reset", methods=["GET", "POST"])
@public
def request_reset():
    """Ask for a password reset link by email."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data, request.remote_addr or "")
        flash(
            "If an account uses that address, we have sent it a link to reset the password. "
            "The link works for one hour.",
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/request_reset.html", form=form), 422 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    """Choose a new password from an emailed link."""
    no_store()  # the address holds the secret token
    try:
        user = services.user_for_password_token(token)
    except InvalidInput as error:
        return render_template("accounts/reset_invalid.html", message=error.message), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except InvalidInput as error:
            apply_domain_errors(form, error)
        else:
            logout_user()
            flash("Your password has been set. You can now sign in.", "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form, user=user), 422 if form.errors else 200


@bp.route("/tokens", methods=["GET", "POST"])
@authenticated
def tokens():
    """List, and create, one's personal API tokens."""
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        try:
            _token, new_token = services.create_api_token(current_user, form.name.data)
        except InvalidInput as error:
            apply_domain_errors(form, error)
        else:
            form = TokenForm(formdata=None)
            no_store()
    status = 422 if form.errors else (201 if new_token else 200)
    return (
        render_template(
            "accounts/tokens.html",
            form=form,
            new_token=new_token,
            tokens=services.tokens_of(current_user),
            revoke_form=ConfirmForm(),
        ),
        status,
    )


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@authenticated
def revoke_token(token_id: int):
    """Revoke one of one's own tokens."""
    token = services.get_token_for(current_user, token_id)
    services.revoke_api_token(current_user, token)
    flash(f"Token “{token.name}” has been revoked.", "success")
    return redirect(url_for("accounts.tokens"))
