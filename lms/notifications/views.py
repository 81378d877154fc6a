"""The notification pages: the list with mark-as-read, the email preferences, the count in the layout."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import OperationalError

from lms.forms import ConfirmForm
from lms.notifications import services
from lms.notifications.forms import PreferencesForm
from lms.notifications.kinds import all_kinds
from lms.pagination import page_arg
from lms.permissions import authenticated

bp = Blueprint("notifications", __name__, url_prefix="/notifications", template_folder="templates")

#: Notifications per page of the list.
PER_PAGE = 20
#: The list's filter (``?show=``): every notification, or only the unread ones.
SHOW_CHOICES = ("all", "unread")


def _show_arg() -> str:
    """The filter asked for in the query string; 400 for a value that is not one."""
    show = request.args.get("show") or "all"
    if show not in SHOW_CHOICES:
        abort(400, "Show must be one of: " + ", ".join(SHOW_CHOICES) + ".")
    return show


def _list_args(page: int, show: str) -> dict:
    """Query arguments of the list page, leaving out the defaults."""
    return {
        **({"page": page} if page > 1 else {}),
        **({"show": show} if show != "all" else {}),
    }


@bp.route("")
@authenticated
def index():
    """The person's notifications, newest first, with mark-as-read."""
    show, number = _show_arg(), page_arg()
    page = services.notifications_for(current_user, number, PER_PAGE, is_unread=show == "unread")
    if page.page > page.pages and page.total:
        # Past the end (the last unread one on the last page was just marked read).
        return redirect(url_for("notifications.index", **_list_args(page.pages, show)))
    return render_template(
        "notifications/index.html",
        page=page,
        show=show,
        list_args=_list_args(page.page, show),
        form=ConfirmForm(),
    )


@bp.route("/<int:notification_id>/read", methods=["POST"])
@authenticated
def mark_read(notification_id: int):
    """Mark one of the person's notifications read, then go back to the same page of the list.

    lms.js posts here when the person follows a notification's link (header
    ``X-Requested-With: fetch``): that answer is an empty 204, with no message to flash.
    """
    notification = services.mark_read(current_user, notification_id)
    if request.headers.get("X-Requested-With") == "fetch":
        return "", 204
    flash(f"“{notification.title}” is marked as read.", "success")
    return redirect(url_for("notifications.index", **_return_args()))


@bp.route("/read-all", methods=["POST"])
@authenticated
def mark_all_read():
    """Mark every notification of the person read."""
    marked = services.mark_all_read(current_user)
    if marked:
        flash(f"{marked} notification{'s' if marked != 1 else ''} marked as read.", "success")
    else:
        flash("You had no unread notifications.", "info")
    return redirect(url_for("notifications.index", **_return_args()))


def _return_args() -> dict:
    """The list's page and filter that a mark-as-read form came from (bad values are dropped)."""
    show = request.args.get("show")
    show = show if show in SHOW_CHOICES else "all"
    try:
        page = max(1, min(int(request.args.get("page", "1")), 1_000_000))
    except ValueError:
        page = 1
    return _list_args(page, show)


@bp.route("/preferences", methods=["GET", "POST"])
@authenticated
def preferences():
    """Choose which kinds of notification are also emailed; essential ones always are."""
    kinds = all_kinds(current_user)
    optional = [kind for kind in kinds if not kind.is_essential]
    choices = services.email_choices(current_user)
    form = PreferencesForm(
        # Unticked boxes are not posted at all: a POST with none means "email me nothing optional".
        formdata=request.form if request.method == "POST" else None,
        data={"emailed": [name for name, is_emailed in choices.items() if is_emailed]},
    )
    form.emailed.choices = [(kind.name, kind.label) for kind in optional]
    if form.validate_on_submit():
        changed = services.set_email_choices(current_user, current_user, set(form.emailed.data or ()))
        if changed:
            flash("Your email preferences have been saved.", "success")
        else:
            flash("Your email preferences are unchanged.", "info")
        return redirect(url_for("notifications.preferences"))
    return (
        render_template(
            "notifications/preferences.html",
            form=form,
            descriptions={kind.name: kind.description for kind in optional},
            essential=[kind for kind in kinds if kind.is_essential],
        ),
        422 if form.errors else 200,
    )


def unread_notifications() -> int | None:
    """How many notifications the signed-in person has not read: one query, on first use only.

    The layout calls it, so a page that does not show the navigation (or a signed-out
    visitor) costs nothing. ``None`` when nobody is signed in or the database cannot be
    reached (the 503 page still renders, without the count).
    """
    if "lms_unread_notifications" not in g:
        count = None
        if current_user.is_authenticated:
            try:
                count = services.unread_count(current_user)
            except OperationalError:
                current_app.logger.warning("unread notifications not counted: database unavailable")
        g.lms_unread_notifications = count
    return g.lms_unread_notifications


def init_app(app: Flask) -> None:
    """Register the notification pages and the unread count of the layout."""
    app.register_blueprint(bp)

    @app.context_processor
    def notification_count():
        return {"unread_notifications": unread_notifications}
