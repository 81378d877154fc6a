"""Trainee pages: catalogue, course, enrolment, modules and knowledge checks."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.content import render_markdown
from lms.courses import enrolment as enrolling
from lms.courses import progress
from lms.courses.catalogue import (
    CatalogueFilter,
    catalogue_providers,
    catalogue_query,
    get_course,
    missing_prerequisites,
)
from lms.courses.cohorts import get_cohort, open_cohorts
from lms.courses.content import (
    active_modules,
    get_file_resource,
    knowledge_checks_for,
    latest_attempt,
    modules_with_knowledge_check,
    resources_of,
)
from lms.courses.enrolment import get_module_for, has_cohorts, own_enrolment
from lms.courses.forms import CatalogueForm, CompleteForm, EnrolForm, KnowledgeCheckForm, WithdrawForm
from lms.courses.models import CourseStatus, DeliveryFormat, EnrolmentStatus
from lms.courses.progress import (
    EnrolmentSummary,
    completed_module_ids,
    dashboard,
    open_module,
    submit_knowledge_check,
)
from lms.courses.sections import course_sections
from lms.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.forms import apply_domain_errors
from lms.pagination import Page, page_arg, paginate
from lms.permissions import Role, authenticated, is_admin, roles_required
from lms.storage import services as storage

bp = Blueprint("courses", __name__, url_prefix="/courses", template_folder="templates")
PER_PAGE = 20


# --- catalogue ---------------------------------------------------------------------------


@bp.route("")
@authenticated
def catalogue():
    """Courses to browse: published ones (admins also see drafts and archived ones)."""
    form = CatalogueForm(request.args)
    form.set_providers(catalogue_providers(current_user))
    if not is_admin(current_user):
        del form.status
    is_valid = form.validate()
    filters = CatalogueFilter()
    if is_valid:
        filters.q = (form.q.data or "").strip()
        filters.provider_id = form.provider_id.data or None
        if form.delivery_format.data:
            filters.delivery_format = DeliveryFormat(form.delivery_format.data)
        filters.has_credits = True if form.has_credits.data else None
        if "status" in form and form.status.data:
            filters.status = CourseStatus(form.status.data)
    page = paginate(catalogue_query(current_user, filters), page_arg(), PER_PAGE)
    is_filtered = bool(filters.q or filters.provider_id or filters.delivery_format or filters.has_credits)
    return (
        render_template("courses/catalogue.html", form=form, page=page, is_filtered=is_filtered),
        200 if is_valid else 422,
    )


# --- course and enrolment ----------------------------------------------------------------


def _render_course(course, *, refusal: str | None = None, enrol_form=None, status: int = 200):
    """The course page; ``refusal`` is why an enrolment was just refused."""
    modules = active_modules([course.id])[course.id]
    with_check = modules_with_knowledge_check([m.id for m in modules])
    enrolment = own_enrolment(current_user, course)
    summary = None
    if enrolment is not None:
        done = completed_module_ids([enrolment.id])[enrolment.id]
        summary = EnrolmentSummary(enrolment, modules, done)
    missing = {c.id for c in missing_prerequisites(current_user, course)}
    is_studying = enrolment is not None and enrolment.is_current
    can_enrol = current_user.has_role(Role.TRAINEE) and not (
        enrolment is not None and not enrolment.status.is_ended
    )
    return (
        render_template(
            "courses/course.html",
            course=course,
            modules=modules,
            with_check=with_check,
            summary=summary,
            enrolment=enrolment,
            is_studying=is_studying,
            can_open_modules=is_studying or is_admin(current_user),
            missing=missing,
            can_enrol=can_enrol,
            cohorts=open_cohorts(course),
            has_cohorts=has_cohorts(course),
            enrol_form=enrol_form or EnrolForm(formdata=None),
            refusal=refusal,
            sections=course_sections(course, current_user, enrolment),
        ),
        status,
    )


@bp.route("/<int:course_id>")
@authenticated
def course(course_id: int):
    """A course: what it is, its modules, its dates, and the trainee's own enrolment."""
    return _render_course(get_course(current_user, course_id))


