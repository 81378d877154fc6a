"""Forms of the org manager's pages: report filters and bulk enrolment."""

from __future__ import annotations

from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import RadioField, SearchField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from lms.courses import bulk, reports
from lms.courses.models import Cohort, EnrolmentStatus
from lms.forms import BaseForm


class ReportFilterForm(BaseForm):
    """Narrow a report: by status, and (admins only) by organisation."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")]
        + [SelectChoice(s.value, s.label) for s in reports.STATUS_ORDER],
        validators=[Optional()],
    )
    organisation_id = SelectField("Organisation", coerce=int, default=0, validators=[Optional()])
    q = SearchField("Name or email", validators=[Optional(), Length(max=100)])

    def prepare(
        self,
        organisations,
        *,
        with_status: bool = True,
        with_search: bool = False,
        everyone: str = "Every organisation",
    ) -> None:
        """Offer the organisations an admin may pick; drop the fields a page does not use."""
        if organisations:
            self.organisation_id.choices = [SelectChoice(0, everyone)] + [
                SelectChoice(o.id, o.name) for o in organisations
            ]
        else:
            del self.organisation_id
        if not with_status:
            del self.status
        if not with_search:
            del self.q

    def chosen(self) -> tuple[EnrolmentStatus | None, int | None, str]:
        """``(status, organisation_id, search)``, ignoring values that are not valid."""
        if not self.validate():
            return None, None, ""
        status = EnrolmentStatus(self.status.data) if "status" in self and self.status.data else None
        organisation_id = (self.organisation_id.data or None) if "organisation_id" in self else None
        q = (self.q.data or "").strip() if "q" in self else ""
        return status, organisation_id, q


class BulkEnrolForm(BaseForm):
    """Upload a CSV file of people to enrol."""

    file = FileField(
        "CSV file",
        description="Up to 50,000 rows. In Excel or LibreOffice, save the sheet as “CSV UTF-8”.",
        validators=[
            FileRequired("Choose a CSV file to upload."),
            FileAllowed(["csv", "txt"], "Upload a .csv file. In Excel: File, Save As, then “CSV UTF-8”."),
        ],
    )
    cohort_id = SelectField("Cohort", coerce=int, default=0, validators=[Optional()])
    mode = RadioField(
        "If some rows have problems",
        choices=[SelectChoice(m.value, m.label) for m in bulk.Mode],
        default=bulk.Mode.VALID_ROWS.value,
        validators=[InputRequired("Choose what to do if some rows have problems.")],
    )
    submit = SubmitField("Check the file and enrol")

    def set_cohorts(self, cohorts: list[Cohort]) -> None:
        """Offer the course's cohorts that have not ended, with their free places."""
        self.cohort_id.choices = [SelectChoice(0, "No cohort")] + [
            SelectChoice(c.id, _cohort_label(c)) for c in cohorts
        ]


def _cohort_label(cohort: Cohort) -> str:
    dates = cohort.starts_on.strftime("%-d %b %Y")
    if cohort.capacity is None:
        places = "no limit on places"
    elif cohort.seats_left:
        places = f"{cohort.seats_left} place{'s' if cohort.seats_left != 1 else ''} left"
    else:
        places = "full, waiting list" if cohort.has_waiting_list else "full"
    return f"{cohort.name}, from {dates} ({places})"
