"""Forms of the assignment pages: drafts, files, submitting, marking, moderation, extensions, admin."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from lms.assessments.models import MarkingState, SchemeKind
from lms.assessments.uploads import FILE_TYPES
from lms.forms import BaseForm, CheckboxesField

TEXT_LIMIT = 200_000


class DraftForm(BaseForm):
    """The online text of a draft, with the revision it was written from."""

    text = TextAreaField("Your answer", validators=[Length(max=TEXT_LIMIT)])
    revision = HiddenField()
    submit = SubmitField("Save draft")

    def revision_value(self) -> int | None:
        """The revision the writer started from (``None`` when missing or not a number)."""
        try:
            return int(self.revision.data)
        except (TypeError, ValueError):
            return None


class UploadForm(BaseForm):
    """A file to add to a draft."""

    file = FileField("Add a file")
    submit = SubmitField("Upload")


class SubmitForm(BaseForm):
    """Handing in, with the declaration."""

    declaration = BooleanField(
        "I confirm that this is my own work, that I have referenced what I used, "
        "and that families are kept anonymous."
    )
    submit = SubmitField("Submit for marking")


class MarkForm(BaseForm):
    """A mark: rubric levels come as ``level-<criterion id>`` fields, read by the view."""

    points = IntegerField("Mark", validators=[Optional()])
    feedback = TextAreaField("Feedback to the trainee", validators=[Length(max=50_000)])
    feedback_file = FileField(
        "Feedback file (optional)", description="PDF, Word, OpenDocument or text, up to 10 MB."
    )
    remove_feedback_file = BooleanField("Remove the feedback file")
    reason = TextAreaField("Reason for the change", validators=[Length(max=2000)])
    version = HiddenField()
    save = SubmitField("Save draft")
    finish = SubmitField("Finish marking")


class ModerationForm(BaseForm):
    """The moderator's decision."""

    decision = RadioField(
        "Your decision",
        choices=[
            SelectChoice("agreed", "Agree with the first mark"),
            SelectChoice("changed", "Change the mark"),
        ],
        validators=[InputRequired("Choose whether you agree with the mark or change it.")],
    )
    points = IntegerField("Mark", validators=[Optional()])
    notes = TextAreaField(
        "Moderation notes",
        validators=[Length(max=5000)],
        description="Needed when you change the mark; shown to administrators and the first marker.",
    )
    version = HiddenField()
    submit = SubmitField("Record moderation")


class ExtensionForm(BaseForm):
    """More time for one trainee."""

    due_at = DateTimeLocalField("New deadline (UTC)", validators=[InputRequired("Enter the new deadline.")])
    reason = TextAreaField(
        "Reason", validators=[DataRequired("Give the reason for the extension."), Length(max=2000)]
    )
    submit = SubmitField("Grant extension")


class AdminExtensionForm(ExtensionForm):
    """An admin chooses the trainee."""

    user_id = SelectField("Trainee", coerce=int, validators=[InputRequired("Choose the trainee.")])


class QueueForm(BaseForm):
    """Filters of the marking queue (GET)."""

    class Meta:
        csrf = False

    course_id = SelectField("Course", coerce=lambda v: int(v) if v else None, validate_choice=False)
    assignment_id = SelectField("Assignment", coerce=lambda v: int(v) if v else None, validate_choice=False)
    state = SelectField(
        "State",
        choices=[
            SelectChoice("", "To do (not released)"),
            *(SelectChoice(s.value, s.label) for s in MarkingState),
            SelectChoice("overdue", "Overdue"),
            SelectChoice("all", "All"),
        ],
        default="",
    )
    late = SelectField(
        "Late",
        choices=[
            SelectChoice("", "Late or on time"),
            SelectChoice("yes", "Late only"),
            SelectChoice("no", "On time only"),
        ],
        default="",
    )


