"""Landing page, the signed-in dashboard, and health checks for load balancers."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from lms.extensions import db
from lms.permissions import authenticated, public
from lms.templating import dashboard_panels

bp = Blueprint("main", __name__, template_folder="templates")


@bp.route("/")
@public
def index():
    """Signed-in people go to their dashboard; others see what lms is."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return render_template("main/index.html")


@bp.route("/dashboard")
@authenticated
def dashboard():
    """Each role's starting points, and the panels the areas add (e.g. a trainee's courses)."""
    panels, covered = dashboard_panels(current_user)
    return render_template("main/dashboard.html", panels=panels, covered=covered)


@bp.route("/favicon.ico")
@public
def favicon():
    """Browsers ask for /favicon.ico whatever the page says: point them at the real icon."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.route("/healthz")
@public
def healthz():
    """The process is up."""
    return jsonify(status="ok")


@bp.route("/readyz")
@public
def readyz():
    """The database answers; a load balancer should only send traffic when this is 200."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
