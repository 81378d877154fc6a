"""Admin pages to build courses, modules, knowledge checks and cohorts."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from lms.accounts import services as accounts
from lms.content import render_markdown
from lms.courses import content
from lms.courses import enrolment as enrolling
from lms.courses.admin_forms import (
    CohortForm,
    CourseForm,
    CourseSearchForm,
    EnrolPersonForm,
    KnowledgeCheckEditForm,
    LinkResourceForm,
    ModuleForm,
    UploadResourceForm,
    WithdrawPersonForm,
)
from lms.courses.catalogue import (
    CatalogueFilter,
    catalogue_query,
    course_history,
    get_course,
    other_courses,
    save_course,
)
from lms.courses.cohorts import COHORT_FIELDS, cohorts_for, get_cohort, save_cohort, waiting_list_sizes
from lms.courses.content import (
    course_outline,
    get_file_resource,
    get_module,
    get_resource,
    knowledge_checks_for,
    resources_of,
    save_knowledge_check,
    save_module,
    save_resource,
)
from lms.courses.enrolment import get_enrolment_for, own_enrolment
from lms.courses.models import (
    Cohort,
    Course,
    CourseStatus,
    EnrolmentStatus,
    Module,
)
from lms.errors import Conflict, InvalidInput, NotFound
from lms.extensions import db
from lms.forms import ConfirmForm, apply_domain_errors
from lms.organisations.models import OrganisationKind
from lms.organisations.services import all_organisations
from lms.pagination import page_arg, paginate
from lms.permissions import Role, roles_required
from lms.storage import services as storage
from lms.templating import add_nav_item

bp = Blueprint("course_admin", __name__, url_prefix="/admin/courses", template_folder="templates")
PER_PAGE = 25
#: Largest module resource accepted, unless ``MODULE_RESOURCE_MAX_SIZE`` says otherwise.
DEFAULT_RESOURCE_MAX_SIZE = 20 * 1024 * 1024
#: Empty question blocks shown under the existing ones (a new check gets one more).
EMPTY_QUESTION_BLOCKS = 1
HISTORY_LENGTH = 10


def init_admin_nav(app: Flask) -> None:
    """Put "Manage courses" in the admins' navigation."""
    add_nav_item(app, "Manage courses", "course_admin.courses", Role.ADMIN, order=70)


def _course(course_id: int) -> Course:
    return get_course(current_user, course_id)


def _discard_partial_change() -> None:
    """A refusing service may have flushed part of the change: drop it before showing the form again."""
    db.session.rollback()


def _status(form) -> int:
    return 422 if form.errors or form.form_errors else 200


def _progress_report_url(course: Course) -> str:
    """The course's progress report (built by the reports pages), by endpoint or by path."""
    try:
        return url_for("course_manage.course_progress", course_id=course.id)
    except BuildError:
        return f"/manage/courses/{course.id}/progress"


def resource_max_size() -> int:
    """The largest file accepted as a module resource, in bytes."""
    return int(current_app.config.get("MODULE_RESOURCE_MAX_SIZE") or DEFAULT_RESOURCE_MAX_SIZE)


# --- courses ---------------------------------------------------------------------------


@bp.route("/")
@roles_required(Role.ADMIN)
def courses():
    """Every course, whatever its status: searchable, filterable by status, paginated."""
    form = CourseSearchForm(request.args)
    filters = CatalogueFilter()
    if form.validate():
        filters.q = (form.q.data or "").strip()
        filters.status = CourseStatus(form.status.data) if form.status.data else None
    page = paginate(catalogue_query(current_user, filters), page_arg(), PER_PAGE)
    return render_template("courses/admin/courses.html", page=page, form=form, filters=filters)


def _course_choices(form: CourseForm, course: Course | None) -> None:
    organisations = all_organisations()
    others = other_courses(course)
    form.set_choices(
        organisations, [o for o in organisations if o.kind == OrganisationKind.AWARDING_BODY], others
    )


def _course_form_page(course: Course | None):
    form = CourseForm(
        data=CourseForm.data_of(course) if course is not None and request.method != "POST" else None
    )
    _course_choices(form, course)
    form.suggest_credits(course.notional_hours if course is not None else None)
    if form.validate_on_submit():
        try:
            saved = save_course(current_user, course, form.service_data())
        except InvalidInput as error:
            _discard_partial_change()
            apply_domain_errors(form, error)
            if course is not None:
                course = _course(course.id)
        else:
            flash(f"{saved.code} “{saved.title}” has been saved.", "success")
            return redirect(url_for("course_admin.course", course_id=saved.id))
    return render_template("courses/admin/course_form.html", form=form, course=course), _status(form)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_course():
    """Create a course."""
    return _course_form_page(None)


