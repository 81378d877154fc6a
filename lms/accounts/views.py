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
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    elif form.is_submitted():
        status = 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@authenticated
def logout():
    """Sign out of this browser."""
    logout_user()
    flash("You have signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password", methods=["GET", "POST"])
@authenticated
def change_password():
    """Change one's own password; other sessions end."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.new_password.data)
        except InvalidInput as error:
            apply_domain_errors(form, error)
        else:
            login_user(current_user)  # the session token rotated: keep this session signed in
            flash("Your password has been changed. Other devices have been signed out.", "success")
            return redirect(url_for("main.dashboard"))
    return render_template("accounts/change_password.html", form=form), 422 if form.errors else 200


@bp.route("/reset", methods=["GET", "POST"])
@public
def request_reset():
    """Ask for a password reset link by email."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
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