@bp.route("/<int:course_id>/enrol", methods=["POST"])
@roles_required(Role.TRAINEE)
def enrol(course_id: int):
    """Enrol oneself on a course, into the chosen cohort (or onto its waiting list)."""
    course = get_course(current_user, course_id)
    form = EnrolForm()
    if not form.validate_on_submit():
        return _render_course(course, refusal="The form had expired. Please try again.", status=400)
    cohort_id = form.cohort_id_value()
    cohort = get_cohort(course, cohort_id) if cohort_id is not None else None
    try:
        enrolment = enrolling.enrol(current_user, current_user, course, cohort)
    except (InvalidInput, Conflict, NotAllowed) as error:
        # Show the page as it really is: nothing of the refused enrolment is kept.
        db.session.rollback()
        return _render_course(course, refusal=error.message, status=error.status_code)
    if enrolment.status == EnrolmentStatus.WAITLISTED:
        flash(
            f"{cohort.name} is full, so you are on its waiting list. You will get a place "
            "as soon as one is free, in the order people joined.",
            "info",
        )
    else:
        where = f" ({cohort.name})" if cohort else ""
        flash(f"You are enrolled on {course.title}{where}.", "success")
    return redirect(url_for("courses.course", course_id=course.id))


@bp.route("/<int:course_id>/withdraw", methods=["GET", "POST"])
@roles_required(Role.TRAINEE)
def withdraw(course_id: int):
    """Confirm, then withdraw from a course; progress and history are kept."""
    course = get_course(current_user, course_id)
    enrolment = own_enrolment(current_user, course)
    if enrolment is None:
        raise NotFound("You are not enrolled on this course.")
    form = WithdrawForm()
    if form.validate_on_submit():
        enrolling.withdraw(current_user, enrolment, form.reason.data or "")
        flash(f"You have withdrawn from {course.title}. Your progress is kept if you enrol again.", "success")
        return redirect(url_for("courses.course", course_id=course.id))
    return (
        render_template("courses/withdraw.html", course=course, enrolment=enrolment, form=form),
        422 if form.errors else 200,
    )


# --- modules -----------------------------------------------------------------------------


def _attempt_review(check, attempt) -> list[dict]:
    """Each question of an attempt with the option chosen and whether it was right."""
    review = []
    for n, question in enumerate(check.questions, start=1):
        chosen_id = attempt.answers.get(str(question.id))
        chosen = next((o for o in question.options if o.id == chosen_id), None)
        review.append(
            {"n": n, "question": question, "chosen": chosen, "is_correct": bool(chosen and chosen.is_correct)}
        )
    return review


def _render_module(course, module, enrolment, *, check_form=None, status: int = 200):
    """The module page, for a trainee studying it or an admin previewing it."""
    modules = active_modules([course.id])[course.id]
    index = next(i for i, m in enumerate(modules) if m.id == module.id)
    done = completed_module_ids([enrolment.id])[enrolment.id] if enrolment else set()
    check = knowledge_checks_for([module.id]).get(module.id)
    attempt = latest_attempt(enrolment, check) if (enrolment and check) else None
    show_result = attempt is not None and check_form is None and not request.args.get("retake")
    if check and enrolment and check_form is None:
        check_form = KnowledgeCheckForm.for_check(check, formdata=None)
    return (
        render_template(
            "courses/module.html",
            course=course,
            module=module,
            enrolment=enrolment,
            summary=EnrolmentSummary(enrolment, modules, done) if enrolment else None,
            content=render_markdown(module.content),
            resources=resources_of([module.id])[module.id],
            position=index + 1,
            total=len(modules),
            previous=modules[index - 1] if index > 0 else None,
            following=modules[index + 1] if index + 1 < len(modules) else None,
            is_done=module.id in done,
            check=check,
            check_form=check_form,
            form=check_form,  # base.html prefixes the title with "Error:" when it has errors
            attempt=attempt if show_result else None,
            review=_attempt_review(check, attempt) if show_result else [],
            complete_form=CompleteForm(formdata=None),
            format_size=storage.format_size,
        ),
        status,
    )


@bp.route("/<int:course_id>/modules/<int:module_id>")
@roles_required(Role.TRAINEE, Role.ADMIN)
def module(course_id: int, module_id: int):
    """A module to study, or an admin's preview; showing it records nothing.

    A GET must not change anything (a prefetch, or a link on another site, would change a
    trainee's progress), so the page's script posts to :func:`record_opening` once the page
    is shown; without a script, marking the module complete or taking its check records it.
    """
    course = get_course(current_user, course_id)
    try:
        module, enrolment = get_module_for(current_user, course, module_id)
    except Conflict as error:  # on the waiting list, or withdrawn: the course page says what to do
        flash(error.message, "warning")
        return redirect(url_for("courses.course", course_id=course.id))
    return _render_module(course, module, enrolment)


