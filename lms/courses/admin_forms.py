"""Forms for the admin pages that build courses, modules, knowledge checks and cohorts."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NoneOf, NumberRange, Optional

from lms.courses.catalogue import COURSE_FIELDS
from lms.courses.cohorts import COHORT_FIELDS
from lms.courses.content import MAX_OPTIONS, QuestionInput
from lms.courses.models import Course, CourseStatus, DeliveryFormat, KnowledgeCheck
from lms.forms import BaseForm, CheckboxesField

#: UK convention, shown next to the hours and credits fields.
CREDIT_HINT = (
    "UK convention: 1 credit stands for 10 notional learning hours (a 6-credit course is about 60 hours)."
)

MARKDOWN_HINT = (
    "Markdown: ## for a heading, **bold**, *italic*, - for a list, [text](https://…) for a link, "
    "![description](https://…) for an image, and tables. "
    "HTML is shown as text and anything unsafe is removed."
)


def _format_choices():
    return [SelectChoice(f.value, f.label) for f in DeliveryFormat]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _whole_number(message: str):
    return [Optional(), NumberRange(min=0, message=message)]


class CourseSearchForm(BaseForm):
    """Find courses by text and status."""

    class Meta:
        csrf = False

    q = StringField("Search by code, title or summary", validators=[Optional(), Length(max=100)])
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")] + [SelectChoice(s.value, s.label) for s in CourseStatus],
        validators=[Optional()],
    )


class CourseForm(BaseForm):
    """Create or edit a course, with its prerequisites and credit rule."""

    @staticmethod
    def data_of(course: Course) -> dict:
        """A saved course as the form's data."""
        rule = course.credit_rule
        return {
            "code": course.code,
            "title": course.title,
            "summary": course.summary,
            "provider_id": course.provider_id,
            "delivery_format": course.delivery_format.value,
            "notional_hours": course.notional_hours,
            "audience": course.audience,
            "status": course.status.value,
            "is_self_enrol": course.is_self_enrol,
            "prerequisite_ids": [c.id for c in course.prerequisites],
            "awarding_body_id": rule.awarding_body_id if rule else 0,
            "credits": rule.credits if rule else None,
            "level": rule.level if rule else "",
        }

    code = StringField(
        "Code",
        validators=[
            DataRequired("Enter a course code."),
            Length(max=20, message="Use at most 20 characters."),
        ],
        description="Short and unique, e.g. FIP101. Stored in capitals.",
    )
    title = StringField(
        "Title",
        validators=[
            DataRequired("Enter the course title."),
            Length(max=200, message="Use at most 200 characters."),
        ],
    )
    summary = TextAreaField(
        "Summary",
        validators=[Optional(), Length(max=5000, message="Use at most 5,000 characters.")],
        description="Plain text, shown in the catalogue. Leave a blank line between paragraphs.",
        render_kw={"rows": 5},
    )
    provider_id = SelectField(
        "Provider",
        coerce=int,
        validators=[
            InputRequired("Choose the organisation that provides the course."),
            NoneOf([0], message="Choose the organisation that provides the course."),
        ],
    )
    delivery_format = SelectField(
        "Delivery format", choices=_format_choices(), validators=[InputRequired("Choose a format.")]
    )
    notional_hours = IntegerField(
        "Notional learning hours",
        validators=_whole_number("Enter a whole number of hours, 0 or more."),
        description=CREDIT_HINT,
        render_kw={"inputmode": "numeric"},
    )
    audience = StringField(
        "Audience",
        validators=[Optional(), Length(max=300, message="Use at most 300 characters.")],
        description="Who the course is for, e.g. “staff and volunteers”.",
    )
    status = SelectField(
        "Status",
        choices=[SelectChoice(s.value, s.label) for s in CourseStatus],
        validators=[InputRequired("Choose the status.")],
        description="Only published courses are shown to trainees and take enrolments.",
    )
    is_self_enrol = BooleanField("Trainees may enrol themselves", default=True)
    prerequisite_ids = CheckboxesField("Prerequisites", coerce=int, choices=[], validate_choice=False)
    awarding_body_id = SelectField(
        "Awarding body",
        coerce=int,
        description="The university that awards credits for this course. Choose “No credits” for none.",
    )
    credits = IntegerField(
        "Credits",
        validators=_whole_number("Enter a whole number of credits."),
        description=CREDIT_HINT,
        render_kw={"inputmode": "numeric"},
    )
    level = StringField(
        "Level",
        validators=[Optional(), Length(max=60, message="Use at most 60 characters.")],
        description="Framework level, e.g. “FHEQ level 6”.",
    )
    submit = SubmitField("Save course")

    #: The order the page shows the fields in (for the error summary).
    ORDER = (
        *COURSE_FIELDS,
        "prerequisite_ids",
        "awarding_body_id",
        "credits",
        "level",
    )

    def set_choices(self, providers, awarding_bodies, other_courses) -> None:
        """Fill the organisation and prerequisite choices."""
        self.provider_id.choices = [SelectChoice(0, "Choose the provider")] + [
            SelectChoice(o.id, o.name) for o in providers
        ]
        self.awarding_body_id.choices = [SelectChoice(0, "No credits")] + [
            SelectChoice(o.id, o.name) for o in awarding_bodies
        ]
        self.prerequisite_ids.choices = [SelectChoice(c.id, f"{c.code}: {c.title}") for c in other_courses]

    def suggest_credits(self, hours: int | None) -> None:
        """Say how many credits the course's hours stand for, by the UK convention."""
        if hours:
            self.credits.description = (
                f"{CREDIT_HINT} This course's {hours} notional hours would be {hours / 10:g} credits."
            )

    def service_data(self) -> dict:
        """The course fields as ``catalogue.save_course`` takes them."""
        body = self.awarding_body_id.data or 0
        credits = self.credits.data
        rule = None
        if body or credits is not None or (self.level.data or "").strip():
            rule = {"awarding_body_id": body, "credits": credits, "level": self.level.data or ""}
        return {
            "code": self.code.data or "",
            "title": (self.title.data or "").strip(),
            "summary": (self.summary.data or "").strip(),
            "provider_id": self.provider_id.data or 0,
            "delivery_format": DeliveryFormat(self.delivery_format.data),
            "notional_hours": self.notional_hours.data or 0,
            "audience": (self.audience.data or "").strip(),
            "status": CourseStatus(self.status.data),
            "is_self_enrol": bool(self.is_self_enrol.data),
            "prerequisite_ids": list(self.prerequisite_ids.data or []),
            "credits": rule,
        }


