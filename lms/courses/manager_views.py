"""Progress reports and bulk enrolment for admins and organisation managers."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("course_reports", __name__, url_prefix="/manage", template_folder="templates")
