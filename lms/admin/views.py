"""Admin pages: people, roles, activation and the audit log."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms import audit
from lms.accounts import services as accounts
from lms.admin.forms import RolesForm, SearchForm, UserForm
from lms.errors import InvalidInput
from lms.forms import ConfirmForm, apply_domain_errors
from lms.organisations.services import all_organisations
from lms.pagination import page_arg, paginate
from lms.permissions import Role, roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
PER_PAGE = 25
AUDIT_PER_PAGE = 50
#: Changes shown on a person's page.
HISTORY_LENGTH = 20


@bp.route("/users")
@roles_required(Role.ADMIN)
def users():
    """Everyone with an account, searchable and paginated."""
    form = SearchForm(request.args)
    query = accounts.people_query(form.q.data if form.validate() and form.q.data else "")
    page = paginate(query, page_arg(), PER_PAGE)
    return render_template("admin/users.html", page=page, form=form)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_user():
    """Create a person and, usually, invite them by email."""
    form = UserForm()
    form.set_organisations(all_organisations())
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                current_user,
                email=form.email.data,
                name=form.name.data,
                roles={Role(r) for r in form.roles.data or []},
                organisation_id=form.organisation_id.data or None,
                invite=form.invite.data,
            )
        except InvalidInput as error:
            apply_domain_errors(form, error)
        else:
            flash(
                f"{user.name} has been added" + (" and invited by email." if form.invite.data else "."),
                "success",
            )
            return redirect(url_for("admin.user", user_id=user.id))
    return render_template("admin/user_form.html", form=form), 422 if form.errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user(user_id: int):
    """A person's details and roles; the form changes the roles."""
    person = accounts.get_user(user_id)
    form = RolesForm(data={"roles": sorted(person.role_names)} if request.method == "GET" else None)
    status = 200
    if form.validate_on_submit():
        accounts.set_roles(current_user, person, {Role(r) for r in form.roles.data or []})
        flash("Roles saved.", "success")
        return redirect(url_for("admin.user", user_id=person.id))
    if form.errors:
        status = 422
    history = audit.history_of("users", person.id, HISTORY_LENGTH)
    return (
        render_template(
            "admin/user.html", person=person, form=form, history=history, toggle_form=ConfirmForm()
        ),
        status,
    )


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@roles_required(Role.ADMIN)
def set_active(user_id: int):
    """Deactivate or reactivate an account."""
    person = accounts.get_user(user_id)
    make_active = request.form.get("active") == "1"
    accounts.set_active(current_user, person, make_active)
    flash(f"{person.name} has been {'reactivated' if make_active else 'deactivated'}.", "success")
    return redirect(url_for("admin.user", user_id=person.id))


@bp.route("/users/<int:user_id>/invite", methods=["POST"])
@roles_required(Role.ADMIN)
def resend_invitation(user_id: int):
    """Email a fresh link to choose a password."""
    person = accounts.get_user(user_id)
    accounts.send_invitation(person)
    flash(f"A new invitation has been sent to {person.email}.", "success")
    return redirect(url_for("admin.user", user_id=person.id))


@bp.route("/audit")
@roles_required(Role.ADMIN)
def audit_log():
    """Every audited change, newest first."""
    subject_type = request.args.get("subject_type")
    page = paginate(audit.log_query(subject_type), page_arg(), AUDIT_PER_PAGE)
    actors = accounts.people_by_id(e.actor_id for e in page.items)
    return render_template("admin/audit.html", page=page, actors=actors, subject_type=subject_type)