class ModuleForm(BaseForm):
    """Add or edit a module; "Preview" shows the rendered content without saving."""

    title = StringField(
        "Title",
        validators=[
            DataRequired("Enter the module title."),
            Length(max=200, message="Use at most 200 characters."),
        ],
    )
    content = TextAreaField("Content", description=MARKDOWN_HINT, render_kw={"rows": 14})
    estimated_minutes = IntegerField(
        "Estimated minutes",
        validators=[
            InputRequired("Enter how many minutes the module takes."),
            NumberRange(min=1, max=6000, message="Enter a whole number of minutes from 1 to 6,000."),
        ],
        default=15,
        render_kw={"inputmode": "numeric"},
    )
    is_required = RadioField(
        "Does the module count towards completion?",
        choices=[
            SelectChoice("required", "Required: trainees must complete it"),
            SelectChoice("optional", "Optional: extra reading, not needed to complete the course"),
        ],
        default="required",
    )
    preview = SubmitField("Preview")
    submit = SubmitField("Save module")

    ORDER = ("title", "content", "estimated_minutes", "is_required")

    def service_data(self) -> dict:
        """The module fields as ``content.save_module`` takes them."""
        return {
            "title": (self.title.data or "").strip(),
            "content": self.content.data or "",
            "estimated_minutes": self.estimated_minutes.data,
            "is_required": self.is_required.data != "optional",
        }