@bp.route("/<int:course_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_course(course_id: int):
    """Edit a course's details, prerequisites and credit rule."""
    return _course_form_page(_course(course_id))


@bp.route("/<int:course_id>")
@roles_required(Role.ADMIN)
def course(course_id: int):
    """A course as admins build it: details, modules in order, cohorts, enrolling, history."""
    course = _course(course_id)
    outline = course_outline(course)
    cohorts = cohorts_for(current_user, course)
    waiting = waiting_list_sizes(course)
    enrol_form = EnrolPersonForm(formdata=None)
    enrol_form.set_cohorts(cohorts)
    return render_template(
        "courses/admin/course.html",
        course=course,
        modules=outline.modules,
        retired=outline.retired,
        questions=outline.questions,
        resources=outline.resources,
        cohorts=cohorts,
        waiting=waiting,
        enrol_form=enrol_form,
        button_form=ConfirmForm(formdata=None),
        history=course_history(course, HISTORY_LENGTH),
        progress_url=_progress_report_url(course),
    )


# --- modules ---------------------------------------------------------------------------


def _module_form_page(course: Course, module: Module | None):
    data = None
    if module is not None and request.method != "POST":
        data = {
            "title": module.title,
            "content": module.content,
            "estimated_minutes": module.estimated_minutes,
            "is_required": "required" if module.is_required else "optional",
        }
    form = ModuleForm(data=data)
    preview = None
    if form.is_submitted() and form.preview.data:
        preview = render_markdown(form.content.data or "")
    elif form.validate_on_submit():
        try:
            saved = save_module(current_user, course, module, form.service_data())
        except InvalidInput as error:
            _discard_partial_change()
            apply_domain_errors(form, error)
            course = _course(course.id)
        else:
            flash(f"The module “{saved.title}” has been saved.", "success")
            return redirect(url_for("course_admin.course", course_id=course.id, _anchor=f"module-{saved.id}"))
    return (
        render_template(
            "courses/admin/module_form.html", form=form, course=course, module=module, preview=preview
        ),
        _status(form),
    )


@bp.route("/<int:course_id>/modules/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_module(course_id: int):
    """Add a module at the end of a course."""
    return _module_form_page(_course(course_id), None)


@bp.route("/<int:course_id>/modules/<int:module_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_module(course_id: int, module_id: int):
    """Edit a module; trainees' progress on it is kept."""
    course = _course(course_id)
    return _module_form_page(course, get_module(course, module_id))


@bp.route("/<int:course_id>/modules/<int:module_id>/move", methods=["POST"])
@roles_required(Role.ADMIN)
def move_module(course_id: int, module_id: int):
    """Move a module one place up or down."""
    course = _course(course_id)
    module = get_module(course, module_id)
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        abort(400, "Say whether to move the module up or down.")
    content.move_module(current_user, course, module, -1 if direction == "up" else 1)
    flash(f"“{module.title}” has been moved {direction}.", "success")
    return redirect(url_for("course_admin.course", course_id=course.id, _anchor=f"module-{module.id}"))


@bp.route("/<int:course_id>/modules/<int:module_id>/retire", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def retire_module(course_id: int, module_id: int):
    """Confirm, then take a module out of the course; trainees' progress is kept."""
    course = _course(course_id)
    module = get_module(course, module_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        content.retire_module(current_user, module)
        flash(f"The module “{module.title}” has been retired.", "success")
        return redirect(url_for("course_admin.course", course_id=course.id, _anchor="modules"))
    return render_template("courses/admin/retire_module.html", course=course, module=module, form=form)


# --- resources -------------------------------------------------------------------------


@bp.route("/<int:course_id>/modules/<int:module_id>/resources", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def module_resources(course_id: int, module_id: int):
    """A module's links and files: list them, add a link, upload a file."""
    course = _course(course_id)
    module = get_module(course, module_id)
    link_form = LinkResourceForm(prefix="link")
    upload_form = UploadResourceForm(prefix="upload")
    upload_form.file.description = f"Up to {storage.format_size(resource_max_size())}."
    if link_form.submit.data and link_form.validate_on_submit():
        try:
            save_resource(module, title=link_form.title.data, url=(link_form.url.data or "").strip())
        except InvalidInput as error:
            _discard_partial_change()
            apply_domain_errors(link_form, error)
        else:
            flash(f"The link “{link_form.title.data.strip()}” has been added.", "success")
            return redirect(
                url_for("course_admin.module_resources", course_id=course.id, module_id=module.id)
            )
    elif upload_form.submit.data and upload_form.validate_on_submit():
        upload = upload_form.file.data
        try:
            stored = storage.save(
                upload, upload.filename, upload.mimetype, actor=current_user, max_size=resource_max_size()
            )
            save_resource(module, title=upload_form.title.data, stored_file=stored)
        except InvalidInput as error:
            _discard_partial_change()
            apply_domain_errors(upload_form, error)
        else:
            flash(f"The file “{upload_form.title.data.strip()}” has been uploaded.", "success")
            return redirect(
                url_for("course_admin.module_resources", course_id=course.id, module_id=module.id)
            )
    if link_form.errors or link_form.form_errors or upload_form.errors or upload_form.form_errors:
        status = 422
        course = _course(course_id)
        module = get_module(course, module_id)
    else:
        status = 200
    return (
        render_template(
            "courses/admin/resources.html",
            course=course,
            module=module,
            resources=resources_of([module.id])[module.id],
            link_form=link_form,
            upload_form=upload_form,
            button_form=ConfirmForm(formdata=None),
            format_size=storage.format_size,
        ),
        status,
    )


@bp.route("/<int:course_id>/modules/<int:module_id>/resources/<int:resource_id>/file")
@roles_required(Role.ADMIN)
def resource_file(course_id: int, module_id: int, resource_id: int):
    """Download an uploaded resource, to check it."""
    course = _course(course_id)
    resource = get_file_resource(get_module(course, module_id), resource_id)
    return storage.send(resource.stored_file)


@bp.route("/<int:course_id>/modules/<int:module_id>/resources/<int:resource_id>/remove", methods=["POST"])
@roles_required(Role.ADMIN)
def remove_resource(course_id: int, module_id: int, resource_id: int):
    """Stop offering a link or file with a module."""
    course = _course(course_id)
    module = get_module(course, module_id)
    resource = get_resource(module, resource_id)
    title = resource.title
    content.remove_resource(current_user, resource)
    flash(f"“{title}” has been removed.", "success")
    return redirect(url_for("course_admin.module_resources", course_id=course.id, module_id=module.id))


# --- knowledge checks ------------------------------------------------------------------


@bp.route("/<int:course_id>/modules/<int:module_id>/check", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def knowledge_check(course_id: int, module_id: int):
    """Create or replace a module's knowledge check; past attempts are kept."""
    course = _course(course_id)
    module = get_module(course, module_id)
    check = knowledge_checks_for([module.id]).get(module.id)
    if request.method != "POST":
        saved = KnowledgeCheckEditForm.blocks_of(check)
        blanks = EMPTY_QUESTION_BLOCKS + (0 if saved else 1)
        form = KnowledgeCheckEditForm.from_blocks(
            check.pass_mark if check else 80, saved + [KnowledgeCheckEditForm.blank_question()] * blanks
        )
        return render_template(
            "courses/admin/knowledge_check.html", course=course, module=module, form=form, check=check
        )

    posted = KnowledgeCheckEditForm()
    blocks = [entry.form.as_data() for entry in posted.questions]
    status = 200
    remove = request.form.get("remove_question", "")
    if posted.add_question.data:
        form = KnowledgeCheckEditForm.from_blocks(
            posted.pass_mark.data, [*blocks, KnowledgeCheckEditForm.blank_question()]
        )
        form.pass_mark.raw_data = posted.pass_mark.raw_data
    elif remove.isdigit():
        kept = [b for n, b in enumerate(blocks) if n != int(remove)]
        form = KnowledgeCheckEditForm.from_blocks(posted.pass_mark.data, kept)
        form.pass_mark.raw_data = posted.pass_mark.raw_data
    elif posted.validate():
        filled = [entry.form.as_data() for entry in posted.questions if not entry.form.is_blank()]
        try:
            save_knowledge_check(
                current_user,
                module,
                posted.pass_mark.data,
                [KnowledgeCheckEditForm.question_input(b) for b in filled],
            )
        except InvalidInput as error:
            _discard_partial_change()
            # Rebuilt without the empty blocks, so that "Question 2" in a message is the second one shown.
            form = KnowledgeCheckEditForm.from_blocks(
                posted.pass_mark.data, [*filled, KnowledgeCheckEditForm.blank_question()]
            )
            apply_domain_errors(form, error)
            status = 422
            course = _course(course_id)
            module = get_module(course, module_id)
        else:
            flash(f"The knowledge check for “{module.title}” has been saved.", "success")
            return redirect(
                url_for("course_admin.course", course_id=course.id, _anchor=f"module-{module.id}")
            )
    else:
        form, status = posted, 422
    return (
        render_template(
            "courses/admin/knowledge_check.html", course=course, module=module, form=form, check=check
        ),
        status,
    )


# --- cohorts ---------------------------------------------------------------------------


def _facilitator_choices(form: CohortForm) -> None:
    form.set_facilitators(accounts.people_with_roles([Role.ASSESSOR, Role.ADMIN]))


def _cohort_form_page(course: Course, cohort: Cohort | None):
    data = None
    if request.method != "POST":
        if cohort is not None:
            data = {name: getattr(cohort, name) for name in COHORT_FIELDS}
            data["delivery_format"] = cohort.delivery_format.value
            data["facilitator_ids"] = [u.id for u in cohort.facilitators]
        else:
            data = {"delivery_format": course.delivery_format.value}
    form = CohortForm(data=data)
    _facilitator_choices(form)
    if form.validate_on_submit():
        try:
            saved = save_cohort(
                current_user, course, cohort, form.service_data(), list(form.facilitator_ids.data or [])
            )
        except InvalidInput as error:
            _discard_partial_change()
            apply_domain_errors(form, error)
            course = _course(course.id)
            cohort = get_cohort(course, cohort.id) if cohort is not None else None
        else:
            flash(f"The cohort “{saved.name}” has been saved.", "success")
            return redirect(url_for("course_admin.course", course_id=course.id, _anchor="cohorts"))
    return (
        render_template("courses/admin/cohort_form.html", form=form, course=course, cohort=cohort),
        _status(form),
    )


@bp.route("/<int:course_id>/cohorts/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_cohort(course_id: int):
    """Add a run of a course."""
    return _cohort_form_page(_course(course_id), None)


@bp.route("/<int:course_id>/cohorts/<int:cohort_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_cohort(course_id: int, cohort_id: int):
    """Edit a run of a course; raising the capacity gives places to the waiting list."""
    course = _course(course_id)
    return _cohort_form_page(course, get_cohort(course, cohort_id))


# --- enrolling and withdrawing ---------------------------------------------------------


@bp.route("/<int:course_id>/enrol", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def enrol(course_id: int):
    """Enrol a person on the course, found by email, optionally into a cohort."""
    course = _course(course_id)
    cohorts = cohorts_for(current_user, course)
    form = EnrolPersonForm()
    form.set_cohorts(cohorts)
    status = 200
    withdraw_url = None
    if form.validate_on_submit():
        person = accounts.find_user_by_email(form.email.data)
        if person is None:
            form.email.errors = [*form.email.errors, "No one has an account with that email address."]
        else:
            cohort = get_cohort(course, form.cohort_id.data) if form.cohort_id.data else None
            try:
                enrolment = enrolling.enrol(current_user, person, course, cohort)
            except InvalidInput as error:
                _discard_partial_change()
                apply_domain_errors(form, error)
            except Conflict as error:
                _discard_partial_change()
                form.form_errors.append(error.message)
                status = 409
                existing = own_enrolment(person, course)
                if existing is not None and existing.status in (
                    EnrolmentStatus.ACTIVE,
                    EnrolmentStatus.WAITLISTED,
                ):
                    withdraw_url = url_for(
                        "course_admin.withdraw", course_id=course.id, enrolment_id=existing.id
                    )
            else:
                if enrolment.status == EnrolmentStatus.WAITLISTED:
                    flash(f"{person.name} is on the waiting list for {cohort.name}.", "success")
                else:
                    where = f" ({cohort.name})" if cohort else ""
                    flash(f"{person.name} is enrolled on {course.title}{where}.", "success")
                return redirect(url_for("course_admin.course", course_id=course.id, _anchor="enrol"))
    if status == 200:
        status = _status(form)
    if status != 200:
        course = _course(course_id)
    return (
        render_template("courses/admin/enrol.html", course=course, form=form, withdraw_url=withdraw_url),
        status,
    )


@bp.route("/<int:course_id>/enrolments/<int:enrolment_id>/withdraw", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def withdraw(course_id: int, enrolment_id: int):
    """Confirm, then withdraw a person from the course; their progress and history are kept."""
    course = _course(course_id)
    enrolment = get_enrolment_for(current_user, enrolment_id)
    if enrolment.course_id != course.id:
        raise NotFound("No such enrolment on this course.")
    form = WithdrawPersonForm()
    status = 200
    if form.validate_on_submit():
        try:
            enrolling.withdraw(current_user, enrolment, (form.reason.data or "").strip())
        except Conflict as error:
            _discard_partial_change()
            form.form_errors.append(error.message)
            status = 409
            enrolment = get_enrolment_for(current_user, enrolment_id)
        else:
            flash(f"{enrolment.user.name} has been withdrawn from {course.title}.", "success")
            return redirect(url_for("course_admin.course", course_id=course.id))
    elif form.errors:
        status = 422
    return (
        render_template(
            "courses/admin/withdraw.html", course=enrolment.course, enrolment=enrolment, form=form
        ),
        status,
    )
