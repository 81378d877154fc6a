"""Trainee forms: catalogue search, enrolment, withdrawal and knowledge checks."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SearchField,
    SelectField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from lms.courses.models import CourseStatus, DeliveryFormat
from lms.database import MAX_ID
from lms.forms import BaseForm


class CatalogueForm(BaseForm):
    """Search and filters of the course catalogue (a GET form)."""

    class Meta:
        """A search changes nothing: no CSRF token."""

        csrf = False

    q = SearchField("Search by title, code or description", validators=[Optional(), Length(max=100)])
    provider_id = SelectField("Provider", coerce=int, default=0)
    delivery_format = SelectField(
        "Delivery format",
        default="",
        choices=[SelectChoice("", "Any format")] + [SelectChoice(f.value, f.label) for f in DeliveryFormat],
    )
    has_credits = BooleanField("Only courses that carry university credits")
    status = SelectField(
        "Status",
        default="",
        choices=[SelectChoice("", "Any status")] + [SelectChoice(s.value, s.label) for s in CourseStatus],
    )

    def set_providers(self, providers) -> None:
        """Offer the organisations that provide visible courses."""
        self.provider_id.choices = [SelectChoice(0, "Any provider")] + [
            SelectChoice(p.id, p.name) for p in providers
        ]


class EnrolForm(BaseForm):
    """Enrol oneself, into a cohort when the course runs in cohorts."""

    cohort_id = HiddenField(validators=[Optional()])

    def cohort_id_value(self) -> int | None:
        """The chosen cohort's id; ``None`` when none was chosen; ``0`` (no cohort) when not an id."""
        if not self.cohort_id.data:
            return None
        try:
            value = int(self.cohort_id.data)
        except ValueError:
            return 0
        return value if 0 < value <= MAX_ID else 0


class WithdrawForm(BaseForm):
    """Confirm a withdrawal, optionally saying why."""

    reason = TextAreaField(
        "Why are you withdrawing?",
        validators=[Optional(), Length(max=500, message="Keep the reason under 500 characters.")],
        description="This helps the programme team; you can leave it empty.",
    )
    submit = SubmitField("Withdraw from the course")


class CompleteForm(BaseForm):
    """Mark a module without a knowledge check as complete."""


class KnowledgeCheckForm(BaseForm):
    """Answers to a knowledge check: one group of options per question, named ``question-<id>``."""

    submit = SubmitField("Submit answers")

    @classmethod
    def for_check(cls, check, **kwargs) -> KnowledgeCheckForm:
        """A form for ``check``'s questions; whether each is answered is the service's rule."""

        class Form(cls):
            pass

        total = len(check.questions)
        for n, question in enumerate(check.questions, start=1):
            field = RadioField(
                f"Question {n} of {total}: {question.prompt}",
                choices=[SelectChoice(option.id, option.text) for option in question.options],
                coerce=int,
                validate_choice=False,
            )
            setattr(Form, f"question-{question.id}", field)
        form = Form(**kwargs)
        form.question_ids = [question.id for question in check.questions]
        return form

    def question_fields(self) -> list:
        """The answer fields, in question order."""
        return [self[f"question-{qid}"] for qid in self.question_ids]

    def answers(self) -> dict[int, int]:
        """``{question_id: option_id}`` for the questions answered."""
        return {
            qid: self[f"question-{qid}"].data
            for qid in self.question_ids
            if self[f"question-{qid}"].data is not None
        }