@bp.route("/<int:course_id>/modules/<int:module_id>/open", methods=["POST"])
@roles_required(Role.TRAINEE)
def record_opening(course_id: int, module_id: int):
    """Record that the trainee opened a module ("continue where I left off"); posted by lms.js."""
    _course, module, enrolment = _studying(course_id, module_id)
    open_module(current_user, enrolment, module)
    return "", 204


def _studying(course_id: int, module_id: int):
    """The course, module and the trainee's own enrolment, for actions that record progress."""
    course = get_course(current_user, course_id)
    module, enrolment = get_module_for(current_user, course, module_id)
    if enrolment is None:
        raise NotFound("You are previewing this course: enrol on it to record progress.")
    return course, module, enrolment


def _after_progress(course, module, enrolment, was_completed: bool):
    """Where to go after a module is completed, saying so when the whole course just was."""
    if enrolment.status == EnrolmentStatus.COMPLETED and not was_completed:
        flash(f"Congratulations: you have completed {course.title}.", "success")
        return redirect(url_for("courses.course", course_id=course.id))
    return None


@bp.route("/<int:course_id>/modules/<int:module_id>/complete", methods=["POST"])
@roles_required(Role.TRAINEE)
def complete_module(course_id: int, module_id: int):
    """Mark a module without a knowledge check as complete, then go on to the next one."""
    course, module, enrolment = _studying(course_id, module_id)
    form = CompleteForm()
    if not form.validate_on_submit():
        flash("The form had expired. Please try again.", "error")
        return redirect(url_for("courses.module", course_id=course.id, module_id=module.id))
    was_completed = enrolment.status == EnrolmentStatus.COMPLETED
    # Without JavaScript nothing recorded the opening: the trainee had the page, so record it.
    open_module(current_user, enrolment, module)
    progress.complete_module(current_user, enrolment, module)
    finished = _after_progress(course, module, enrolment, was_completed)
    if finished:
        return finished
    flash(f"“{module.title}” is marked as complete.", "success")
    following = EnrolmentSummary(
        enrolment,
        active_modules([course.id])[course.id],
        completed_module_ids([enrolment.id])[enrolment.id],
    ).next_module
    if following is not None:
        return redirect(url_for("courses.module", course_id=course.id, module_id=following.id))
    return redirect(url_for("courses.course", course_id=course.id))


@bp.route("/<int:course_id>/modules/<int:module_id>/check", methods=["POST"])
@roles_required(Role.TRAINEE)
def submit_check(course_id: int, module_id: int):
    """Mark an attempt at the module's knowledge check and show the result."""
    course, module, enrolment = _studying(course_id, module_id)
    check = knowledge_checks_for([module.id]).get(module.id)
    if check is None:
        raise NotFound("This module has no knowledge check.")
    form = KnowledgeCheckForm.for_check(check)
    if form.validate_on_submit():
        was_completed = enrolment.status == EnrolmentStatus.COMPLETED
        try:
            submit_knowledge_check(current_user, enrolment, module, form.answers())
        except InvalidInput as error:
            apply_domain_errors(form, error)
        else:
            # The module page shows the attempt: score, pass or not, and each answer explained.
            finished = _after_progress(course, module, enrolment, was_completed)
            if finished:
                return finished
            target = url_for("courses.module", course_id=course.id, module_id=module.id)
            return redirect(f"{target}#check-result")
    return _render_module(course, module, enrolment, check_form=form, status=422)


@bp.route("/<int:course_id>/modules/<int:module_id>/resources/<int:resource_id>")
@roles_required(Role.TRAINEE, Role.ADMIN)
def resource(course_id: int, module_id: int, resource_id: int):
    """Download a file offered with a module, for whoever may open the module."""
    course = get_course(current_user, course_id)
    module, _enrolment = get_module_for(current_user, course, module_id)
    stored = get_file_resource(module, resource_id).stored_file
    try:
        return storage.send(stored, as_attachment=True)
    except FileNotFoundError:
        raise NotFound("This file is missing. Please tell the programme team.") from None


# --- my learning ---------------------------------------------------------------------------


@bp.route("/mine")
@roles_required(Role.TRAINEE)
def mine():
    """The trainee's enrolments, current first, with progress and where to continue."""
    learning = dashboard(current_user)
    number = page_arg()
    start = (number - 1) * PER_PAGE
    page = Page(items=learning[start : start + PER_PAGE], page=number, per_page=PER_PAGE, total=len(learning))
    return render_template("courses/mine.html", page=page)