class LinkResourceForm(BaseForm):
    """Offer a link with a module."""

    title = StringField(
        "Link title",
        validators=[
            DataRequired("Enter a title for the link."),
            Length(max=200, message="Use at most 200 characters."),
        ],
    )
    url = URLField(
        "Web address",
        validators=[
            DataRequired("Enter the web address."),
            Length(max=2000, message="Use at most 2,000 characters."),
        ],
        description="Starting with https:// or http://.",
    )
    submit = SubmitField("Add link")


class UploadResourceForm(BaseForm):
    """Offer a file with a module."""

    title = StringField(
        "File title",
        validators=[
            DataRequired("Enter a title for the file."),
            Length(max=200, message="Use at most 200 characters."),
        ],
    )
    file = FileField("File", validators=[FileRequired("Choose a file to upload.")])
    submit = SubmitField("Upload file")


class QuestionForm(Form):
    """One question block of the knowledge-check editor; checked by the service, not here."""

    prompt = TextAreaField("Question", render_kw={"rows": 2})
    options = FieldList(StringField("Option"), min_entries=MAX_OPTIONS, max_entries=MAX_OPTIONS)
    correct = RadioField(
        "Correct option",
        choices=[SelectChoice(i, f"Option {i + 1}") for i in range(MAX_OPTIONS)],
        coerce=int,
        validate_choice=False,
        validators=[Optional()],
    )
    explanation = TextAreaField("Explanation", render_kw={"rows": 2})

    def is_blank(self) -> bool:
        """Nothing typed in this block."""
        texts = [self.prompt.data, self.explanation.data, *(o.data for o in self.options)]
        return not any((t or "").strip() for t in texts)

    def as_data(self) -> dict:
        """The block's values, to build the form again."""
        return {
            "prompt": self.prompt.data or "",
            "options": [o.data or "" for o in self.options],
            "correct": self.correct.data,
            "explanation": self.explanation.data or "",
        }


class KnowledgeCheckEditForm(BaseForm):
    """A module's knowledge check: pass mark and questions."""

    pass_mark = IntegerField(
        "Pass mark (%)",
        validators=[
            InputRequired("Enter the pass mark."),
            NumberRange(min=1, max=100, message="Enter a percentage from 1 to 100."),
        ],
        default=80,
        description="The share of questions a trainee must answer correctly.",
        render_kw={"inputmode": "numeric"},
    )
    questions = FieldList(FormField(QuestionForm), min_entries=1)
    add_question = SubmitField("Add another question")
    submit = SubmitField("Save knowledge check")

    @staticmethod
    def blank_question() -> dict:
        """An empty question block, with room for every option."""
        return {"prompt": "", "options": [""] * MAX_OPTIONS, "correct": None, "explanation": ""}

    @classmethod
    def from_blocks(cls, pass_mark, blocks: list[dict]) -> KnowledgeCheckEditForm:
        """The editor built from values (not from the request), e.g. with a block added or removed."""
        return cls(
            formdata=None, data={"pass_mark": pass_mark, "questions": blocks or [cls.blank_question()]}
        )

    @staticmethod
    def blocks_of(check: KnowledgeCheck | None) -> list[dict]:
        """A saved check's questions as editor blocks."""
        if check is None:
            return []
        blocks = []
        for question in check.questions:
            texts = [o.text for o in question.options]
            blocks.append(
                {
                    "prompt": question.prompt,
                    "options": texts + [""] * (MAX_OPTIONS - len(texts)),
                    "correct": next((i for i, o in enumerate(question.options) if o.is_correct), None),
                    "explanation": question.explanation,
                }
            )
        return blocks

    @staticmethod
    def question_input(block: dict) -> QuestionInput:
        """A block as the service takes it: the filled-in options, and the chosen one's place among them."""
        filled = [(i, text.strip()) for i, text in enumerate(block["options"]) if text and text.strip()]
        correct = next((n for n, (i, _text) in enumerate(filled) if i == block["correct"]), -1)
        return QuestionInput(
            prompt=block["prompt"],
            options=[t for _i, t in filled],
            correct=correct,
            explanation=block["explanation"],
        )