class AssignmentForm(BaseForm):
    """An assignment's settings (admins)."""

    ORDER = (
        "title",
        "brief",
        "accepts_text",
        "word_limit",
        "accepts_files",
        "file_types",
        "max_file_size_mb",
        "max_files",
        "opens_at",
        "due_at",
        "cutoff_at",
        "max_attempts",
        "is_required",
        "is_blind",
        "is_moderated",
        "moderation_share",
        "marking_days",
    )

    title = StringField("Title", validators=[DataRequired("Give the assignment a title."), Length(max=200)])
    brief = TextAreaField(
        "Brief", validators=[Length(max=50_000)], description="Markdown: headings, lists, links."
    )
    accepts_text = BooleanField("Trainees write their answer online")
    word_limit = IntegerField("Word limit", validators=[Optional(), NumberRange(min=1, max=100_000)])
    accepts_files = BooleanField("Trainees upload files")
    file_types = CheckboxesField(
        "File types accepted",
        choices=[SelectChoice(ext, f"{t.label} (.{ext})") for ext, t in FILE_TYPES.items()],
    )
    max_file_size_mb = IntegerField(
        "Largest file, in MB", default=10, validators=[Optional(), NumberRange(min=1, max=100)]
    )
    max_files = IntegerField(
        "Most files per attempt", default=1, validators=[Optional(), NumberRange(min=1, max=20)]
    )
    opens_at = DateTimeLocalField("Opens (UTC)", validators=[Optional()])
    due_at = DateTimeLocalField("Due (UTC)", validators=[InputRequired("Enter the due date.")])
    cutoff_at = DateTimeLocalField(
        "Cut-off (UTC)",
        validators=[Optional()],
        description="Nothing is accepted after this without an extension. Empty: late work is always taken.",
    )
    max_attempts = IntegerField(
        "Attempts",
        default=2,
        validators=[InputRequired("Enter the number of attempts."), NumberRange(min=1, max=10)],
        description="A first attempt plus resubmissions after a referral.",
    )
    is_required = BooleanField("Passing it is needed to complete the course", default=True)
    is_blind = BooleanField("Blind marking: markers see participant numbers, not names")
    is_moderated = BooleanField("Moderation: a second assessor checks a sample of marks")
    moderation_share = IntegerField(
        "Share of passes moderated, per cent",
        default=20,
        validators=[Optional(), NumberRange(min=0, max=100)],
        description="Every fail and referral is moderated.",
    )
    marking_days = IntegerField(
        "Days to mark", default=14, validators=[Optional(), NumberRange(min=1, max=90)]
    )
    submit = SubmitField("Save assignment")

    def data_for_service(self) -> dict:
        """The fields as :func:`lms.assessments.assignments.save_assignment` takes them."""
        data = {name: getattr(self, name).data for name in self.ORDER if name != "max_file_size_mb"}
        data["file_types"] = list(self.file_types.data or [])
        data["max_file_size"] = (self.max_file_size_mb.data or 10) * 1024 * 1024
        for name, default in (("max_files", 1), ("moderation_share", 20), ("marking_days", 14)):
            if data[name] is None:
                data[name] = default
        data["brief"] = data["brief"] or ""
        return data


class LevelForm(BaseForm):
    """A rubric level (inside a criterion)."""

    class Meta:
        csrf = False

    points = IntegerField("Points", validators=[Optional(), NumberRange(min=0, max=1000)])
    descriptor = TextAreaField("Descriptor", validators=[Length(max=2000)])


class CriterionForm(BaseForm):
    """A rubric criterion with its levels (inside the scheme form)."""

    class Meta:
        csrf = False

    title = StringField("Criterion", validators=[Length(max=200)])
    description = TextAreaField("What it looks for", validators=[Length(max=2000)])
    levels = FieldList(FormField(LevelForm), min_entries=0)


class SchemeForm(BaseForm):
    """An assignment's marking scheme: a rubric or a mark out of N."""

    kind = RadioField(
        "Marking scheme", choices=[SelectChoice(k.value, k.label) for k in SchemeKind], default="rubric"
    )
    max_points = IntegerField("Mark out of", validators=[Optional(), NumberRange(min=1, max=1000)])
    pass_mark = IntegerField(
        "Pass mark (points)", validators=[InputRequired("Enter the pass mark."), NumberRange(min=0)]
    )
    criteria = FieldList(FormField(CriterionForm), min_entries=0)
    submit = SubmitField("Save marking scheme")

    def data_for_service(self) -> dict:
        """The scheme as :func:`lms.assessments.assignments.save_scheme` takes it."""
        return {
            "kind": self.kind.data,
            "max_points": self.max_points.data,
            "pass_mark": self.pass_mark.data,
            "criteria": [
                {
                    "title": c.form.title.data,
                    "description": c.form.description.data,
                    "levels": [
                        {"points": lv.form.points.data, "descriptor": lv.form.descriptor.data}
                        for lv in c.form.levels
                    ],
                }
                for c in self.criteria
            ],
        }


class PoolForm(BaseForm):
    """A course's assessors."""

    assessor_ids = CheckboxesField("Assessors", coerce=int)
    submit = SubmitField("Save assessors")


class BulkForm(BaseForm):
    """Submissions chosen on the admin list, and what to do with them."""

    submission_ids = CheckboxesField("Submissions", coerce=int, validate_choice=False)
    marker_id = SelectField("Allocate to", coerce=lambda v: int(v) if v else None, validate_choice=False)
    allocate = SubmitField("Allocate")
    release = SubmitField("Release marks")


class ModeratorForm(BaseForm):
    """Who moderates a sampled mark."""

    moderator_id = SelectField("Moderator", coerce=int, validate_choice=False)
    submit = SubmitField("Choose moderator")