class CohortForm(BaseForm):
    """Create or edit a cohort (one run of a course)."""

    name = StringField(
        "Name",
        validators=[
            DataRequired("Enter a name for the cohort."),
            Length(max=200, message="Use at most 200 characters."),
        ],
        description="e.g. “Spring 2027, Cardiff”.",
    )
    starts_on = DateField("Starts on", validators=[InputRequired("Enter the start date.")])
    ends_on = DateField("Ends on", validators=[InputRequired("Enter the end date.")])
    delivery_format = SelectField(
        "Delivery format", choices=_format_choices(), validators=[InputRequired("Choose a format.")]
    )
    location = StringField(
        "Location",
        validators=[Optional(), Length(max=300, message="Use at most 300 characters.")],
        description="The venue, for face-to-face and blended runs.",
    )
    capacity = IntegerField(
        "Capacity",
        validators=[Optional()],
        description="Most people who can take a place. Leave empty for no limit.",
        render_kw={"inputmode": "numeric"},
    )
    has_waiting_list = BooleanField("Keep a waiting list when the cohort is full", default=True)
    enrolment_opens_on = DateField(
        "Enrolment opens on", validators=[Optional()], description="If empty, enrolment is open already."
    )
    enrolment_closes_on = DateField(
        "Enrolment closes on",
        validators=[Optional()],
        description="If empty, enrolment closes when the cohort ends.",
    )
    facilitator_ids = CheckboxesField("Facilitators", coerce=int, choices=[], validate_choice=False)
    submit = SubmitField("Save cohort")

    ORDER = (*COHORT_FIELDS, "facilitator_ids")

    def set_facilitators(self, people) -> None:
        """Fill the facilitator choices (assessors and admins)."""
        self.facilitator_ids.choices = [SelectChoice(p.id, f"{p.name} ({p.email})") for p in people]

    def service_data(self) -> dict:
        """The cohort fields as ``cohorts.save_cohort`` takes them."""
        return {
            "name": (self.name.data or "").strip(),
            "starts_on": self.starts_on.data,
            "ends_on": self.ends_on.data,
            "delivery_format": DeliveryFormat(self.delivery_format.data),
            "location": (self.location.data or "").strip(),
            "capacity": self.capacity.data,
            "has_waiting_list": bool(self.has_waiting_list.data),
            "enrolment_opens_on": self.enrolment_opens_on.data,
            "enrolment_closes_on": self.enrolment_closes_on.data,
        }


class EnrolPersonForm(BaseForm):
    """An admin enrols a person, by email, optionally into a cohort."""

    email = EmailField(
        "Email address of the person",
        filters=[_strip],
        validators=[
            DataRequired("Enter the person's email address."),
            Email("Enter a valid email address."),
            Length(max=254),
        ],
    )
    cohort_id = SelectField("Cohort", coerce=int)
    submit = SubmitField("Enrol")

    def set_cohorts(self, cohorts) -> None:
        """Fill the cohort choices."""
        self.cohort_id.choices = [SelectChoice(0, "No cohort")] + [
            SelectChoice(c.id, f"{c.name} ({c.starts_on:%-d %b %Y})") for c in cohorts
        ]


class WithdrawPersonForm(BaseForm):
    """Confirm a withdrawal, with a reason for the record."""

    reason = TextAreaField(
        "Reason",
        validators=[Optional(), Length(max=500, message="Use at most 500 characters.")],
        render_kw={"rows": 3},
    )
    submit = SubmitField("Withdraw from the course")
